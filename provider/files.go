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
func BuildFiles(c *class.Class, values []Value, limit int) ([]File, error) {
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
		release := c.EvaluationSlot()
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
