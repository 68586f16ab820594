package provider

import (
	"strings"
	"testing"

	"github.com/csi-provider-aws/csi-provider-aws/internal/testkit"

	"github.com/csi-provider-aws/csi-provider-aws/class"
	"github.com/csi-provider-aws/csi-provider-aws/failure"
	"github.com/csi-provider-aws/csi-provider-aws/jmes"
)

func FuzzBuildFiles(f *testing.F) {
	for _, seed := range []struct {
		value []byte
		expr  string
	}{
		{[]byte(dbJSON), "username"},
		{[]byte(dbJSON), "port"},
		{[]byte(dbJSON), "hosts[?@ == 'a'] | [0]"},
		{[]byte(`"plain"`), "@"},
		{[]byte("not json"), "a"},
		{[]byte(`{"a":[1,2,{"b":"c"}]}`), "a[2].b"},
		{[]byte(`{"a":"x"}`), "abs(a)"},
		{[]byte{0xff, 0xfe, 0x00}, "@"},
		{[]byte(`{"f":"aaaaaaaaaa"}`), "replace(replace(f, 'a', 'aaaaaaaaaa'), 'a', 'aaaaaaaaaa')"},
	} {
		f.Add(seed.value, seed.expr)
	}
	f.Fuzz(func(t *testing.T, value []byte, expr string) {
		if _, err := jmes.Compile(expr); err != nil {
			return // class.Parse refuses these before BuildFiles sees them
		}
		c := &class.Class{Objects: []class.Object{{
			Name: "db", Type: SecretsManager, FileName: "db", Mode: 0o644,
			JMESPath: []class.JMESPathFile{{Path: expr, FileName: "out", Mode: 0o600}},
		}}}
		var files []File
		var err error
		testkit.BoundAllocations(t, func() { files, err = BuildFiles(c, []Value{{Data: value, Version: "v1"}}, 1<<20) })
		if err != nil {
			if k := failure.KindOf(err); k != failure.InvalidArgument && k != failure.TooLarge {
				t.Fatalf("BuildFiles error of kind %v: %v", k, err)
			}
			if len(value) >= 24 && !strings.Contains(expr, string(value)) && strings.Contains(err.Error(), string(value)) {
				t.Fatalf("error %q reveals the value", err)
			}
			return
		}
		if len(files) != 2 || string(files[0].Contents) != string(value) {
			t.Fatalf("BuildFiles = %d files, want the object and its jmesPath file", len(files))
		}
		for _, fl := range files {
			testkit.CheckAcceptedPath(t, fl.Path)
			if fl.Version != "v1" {
				t.Fatalf("file %q has version %q, want the value's", fl.Path, fl.Version)
			}
		}
	})
}
