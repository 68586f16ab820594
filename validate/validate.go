// Package validate is the daemon's `validate` subcommand: it checks
// SecretProviderClass manifests with the parser a Mount uses (class.Parse
// and the daemon's catalog of services and auth modes), with no cluster
// and no AWS account, so that a class is fixed before a pod fails to start.
//
//	csi-provider-aws validate [--strict] -f FILE|DIR|- [-f ...]
//
// Every manifest is read as multi-document YAML (or JSON); a directory
// means every .yaml, .yml and .json file under it, and - standard input.
// Objects of another kind, and classes of another provider, are skipped
// with a note. Each problem is one line on standard output,
//
//	FILE: namespace/name: objects[i] "x": message
//
// and each warning one line with "warning: " before its message. Notes and
// a summary go to standard error. The exit code is 0 when every class is
// valid (warnings allowed unless --strict), 1 when any is not, and 2 when
// an input cannot be read or the command line is wrong.
package validate

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/csi-provider-aws/csi-provider-aws/class"
)

// Exit codes.
const (
	ExitValid      = 0
	ExitInvalid    = 1
	ExitUnreadable = 2
)

// Options are what the command works with besides its arguments.
type Options struct {
	// Catalog is the daemon's: the services and auth modes classes are
	// parsed with.
	Catalog class.Catalog
	Stdin   io.Reader
	Stdout  io.Writer
	Stderr  io.Writer
}

// Main runs the command with args (those after "validate") and returns its
// exit code.
func Main(args []string, o Options) int {
	fs := flag.NewFlagSet("csi-provider-aws validate", flag.ContinueOnError)
	fs.SetOutput(o.Stderr)
	var inputs paths
	fs.Var(&inputs, "f", "a manifest file, a directory of them (read recursively) or - for standard input; repeatable")
	strict := fs.Bool("strict", false, "exit 1 on warnings too")
	fs.Usage = func() {
		fmt.Fprintln(o.Stderr, "usage: csi-provider-aws validate [--strict] -f FILE|DIR|- [-f ...]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return ExitValid
		}
		return ExitUnreadable
	}
	if fs.NArg() > 0 || len(inputs) == 0 {
		fmt.Fprintf(o.Stderr, "csi-provider-aws validate: name the manifests with -f (got %s)\n", describeArgs(fs.Args()))
		fs.Usage()
		return ExitUnreadable
	}
	names, err := class.ParamNames(o.Catalog)
	if err != nil {
		fmt.Fprintf(o.Stderr, "csi-provider-aws validate: %v\n", err)
		return ExitUnreadable
	}
	v := &validator{catalog: o.Catalog, params: names, r: &report{out: o.Stdout, notes: o.Stderr}}
	for _, in := range inputs {
		v.input(in, o.Stdin)
	}
	return v.r.finish(*strict)
}

// paths is a repeatable -f.
type paths []string

func (p *paths) String() string     { return strings.Join(*p, ",") }
func (p *paths) Set(s string) error { *p = append(*p, s); return nil }

func describeArgs(args []string) string {
	if len(args) == 0 {
		return "no -f"
	}
	return fmt.Sprintf("%q without -f", args)
}

// report writes what the command finds and decides its exit code.
type report struct {
	out, notes io.Writer
	// classes checked, manifests (classes or documents) with a problem,
	// classes with a warning.
	classes, invalid, warned int
	unreadable               bool
}

// problem reports what makes a class (or a document) invalid.
func (r *report) problem(file, who, msg string) {
	fmt.Fprintf(r.out, "%s: %s: %s\n", file, who, oneLine(msg))
}

// warning reports what is valid but probably not what the author wants.
func (r *report) warning(file, who, msg string) {
	fmt.Fprintf(r.out, "%s: %s: warning: %s\n", file, who, oneLine(msg))
}

// note says what was skipped, and why.
func (r *report) note(file, who, msg string) {
	fmt.Fprintf(r.notes, "%s: %s: %s\n", file, who, oneLine(msg))
}

// unread reports an input that could not be read at all.
func (r *report) unread(file string, err error) {
	r.unreadable = true
	fmt.Fprintf(r.notes, "%s: cannot be read: %s\n", file, oneLine(err.Error()))
}

// finish writes the summary and returns the exit code.
func (r *report) finish(strict bool) int {
	fmt.Fprintf(r.notes, "csi-provider-aws validate: %d SecretProviderClass(es) of provider aws checked; %d manifest(s) invalid, %d class(es) with warnings\n",
		r.classes, r.invalid, r.warned)
	switch {
	case r.unreadable:
		return ExitUnreadable
	case r.invalid > 0, strict && r.warned > 0:
		return ExitInvalid
	}
	return ExitValid
}

// oneLine keeps a message on its line: YAML errors span several.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
