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
// not well formed is reported by serviceTable.fromARN.
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

// fromARN returns the service an ARN names, or an error text saying why
// the ARN is not one of a service of t.
func (t serviceTable) fromARN(name string) (Service, string) {
	a, ok := parseARN(name)
	if !ok {
		return nil, fmt.Sprintf("%q is not a valid ARN (arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE)", name)
	}
	if !partitionRE.MatchString(a.partition) {
		return nil, fmt.Sprintf("ARN partition %q is not an AWS partition such as \"aws\", \"aws-cn\" or \"aws-us-gov\"", a.partition)
	}
	s := t.byARN(a.service)
	if s == nil {
		return nil, fmt.Sprintf("ARN service %q %s", a.service, t.notAnARNService())
	}
	f := s.ARN()
	if !strings.HasPrefix(a.resource, f.Resource) || len(a.resource) == len(f.Resource) {
		return nil, fmt.Sprintf("%s ARN %q does not name %s (its resource must be \"%sNAME\")", f.Title, name, f.Names, f.Resource)
	}
	return s, ""
}
