package validate

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	sigsjson "sigs.k8s.io/json"
	secretsstore "sigs.k8s.io/secrets-store-csi-driver/apis/v1"
	"sigs.k8s.io/yaml"

	"github.com/csi-provider-aws/csi-provider-aws/class"
)

// The SecretProviderClass kind, its API group and this provider's name.
const (
	kindClass = "SecretProviderClass"
	apiGroup  = "secrets-store.csi.x-k8s.io"
	provider  = "aws"
)

// driverPermission is the file mode the driver sends in every Mount when
// the volume sets none (its default `permission`, 420): the mode of each
// file whose object sets no filePermission.
const driverPermission = 0o644

// validator checks manifests with the daemon's catalog and reports what it
// finds.
type validator struct {
	catalog class.Catalog
	// params are the parameter names the parser reads.
	params []string
	r      *report
}

// head is what every Kubernetes object says of itself, and a List's items.
type head struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
	} `json:"metadata"`
	Items []json.RawMessage `json:"items"`
}

// who names an object in the report: namespace/name, the name alone when
// the manifest leaves the namespace to kubectl, else where it is.
func (h head) who(where string) string {
	switch {
	case h.Metadata.Name == "":
		return where
	case h.Metadata.Namespace == "":
		return h.Metadata.Name
	}
	return h.Metadata.Namespace + "/" + h.Metadata.Name
}

// document checks one YAML document: a SecretProviderClass, a List of
// objects (kubectl get -o yaml), or another kind, which is skipped.
func (v *validator) document(file string, d document) {
	data, err := yaml.YAMLToJSONStrict(d.data)
	if err != nil {
		// Named, when YAML without the strict checks (duplicate keys) can.
		who := d.name()
		var h head
		if lenient, lerr := yaml.YAMLToJSON(d.data); lerr == nil && json.Unmarshal(lenient, &h) == nil {
			who = h.who(who)
		}
		v.r.invalid++
		v.r.problem(file, who, "not valid YAML: "+inputLines(d, err.Error()))
		return
	}
	v.object(file, d.name(), data)
}

// object checks one object of a document, where names its place.
func (v *validator) object(file, where string, data []byte) {
	var h head
	if err := json.Unmarshal(data, &h); err != nil || h.Kind == "" {
		v.r.invalid++
		v.r.problem(file, where, "not a Kubernetes object: a manifest is a YAML mapping with apiVersion, kind and metadata")
		return
	}
	switch {
	case h.Kind == kindClass:
		v.class(file, h.who(where), h, data)
	case strings.HasSuffix(h.Kind, "List"):
		for i, item := range h.Items {
			v.object(file, fmt.Sprintf("%s items[%d]", where, i), item)
		}
	default:
		v.r.note(file, h.who(where), fmt.Sprintf("skipped: a %s, not a %s", h.Kind, kindClass))
	}
}

// class checks one SecretProviderClass: the object as the API server
// would decode it, then its parameters as a Mount parses them.
func (v *validator) class(file, who string, h head, data []byte) {
	if group, _, _ := strings.Cut(h.APIVersion, "/"); group != apiGroup {
		v.r.invalid++
		v.r.problem(file, who, fmt.Sprintf("apiVersion %q is not the driver's; use %s/v1", h.APIVersion, apiGroup))
		return
	}
	if bad := notStrings(data); len(bad) > 0 {
		v.r.invalid++
		for _, b := range bad {
			v.r.problem(file, who, b)
		}
		return
	}
	var spc secretsstore.SecretProviderClass
	strictErrs, err := sigsjson.UnmarshalStrict(data, &spc, sigsjson.DisallowUnknownFields)
	if err != nil {
		v.r.invalid++
		v.r.problem(file, who, "the API server would refuse it: "+err.Error())
		return
	}
	if p := string(spc.Spec.Provider); p != provider {
		if p == "" {
			v.r.invalid++
			v.r.problem(file, who, "spec.provider is empty; set it to aws")
			return
		}
		v.r.note(file, who, fmt.Sprintf("skipped: spec.provider is %q, not %s", p, provider))
		return
	}
	v.r.classes++
	problems := make([]string, 0, len(strictErrs)+1)
	for _, e := range strictErrs {
		problems = append(problems, "the API server would refuse it: "+e.Error())
	}
	if spc.Name == "" {
		problems = append(problems, "metadata.name is empty")
	}
	c, err := class.Parse(spc.Spec.Parameters, driverPermission, v.catalog)
	if err != nil {
		problems = append(problems, err.Error())
	}
	for _, p := range problems {
		v.r.problem(file, who, p)
	}
	if len(problems) > 0 {
		v.r.invalid++
		return
	}
	v.warn(file, who, c, spc.Spec.Parameters)
}

// notStrings names each of spec.parameters that is not a string, which the
// API server refuses (an unquoted true, 0640 or 3 in YAML).
func notStrings(data []byte) []string {
	var raw struct {
		Spec struct {
			Parameters map[string]any `json:"parameters"`
		} `json:"spec"`
	}
	if json.Unmarshal(data, &raw) != nil {
		return nil
	}
	var out []string
	for _, k := range slices.Sorted(maps.Keys(raw.Spec.Parameters)) {
		var what string
		switch raw.Spec.Parameters[k].(type) {
		case string, nil:
			continue
		case bool:
			what = "a boolean"
		case float64:
			what = "a number"
		case []any:
			what = "a list"
		default:
			what = "a mapping"
		}
		out = append(out, fmt.Sprintf("spec.parameters.%s is %s, which the API server refuses: parameters are strings; quote the value", k, what))
	}
	return out
}
