package provider

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

var errDialed = errors.New("dial recorded")

// dialRecorder is an HTTP client that records the address every AWS call
// would connect to, and connects nowhere.
func dialRecorder() (*sync.Map, AWSConfigOptions) {
	var seen sync.Map
	hc := NewHTTPClient(0).WithTransportOptions(func(tr *http.Transport) {
		tr.Proxy = nil
		tr.DialContext = func(_ context.Context, _, addr string) (net.Conn, error) {
			seen.Store(addr, true)
			return nil, errDialed
		}
	})
	return &seen, AWSConfigOptions{HTTPClient: hc, MaxAttempts: 1}
}

// TestEveryClientHonoursTheSDKEnvironment: Secrets Manager, SSM and STS
// all take their endpoints from the operator's environment; the reference
// provider's STS client ignored it.
func TestEveryClientHonoursTheSDKEnvironment(t *testing.T) {
	cases := []struct {
		name string
		env  map[string]string
		want []string // addresses dialled by SM, SSM, STS
	}{
		{"AWS_USE_FIPS_ENDPOINT picks the FIPS endpoints of all three services",
			map[string]string{"AWS_USE_FIPS_ENDPOINT": "true"},
			[]string{"secretsmanager-fips.us-east-1.amazonaws.com:443", "ssm-fips.us-east-1.amazonaws.com:443", "sts-fips.us-east-1.amazonaws.com:443"}},
		{"AWS_ENDPOINT_URL sends every service to one endpoint",
			map[string]string{"AWS_ENDPOINT_URL": "http://127.0.0.1:4566"},
			[]string{"127.0.0.1:4566"}},
		{"service-specific endpoint variables win for their service",
			map[string]string{"AWS_ENDPOINT_URL_SECRETS_MANAGER": "http://127.0.0.1:1001", "AWS_ENDPOINT_URL_SSM": "http://127.0.0.1:1002", "AWS_ENDPOINT_URL_STS": "http://127.0.0.1:1003"},
			[]string{"127.0.0.1:1001", "127.0.0.1:1002", "127.0.0.1:1003"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, k := range []string{"AWS_USE_FIPS_ENDPOINT", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SECRETS_MANAGER", "AWS_ENDPOINT_URL_SSM", "AWS_ENDPOINT_URL_STS", "AWS_CONFIG_FILE", "AWS_PROFILE"} {
				t.Setenv(k, "")
			}
			t.Setenv("AWS_CONFIG_FILE", "/nonexistent")
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			seen, opts := dialRecorder()
			cfg, err := LoadAWSConfig(context.Background(), opts)
			if err != nil {
				t.Fatal(err)
			}
			c := NewClients(cfg)
			creds := credentials.NewStaticCredentialsProvider("AKID", "secret", "")
			ctx := context.Background()
			_, _ = c.SecretsManager("us-east-1").GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("x")},
				func(o *secretsmanager.Options) { o.Credentials = creds })
			_, _ = c.ParameterStore("us-east-1").GetParameters(ctx, &ssm.GetParametersInput{Names: []string{"x"}},
				func(o *ssm.Options) { o.Credentials = creds })
			_, _ = c.STS("us-east-1").AssumeRoleWithWebIdentity(ctx, &sts.AssumeRoleWithWebIdentityInput{
				RoleArn: aws.String("arn:aws:iam::123456789012:role/r"), RoleSessionName: aws.String("s"), WebIdentityToken: aws.String("t")})
			var got []string
			seen.Range(func(k, _ any) bool { got = append(got, k.(string)); return true })
			for _, w := range tc.want {
				found := false
				for _, g := range got {
					found = found || g == w
				}
				if !found {
					t.Errorf("no call went to %s; calls went to %v", w, got)
				}
			}
			for _, g := range got {
				if strings.Contains(g, "amazonaws.com") && len(tc.want) > 0 && !strings.Contains(tc.want[0], "amazonaws.com") {
					t.Errorf("a call ignored the environment and went to %s", g)
				}
			}
		})
	}
}

// TestCallsWithoutPodCredentialsAreRefused: the base configuration's own
// credentials always fail, so nothing is ever read with the daemon's or the
// node's identity (invariant 1).
func TestCallsWithoutPodCredentialsAreRefused(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIANODE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "node-secret")
	seen, opts := dialRecorder()
	cfg, err := LoadAWSConfig(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	_, err = NewClients(cfg).SecretsManager("us-east-1").GetSecretValue(context.Background(), &secretsmanager.GetSecretValueInput{SecretId: aws.String("x")})
	if err == nil || !strings.Contains(err.Error(), "no pod identity credentials") {
		t.Errorf("err = %v, want a refusal", err)
	}
	n := 0
	seen.Range(func(any, any) bool { n++; return true })
	if n != 0 {
		t.Errorf("a call without pod credentials reached the network (%d dials)", n)
	}
}
