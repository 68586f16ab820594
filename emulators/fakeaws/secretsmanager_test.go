package fakeaws_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
)

var secretARN = regexp.MustCompile(`^arn:aws:secretsmanager:us-east-1:123456789012:secret:db-[A-Za-z0-9]{6}$`)

func TestSecretsReadBackTheWayAWSResolvesIDs(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	sm := e.sm(east)
	created, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("db"), SecretString: aws.String("v1")})
	if err != nil {
		t.Fatal(err)
	}
	arn := aws.ToString(created.ARN)
	if !secretARN.MatchString(arn) {
		t.Fatalf("ARN %q lacks the 6-character suffix AWS adds", arn)
	}
	if created.VersionId == nil {
		t.Fatal("CreateSecret with a value returned no VersionId")
	}
	ids := []struct{ name, id string }{
		{"by name", "db"},
		{"by full ARN", arn},
		{"by partial ARN without the suffix", strings.TrimSuffix(arn, arn[len(arn)-7:])},
	}
	for _, tt := range ids {
		t.Run(tt.name, func(t *testing.T) {
			out, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(tt.id)})
			if err != nil {
				t.Fatal(err)
			}
			if aws.ToString(out.SecretString) != "v1" || aws.ToString(out.ARN) != arn || aws.ToString(out.Name) != "db" {
				t.Fatalf("got name %q arn %q", aws.ToString(out.Name), aws.ToString(out.ARN))
			}
			if len(out.VersionStages) != 1 || out.VersionStages[0] != "AWSCURRENT" || out.CreatedDate == nil {
				t.Fatalf("stages %v created %v", out.VersionStages, out.CreatedDate)
			}
		})
	}
}

func TestBinarySecretsRoundTripAsBytes(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	value := []byte{0, 1, 2, 0xff}
	if _, err := e.sm(east).CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("bin"), SecretBinary: value}); err != nil {
		t.Fatal(err)
	}
	e.fake.PutSecretBinary(east, "seeded", []byte("raw"))
	for name, want := range map[string][]byte{"bin": value, "seeded": []byte("raw")} {
		out, err := e.sm(east).GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(name)})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out.SecretBinary, want) || out.SecretString != nil {
			t.Fatalf("%s: binary value did not round trip", name)
		}
	}
}

func TestPutSecretValueRotatesStages(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	sm := e.sm(east)
	_, v1 := e.fake.PutSecretString(east, "db", "one")
	put, err := sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String("db"), SecretString: aws.String("two")})
	if err != nil {
		t.Fatal(err)
	}
	v2 := aws.ToString(put.VersionId)

	tests := []struct {
		name      string
		in        secretsmanager.GetSecretValueInput
		wantValue string
		wantStage string
	}{
		{"the default read is the new AWSCURRENT", secretsmanager.GetSecretValueInput{}, "two", "AWSCURRENT"},
		{"AWSPREVIOUS is the value before", secretsmanager.GetSecretValueInput{VersionStage: aws.String("AWSPREVIOUS")}, "one", "AWSPREVIOUS"},
		{"an old version reads by id", secretsmanager.GetSecretValueInput{VersionId: aws.String(v1)}, "one", "AWSPREVIOUS"},
		{"id and matching stage agree", secretsmanager.GetSecretValueInput{VersionId: aws.String(v2), VersionStage: aws.String("AWSCURRENT")}, "two", "AWSCURRENT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := tt.in
			in.SecretId = aws.String("db")
			out, err := sm.GetSecretValue(ctx, &in)
			if err != nil {
				t.Fatal(err)
			}
			if aws.ToString(out.SecretString) != tt.wantValue || len(out.VersionStages) != 1 || out.VersionStages[0] != tt.wantStage {
				t.Fatalf("got stages %v and a different value", out.VersionStages)
			}
		})
	}

	desc, err := sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String("db")})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{v1: {"AWSPREVIOUS"}, v2: {"AWSCURRENT"}}
	if fmt.Sprint(desc.VersionIdsToStages) != fmt.Sprint(want) {
		t.Fatalf("VersionIdsToStages = %v, want %v", desc.VersionIdsToStages, want)
	}

	// A third value leaves the first version without a stage: AWS drops it
	// from VersionIdsToStages.
	if _, err := sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String("db"), SecretString: aws.String("three")}); err != nil {
		t.Fatal(err)
	}
	desc, _ = sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String("db")})
	if _, ok := desc.VersionIdsToStages[v1]; ok || len(desc.VersionIdsToStages) != 2 {
		t.Fatalf("VersionIdsToStages = %v, want only the current and previous versions", desc.VersionIdsToStages)
	}
}

func TestPutSecretValueIsIdempotentPerRequestToken(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.fake.PutSecretString(east, "db", "one")
	token := "11111111-2222-3333-4444-555555555555"
	put := func(v string) error {
		_, err := e.sm(east).PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{
			SecretId: aws.String("db"), SecretString: aws.String(v), ClientRequestToken: aws.String(token)})
		return err
	}
	if err := put("two"); err != nil {
		t.Fatal(err)
	}
	if err := put("two"); err != nil {
		t.Fatalf("repeating the same request failed: %v", err)
	}
	var exists *smtypes.ResourceExistsException
	if err := put("other"); !errors.As(err, &exists) {
		t.Fatalf("reusing the token for another value: err = %v, want ResourceExistsException", err)
	}
}

func TestSecretsManagerErrorsAreTheSDKsTypedErrors(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	sm := e.sm(east)
	_, v1 := e.fake.PutSecretString(east, "db", "one")
	e.fake.PutSecretString(east, "db", "two")
	e.fake.PutSecretString(east, "gone", "x")
	if _, err := sm.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: aws.String("gone")}); err != nil {
		t.Fatal(err)
	}
	if _, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("empty")}); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name     string
		call     func() error
		wantCode string
		wantMsg  string
	}{
		{"a missing secret is ResourceNotFoundException", func() error {
			_, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("nope")})
			return err
		}, "ResourceNotFoundException", "Secrets Manager can't find the specified secret."},
		{"a secret in another region is not found", func() error {
			_, err := e.sm(west).GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("db")})
			return err
		}, "ResourceNotFoundException", ""},
		{"an ARN with a wrong suffix is not found", func() error {
			_, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{
				SecretId: aws.String("arn:aws:secretsmanager:us-east-1:123456789012:secret:db-XXXXXX")})
			return err
		}, "ResourceNotFoundException", ""},
		{"an unknown version id is ResourceNotFoundException", func() error {
			_, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("db"), VersionId: aws.String("nope")})
			return err
		}, "ResourceNotFoundException", "VersionId: nope"},
		{"an unknown stage is ResourceNotFoundException", func() error {
			_, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("db"), VersionStage: aws.String("NOPE")})
			return err
		}, "ResourceNotFoundException", "staging label: NOPE"},
		{"a version id with another version's stage is InvalidRequestException", func() error {
			_, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{
				SecretId: aws.String("db"), VersionId: aws.String(v1), VersionStage: aws.String("AWSCURRENT")})
			return err
		}, "InvalidRequestException", ""},
		{"a secret created without a value has no AWSCURRENT", func() error {
			_, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("empty")})
			return err
		}, "ResourceNotFoundException", "AWSCURRENT"},
		{"a secret scheduled for deletion cannot be read", func() error {
			_, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("gone")})
			return err
		}, "InvalidRequestException", "marked for deletion"},
		{"a name scheduled for deletion cannot be reused", func() error {
			_, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("gone"), SecretString: aws.String("x")})
			return err
		}, "InvalidRequestException", ""},
		{"creating an existing secret is ResourceExistsException", func() error {
			_, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("db"), SecretString: aws.String("x")})
			return err
		}, "ResourceExistsException", ""},
		{"a string and a binary value together are InvalidParameterException", func() error {
			_, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("both"), SecretString: aws.String("x"), SecretBinary: []byte("y")})
			return err
		}, "InvalidParameterException", ""},
		{"deleting twice is InvalidRequestException", func() error {
			_, err := sm.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: aws.String("gone")})
			return err
		}, "InvalidRequestException", ""},
		{"a recovery window under 7 days is InvalidParameterException", func() error {
			_, err := sm.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: aws.String("db"), RecoveryWindowInDays: aws.Int64(1)})
			return err
		}, "InvalidParameterException", ""},
		{"force and a recovery window together are InvalidParameterException", func() error {
			_, err := sm.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{
				SecretId: aws.String("db"), RecoveryWindowInDays: aws.Int64(7), ForceDeleteWithoutRecovery: aws.Bool(true)})
			return err
		}, "InvalidParameterException", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if got := errorCode(err); got != tt.wantCode {
				t.Fatalf("err = %v, want code %s", err, tt.wantCode)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("err = %v, want message containing %q", err, tt.wantMsg)
			}
		})
	}

	var rnf *smtypes.ResourceNotFoundException
	_, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("nope")})
	if !errors.As(err, &rnf) || rnf.ErrorMessage() == "" {
		t.Fatalf("err = %#v, want *types.ResourceNotFoundException with a message", err)
	}
}

func TestUpdateSecretVersionStageMovesLabels(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	sm := e.sm(east)
	_, v1 := e.fake.PutSecretString(east, "db", "one")
	_, v2 := e.fake.PutSecretString(east, "db", "two")

	// Roll back: AWSCURRENT to v1 needs RemoveFromVersionId naming v2.
	_, err := sm.UpdateSecretVersionStage(ctx, &secretsmanager.UpdateSecretVersionStageInput{
		SecretId: aws.String("db"), VersionStage: aws.String("AWSCURRENT"), MoveToVersionId: aws.String(v1)})
	if got := errorCode(err); got != "InvalidParameterException" {
		t.Fatalf("moving AWSCURRENT without RemoveFromVersionId: err = %v", err)
	}
	if _, err := sm.UpdateSecretVersionStage(ctx, &secretsmanager.UpdateSecretVersionStageInput{
		SecretId: aws.String("db"), VersionStage: aws.String("AWSCURRENT"),
		MoveToVersionId: aws.String(v1), RemoveFromVersionId: aws.String(v2)}); err != nil {
		t.Fatal(err)
	}
	out, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("db")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(out.VersionId) != v1 || aws.ToString(out.SecretString) != "one" {
		t.Fatalf("after rollback the current version is %s", aws.ToString(out.VersionId))
	}
	desc, _ := sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String("db")})
	if fmt.Sprint(desc.VersionIdsToStages[v2]) != "[AWSPREVIOUS]" {
		t.Fatalf("the version AWSCURRENT left should be AWSPREVIOUS, got %v", desc.VersionIdsToStages)
	}

	// A custom label can be attached, then removed.
	if _, err := sm.UpdateSecretVersionStage(ctx, &secretsmanager.UpdateSecretVersionStageInput{
		SecretId: aws.String("db"), VersionStage: aws.String("canary"), MoveToVersionId: aws.String(v2)}); err != nil {
		t.Fatal(err)
	}
	out, err = sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("db"), VersionStage: aws.String("canary")})
	if err != nil || aws.ToString(out.SecretString) != "two" {
		t.Fatalf("reading the canary label: %v", err)
	}
	if _, err := sm.UpdateSecretVersionStage(ctx, &secretsmanager.UpdateSecretVersionStageInput{
		SecretId: aws.String("db"), VersionStage: aws.String("canary"), RemoveFromVersionId: aws.String(v2)}); err != nil {
		t.Fatal(err)
	}
	_, err = sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("db"), VersionStage: aws.String("canary")})
	if errorCode(err) != "ResourceNotFoundException" {
		t.Fatalf("a removed label still reads: %v", err)
	}
}

func TestBatchGetSecretValue(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	sm := e.sm(east)
	arnA, _ := e.fake.PutSecretString(east, "a", "va")
	e.fake.PutSecretString(east, "b", "vb")
	e.fake.PutSecretString(east, "other", "vo")
	e.fake.PutSecretString(east, "gone", "x")
	if _, err := sm.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: aws.String("gone")}); err != nil {
		t.Fatal(err)
	}

	t.Run("found and missing ids come back as values and per-secret errors", func(t *testing.T) {
		out, err := sm.BatchGetSecretValue(ctx, &secretsmanager.BatchGetSecretValueInput{
			SecretIdList: []string{arnA, "b", "missing", "gone"}})
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, v := range out.SecretValues {
			names = append(names, aws.ToString(v.Name)+"="+aws.ToString(v.SecretString))
		}
		if fmt.Sprint(names) != "[a=va b=vb]" {
			t.Fatalf("values %v", names)
		}
		errs := map[string]string{}
		for _, x := range out.Errors {
			errs[aws.ToString(x.SecretId)] = aws.ToString(x.ErrorCode)
			if aws.ToString(x.Message) == "" {
				t.Fatalf("error for %s has no message", aws.ToString(x.SecretId))
			}
		}
		want := map[string]string{"missing": "ResourceNotFoundException", "gone": "InvalidRequestException"}
		if fmt.Sprint(errs) != fmt.Sprint(want) {
			t.Fatalf("errors %v, want %v", errs, want)
		}
	})

	t.Run("twenty ids are allowed and twenty-one are a ValidationException", func(t *testing.T) {
		ids := make([]string, 21)
		for i := range ids {
			ids[i] = fmt.Sprintf("s%d", i)
		}
		if _, err := sm.BatchGetSecretValue(ctx, &secretsmanager.BatchGetSecretValueInput{SecretIdList: ids[:20]}); err != nil {
			t.Fatal(err)
		}
		_, err := sm.BatchGetSecretValue(ctx, &secretsmanager.BatchGetSecretValueInput{SecretIdList: ids})
		if errorCode(err) != "ValidationException" || !strings.Contains(err.Error(), "less than or equal to 20") {
			t.Fatalf("err = %v", err)
		}
	})

	t.Run("filters select by name prefix and page with MaxResults", func(t *testing.T) {
		var got []string
		in := &secretsmanager.BatchGetSecretValueInput{
			Filters:    []smtypes.Filter{{Key: smtypes.FilterNameStringTypeName, Values: []string{"a", "b"}}},
			MaxResults: aws.Int32(1),
		}
		for page := 0; ; page++ {
			out, err := sm.BatchGetSecretValue(ctx, in)
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range out.SecretValues {
				got = append(got, aws.ToString(v.Name))
			}
			if out.NextToken == nil || page > 5 {
				break
			}
			in.NextToken = out.NextToken
		}
		sort.Strings(got)
		if fmt.Sprint(got) != "[a b]" {
			t.Fatalf("got %v", got)
		}
	})

	t.Run("ids and filters together are InvalidParameterException", func(t *testing.T) {
		_, err := sm.BatchGetSecretValue(ctx, &secretsmanager.BatchGetSecretValueInput{
			SecretIdList: []string{"a"},
			Filters:      []smtypes.Filter{{Key: smtypes.FilterNameStringTypeName, Values: []string{"a"}}}})
		if errorCode(err) != "InvalidParameterException" {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestListSecrets(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	sm := e.sm(east)
	_, v1 := e.fake.PutSecretString(east, "app/db", "x")
	e.fake.PutSecretString(east, "app/api", "x")
	e.fake.PutSecretString(east, "App/upper", "x")
	e.fake.PutSecretString(east, "other", "x")
	e.fake.PutSecretString(west, "app/west", "x")
	if _, err := sm.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: aws.String("app/api")}); err != nil {
		t.Fatal(err)
	}
	names := func(in *secretsmanager.ListSecretsInput) []string {
		t.Helper()
		out, err := sm.ListSecrets(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		var n []string
		for _, s := range out.SecretList {
			n = append(n, aws.ToString(s.Name))
		}
		sort.Strings(n)
		return n
	}
	nameFilter := func(v ...string) []smtypes.Filter {
		return []smtypes.Filter{{Key: smtypes.FilterNameStringTypeName, Values: v}}
	}
	tests := []struct {
		name string
		in   secretsmanager.ListSecretsInput
		want string
	}{
		{"everything in the region except deleted secrets", secretsmanager.ListSecretsInput{}, "[App/upper app/db other]"},
		{"a name filter matches by case-sensitive prefix", secretsmanager.ListSecretsInput{Filters: nameFilter("app/")}, "[app/db]"},
		{"planned deletions show when asked", secretsmanager.ListSecretsInput{Filters: nameFilter("app/"), IncludePlannedDeletion: aws.Bool(true)}, "[app/api app/db]"},
		{"a leading ! negates", secretsmanager.ListSecretsInput{Filters: nameFilter("!app")}, "[App/upper other]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := tt.in
			if got := fmt.Sprint(names(&in)); got != tt.want {
				t.Fatalf("got %s, want %s", got, tt.want)
			}
		})
	}
	out, err := sm.ListSecrets(ctx, &secretsmanager.ListSecretsInput{Filters: nameFilter("app/db")})
	if err != nil {
		t.Fatal(err)
	}
	if got := out.SecretList[0].SecretVersionsToStages; fmt.Sprint(got) != fmt.Sprint(map[string][]string{v1: {"AWSCURRENT"}}) {
		t.Fatalf("SecretVersionsToStages = %v", got)
	}
}

func TestForcedDeleteRemovesTheSecretAtOnce(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	sm := e.sm(east)
	e.fake.PutSecretString(east, "db", "x")
	if _, err := sm.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: aws.String("db"), ForceDeleteWithoutRecovery: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	if _, err := sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String("db")}); errorCode(err) != "ResourceNotFoundException" {
		t.Fatalf("err = %v", err)
	}
	if _, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("db"), SecretString: aws.String("y")}); err != nil {
		t.Fatalf("the name is free again: %v", err)
	}
	// Like AWS and moto, forcing the delete of a secret that does not exist succeeds.
	if _, err := sm.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: aws.String("never"), ForceDeleteWithoutRecovery: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
}
