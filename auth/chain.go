package auth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/csi-provider-aws/csi-provider-aws/class"
	"github.com/csi-provider-aws/csi-provider-aws/failure"
)

// AssumeRoleAPI is the part of the STS client the cross-account hop uses.
type AssumeRoleAPI interface {
	AssumeRole(ctx context.Context, in *sts.AssumeRoleInput, optFns ...func(*sts.Options)) (*sts.AssumeRoleOutput, error)
}

// Chain assumes a class's cross-account role (assumeRoleArn) with the
// credentials of the pod's own identity: sts:AssumeRole, signed with them,
// in the primary region, and by the failover rule in the class's failover
// region.
type Chain struct {
	sts func(region string) AssumeRoleAPI
}

// NewChain returns a Chain over the regional STS clients of stsForRegion.
func NewChain(stsForRegion func(region string) AssumeRoleAPI) *Chain {
	return &Chain{sts: stsForRegion}
}

// assume returns ar's credentials, assumed with base (the credentials of
// id's own identity). Errors say that the cross-account hop failed, which
// role, with whose credentials, and in which regions.
func (c *Chain) assume(ctx context.Context, id Identity, base aws.Credentials, ar *class.AssumeRole, failoverRegion string) (aws.Credentials, error) {
	creds, err := c.assumeIn(ctx, id.Region, id, base, ar)
	if err == nil {
		return creds, nil
	}
	if failoverRegion == "" || failoverRegion == id.Region || failure.IsClientFault(err) || ctx.Err() != nil {
		return aws.Credentials{}, c.describe(err, id, ar, id.Region)
	}
	creds, ferr := c.assumeIn(ctx, failoverRegion, id, base, ar)
	if ferr == nil {
		return creds, nil
	}
	return aws.Credentials{}, fmt.Errorf("%w; and in the failover region: %w", c.describe(err, id, ar, id.Region), c.describe(ferr, id, ar, failoverRegion))
}

func (c *Chain) assumeIn(ctx context.Context, region string, id Identity, base aws.Credentials, ar *class.AssumeRole) (aws.Credentials, error) {
	in := &sts.AssumeRoleInput{
		RoleArn:         aws.String(ar.ARN),
		RoleSessionName: aws.String(chainSessionName(id)),
	}
	if ar.ExternalID != "" {
		in.ExternalId = aws.String(ar.ExternalID)
	}
	if ar.DurationSeconds > 0 {
		in.DurationSeconds = aws.Int32(ar.DurationSeconds)
	}
	out, err := c.sts(region).AssumeRole(ctx, in, func(o *sts.Options) { o.Credentials = static(base) })
	if err != nil {
		return aws.Credentials{}, err
	}
	return assumedCredentials(out.Credentials, ar.ARN, "csi-provider-aws/assume-role")
}

// describe names the hop, the roles and the ServiceAccount of a failure.
// The external ID is never part of it.
func (c *Chain) describe(err error, id Identity, ar *class.AssumeRole, region string) error {
	own := "the EKS Pod Identity association's role"
	if id.RoleARN != "" {
		own = "role " + id.RoleARN
	}
	return failure.WrapAWS(err,
		"the cross-account hop failed: assuming role %s (assumeRoleArn) with the credentials of %s of ServiceAccount %s/%s, with STS in %s (allow sts:AssumeRole on it in the pod's role policy, and trust that role in its trust policy)",
		ar.ARN, own, id.Namespace, id.ServiceAccount, region)
}

// chainSessionName names the hop's role session after the pod's namespace
// and ServiceAccount, for CloudTrail in the other account:
// "<namespace>.<serviceAccount>", other characters replaced by "-", cut to
// STS's 64 characters with 8 hex digits of a hash of the whole.
func chainSessionName(id Identity) string {
	name := sanitizeSessionName(id.Namespace + "." + id.ServiceAccount)
	if len(name) <= maxSessionName {
		return name
	}
	sum := sha256.Sum256([]byte(name))
	suffix := "-" + hex.EncodeToString(sum[:4])
	return name[:maxSessionName-len(suffix)] + suffix
}
