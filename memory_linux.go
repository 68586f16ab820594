package main

import (
	"bufio"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
	"k8s.io/klog/v2"
)

// releaseStartupPages asks the kernel to drop the pages of this binary that
// start-up touched and steady state does not need. Go runs every package's
// initialisation (client-go registers every Kubernetes API group, the AWS
// SDK builds its service schemas) through tens of megabytes of code and
// read-only data that a Mount never touches again; those clean, file-backed
// pages would otherwise stay resident. MADV_PAGEOUT reclaims them now; any
// that are needed again are read back on demand, so this changes memory,
// never behaviour. Kernels without MADV_PAGEOUT (before 5.4) refuse it and
// nothing changes.
func releaseStartupPages() (released uintptr) {
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return 0
	}
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// address perms offset dev inode path
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 || fields[5] != exe || strings.Contains(fields[1], "w") {
			continue
		}
		lo, hi, ok := strings.Cut(fields[0], "-")
		if !ok {
			continue
		}
		start, err1 := strconv.ParseUint(lo, 16, 64)
		end, err2 := strconv.ParseUint(hi, 16, 64)
		if err1 != nil || err2 != nil || end <= start {
			continue
		}
		if _, _, errno := unix.Syscall(unix.SYS_MADVISE, uintptr(start), uintptr(end-start), unix.MADV_PAGEOUT); errno == 0 {
			released += uintptr(end - start)
		}
	}
	klog.V(2).InfoS("released start-up pages of the binary", "mappedBytes", released)
	return released
}
