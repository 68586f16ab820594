package class_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/csi-provider-aws/csi-provider-aws/internal/testkit"

	"github.com/csi-provider-aws/csi-provider-aws/class"
)

// entries returns n objects, each a Secrets Manager secret with its own
// name, written in flow style.
func entries(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "- {objectName: s%d, objectType: secretsmanager}\n", i)
	}
	return b.String()
}

// withJMESPath returns an object entry with n jmesPath entries.
func withJMESPath(name string, n int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "- objectName: %s\n  objectType: secretsmanager\n  jmesPath:\n", name)
	for j := range n {
		fmt.Fprintf(&b, "    - {path: a, objectAlias: %s-%d}\n", name, j)
	}
	return b.String()
}

func TestClassLimits(t *testing.T) {
	t.Parallel()
	sm := "  objectType: secretsmanager"
	var manyFiles strings.Builder
	for i := range 10 {
		manyFiles.WriteString(withJMESPath(fmt.Sprintf("o%d", i), 100))
	}
	runBadCases(t, []badCase{
		{name: "objects over 64 KiB are refused before YAML parsing",
			params: mountAttrs("- {" + strings.Repeat(" ", 64<<10) + "}"),
			want:   []string{"objects is 64.0 KiB long, more than the 64.0 KiB allowed", "split the objects into several SecretProviderClasses"}},
		{name: "101 objects are refused",
			params: mountAttrs(entries(101)),
			want:   []string{"objects lists 101 entries, more than the 100 allowed in one SecretProviderClass", "split them"}},
		{name: "the object count is checked before any entry is read",
			params: mountAttrs("- {objectName: bad, objectType: vault}\n" + entries(100)),
			want:   []string{"objects lists 101 entries"}},
		{name: "101 jmesPath entries in one object are refused",
			params: mountAttrs(withJMESPath("db", 101)),
			want:   []string{`objects[0] "db": jmesPath lists 101 entries, more than the 100 allowed for one object`}},
		{name: "the jmesPath count is checked before any entry is read",
			params: mountAttrs(withJMESPath("db", 101) + "    - {path: 'nope(@)', objectAlias: z}\n"),
			want:   []string{"jmesPath lists 102 entries"}},
		{name: "more than 1000 files in a class are refused",
			params: mountAttrs(manyFiles.String()),
			want:   []string{`objects[9] "o9": with its jmesPath entries the SecretProviderClass writes more than 1000 files`, "split the objects"}},
		{name: "aliases repeating an object do not get past the file count",
			params: mountAttrs("- &o\n  " + strings.TrimPrefix(withJMESPath("db", 100), "- ") + strings.Repeat("- *o\n", 20)),
			want:   []string{"writes more than 1000 files"}},
		{name: "aliases repeating a mapping do not get past the key budget",
			params: mountAttrs(aliasFanOut()),
			want:   []string{"the objects YAML expands to more than 10000 mappings and keys", "aliases"}},
		{name: "an objectName over 2048 bytes is refused without quoting it",
			params: mountAttrs(yamlLines("- objectName: "+strings.Repeat("n", 2049), sm)),
			want:   []string{"objects[0]: objectName is 2049 bytes long, more than the 2048 allowed"}},
		{name: "an objectVersion over 64 bytes is refused",
			params: mountAttrs(yamlLines("- objectName: db", sm, "  objectVersion: "+strings.Repeat("v", 65))),
			want:   []string{`objects[0] "db": objectVersion is 65 bytes long, more than the 64 allowed`}},
		{name: "an objectVersionLabel over 256 bytes is refused",
			params: mountAttrs(yamlLines("- objectName: db", sm, "  objectVersionLabel: "+strings.Repeat("l", 257))),
			want:   []string{`objects[0] "db": objectVersionLabel is 257 bytes long, more than the 256 allowed`}},
		{name: "an objectType over 64 bytes is refused",
			params: mountAttrs(yamlLines("- objectName: db", "  objectType: "+strings.Repeat("t", 65))),
			want:   []string{`objects[0] "db": objectType is 65 bytes long`}},
		{name: "an objectAlias over 4096 bytes is refused",
			params: mountAttrs(yamlLines("- objectName: db", sm, "  objectAlias: "+strings.Repeat("a", 4097))),
			want:   []string{`objects[0] "db": objectAlias is 4097 bytes long, more than the 4096 allowed`}},
		{name: "a jmesPath objectAlias over 4096 bytes is refused",
			params: mountAttrs(yamlLines("- objectName: db", sm, "  jmesPath:", "    - path: a", "      objectAlias: "+strings.Repeat("a", 4097))),
			want:   []string{`objects[0] "db": jmesPath[0]: objectAlias is 4097 bytes long`}},
		{name: "a jmesPath path over 1024 bytes is refused before parsing",
			params: mountAttrs(yamlLines("- objectName: db", sm, "  jmesPath:", "    - path: "+strings.Repeat("(", 2048), "      objectAlias: x")),
			want:   []string{`objects[0] "db": jmesPath[0]: path is 2048 bytes long, more than the 1024 allowed`}},
		{name: "a failoverObject objectName over 2048 bytes is refused",
			params: mountAttrs(yamlLines("- objectName: db", sm, "  objectAlias: x", "  failoverObject:", "    objectName: "+strings.Repeat("n", 2049)), "failoverRegion", "us-west-2"),
			want:   []string{`objects[0] "db": failoverObject objectName is 2049 bytes long`}},
		{name: "a long filePermission is quoted only in part",
			params: mountAttrs(yamlLines("- objectName: db", sm, `  filePermission: "`+strings.Repeat("7", 5000)+`"`)),
			want:   []string{`filePermission "` + strings.Repeat("7", 64) + `..." must be four octal digits`}},
		{name: "a region over 32 bytes is refused without quoting it",
			params: mountAttrs(oneSecret, "region", strings.Repeat("us-east-1", 100)),
			want:   []string{"region is 900 bytes long, more than the 32 bytes allowed"}},
		{name: "a failoverRegion over 32 bytes is refused",
			params: mountAttrs(oneSecret, "failoverRegion", strings.Repeat("x", 33)),
			want:   []string{"failoverRegion is 33 bytes long"}},
		{name: "a pathTranslation over 64 bytes is refused",
			params: mountAttrs(oneSecret, "pathTranslation", strings.Repeat("_", 65)),
			want:   []string{"pathTranslation is 65 bytes long, more than the 64 bytes allowed", `"False"`}},
		{name: "a usePodIdentity over 64 bytes is refused",
			params: mountAttrs(oneSecret, "usePodIdentity", strings.Repeat("t", 100<<10)),
			want:   []string{"usePodIdentity is 100.0 KiB long"}},
		{name: "a preferredAddressType over 64 bytes is refused",
			params: mountAttrs(oneSecret, "preferredAddressType", strings.Repeat("v", 65)),
			want:   []string{"preferredAddressType is 65 bytes long"}},
	})
}

// aliasFanOut is a class whose 100 objects each merge 99 copies of a
// mapping with 20 keys: about 200,000 keys read from 3 KiB of text.
func aliasFanOut() string {
	var b strings.Builder
	b.WriteString("- &o\n  objectName: db\n  objectType: secretsmanager\n  pad: &m {")
	for k := range 20 {
		fmt.Fprintf(&b, "k%d: v, ", k)
	}
	b.WriteString("z: v}\n  <<: [" + strings.TrimSuffix(strings.Repeat("*m, ", 99), ", ") + "]\n")
	b.WriteString(strings.Repeat("- *o\n", 99))
	return b.String()
}

// TestTheLargestAllowedClassCostsLittle parses classes at the limits and
// checks what the parse allocated.
func TestTheLargestAllowedClassCostsLittle(t *testing.T) {
	longPath := strings.TrimSuffix(strings.Repeat("a || ", 204), " || ")
	var jm strings.Builder
	for i := range 50 { // 50 distinct 1 KiB paths: about 52 KiB of text
		fmt.Fprintf(&jm, "    - {path: '%s || b%d', objectAlias: x%d}\n", longPath, i, i)
	}
	for _, tc := range []struct {
		name, objects string
		most          uint64
	}{
		{"100 plain objects", entries(100), 4 << 20},
		{"50 distinct paths of 1 KiB", "- objectName: db\n  objectType: secretsmanager\n  jmesPath:\n" + jm.String(), 32 << 20},
		{"a 64 KiB flow list of short scalars", "- {objectName: db, objectType: secretsmanager, k: [" + strings.Repeat("a,", 32<<10-40) + "a]}", 32 << 20},
	} {
		var err error
		n := testkit.Allocated(func() { _, err = class.Parse(mountAttrs(tc.objects), driverMode, catalog) })
		if len(tc.objects) > class.MaxObjectsBytes {
			t.Fatalf("%s: the test class is %d bytes, over the limit", tc.name, len(tc.objects))
		}
		t.Logf("%s (%d bytes): parse allocated %d bytes (%v)", tc.name, len(tc.objects), n, err)
		if n > tc.most {
			t.Errorf("%s: parse allocated %d bytes, want under %d", tc.name, n, tc.most)
		}
	}
}
