package provider

import (
	"context"
	"regexp"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/csi-provider-aws/csi-provider-aws/class"
)

// secretsListForm is how a class lists secrets: by name prefix
// (objectNamePrefix), narrowed by objectTags.
var secretsListForm = class.ListForm{Field: "objectNamePrefix", Check: checkSecretPrefix}

// secretNameChars are the characters of a secret name: a prefix with any
// other could match nothing.
var secretNameChars = regexp.MustCompile(`^[A-Za-z0-9/_+=.@-]+$`)

// checkSecretPrefix refuses a prefix no secret name can start with. A
// leading "!" would also turn AWS's filter into its negation: every secret
// NOT named so.
func checkSecretPrefix(p string) string {
	if !secretNameChars.MatchString(p) {
		return "holds a character no secret name has; secret names use letters, digits and /_+=.@-"
	}
	return ""
}

// filterValueChars are the characters AWS's Filter values accept
// (secretsmanager Filter.Values); a tag with others is matched by this
// daemon alone, after listing.
var filterValueChars = regexp.MustCompile(`^[A-Za-z0-9 :_@/+=.-]*$`)

// secretsPerListPage is ListSecrets' largest page.
const secretsPerListPage = 100

// listSecrets reads every secret whose name starts with the listing's
// prefix and which has every one of its tags, with the cheapest exact
// calls: without tags, BatchGetSecretValue with a name filter reads the set
// and its values twenty at a time. AWS's tag filters match keys and values
// independently (tag-key: team plus tag-value: payments passes a secret
// tagged team=search, owner=payments), so with tags the set is listed with
// ListSecrets, each secret's tags are checked as key=value pairs here, and
// the values of those that pass are read twenty at a time by ARN.
//
// AWS's name filter is a case-sensitive prefix match; each answer is
// checked again here all the same, so a looser emulator or a change of
// AWS's matching never mounts a secret outside the prefix.
func listSecrets(ctx context.Context, l listRead) ([]Member, error) {
	api := l.clients.SecretsManager(l.region)
	ms := &members{l: l, noun: "secrets"}
	if len(l.listing.Tags) > 0 {
		if err := listTaggedSecrets(ctx, api, ms); err != nil {
			return nil, err
		}
		return ms.done("ResourceNotFoundException")
	}
	in := &secretsmanager.BatchGetSecretValueInput{
		Filters:    []smtypes.Filter{{Key: smtypes.FilterNameStringTypeName, Values: []string{l.listing.Prefix}}},
		MaxResults: aws.Int32(secretsPerBatch),
	}
	for {
		page, err := api.BatchGetSecretValue(ctx, in, func(o *secretsmanager.Options) { o.Credentials = l.creds })
		if err != nil {
			return nil, err
		}
		if err := batchErrors(page.Errors); err != nil {
			return nil, err
		}
		for _, e := range page.SecretValues {
			if err := addSecret(ms, e); err != nil {
				return nil, err
			}
		}
		if aws.ToString(page.NextToken) == "" {
			return ms.done("ResourceNotFoundException")
		}
		in.NextToken = page.NextToken
	}
}

// addSecret adds one secret of a batched answer to the set, if its name
// starts with the prefix.
func addSecret(ms *members, e smtypes.SecretValueEntry) error {
	name := aws.ToString(e.Name)
	if !strings.HasPrefix(name, ms.l.listing.Prefix) {
		return nil
	}
	v, err := secretValue(e.SecretString, e.SecretBinary, e.VersionId)
	if err != nil {
		return err
	}
	return ms.add(Member{Name: name, Data: v.Data, Version: v.Version})
}

// batchErrors turns the first per-secret error of a batched answer into
// the modelled AWS error it stands for: one secret of the set that cannot
// be read fails the set, as one object that cannot be read fails a class.
// A secret deleted between the listing and the read is no error: it has
// left the set.
func batchErrors(errs []smtypes.APIErrorType) error {
	for _, e := range errs {
		if aws.ToString(e.ErrorCode) == "ResourceNotFoundException" {
			continue
		}
		return batchError(e)
	}
	return nil
}

// listTaggedSecrets lists the secrets under the prefix that carry every
// tag of the listing, then reads their values by ARN.
func listTaggedSecrets(ctx context.Context, api SecretsManagerAPI, ms *members) error {
	l := ms.l.listing
	in := &secretsmanager.ListSecretsInput{Filters: tagFilters(l), MaxResults: aws.Int32(secretsPerListPage)}
	var arns []string
	for {
		page, err := api.ListSecrets(ctx, in, func(o *secretsmanager.Options) { o.Credentials = ms.l.creds })
		if err != nil {
			return err
		}
		for _, s := range page.SecretList {
			if err := ms.scan(); err != nil {
				return err
			}
			if !strings.HasPrefix(aws.ToString(s.Name), l.Prefix) || !hasTags(s.Tags, l.Tags) {
				continue
			}
			if arns = append(arns, aws.ToString(s.ARN)); len(arns) > l.Max {
				return ms.tooMany(len(arns))
			}
		}
		if aws.ToString(page.NextToken) == "" {
			break
		}
		in.NextToken = page.NextToken
	}
	for start := 0; start < len(arns); start += secretsPerBatch {
		chunk := arns[start:min(start+secretsPerBatch, len(arns))]
		if err := readTagged(ctx, api, ms, chunk); err != nil {
			return err
		}
	}
	return nil
}

// readTagged reads the current values of the secrets chunk names (ARNs).
func readTagged(ctx context.Context, api SecretsManagerAPI, ms *members, chunk []string) error {
	out, err := api.BatchGetSecretValue(ctx, &secretsmanager.BatchGetSecretValueInput{SecretIdList: chunk},
		func(o *secretsmanager.Options) { o.Credentials = ms.l.creds })
	if err != nil {
		return err
	}
	if err := batchErrors(out.Errors); err != nil {
		return err
	}
	for _, e := range out.SecretValues {
		if err := addSecret(ms, e); err != nil {
			return err
		}
	}
	return nil
}

// tagFilters are the ListSecrets filters for a listing with tags: the
// name prefix and, when AWS's filters can express them, the first tag's
// key and value (the rest, and the pairing, are checked by hasTags).
func tagFilters(l *class.Listing) []smtypes.Filter {
	fs := []smtypes.Filter{{Key: smtypes.FilterNameStringTypeName, Values: []string{l.Prefix}}}
	t := l.Tags[0]
	if filterValueChars.MatchString(t.Key) && t.Key != "" {
		fs = append(fs, smtypes.Filter{Key: smtypes.FilterNameStringTypeTagKey, Values: []string{t.Key}})
	}
	if filterValueChars.MatchString(t.Value) && t.Value != "" {
		fs = append(fs, smtypes.Filter{Key: smtypes.FilterNameStringTypeTagValue, Values: []string{t.Value}})
	}
	return fs
}

// hasTags reports whether have carries every tag of want, key and value
// alike.
func hasTags(have []smtypes.Tag, want []class.Tag) bool {
	for _, w := range want {
		found := false
		for _, h := range have {
			if aws.ToString(h.Key) == w.Key && aws.ToString(h.Value) == w.Value {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}
