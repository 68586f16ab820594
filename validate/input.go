package validate

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// maxInputBytes bounds one input: a SecretProviderClass is at most about
// 1.5 MiB (etcd's object limit), and a List of every class of a cluster
// (kubectl get -o yaml) rarely more than a few.
const maxInputBytes = 64 << 20

// stdinName is how standard input is named in the report.
const stdinName = "<stdin>"

// manifestExts are the files a directory is searched for.
var manifestExts = []string{".yaml", ".yml", ".json"}

// input checks what -f names: a file, every manifest under a directory, or
// standard input.
func (v *validator) input(name string, stdin io.Reader) {
	if name == "-" {
		v.read(stdinName, stdin)
		return
	}
	fi, err := os.Stat(name)
	if err != nil {
		v.r.unread(name, err)
		return
	}
	if !fi.IsDir() {
		v.file(name)
		return
	}
	var files []string
	err = filepath.WalkDir(name, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && slices.Contains(manifestExts, strings.ToLower(filepath.Ext(path))) {
			files = append(files, path)
		}
		return err
	})
	switch {
	case err != nil:
		v.r.unread(name, err)
	case len(files) == 0:
		v.r.unread(name, fmt.Errorf("the directory holds no %s file", strings.Join(manifestExts, ", ")))
	}
	for _, f := range files {
		v.file(f)
	}
}

func (v *validator) file(name string) {
	f, err := os.Open(name)
	if err != nil {
		v.r.unread(name, err)
		return
	}
	defer f.Close()
	v.read(name, f)
}

// read checks every document of one input.
func (v *validator) read(name string, r io.Reader) {
	data, err := io.ReadAll(io.LimitReader(r, maxInputBytes+1))
	if err != nil {
		v.r.unread(name, err)
		return
	}
	if len(data) > maxInputBytes {
		v.r.unread(name, fmt.Errorf("it is larger than %d MiB", maxInputBytes>>20))
		return
	}
	for _, d := range splitDocuments(data) {
		v.document(name, d)
	}
}

// document is one YAML document of an input.
type document struct {
	// index counts the input's documents from 1, empty ones left out.
	index int
	// line is the input's line the document starts on.
	line int
	data []byte
}

// name says which document this is in the report.
func (d document) name() string { return fmt.Sprintf("document %d (line %d)", d.index, d.line) }

// splitDocuments splits a YAML stream at its "---" lines, dropping
// documents that hold nothing but comments and blank lines.
func splitDocuments(data []byte) []document {
	var docs []document
	var cur bytes.Buffer
	start, hasContent := 1, false
	flush := func() {
		if hasContent {
			docs = append(docs, document{index: len(docs) + 1, line: start, data: bytes.Clone(cur.Bytes())})
		}
		cur.Reset()
		hasContent = false
	}
	for i, line := range strings.SplitAfter(string(data), "\n") {
		if isSeparator(line) {
			flush()
			start = i + 2
			continue
		}
		if t := strings.TrimSpace(line); t != "" && !strings.HasPrefix(t, "#") {
			hasContent = true
		}
		cur.WriteString(line)
	}
	flush()
	return docs
}

// isSeparator reports whether line starts a new YAML document: "---" alone
// or followed by a space (a comment). Anything after it on the line is
// dropped, as kubectl drops it.
func isSeparator(line string) bool {
	line = strings.TrimRight(line, "\r\n")
	return line == "---" || strings.HasPrefix(line, "--- ") || strings.HasPrefix(line, "---\t")
}

var yamlLineRE = regexp.MustCompile(`\bline (\d+)\b`)

// inputLines rewrites the line numbers of a YAML error about d, which count
// from d's first line, as lines of the input.
func inputLines(d document, msg string) string {
	return yamlLineRE.ReplaceAllStringFunc(msg, func(m string) string {
		n, err := strconv.Atoi(strings.TrimPrefix(m, "line "))
		if err != nil {
			return m
		}
		return "line " + strconv.Itoa(n+d.line-1)
	})
}
