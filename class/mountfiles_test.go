package class_test

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/csi-provider-aws/csi-provider-aws/class"
	"github.com/csi-provider-aws/csi-provider-aws/failure"
)

// keysClass is a class whose object "db" has jsonKeysAsFiles, beside the
// objects of more.
func keysClass(translation string, more ...string) map[string]string {
	lines := append([]string{"- objectName: db", "  objectType: secretsmanager", "  objectAlias: db.json", "  jsonKeysAsFiles: true"}, more...)
	p := mountAttrs(yamlLines(lines...))
	if translation != "" {
		p["pathTranslation"] = translation
	}
	return p
}

func TestMountFilesNameEachKey(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, translation string
		keys, want        []string
	}{
		{"a key is its own file name", "", []string{"user", "pass"}, []string{"user", "pass"}},
		{"a key with a slash is translated like an alias", "", []string{"app/user"}, []string{"app_user"}},
		{"the class's translation character applies", "-", []string{"app/user"}, []string{"app-user"}},
		{"with translation off a key with a slash is a nested path", "False", []string{"app/user", "app/pass"}, []string{"app/user", "app/pass"}},
		{"with translation off a leading slash is dropped", "False", []string{"/top"}, []string{"top"}},
		{"keys that only look like dots are fine", "", []string{".env", "a..b"}, []string{".env", "a..b"}},
		{"no keys make no files", "", nil, []string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := mustParse(t, keysClass(tc.translation))
			m, err := c.MountFiles()
			if err != nil {
				t.Fatal(err)
			}
			got, err := m.AddKeys(&c.Objects[0], tc.keys)
			if err != nil {
				t.Fatalf("AddKeys(%q) = %v", tc.keys, err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("AddKeys(%q) = %q, want %q", tc.keys, got, tc.want)
			}
		})
	}
}

func TestMountFilesRefuseKeysThatCannotBeFiles(t *testing.T) {
	t.Parallel()
	other := []string{"- objectName: other", "  objectType: secretsmanager", "  objectAlias: cfg/app",
		"  jmesPath:", "    - {path: user, objectAlias: login}"}
	for _, tc := range []struct {
		name, translation string
		more              []string
		// keys go to db; keys2, when set, to a second jsonKeysAsFiles
		// object "db2" afterwards.
		keys, keys2 []string
		want        []string
	}{
		{name: "a key equal to another object's file is refused, naming both and the file",
			more: other, keys: []string{"x", "cfg_app"},
			want: []string{`objects[0] "db" jsonKeysAsFiles key "cfg_app" and objects[1] "other" would both write file "cfg_app"`, "rename the key"}},
		{name: "a key equal to a jmesPath alias is refused, naming the entry",
			more: other, keys: []string{"login"},
			want: []string{`objects[0] "db" jsonKeysAsFiles key "login" and objects[1] "other" jmesPath[0] would both write file "login"`}},
		{name: "a key equal to its own object's file is refused",
			keys: []string{"db.json"},
			want: []string{`objects[0] "db" jsonKeysAsFiles key "db.json" and objects[0] "db" would both write file "db.json"`}},
		{name: "two keys that translate to one name are refused, naming both keys",
			keys: []string{"a/b", "a_b"},
			want: []string{`objects[0] "db" jsonKeysAsFiles key "a_b" and objects[0] "db" jsonKeysAsFiles key "a/b" would both write file "a_b"`}},
		{name: "keys of two objects with one name are refused, naming both objects",
			more: []string{"- objectName: db2", "  objectType: secretsmanager", "  jsonKeysAsFiles: true"},
			keys: []string{"user"}, keys2: []string{"user"},
			want: []string{`objects[1] "db2" jsonKeysAsFiles key "user" and objects[0] "db" jsonKeysAsFiles key "user" would both write file "user"`}},
		{name: "a key that is the directory of another object's file is refused",
			translation: "False", more: other, keys: []string{"cfg"},
			want: []string{`objects[0] "db" jsonKeysAsFiles key "cfg" writes file "cfg", but objects[1] "other" needs "cfg" to be a directory for its file "cfg/app"`}},
		{name: "a key whose file needs another object's file as its directory is refused",
			translation: "False", more: other, keys: []string{"cfg/app/x"},
			want: []string{`objects[1] "other" writes file "cfg/app", but objects[0] "db" jsonKeysAsFiles key "cfg/app/x" needs "cfg/app" to be a directory`}},
		{name: "a key that is the directory of another key is refused",
			translation: "False", keys: []string{"a/b", "a"},
			want: []string{`objects[0] "db" jsonKeysAsFiles key "a" writes file "a", but objects[0] "db" jsonKeysAsFiles key "a/b" needs "a" to be a directory`}},
		{name: "an empty key is refused",
			keys: []string{""}, want: []string{`objects[0] "db": jsonKeysAsFiles key "" gives file name "", which is empty`, "jmesPath"}},
		{name: "a key .. is refused",
			keys: []string{".."}, want: []string{`objects[0] "db": jsonKeysAsFiles key ".." gives file name "..", which has a ".." segment`}},
		{name: "a key climbing out of the mount is refused with translation off",
			translation: "False", keys: []string{"../../etc/passwd"},
			want: []string{`jsonKeysAsFiles key "../../etc/passwd" gives file name "../../etc/passwd", which has a ".." segment`}},
		{name: "a key with a NUL byte is refused",
			keys: []string{"a\x00b"}, want: []string{`jsonKeysAsFiles key "a\x00b"`, "contains a NUL byte"}},
		{name: "a key the driver reserves is refused",
			keys: []string{"..data"}, want: []string{`jsonKeysAsFiles key "..data"`, "the driver reserves"}},
		{name: "a key longer than a file name may be is refused, clipped in the message",
			keys: []string{strings.Repeat("k", 300)}, want: []string{`jsonKeysAsFiles key "kkkk`, `...", which has a segment longer than 255 bytes`}},
		{name: "keys past the class's 1000 files are refused before any is named",
			more: other, keys: manyKeys(class.MaxFiles - 2),
			want: []string{`objects[0] "db": jsonKeysAsFiles: the value has 998 top-level keys, and with them the SecretProviderClass would write 1001 files, more than the 1000 one may write`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := mustParse(t, keysClass(tc.translation, tc.more...))
			m, err := c.MountFiles()
			if err != nil {
				t.Fatal(err)
			}
			_, err = m.AddKeys(&c.Objects[0], tc.keys)
			if err == nil && tc.keys2 != nil {
				_, err = m.AddKeys(&c.Objects[1], tc.keys2)
			}
			if err == nil || failure.KindOf(err) != failure.InvalidArgument {
				t.Fatalf("AddKeys = %v, want an InvalidArgument containing %q", err, tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\n  does not contain %q", err, w)
				}
			}
		})
	}
}

func manyKeys(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("k%d", i)
	}
	return out
}

func TestMountFilesAcceptTheMostKeysTheFileLimitAllows(t *testing.T) {
	t.Parallel()
	c := mustParse(t, keysClass(""))
	m, err := c.MountFiles()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.AddKeys(&c.Objects[0], manyKeys(class.MaxFiles-1)); err != nil {
		t.Errorf("999 keys beside the object's own file: %v", err)
	}
}
