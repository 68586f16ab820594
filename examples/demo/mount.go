package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	yaml "go.yaml.in/yaml/v3"
	"sigs.k8s.io/secrets-store-csi-driver/provider/v1alpha1"

	"github.com/csi-provider-aws/csi-provider-aws/internal/testkit"
)

// spcParameters reads spec.parameters of the embedded SecretProviderClass.
func spcParameters(src []byte) (name string, params map[string]string, err error) {
	var c struct {
		Kind     string `yaml:"kind"`
		Metadata struct {
			Name string `yaml:"name"`
		} `yaml:"metadata"`
		Spec struct {
			Provider   string            `yaml:"provider"`
			Parameters map[string]string `yaml:"parameters"`
		} `yaml:"spec"`
	}
	if err := yaml.Unmarshal(src, &c); err != nil {
		return "", nil, fmt.Errorf("the demo's SecretProviderClass: %w", err)
	}
	if c.Kind != "SecretProviderClass" || c.Spec.Provider != "aws" || c.Spec.Parameters["objects"] == "" {
		return "", nil, fmt.Errorf("the demo's SecretProviderClass is not an aws class with objects")
	}
	return c.Metadata.Name, c.Spec.Parameters, nil
}

// mountAttributes is MountRequest.attributes as driver v1.6 builds it: the
// class's spec.parameters merged with the volume attributes kubelet sends,
// including the service-account tokens the CSIDriver's tokenRequests ask
// for (unsigned here: the AWS stand-ins check claims, not signatures).
func mountAttributes(class string, params map[string]string, tokenExp time.Time) (string, error) {
	return testkit.Mount{Namespace: namespace, Pod: podName, UID: "5f0c3c8e-4a5b-4d6e-9f00-0000000de110",
		ServiceAccount: serviceAccount, Class: class, Params: params, TokenExpires: tokenExp}.Attributes(), nil
}

// versions maps object version ids (file names) to versions.
func versions(resp *v1alpha1.MountResponse) map[string]string {
	out := map[string]string{}
	for _, v := range resp.GetObjectVersion() {
		out[v.GetId()] = v.GetVersion()
	}
	return out
}

// podFile is one file as the pod sees it, through the driver's symlinks.
type podFile struct {
	name, link string
	mode       os.FileMode
	data       string
	isDir      bool
}

// readPodDir lists the mount's top level as `ls -la` would, resolving each
// symlink to the file it points at.
func readPodDir(dir string) ([]podFile, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []podFile
	for _, e := range entries {
		path := filepath.Join(dir, e.Name())
		f := podFile{name: e.Name()}
		if e.Type()&os.ModeSymlink != 0 {
			if f.link, err = os.Readlink(path); err != nil {
				return nil, err
			}
		}
		st, err := os.Stat(path)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", e.Name(), err)
		}
		f.mode, f.isDir = st.Mode().Perm(), st.IsDir()
		if !f.isDir {
			b, err := os.ReadFile(path)
			if err != nil {
				return nil, err
			}
			f.data = string(b)
		}
		out = append(out, f)
	}
	return out, nil
}

// contents reads the pod's files by name (directories and ..-entries left
// out).
func contents(files []podFile) map[string]podFile {
	out := map[string]podFile{}
	for _, f := range files {
		if !f.isDir && !strings.HasPrefix(f.name, "..") {
			out[f.name] = f
		}
	}
	return out
}

// printTree prints the mount as a pod sees it, with each file's mode,
// symlink target, contents and object version.
func printTree(w io.Writer, indent, root string, files []podFile, vers map[string]string) {
	fmt.Fprintf(w, "%s%s/\n", indent, root)
	width := 0
	for _, f := range files {
		width = max(width, len(label(f)))
	}
	for i, f := range files {
		branch := "├── "
		if i == len(files)-1 {
			branch = "└── "
		}
		switch {
		case f.isDir && f.link == "":
			fmt.Fprintf(w, "%s%s%-*s  %04o  the files themselves, written atomically\n", indent, branch, width, label(f), f.mode)
		case f.isDir:
			fmt.Fprintf(w, "%s%s%-*s        swapped in one rename on every write\n", indent, branch, width, label(f))
		default:
			v := vers[f.name]
			if v != "" {
				v = "  version " + v
			}
			fmt.Fprintf(w, "%s%s%-*s  %04o  %s%s\n", indent, branch, width, label(f), f.mode, quote(f.data, 44), v)
		}
	}
}

func label(f podFile) string {
	s := f.name
	if f.isDir && f.link == "" {
		s += "/"
	}
	if f.link != "" {
		s += " -> " + f.link
	}
	return s
}

// quote shows a value on one line, cut at n runes: in backquotes when it
// has no control characters (JSON stays readable), else Go-quoted.
func quote(s string, n int) string {
	r := []rune(s)
	if len(r) > n {
		return show(string(r[:n])) + "…"
	}
	return show(s)
}

func show(s string) string {
	if strconv.CanBackquote(s) {
		return "`" + s + "`"
	}
	return strconv.Quote(s)
}

// around quotes the part of two values where they first differ, n runes
// wide, so a change inside a long JSON value shows.
func around(a, b string, n int) (string, string) {
	ra, rb := []rune(a), []rune(b)
	p := 0
	for p < len(ra) && p < len(rb) && ra[p] == rb[p] {
		p++
	}
	start := max(0, p-n/2)
	cut := func(r []rune) string {
		end := min(len(r), start+n)
		s := show(string(r[start:end]))
		if start > 0 {
			s = "…" + s
		}
		if end < len(r) {
			s += "…"
		}
		return s
	}
	return cut(ra), cut(rb)
}

// sortedKeys returns m's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
