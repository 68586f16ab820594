package auth

import (
	"context"
	"regexp"

	"github.com/csi-provider-aws/csi-provider-aws/failure"
)

// Roles reads the IAM role of a ServiceAccount, for IRSA. In the daemon it
// is package kube's Client, which reads the ServiceAccount's
// eks.amazonaws.com/role-arn annotation.
type Roles interface {
	// RoleARN returns the ServiceAccount's role ARN; a missing
	// ServiceAccount or annotation is a FailedPrecondition that says what
	// to fix.
	RoleARN(ctx context.Context, namespace, serviceAccount string) (string, error)
}

// roleAnnotation is where the role comes from, for messages.
const roleAnnotation = "eks.amazonaws.com/role-arn"

// roleARN is the shape of an IAM role ARN; anything else in the annotation
// is reported before STS is asked.
var roleARN = regexp.MustCompile(`^arn:aws[a-z0-9-]*:iam::[0-9]{12}:role/[\w+=,.@/-]{1,512}$`)

// checkRoleARN refuses whatever Roles returned that is not an IAM role ARN:
// it becomes part of the identity key (docs/design.md, invariant 2), so it
// must not carry the key's separator.
func checkRoleARN(arn, namespace, serviceAccount string) error {
	if !roleARN.MatchString(arn) {
		return failure.New(failure.FailedPrecondition,
			"ServiceAccount %s/%s: annotation %s %q is not an IAM role ARN (arn:<partition>:iam::<account>:role/<name>)",
			namespace, serviceAccount, roleAnnotation, arn)
	}
	return nil
}
