package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/csi-provider-aws/csi-provider-aws/emulators/fakeaws"
	"github.com/csi-provider-aws/csi-provider-aws/emulators/moto"
)

// seedAccessKey signs the demo's own AWS calls (seeding, rotation), so that
// the fake's log can tell them from the daemon's.
const seedAccessKey = "AKIDDEMOSEEDER"

// The demo's secret values. They are fake, so printing them is fine.
const (
	secretV1  = `{"username":"app","password":"correct-horse-1","host":"db.demo.internal"}`
	secretV2  = `{"username":"app","password":"correct-horse-2","host":"db.demo.internal"}`
	apiKey    = "demo-api-key-0001"
	password1 = "correct-horse-1"
	password2 = "correct-horse-2"
)

// awsBackend is the AWS stand-in: the in-process fake or moto.
type awsBackend struct {
	name string
	url  string
	fake *fakeaws.Server // nil for moto
	moto *moto.Server    // nil for the fake
	sm   *secretsmanager.Client
	ssm  *ssm.Client
}

func startAWS(kind string) (*awsBackend, error) {
	b := &awsBackend{}
	switch kind {
	case "moto":
		m, err := moto.StartProcess()
		if errors.Is(err, moto.ErrNotInstalled) {
			return nil, fmt.Errorf("--aws=moto needs moto_server: %w (%s); or run without --aws for the in-process fake", err, moto.InstallHint)
		}
		if err != nil {
			return nil, err
		}
		b.name, b.url, b.moto = "moto_server", m.URL(), m
	default:
		f := fakeaws.New()
		if err := f.Start(); err != nil {
			return nil, err
		}
		b.name, b.url, b.fake = "in-process fake of Secrets Manager, SSM and STS", f.URL(), f
	}
	creds := credentials.NewStaticCredentialsProvider(seedAccessKey, "demo-seeder-secret", "")
	b.sm = secretsmanager.New(secretsmanager.Options{Region: region, BaseEndpoint: aws.String(b.url), Credentials: creds})
	b.ssm = ssm.New(ssm.Options{Region: region, BaseEndpoint: aws.String(b.url), Credentials: creds})
	return b, nil
}

// seed creates the secret and the parameter through the AWS SDK, as a user
// would, and lets the demo's ServiceAccount assume the role.
func (b *awsBackend) seed(ctx context.Context) (secretVersion string, paramVersion int64, err error) {
	out, err := b.sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{
		Name: aws.String(secretName), SecretString: aws.String(secretV1),
	})
	if err != nil {
		return "", 0, fmt.Errorf("CreateSecret %s: %w", secretName, err)
	}
	p, err := b.ssm.PutParameter(ctx, &ssm.PutParameterInput{
		Name: aws.String(parameterName), Type: ssmtypes.ParameterTypeSecureString,
		Value: aws.String(apiKey), Overwrite: aws.Bool(true),
	})
	if err != nil {
		return "", 0, fmt.Errorf("PutParameter %s: %w", parameterName, err)
	}
	if b.fake != nil {
		b.fake.Trust(roleARN, "system:serviceaccount:"+namespace+":"+serviceAccount)
		b.fake.ResetCalls()
	}
	return aws.ToString(out.VersionId), p.Version, nil
}

// rotate stores a new AWSCURRENT version of the secret.
func (b *awsBackend) rotate(ctx context.Context) (version string, err error) {
	out, err := b.sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{
		SecretId: aws.String(secretName), SecretString: aws.String(secretV2),
	})
	if err != nil {
		return "", fmt.Errorf("PutSecretValue %s: %w", secretName, err)
	}
	return aws.ToString(out.VersionId), nil
}

// daemonCalls counts, by "service:Operation", the requests the fake got
// from anyone but the demo itself; nil for moto, which counts nothing.
func (b *awsBackend) daemonCalls() map[string]int {
	if b.fake == nil {
		return nil
	}
	out := map[string]int{}
	for _, c := range b.fake.Log() {
		if c.AccessKeyID != seedAccessKey {
			out[c.Service+":"+c.Operation]++
		}
	}
	return out
}

func (b *awsBackend) close() error {
	if b.fake != nil {
		b.fake.Close()
	}
	if b.moto != nil {
		return b.moto.Close()
	}
	return nil
}
