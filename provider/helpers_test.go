package provider

import (
	"testing"

	"github.com/csi-provider-aws/csi-provider-aws/auth"
	"github.com/csi-provider-aws/csi-provider-aws/class"
	"github.com/csi-provider-aws/csi-provider-aws/failure"
	"github.com/csi-provider-aws/csi-provider-aws/internal/testkit"
)

const (
	smARN      = "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf"
	smARNWest  = "arn:aws:secretsmanager:us-west-2:123456789012:secret:db-AbCdEf"
	driverMode = int32(420) // the driver's default `permission`, 0644
)

var (
	yamlLines  = testkit.YAMLLines
	mountAttrs = testkit.ClassAttributes
)

// oneSecret is a class with a single well-formed Secrets Manager object "db".
var oneSecret = yamlLines("- objectName: db", "  objectType: secretsmanager")

// catalog is the daemon's: this package's services and auth's modes.
var catalog = class.Catalog{Services: Services(), Modes: auth.Modes()}

func mustParse(t *testing.T, p map[string]string) *class.Class {
	t.Helper()
	c, err := class.Parse(p, driverMode, catalog)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return c
}

// badCase is a class and values BuildFiles must refuse with a message
// naming the object, so a user can fix the class from the pod events.
type badCase struct {
	name   string
	params map[string]string
	values []Value
	limit  int
	kind   failure.Kind
	want   []string
	// secret must not appear in the error.
	secret string
}

// runBadCases parses each case's class, checks it against us-east-1, runs
// BuildFiles and checks the error's kind (InvalidArgument unless the case
// says) and text.
func runBadCases(t *testing.T, cases []badCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := mustParse(t, tc.params)
			if err := c.CheckRegion("us-east-1"); err != nil {
				t.Fatalf("CheckRegion = %v", err)
			}
			_, err := BuildFiles(c, tc.values, tc.limit)
			testkit.CheckRefusal(t, err, tc.kind, tc.want, tc.secret)
		})
	}
}
