package main

import (
	"os"
	"strconv"
	"strings"
	"testing"
)

func rssFileKiB(t *testing.T) int {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "RssFile:" {
			n, _ := strconv.Atoi(f[1])
			return n
		}
	}
	t.Skip("this kernel does not report RssFile")
	return 0
}

func TestReleasingStartupPagesShrinksTheResidentBinary(t *testing.T) {
	before := rssFileKiB(t)
	if releaseStartupPages() == 0 {
		t.Skip("this kernel refuses MADV_PAGEOUT (before Linux 5.4)")
	}
	after := rssFileKiB(t)
	if after >= before {
		t.Errorf("file-backed RSS %d KiB -> %d KiB; want it smaller after MADV_PAGEOUT", before, after)
	}
	t.Logf("file-backed RSS %d KiB -> %d KiB", before, after)
}
