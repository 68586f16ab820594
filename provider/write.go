package provider

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"regexp"
	"slices"
	"strings"

	"github.com/csi-provider-aws/csi-provider-aws/class"
	"github.com/csi-provider-aws/csi-provider-aws/failure"
)

// dirMode is the mode of the sub-directories nested file names create; the
// driver's own writer uses the same.
const dirMode = 0o755

// stagePrefix starts the names of the temporary and backup files WriteFiles
// keeps next to their targets while it works. The leading dot hides them
// from "ls"; they never outlive a WriteFiles call.
const stagePrefix = ".csi-aws-"

// WriteFiles writes files into dir, the pod's mount, for the mode in which
// the daemon writes instead of the driver. It is all or nothing: every file
// is first written in full to a temporary file next to its target and
// synced, and only then renamed over its target, with a hard-linked backup
// of the old file kept until the end. If anything fails, the files already
// renamed are restored from their backups, new files and directories are
// removed, and the mount is left as it was.
//
// It never follows a symbolic link inside dir: a symlink where a nested
// path needs a directory is an error, and a symlink where a file goes is
// replaced, not written through. dir is opened as an os.Root, so no path can
// leave it. Modes are set with chmod after creation, so the umask does not
// matter.
//
// Files in dir that are not in files are left alone, as the reference
// provider leaves them, unless the daemon wrote them: a hidden record
// (recordName), written in the same all-or-nothing step, lists the files
// each WriteFiles wrote, and the next removes those it no longer has (a
// jsonKeysAsFiles key gone from the secret, an optional object gone from
// AWS), with backups until the end like the files it replaces. (When the
// driver writes, it deletes every file no longer listed.) Callers must not
// run two WriteFiles on one dir at once.
func WriteFiles(dir string, files []File) error {
	return fileWriter{rename: (*os.Root).Rename, remove: (*os.Root).Remove}.write(dir, files)
}

// fileWriter holds the steps tests need to make fail after others succeed:
// renaming a file into place, and removing a file no longer in the set.
type fileWriter struct {
	rename func(r *os.Root, oldname, newname string) error
	remove func(r *os.Root, name string) error
}

// stagedFile is one file on its way in.
type stagedFile struct {
	target string
	tmp    string // temporary file holding the new contents; "" once renamed
	backup string // hard link to the replaced file; "" if there was none
	done   bool   // renamed over target
}

func (w fileWriter) write(dir string, files []File) (err error) {
	if err := checkFileSet(files); err != nil {
		return err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return failure.Wrap(failure.Internal, err, "opening the mount directory")
	}
	defer root.Close()

	recorded := readRecord(root)
	if len(files) > 0 || recorded != nil {
		files = append(files[:len(files):len(files)], recordFile(files))
	}
	gone := goneFiles(recorded, files)
	mkdirs, err := planDirs(root, files)
	if err != nil {
		return err
	}
	removeLeftovers(root, files)

	var created []string
	st := make([]stagedFile, len(files))
	defer func() {
		if err != nil {
			rollback(root, st, created)
		}
	}()
	if err := makeDirs(root, mkdirs, &created); err != nil {
		return err
	}
	for i, f := range files {
		st[i].target = f.Path
		tmp, err := stageFile(root, f)
		if err != nil {
			return err
		}
		st[i].tmp = tmp
	}
	if err := w.commit(root, st); err != nil {
		return err
	}
	if err := removeGone(root, gone, &st, w.remove); err != nil {
		return err
	}
	for _, s := range st {
		if s.backup != "" {
			_ = root.Remove(s.backup)
		}
	}
	for _, p := range gone {
		files = append(files, File{Path: p})
	}
	syncDirs(root, files)
	return nil
}

// makeDirs creates the directories the files need, parents first, adding
// each to created as it goes.
func makeDirs(root *os.Root, mkdirs []string, created *[]string) error {
	for _, d := range mkdirs {
		if err := root.Mkdir(d, dirMode); err != nil {
			return failure.Wrap(failure.Internal, err, "creating directory %q in the mount", d)
		}
		*created = append(*created, d)
		if err := root.Chmod(d, dirMode); err != nil {
			return failure.Wrap(failure.Internal, err, "setting the mode of directory %q in the mount", d)
		}
	}
	return nil
}

// commit renames each staged file over its target, keeping a hard-linked
// backup of the file it replaces.
func (w fileWriter) commit(root *os.Root, st []stagedFile) error {
	for i := range st {
		s := &st[i]
		fi, err := root.Lstat(s.target)
		switch {
		case err == nil && fi.IsDir():
			return failure.New(failure.Internal, "cannot write file %q in the mount: a directory is in the way", s.target)
		case err == nil:
			b, err := tempName(s.target, "old")
			if err != nil {
				return err
			}
			if err := root.Link(s.target, b); err != nil {
				return failure.Wrap(failure.Internal, err, "keeping a backup of %q in the mount", s.target)
			}
			s.backup = b
		case !errors.Is(err, fs.ErrNotExist):
			return failure.Wrap(failure.Internal, err, "inspecting %q in the mount", s.target)
		}
		if err := w.rename(root, s.tmp, s.target); err != nil {
			return failure.Wrap(failure.Internal, err, "moving file %q into place in the mount", s.target)
		}
		s.tmp, s.done = "", true
	}
	return nil
}

// checkFileSet refuses a set the mount cannot hold. BuildFiles output always
// passes; this guards against a caller that built files by hand.
func checkFileSet(files []File) error {
	seen := make(map[string]bool, len(files))
	for _, f := range files {
		if why := class.CheckRelPath(f.Path); why != "" {
			return failure.New(failure.Internal, "cannot write file %q: the name %s", f.Path, why)
		}
		if f.Mode < 0 || f.Mode > 0o777 {
			return failure.New(failure.Internal, "cannot write file %q: mode %#o is not between 0 and 0777", f.Path, f.Mode)
		}
		if seen[f.Path] {
			return failure.New(failure.Internal, "cannot write file %q twice in one mount", f.Path)
		}
		if f.Path == recordName {
			return failure.New(failure.Internal, "cannot write file %q: the daemon keeps the list of the files it wrote under that name; give the object that writes it another objectAlias", f.Path)
		}
		seen[f.Path] = true
	}
	for _, f := range files {
		for d := path.Dir(f.Path); d != "."; d = path.Dir(d) {
			if seen[d] {
				return failure.New(failure.Internal, "cannot write both file %q and file %q: the first is the second's directory", d, f.Path)
			}
		}
	}
	return nil
}

// planDirs checks every directory the files need, before anything is written,
// and returns the ones to create, parents first. A symlink or a regular file
// where a directory must be is an error.
func planDirs(root *os.Root, files []File) ([]string, error) {
	var mkdirs []string
	known := map[string]bool{}
	for _, f := range files {
		segs := strings.Split(f.Path, "/")
		for k := 1; k < len(segs); k++ {
			d := strings.Join(segs[:k], "/")
			if _, ok := known[d]; ok {
				continue
			}
			fi, err := root.Lstat(d)
			switch {
			case errors.Is(err, fs.ErrNotExist):
				known[d] = false
				mkdirs = append(mkdirs, d)
			case err != nil:
				return nil, failure.Wrap(failure.Internal, err, "inspecting %q in the mount", d)
			case fi.Mode()&fs.ModeSymlink != 0:
				return nil, failure.New(failure.Internal, "cannot write file %q: %q in the mount is a symbolic link, which is never followed", f.Path, d)
			case !fi.IsDir():
				return nil, failure.New(failure.Internal, "cannot write file %q: %q in the mount is an existing file, not a directory", f.Path, d)
			default:
				known[d] = true
			}
		}
		fi, err := root.Lstat(f.Path)
		if err == nil && fi.IsDir() {
			return nil, failure.New(failure.Internal, "cannot write file %q in the mount: a directory is in the way", f.Path)
		}
	}
	return mkdirs, nil
}

// stageFile writes f in full to a new temporary file in its target's
// directory (so the rename that follows stays on one file system) and syncs
// it.
func stageFile(root *os.Root, f File) (string, error) {
	for attempt := 0; ; attempt++ {
		tmp, err := tempName(f.Path, "tmp")
		if err != nil {
			return "", err
		}
		h, err := root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, fs.ErrExist) && attempt < 3 {
			continue
		}
		if err != nil {
			return "", failure.Wrap(failure.Internal, err, "creating a temporary file for %q in the mount", f.Path)
		}
		err = writeAll(h, f)
		if cerr := h.Close(); err == nil && cerr != nil {
			err = failure.Wrap(failure.Internal, cerr, "closing the temporary file for %q", f.Path)
		}
		if err != nil {
			_ = root.Remove(tmp)
			return "", err
		}
		return tmp, nil
	}
}

func writeAll(h *os.File, f File) error {
	if _, err := h.Write(f.Contents); err != nil {
		return failure.Wrap(failure.Internal, err, "writing the temporary file for %q", f.Path)
	}
	// Chmod after create: the mode given to open is filtered by the umask.
	if err := h.Chmod(fs.FileMode(f.Mode)); err != nil {
		return failure.Wrap(failure.Internal, err, "setting the mode of the temporary file for %q", f.Path)
	}
	if err := h.Sync(); err != nil {
		return failure.Wrap(failure.Internal, err, "syncing the temporary file for %q", f.Path)
	}
	return nil
}

// tempName returns a fresh name next to target: .csi-aws-<random>.<kind>.
// It does not contain target's base name, which may already be 255 bytes.
func tempName(target, kind string) (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", failure.Wrap(failure.Internal, err, "naming a temporary file")
	}
	return path.Join(path.Dir(target), fmt.Sprintf("%s%s.%s", stagePrefix, hex.EncodeToString(b[:]), kind)), nil
}

// leftoverRE matches the names tempName makes.
var leftoverRE = regexp.MustCompile(`^` + regexp.QuoteMeta(stagePrefix) + `[0-9a-f]{16}\.(tmp|old)$`)

// removeLeftovers removes the temporary files and backups that a WriteFiles
// interrupted by a crash or a kill left in the directories this one writes
// to. Only names tempName makes are touched, never a directory; writers of
// one dir are serialised by the caller, so none of them is in use.
func removeLeftovers(root *os.Root, files []File) {
	dirs := map[string]bool{".": true}
	for _, f := range files {
		dirs[path.Dir(f.Path)] = true
	}
	for d := range dirs {
		h, err := root.Open(d)
		if err != nil {
			continue
		}
		entries, _ := h.ReadDir(-1)
		_ = h.Close()
		for _, e := range entries {
			if !e.IsDir() && leftoverRE.MatchString(e.Name()) {
				_ = root.Remove(path.Join(d, e.Name()))
			}
		}
	}
}

// rollback puts the mount back as it was: renamed files are restored from
// their backups (or removed if they were new), leftover temporary files and
// backups removed, and new directories removed, deepest first.
func rollback(root *os.Root, st []stagedFile, created []string) {
	for i := len(st) - 1; i >= 0; i-- {
		s := st[i]
		switch {
		case s.done && s.backup != "":
			// If this fails the backup stays: a stray hidden file is
			// better than losing what the pod had.
			_ = root.Rename(s.backup, s.target)
		case s.done:
			_ = root.Remove(s.target)
		case s.backup != "":
			// Linked but never replaced: the target still holds the old file.
			_ = root.Remove(s.backup)
		}
		if s.tmp != "" {
			_ = root.Remove(s.tmp)
		}
	}
	for _, d := range slices.Backward(created) {
		_ = root.Remove(d)
	}
}

// syncDirs makes the renames durable on file systems where that matters
// (the usual tmpfs mount does not need it, but a hostPath target would).
// Failures are ignored: the files are already in place.
func syncDirs(root *os.Root, files []File) {
	dirs := map[string]bool{".": true}
	for _, f := range files {
		dirs[path.Dir(f.Path)] = true
	}
	for d := range dirs {
		if h, err := root.Open(d); err == nil {
			_ = h.Sync()
			_ = h.Close()
		}
	}
}
