//go:build e2e

package cluster

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
)

// Mount is one line of /proc/self/mountinfo that matters here.
type Mount struct {
	Point  string
	FSType string
}

// MountsUnder lists the mounts at dir or below it, as this process sees them.
func MountsUnder(dir string) ([]Mount, error) {
	if real, err := filepath.EvalSymlinks(dir); err == nil {
		dir = real
	}
	dir = filepath.Clean(dir)
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []Mount
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		// id parent major:minor root mountpoint options [optional...] - fstype source superopts
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		point := unescapeMountinfo(fields[4])
		if point != dir && !strings.HasPrefix(point, dir+"/") {
			continue
		}
		m := Mount{Point: point}
		for i, f := range fields {
			if f == "-" && i+1 < len(fields) {
				m.FSType = fields[i+1]
				break
			}
		}
		out = append(out, m)
	}
	return out, sc.Err()
}

// IsMountPoint reports whether path is itself a mount point.
func IsMountPoint(path string) (bool, error) {
	ms, err := MountsUnder(path)
	if err != nil {
		return false, err
	}
	if real, err := filepath.EvalSymlinks(path); err == nil {
		path = real
	}
	for _, m := range ms {
		if m.Point == filepath.Clean(path) {
			return true, nil
		}
	}
	return false, nil
}

// UnmountUnder detaches every mount at dir or below it, deepest first, so
// that removing dir afterwards cannot reach into a tmpfs still in use.
func UnmountUnder(dir string) error {
	ms, err := MountsUnder(dir)
	if err != nil {
		return err
	}
	sort.Slice(ms, func(i, j int) bool { return len(ms[i].Point) > len(ms[j].Point) })
	var errs []error
	for _, m := range ms {
		// A path can be mounted over more than once; detach until it is not.
		for range 10 {
			err := syscall.Unmount(m.Point, syscall.MNT_DETACH)
			if err == syscall.EINVAL || err == syscall.ENOENT {
				break
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("unmount %s: %w", m.Point, err))
				break
			}
		}
	}
	return errors.Join(errs...)
}

// unescapeMountinfo undoes the octal escapes (\040 for a space) the kernel
// uses in mountinfo paths.
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
