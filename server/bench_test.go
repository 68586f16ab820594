package server_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/csi-provider-aws/csi-provider-aws/emulators/fakeaws"
)

// BenchmarkWarmMount measures a republish served from the caches: what
// every pod costs the daemon about once a minute in steady state.
func BenchmarkWarmMount(b *testing.B) {
	t := b
	f := fakeaws.New()
	if err := f.Start(); err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	var objects strings.Builder
	for i := range 10 {
		f.PutSecretString("us-west-2", fmt.Sprintf("s%d", i), strings.Repeat("x", 64))
		fmt.Fprintf(&objects, "- {objectName: s%d, objectType: secretsmanager}\n", i)
	}
	d := startDaemon(t, daemonOptions{endpoint: f.URL(), driverWritesSecrets: true, cacheTTL: 1 << 40,
		kube: cluster(serviceAccount("team", "app", role))})
	p := pod{ns: "team", name: "web", sa: "app"}
	params := map[string]string{"objects": objects.String(), "region": "us-west-2"}
	if _, err := d.mount(t, p, params, "/tmp/x"); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := d.mount(t, p, params, "/tmp/x"); err != nil {
			b.Fatal(err)
		}
	}
}
