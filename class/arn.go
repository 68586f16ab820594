package class

import (
	"fmt"
	"regexp"
	"strings"
)

// partitionRE accepts "aws" and every aws-* partition (aws-cn, aws-us-gov,
// aws-iso, aws-iso-b, aws-iso-e, aws-iso-f, aws-eusc).
var partitionRE = regexp.MustCompile(`^aws(-[a-z]+)*$`)

// parsedARN is the part of an ARN the checks need.
type parsedARN struct {
	partition, service, region, resource string
}

// parseARN splits an "arn:partition:service:region:account:resource" name.
// ok is false when name does not start with "arn:"; a name that does but is
// not well formed is reported by checkObjectName.
func parseARN(name string) (a parsedARN, ok bool) {
	if !strings.HasPrefix(name, "arn:") {
		return parsedARN{}, false
	}
	p := strings.SplitN(name, ":", 6)
	if len(p) != 6 {
		return parsedARN{}, false
	}
	return parsedARN{partition: p[1], service: p[2], region: p[3], resource: p[5]}, true
}

// typeFromARN returns the object type an ARN names, or an error text saying
// why the ARN is not one of ours.
func typeFromARN(name string) (ObjectType, string) {
	a, ok := parseARN(name)
	if !ok {
		return "", fmt.Sprintf("%q is not a valid ARN (arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE)", name)
	}
	if !partitionRE.MatchString(a.partition) {
		return "", fmt.Sprintf("ARN partition %q is not an AWS partition such as \"aws\", \"aws-cn\" or \"aws-us-gov\"", a.partition)
	}
	switch a.service {
	case "secretsmanager":
		if !strings.HasPrefix(a.resource, "secret:") || len(a.resource) == len("secret:") {
			return "", fmt.Sprintf("Secrets Manager ARN %q does not name a secret (its resource must be \"secret:NAME\")", name)
		}
		return SecretsManager, ""
	case "ssm":
		if !strings.HasPrefix(a.resource, "parameter/") || len(a.resource) == len("parameter/") {
			return "", fmt.Sprintf("SSM ARN %q does not name a parameter (its resource must be \"parameter/NAME\")", name)
		}
		return ParameterStore, ""
	}
	return "", fmt.Sprintf("ARN service %q is neither secretsmanager nor ssm", a.service)
}
