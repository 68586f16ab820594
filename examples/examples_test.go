// Package examples holds SecretProviderClass manifests users copy. This test
// keeps them honest: every class must parse with the provider's own parser
// and yield the files its comments promise, and every other manifest must be
// a valid Kubernetes object.
package examples_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"

	yaml "go.yaml.in/yaml/v3"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime/serializer/json"
	"k8s.io/client-go/kubernetes/scheme"

	"github.com/csi-provider-aws/csi-provider-aws/auth"
	spclass "github.com/csi-provider-aws/csi-provider-aws/class"
	"github.com/csi-provider-aws/csi-provider-aws/provider"
)

// driverPermission is the file mode the driver sends when a volume sets
// none (420 = 0644).
const driverPermission = 0o644

// nodeRegion stands in for the node label when a class names no region, so
// that ARN regions are still checked.
const nodeRegion = "us-west-2"

// wantFiles is what each class mounts: "path mode", sorted. A class missing
// here, or here but gone from the examples, fails the test.
var wantFiles = map[string][]string{
	"secretproviderclass.yaml/aws-secrets": {"MySecret 0644", "_myapp_config_url 0644"},
	"irsa.yaml/payments-api-secrets":       {"db-password 0400", "stripe-key 0644"},
	"pod-identity.yaml/checkout-secrets":   {"checkout-api-token 0644", "currency 0644"},
	"ssm.yaml/app-parameters": {
		"_app_log-level 0644", "allowed-origins 0644", "db-password 0400", "db-password-stable 0644",
		"db-password-v3 0644", "feature-flags 0644",
	},
	"ssm.yaml/app-parameters-nested": {"app/config/endpoint 0644", "app/config/timeout 0644"},
	"jmespath.yaml/orders-db": {
		"db-host 0440", "db-password 0400", "db-port 0440", "db-replica-host 0440", "db-username 0440",
		"orders-db.json 0440",
	},
	"failover.yaml/api-secrets-failover": {"api-token 0644", "signing-key 0644"},
	"json-keys.yaml/payments-config": {
		"api-host 0400", "api_url 0440", "config.json 0440", "flags_fast-path 0440", "retry 0440", "timeout_ms 0440",
	},
	"encoding.yaml/payments-keys":               {"ca.pem 0644", "client.key 0400", "hmac.key 0400", "keystore.jks 0644", "tls.json 0644"},
	"optional.yaml/payments-optional":           {"db-password 0644"},
	"cross-account.yaml/payments-cross-account": {"shared-db-password 0644"},
	"listing.yaml/payments-by-prefix": {
		"config/limits_daily 0644", "config/timeout 0644", "payments/db 0644", "payments/stripe_key 0644",
	},
	"listing.yaml/search-tree":                   {"es/tls/ca 0644", "es/user 0644", "secrets/db/password 0644", "secrets/db/user 0644"},
	"demo/secretproviderclass.yaml/demo-secrets": {"api-key 0644", "db-password 0400", "db-username 0644", "demo_db-credentials 0644"},
}

// exampleValues are the values the comments of the classes whose files
// depend on them give, by object (nil: the object does not exist). Their
// files are built from these, as a Mount would build them.
var exampleValues = map[string][]*string{
	"json-keys.yaml/payments-config": {str(`{"api_url":"https://pay.internal","timeout_ms":2500,"retry":{"max":3,"backoff":"exp"},"flags/fast-path":true}`)},
	"encoding.yaml/payments-keys": {
		str(base64.StdEncoding.EncodeToString([]byte{0xfe, 0xed, 0xfe, 0xed, 0, 0, 0, 2})),
		str(`{"ca":"` + base64.StdEncoding.EncodeToString([]byte("-----BEGIN CERTIFICATE-----")) + `","client_key":"` +
			base64.StdEncoding.EncodeToString([]byte("-----BEGIN PRIVATE KEY-----")) + `"}`),
		str("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"),
	},
	"optional.yaml/payments-optional": {str("s3cr3t"), nil, nil},
	"listing.yaml/payments-by-prefix": {nil, nil},
	"listing.yaml/search-tree":        {nil, nil},
}

// exampleMembers are what the listings of those classes match, by object:
// the names the comments give (AWS's tag filtering is not repeated here).
var exampleMembers = map[string][][]provider.Member{
	"listing.yaml/payments-by-prefix": {
		{{Name: "prod/payments/db", Data: []byte("d")}, {Name: "prod/payments/stripe/key", Data: []byte("k")}},
		{{Name: "/prod/payments/config/timeout", Data: []byte("5")}, {Name: "/prod/payments/config/limits/daily", Data: []byte("9")}},
	},
	"listing.yaml/search-tree": {
		{{Name: "/prod/search/es/user", Data: []byte("u")}, {Name: "/prod/search/es/tls/ca", Data: []byte("c")}},
		{{Name: "prod/search/db", Data: []byte(`{"user":"search","password":"p"}`)}},
	},
}

// wantContents are files of those classes whose contents the comments say.
var wantContents = map[string]map[string]string{
	"json-keys.yaml/payments-config": {"api_url": "https://pay.internal", "timeout_ms": "2500",
		"retry": `{"backoff":"exp","max":3}`, "flags_fast-path": "true", "api-host": "pay.internal"},
	"encoding.yaml/payments-keys": {"ca.pem": "-----BEGIN CERTIFICATE-----", "client.key": "-----BEGIN PRIVATE KEY-----",
		"keystore.jks": "\xfe\xed\xfe\xed\x00\x00\x00\x02"},
}

func str(s string) *string { return &s }

// builtFiles builds the files of the class key from exampleValues, and
// checks the contents wantContents gives; "path mode" each.
func builtFiles(t *testing.T, key string, parsed *spclass.Class) []string {
	t.Helper()
	values := make([]provider.Value, len(exampleValues[key]))
	for i, v := range exampleValues[key] {
		if parsed.Objects[i].Listing != nil {
			values[i] = provider.Value{Members: exampleMembers[key][i]}
			continue
		}
		if v == nil {
			values[i] = provider.Value{Missing: true}
		} else {
			values[i] = provider.Value{Data: []byte(*v), Version: "v1"}
		}
	}
	files, err := provider.BuildFiles(parsed, values, 0)
	if err != nil {
		t.Fatalf("BuildFiles over the values the comment gives: %v", err)
	}
	var got []string
	for _, f := range files {
		got = append(got, fmt.Sprintf("%s %04o", f.Path, f.Mode))
		if want, ok := wantContents[key][f.Path]; ok && string(f.Contents) != want {
			t.Errorf("file %s = %q, want %q", f.Path, f.Contents, want)
		}
	}
	return got
}

// class is the part of a SecretProviderClass the provider sees.
type class struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name string `yaml:"name"`
	} `yaml:"metadata"`
	Spec struct {
		Provider   string    `yaml:"provider"`
		Parameters yaml.Node `yaml:"parameters"`
	} `yaml:"spec"`
}

// document is one YAML document of an example file.
type document struct {
	file string
	raw  []byte
	node yaml.Node
}

func documents(t *testing.T) []document {
	t.Helper()
	var docs []document
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || (filepath.Ext(path) != ".yaml" && filepath.Ext(path) != ".yml") {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		dec := yaml.NewDecoder(bytes.NewReader(b))
		for {
			var n yaml.Node
			if err := dec.Decode(&n); err != nil {
				if errors.Is(err, io.EOF) {
					break
				}
				return fmt.Errorf("%s: %w", path, err)
			}
			raw, err := yaml.Marshal(&n)
			if err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			docs = append(docs, document{file: filepath.ToSlash(path), raw: raw, node: n})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return docs
}

func TestEveryExampleClassParsesAndMountsTheFilesItDocuments(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for _, doc := range documents(t) {
		var c class
		if err := doc.node.Decode(&c); err != nil {
			t.Errorf("%s: %v", doc.file, err)
			continue
		}
		if c.Kind != "SecretProviderClass" {
			continue
		}
		key := doc.file + "/" + c.Metadata.Name
		seen[key] = true
		t.Run(key+" is a valid class that mounts the files its comment lists", func(t *testing.T) {
			t.Parallel()
			if c.APIVersion != "secrets-store.csi.x-k8s.io/v1" || c.Spec.Provider != "aws" {
				t.Errorf("apiVersion %q provider %q, want secrets-store.csi.x-k8s.io/v1 and aws", c.APIVersion, c.Spec.Provider)
			}
			params := parameters(t, &c.Spec.Parameters)
			parsed, err := spclass.Parse(params, driverPermission, spclass.Catalog{Services: provider.Services(), Modes: auth.Modes()})
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			region := parsed.Region
			if region == "" {
				region = nodeRegion
			}
			if err := parsed.CheckRegion(region); err != nil {
				t.Fatalf("CheckRegion(%s): %v", region, err)
			}
			var got []string
			for _, o := range parsed.Objects {
				got = append(got, fmt.Sprintf("%s %04o", o.FileName, o.Mode))
				for _, j := range o.JMESPath {
					got = append(got, fmt.Sprintf("%s %04o", j.FileName, j.Mode))
				}
			}
			if _, ok := exampleValues[key]; ok {
				got = builtFiles(t, key, parsed)
			}
			slices.Sort(got)
			want, ok := wantFiles[key]
			if !ok {
				t.Fatalf("files %q: add the class to wantFiles", got)
			}
			if !slices.Equal(got, want) {
				t.Errorf("files = %q\nwant    %q", got, want)
			}
		})
	}
	for key := range wantFiles {
		if !seen[key] {
			t.Errorf("wantFiles lists %s, which no example defines", key)
		}
	}
}

// parameters checks that spec.parameters is a map of strings, as the
// SecretProviderClass CRD requires (an unquoted true or 0600 is refused by
// the API server), and returns it.
func parameters(t *testing.T, n *yaml.Node) map[string]string {
	t.Helper()
	if n.Kind != yaml.MappingNode {
		t.Fatalf("spec.parameters is not a mapping")
	}
	out := map[string]string{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if v.Kind != yaml.ScalarNode || v.Tag != "!!str" {
			t.Errorf("spec.parameters.%s is %s %q; quote it: parameters are strings", k.Value, v.Tag, v.Value)
			continue
		}
		out[k.Value] = v.Value
	}
	return out
}

func TestEveryOtherExampleManifestIsAValidKubernetesObject(t *testing.T) {
	t.Parallel()
	strict := json.NewSerializerWithOptions(json.DefaultMetaFactory, scheme.Scheme, scheme.Scheme,
		json.SerializerOptions{Yaml: true, Strict: true})
	docs := documents(t)
	classes := map[string]bool{} // file/name
	for _, doc := range docs {
		var c class
		if doc.node.Decode(&c) == nil && c.Kind == "SecretProviderClass" {
			classes[doc.file+"/"+c.Metadata.Name] = true
		}
	}
	for _, doc := range docs {
		var head struct{ Kind string }
		_ = doc.node.Decode(&head)
		if head.Kind == "SecretProviderClass" || head.Kind == "" {
			continue
		}
		t.Run(doc.file+" "+head.Kind+" decodes strictly and mounts a class of its file", func(t *testing.T) {
			t.Parallel()
			obj, _, err := strict.Decode(doc.raw, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			pod, ok := obj.(*corev1.Pod)
			if !ok {
				return
			}
			for _, v := range pod.Spec.Volumes {
				if v.CSI == nil || v.CSI.Driver != "secrets-store.csi.k8s.io" {
					continue
				}
				if name := v.CSI.VolumeAttributes["secretProviderClass"]; !classes[doc.file+"/"+name] {
					t.Errorf("volume %s mounts secretProviderClass %q, which %s does not define", v.Name, name, doc.file)
				}
			}
		})
	}
}
