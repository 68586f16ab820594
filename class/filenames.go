package class

import (
	"fmt"
	"path"
	"strings"
	"unicode/utf8"
)

// Limits the driver's atomic writer enforces on every path it is handed
// (sigs.k8s.io/secrets-store-csi-driver pkg/util/fileutil). A name past them
// would pass here and fail in the driver with a less helpful message.
const (
	maxPathLength     = 4096
	maxFileNameLength = 255
)

// translateName derives a file name: the alias, else the object name, with
// "/" replaced by the translation character; with translation off a leading
// "/" is dropped (the reference trims every leading "/") and the rest stays
// a nested path.
func translateName(translation, alias, name string) string {
	base := alias
	if base == "" {
		base = name
	}
	if translation != "" {
		return strings.ReplaceAll(base, "/", translation)
	}
	return strings.TrimLeft(base, "/")
}

// CheckRelPath reports why p cannot be a file path of the mount, or "" when
// it can: p must be relative, clean, without "." or ".." segments, valid
// UTF-8 (MountResponse paths are protobuf strings) and within the driver's
// length limits. The text completes "file name X ...".
func CheckRelPath(p string) string {
	switch {
	case p == "":
		return "is empty"
	case !utf8.ValidString(p):
		return "is not valid UTF-8"
	case strings.IndexByte(p, 0) >= 0:
		return "contains a NUL byte"
	case path.IsAbs(p):
		return "is an absolute path"
	case len(p) > maxPathLength:
		return fmt.Sprintf("is longer than %d bytes", maxPathLength)
	}
	segs := strings.Split(p, "/")
	for _, s := range segs {
		if s == ".." {
			return "has a \"..\" segment (it would point outside the mount)"
		}
	}
	for _, s := range segs {
		switch {
		case s == "":
			return "has an empty segment (a doubled or trailing \"/\")"
		case s == ".":
			return "has a \".\" segment"
		case len(s) > maxFileNameLength:
			return fmt.Sprintf("has a segment longer than %d bytes", maxFileNameLength)
		}
	}
	// The driver's writer keeps its own "..data" and timestamped
	// directories at the top of the mount.
	if strings.HasPrefix(segs[0], "..") {
		return "starts with \"..\" (the driver reserves such names for its own files)"
	}
	if path.Clean(p) != p {
		return "is not a clean path"
	}
	return ""
}

// fileOwner is what writes one file: an object, one of its jmesPath
// entries (jmes >= 0), or one of its jsonKeysAsFiles keys (isKey).
type fileOwner struct {
	obj   *Object
	jmes  int
	key   string
	isKey bool
}

func (w fileOwner) String() string {
	switch {
	case w.isKey:
		return fmt.Sprintf("%s jsonKeysAsFiles key %s", w.obj.Label(), short(w.key))
	case w.jmes >= 0:
		return fmt.Sprintf("%s jmesPath[%d]", w.obj.Label(), w.jmes)
	}
	return w.obj.Label()
}

// fileNames holds the files of a class or a Mount, who writes each, and
// the directories their paths need, so that each name added is checked
// against all the others in time proportional to its own segments.
type fileNames struct {
	owners map[string]fileOwner
	// dirs maps each directory a file needs to the first file needing it.
	dirs map[string]string
}

func newFileNames(n int) *fileNames {
	return &fileNames{owners: make(map[string]fileOwner, n), dirs: map[string]string{}}
}

// add claims name for w. It refuses a name another file has, a name that
// is the directory another file needs, and a name that needs as a
// directory what is another file.
func (fn *fileNames) add(name string, w fileOwner) error {
	if prev, ok := fn.owners[name]; ok {
		return invalidArg("%s and %s would both write file %q; %s", w, prev, name, collisionHint(w, prev))
	}
	if needer, ok := fn.dirs[name]; ok {
		return invalidArg("%s writes file %q, but %s needs %q to be a directory for its file %q; %s",
			w, name, fn.owners[needer], name, needer, collisionHint(w, fn.owners[needer]))
	}
	for k := strings.IndexByte(name, '/'); k >= 0; k = nextSlash(name, k) {
		if dirOwner, ok := fn.owners[name[:k]]; ok {
			return invalidArg("%s writes file %q, but %s needs %q to be a directory for its file %q; %s",
				dirOwner, name[:k], w, name[:k], name, collisionHint(w, dirOwner))
		}
	}
	fn.owners[name] = w
	for k := strings.IndexByte(name, '/'); k >= 0; k = nextSlash(name, k) {
		if _, ok := fn.dirs[name[:k]]; !ok {
			fn.dirs[name[:k]] = name
		}
	}
	return nil
}

// addClass claims the files every Mount of the class writes: each object's
// own and its jmesPath entries'.
func (fn *fileNames) addClass(objs []Object) error {
	for i := range objs {
		o := &objs[i]
		if o.Listing != nil {
			continue // its files are known at Mount time (Class.Member)
		}
		if o.Dir == "" { // a member read as JSON has no file of its own
			if err := fn.add(o.FileName, fileOwner{obj: o, jmes: -1}); err != nil {
				return err
			}
		}
		for j := range o.JMESPath {
			if err := fn.add(o.JMESPath[j].FileName, fileOwner{obj: o, jmes: j}); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkFileNames refuses two writers of one file and a file that another
// needs as a directory. The reference provider let the later object silently
// overwrite the earlier one, including the same object listed twice with
// different labels and no alias (docs/compatibility.md, validation the
// reference lacked).
func checkFileNames(objs []Object) error {
	return newFileNames(len(objs)).addClass(objs)
}

func nextSlash(s string, k int) int {
	n := strings.IndexByte(s[k+1:], '/')
	if n < 0 {
		return -1
	}
	return k + 1 + n
}

func collisionHint(a, b fileOwner) string {
	switch {
	case a.isKey || b.isKey:
		return "rename the key in the secret, or give the other file a different objectAlias (or list the keys you need under jmesPath, each with its objectAlias)"
	case a.jmes < 0 && b.jmes < 0 && a.obj.Name == b.obj.Name:
		return "the same objectName listed twice needs a distinct objectAlias for each; give one an objectAlias"
	case a.jmes < 0 && b.jmes < 0 && a.obj.Alias == "" && b.obj.Alias == "":
		return "give one an objectAlias"
	}
	return "give one a different objectAlias"
}
