package provider

import (
	"fmt"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/csi-provider-aws/csi-provider-aws/internal/testkit"

	"github.com/csi-provider-aws/csi-provider-aws/class"
	"github.com/csi-provider-aws/csi-provider-aws/failure"
)

// driverLimit is the driver's default gRPC receive limit.
const driverLimit = 4 << 20

const dbJSON = `{"username":"admin","password":"s3cr3t-Pa55","port":5432,"tls":true,"opts":{"ssl":"on"},"hosts":["a","b"],"empty":null}`

func TestBuildFilesShapesValuesIntoFiles(t *testing.T) {
	t.Parallel()
	objects := yamlLines(
		"- objectName: db",
		"  objectType: secretsmanager",
		"  filePermission: \"0600\"",
		"  jmesPath:",
		"    - path: username",
		"      objectAlias: db-user",
		"    - path: opts.ssl",
		"      objectAlias: db-ssl",
		"      filePermission: \"0400\"",
		"- objectName: /app/flag",
		"  objectType: ssmparameter",
		"- objectName: cert",
		"  objectType: secretsmanager",
		"  objectAlias: tls/cert.der",
	)
	c := mustParse(t, mountAttrs(objects))
	bin := []byte{0x00, 0xff, 0x10, 0x80}
	values := []Value{
		{Data: []byte(dbJSON), Version: "v-primary"},
		{Data: []byte("on"), Version: "7"},
		{Data: bin, Version: "v-cert"},
	}
	got, err := BuildFiles(c, values, driverLimit)
	if err != nil {
		t.Fatal(err)
	}
	want := []File{
		{Path: "db", Mode: 0o600, Contents: []byte(dbJSON), Version: "v-primary"},
		{Path: "db-user", Mode: 0o600, Contents: []byte("admin"), Version: "v-primary"},
		{Path: "db-ssl", Mode: 0o400, Contents: []byte("on"), Version: "v-primary"},
		{Path: "_app_flag", Mode: 0o644, Contents: []byte("on"), Version: "7"},
		{Path: "tls_cert.der", Mode: 0o644, Contents: bin, Version: "v-cert"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("BuildFiles =\n%+v\nwant\n%+v", got, want)
	}
}

func TestBuildFilesReportsTheVersionOfTheValueWritten(t *testing.T) {
	t.Parallel()
	// The reference reported the primary's version even when the failover
	// region served the value (docs/compatibility.md); here the Value says.
	c := mustParse(t, mountAttrs(yamlLines(
		"- objectName: "+smARN, "  objectAlias: db",
		"  jmesPath:", "    - path: username", "      objectAlias: user",
		"  failoverObject:", "    objectName: "+smARNWest,
	), "region", "us-east-1", "failoverRegion", "us-west-2"))
	got, err := BuildFiles(c, []Value{{Data: []byte(dbJSON), Version: "version-served-by-us-west-2"}}, driverLimit)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range got {
		if f.Version != "version-served-by-us-west-2" {
			t.Errorf("file %q Version = %q, want the served value's version", f.Path, f.Version)
		}
	}
}

func TestBuildFilesSizeLimit(t *testing.T) {
	t.Parallel()
	c := mustParse(t, mountAttrs(oneSecret))
	data := []byte(strings.Repeat("x", 1000))
	exact := fileSize(len(data), "db", "v")
	t.Run("an answer exactly at the limit is accepted", func(t *testing.T) {
		t.Parallel()
		if _, err := BuildFiles(c, []Value{{Data: data, Version: "v"}}, exact); err != nil {
			t.Errorf("BuildFiles = %v", err)
		}
	})
	t.Run("an answer one byte over the limit is refused as too large", func(t *testing.T) {
		t.Parallel()
		_, err := BuildFiles(c, []Value{{Data: data, Version: "v"}}, exact-1)
		if failure.KindOf(err) != failure.TooLarge {
			t.Errorf("BuildFiles = %v, want TooLarge", err)
		}
	})
	t.Run("a limit of zero means no limit", func(t *testing.T) {
		t.Parallel()
		if _, err := BuildFiles(c, []Value{{Data: data, Version: "v"}}, 0); err != nil {
			t.Errorf("BuildFiles = %v", err)
		}
	})
}

func TestBuildFilesRefusesBadInput(t *testing.T) {
	t.Parallel()
	runBadCases(t, buildBadCases())
}

func buildBadCases() []badCase {
	const secret = "s3cr3t-Pa55"
	withJMES := func(path string) map[string]string {
		return mountAttrs(yamlLines("- objectName: db", "  objectType: secretsmanager",
			"  jmesPath:", "    - path: '"+path+"'", "      objectAlias: out"))
	}
	db := []Value{{Data: []byte(dbJSON), Version: "v1"}}
	big := func(n int) []byte { return []byte(strings.Repeat("x", n)) }
	return []badCase{
		{name: "jmesPath over a value that is not JSON is refused without quoting the value",
			params: withJMES("username"), values: []Value{{Data: []byte("password=" + secret), Version: "v1"}},
			want: []string{`objects[0] "db": the value is not JSON, so its jmesPath entries cannot apply`}, secret: secret},
		{name: "jmesPath over truncated JSON is refused without quoting the value",
			params: withJMES("username"), values: []Value{{Data: []byte(`{"password":"` + secret), Version: "v1"}},
			want: []string{`objects[0] "db": the value is not JSON`}, secret: secret},
		{name: "a jmesPath matching nothing is refused as null",
			params: withJMES("missing"), values: db,
			want: []string{`objects[0] "db": jmesPath[0] path "missing" selects null (nothing matched`}},
		{name: "a jmesPath selecting an explicit null is refused as null",
			params: withJMES("empty"), values: db,
			want: []string{`jmesPath[0] path "empty" selects null`}},
		{name: "a jmesPath whose function fails on the data is refused without quoting the data",
			params: withJMES("abs(password)"), values: db,
			want: []string{`objects[0] "db": jmesPath[0] path "abs(password)" could not be evaluated`}, secret: secret},
		{name: "values larger than the driver's limit are refused, naming the largest objects",
			params: mountAttrs(yamlLines(
				"- objectName: small", "  objectType: secretsmanager",
				"- objectName: huge", "  objectType: secretsmanager",
				"- objectName: large", "  objectType: ssmparameter",
				"- objectName: medium", "  objectType: ssmparameter",
			)),
			values: []Value{{Data: big(10)}, {Data: big(3 << 20)}, {Data: big(1 << 20)}, {Data: big(200 << 10)}},
			limit:  driverLimit, kind: failure.TooLarge,
			want: []string{"4.0 MiB", `objects[1] "huge" (3.0 MiB), objects[2] "large" (1.0 MiB), objects[3] "medium" (200.0 KiB)`, "split them"}},
	}
}

func TestBuildFilesRefusesAMismatchedValueCount(t *testing.T) {
	t.Parallel()
	c := mustParse(t, mountAttrs(oneSecret))
	_, err := BuildFiles(c, nil, driverLimit)
	if failure.KindOf(err) != failure.Internal {
		t.Errorf("BuildFiles with no values = %v, want an Internal error", err)
	}
}

// TestBuildFilesStopsAtTheLimit: jmesPath results are counted as they are
// evaluated, so a class whose entries each copy a large field stops at the
// first one past the limit instead of building them all.
func TestBuildFilesStopsAtTheLimit(t *testing.T) {
	var objects strings.Builder
	objects.WriteString("- objectName: db\n  objectType: secretsmanager\n  jmesPath:\n")
	for j := range 100 {
		fmt.Fprintf(&objects, "    - {path: big, objectAlias: f%d}\n", j)
	}
	c := mustParse(t, mountAttrs(objects.String()))
	value := []byte(`{"big":"` + strings.Repeat("x", 500<<10) + `"}`)
	var err error
	n := testkit.Allocated(func() { _, err = BuildFiles(c, []Value{{Data: value, Version: "v"}}, 2<<20) })
	if failure.KindOf(err) != failure.TooLarge || !strings.Contains(err.Error(), "add up to at least 2.") {
		t.Fatalf("BuildFiles = %v, want TooLarge saying the files add up to at least the limit", err)
	}
	// The value once decoded, then four 500 KiB results: not a hundred.
	if n > 6<<20 {
		t.Errorf("BuildFiles allocated %d bytes for a 2 MiB limit, want under 6 MiB", n)
	}
	t.Logf("stopped with %v after allocating %d bytes", err, n)
}

// TestBuildFilesWaitsForAnEvaluationSlot: an object's jmesPath entries are
// evaluated in one of the slots the classes of a class.Cache share, so a
// burst of Mounts evaluates one object per CPU at a time.
func TestBuildFilesWaitsForAnEvaluationSlot(t *testing.T) {
	cc, err := class.NewCache(4, catalog)
	if err != nil {
		t.Fatal(err)
	}
	c, err := cc.Parse(mountAttrs(yamlLines("- objectName: db", "  objectType: secretsmanager",
		"  jmesPath:", "    - path: username", "      objectAlias: u")), driverMode)
	if err != nil {
		t.Fatal(err)
	}
	var held []func()
	for range runtime.GOMAXPROCS(0) {
		held = append(held, c.EvaluationSlot())
	}
	done := make(chan error, 1)
	go func() {
		_, err := BuildFiles(c, []Value{{Data: []byte(dbJSON), Version: "v"}}, driverLimit)
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("BuildFiles evaluated with every slot taken (%v)", err)
	case <-time.After(100 * time.Millisecond):
	}
	held[0]()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for _, release := range held[1:] {
		release()
	}
}
