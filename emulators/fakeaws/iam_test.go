package fakeaws_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
)

const otherRole = "arn:aws:iam::123456789012:role/other"

func TestDenialsApplyOnlyToTheDeniedRole(t *testing.T) {
	ctx := context.Background()
	getSecret := func(cfg aws.Config, id string) error {
		_, err := secretsmanager.NewFromConfig(cfg).GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(id)})
		return err
	}
	getParams := func(cfg aws.Config, names ...string) error {
		_, err := ssm.NewFromConfig(cfg).GetParameters(ctx, &ssm.GetParametersInput{Names: names, WithDecryption: aws.Bool(true)})
		return err
	}
	tests := []struct {
		name     string
		deny     func(e *env)
		call     func(e *env, cfg aws.Config) error
		wantCode string // for the denied role; the other role always succeeds
		wantMsg  string
	}{
		{
			name:     "DenyAction on GetSecretValue refuses every secret",
			deny:     func(e *env) { e.fake.DenyAction(role, "secretsmanager:GetSecretValue") },
			call:     func(e *env, cfg aws.Config) error { return getSecret(cfg, "db") },
			wantCode: "AccessDeniedException",
			wantMsg: "User: arn:aws:sts::123456789012:assumed-role/app/pod is not authorized to perform: " +
				"secretsmanager:GetSecretValue on resource: arn:aws:secretsmanager:us-east-1:123456789012:secret:db-",
		},
		{
			name:     "DenySecret refuses that secret",
			deny:     func(e *env) { e.fake.DenySecret(role, "db") },
			call:     func(e *env, cfg aws.Config) error { return getSecret(cfg, "db") },
			wantCode: "AccessDeniedException",
			wantMsg:  "secretsmanager:GetSecretValue",
		},
		{
			name:     "DenySecret refuses a secret addressed by ARN",
			deny:     func(e *env) { e.fake.DenySecret(role, "db") },
			call:     func(e *env, cfg aws.Config) error { return getSecret(cfg, e.arn("db")) },
			wantCode: "AccessDeniedException",
		},
		{
			name: "DenySecret leaves other secrets readable",
			deny: func(e *env) { e.fake.DenySecret(role, "db") },
			call: func(e *env, cfg aws.Config) error { return getSecret(cfg, "api") },
		},
		{
			name:     "a denied secret that does not exist is denied, not missing",
			deny:     func(e *env) { e.fake.DenySecret(role, "ghost") },
			call:     func(e *env, cfg aws.Config) error { return getSecret(cfg, "ghost") },
			wantCode: "AccessDeniedException",
		},
		{
			name: "DenyAction on BatchGetSecretValue refuses the whole batch",
			deny: func(e *env) { e.fake.DenyAction(role, "secretsmanager:BatchGetSecretValue") },
			call: func(e *env, cfg aws.Config) error {
				_, err := secretsmanager.NewFromConfig(cfg).BatchGetSecretValue(ctx, &secretsmanager.BatchGetSecretValueInput{SecretIdList: []string{"db"}})
				return err
			},
			wantCode: "AccessDeniedException",
			wantMsg:  "secretsmanager:BatchGetSecretValue",
		},
		{
			name:     "DenyParameter fails GetParameters even with other names in the call",
			deny:     func(e *env) { e.fake.DenyParameter(role, "/app/*") },
			call:     func(e *env, cfg aws.Config) error { return getParams(cfg, "/open", "/app/db") },
			wantCode: "AccessDeniedException",
			wantMsg:  "ssm:GetParameters on resource: arn:aws:ssm:us-east-1:123456789012:parameter/app/db",
		},
		{
			name:     "DenyAction with a wildcard covers every SSM action",
			deny:     func(e *env) { e.fake.DenyAction(role, "ssm:*") },
			call:     func(e *env, cfg aws.Config) error { return getParams(cfg, "/open") },
			wantCode: "AccessDeniedException",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			e.fake.PutSecretString(east, "db", "v")
			e.fake.PutSecretString(east, "api", "v")
			e.fake.PutParameter(east, "/app/db", "SecureString", "v")
			e.fake.PutParameter(east, "/open", "String", "v")
			tt.deny(e)
			err := tt.call(e, e.as(east, role, "pod"))
			if got := errorCode(err); got != tt.wantCode {
				t.Fatalf("denied role: err = %v, want code %q", err, tt.wantCode)
			}
			if err != nil && !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("message %q lacks %q", err.Error(), tt.wantMsg)
			}
			if err := tt.call(e, e.as(east, otherRole, "pod")); err != nil && errorCode(err) != "ResourceNotFoundException" {
				t.Fatalf("another role was affected: %v", err)
			}
		})
	}
}

// arn is the ARN of a secret in us-east-1, read through the SDK.
func (e *env) arn(name string) string {
	out, err := e.sm(east).DescribeSecret(context.Background(), &secretsmanager.DescribeSecretInput{SecretId: aws.String(name)})
	if err != nil {
		e.t.Fatal(err)
	}
	return aws.ToString(out.ARN)
}

func TestDeniedSecretsShowUpPerSecretInBatches(t *testing.T) {
	e := newEnv(t)
	e.fake.PutSecretString(east, "db", "v")
	e.fake.PutSecretString(east, "api", "v")
	e.fake.DenySecret(role, "db")
	out, err := secretsmanager.NewFromConfig(e.as(east, role, "pod")).BatchGetSecretValue(context.Background(),
		&secretsmanager.BatchGetSecretValueInput{SecretIdList: []string{"db", "api"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.SecretValues) != 1 || aws.ToString(out.SecretValues[0].Name) != "api" {
		t.Fatalf("values %v", out.SecretValues)
	}
	if len(out.Errors) != 1 || aws.ToString(out.Errors[0].ErrorCode) != "AccessDeniedException" || aws.ToString(out.Errors[0].SecretId) != "db" {
		t.Fatalf("errors %+v", out.Errors)
	}
}

func TestClearPoliciesLiftsDenials(t *testing.T) {
	e := newEnv(t)
	e.fake.PutSecretString(east, "db", "v")
	e.fake.DenyAction(role, "secretsmanager:*")
	e.fake.ClearPolicies()
	cfg := e.as(east, role, "pod")
	if _, err := secretsmanager.NewFromConfig(cfg).GetSecretValue(context.Background(), &secretsmanager.GetSecretValueInput{SecretId: aws.String("db")}); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(e.fake.Log()[0].RoleARN); got != role {
		t.Fatalf("log names role %q", got)
	}
}
