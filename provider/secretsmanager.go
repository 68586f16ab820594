package provider

import (
	"context"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/smithy-go"

	"github.com/csi-provider-aws/csi-provider-aws/class"
	"github.com/csi-provider-aws/csi-provider-aws/failure"
)

// SecretsManager is the objectType of Secrets Manager secrets.
const SecretsManager class.ObjectType = "secretsmanager"

// secretsManager is the services table's row for Secrets Manager: secrets
// are read with BatchGetSecretValue (current versions, twenty at a time) or
// GetSecretValue. A VersionId pins a value that never changes; the stage
// AWSCURRENT is the current version.
var secretsManager = &service{
	objectType:   SecretsManager,
	arn:          class.ARNForm{Service: "secretsmanager", Resource: "secret:", Title: "Secrets Manager", Names: "a secret"},
	noun:         "Secrets Manager secret",
	permission:   "secretsmanager:GetSecretValue, and kms:Decrypt for a customer-managed key",
	versionPins:  true,
	currentLabel: "AWSCURRENT",
	read:         (*regionRead).readSecrets,
	list:         secretsListForm,
	listPermission: "secretsmanager:BatchGetSecretValue, secretsmanager:ListSecrets and secretsmanager:GetSecretValue on the secrets, " +
		"and kms:Decrypt for a customer-managed key",
	readList: listSecrets,
}

// SecretsManagerAPI is the part of the Secrets Manager client the daemon uses.
type SecretsManagerAPI interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
	BatchGetSecretValue(ctx context.Context, in *secretsmanager.BatchGetSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.BatchGetSecretValueOutput, error)
	DescribeSecret(ctx context.Context, in *secretsmanager.DescribeSecretInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.DescribeSecretOutput, error)
	ListSecrets(ctx context.Context, in *secretsmanager.ListSecretsInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.ListSecretsOutput, error)
}

// SecretsManager returns the Secrets Manager client for region.
func (c *Clients) SecretsManager(region string) SecretsManagerAPI {
	return perRegion(c, "secretsmanager", region, func() SecretsManagerAPI {
		return secretsmanager.NewFromConfig(c.base, func(o *secretsmanager.Options) { o.Region = region })
	})
}

const (
	// secretsPerBatch is BatchGetSecretValue's limit of ids per call.
	secretsPerBatch = 20
	// secretReadConcurrency bounds the GetSecretValue calls one Mount makes
	// at once in one region.
	secretReadConcurrency = 8
)

// batchable reports whether a Secrets Manager read can be read with
// BatchGetSecretValue, which returns only the AWSCURRENT version: objects
// pinned to a VersionId or another stage keep GetSecretValue.
func (l objectRead) batchable() bool {
	return l.version == "" && (l.versionLabel == "" || l.versionLabel == "AWSCURRENT")
}

// secretResult is the outcome of reading one secret id.
type secretResult struct {
	value Value
	err   error
	at    time.Time // when AWS confirmed it
}

// readSecrets reads the Secrets Manager secrets at positions idx, filling
// values and errs and the cache. Current versions go in batches of up to 20
// (one call for a whole class in the common case), unless this identity was
// refused BatchGetSecretValue; a pinned VersionId already in the cache only
// needs this identity's access confirmed, which the same batched read of
// the secret does; other versions and stages use GetSecretValue.
// Concurrent identical reads share one call.
func (r *regionRead) readSecrets(ctx context.Context, idx []int) {
	if len(idx) == 0 {
		return
	}
	api := r.f.clients.SecretsManager(r.region)
	noBatch := r.f.noBatch.contains(r.scope + "\x00" + r.region)
	byID := map[string][]int{}
	var ids []string
	var single []int
	for _, j := range idx {
		l := r.reads[j]
		if noBatch || !(l.batchable() || (l.pinned() && r.held[j])) {
			single = append(single, j)
			continue
		}
		if _, seen := byID[l.name]; !seen {
			ids = append(ids, l.name)
		}
		byID[l.name] = append(byID[l.name], j)
	}
	sort.Strings(ids) // the same set shares one call whatever the class's order
	for start := 0; start < len(ids); start += secretsPerBatch {
		chunk := ids[start:min(start+secretsPerBatch, len(ids))]
		single = append(single, r.readBatch(ctx, api, chunk, byID)...)
	}
	r.readSingles(ctx, api, single)
}

// readBatch reads the current versions of chunk in one shared
// BatchGetSecretValue and applies the answer to the reads of each id: a
// current read takes the value, a pinned one takes the confirmation. It
// returns the reads that must be asked for one by one.
func (r *regionRead) readBatch(ctx context.Context, api SecretsManagerAPI, chunk []string, byID map[string][]int) (single []int) {
	f := r.f
	var idx []int
	for _, id := range chunk {
		idx = append(idx, byID[id]...)
	}
	lenient := r.allOptional(idx)
	key := "smbatch\x00" + r.scope + "\x00" + r.region + "\x00" + strings.Join(chunk, "\x00") + flightSuffix(lenient)
	results, err := joinFreshFlight(ctx, r, key, func(ctx context.Context, notBefore time.Time) (map[string]secretResult, time.Time, error) {
		// A caller that missed the cache just before the previous flight
		// stored its answer finds it here, not in AWS.
		if cached, at, ok := r.cachedSecrets(chunk, byID, notBefore, lenient); ok {
			return cached, at, nil
		}
		readAt := f.opts.Clock()
		res, err := batchGetSecrets(ctx, api, r.creds, chunk)
		var ws []cacheWrite
		for id, sr := range res {
			sr.at = readAt
			res[id] = sr
			switch {
			case sr.err == nil:
				ws = append(ws, cacheWrite{key: r.currentKey(id, byID), value: sr.value})
			case isAbsent(sr.err):
				ws = append(ws, cacheWrite{key: r.currentKey(id, byID), value: Value{Missing: true}})
			}
		}
		f.cache.putAll(ws, readAt)
		return res, readAt, err
	})
	if failure.IsClientFault(err) {
		if failure.IsAccessDenied(err) {
			// The role lacks secretsmanager:BatchGetSecretValue: remember
			// it for this identity.
			f.noBatch.add(r.scope+"\x00"+r.region, f.opts.BatchDeniedFor)
		}
		// Read these one by one, so each object gets its own answer and
		// its own error.
		for _, id := range chunk {
			single = append(single, byID[id]...)
		}
		return single
	}
	for _, id := range chunk {
		sr, ok := results[id]
		if err != nil {
			sr, ok = secretResult{err: err}, true
		}
		if !ok {
			// Not in the answer at all: ask for it alone.
			single = append(single, byID[id]...)
			continue
		}
		for _, j := range byID[id] {
			if r.applyBatch(j, sr) {
				single = append(single, j)
			}
		}
	}
	return single
}

// applyBatch applies a batched answer for a secret to read j, and reports
// whether j must be asked for alone instead.
func (r *regionRead) applyBatch(j int, sr secretResult) (askAlone bool) {
	l := r.reads[j]
	if !l.pinned() {
		if sr.err != nil {
			r.errs[j] = sr.err
		} else {
			r.values[l.index] = sr.value
		}
		return false
	}
	// A pinned VersionId held in the cache: reading the secret confirms
	// this identity may still read it. A refusal of the current version
	// is not the last word on the pinned one (an IAM condition may allow
	// only some versions): ask for the pinned version itself.
	switch {
	case sr.err == nil && sr.value.Missing:
		return true // the current version is gone: ask for the pinned one
	case sr.err == nil:
		v, ok := r.f.cache.confirm(r.key(j), sr.at)
		if !ok {
			return true // evicted meanwhile
		}
		r.values[l.index] = v
	case failure.IsClientFault(sr.err):
		return true
	default:
		r.errs[j] = sr.err
	}
	return false
}

// readSingles reads secrets one GetSecretValue each, a few at a time.
func (r *regionRead) readSingles(ctx context.Context, api SecretsManagerAPI, single []int) {
	f := r.f
	sem := make(chan struct{}, secretReadConcurrency)
	var wg sync.WaitGroup
	for _, j := range single {
		wg.Add(1)
		sem <- struct{}{}
		go func(j int) {
			defer func() { <-sem; wg.Done() }()
			l := r.reads[j]
			key := r.key(j)
			v, err := joinFreshFlight(ctx, r, "sm\x00"+key+flightSuffix(l.optional), func(ctx context.Context, notBefore time.Time) (Value, time.Time, error) {
				if v, at, ok := f.cache.get(key, notBefore, l.optional); ok {
					return v, at, nil
				}
				readAt := f.opts.Clock()
				v, err := getSecret(ctx, api, r.creds, l)
				switch {
				case err == nil:
					f.cache.put(key, v, l.pinned(), readAt)
				case isAbsent(err):
					f.cache.putAbsent(key, readAt)
				}
				return v, readAt, err
			})
			if err != nil {
				r.errs[j] = err
				return
			}
			r.values[l.index] = v
		}(j)
	}
	wg.Wait()
}

// currentKey is the cache key of the current version of secret id, read
// for the reads byID[id].
func (r *regionRead) currentKey(id string, byID map[string][]int) string {
	return cacheKey(r.scope, r.region, objectRead{svc: r.reads[byID[id][0]].svc, name: id})
}

// cachedSecrets returns the cached current values of ids if every one is
// fresh for notBefore, and the oldest of their confirmations; an absence
// counts only for a flight of optional reads alone (lenient).
func (r *regionRead) cachedSecrets(ids []string, byID map[string][]int, notBefore time.Time, lenient bool) (map[string]secretResult, time.Time, bool) {
	out := make(map[string]secretResult, len(ids))
	var oldest time.Time
	for _, id := range ids {
		v, at, ok := r.f.cache.get(r.currentKey(id, byID), notBefore, lenient)
		if !ok {
			return nil, time.Time{}, false
		}
		if oldest.IsZero() || at.Before(oldest) {
			oldest = at
		}
		out[id] = secretResult{value: v, at: at}
	}
	return out, oldest, true
}

// getSecret reads one secret with GetSecretValue.
func getSecret(ctx context.Context, api SecretsManagerAPI, creds aws.CredentialsProvider, l objectRead) (Value, error) {
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
			res := secretResult{err: batchError(e)}
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

// batchError is the modelled AWS error one secret's entry in a batched
// answer's Errors stands for.
func batchError(e smtypes.APIErrorType) error {
	code := aws.ToString(e.ErrorCode)
	fault := smithy.FaultClient
	if code == "InternalServiceError" || code == "InternalFailure" || code == "ServiceUnavailable" {
		fault = smithy.FaultServer
	}
	return apiError(code, aws.ToString(e.Message), fault)
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
