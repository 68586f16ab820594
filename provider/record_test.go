//go:build unix

package provider

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// files is a set of files named names, each holding its name.
func namedFiles(names ...string) []File {
	out := make([]File, len(names))
	for i, n := range names {
		out[i] = File{Path: n, Mode: 0o644, Contents: []byte(n)}
	}
	return out
}

func TestWriteFilesRemovesOnlyTheFilesItWroteAndNoLongerHas(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		// before is in the mount before the daemon writes; writes are the
		// sets the daemon writes in turn.
		before []string
		writes [][]string
		// want is the mount's files afterwards, the record aside.
		want []string
	}{
		{name: "a key that disappears takes its file with it",
			writes: [][]string{{"db.json", "a", "b"}, {"db.json", "a"}}, want: []string{"db.json", "a"}},
		{name: "a key added then removed comes and goes",
			writes: [][]string{{"db.json", "a"}, {"db.json", "a", "b"}, {"db.json", "b"}}, want: []string{"db.json", "b"}},
		{name: "files the daemon did not write stay",
			before: []string{"from-an-older-class", "nested/mine"},
			writes: [][]string{{"a", "nested/k"}, {"a"}}, want: []string{"a", "from-an-older-class", "nested/mine"}},
		{name: "without a record (the reference or an older daemon wrote the mount) nothing is removed",
			before: []string{"old-key"},
			writes: [][]string{{"a"}}, want: []string{"a", "old-key"}},
		{name: "an empty set removes every file the daemon wrote (every optional object missing)",
			before: []string{"foreign"},
			writes: [][]string{{"a", "b/c"}, {}}, want: []string{"foreign"}},
		{name: "a nested key removed leaves its directory",
			writes: [][]string{{"dir/a", "dir/b"}, {"dir/a"}}, want: []string{"dir/a"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			for _, p := range tc.before {
				writeFile(t, filepath.Join(dir, p), "not the daemon's", 0o644)
			}
			for _, set := range tc.writes {
				if err := WriteFiles(dir, namedFiles(set...)); err != nil {
					t.Fatal(err)
				}
			}
			var got []string
			for p, e := range snapshotMount(t, dir) {
				if p != recordName && !e.Mode.IsDir() {
					got = append(got, p)
				}
			}
			if strings.Join(sorted(got), ",") != strings.Join(sorted(tc.want), ",") {
				t.Errorf("files = %q, want %q", sorted(got), sorted(tc.want))
			}
			last := tc.writes[len(tc.writes)-1]
			if rec := snapshotMount(t, dir)[recordName]; len(last) > 0 && rec != recordEntry(sorted(last)...) {
				t.Errorf("record = %v, want the last set", rec)
			}
		})
	}
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j] < out[j-1]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// TestARecordTheDaemonCannotTrustRemovesNothing: the record lives in the
// pod's mount, so whatever it says, only a path of the mount that is a
// file is ever removed, and a record that is not the daemon's removes
// nothing.
func TestARecordTheDaemonCannotTrustRemovesNothing(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, dir, outside string)
	}{
		{"a record naming a path outside the mount", func(t *testing.T, dir, outside string) {
			writeFile(t, filepath.Join(dir, recordName), `{"version":1,"files":["../outside/victim","/etc/passwd","..data/x"]}`, 0o644)
		}},
		{"a record naming a directory", func(t *testing.T, dir, outside string) {
			writeFile(t, filepath.Join(dir, recordName), `{"version":1,"files":["keep"]}`, 0o644)
		}},
		{"a record that is not JSON", func(t *testing.T, dir, outside string) {
			writeFile(t, filepath.Join(dir, recordName), `keep/x`, 0o644)
		}},
		{"a record of another version", func(t *testing.T, dir, outside string) {
			writeFile(t, filepath.Join(dir, recordName), `{"version":2,"files":["keep/x"]}`, 0o644)
		}},
		{"a record past its size bound", func(t *testing.T, dir, outside string) {
			writeFile(t, filepath.Join(dir, recordName), `{"version":1,"files":["keep/x"]}`+strings.Repeat(" ", maxRecordBytes), 0o644)
		}},
		{"a record that is a symbolic link", func(t *testing.T, dir, outside string) {
			writeFile(t, filepath.Join(outside, "rec"), `{"version":1,"files":["keep/x"]}`, 0o644)
			if err := os.Symlink(filepath.Join(outside, "rec"), filepath.Join(dir, recordName)); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name+" removes nothing", func(t *testing.T) {
			t.Parallel()
			base := t.TempDir()
			dir, outside := filepath.Join(base, "mount"), filepath.Join(base, "outside")
			writeFile(t, filepath.Join(outside, "victim"), "not yours", 0o644)
			writeFile(t, filepath.Join(dir, "keep", "x"), "stays", 0o644)
			tc.setup(t, dir, outside)
			if err := WriteFiles(dir, namedFiles("a")); err != nil {
				t.Fatal(err)
			}
			got := snapshotMount(t, dir)
			if got["keep/x"].Data != "stays" || got["a"].Data != "a" {
				t.Errorf("mount = %v", got)
			}
			if b, err := os.ReadFile(filepath.Join(outside, "victim")); err != nil || string(b) != "not yours" {
				t.Errorf("the file outside the mount: %q, %v", b, err)
			}
		})
	}
}

func TestAFailedWritePutsBackTheFilesItRemoved(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := WriteFiles(dir, namedFiles("a", "b", "c", "d")); err != nil {
		t.Fatal(err)
	}
	before := snapshotMount(t, dir)
	w := fileWriter{rename: (*os.Root).Rename, remove: func(r *os.Root, name string) error {
		if name == "d" {
			return errors.New("injected remove failure")
		}
		return r.Remove(name)
	}}
	next := []File{{Path: "a", Mode: 0o600, Contents: []byte("new a")}}
	if err := w.write(dir, next); err == nil || !strings.Contains(err.Error(), "injected remove failure") {
		t.Fatalf("write = %v, want the injected failure", err)
	}
	if after := snapshotMount(t, dir); !reflect.DeepEqual(after, before) {
		t.Errorf("the mount changed:\nbefore %v\nafter  %v", before, after)
	}
}

func TestAFileNamedLikeTheRecordIsRefused(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	err := WriteFiles(dir, namedFiles("a", recordName))
	if err == nil || !strings.Contains(err.Error(), "keeps the list of the files it wrote") {
		t.Errorf("WriteFiles = %v, want a refusal naming the record", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("files were written: %v", entries)
	}
	if _, err := os.Lstat(filepath.Join(dir, recordName)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the record exists: %v", err)
	}
}
