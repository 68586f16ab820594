package fakeaws_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	ststypes "github.com/aws/aws-sdk-go-v2/service/sts/types"

	"github.com/csi-provider-aws/csi-provider-aws/internal/testkit"
)

func TestAssumeRoleWithWebIdentityIssuesCredentialsForTheRole(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	before := time.Now()
	out, err := e.sts(west).AssumeRoleWithWebIdentity(ctx, &sts.AssumeRoleWithWebIdentityInput{
		RoleArn:          aws.String(role),
		RoleSessionName:  aws.String("pod-1"),
		WebIdentityToken: aws.String(saToken("ns", "sa")),
	})
	if err != nil {
		t.Fatal(err)
	}
	c := out.Credentials
	if !strings.HasPrefix(aws.ToString(c.AccessKeyId), "ASIA") || aws.ToString(c.SecretAccessKey) == "" || aws.ToString(c.SessionToken) == "" {
		t.Fatalf("credentials incomplete: akid %q", aws.ToString(c.AccessKeyId))
	}
	if life := c.Expiration.Sub(before); life < 59*time.Minute || life > 61*time.Minute {
		t.Fatalf("credentials live %v, want an hour", life)
	}
	if got := aws.ToString(out.AssumedRoleUser.Arn); got != "arn:aws:sts::123456789012:assumed-role/app/pod-1" {
		t.Fatalf("assumed role ARN %q", got)
	}
	if got := aws.ToString(out.SubjectFromWebIdentityToken); got != "system:serviceaccount:ns:sa" {
		t.Fatalf("subject %q", got)
	}
	if got, ok := e.fake.RoleOf(aws.ToString(c.AccessKeyId)); !ok || got != role {
		t.Fatalf("RoleOf = %q, %v", got, ok)
	}

	// The credentials work, and GetCallerIdentity names the assumed role.
	signed := sts.NewFromConfig(e.config(east, credentials.NewStaticCredentialsProvider(
		aws.ToString(c.AccessKeyId), aws.ToString(c.SecretAccessKey), aws.ToString(c.SessionToken))))
	id, err := signed.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(id.Arn) != "arn:aws:sts::123456789012:assumed-role/app/pod-1" || aws.ToString(id.Account) != "123456789012" {
		t.Fatalf("caller %q in %q", aws.ToString(id.Arn), aws.ToString(id.Account))
	}
}

func TestTheSDKsWebIdentityProviderWorksEndToEnd(t *testing.T) {
	e := newEnv(t)
	e.fake.PutSecretString(east, "db", "v")
	e.fake.Trust(role, "system:serviceaccount:ns:*")
	provider := stscreds.NewWebIdentityRoleProvider(e.sts(east), role, tokenFunc(saToken("ns", "sa")),
		func(o *stscreds.WebIdentityRoleOptions) { o.RoleSessionName = "daemon" })
	sm := secretsmanager.NewFromConfig(e.config(east, aws.NewCredentialsCache(provider)))
	for i := 0; i < 3; i++ {
		if _, err := sm.GetSecretValue(context.Background(), &secretsmanager.GetSecretValueInput{SecretId: aws.String("db")}); err != nil {
			t.Fatal(err)
		}
	}
	if n := e.fake.Calls()["sts:AssumeRoleWithWebIdentity"]; n != 1 {
		t.Fatalf("%d STS calls for three reads with cached credentials, want 1", n)
	}
	for _, c := range e.fake.Log() {
		if c.Service == "secretsmanager" && c.RoleARN != role {
			t.Fatalf("GetSecretValue signed by %q, want the role", c.RoleARN)
		}
	}
}

type tokenFunc string

func (f tokenFunc) GetIdentityToken() ([]byte, error) { return []byte(f), nil }

func TestAssumeRoleWithWebIdentityRejectsBadRequests(t *testing.T) {
	now := time.Now()
	claims := func(change func(map[string]any)) string {
		c := map[string]any{
			"aud": "sts.amazonaws.com",
			"sub": "system:serviceaccount:ns:sa",
			"iss": "https://oidc.example.com",
			"exp": now.Add(time.Hour).Unix(),
		}
		change(c)
		return jwt(c)
	}
	good := claims(func(map[string]any) {})
	tests := []struct {
		name     string
		roleARN  string
		session  string
		token    string
		trust    string // subject pattern trusted for role, "" for no rule
		wantCode string
		wantMsg  string
	}{
		{"a good token is accepted", role, "s1", good, "", "", ""},
		{"a trusted subject is accepted", role, "s1", good, "system:serviceaccount:ns:sa", "", ""},
		{"a token for another audience is InvalidIdentityToken", role, "s1",
			claims(func(c map[string]any) { c["aud"] = "vault" }), "", "InvalidIdentityToken", "Incorrect token audience"},
		{"an expired token is ExpiredTokenException", role, "s1",
			claims(func(c map[string]any) { c["exp"] = now.Add(-time.Minute).Unix() }), "", "ExpiredTokenException", "Token expired"},
		{"something that is not a JWT is InvalidIdentityToken", role, "s1", "not-a-jwt", "", "InvalidIdentityToken", ""},
		{"a malformed role ARN is a ValidationError", "arn:aws:iam::123:role/x/y/z", "s1", good, "", "ValidationError", "Request ARN is invalid"},
		{"a short role ARN is a ValidationError", "bad", "s1", good, "", "ValidationError", "roleArn"},
		{"a one-character session name is a ValidationError", role, "s", good, "", "ValidationError", "roleSessionName"},
		{"a session name with a space is a ValidationError", role, "a b", good, "", "ValidationError", "regular expression"},
		{"a 65-character session name is a ValidationError", role, strings.Repeat("x", 65), good, "", "ValidationError", "64"},
		{"a subject the role does not trust is AccessDenied", role, "s1", good, "system:serviceaccount:other:*", "AccessDenied",
			"Not authorized to perform sts:AssumeRoleWithWebIdentity"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			if tt.trust != "" {
				e.fake.Trust(role, tt.trust)
			}
			_, err := e.sts(east).AssumeRoleWithWebIdentity(context.Background(), &sts.AssumeRoleWithWebIdentityInput{
				RoleArn: aws.String(tt.roleARN), RoleSessionName: aws.String(tt.session), WebIdentityToken: aws.String(tt.token),
			}, func(o *sts.Options) { o.Retryer = aws.NopRetryer{} })
			if got := errorCode(err); got != tt.wantCode {
				t.Fatalf("err = %v, want code %q", err, tt.wantCode)
			}
			if err != nil && !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("err = %v, want message containing %q", err, tt.wantMsg)
			}
		})
	}
}

func TestSTSErrorsAreTheSDKsTypedErrors(t *testing.T) {
	e := newEnv(t)
	bad := jwt(map[string]any{"aud": "x", "sub": "s", "exp": time.Now().Add(time.Hour).Unix()})
	_, err := e.sts(east).AssumeRoleWithWebIdentity(context.Background(), &sts.AssumeRoleWithWebIdentityInput{
		RoleArn: aws.String(role), RoleSessionName: aws.String("s1"), WebIdentityToken: aws.String(bad)})
	var iit *ststypes.InvalidIdentityTokenException
	if !errors.As(err, &iit) {
		t.Fatalf("err = %v, want *types.InvalidIdentityTokenException", err)
	}
	expired := jwt(map[string]any{"aud": "sts.amazonaws.com", "sub": "s", "exp": time.Now().Add(-time.Hour).Unix()})
	_, err = e.sts(east).AssumeRoleWithWebIdentity(context.Background(), &sts.AssumeRoleWithWebIdentityInput{
		RoleArn: aws.String(role), RoleSessionName: aws.String("s1"), WebIdentityToken: aws.String(expired)})
	var et *ststypes.ExpiredTokenException
	if !errors.As(err, &et) {
		t.Fatalf("err = %v, want *types.ExpiredTokenException", err)
	}
}

func TestCredentialLifetime(t *testing.T) {
	tests := []struct {
		name     string
		lifetime time.Duration // SetCredentialLifetime
		duration int32         // DurationSeconds
		want     time.Duration
	}{
		{"DurationSeconds sets the lifetime", 0, 900, 15 * time.Minute},
		{"SetCredentialLifetime overrides DurationSeconds", 2 * time.Minute, 3600, 2 * time.Minute},
		{"SetCredentialLifetime applies without DurationSeconds", 5 * time.Minute, 0, 5 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			e.fake.SetClock(func() time.Time { return now })
			e.fake.SetCredentialLifetime(tt.lifetime)
			in := &sts.AssumeRoleWithWebIdentityInput{
				RoleArn: aws.String(role), RoleSessionName: aws.String("s1"),
				WebIdentityToken: aws.String(jwt(map[string]any{"aud": "sts.amazonaws.com", "sub": "s", "exp": now.Add(time.Hour).Unix()})),
			}
			if tt.duration > 0 {
				in.DurationSeconds = aws.Int32(tt.duration)
			}
			out, err := e.sts(east).AssumeRoleWithWebIdentity(context.Background(), in)
			if err != nil {
				t.Fatal(err)
			}
			if got := out.Credentials.Expiration.Sub(now); got != tt.want {
				t.Fatalf("lifetime %v, want %v", got, tt.want)
			}
		})
	}
}

func TestIssuedCredentialsAreAuthenticated(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	clock := testkit.NewClock(time.Now())
	e.fake.SetClock(clock.Now)
	e.fake.PutSecretString(east, "db", "v")
	c := e.fake.IssueCredentials(role, "s1")
	read := func(akid, secret, token string) error {
		sm := secretsmanager.NewFromConfig(e.config(east, credentials.NewStaticCredentialsProvider(akid, secret, token)))
		_, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("db")})
		return err
	}
	tests := []struct {
		name     string
		call     func() error
		wantCode string
	}{
		{"the right secret key and token are accepted", func() error { return read(c.AccessKeyID, c.SecretAccessKey, c.SessionToken) }, ""},
		{"a wrong secret key fails the signature", func() error { return read(c.AccessKeyID, "wrong", c.SessionToken) }, "InvalidSignatureException"},
		{"a missing session token is UnrecognizedClientException", func() error { return read(c.AccessKeyID, c.SecretAccessKey, "") }, "UnrecognizedClientException"},
		{"another session's token is UnrecognizedClientException", func() error {
			other := e.fake.IssueCredentials(role, "s2")
			return read(c.AccessKeyID, c.SecretAccessKey, other.SessionToken)
		}, "UnrecognizedClientException"},
		{"unknown keys are accepted like moto", func() error { return read("AKIDUNKNOWN", "x", "") }, ""},
		{"an unsigned request is MissingAuthenticationTokenException", func() error {
			sm := secretsmanager.NewFromConfig(e.config(east, aws.AnonymousCredentials{}))
			_, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("db")})
			return err
		}, "MissingAuthenticationTokenException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := errorCode(tt.call()); got != tt.wantCode {
				t.Fatalf("code %q, want %q", got, tt.wantCode)
			}
		})
	}

	t.Run("expired credentials are ExpiredTokenException", func(t *testing.T) {
		clock.Advance(61 * time.Minute)
		if got := errorCode(read(c.AccessKeyID, c.SecretAccessKey, c.SessionToken)); got != "ExpiredTokenException" {
			t.Fatalf("code %q", got)
		}
	})
	t.Run("RequireKnownCredentials rejects unknown keys", func(t *testing.T) {
		e.fake.RequireKnownCredentials(true)
		if got := errorCode(read("AKIDUNKNOWN", "x", "")); got != "UnrecognizedClientException" {
			t.Fatalf("code %q", got)
		}
	})
}

// testClock is a clock a test moves while the server reads it.
