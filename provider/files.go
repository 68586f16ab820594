package provider

import (
	"cmp"
	"fmt"
	"path"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/csi-provider-aws/csi-provider-aws/failure"
	"github.com/csi-provider-aws/csi-provider-aws/jmes"
)

// File is one file of the mount: what the driver writes (driver-writes mode)
// or what the daemon writes itself.
type File struct {
	// Path is relative, clean, without "..".
	Path string
	// Mode is 0-0777.
	Mode int32
	// Contents is the file's bytes.
	Contents []byte
	// Version is the object version reported for this file.
	Version string
}

// Limits the driver's atomic writer enforces on every path it is handed
// (sigs.k8s.io/secrets-store-csi-driver pkg/util/fileutil). A name past them
// would pass here and fail in the driver with a less helpful message.
const (
	maxPathLength     = 4096
	maxFileNameLength = 255
)

// fileOverhead is an upper bound of what one file adds to the MountResponse
// beyond its path, contents and version: protobuf tags and lengths of the
// File and of its ObjectVersion. Overestimating only makes the size error
// fire a few bytes early.
const fileOverhead = 32

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

// checkRelPath reports why p cannot be a file path of the mount, or "" when
// it can: p must be relative, clean, without "." or ".." segments, valid
// UTF-8 (MountResponse paths are protobuf strings) and within the driver's
// length limits. The text completes "file name X ...".
func checkRelPath(p string) string {
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

// fileOwner is what writes one file: an object, or one of its jmesPath
// entries (jmes >= 0).
type fileOwner struct {
	obj  *Object
	jmes int
}

func (w fileOwner) String() string {
	if w.jmes < 0 {
		return w.obj.label()
	}
	return fmt.Sprintf("%s jmesPath[%d]", w.obj.label(), w.jmes)
}

// checkFileNames refuses two writers of one file and a file that another
// needs as a directory. The reference provider let the later object silently
// overwrite the earlier one, including the same object listed twice with
// different labels and no alias (docs/compatibility.md, validation the
// reference lacked).
func checkFileNames(objs []Object) error {
	owners := make(map[string]fileOwner)
	var order []string
	add := func(name string, w fileOwner) error {
		if prev, ok := owners[name]; ok {
			return invalidArg("%s and %s would both write file %q; %s", w, prev, name, collisionHint(w, prev))
		}
		owners[name] = w
		order = append(order, name)
		return nil
	}
	for i := range objs {
		o := &objs[i]
		if err := add(o.FileName, fileOwner{obj: o, jmes: -1}); err != nil {
			return err
		}
		for j := range o.JMESPath {
			if err := add(o.JMESPath[j].FileName, fileOwner{obj: o, jmes: j}); err != nil {
				return err
			}
		}
	}
	for _, name := range order {
		for k := strings.IndexByte(name, '/'); k >= 0; k = nextSlash(name, k) {
			if dirOwner, ok := owners[name[:k]]; ok {
				return invalidArg("%s writes file %q, but %s needs %q to be a directory for its file %q; give one a different objectAlias",
					dirOwner, name[:k], owners[name], name[:k], name)
			}
		}
	}
	return nil
}

func nextSlash(s string, k int) int {
	n := strings.IndexByte(s[k+1:], '/')
	if n < 0 {
		return -1
	}
	return k + 1 + n
}

func collisionHint(a, b fileOwner) string {
	if a.jmes < 0 && b.jmes < 0 && a.obj.Name == b.obj.Name {
		return "the same objectName listed twice needs a distinct objectAlias for each; give one an objectAlias"
	}
	if a.jmes < 0 && b.jmes < 0 && a.obj.Alias == "" && b.obj.Alias == "" {
		return "give one an objectAlias"
	}
	return "give one a different objectAlias"
}

// BuildFiles shapes the values read for c.Objects into the mount's files:
// one per object (its value as is) and one per jmesPath entry (the string
// the expression selects). values[i] belongs to c.Objects[i], from whichever
// region served it; each file reports that value's version, jmesPath files
// their parent's. Contents share the values' bytes.
//
// limit is the most the answer may hold (the driver's gRPC receive limit);
// beyond it BuildFiles fails with failure.TooLarge naming the largest
// objects. The objects' own files are counted first, then each jmesPath
// result as soon as it is evaluated: BuildFiles stops at the first one past
// the limit, so a class holds at most the limit plus one evaluation's
// budget. limit <= 0 means no limit.
//
// No error ever carries any part of a value.
func BuildFiles(c *Class, values []Value, limit int) ([]File, error) {
	if len(values) != len(c.Objects) {
		return nil, failure.New(failure.Internal, "BuildFiles got %d values for %d objects", len(values), len(c.Objects))
	}
	n := len(c.Objects)
	for i := range c.Objects {
		n += len(c.Objects[i].JMESPath)
	}
	sizes := make([]int, len(c.Objects))
	total := 0
	for i := range c.Objects {
		sizes[i] = fileSize(len(values[i].Data), c.Objects[i].FileName, values[i].Version)
		total += sizes[i]
	}
	over := func() bool { return limit > 0 && total > limit }
	if over() {
		return nil, tooLarge(c, sizes, total, limit, false)
	}
	files := make([]File, 0, n)
	mount := jmes.NewBudget()
	for i := range c.Objects {
		o, v := &c.Objects[i], values[i]
		files = append(files, File{Path: o.FileName, Mode: o.Mode, Contents: v.Data, Version: v.Version})
		if len(o.JMESPath) == 0 {
			continue
		}
		release := acquire(c.work)
		err := extractJMESPath(o, v.Data, mount, func(j int, s string) error {
			e := &o.JMESPath[j]
			size := fileSize(len(s), e.FileName, v.Version)
			sizes[i] += size
			if total += size; over() {
				return tooLarge(c, sizes, total, limit, true)
			}
			files = append(files, File{Path: e.FileName, Mode: e.Mode, Contents: []byte(s), Version: v.Version})
			return nil
		})
		release()
		if err != nil {
			return nil, err
		}
	}
	return files, nil
}

// fileSize estimates what a file costs in the MountResponse: the File
// (path, mode, contents) and its ObjectVersion (id = path, version).
func fileSize(contents int, path, version string) int {
	return contents + 2*len(path) + len(version) + fileOverhead
}

// maxNamedObjects is how many of the largest objects the size error names.
const maxNamedObjects = 3

// tooLarge names the largest objects. partial means BuildFiles stopped
// before evaluating every jmesPath entry: the total is then a lower bound.
func tooLarge(c *Class, sizes []int, total, limit int, partial bool) error {
	idx := make([]int, len(sizes))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(sizes[b], sizes[a]) })
	if len(idx) > maxNamedObjects {
		idx = idx[:maxNamedObjects]
	}
	named := make([]string, len(idx))
	for k, i := range idx {
		named[k] = fmt.Sprintf("%s (%s)", c.Objects[i].label(), failure.Bytes(sizes[i]))
	}
	atLeast := ""
	if partial {
		atLeast = "at least "
	}
	return failure.New(failure.TooLarge,
		"the mount's files add up to %s%s, more than the %s this daemon answers in one Mount (its --max-response-bytes, kept below the driver's --max-call-recv-msg-size); the largest objects are %s; split them across volumes with separate SecretProviderClasses, or raise --max-response-bytes together with the driver's --max-call-recv-msg-size",
		atLeast, failure.Bytes(total), failure.Bytes(limit), strings.Join(named, ", "))
}
