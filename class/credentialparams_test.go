package class_test

import (
	"strings"
	"testing"

	"github.com/csi-provider-aws/csi-provider-aws/class"
	"github.com/csi-provider-aws/csi-provider-aws/failure"
	"github.com/csi-provider-aws/csi-provider-aws/internal/testkit"
)

const oneObject = "- {objectName: db, objectType: secretsmanager}\n"

func TestCrossAccountAndAudienceParameters(t *testing.T) {
	t.Parallel()
	role := "arn:aws:iam::222222222222:role/shared"
	for _, tc := range []struct {
		name string
		kv   []string
		want []string // empty: accepted
	}{
		{"a role ARN is accepted", []string{"assumeRoleArn", role}, nil},
		{"a role ARN in another partition is accepted", []string{"assumeRoleArn", "arn:aws-cn:iam::222222222222:role/path/x"}, nil},
		{"an external ID and a duration with a role are accepted",
			[]string{"assumeRoleArn", role, "assumeRoleExternalId", "ext-1234", "assumeRoleDurationSeconds", "3600"}, nil},
		{"an ARN that is not a role is refused", []string{"assumeRoleArn", "arn:aws:iam::222222222222:user/bob"},
			[]string{"assumeRoleArn", "is not an IAM role ARN"}},
		{"a secret ARN is refused", []string{"assumeRoleArn", "arn:aws:secretsmanager:us-east-1:222222222222:secret:x"},
			[]string{"assumeRoleArn", "is not an IAM role ARN"}},
		{"an external ID without a role is refused", []string{"assumeRoleExternalId", "ext-1234"},
			[]string{"assumeRoleExternalId is set but assumeRoleArn is not"}},
		{"a duration without a role is refused", []string{"assumeRoleDurationSeconds", "900"},
			[]string{"assumeRoleDurationSeconds is set but assumeRoleArn is not"}},
		{"a duration under STS's minimum is refused", []string{"assumeRoleArn", role, "assumeRoleDurationSeconds", "899"},
			[]string{"assumeRoleDurationSeconds", "from 900 to 43200"}},
		{"a duration over STS's maximum is refused", []string{"assumeRoleArn", role, "assumeRoleDurationSeconds", "43201"},
			[]string{"from 900 to 43200"}},
		{"a duration that is not a number is refused", []string{"assumeRoleArn", role, "assumeRoleDurationSeconds", "1h"},
			[]string{"assumeRoleDurationSeconds \"1h\""}},
		{"an external ID with a space is refused without being quoted", []string{"assumeRoleArn", role, "assumeRoleExternalId", "my secret id"},
			[]string{"assumeRoleExternalId must be"}},
		{"an external ID of one character is refused", []string{"assumeRoleArn", role, "assumeRoleExternalId", "x"},
			[]string{"assumeRoleExternalId must be"}},
		{"an external ID over STS's limit is refused", []string{"assumeRoleArn", role, "assumeRoleExternalId", strings.Repeat("e", 1225)},
			[]string{"assumeRoleExternalId is", "more than"}},
		{"a token audience is accepted", []string{"tokenAudience", "https://oidc.example/x"}, nil},
		{"a token audience with a comma is refused", []string{"tokenAudience", "a,b"}, []string{"tokenAudience", "one audience"}},
		{"a token audience with a space is refused", []string{"tokenAudience", "a b"}, []string{"tokenAudience"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := class.Parse(mountAttrs(oneObject, tc.kv...), 0o644, catalog)
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				if c.AssumeRole == nil && c.TokenAudience == "" {
					t.Error("the parameters were not read")
				}
				return
			}
			testkit.WantKind(t, err, failure.InvalidArgument, tc.want...)
			if strings.Contains(err.Error(), "my secret id") {
				t.Errorf("the external ID was quoted: %v", err)
			}
		})
	}
}
