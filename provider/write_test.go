//go:build unix

package provider

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
)

// mountEntry is what a user would notice of one path in a mount.
type mountEntry struct {
	Mode fs.FileMode
	Data string // file contents, or a symlink's target
}

// snapshotMount records every path under dir, so a test can tell that a failed
// write changed nothing and left no temporary file behind.
func snapshotMount(t *testing.T, dir string) map[string]mountEntry {
	t.Helper()
	out := map[string]mountEntry{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if rel == "." {
			return nil
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		e := mountEntry{Mode: fi.Mode()}
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			e.Data, err = os.Readlink(p)
		case fi.Mode().IsRegular():
			var b []byte
			b, err = os.ReadFile(p)
			e.Data = string(b)
		}
		out[rel] = e
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// recordEntry is the daemon's record of the files it wrote, as a pod sees
// it in its mount.
func recordEntry(paths ...string) mountEntry {
	return mountEntry{Mode: 0o644, Data: `{"version":1,"files":["` + strings.Join(paths, `","`) + `"]}`}
}

func writeFile(t *testing.T, p, data string, mode fs.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(data), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
}

// TestWriteFilesSetsExactModesWhateverTheUmask changes the process umask,
// so it does not run in parallel with anything.
func TestWriteFilesSetsExactModesWhateverTheUmask(t *testing.T) {
	old := syscall.Umask(0o277)
	defer syscall.Umask(old)

	dir := t.TempDir()
	files := []File{
		{Path: "db", Mode: 0o600, Contents: []byte("a")},
		{Path: "cfg", Mode: 0o644, Contents: []byte("b")},
		{Path: "ro", Mode: 0o400, Contents: []byte("c")},
		{Path: "all", Mode: 0o777, Contents: []byte("d")},
		{Path: "none", Mode: 0, Contents: []byte("e")},
		{Path: "app/tls/cert", Mode: 0o640, Contents: []byte{0, 1, 2, 0xff}},
	}
	if err := WriteFiles(dir, files); err != nil {
		t.Fatal(err)
	}
	got := snapshotMount(t, dir)
	want := map[string]mountEntry{
		"db":           {0o600, "a"},
		"cfg":          {0o644, "b"},
		"ro":           {0o400, "c"},
		"all":          {0o777, "d"},
		"none":         {0, "e"},
		"app":          {fs.ModeDir | 0o755, ""},
		"app/tls":      {fs.ModeDir | 0o755, ""},
		"app/tls/cert": {0o640, "\x00\x01\x02\xff"},
		recordName:     recordEntry("all", "app/tls/cert", "cfg", "db", "none", "ro"),
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("mount =\n%v\nwant\n%v", got, want)
	}
}

func TestWriteFilesReplacesItsFilesAndLeavesOthersAlone(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "db"), "old password", 0o644)
	writeFile(t, filepath.Join(dir, "from-an-older-class"), "stays", 0o600)
	writeFile(t, filepath.Join(dir, "app", "existing"), "stays too", 0o600)

	files := []File{
		{Path: "db", Mode: 0o600, Contents: []byte("new password")},
		{Path: "app/new", Mode: 0o644, Contents: []byte("n")},
	}
	if err := WriteFiles(dir, files); err != nil {
		t.Fatal(err)
	}
	// A second identical write (a kubelet republish) changes nothing.
	if err := WriteFiles(dir, files); err != nil {
		t.Fatal(err)
	}
	want := map[string]mountEntry{
		"db":                  {0o600, "new password"},
		"from-an-older-class": {0o600, "stays"},
		"app":                 {fs.ModeDir | 0o755, ""},
		"app/existing":        {0o600, "stays too"},
		"app/new":             {0o644, "n"},
		recordName:            recordEntry("app/new", "db"),
	}
	if got := snapshotMount(t, dir); !reflect.DeepEqual(got, want) {
		t.Errorf("mount =\n%v\nwant\n%v", got, want)
	}
}

func TestWriteFilesWithNoFilesChangesNothing(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "db"), "x", 0o644)
	before := snapshotMount(t, dir)
	if err := WriteFiles(dir, nil); err != nil {
		t.Fatal(err)
	}
	if got := snapshotMount(t, dir); !reflect.DeepEqual(got, before) {
		t.Errorf("mount changed: %v", got)
	}
}

func TestWriteFilesReplacesASymlinkWithoutFollowingIt(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	dir := filepath.Join(base, "mount")
	outside := filepath.Join(base, "outside")
	writeFile(t, outside, "not yours", 0o644)
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	// The driver's own writer leaves such links ("db -> ..data/db"); one
	// pointing out of the mount must not be written through.
	if err := os.Symlink(outside, filepath.Join(dir, "db")); err != nil {
		t.Fatal(err)
	}
	if err := WriteFiles(dir, []File{{Path: "db", Mode: 0o600, Contents: []byte("new")}}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(outside); string(b) != "not yours" {
		t.Errorf("the file outside the mount now holds %q", b)
	}
	want := map[string]mountEntry{"db": {0o600, "new"}, recordName: recordEntry("db")}
	if got := snapshotMount(t, dir); !reflect.DeepEqual(got, want) {
		t.Errorf("mount =\n%v\nwant\n%v", got, want)
	}
}

// TestWriteFilesFailureLeavesTheMountUntouched checks invariant 3: a write
// that fails, at whatever step, leaves every existing file byte for byte as
// it was, and no new file, directory or temporary file behind.
func TestWriteFilesFailureLeavesTheMountUntouched(t *testing.T) {
	t.Parallel()
	failOn := func(target string) fileWriter {
		return fileWriter{rename: func(r *os.Root, oldname, newname string) error {
			if newname == target {
				return errors.New("injected rename failure")
			}
			return r.Rename(oldname, newname)
		}}
	}
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, dir, outside string)
		files []File
		w     fileWriter
		want  string
	}{
		{
			name:  "a nested path under an existing regular file fails before anything is written",
			files: []File{{Path: "db", Mode: 0o600, Contents: []byte("new")}, {Path: "cfg/x", Mode: 0o644, Contents: []byte("x")}},
			want:  `"cfg" in the mount is an existing file`,
		},
		{
			name:  "a directory where a file must go fails before anything is written",
			files: []File{{Path: "db", Mode: 0o600, Contents: []byte("new")}, {Path: "sub", Mode: 0o644, Contents: []byte("x")}},
			want:  "a directory is in the way",
		},
		{
			name: "a symlinked directory in a nested path is never followed",
			setup: func(t *testing.T, dir, outside string) {
				if err := os.Symlink(outside, filepath.Join(dir, "link")); err != nil {
					t.Fatal(err)
				}
			},
			files: []File{{Path: "db", Mode: 0o600, Contents: []byte("new")}, {Path: "link/x", Mode: 0o644, Contents: []byte("x")}},
			want:  `"link" in the mount is a symbolic link`,
		},
		{
			name: "a rename failing after others succeeded is rolled back",
			files: []File{
				{Path: "db", Mode: 0o600, Contents: []byte("new")},
				{Path: "fresh/deep/x", Mode: 0o644, Contents: []byte("x")},
				{Path: "sub/y", Mode: 0o644, Contents: []byte("y")},
				{Path: "last", Mode: 0o644, Contents: []byte("z")},
			},
			w:    failOn("last"),
			want: "injected rename failure",
		},
		{
			name:  "a rename failing on the first file is rolled back",
			files: []File{{Path: "db", Mode: 0o600, Contents: []byte("new")}},
			w:     failOn("db"),
			want:  "injected rename failure",
		},
		{
			name:  "a path with .. is refused",
			files: []File{{Path: "db", Mode: 0o600, Contents: []byte("new")}, {Path: "../escape", Mode: 0o644}},
			want:  `".." segment`,
		},
		{
			name:  "an absolute path is refused",
			files: []File{{Path: "/etc/x", Mode: 0o644}},
			want:  "absolute path",
		},
		{
			name:  "a mode beyond 0777 is refused",
			files: []File{{Path: "db", Mode: 0o4755, Contents: []byte("new")}},
			want:  "is not between 0 and 0777",
		},
		{
			name:  "the same path twice is refused",
			files: []File{{Path: "db", Mode: 0o600}, {Path: "db", Mode: 0o644}},
			want:  "twice",
		},
		{
			name:  "a file that is another's directory is refused",
			files: []File{{Path: "a", Mode: 0o600}, {Path: "a/b", Mode: 0o644}},
			want:  "the first is the second's directory",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			base := t.TempDir()
			dir := filepath.Join(base, "mount")
			outside := filepath.Join(base, "outside")
			if err := os.Mkdir(outside, 0o755); err != nil {
				t.Fatal(err)
			}
			writeFile(t, filepath.Join(dir, "db"), "old password", 0o640)
			writeFile(t, filepath.Join(dir, "cfg"), "a regular file", 0o644)
			writeFile(t, filepath.Join(dir, "sub", "y"), "old y", 0o600)
			if tc.setup != nil {
				tc.setup(t, dir, outside)
			}
			before := snapshotMount(t, dir)

			w := tc.w
			if w.rename == nil {
				w.rename = (*os.Root).Rename
			}
			if w.remove == nil {
				w.remove = (*os.Root).Remove
			}
			err := w.write(dir, tc.files)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("write = %v, want an error containing %q", err, tc.want)
			}
			if after := snapshotMount(t, dir); !reflect.DeepEqual(after, before) {
				t.Errorf("the mount changed:\nbefore %v\nafter  %v", before, after)
			}
			if entries, _ := os.ReadDir(outside); len(entries) != 0 {
				t.Errorf("files appeared outside the mount: %v", entries)
			}
		})
	}
}

func TestWriteFilesIntoAMissingDirectoryFails(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "missing")
	if err := WriteFiles(dir, []File{{Path: "db", Mode: 0o600}}); err == nil {
		t.Fatal("WriteFiles into a missing directory succeeded")
	}
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the missing directory was created: %v", err)
	}
}

func TestWriteFilesErrorsNeverQuoteContents(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "cfg"), "x", 0o644)
	secret := []byte("TOPSECRET-contents")
	err := WriteFiles(dir, []File{{Path: "cfg/x", Mode: 0o600, Contents: secret}})
	if err == nil || bytes.Contains([]byte(err.Error()), secret) {
		t.Errorf("WriteFiles = %v; want an error without the contents", err)
	}
}

func TestWriteFilesRemovesWhatAnInterruptedWriteLeftBehind(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, ".csi-aws-0123456789abcdef.tmp"), "half a secret", 0o600)
	writeFile(t, filepath.Join(dir, "nested", ".csi-aws-fedcba9876543210.old"), "old secret", 0o644)
	writeFile(t, filepath.Join(dir, ".csi-aws-mine"), "not ours", 0o644)
	writeFile(t, filepath.Join(dir, "elsewhere", ".csi-aws-0123456789abcdef.tmp"), "not a dir we write", 0o644)
	files := []File{{Path: "a", Mode: 0o644, Contents: []byte("A")}, {Path: "nested/b", Mode: 0o644, Contents: []byte("B")}}
	if err := WriteFiles(dir, files); err != nil {
		t.Fatal(err)
	}
	got := snapshotMount(t, dir)
	for _, gone := range []string{".csi-aws-0123456789abcdef.tmp", "nested/.csi-aws-fedcba9876543210.old"} {
		if _, ok := got[gone]; ok {
			t.Errorf("%s, left by an interrupted write, is still there", gone)
		}
	}
	for _, kept := range []string{".csi-aws-mine", "elsewhere/.csi-aws-0123456789abcdef.tmp", "a", "nested/b"} {
		if _, ok := got[kept]; !ok {
			t.Errorf("%s was removed", kept)
		}
	}
}
