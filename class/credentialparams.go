package class

import (
	"regexp"
	"strconv"
	"strings"
)

// AssumeRole is the cross-account hop a class asks for: after the pod's own
// identity (IRSA or Pod Identity), sts:AssumeRole into ARN.
type AssumeRole struct {
	// ARN is assumeRoleArn: an IAM role ARN.
	ARN string
	// ExternalID is assumeRoleExternalId ("" when absent). It guards the
	// role against confused deputies: never log it.
	ExternalID string
	// DurationSeconds is assumeRoleDurationSeconds (0: STS's default, an
	// hour, capped by the role's maximum session duration).
	DurationSeconds int32
}

// STS's bounds on AssumeRole's DurationSeconds.
const (
	minAssumeRoleSeconds = 900
	maxAssumeRoleSeconds = 43200
)

// roleARNRE is the shape of an IAM role ARN (any partition).
var roleARNRE = regexp.MustCompile(`^arn:aws[a-z0-9-]*:iam::[0-9]{12}:role/[\w+=,.@/-]+$`)

// externalIDRE is STS's ExternalId pattern, at least 2 characters (the
// parameter's length limit bounds the rest).
var externalIDRE = regexp.MustCompile(`^[\w+=,.@:/-]{2,}$`)

// parseAssumeRole reads assumeRoleArn, assumeRoleExternalId and
// assumeRoleDurationSeconds; nil when the class asks for no hop.
func parseAssumeRole(params classValues) (*AssumeRole, error) {
	arn, ext, dur := params[pAssumeRoleARN], params[pAssumeRoleExternalID], params[pAssumeRoleDuration]
	if arn == "" {
		for _, p := range []struct{ name, value string }{{paramAssumeRoleExternalID, ext}, {paramAssumeRoleDuration, dur}} {
			if p.value != "" {
				return nil, invalidArg("%s is set but assumeRoleArn is not; set assumeRoleArn to the role to assume, or remove %s", p.name, p.name)
			}
		}
		return nil, nil
	}
	if !roleARNRE.MatchString(arn) {
		return nil, invalidArg("assumeRoleArn %q is not an IAM role ARN; use one such as arn:aws:iam::111122223333:role/name", arn)
	}
	a := &AssumeRole{ARN: arn}
	if ext != "" {
		if !externalIDRE.MatchString(ext) {
			// Never quote it: an external ID is half a credential.
			return nil, invalidArg("assumeRoleExternalId must be 2 to 1224 characters of letters, digits and +=,.@:/-_ (as STS requires)")
		}
		a.ExternalID = ext
	}
	if dur != "" {
		n, err := strconv.Atoi(strings.TrimSpace(dur))
		if err != nil || n < minAssumeRoleSeconds || n > maxAssumeRoleSeconds {
			return nil, invalidArg("assumeRoleDurationSeconds %q must be a number of seconds from %d to %d (STS's limits); the role's maximum session duration must allow it too",
				dur, minAssumeRoleSeconds, maxAssumeRoleSeconds)
		}
		a.DurationSeconds = int32(n)
	}
	return a, nil
}

// parseTokenAudience reads tokenAudience: the audience of the token IRSA
// exchanges ("" = the default, sts.amazonaws.com).
func parseTokenAudience(s string) (string, error) {
	if s == "" {
		return "", nil
	}
	for _, r := range s {
		if r <= ' ' || r == 0x7f || r == ',' {
			return "", invalidArg("tokenAudience %q must be one audience without spaces or commas, such as sts.amazonaws.com", s)
		}
	}
	return s, nil
}
