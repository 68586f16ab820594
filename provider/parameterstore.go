package provider

import (
	"context"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/smithy-go"
)

// parametersPerCall is SSM GetParameters' limit on names per call.
const parametersPerCall = 10

// selector is how GetParameters names one parameter: `name`, `name:version`
// or `name:label`.
func (l lookup) selector() string {
	switch {
	case l.version != "":
		return l.name + ":" + l.version
	case l.versionLabel != "":
		return l.name + ":" + l.versionLabel
	}
	return l.name
}

// readParameters reads the SSM lookups at positions idx of lookups in
// batches of ten (SecureString decrypted), filling values and errs. The same
// selector asked twice is sent once.
func (f *Fetcher) readParameters(ctx context.Context, scope, region string, creds aws.CredentialsProvider, lookups []lookup, idx []int, values []Value, errs []error) {
	if len(idx) == 0 {
		return
	}
	api := f.parameters(region)
	withCreds := func(o *ssm.Options) { o.Credentials = creds }
	bySelector := map[string][]int{} // selector -> positions in lookups
	var order []string
	for _, j := range idx {
		s := lookups[j].selector()
		if _, seen := bySelector[s]; !seen {
			order = append(order, s)
		}
		bySelector[s] = append(bySelector[s], j)
	}
	sort.Strings(order) // the same set shares one call whatever the class's order
	for start := 0; start < len(order); start += parametersPerCall {
		batch := order[start:min(start+parametersPerCall, len(order))]
		key := "ssm\x00" + scope + "\x00" + region + "\x00" + strings.Join(batch, "\x00")
		found, err := shared(ctx, f, key, func(ctx context.Context) (map[string]Value, error) {
			cached := map[string]Value{}
			for _, sel := range batch {
				l := lookups[bySelector[sel][0]]
				if v, ok := f.cache.get(cacheKey(scope, region, l)); ok {
					cached[sel] = v
				}
			}
			if len(cached) == len(batch) {
				return cached, nil // stored by the flight that just ended
			}
			readAt := f.opts.Clock()
			out, err := api.GetParameters(ctx, &ssm.GetParametersInput{Names: batch, WithDecryption: aws.Bool(true)}, withCreds)
			if err != nil {
				return nil, err
			}
			found := matchParameters(batch, out.Parameters)
			for sel, v := range found {
				l := lookups[bySelector[sel][0]]
				f.cache.put(cacheKey(scope, region, l), v, l.pinned(), readAt)
			}
			return found, nil
		})
		if err != nil {
			for _, s := range batch {
				for _, j := range bySelector[s] {
					errs[j] = err
				}
			}
			continue
		}
		for sel, v := range found {
			for _, j := range bySelector[sel] {
				values[lookups[j].index] = v
			}
		}
		for _, s := range batch {
			if _, ok := found[s]; ok {
				continue
			}
			err := apiError("ParameterNotFound", "SSM has no parameter (or no such version or label) "+strconv.Quote(s), smithy.FaultClient)
			for _, j := range bySelector[s] {
				errs[j] = err
			}
		}
	}
}

// matchParameters maps each selector of a GetParameters call to its value.
// AWS echoes the name (or ARN) as asked plus the Selector (":3", ":label"),
// which identifies each answer exactly. Some emulators omit the Selector;
// for those answers a version selector takes the answer with that version, a
// plain name the newest answer, and a label an answer no other selector took.
func matchParameters(batch []string, params []types.Parameter) map[string]Value {
	found := map[string]Value{}
	var loose []types.Parameter
	for _, p := range params {
		v := Value{Data: []byte(aws.ToString(p.Value)), Version: strconv.FormatInt(p.Version, 10)}
		if sel := aws.ToString(p.Selector); sel != "" {
			for _, key := range []string{aws.ToString(p.Name) + sel, aws.ToString(p.ARN) + sel} {
				if slices.Contains(batch, key) {
					found[key] = v
				}
			}
			continue
		}
		loose = append(loose, p)
	}
	used := make([]bool, len(loose))
	pick := func(sel string, ok func(types.Parameter) bool, best func(a, b types.Parameter) bool) {
		k := -1
		for i, p := range loose {
			if ok(p) && (k < 0 || best(p, loose[k])) {
				k = i
			}
		}
		if k >= 0 {
			used[k] = true
			p := loose[k]
			found[sel] = Value{Data: []byte(aws.ToString(p.Value)), Version: strconv.FormatInt(p.Version, 10)}
		}
	}
	var labels []string
	for _, sel := range batch {
		if _, ok := found[sel]; ok {
			continue
		}
		name, qual := splitSelector(sel)
		same := func(p types.Parameter) bool { return aws.ToString(p.Name) == name || aws.ToString(p.ARN) == name }
		switch {
		case qual == "":
			pick(sel, same, func(a, b types.Parameter) bool { return a.Version > b.Version })
		case isDigits(qual):
			pick(sel, func(p types.Parameter) bool { return same(p) && strconv.FormatInt(p.Version, 10) == qual },
				func(a, b types.Parameter) bool { return false })
		default:
			labels = append(labels, sel)
		}
	}
	for _, sel := range labels {
		name, _ := splitSelector(sel)
		for i, p := range loose {
			if !used[i] && (aws.ToString(p.Name) == name || aws.ToString(p.ARN) == name) {
				used[i] = true
				found[sel] = Value{Data: []byte(aws.ToString(p.Value)), Version: strconv.FormatInt(p.Version, 10)}
				break
			}
		}
	}
	return found
}

// splitSelector splits "name:qualifier"; SSM names cannot contain ":" except
// in an ARN, whose parameter part follows "parameter/".
func splitSelector(sel string) (name, qual string) {
	tail := sel
	if i := strings.LastIndex(sel, "parameter/"); strings.HasPrefix(sel, "arn:") && i >= 0 {
		tail = sel[i:]
	}
	if i := strings.LastIndex(tail, ":"); i >= 0 {
		cut := len(sel) - len(tail) + i
		return sel[:cut], sel[cut+1:]
	}
	return sel, ""
}

func isDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}
