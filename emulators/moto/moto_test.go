package moto_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/csi-provider-aws/csi-provider-aws/emulators/fakeaws"
	"github.com/csi-provider-aws/csi-provider-aws/emulators/moto"
	"github.com/csi-provider-aws/csi-provider-aws/internal/testkit"
)

func config(url, region string, creds aws.CredentialsProvider) aws.Config {
	if creds == nil {
		creds = credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", "")
	}
	return aws.Config{Region: region, Credentials: creds, BaseEndpoint: aws.String(url)}
}

func TestASecretWrittenToMotoReadsBack(t *testing.T) {
	m := moto.Start(t)
	ctx := context.Background()
	sm := secretsmanager.NewFromConfig(config(m.URL(), "us-east-1", nil))
	if _, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("db"), SecretString: aws.String("v1")}); err != nil {
		t.Fatal(err)
	}
	out, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("db")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(out.SecretString) != "v1" {
		t.Fatal("moto returned a different value than stored")
	}

	t.Run("Reset forgets it", func(t *testing.T) {
		if err := m.Reset(); err != nil {
			t.Fatal(err)
		}
		_, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("db")})
		if code := errorCode(err); code != "ResourceNotFoundException" {
			t.Fatalf("after Reset: err = %v", err)
		}
	})
}

func TestCloseStopsTheProcess(t *testing.T) {
	if os.Getenv("MOTO_URL") != "" {
		t.Skip("MOTO_URL names a moto this test did not start")
	}
	m := moto.Start(t)
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if err := m.Reset(); err == nil {
		t.Fatal("moto still answers after Close")
	}
	if err := m.Close(); err != nil {
		t.Fatalf("a second Close: %v", err)
	}
}

// errorCode is the AWS error code of err ("" for nil).
func errorCode(err error) string {
	if err == nil {
		return ""
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return "non-API error: " + err.Error()
}

var arnSuffix = regexp.MustCompile(`:secret:[^:]+-[A-Za-z0-9]{6}$`)

// backend is one implementation of the AWS APIs under comparison.
type backend struct {
	name  string
	url   string
	reset func(t *testing.T)
}

// TestFakeAndMotoAgree sends the same requests to moto and to fakeaws and
// compares what a caller observes. It covers what both implement alike;
// the differences are listed in the fakeaws package documentation.
func TestFakeAndMotoAgree(t *testing.T) {
	m := moto.Start(t)
	fake := fakeaws.New()
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	backends := []backend{
		{"moto", m.URL(), func(t *testing.T) {
			if err := m.Reset(); err != nil {
				t.Fatal(err)
			}
		}},
		{"fakeaws", srv.URL, func(*testing.T) {}},
	}

	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			var got []string
			for _, b := range backends {
				b.reset(t)
				got = append(got, sc.run(t, b.url, uniq()))
			}
			t.Logf("both observed: %s", got[1])
			if got[0] != got[1] {
				t.Fatalf("moto and fakeaws disagree\n   moto: %s\nfakeaws: %s", got[0], got[1])
			}
		})
	}
}

var counter int

// uniq is a name prefix unique to one run of a scenario, so the fake, which
// is not reset, starts each scenario empty too.
func uniq() string {
	counter++
	return fmt.Sprintf("t%d-", counter)
}

type scenario struct {
	name string
	// run performs requests and returns what a caller would observe,
	// without random parts (ARN suffixes, version ids).
	run func(t *testing.T, url, p string) string
}

func obs(parts ...any) string { return fmt.Sprint(parts...) }

// stripName removes the per-run prefix from names in an observation.
func stripName(s, p string) string { return strings.ReplaceAll(s, p, "") }

var scenarios = []scenario{
	{"a secret reads back by name, full ARN and partial ARN", func(t *testing.T, url, p string) string {
		ctx := context.Background()
		sm := secretsmanager.NewFromConfig(config(url, "us-east-1", nil))
		c, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(p + "db"), SecretString: aws.String("v1")})
		if err != nil {
			t.Fatal(err)
		}
		arn := aws.ToString(c.ARN)
		var out []string
		for _, id := range []string{p + "db", arn, arn[:len(arn)-7]} {
			v, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(id)})
			out = append(out, obs(aws.ToString(v.SecretString), v.VersionStages, errorCode(err), aws.ToString(v.ARN) == arn))
		}
		return obs(out, arnSuffix.MatchString(arn))
	}},
	{"PutSecretValue makes the old value AWSPREVIOUS", func(t *testing.T, url, p string) string {
		ctx := context.Background()
		sm := secretsmanager.NewFromConfig(config(url, "us-east-1", nil))
		id := aws.String(p + "db")
		if _, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: id, SecretString: aws.String("one")}); err != nil {
			t.Fatal(err)
		}
		if _, err := sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: id, SecretString: aws.String("two")}); err != nil {
			t.Fatal(err)
		}
		cur, err1 := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: id})
		prev, err2 := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: id, VersionStage: aws.String("AWSPREVIOUS")})
		byID, err3 := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: id, VersionId: prev.VersionId})
		desc, err4 := sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: id})
		var stages []string
		for _, st := range desc.VersionIdsToStages {
			stages = append(stages, fmt.Sprint(st))
		}
		sort.Strings(stages)
		return obs(aws.ToString(cur.SecretString), cur.VersionStages, aws.ToString(prev.SecretString), prev.VersionStages,
			aws.ToString(byID.SecretString), stages, errorCode(err1), errorCode(err2), errorCode(err3), errorCode(err4))
	}},
	{"binary secrets round trip", func(t *testing.T, url, p string) string {
		ctx := context.Background()
		sm := secretsmanager.NewFromConfig(config(url, "us-east-1", nil))
		if _, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(p + "bin"), SecretBinary: []byte{0, 1, 0xff}}); err != nil {
			t.Fatal(err)
		}
		v, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(p + "bin")})
		return obs(v.SecretBinary, v.SecretString == nil, errorCode(err))
	}},
	{"secrets are per region", func(t *testing.T, url, p string) string {
		ctx := context.Background()
		east := secretsmanager.NewFromConfig(config(url, "us-east-1", nil))
		west := secretsmanager.NewFromConfig(config(url, "us-west-2", nil))
		if _, err := east.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(p + "db"), SecretString: aws.String("e")}); err != nil {
			t.Fatal(err)
		}
		_, err := west.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(p + "db")})
		return errorCode(err)
	}},
	{"Secrets Manager errors carry the same codes", func(t *testing.T, url, p string) string {
		ctx := context.Background()
		sm := secretsmanager.NewFromConfig(config(url, "us-east-1", nil))
		id := aws.String(p + "db")
		if _, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: id, SecretString: aws.String("x")}); err != nil {
			t.Fatal(err)
		}
		if _, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(p + "empty")}); err != nil {
			t.Fatal(err)
		}
		var codes []string
		add := func(_ any, err error) { codes = append(codes, errorCode(err)) }
		add(sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(p + "missing")}))
		add(sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: id, VersionId: aws.String("00000000-0000-0000-0000-000000000000")}))
		add(sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: id, VersionStage: aws.String("NOPE")}))
		add(sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(p + "empty")}))
		add(sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: id, SecretString: aws.String("x")}))
		add(sm.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: id, RecoveryWindowInDays: aws.Int64(7)}))
		add(sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: id}))
		add(sm.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: id}))
		add(sm.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: aws.String(p + "never"), ForceDeleteWithoutRecovery: aws.Bool(true)}))
		return fmt.Sprint(codes)
	}},
	{"BatchGetSecretValue returns values and per-secret errors", func(t *testing.T, url, p string) string {
		ctx := context.Background()
		sm := secretsmanager.NewFromConfig(config(url, "us-east-1", nil))
		for _, n := range []string{"a", "b", "gone"} {
			if _, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(p + n), SecretString: aws.String("v" + n)}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := sm.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: aws.String(p + "gone")}); err != nil {
			t.Fatal(err)
		}
		out, err := sm.BatchGetSecretValue(ctx, &secretsmanager.BatchGetSecretValueInput{
			SecretIdList: []string{p + "a", p + "b", p + "missing", p + "gone"}})
		if err != nil {
			t.Fatal(err)
		}
		var vals, errs []string
		for _, v := range out.SecretValues {
			vals = append(vals, obs(aws.ToString(v.Name), "=", aws.ToString(v.SecretString), v.VersionStages))
		}
		for _, e := range out.Errors {
			errs = append(errs, obs(aws.ToString(e.SecretId), ":", aws.ToString(e.ErrorCode)))
		}
		sort.Strings(vals)
		sort.Strings(errs)
		_, errBoth := sm.BatchGetSecretValue(ctx, &secretsmanager.BatchGetSecretValueInput{
			SecretIdList: []string{p + "a"}, Filters: []smtypes.Filter{{Key: "name", Values: []string{p}}}})
		return stripName(obs(vals, errs, errorCode(errBoth)), p)
	}},
	{"ListSecrets filters by name prefix and hides planned deletions", func(t *testing.T, url, p string) string {
		ctx := context.Background()
		sm := secretsmanager.NewFromConfig(config(url, "us-east-1", nil))
		for _, n := range []string{"app/db", "app/api", "other"} {
			if _, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(p + n), SecretString: aws.String("x")}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := sm.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: aws.String(p + "app/api")}); err != nil {
			t.Fatal(err)
		}
		list := func(include bool) []string {
			out, err := sm.ListSecrets(ctx, &secretsmanager.ListSecretsInput{
				Filters:                []smtypes.Filter{{Key: "name", Values: []string{p + "app/"}}},
				IncludePlannedDeletion: aws.Bool(include)})
			if err != nil {
				t.Fatal(err)
			}
			var n []string
			for _, s := range out.SecretList {
				n = append(n, stripName(aws.ToString(s.Name), p)+fmt.Sprint(len(s.SecretVersionsToStages)))
			}
			sort.Strings(n)
			return n
		}
		return obs(list(false), list(true))
	}},
	{"parameters keep versions and labels", func(t *testing.T, url, p string) string {
		ctx := context.Background()
		c := ssm.NewFromConfig(config(url, "us-east-1", nil))
		name := "/" + p + "db"
		var versions []int64
		for i, v := range []string{"one", "two", "three"} {
			out, err := c.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String(name), Value: aws.String(v),
				Type: "SecureString", Overwrite: aws.Bool(i > 0)})
			if err != nil {
				t.Fatal(err)
			}
			versions = append(versions, out.Version)
		}
		_, errExists := c.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String(name), Value: aws.String("x"), Type: "SecureString"})
		lbl, err := c.LabelParameterVersion(ctx, &ssm.LabelParameterVersionInput{
			Name: aws.String(name), ParameterVersion: aws.Int64(1), Labels: []string{"stable", "1bad"}})
		if err != nil {
			t.Fatal(err)
		}
		out, err := c.GetParameters(ctx, &ssm.GetParametersInput{
			Names:          []string{name, name + ":1", name + ":stable", name + ":9", name + ":nolabel", "/" + p + "missing"},
			WithDecryption: aws.Bool(true)})
		if err != nil {
			t.Fatal(err)
		}
		var params []string
		for _, pr := range out.Parameters {
			params = append(params, obs(stripName(aws.ToString(pr.Name), p), "=", aws.ToString(pr.Value), "@", pr.Version, " ", pr.Type,
				" ", stripName(aws.ToString(pr.ARN), p)))
		}
		sort.Strings(params)
		invalid := append([]string(nil), out.InvalidParameters...)
		sort.Strings(invalid)
		plain, err := c.GetParameters(ctx, &ssm.GetParametersInput{Names: []string{name}})
		if err != nil {
			t.Fatal(err)
		}
		return stripName(obs(versions, errorCode(errExists), lbl.ParameterVersion, lbl.InvalidLabels, params, invalid,
			aws.ToString(plain.Parameters[0].Value)), p)
	}},
	{"Parameter Store errors carry the same codes", func(t *testing.T, url, p string) string {
		ctx := context.Background()
		c := ssm.NewFromConfig(config(url, "us-east-1", nil))
		name := "/" + p + "x"
		if _, err := c.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String(name), Value: aws.String("v"), Type: "String"}); err != nil {
			t.Fatal(err)
		}
		eleven := make([]string, 11)
		for i := range eleven {
			eleven[i] = fmt.Sprintf("/%sn%d", p, i)
		}
		var codes []string
		add := func(_ any, err error) { codes = append(codes, errorCode(err)) }
		add(c.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/" + p + "nope")}))
		add(c.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(name + ":4")}))
		add(c.GetParameters(ctx, &ssm.GetParametersInput{Names: eleven}))
		add(c.GetParameters(ctx, &ssm.GetParametersInput{Names: eleven[:10]}))
		add(c.LabelParameterVersion(ctx, &ssm.LabelParameterVersionInput{Name: aws.String(name), ParameterVersion: aws.Int64(7), Labels: []string{"l"}}))
		add(c.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/" + p + "notype"), Value: aws.String("v")}))
		add(c.DeleteParameter(ctx, &ssm.DeleteParameterInput{Name: aws.String(name)}))
		add(c.DeleteParameter(ctx, &ssm.DeleteParameterInput{Name: aws.String(name)}))
		return fmt.Sprint(codes)
	}},
	{"AssumeRoleWithWebIdentity credentials act as the assumed role", func(t *testing.T, url, p string) string {
		ctx := context.Background()
		anon := sts.NewFromConfig(config(url, "us-east-1", aws.AnonymousCredentials{}))
		out, err := anon.AssumeRoleWithWebIdentity(ctx, &sts.AssumeRoleWithWebIdentityInput{
			RoleArn:          aws.String("arn:aws:iam::123456789012:role/app"),
			RoleSessionName:  aws.String("pod-1"),
			WebIdentityToken: aws.String(saToken()),
		})
		if err != nil {
			t.Fatal(err)
		}
		c := out.Credentials
		signed := sts.NewFromConfig(config(url, "us-east-1", credentials.NewStaticCredentialsProvider(
			aws.ToString(c.AccessKeyId), aws.ToString(c.SecretAccessKey), aws.ToString(c.SessionToken))))
		id, err := signed.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		if err != nil {
			t.Fatal(err)
		}
		life := time.Until(aws.ToTime(c.Expiration)).Round(time.Hour)
		return obs(aws.ToString(c.AccessKeyId)[:4], aws.ToString(out.AssumedRoleUser.Arn), life,
			aws.ToString(id.Arn), aws.ToString(id.Account))
	}},
}

func saToken() string {
	return testkit.Token{Namespace: "ns", ServiceAccount: "sa", Audience: "sts.amazonaws.com",
		Expires: time.Now().Add(time.Hour), Issuer: "https://oidc.example.com"}.String()
}
