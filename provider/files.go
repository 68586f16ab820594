package provider

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/csi-provider-aws/csi-provider-aws/class"
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

// fileOverhead is an upper bound of what one file adds to the MountResponse
// beyond its path, contents and version: protobuf tags and lengths of the
// File and of its ObjectVersion. Overestimating only makes the size error
// fire a few bytes early.
const fileOverhead = 32

// BuildFiles shapes the values read for c.Objects into the mount's files:
// one per object (its value, decoded with its objectEncoding unless the
// value is read as JSON), one per jmesPath entry (what the expression
// selects) and one per top-level key of a jsonKeysAsFiles object's value.
// values[i] belongs to c.Objects[i], from whichever region served it; an
// optional object that does not exist (Value.Missing) has no files. Each
// file reports its value's version, jmesPath and key files their
// parent's.
//
// limit is the most the answer may hold (the driver's gRPC receive limit);
// beyond it BuildFiles fails with failure.TooLarge naming the largest
// objects. The objects' own files are counted first, then each file taken
// out of a JSON value as soon as it exists (a JSON text is measured
// before it is made): BuildFiles stops at the first one past the limit, so
// a class holds at most the limit plus one evaluation's budget. limit <= 0
// means no limit. Every file name is checked, keys' included, before
// BuildFiles returns, and so before any file is written.
//
// No error ever carries any part of a value.
func BuildFiles(c *class.Class, values []Value, limit int) ([]File, error) {
	if len(values) != len(c.Objects) {
		return nil, failure.New(failure.Internal, "BuildFiles got %d values for %d objects", len(values), len(c.Objects))
	}
	c, values, listed, err := expandListings(c, values)
	if err != nil {
		return nil, err
	}
	b := &filesBuilder{c: c, limit: limit, sizes: make([]int, len(c.Objects)), mount: jmes.NewBudget()}
	if listed {
		// Members' names are known only now: check them all, against
		// each other and the class's files, before any file is made.
		if b.names, err = c.MountFiles(); err != nil {
			return nil, err
		}
	}
	own := make([][]byte, len(c.Objects))
	n := 0
	for i := range c.Objects {
		o, v := &c.Objects[i], values[i]
		n += 1 + len(o.JMESPath)
		if v.Missing {
			continue
		}
		enc := o.OwnEncoding()
		data, why := decode(enc, v.Data)
		if why != "" {
			return nil, invalidArg("%s: the value is not valid %s (objectEncoding %s)%s; store it in that encoding or change objectEncoding", o.Label(), enc, enc, why)
		}
		if o.Dir != "" {
			continue // a member read as JSON: a directory, no file of its own
		}
		own[i] = data
		b.sizes[i] = fileSize(len(data), o.FileName, v.Version)
		b.total += b.sizes[i]
	}
	if b.over() {
		return nil, tooLarge(c, b.sizes, b.total, limit, false)
	}
	b.files = make([]File, 0, n)
	for i := range c.Objects {
		o, v := &c.Objects[i], values[i]
		if v.Missing {
			continue
		}
		if o.Dir == "" {
			b.files = append(b.files, File{Path: o.FileName, Mode: o.Mode, Contents: own[i], Version: v.Version})
		}
		if !o.ReadsJSON() {
			continue
		}
		release := c.EvaluationSlot()
		err := b.addJSONFiles(i, v)
		release()
		if err != nil {
			return nil, err
		}
	}
	return b.files, nil
}

// LeftOut returns the file names of the optional objects values leaves
// out (Value.Missing), in the class's order. The answer reports each with
// an empty version: the driver fails an answer without object versions
// ("missing object versions"), which a class whose every object is
// optional and missing would otherwise give it, and its records then show
// the object as not there.
func LeftOut(c *class.Class, values []Value) []string {
	var out []string
	for i, v := range values {
		if v.Missing && i < len(c.Objects) {
			// A listing at the mount's top has no name of its own.
			out = append(out, cmp.Or(c.Objects[i].FileName, c.Objects[i].Label()))
		}
	}
	return out
}

// filesBuilder is one BuildFiles: the files so far, what they add up to
// (in total and by object), and what every evaluation of the Mount shares.
type filesBuilder struct {
	c            *class.Class
	limit, total int
	sizes        []int
	files        []File
	mount        *jmes.Budget
	// names checks the keys' file names; made for the first
	// jsonKeysAsFiles object.
	names *class.MountFiles
}

func (b *filesBuilder) over() bool { return b.limit > 0 && b.total > b.limit }

// addJSONFiles adds the files object i takes out of its JSON value v: its
// jmesPath entries', then its keys' (sorted).
func (b *filesBuilder) addJSONFiles(i int, v Value) error {
	o := &b.c.Objects[i]
	doc, err := jsonDocument(o, v.Data)
	if err != nil {
		return err
	}
	err = extractJMESPath(o, doc, b.mount, func(j int, res any) error {
		e := &o.JMESPath[j]
		return b.addTaken(i, e.FileName, e.Mode, v.Version, res, jmesPathSource(o, j))
	})
	if err != nil || !o.JSONKeysAsFiles {
		return err
	}
	m, keys, err := topLevelKeys(o, doc)
	if err != nil {
		return err
	}
	if b.names == nil {
		if b.names, err = b.c.MountFiles(); err != nil {
			return err
		}
	}
	names, err := b.names.AddKeys(o, keys)
	if err != nil {
		return err
	}
	for k, key := range keys {
		if err := b.addTaken(i, names[k], o.Mode, v.Version, m[key], keySource(o, key)); err != nil {
			return err
		}
	}
	return nil
}

// addTaken adds the file path of object i holding res, a value taken out
// of its JSON value, counting it against the limit. The JSON text of a
// value that is not a string is measured before it is made.
func (b *filesBuilder) addTaken(i int, path string, mode int32, version string, res any, src fileSource) error {
	if _, isString := res.(string); !isString && b.limit > 0 {
		room := b.limit - b.total
		if n := jmes.JSONSize(res, room+1); n > room {
			b.total += n
			return tooLarge(b.c, b.sizes, b.total, b.limit, true)
		}
	}
	data, err := src.contents(res)
	if err != nil {
		return err
	}
	size := fileSize(len(data), path, version)
	b.sizes[i] += size
	if b.total += size; b.over() {
		return tooLarge(b.c, b.sizes, b.total, b.limit, true)
	}
	b.files = append(b.files, File{Path: path, Mode: mode, Contents: data, Version: version})
	return nil
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
func tooLarge(c *class.Class, sizes []int, total, limit int, partial bool) error {
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
		named[k] = fmt.Sprintf("%s (%s)", c.Objects[i].Label(), failure.Bytes(sizes[i]))
	}
	atLeast := ""
	if partial {
		atLeast = "at least "
	}
	return failure.New(failure.TooLarge,
		"the mount's files add up to %s%s, more than the %s this daemon answers in one Mount (its --max-response-bytes, kept below the driver's --max-call-recv-msg-size); the largest objects are %s; split them across volumes with separate SecretProviderClasses, or raise --max-response-bytes together with the driver's --max-call-recv-msg-size",
		atLeast, failure.Bytes(total), failure.Bytes(limit), strings.Join(named, ", "))
}
