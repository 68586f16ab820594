package provider

import (
	"context"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// secretReadConcurrency bounds the GetSecretValue calls one Mount makes at
// once in one region.
const secretReadConcurrency = 8

// readSecrets reads the Secrets Manager lookups at positions idx of lookups,
// filling values and errs.
func readSecrets(ctx context.Context, api SecretsManagerAPI, creds aws.CredentialsProvider, lookups []lookup, idx []int, values []Value, errs []error) {
	if len(idx) == 0 {
		return
	}
	withCreds := func(o *secretsmanager.Options) { o.Credentials = creds }
	sem := make(chan struct{}, secretReadConcurrency)
	var wg sync.WaitGroup
	for _, j := range idx {
		wg.Add(1)
		sem <- struct{}{}
		go func(j int) {
			defer func() { <-sem; wg.Done() }()
			l := lookups[j]
			in := &secretsmanager.GetSecretValueInput{SecretId: aws.String(l.name)}
			if l.version != "" {
				in.VersionId = aws.String(l.version)
			}
			if l.versionLabel != "" {
				in.VersionStage = aws.String(l.versionLabel)
			}
			out, err := api.GetSecretValue(ctx, in, withCreds)
			if err != nil {
				errs[j] = err
				return
			}
			v, err := secretValue(out.SecretString, out.SecretBinary, out.VersionId)
			if err != nil {
				errs[j] = err
				return
			}
			values[l.index] = v
		}(j)
	}
	wg.Wait()
}

// secretValue turns a Secrets Manager answer into a Value: SecretString as
// is, SecretBinary as raw bytes (the SDK has already decoded its base64).
func secretValue(s *string, b []byte, versionID *string) (Value, error) {
	switch {
	case s != nil:
		return Value{Data: []byte(*s), Version: aws.ToString(versionID)}, nil
	case b != nil:
		return Value{Data: b, Version: aws.ToString(versionID)}, nil
	}
	return Value{}, errNoValue
}
