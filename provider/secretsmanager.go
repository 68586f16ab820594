package provider

import (
	"context"
	"errors"
	"sort"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/smithy-go"

	"github.com/csi-provider-aws/csi-provider-aws/provider/failure"
)

const (
	// secretsPerBatch is BatchGetSecretValue's limit of ids per call.
	secretsPerBatch = 20
	// secretReadConcurrency bounds the GetSecretValue calls one Mount makes
	// at once in one region.
	secretReadConcurrency = 8
)

// batchable reports whether a Secrets Manager lookup can be read with
// BatchGetSecretValue, which returns only the AWSCURRENT version: objects
// pinned to a VersionId or another stage keep GetSecretValue.
func (l lookup) batchable() bool {
	return l.version == "" && (l.versionLabel == "" || l.versionLabel == "AWSCURRENT")
}

// secretResult is the outcome of reading one secret id.
type secretResult struct {
	value Value
	err   error
}

// readSecrets reads the Secrets Manager lookups at positions idx of lookups,
// filling values and errs and the cache. Current versions go in batches of
// up to 20 (one call for a whole class in the common case), unless this
// identity was refused BatchGetSecretValue; pinned versions and stages use
// GetSecretValue. Concurrent identical reads share one call.
func (f *Fetcher) readSecrets(ctx context.Context, scope, region string, creds aws.CredentialsProvider, lookups []lookup, idx []int, values []Value, errs []error) {
	if len(idx) == 0 {
		return
	}
	api := f.secrets(region)
	var batch, single []int
	noBatch := f.noBatch.contains(scope + "\x00" + region)
	for _, j := range idx {
		if !noBatch && lookups[j].batchable() {
			batch = append(batch, j)
		} else {
			single = append(single, j)
		}
	}

	if len(batch) > 0 {
		byID := map[string][]int{}
		var ids []string
		for _, j := range batch {
			id := lookups[j].name
			if _, seen := byID[id]; !seen {
				ids = append(ids, id)
			}
			byID[id] = append(byID[id], j)
		}
		sort.Strings(ids) // the same set shares one call whatever the class's order
		for start := 0; start < len(ids); start += secretsPerBatch {
			chunk := ids[start:min(start+secretsPerBatch, len(ids))]
			key := "smbatch\x00" + scope + "\x00" + region + "\x00" + strings.Join(chunk, "\x00")
			results, err := shared(ctx, f, key, func(ctx context.Context) (map[string]secretResult, error) {
				// A caller that missed the cache just before the previous
				// flight stored its answer finds it here, not in AWS.
				if cached, ok := f.cachedSecrets(scope, region, chunk); ok {
					return cached, nil
				}
				readAt := f.opts.Clock()
				res, err := batchGetSecrets(ctx, api, creds, chunk)
				for id, r := range res {
					if r.err == nil {
						f.cache.put(cacheKey(scope, region, lookup{typ: SecretsManager, name: id}), r.value, false, readAt)
					}
				}
				return res, err
			})
			if failure.IsClientFault(err) {
				if isAccessDenied(err) {
					// The role lacks secretsmanager:BatchGetSecretValue:
					// remember it for this identity.
					f.noBatch.add(scope+"\x00"+region, f.opts.BatchDeniedFor)
				}
				// Read these one by one, so each object gets its own answer
				// and its own error.
				for _, id := range chunk {
					single = append(single, byID[id]...)
				}
				continue
			}
			for _, id := range chunk {
				r, ok := results[id]
				if err != nil {
					r, ok = secretResult{err: err}, true
				}
				if !ok {
					// Not in the answer at all: ask for it alone.
					single = append(single, byID[id]...)
					continue
				}
				for _, j := range byID[id] {
					if r.err != nil {
						errs[j] = r.err
						continue
					}
					values[lookups[j].index] = r.value
				}
			}
		}
	}

	sem := make(chan struct{}, secretReadConcurrency)
	var wg sync.WaitGroup
	for _, j := range single {
		wg.Add(1)
		sem <- struct{}{}
		go func(j int) {
			defer func() { <-sem; wg.Done() }()
			l := lookups[j]
			key := cacheKey(scope, region, l)
			v, err := shared(ctx, f, "sm\x00"+key, func(ctx context.Context) (Value, error) {
				if v, ok := f.cache.get(key); ok {
					return v, nil
				}
				readAt := f.opts.Clock()
				v, err := getSecret(ctx, api, creds, l)
				if err == nil {
					f.cache.put(key, v, l.pinned(), readAt)
				}
				return v, err
			})
			if err != nil {
				errs[j] = err
				return
			}
			values[l.index] = v
		}(j)
	}
	wg.Wait()
}

// cachedSecrets returns the cached current values of ids, if all are cached.
func (f *Fetcher) cachedSecrets(scope, region string, ids []string) (map[string]secretResult, bool) {
	out := make(map[string]secretResult, len(ids))
	for _, id := range ids {
		v, ok := f.cache.get(cacheKey(scope, region, lookup{typ: SecretsManager, name: id}))
		if !ok {
			return nil, false
		}
		out[id] = secretResult{value: v}
	}
	return out, true
}

// getSecret reads one secret with GetSecretValue.
func getSecret(ctx context.Context, api SecretsManagerAPI, creds aws.CredentialsProvider, l lookup) (Value, error) {
	in := &secretsmanager.GetSecretValueInput{SecretId: aws.String(l.name)}
	if l.version != "" {
		in.VersionId = aws.String(l.version)
	}
	if l.versionLabel != "" {
		in.VersionStage = aws.String(l.versionLabel)
	}
	out, err := api.GetSecretValue(ctx, in, func(o *secretsmanager.Options) { o.Credentials = creds })
	if err != nil {
		return Value{}, err
	}
	return secretValue(out.SecretString, out.SecretBinary, out.VersionId)
}

// batchGetSecrets reads the current versions of ids in one
// BatchGetSecretValue call (following NextToken). Each answer is matched to
// the id as asked: a name, a full ARN or a partial ARN (without the random
// suffix). Per-secret errors become modelled AWS errors, so they are
// classified (and failed over) exactly like the same error from
// GetSecretValue. An error for the whole call is returned as is.
func batchGetSecrets(ctx context.Context, api SecretsManagerAPI, creds aws.CredentialsProvider, ids []string) (map[string]secretResult, error) {
	out := map[string]secretResult{}
	in := &secretsmanager.BatchGetSecretValueInput{SecretIdList: ids}
	for {
		page, err := api.BatchGetSecretValue(ctx, in, func(o *secretsmanager.Options) { o.Credentials = creds })
		if err != nil {
			return nil, err
		}
		for _, e := range page.SecretValues {
			v, verr := secretValue(e.SecretString, e.SecretBinary, e.VersionId)
			for _, id := range ids {
				if secretMatches(id, aws.ToString(e.Name), aws.ToString(e.ARN)) {
					out[id] = secretResult{value: v, err: verr}
				}
			}
		}
		for _, e := range page.Errors {
			code := aws.ToString(e.ErrorCode)
			fault := smithy.FaultClient
			if code == "InternalServiceError" || code == "InternalFailure" || code == "ServiceUnavailable" {
				fault = smithy.FaultServer
			}
			res := secretResult{err: apiError(code, aws.ToString(e.Message), fault)}
			sid := aws.ToString(e.SecretId)
			for _, id := range ids {
				if id == sid || secretMatches(id, sid, sid) {
					out[id] = res
				}
			}
		}
		if aws.ToString(page.NextToken) == "" {
			return out, nil
		}
		in.NextToken = page.NextToken
	}
}

// secretMatches reports whether id (name, full ARN or partial ARN) names
// the secret with this name and ARN.
func secretMatches(id, name, arn string) bool {
	if id == name || id == arn {
		return true
	}
	// A partial ARN lacks the "-XXXXXX" suffix AWS appends to the name.
	return strings.HasPrefix(id, "arn:") && strings.HasPrefix(arn, id+"-") && len(arn) == len(id)+7
}

// isAccessDenied reports an AWS access denial for the whole call.
func isAccessDenied(err error) bool {
	var api smithy.APIError
	return errors.As(err, &api) && (api.ErrorCode() == "AccessDeniedException" || api.ErrorCode() == "AccessDenied")
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
