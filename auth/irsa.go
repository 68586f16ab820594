package auth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	ststypes "github.com/aws/aws-sdk-go-v2/service/sts/types"
	"k8s.io/klog/v2"

	"github.com/csi-provider-aws/csi-provider-aws/failure"
	"github.com/csi-provider-aws/csi-provider-aws/request"
)

// STSAPI is the part of the STS client IRSA uses.
type STSAPI interface {
	AssumeRoleWithWebIdentity(ctx context.Context, in *sts.AssumeRoleWithWebIdentityInput, optFns ...func(*sts.Options)) (*sts.AssumeRoleWithWebIdentityOutput, error)
}

// STSForRegion returns the long-lived STS client of a region (its regional
// endpoint, or the operator's AWS_ENDPOINT_URL_STS). The caller builds the
// clients from the process's aws.Config and reuses them.
type STSForRegion func(region string) STSAPI

// IRSAOptions tune IRSA.
type IRSAOptions struct {
	// Duration of the role session; 0 lets STS choose (1 hour). STS accepts
	// 15 minutes up to the role's maximum session duration.
	Duration time.Duration
}

// IRSA exchanges a pod's sts.amazonaws.com token for the credentials of its
// ServiceAccount's role (STS AssumeRoleWithWebIdentity, an unsigned call:
// the token is the proof).
type IRSA struct {
	sts  STSForRegion
	opts IRSAOptions
}

// NewIRSA returns an IRSA over the regional STS clients of stsForRegion.
func NewIRSA(stsForRegion STSForRegion, opts IRSAOptions) *IRSA {
	return &IRSA{sts: stsForRegion, opts: opts}
}

// Credentials implements Provider: it assumes id.RoleARN with token, in the
// primary region and, by the failover rule, the class's failover region.
func (p *IRSA) Credentials(ctx context.Context, id Identity, token string, m *request.Mount) (aws.Credentials, error) {
	return p.exchange(ctx, id, token, m.Class.FailoverRegion)
}

var _ Provider = (*IRSA)(nil)

// exchange assumes id.RoleARN in id.Region with token. When that fails
// with anything but a client fault (failure.IsClientFault: a server fault,
// throttling left after the SDK's retries, a timeout, a network error) and
// failoverRegion is set, it asks STS in failoverRegion once, by the same
// rule as the value fetches (docs/design.md, the failover rule); a client
// fault (AccessDenied, InvalidIdentityToken...) is returned at once, since
// the other region would refuse the same role and token. With a failover region the primary
// gets half of the time left before ctx's deadline, so that a primary that
// does not answer leaves the failover region time to. Role credentials are
// global: those from either region are the identity's.
func (p *IRSA) exchange(ctx context.Context, id Identity, token, failoverRegion string) (aws.Credentials, error) {
	if failoverRegion == "" || failoverRegion == id.Region {
		creds, err := p.assume(ctx, id, id.Region, token)
		return creds, p.describe(err, id, token)
	}
	pctx, cancel := halfOf(ctx)
	creds, err := p.assume(pctx, id, id.Region, token)
	cancel()
	if err == nil || failure.IsClientFault(err) || ctx.Err() != nil {
		return creds, p.describe(err, id, token)
	}
	creds, ferr := p.assume(ctx, id, failoverRegion, token)
	if ferr == nil {
		// The Mount succeeds; only this line tells the operator why the
		// failover region was asked.
		klog.ErrorS(p.describe(err, id, token), "STS failed in the primary region; the failover region's STS answered",
			"namespace", id.Namespace, "serviceAccount", id.ServiceAccount, "role", id.RoleARN,
			"region", id.Region, "failoverRegion", failoverRegion)
		return creds, nil
	}
	kind := failure.KindOf(err)
	if failure.IsClientFault(ferr) {
		kind = failure.KindOf(ferr)
	}
	return aws.Credentials{}, redact(&failure.Error{Kind: kind, Msg: fmt.Sprintf(
		"assuming role %s for ServiceAccount %s/%s with STS in %s: %s; and in the failover region %s: %s",
		id.RoleARN, id.Namespace, id.ServiceAccount, id.Region, failure.Describe(err), failoverRegion, failure.Describe(ferr))}, token)
}

// describe says which role, ServiceAccount and region an error of the
// primary region is about.
func (p *IRSA) describe(err error, id Identity, token string) error {
	if err == nil {
		return nil
	}
	var fe *failure.Error
	if errors.As(err, &fe) {
		return redact(err, token)
	}
	return redact(failure.WrapAWS(err, "assuming role %s for ServiceAccount %s/%s with STS in %s",
		id.RoleARN, id.Namespace, id.ServiceAccount, id.Region), token)
}

// halfOf returns a context that ends halfway to ctx's deadline (ctx itself
// when it has none).
func halfOf(ctx context.Context) (context.Context, context.CancelFunc) {
	dl, ok := ctx.Deadline()
	if !ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, time.Until(dl)/2)
}

// assume calls AssumeRoleWithWebIdentity in region. Its error is the SDK's
// (for classification), or a failure for an incomplete answer.
func (p *IRSA) assume(ctx context.Context, id Identity, region, token string) (aws.Credentials, error) {
	in := &sts.AssumeRoleWithWebIdentityInput{
		RoleArn:          aws.String(id.RoleARN),
		RoleSessionName:  aws.String(sessionName(id)),
		WebIdentityToken: aws.String(token),
	}
	if p.opts.Duration > 0 {
		in.DurationSeconds = aws.Int32(int32(p.opts.Duration / time.Second))
	}
	out, err := p.sts(region).AssumeRoleWithWebIdentity(ctx, in)
	if err != nil {
		return aws.Credentials{}, err
	}
	creds, err := assumedCredentials(out.Credentials, id.RoleARN, "csi-provider-aws/irsa")
	if err != nil {
		return aws.Credentials{}, failure.Wrap(failure.KindOf(err), err, "assuming role %s for ServiceAccount %s/%s with STS in %s",
			id.RoleARN, id.Namespace, id.ServiceAccount, region)
	}
	return creds, nil
}

// assumedCredentials turns STS's answer into credentials of roleARN; an
// answer without complete credentials is a failure.Unavailable.
func assumedCredentials(c *ststypes.Credentials, roleARN, source string) (aws.Credentials, error) {
	if c == nil || aws.ToString(c.AccessKeyId) == "" || aws.ToString(c.SecretAccessKey) == "" || c.Expiration == nil {
		return aws.Credentials{}, failure.New(failure.Unavailable, "the answer has no complete credentials")
	}
	return aws.Credentials{
		AccessKeyID:     aws.ToString(c.AccessKeyId),
		SecretAccessKey: aws.ToString(c.SecretAccessKey),
		SessionToken:    aws.ToString(c.SessionToken),
		Source:          source,
		CanExpire:       true,
		Expires:         *c.Expiration,
		AccountID:       accountOf(roleARN),
	}, nil
}

// accountOf returns the account of a role ARN (checked by checkRoleARN).
func accountOf(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) < 6 {
		return ""
	}
	return parts[4]
}

// STS limits a role session name to 2-64 characters from [\w+=,.@-].
const maxSessionName = 64

// sessionName names the role session after the pod, for CloudTrail:
// "<namespace>.<pod>" (the ServiceAccount when the pod's name is unknown),
// other characters replaced by "-". A name longer than 64 characters is
// truncated and ends with 8 hex digits of a hash of the pod UID, so two
// pods whose names share a long prefix keep distinct sessions.
//
// With the credential cache, the session is that of the pod whose Mount
// obtained the credentials; see Identity.Key.
func sessionName(id Identity) string {
	who := id.PodName
	if who == "" {
		who = id.ServiceAccount
	}
	name := sanitizeSessionName(id.Namespace + "." + who)
	if len(name) <= maxSessionName {
		return name
	}
	seed := id.PodUID
	if seed == "" {
		seed = name
	}
	sum := sha256.Sum256([]byte(seed))
	suffix := "-" + hex.EncodeToString(sum[:4])
	return name[:maxSessionName-len(suffix)] + suffix
}

func sanitizeSessionName(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9',
			strings.ContainsRune("_+=,.@-", r):
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	return b.String()
}
