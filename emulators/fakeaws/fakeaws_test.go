package fakeaws_test

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/csi-provider-aws/csi-provider-aws/emulators/fakeaws"
	"github.com/csi-provider-aws/csi-provider-aws/internal/testkit"
)

const (
	east = "us-east-1"
	west = "us-west-2"
	role = "arn:aws:iam::123456789012:role/app"
)

// env is a fake behind an httptest server and a way to make SDK clients.
type env struct {
	t    *testing.T
	fake *fakeaws.Server
	url  string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	fake := fakeaws.New()
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	return &env{t: t, fake: fake, url: srv.URL}
}

// noWaitRetryer retries like the SDK's standard retryer, without sleeping.
func noWaitRetryer() aws.Retryer {
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
	})
}

// config is an SDK config for region, signed with creds (static test keys
// when nil).
func (e *env) config(region string, creds aws.CredentialsProvider) aws.Config {
	if creds == nil {
		creds = credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", "")
	}
	return aws.Config{
		Region:       region,
		Credentials:  creds,
		BaseEndpoint: aws.String(e.url),
		Retryer:      noWaitRetryer,
	}
}

func (e *env) sm(region string) *secretsmanager.Client {
	return secretsmanager.NewFromConfig(e.config(region, nil))
}

func (e *env) ssm(region string) *ssm.Client {
	return ssm.NewFromConfig(e.config(region, nil))
}

func (e *env) sts(region string) *sts.Client {
	return sts.NewFromConfig(e.config(region, aws.AnonymousCredentials{}))
}

// as returns a config signed with credentials the fake issued for roleARN.
func (e *env) as(region, roleARN, session string) aws.Config {
	c := e.fake.IssueCredentials(roleARN, session)
	return e.config(region, credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, c.SessionToken))
}

// jwt builds an unsigned-looking JWT carrying claims.
func jwt(claims map[string]any) string { return testkit.JWT(claims) }

// saToken is a projected ServiceAccount token for ns/name valid for an hour.
func saToken(ns, name string) string {
	return jwt(map[string]any{
		"aud": []string{"sts.amazonaws.com"},
		"sub": "system:serviceaccount:" + ns + ":" + name,
		"iss": "https://oidc.example.com/id/ABC",
		"exp": time.Now().Add(time.Hour).Unix(),
	})
}

// errorCode is the AWS error code of err, or "" if err is not an API error.
func errorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func TestStartServesUntilClose(t *testing.T) {
	fake := fakeaws.New()
	if err := fake.Start(); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(fake.URL(), "http://127.0.0.1:") {
		t.Fatalf("URL() = %q, want http://127.0.0.1:PORT", fake.URL())
	}
	fake.PutSecretString(east, "db", "s3cret")
	client := secretsmanager.NewFromConfig(aws.Config{
		Region:       east,
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""),
		BaseEndpoint: aws.String(fake.URL()),
	})
	out, err := client.GetSecretValue(context.Background(), &secretsmanager.GetSecretValueInput{SecretId: aws.String("db")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(out.SecretString) != "s3cret" {
		t.Fatalf("got a different value than stored")
	}
	fake.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, err = client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("db")},
		func(o *secretsmanager.Options) { o.Retryer = aws.NopRetryer{} })
	if err == nil {
		t.Fatal("a closed server still answered")
	}
}

func TestCallsAreCountedByServiceOperationAndRegion(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.fake.PutSecretString(east, "db", "v")
	e.fake.PutSecretString(west, "db", "v")
	e.fake.PutParameter(west, "/p", "String", "v")

	for i := 0; i < 2; i++ {
		if _, err := e.sm(east).GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("db")}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.sm(west).GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("db")}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.ssm(west).GetParameters(ctx, &ssm.GetParametersInput{Names: []string{"/p"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.sts(west).AssumeRoleWithWebIdentity(ctx, &sts.AssumeRoleWithWebIdentityInput{
		RoleArn: aws.String(role), RoleSessionName: aws.String("s1"), WebIdentityToken: aws.String(saToken("ns", "sa")),
	}); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		got  map[string]int
		want map[string]int
	}{
		{"all regions add up", e.fake.Calls(), map[string]int{
			"secretsmanager:GetSecretValue": 3, "ssm:GetParameters": 1, "sts:AssumeRoleWithWebIdentity": 1}},
		{"us-east-1 sees only its own calls", e.fake.CallsIn(east), map[string]int{"secretsmanager:GetSecretValue": 2}},
		{"us-west-2 sees only its own calls", e.fake.CallsIn(west), map[string]int{
			"secretsmanager:GetSecretValue": 1, "ssm:GetParameters": 1}},
		{"unsigned STS to a custom endpoint counts as global", e.fake.CallsIn(fakeaws.GlobalRegion), map[string]int{
			"sts:AssumeRoleWithWebIdentity": 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !equalCounts(tt.got, tt.want) {
				t.Fatalf("got %v, want %v", tt.got, tt.want)
			}
		})
	}

	log := e.fake.Log()
	if len(log) != 5 || log[0].Operation != "GetSecretValue" || log[0].Resources[0] != "db" || log[0].Status != 200 {
		t.Fatalf("log = %+v", log)
	}
	e.fake.ResetCalls()
	if len(e.fake.Calls()) != 0 || len(e.fake.Log()) != 0 {
		t.Fatalf("ResetCalls left %v", e.fake.Calls())
	}
}

func equalCounts(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestConcurrentClientsAreCountedExactly(t *testing.T) {
	e := newEnv(t)
	e.fake.PutSecretString(east, "db", "v")
	client := e.sm(east)
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := context.Background()
			if _, err := client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("db")}); err != nil {
				t.Error(err)
			}
			if _, err := client.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String("db"), SecretString: aws.String("v2")}); err != nil {
				t.Error(err)
			}
			if _, err := client.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String("db")}); err != nil {
				t.Error(err)
			}
			e.fake.PutSecretString(east, "db", "v3")
			_ = e.fake.Calls()
			_ = e.fake.Log()
		}()
	}
	wg.Wait()
	if n := e.fake.Calls()["secretsmanager:GetSecretValue"]; n != 50 {
		t.Fatalf("counted %d calls, want 50", n)
	}
}

func TestFaults(t *testing.T) {
	ctx := context.Background()
	getSecret := func(e *env, region string) error {
		_, err := e.sm(region).GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("db")})
		return err
	}
	tests := []struct {
		name      string
		fault     fakeaws.Fault
		call      func(e *env) error
		wantCode  string // "" = success
		wantCalls int
	}{
		{
			name:      "one throttled call is retried by the SDK and then succeeds",
			fault:     fakeaws.Fault{Service: "secretsmanager", Status: 400, Count: 1},
			call:      func(e *env) error { return getSecret(e, east) },
			wantCalls: 2,
		},
		{
			name:      "a lasting 500 on Secrets Manager is InternalServiceError after every retry",
			fault:     fakeaws.Fault{Service: "secretsmanager", Status: 500},
			call:      func(e *env) error { return getSecret(e, east) },
			wantCode:  "InternalServiceError",
			wantCalls: 3,
		},
		{
			name:  "a 500 on SSM is InternalServerError",
			fault: fakeaws.Fault{Service: "ssm", Status: 503},
			call: func(e *env) error {
				_, err := e.ssm(east).GetParameters(ctx, &ssm.GetParametersInput{Names: []string{"/p"}})
				return err
			},
			wantCode:  "InternalServerError",
			wantCalls: 3,
		},
		{
			name:      "a fault scoped to another region leaves this one alone",
			fault:     fakeaws.Fault{Region: west, Status: 500},
			call:      func(e *env) error { return getSecret(e, east) },
			wantCalls: 1,
		},
		{
			name:      "a fault scoped to another operation leaves this one alone",
			fault:     fakeaws.Fault{Operation: "BatchGetSecretValue", Status: 500},
			call:      func(e *env) error { return getSecret(e, east) },
			wantCalls: 1,
		},
		{
			name:      "an injected AccessDeniedException is not retried",
			fault:     fakeaws.Fault{Code: "AccessDeniedException"},
			call:      func(e *env) error { return getSecret(e, east) },
			wantCode:  "AccessDeniedException",
			wantCalls: 1,
		},
		{
			name:  "STS throttling uses the query protocol's Throttling code",
			fault: fakeaws.Fault{Service: "sts", Status: 400},
			call: func(e *env) error {
				_, err := e.sts(east).AssumeRoleWithWebIdentity(ctx, &sts.AssumeRoleWithWebIdentityInput{
					RoleArn: aws.String(role), RoleSessionName: aws.String("s1"), WebIdentityToken: aws.String(saToken("ns", "sa")),
				}, func(o *sts.Options) { o.Retryer = aws.NopRetryer{} })
				return err
			},
			wantCode:  "Throttling",
			wantCalls: 1,
		},
		{
			name:      "a delay shorter than the deadline only slows the call",
			fault:     fakeaws.Fault{Delay: 20 * time.Millisecond},
			call:      func(e *env) error { return getSecret(e, east) },
			wantCalls: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			e.fake.PutSecretString(east, "db", "v")
			e.fake.Inject(tt.fault)
			err := tt.call(e)
			if got := errorCode(err); got != tt.wantCode || (tt.wantCode == "" && err != nil) {
				t.Fatalf("error %v (code %q), want code %q", err, got, tt.wantCode)
			}
			total := 0
			for _, n := range e.fake.Calls() {
				total += n
			}
			if total != tt.wantCalls {
				t.Fatalf("server saw %d calls, want %d", total, tt.wantCalls)
			}
		})
	}
}

func TestFaultDelayLongerThanTheDeadlineTimesOut(t *testing.T) {
	e := newEnv(t)
	e.fake.PutSecretString(east, "db", "v")
	e.fake.Inject(fakeaws.Fault{Delay: 5 * time.Second, Count: 1})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := e.sm(east).GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("db")})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want deadline exceeded", err)
	}
}

func TestClearFaultsRestoresService(t *testing.T) {
	e := newEnv(t)
	e.fake.PutSecretString(east, "db", "v")
	e.fake.Inject(fakeaws.Fault{Status: 500})
	e.fake.ClearFaults()
	if _, err := e.sm(east).GetSecretValue(context.Background(), &secretsmanager.GetSecretValueInput{SecretId: aws.String("db")}); err != nil {
		t.Fatal(err)
	}
}

func TestInternalServiceErrorIsTheSDKsTypedError(t *testing.T) {
	e := newEnv(t)
	e.fake.Inject(fakeaws.Fault{Status: 500})
	_, err := e.sm(east).GetSecretValue(context.Background(), &secretsmanager.GetSecretValueInput{SecretId: aws.String("db")})
	var ise *smtypes.InternalServiceError
	if !errors.As(err, &ise) {
		t.Fatalf("err = %v, want *types.InternalServiceError", err)
	}
	_, err = e.ssm(east).GetParameter(context.Background(), &ssm.GetParameterInput{Name: aws.String("/p")})
	var ssmISE *ssmtypes.InternalServerError
	if !errors.As(err, &ssmISE) {
		t.Fatalf("err = %v, want *types.InternalServerError", err)
	}
}

// TestFIPSEndpointsAreRecorded lets the SDK pick the FIPS endpoint itself
// (no BaseEndpoint) and dials every host to the fake.
func TestFIPSEndpointsAreRecorded(t *testing.T) {
	fake := fakeaws.New()
	srv := httptest.NewTLSServer(fake)
	t.Cleanup(srv.Close)
	addr := srv.Listener.Addr().String()
	client := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		},
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // test server, any host name
	}}
	fake.PutSecretString(east, "db", "v")
	cfg := aws.Config{
		Region:      east,
		Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""),
		HTTPClient:  client,
	}
	fips := secretsmanager.NewFromConfig(cfg, func(o *secretsmanager.Options) {
		o.EndpointOptions.UseFIPSEndpoint = aws.FIPSEndpointStateEnabled
	})
	plain := secretsmanager.NewFromConfig(cfg)
	for _, c := range []*secretsmanager.Client{fips, plain} {
		if _, err := c.GetSecretValue(context.Background(), &secretsmanager.GetSecretValueInput{SecretId: aws.String("db")}); err != nil {
			t.Fatal(err)
		}
	}
	if got := fake.FIPSCalls(); !equalCounts(got, map[string]int{"secretsmanager:GetSecretValue": 1}) {
		t.Fatalf("FIPSCalls() = %v, want one GetSecretValue", got)
	}
	if log := fake.Log(); len(log) != 2 || !log[0].FIPS || log[1].FIPS {
		t.Fatalf("log = %+v, want the first call marked FIPS", log)
	}
}

func TestUnknownOperationsAreRejected(t *testing.T) {
	e := newEnv(t)
	_, err := e.sm(east).RestoreSecret(context.Background(), &secretsmanager.RestoreSecretInput{SecretId: aws.String("db")})
	if got := errorCode(err); got != "UnknownOperationException" {
		t.Fatalf("code %q, want UnknownOperationException", got)
	}
}
