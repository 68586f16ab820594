package testkit

import "strings"

// YAMLLines joins YAML lines, so tables can show indentation plainly.
func YAMLLines(l ...string) string { return strings.Join(l, "\n") + "\n" }

// ClassAttributes builds Mount attributes the way the driver does: a
// class's parameters (objects, then key, value, ...) plus keys the
// driver adds, which parsing must ignore.
func ClassAttributes(objects string, kv ...string) map[string]string {
	p := map[string]string{
		"objects":                                objects,
		"secretProviderClass":                    "app-secrets",
		"csi.storage.k8s.io/pod.name":            "app-0",
		"csi.storage.k8s.io/pod.namespace":       "default",
		"csi.storage.k8s.io/serviceAccount.name": "app",
		"csi.storage.k8s.io/ephemeral":           "false",
	}
	for i := 0; i+1 < len(kv); i += 2 {
		p[kv[i]] = kv[i+1]
	}
	return p
}
