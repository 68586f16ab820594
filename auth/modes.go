package auth

import (
	"fmt"
	"strconv"

	"github.com/csi-provider-aws/csi-provider-aws/class"
)

// paramUsePodIdentity is the class parameter that chooses EKS Pod Identity.
const paramUsePodIdentity = "usePodIdentity"

// authMode is one row of the modes table, as parsing sees it (class.Mode):
// its name, the class parameters it reads and whether they choose it. How a
// mode obtains credentials is Credentials' (identify, obtain).
type authMode struct {
	name   Mode
	params []class.Param
	chosen func(value func(param string) string) (bool, error)
}

func (m *authMode) Name() class.AuthMode                           { return m.name }
func (m *authMode) Params() []class.Param                          { return m.params }
func (m *authMode) Chosen(value func(string) string) (bool, error) { return m.chosen(value) }

var _ class.Mode = (*authMode)(nil)

// irsaMode is IRSA, the default: a class's mode when its parameters choose
// no other. It reads no parameter.
var irsaMode = &authMode{
	name:   ModeIRSA,
	chosen: func(func(string) string) (bool, error) { return false, nil },
}

// podIdentityMode is EKS Pod Identity, chosen by usePodIdentity "true" (any
// form strconv.ParseBool reads, as the reference provider does).
var podIdentityMode = &authMode{
	name:   ModePodIdentity,
	params: []class.Param{{Name: paramUsePodIdentity, Max: class.MaxOptionLength, Hint: `use "true" or "false"`}},
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

// Modes are the modes table as parsing sees it, for class.Catalog. IRSA
// comes first: it is the default.
func Modes() []class.Mode {
	return []class.Mode{irsaMode, podIdentityMode}
}
