package fakeaws_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
)

func TestPutParameterVersions(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	c := e.ssm(east)
	put := func(name, value string, typ ssmtypes.ParameterType, overwrite bool) (int64, error) {
		out, err := c.PutParameter(ctx, &ssm.PutParameterInput{
			Name: aws.String(name), Value: aws.String(value), Type: typ, Overwrite: aws.Bool(overwrite)})
		if err != nil {
			return 0, err
		}
		return out.Version, nil
	}
	tests := []struct {
		name        string
		param       string
		value       string
		typ         ssmtypes.ParameterType
		overwrite   bool
		wantVersion int64
		wantCode    string
	}{
		{"a new parameter is version 1", "/app/db", "v1", ssmtypes.ParameterTypeSecureString, false, 1, ""},
		{"writing it again without Overwrite is ParameterAlreadyExists", "/app/db", "v2", ssmtypes.ParameterTypeSecureString, false, 0, "ParameterAlreadyExists"},
		{"Overwrite makes version 2", "/app/db", "v2", ssmtypes.ParameterTypeSecureString, true, 2, ""},
		{"Overwrite keeps the type when none is given", "/app/db", "v3", "", true, 3, ""},
		{"a StringList is stored", "/app/list", "a,b", ssmtypes.ParameterTypeStringList, false, 1, ""},
		{"a new parameter needs a type", "/app/notype", "x", "", false, 0, "ValidationException"},
		{"an empty value is a ValidationException", "/app/empty", "", ssmtypes.ParameterTypeString, false, 0, "ValidationException"},
		{"names under aws are reserved", "/aws/x", "x", ssmtypes.ParameterTypeString, false, 0, "ValidationException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := put(tt.param, tt.value, tt.typ, tt.overwrite)
			if got := errorCode(err); got != tt.wantCode {
				t.Fatalf("err = %v, want code %q", err, tt.wantCode)
			}
			if v != tt.wantVersion {
				t.Fatalf("version %d, want %d", v, tt.wantVersion)
			}
		})
	}
	out, err := c.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/app/db"), WithDecryption: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	if out.Parameter.Type != ssmtypes.ParameterTypeSecureString || aws.ToString(out.Parameter.Value) != "v3" {
		t.Fatalf("type %s", out.Parameter.Type)
	}
}

func TestGetParametersSelectsVersionsAndLabels(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	c := e.ssm(east)
	e.fake.PutParameter(east, "/app/db", "SecureString", "one")
	e.fake.PutParameter(east, "/app/db", "SecureString", "two")
	e.fake.PutParameter(east, "/app/db", "SecureString", "three")
	e.fake.PutParameter(east, "plain", "String", "p")
	e.fake.PutParameter(east, "/app/list", "StringList", "a,b")
	e.fake.PutParameter(west, "/west/only", "String", "w")
	if err := e.fake.LabelParameter(east, "/app/db", 1, "stable"); err != nil {
		t.Fatal(err)
	}

	out, err := c.GetParameters(ctx, &ssm.GetParametersInput{
		Names: []string{
			"/app/db", "/app/db:1", "/app/db:stable", "plain", "/app/list",
			"arn:aws:ssm:us-east-1:123456789012:parameter/app/db:2",
			"/app/db:9", "/app/db:nolabel", "/missing", "/west/only",
		},
		WithDecryption: aws.Bool(true),
	})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range out.Parameters {
		got = append(got, fmt.Sprintf("%s%s=%s@%d", aws.ToString(p.Name), aws.ToString(p.Selector), aws.ToString(p.Value), p.Version))
		if want := "arn:aws:ssm:us-east-1:123456789012:parameter/" + strings.TrimPrefix(aws.ToString(p.Name), "/"); aws.ToString(p.ARN) != want {
			t.Errorf("ARN %s, want %s", aws.ToString(p.ARN), want)
		}
	}
	want := "[/app/db=three@3 /app/db:1=one@1 /app/db:stable=one@1 plain=p@1 /app/list=a,b@1 /app/db:2=two@2]"
	if fmt.Sprint(got) != want {
		t.Fatalf("parameters\n got %v\nwant %s", got, want)
	}
	if fmt.Sprint(out.InvalidParameters) != "[/app/db:9 /app/db:nolabel /missing /west/only]" {
		t.Fatalf("InvalidParameters = %v", out.InvalidParameters)
	}
}

func TestSecureStringsNeedWithDecryption(t *testing.T) {
	e := newEnv(t)
	e.fake.PutParameter(east, "/s", "SecureString", "clear")
	out, err := e.ssm(east).GetParameters(context.Background(), &ssm.GetParametersInput{Names: []string{"/s"}})
	if err != nil {
		t.Fatal(err)
	}
	if v := aws.ToString(out.Parameters[0].Value); v == "clear" || !strings.HasPrefix(v, "kms:alias/aws/ssm:") {
		t.Fatal("a SecureString read without WithDecryption should not be the plain value")
	}
}

func TestParameterStoreErrors(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	c := e.ssm(east)
	e.fake.PutParameter(east, "/p", "String", "v")
	eleven := make([]string, 11)
	for i := range eleven {
		eleven[i] = fmt.Sprintf("/n%d", i)
	}
	tests := []struct {
		name     string
		call     func() error
		wantCode string
	}{
		{"GetParameter of a missing name is ParameterNotFound", func() error {
			_, err := c.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/nope")})
			return err
		}, "ParameterNotFound"},
		{"GetParameter of a missing version is ParameterVersionNotFound", func() error {
			_, err := c.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/p:4")})
			return err
		}, "ParameterVersionNotFound"},
		{"GetParameters with eleven names is a ValidationException", func() error {
			_, err := c.GetParameters(ctx, &ssm.GetParametersInput{Names: eleven})
			return err
		}, "ValidationException"},
		{"GetParameters with ten names is fine", func() error {
			_, err := c.GetParameters(ctx, &ssm.GetParametersInput{Names: eleven[:10]})
			return err
		}, ""},
		{"labelling a missing version is ParameterVersionNotFound", func() error {
			_, err := c.LabelParameterVersion(ctx, &ssm.LabelParameterVersionInput{
				Name: aws.String("/p"), ParameterVersion: aws.Int64(7), Labels: []string{"x"}})
			return err
		}, "ParameterVersionNotFound"},
		{"labelling a missing parameter is ParameterNotFound", func() error {
			_, err := c.LabelParameterVersion(ctx, &ssm.LabelParameterVersionInput{Name: aws.String("/nope"), Labels: []string{"x"}})
			return err
		}, "ParameterNotFound"},
		{"deleting a missing parameter is ParameterNotFound", func() error {
			_, err := c.DeleteParameter(ctx, &ssm.DeleteParameterInput{Name: aws.String("/nope")})
			return err
		}, "ParameterNotFound"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := errorCode(tt.call()); got != tt.wantCode {
				t.Fatalf("code %q, want %q", got, tt.wantCode)
			}
		})
	}
	var nf *ssmtypes.ParameterNotFound
	if _, err := c.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/nope")}); !errors.As(err, &nf) {
		t.Fatalf("err = %v, want *types.ParameterNotFound", err)
	}
}

func TestLabelParameterVersionMovesLabels(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	c := e.ssm(east)
	e.fake.PutParameter(east, "/p", "String", "one")
	e.fake.PutParameter(east, "/p", "String", "two")
	label := func(version *int64, labels ...string) *ssm.LabelParameterVersionOutput {
		t.Helper()
		out, err := c.LabelParameterVersion(ctx, &ssm.LabelParameterVersionInput{Name: aws.String("/p"), ParameterVersion: version, Labels: labels})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	read := func(ref string) string {
		t.Helper()
		out, err := c.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(ref)})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(out.Parameter.Value)
	}
	if out := label(aws.Int64(1), "stable", "1bad", "awsx"); out.ParameterVersion != 1 || fmt.Sprint(out.InvalidLabels) != "[1bad awsx]" {
		t.Fatalf("version %d invalid %v", out.ParameterVersion, out.InvalidLabels)
	}
	if v := read("/p:stable"); v != "one" {
		t.Fatalf("stable reads %q", v)
	}
	if out := label(nil, "stable"); out.ParameterVersion != 2 {
		t.Fatalf("no version labels the latest, got %d", out.ParameterVersion)
	}
	if v := read("/p:stable"); v != "two" {
		t.Fatalf("after moving, stable reads %q", v)
	}
	if _, err := c.DeleteParameter(ctx, &ssm.DeleteParameterInput{Name: aws.String("/p")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/p")}); errorCode(err) != "ParameterNotFound" {
		t.Fatalf("deleted parameter still reads: %v", err)
	}
}
