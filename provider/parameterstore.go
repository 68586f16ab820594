package provider

import (
	"context"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/smithy-go"

	"github.com/csi-provider-aws/csi-provider-aws/class"
)

// ParameterStore is the objectType of SSM parameters.
const ParameterStore class.ObjectType = "ssmparameter"

// parameterStore is the services table's row for SSM Parameter Store:
// parameters are read with GetParameters, ten at a time, by name, version
// or label, never both. No version pins a value: a parameter deleted and
// created again restarts its versions.
var parameterStore = &service{
	objectType: ParameterStore,
	arn:        class.ARNForm{Service: "ssm", Resource: "parameter/", Title: "SSM", Names: "a parameter"},
	versions: class.VersionRules{
		VersionOrLabel: true,
		ValidVersion: func(v string) bool {
			_, err := strconv.ParseUint(v, 10, 63)
			return err == nil
		},
		VersionForm: `an SSM parameter version number such as "3"`,
	},
	noun:           "SSM parameter",
	permission:     "ssm:GetParameters, and kms:Decrypt for SecureString",
	read:           (*regionRead).readParameters,
	list:           parametersListForm,
	listPermission: "ssm:GetParametersByPath on the path, and kms:Decrypt for SecureString",
	readList:       listParameters,
}

// ParameterStoreAPI is the part of the SSM client the daemon uses.
type ParameterStoreAPI interface {
	GetParameters(ctx context.Context, in *ssm.GetParametersInput, optFns ...func(*ssm.Options)) (*ssm.GetParametersOutput, error)
	GetParametersByPath(ctx context.Context, in *ssm.GetParametersByPathInput, optFns ...func(*ssm.Options)) (*ssm.GetParametersByPathOutput, error)
}

// ParameterStore returns the SSM client for region.
func (c *Clients) ParameterStore(region string) ParameterStoreAPI {
	return perRegion(c, "ssm", region, func() ParameterStoreAPI {
		return ssm.NewFromConfig(c.base, func(o *ssm.Options) { o.Region = region })
	})
}

// parametersPerCall is SSM GetParameters' limit on names per call.
const parametersPerCall = 10

// selector is how GetParameters names one parameter: `name`, `name:version`
// or `name:label`.
func (l objectRead) selector() string {
	switch {
	case l.version != "":
		return l.name + ":" + l.version
	case l.versionLabel != "":
		return l.name + ":" + l.versionLabel
	}
	return l.name
}

// readParameters reads the SSM parameters at positions idx in batches of ten
// (SecureString decrypted), filling values and errs. The same selector asked
// twice is sent once. No SSM value is pinned: a parameter deleted and
// created again restarts its versions, so "version 3" can change.
func (r *regionRead) readParameters(ctx context.Context, idx []int) {
	if len(idx) == 0 {
		return
	}
	bySelector := map[string][]int{} // selector -> positions in reads
	var order []string
	for _, j := range idx {
		s := r.reads[j].selector()
		if _, seen := bySelector[s]; !seen {
			order = append(order, s)
		}
		bySelector[s] = append(bySelector[s], j)
	}
	sort.Strings(order) // the same set shares one call whatever the class's order
	for start := 0; start < len(order); start += parametersPerCall {
		batch := order[start:min(start+parametersPerCall, len(order))]
		r.readParameterBatch(ctx, batch, bySelector)
	}
}

// readParameterBatch reads up to ten selectors in one shared GetParameters.
func (r *regionRead) readParameterBatch(ctx context.Context, batch []string, bySelector map[string][]int) {
	f := r.f
	api := f.clients.ParameterStore(r.region)
	keyOf := func(sel string) string { return r.key(bySelector[sel][0]) }
	var idx []int
	for _, sel := range batch {
		idx = append(idx, bySelector[sel]...)
	}
	lenient := r.allOptional(idx)
	key := "ssm\x00" + r.scope + "\x00" + r.region + "\x00" + strings.Join(batch, "\x00") + flightSuffix(lenient)
	found, err := joinFreshFlight(ctx, r, key, func(ctx context.Context, notBefore time.Time) (map[string]Value, time.Time, error) {
		cached := map[string]Value{}
		var oldest time.Time
		for _, sel := range batch {
			if v, at, ok := f.cache.get(keyOf(sel), notBefore, lenient); ok {
				cached[sel] = v
				if oldest.IsZero() || at.Before(oldest) {
					oldest = at
				}
			}
		}
		if len(cached) == len(batch) {
			return cached, oldest, nil // stored by the flight that just ended
		}
		readAt := f.opts.Clock()
		out, err := api.GetParameters(ctx, &ssm.GetParametersInput{Names: batch, WithDecryption: aws.Bool(true)},
			func(o *ssm.Options) { o.Credentials = r.creds })
		if err != nil {
			return nil, readAt, err
		}
		found := matchParameters(batch, out.Parameters)
		ws := make([]cacheWrite, 0, len(batch))
		for _, sel := range batch {
			v, ok := found[sel]
			if !ok {
				v = Value{Missing: true}
			}
			ws = append(ws, cacheWrite{key: keyOf(sel), value: v})
		}
		f.cache.putAll(ws, readAt)
		return found, readAt, nil
	})
	for _, s := range batch {
		v, ok := found[s]
		var e error
		switch {
		case err != nil:
			e = err
		case !ok:
			e = apiError("ParameterNotFound", "SSM has no parameter (or no such version or label) "+strconv.Quote(s), smithy.FaultClient)
		}
		for _, j := range bySelector[s] {
			if e != nil {
				r.errs[j] = e
			} else {
				r.values[r.reads[j].index] = v
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
