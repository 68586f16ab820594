package class_test

import (
	"strings"
	"testing"

	"github.com/csi-provider-aws/csi-provider-aws/class"
)

func TestCheckRelPath(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		path string
		ok   bool
	}{
		{"a", true}, {"a/b", true}, {".a", true}, {"a..", true}, {"a/..b", true}, {"é", true},
		{"", false}, {".", false}, {"..", false}, {"../a", false}, {"a/..", false}, {"a/../b", false},
		{"/a", false}, {"a//b", false}, {"a/", false}, {"./a", false}, {"a/./b", false},
		{"..data", false}, {"a\x00b", false}, {"\xff", false}, {strings.Repeat("a", 256), false},
		{strings.Repeat("a/", 2048) + "a", false},
	} {
		got := class.CheckRelPath(tc.path) == ""
		if got != tc.ok {
			t.Errorf("CheckRelPath(%q) accepted = %v, want %v (%s)", tc.path, got, tc.ok, class.CheckRelPath(tc.path))
		}
	}
}
