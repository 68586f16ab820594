package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"sigs.k8s.io/secrets-store-csi-driver/provider/v1alpha1"
)

// marker is in every secret value of the catalogue: no error may show it.
const marker = "TOPSECRET"

// hostileCase is one class or request a hostile tenant could send. Each is
// refused through a real Mount, with a code, a message naming the field
// and the limit, and a bound on what the Mount may allocate.
type hostileCase struct {
	name   string
	params map[string]string // the class's parameters
	// attributes, secrets and permission replace the request's own fields
	// when set.
	attributes, secrets, permission string
	code                            codes.Code
	want                            []string
	most                            uint64 // bytes the Mount may allocate
}

const (
	mib = 1 << 20
	inv = codes.InvalidArgument
	res = codes.ResourceExhausted
)

// obj is a class of one object of secret "db" with the given jmesPath paths.
func obj(paths ...string) map[string]string {
	var b strings.Builder
	b.WriteString("- objectName: db\n  objectType: secretsmanager\n  jmesPath:\n")
	for i, p := range paths {
		q, _ := json.Marshal(p)
		fmt.Fprintf(&b, "    - {path: %s, objectAlias: f%d}\n", q, i)
	}
	return map[string]string{"region": "us-west-2", "objects": b.String()}
}

// class is a class with the given objects text, plus more parameters.
func class(objects string, kv ...string) map[string]string {
	p := map[string]string{"region": "us-west-2", "objects": objects}
	for i := 0; i+1 < len(kv); i += 2 {
		p[kv[i]] = kv[i+1]
	}
	return p
}

func list(n int, f func(i int) string) string {
	var b strings.Builder
	for i := range n {
		b.WriteString(f(i))
	}
	return b.String()
}

func hostileCases() []hostileCase {
	sm := "- {objectName: db, objectType: secretsmanager, "
	entry := func(i int) string { return fmt.Sprintf("- {objectName: s%d, objectType: secretsmanager}\n", i) }
	jm := func(n int, name string) string {
		return "- objectName: " + name + "\n  objectType: secretsmanager\n  jmesPath:\n" +
			list(n, func(j int) string { return fmt.Sprintf("    - {path: user, objectAlias: %s%d}\n", name, j) })
	}
	laughs := "- objectName: x\n  objectType: secretsmanager\n  l0: &l0 {k: v}\n" + list(10, func(i int) string {
		return fmt.Sprintf("  l%d: &l%d {<<: [%s]}\n", i+1, i+1, strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*l%d, ", i), 10), ", "))
	}) + "  <<: [" + strings.TrimSuffix(strings.Repeat("*l10, ", 10), ", ") + "]\n"
	fanned := "- &o\n  objectName: db\n  objectType: secretsmanager\n  pad: &m {" + list(20, func(k int) string { return fmt.Sprintf("k%d: v, ", k) }) +
		"z: v}\n  <<: [" + strings.TrimSuffix(strings.Repeat("*m, ", 99), ", ") + "]\n" + strings.Repeat("- *o\n", 99)
	doubling := func(n int) string { return strings.TrimSuffix(strings.Repeat("[@,@][].", n), "[].") }
	g := strings.Repeat("g", 900)
	lit := "`[" + strings.TrimSuffix(strings.Repeat("0,", 120), ",") + "]`"
	return []hostileCase{
		// The objects text: size, counts, YAML tricks.
		{name: "objects over 64 KiB are refused before YAML parsing", params: class(sm + "k: '" + strings.Repeat("x", 64<<10) + "'}"),
			code: inv, want: []string{"objects is 64.1 KiB long, more than the 64.0 KiB allowed", "split"}, most: 4 * mib},
		{name: "a 40,000-entry list (2.3 MB) is refused by the attributes' size", params: class(list(40_000, entry)),
			code: inv, want: []string{"attributes are", "more than the 256 KiB allowed"}, most: 24 * mib},
		{name: "101 objects are refused", params: class(list(101, entry)),
			code: inv, want: []string{"objects lists 101 entries, more than the 100 allowed"}, most: 4 * mib},
		{name: "101 jmesPath entries in one object are refused", params: class(jm(101, "db")),
			code: inv, want: []string{`objects[0] "db": jmesPath lists 101 entries, more than the 100 allowed`}, most: 4 * mib},
		{name: "1010 files across ten objects are refused", params: class(list(10, func(i int) string { return jm(100, fmt.Sprint("o", i)) })),
			code: inv, want: []string{"writes more than 1000 files"}, most: 16 * mib},
		{name: "an object repeated by 20 aliases is refused by the file count", params: class("- &o\n  " + strings.TrimPrefix(jm(100, "db"), "- ") + strings.Repeat("- *o\n", 20)),
			code: inv, want: []string{"writes more than 1000 files"}, most: 8 * mib},
		{name: "merge keys nested into a billion laughs are refused", params: class(laughs),
			code: inv, want: []string{"merge keys (<<) pull in more than 1000 mappings"}, most: 4 * mib},
		{name: "a mapping fanned out by aliases is refused by the key budget", params: class(fanned),
			code: inv, want: []string{"the objects YAML expands to more than 10000 mappings and keys"}, most: 4 * mib},
		{name: "YAML nested 20,000 levels deep is refused", params: class(strings.Repeat("[", 20_000) + strings.Repeat("]", 20_000)),
			code: inv, want: []string{"objects is not valid YAML", "max depth"}, most: 16 * mib},
		{name: "objects with control characters are refused", params: class("- {objectName: db\x01, objectType: secretsmanager}\n"),
			code: inv, want: []string{"objects is not valid YAML", "control characters"}, most: 2 * mib},
		{name: "a NUL byte in an objectAlias is refused", params: class(sm + `objectAlias: "a\0b"}` + "\n"),
			code: inv, want: []string{`objectAlias gives file name "a\x00b", which contains a NUL byte`}, most: 2 * mib},
		{name: "a one-character emoji made of several runes is not one pathTranslation character", params: class(sm+"}\n", "pathTranslation", "👩\u200d💻"),
			code: inv, want: []string{"pathTranslation", "must be one character"}, most: 2 * mib},

		// Names, regions, versions, options.
		{name: "an objectName of 3000 bytes is refused", params: class("- {objectName: " + strings.Repeat("n", 3000) + ", objectType: secretsmanager}\n"),
			code: inv, want: []string{"objects[0]: objectName is 3000 bytes long, more than the 2048 allowed"}, most: 2 * mib},
		{name: "an objectVersion of 100 bytes is refused", params: class(sm + "objectVersion: " + strings.Repeat("v", 100) + "}\n"),
			code: inv, want: []string{`objects[0] "db": objectVersion is 100 bytes long, more than the 64 allowed`}, most: 2 * mib},
		{name: "an objectVersionLabel of 300 bytes is refused", params: class(sm + "objectVersionLabel: " + strings.Repeat("l", 300) + "}\n"),
			code: inv, want: []string{"objectVersionLabel is 300 bytes long, more than the 256 allowed"}, most: 2 * mib},
		{name: "a region of 100 KiB is refused without quoting it", params: class(sm+"}\n", "region", strings.Repeat("us-east-1", 100<<10/9)),
			code: inv, want: []string{"region is 100.0 KiB long, more than the 32 bytes allowed"}, most: 4 * mib},
		{name: "a failoverRegion that is a path is refused", params: class(sm+"}\n", "failoverRegion", "../../evil"),
			code: inv, want: []string{`failoverRegion "../../evil" is not an AWS region name`}, most: 2 * mib},
		{name: "a usePodIdentity of 1 KiB is refused", params: class(sm+"}\n", "usePodIdentity", strings.Repeat("t", 1024)),
			code: inv, want: []string{"usePodIdentity is 1.0 KiB long, more than the 64 bytes allowed"}, most: 2 * mib},
		{name: "a preferredAddressType of 1 KiB is refused", params: class(sm+"}\n", "preferredAddressType", strings.Repeat("v", 1024)),
			code: inv, want: []string{"preferredAddressType is 1.0 KiB long"}, most: 2 * mib},
		{name: "a filePermission with the setuid bit is refused", params: class(sm + `filePermission: "4755"}` + "\n"),
			code: inv, want: []string{`filePermission "4755" sets setuid, setgid or sticky bits`}, most: 2 * mib},

		// Expressions: refused when the class is parsed, never evaluated.
		{name: "a jmesPath path of 2 KiB is refused", params: obj(strings.Repeat("a.", 1024)),
			code: inv, want: []string{`objects[0] "db": jmesPath[0]: path is 2048 bytes long, more than the 1024 allowed`}, most: 2 * mib},
		{name: "a path nested 300,000 parentheses deep is refused by the attributes' size", params: obj(strings.Repeat("(", 300_000) + "a" + strings.Repeat(")", 300_000)),
			code: inv, want: []string{"more than the 256 KiB allowed"}, most: 16 * mib},
		{name: "a path nested 100,000 parentheses deep is refused by the objects' size", params: obj(strings.Repeat("(", 100_000) + "a" + strings.Repeat(")", 100_000)),
			code: inv, want: []string{"objects is", "more than the 64.0 KiB allowed"}, most: 8 * mib},
		{name: "a path nested 40 parentheses deep is refused", params: obj(strings.Repeat("(", 40) + "a" + strings.Repeat(")", 40)),
			code: inv, want: []string{"40 deep, more than the 32 allowed"}, most: 2 * mib},
		{name: "a run of 40 negations is refused", params: obj(strings.Repeat("!", 40) + "a"),
			code: inv, want: []string{"40 deep, more than the 32 allowed"}, most: 2 * mib},
		{name: "seven doublings of the value are refused", params: obj(doubling(7)),
			code: inv, want: []string{"would copy the value too many times"}, most: 2 * mib},
		{name: "zip of 70 copies of the value is refused", params: obj("zip(" + strings.TrimSuffix(strings.Repeat("@,", 70), ",") + ")"),
			code: inv, want: []string{"would copy the value too many times"}, most: 2 * mib},
		{name: "a let expression is refused", params: obj("let $x = @ in $x"),
			code: inv, want: []string{"uses a let expression"}, most: 2 * mib},
		{name: "the root reference is refused", params: obj("nums[?@ == $.user]"),
			code: inv, want: []string{"uses the root reference $"}, most: 2 * mib},
		{name: "a variable is refused", params: obj("$user"),
			code: inv, want: []string{"uses the variable $user"}, most: 2 * mib},
		{name: "an unknown function behind a null is refused", params: obj("missing.nope(@)"),
			code: inv, want: []string{"calls a function JMESPath does not have (unknown function: nope)"}, most: 2 * mib},
		{name: "a call with too few arguments is refused", params: obj("join(',')"),
			code: inv, want: []string{"calls join with 1 argument, but join takes 2"}, most: 2 * mib},

		// Expressions that pass the static checks: the budget stops them
		// at Mount time, over the real secret value.
		{name: "pad_left to 200 MB fails at Mount with the budget message", params: obj("pad_left('x', `200000000`)"),
			code: res, want: []string{"pad_left would take what functions produce past 1.0 MiB, the most one jmesPath entry may have them produce", "docs/limits.md"}, most: 8 * mib},
		{name: "pad_right of the secret's field to 2 MB fails with the budget message", params: obj("pad_right(f, `2000000`)"),
			code: res, want: []string{"pad_right would take what functions produce past 1.0 MiB"}, most: 8 * mib},
		{name: "five nested replace over the secret's 1 KiB field fail with the budget message", params: obj("replace(replace(replace(replace(replace(f, 'a', 'aaaaaaaaaa'), 'a', 'aaaaaaaaaa'), 'a', 'aaaaaaaaaa'), 'a', 'aaaaaaaaaa'), 'a', 'aaaaaaaaaa')"),
			code: res, want: []string{"replace would take what functions produce past 1.0 MiB"}, most: 8 * mib},
		{name: "join with a long glue fails with the budget message", params: obj("join('" + g + "', words)"),
			code: res, want: []string{"join would take"}, most: 8 * mib},
		{name: "to_string of many copies fails with the budget message", params: obj("to_string([" + strings.TrimSuffix(strings.Repeat("words,", 60), ",") + "])"),
			code: res, want: []string{"to_string would take"}, most: 8 * mib},
		{name: "split into every character fails with the budget message", params: obj("split(pad_left(f, `300000`), '')"),
			code: res, want: []string{"split would take"}, most: 8 * mib},
		{name: "six doublings of 20,000 numbers pass the static check and fail with the budget message", params: obj("nums[]." + doubling(6)),
			code: res, want: []string{"its multi-select lists, hashes, projections and flattens build more than 4.0 MiB"}, most: 24 * mib},
		{name: "projections over literals multiply and fail with the budget message", params: obj(lit + "[*].[" + lit + "[*].[" + lit + "]]"),
			code: res, want: []string{"build more than 4.0 MiB"}, most: 8 * mib},
		{name: "more than 10,000 function calls fail with the budget message", params: obj("map(&to_string(@), nums)"),
			code: res, want: []string{"it calls functions more than 10000 times, the most one jmesPath entry may"}, most: 16 * mib},
		{name: "jmesPath over a 1.5 MiB value is refused", params: class("- objectName: huge\n  objectType: secretsmanager\n  jmesPath: [{path: a, objectAlias: a}]\n"),
			code: res, want: []string{`objects[0] "huge": the value is 1.5 MiB, more than the 1.0 MiB a jmesPath entry or jsonKeysAsFiles may read`}, most: 24 * mib},
		{name: "100 copies of a 500 KiB field stop at the driver's limit", params: class("- objectName: big\n  objectType: secretsmanager\n  jmesPath:\n" +
			list(100, func(j int) string { return fmt.Sprintf("    - {path: f, objectAlias: c%d}\n", j) })),
			code: res, want: []string{"the mount's files add up to at least", "split them"}, most: 24 * mib},

		// jsonKeysAsFiles and objectEncoding over the secret's value.
		{name: "jsonKeysAsFiles over 40,000 keys is refused by the class's file count", params: class("- {objectName: manykeys, objectType: secretsmanager, jsonKeysAsFiles: true}\n"),
			code: inv, want: []string{`objects[0] "manykeys": jsonKeysAsFiles: the value has 40000 top-level keys`, "more than the 1000 one may write"}, most: 32 * mib},
		{name: "a key's string that is not valid hex is refused without quoting it", params: class("- {objectName: db, objectType: secretsmanager, jsonKeysAsFiles: true, objectEncoding: hex}\n"),
			code: inv, want: []string{`objects[0] "db": jsonKeysAsFiles key "m" holds a string that is not valid hex (objectEncoding hex)`}, most: 8 * mib},

		// Sets of objects: the matches and their values are bounded as they arrive.
		// The figure counts the in-process fake's encoding of the pages too
		// (20 values of 60 KiB each), and doubles under -race; what matters
		// is that it stops at the limit, whatever the prefix matches.
		{name: "a prefix over 200 secrets of 60 KiB stops at the answer's limit", params: class("- {objectNamePrefix: fat/, objectType: secretsmanager, maxObjects: 1000}\n"),
			code: res, want: []string{`objectNamePrefix "fat/" matches secrets whose values add up to more than 4.0 MiB`}, most: 96 * mib},
		{name: "a prefix matching 1500 secrets stops past maxObjects", params: class("- {objectNamePrefix: many/, objectType: secretsmanager, maxObjects: 1000}\n"),
			code: inv, want: []string{`objectNamePrefix "many/" matches 1001 secrets or more, more than its maxObjects 1000`}, most: 32 * mib},
		{name: "two listings that could write 1200 files are refused", params: class("- {objectNamePrefix: a/, objectType: secretsmanager, maxObjects: 600}\n- {objectNamePrefix: b/, objectType: secretsmanager, maxObjects: 600}\n"),
			code: inv, want: []string{`objects[1] "b/": with maxObjects 600`, "more than 1000 files"}, most: 2 * mib},
		{name: "a prefix AWS would read as a negation is refused", params: class("- {objectNamePrefix: '!x', objectType: secretsmanager}\n"),
			code: inv, want: []string{`objectNamePrefix "!x" holds a character no secret name has`}, most: 2 * mib},

		// The request's own fields.
		{name: "attributes over 256 KiB are refused before decoding", attributes: `{"x":"` + strings.Repeat("x", 300<<10) + `"}`,
			code: inv, want: []string{"attributes are 307208 bytes, more than the 256 KiB allowed"}, most: 4 * mib},
		{name: "200 attributes are refused", attributes: "{" + strings.TrimSuffix(list(200, func(i int) string { return fmt.Sprintf(`"k%d":"v",`, i) }), ",") + "}",
			code: inv, want: []string{"the mount request has more than 128 attributes"}, most: 2 * mib},
		{name: "an attribute that is an object names the attribute only", attributes: `{"objects":{"token":"eyJ` + marker + `"}}`,
			code: inv, want: []string{`attribute "objects" is not a string`}, most: 2 * mib},
		{name: "a secrets field over 256 KiB is refused without quoting it", params: class(sm + "}\n"), secrets: `{"t":"` + strings.Repeat(marker, 30<<10) + `"}`,
			code: inv, want: []string{"secrets field is", "more than the 256 KiB allowed"}, most: 4 * mib},
		{name: "a permission of 10 KiB is refused, quoted in part", params: class(sm + "}\n"), permission: strings.Repeat("7", 10<<10),
			code: inv, want: []string{`permission "` + strings.Repeat("7", 64) + `"... is not a file mode`}, most: 2 * mib},
	}
}

// TestHostileClassesCannotTakeTheDaemonDown runs the catalogue through one
// daemon, serially so each Mount's allocations are its own, then checks the
// same daemon still serves an ordinary class.
func TestHostileClassesCannotTakeTheDaemonDown(t *testing.T) {
	fake, url := startFake(t)
	nums := make([]int, 20_000)
	words := make([]string, 3000)
	for i := range words {
		words[i] = fmt.Sprintf("w%d", i)
	}
	value, _ := json.Marshal(map[string]any{"user": "admin", "f": strings.Repeat("a", 1024), "nums": nums, "words": words, "m": marker})
	fake.PutSecretString("us-west-2", "db", string(value))
	fake.PutSecretString("us-west-2", "huge", `"`+strings.Repeat(marker, 1536<<10/len(marker))+`"`)
	fake.PutSecretString("us-west-2", "big", `{"f":"`+strings.Repeat(marker, 500<<10/len(marker))+`"}`)
	for i := range 200 {
		fake.PutSecretString("us-west-2", fmt.Sprintf("fat/%03d", i), strings.Repeat(marker, 60<<10/len(marker)))
	}
	for i := range 1500 {
		fake.PutSecretString("us-west-2", fmt.Sprintf("many/%04d", i), marker)
	}
	fake.PutSecretString("us-west-2", "manykeys", "{"+strings.TrimSuffix(list(40_000, func(i int) string { return fmt.Sprintf(`"k%d":"`+marker+`",`, i) }), ",")+"}")
	d := startDaemon(t, daemonOptions{endpoint: url, driverWritesSecrets: true, cacheTTL: time.Hour, kube: cluster(serviceAccount("team", "app", role))})
	p := pod{ns: "team", name: "p", sa: "app"}
	ordinary := obj("user", "to_string(length(words))")
	mountOrdinary := func() {
		t.Helper()
		resp, err := d.mount(t, p, ordinary, "")
		if err != nil {
			t.Fatalf("an ordinary class: %v", err)
		}
		if got := resp.GetFiles(); len(got) != 3 || string(got[1].Contents) != "admin" || string(got[2].Contents) != "3000" {
			t.Fatalf("an ordinary class got %d files", len(got))
		}
	}
	mountOrdinary() // credentials, clients and the value cache warm up outside the figures

	cases := hostileCases()
	if len(cases) < 30 {
		t.Fatalf("%d hostile cases, want at least 30", len(cases))
	}
	type figure struct {
		name          string
		first, repeat uint64
	}
	var figures []figure
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := &v1alpha1.MountRequest{Attributes: tc.attributes, Secrets: "{}", Permission: "420"}
			if tc.attributes == "" {
				req.Attributes = p.attributes(tc.params)
			}
			if tc.secrets != "" {
				req.Secrets = tc.secrets
			}
			if tc.permission != "" {
				req.Permission = tc.permission
			}
			first := checkHostileMount(t, d, req, tc)
			repeat := checkHostileMount(t, d, req, tc) // kubelet retries: the class cache answers
			figures = append(figures, figure{tc.name, first, repeat})
		})
	}
	mountOrdinary()

	t.Logf("%-100s %14s %14s", "hostile case", "first Mount", "retried Mount")
	for _, f := range figures {
		t.Logf("%-100s %10.2f MiB %10.2f MiB", f.name, float64(f.first)/mib, float64(f.repeat)/mib)
	}
}

// checkHostileMount sends req once and checks the refusal: its code, its
// message, that it quotes no secret or token, and what the Mount allocated
// (TotalAlloc delta, which bounds the peak it added), which it returns.
func checkHostileMount(t *testing.T, d *daemon, req *v1alpha1.MountRequest, tc hostileCase) uint64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := d.client.Mount(ctx, req)
	runtime.ReadMemStats(&after)
	n := after.TotalAlloc - before.TotalAlloc
	st := status.Convert(err)
	if err == nil || st.Code() != tc.code {
		t.Fatalf("Mount = %v, want code %v", err, tc.code)
	}
	for _, w := range tc.want {
		if !strings.Contains(st.Message(), w) {
			t.Errorf("message %.400q\n  does not contain %q", st.Message(), w)
		}
	}
	if strings.Contains(st.Message(), marker) || strings.Contains(st.Message(), "eyJ") {
		t.Errorf("message %.400q quotes a secret or a token", st.Message())
	}
	if len(st.Message()) > 4<<10 {
		t.Errorf("message is %d bytes long", len(st.Message()))
	}
	if n > tc.most {
		t.Errorf("the Mount allocated %.2f MiB, more than the %.0f MiB allowed", float64(n)/mib, float64(tc.most)/mib)
	}
	t.Logf("allocated %.2f MiB: %s", float64(n)/mib, st.Message()[:min(len(st.Message()), 160)])
	return n
}

// TestAHundredPodsOfOneHostileClassAtOnce: every limit bounds one parse or
// one Mount, and a tenant can start a hundred pods at once. Their Mounts
// share one parse, and the daemon evaluates jmesPath for one object per CPU
// at a time, so the heap stays bounded however many arrive together.
// Without that bound the same Mounts raised the heap by hundreds of MiB.
func TestAHundredPodsOfOneHostileClassAtOnce(t *testing.T) {
	fake, url := startFake(t)
	value, _ := json.Marshal(map[string]any{"nums": make([]int, 20_000), "m": marker})
	fake.PutSecretString("us-west-2", "db", string(value))
	// The Mounts queue for the evaluation slots (one per CPU): under -race on
	// a loaded 2-core machine that takes longer than the default 20s, and
	// this test measures memory, not time.
	d := startDaemon(t, daemonOptions{endpoint: url, driverWritesSecrets: true, cacheTTL: time.Hour, mountTimeout: 4 * time.Minute,
		kube: cluster(serviceAccount("team", "app", role))})
	// Each Mount's two entries build about 2.6 MB each, within every
	// budget; the class is hostile only by how many pods mount it at once.
	params := obj("to_string(length([nums, nums, nums, nums][]))", "to_string(length([nums, nums, nums][]))")
	if _, err := d.mount(t, pod{ns: "team", name: "warm", sa: "app"}, obj("m"), ""); err != nil {
		t.Fatal(err)
	}

	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	stop := make(chan struct{})
	peak := make(chan uint64)
	go func() { // sample the heap while the Mounts run
		var m runtime.MemStats
		top := uint64(0)
		for {
			select {
			case <-stop:
				peak <- top
				return
			case <-time.After(2 * time.Millisecond):
				runtime.ReadMemStats(&m)
				top = max(top, m.HeapAlloc)
			}
		}
	}()
	errs := make(chan error, 100)
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute) // -race on a busy machine is slow
	defer cancel()
	for i := range 100 {
		req := &v1alpha1.MountRequest{Attributes: pod{ns: "team", name: fmt.Sprint("p", i), sa: "app"}.attributes(params), Secrets: "{}", Permission: "420"}
		go func() {
			resp, err := d.client.Mount(ctx, req)
			if err == nil && (len(resp.GetFiles()) != 3 || string(resp.GetFiles()[1].Contents) != "80000") {
				err = fmt.Errorf("got %d files", len(resp.GetFiles()))
			}
			errs <- err
		}()
	}
	for range 100 {
		if err := <-errs; err != nil {
			t.Errorf("Mount = %v", err)
		}
	}
	took := time.Since(start)
	close(stop)
	grew := float64(<-peak) - float64(base.HeapAlloc)
	t.Logf("100 concurrent Mounts of one costly class: heap peaked %.1f MiB above its start, in %v", grew/mib, took.Round(time.Millisecond))
	if grew > 96*mib {
		t.Errorf("the heap grew %.1f MiB during 100 concurrent costly Mounts, want under 96 MiB", grew/mib)
	}
}
