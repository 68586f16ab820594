package auth

import (
	"context"
	"fmt"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/csi-provider-aws/csi-provider-aws/class"
	"github.com/csi-provider-aws/csi-provider-aws/failure"
	"github.com/csi-provider-aws/csi-provider-aws/request"
)

// Provider turns one pod's service-account token into AWS credentials for
// one auth mode. Credentials calls it once per identity per credential
// lifetime; it must never fall back to any other source of credentials.
type Provider interface {
	Credentials(ctx context.Context, id Identity, token string, m *request.Mount) (aws.Credentials, error)
}

// authMode is one row of the modes table: how a class chooses it (class.Mode:
// its parameters and whether they choose it), which token it needs, whether
// it acts as the ServiceAccount's annotated role. Its credentials come from
// the Provider given for its name in CredentialsOptions.Providers.
//
// Adding a mode: one new file with its row and its Provider, and the row in
// Modes (docs/design.md, "Where to add an auth mode").
type authMode struct {
	name   Mode
	params []class.Param
	chosen func(value func(param string) string) (bool, error)
	// audience is the token audience the CSIDriver's tokenRequests must
	// ask for, unless the class's tokenAudience names another (modes that
	// take one: tokenAudience).
	audience string
	// tokenAudience: the class's tokenAudience may replace audience.
	tokenAudience bool
	// role: the mode assumes the ServiceAccount's eks.amazonaws.com/role-arn
	// role, which becomes part of the identity key.
	role bool
}

func (m *authMode) Name() class.AuthMode                           { return m.name }
func (m *authMode) Params() []class.Param                          { return m.params }
func (m *authMode) Chosen(value func(string) string) (bool, error) { return m.chosen(value) }

var _ class.Mode = (*authMode)(nil)

// irsaMode is IRSA, the default: a class's mode when its parameters choose
// no other. It reads no parameter.
var irsaMode = &authMode{
	name:          ModeIRSA,
	chosen:        func(func(string) string) (bool, error) { return false, nil },
	audience:      AudienceSTS,
	tokenAudience: true,
	role:          true,
}

// paramUsePodIdentity is the class parameter that chooses EKS Pod Identity.
const paramUsePodIdentity = "usePodIdentity"

// podIdentityMode is EKS Pod Identity, chosen by usePodIdentity "true" (any
// form strconv.ParseBool reads, as the reference provider does).
var podIdentityMode = &authMode{
	name:     ModePodIdentity,
	params:   []class.Param{{Name: paramUsePodIdentity, Max: class.MaxOptionLength, Hint: `use "true" or "false"`}},
	audience: AudiencePodIdentity,
	chosen: func(value func(string) string) (bool, error) {
		s := value(paramUsePodIdentity)
		if s == "" {
			return false, nil
		}
		b, err := strconv.ParseBool(s)
		if err != nil {
			return false, fmt.Errorf("usePodIdentity %q is not a boolean; use \"true\" (EKS Pod Identity) or \"false\" (IRSA, the default)", s)
		}
		return b, nil
	},
}

// modes is the table. IRSA comes first: it is the default.
var modes = []*authMode{irsaMode, podIdentityMode}

// Modes are the modes table as parsing sees it, for class.Catalog.
func Modes() []class.Mode { return class.Rows[class.Mode](modes) }

// audienceFor is the audience of the token m's mode exchanges for c: the
// class's tokenAudience where the mode takes one, else the mode's own.
func (m *authMode) audienceFor(c *class.Class) (string, error) {
	switch {
	case c.TokenAudience == "":
		return m.audience, nil
	case m.tokenAudience:
		return c.TokenAudience, nil
	}
	return "", failure.New(failure.InvalidArgument,
		"tokenAudience is set, but %s credentials always use a token for audience %q; remove tokenAudience, or use IRSA", m.name, m.audience)
}

// modeNamed returns the row of a mode, nil when there is none.
func modeNamed(name Mode) *authMode {
	for _, m := range modes {
		if m.name == name {
			return m
		}
	}
	return nil
}
