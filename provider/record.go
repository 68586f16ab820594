package provider

import (
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"slices"

	"github.com/csi-provider-aws/csi-provider-aws/class"
	"github.com/csi-provider-aws/csi-provider-aws/failure"
)

// recordName is the hidden file, at the top of a pod's mount, in which
// WriteFiles lists the files it wrote (provider-writes mode). The next
// WriteFiles removes the files listed there that are no longer in its
// set, and nothing else: a jsonKeysAsFiles key gone from the secret, or an
// optional object gone from AWS, takes its file with it, while files the
// daemon did not write stay, as in the reference provider
// (docs/compatibility.md). The driver's own writer needs no record: it
// removes every file no longer listed.
const recordName = stagePrefix + "files.json"

// maxRecordBytes bounds the record read back: the daemon writes at most
// 1000 paths of 4096 bytes each, quoted. A larger or unreadable record is
// ignored, which removes nothing.
const maxRecordBytes = 9 << 20

// record is the record's JSON.
type record struct {
	Version int      `json:"version"`
	Files   []string `json:"files"`
}

// readRecord returns the paths the last WriteFiles into root recorded; nil
// when there is no record or it cannot be trusted (not a regular file,
// too large, not the daemon's JSON). Paths that are no valid file name
// are dropped: the record is in the pod's mount.
func readRecord(root *os.Root) []string {
	fi, err := root.Lstat(recordName)
	if err != nil || !fi.Mode().IsRegular() || fi.Size() > maxRecordBytes {
		return nil
	}
	h, err := root.Open(recordName)
	if err != nil {
		return nil
	}
	defer h.Close()
	b, err := io.ReadAll(io.LimitReader(h, maxRecordBytes+1))
	var r record
	if err != nil || len(b) > maxRecordBytes || json.Unmarshal(b, &r) != nil || r.Version != 1 {
		return nil
	}
	out := r.Files[:0]
	for _, p := range r.Files {
		if class.CheckRelPath(p) == "" && p != recordName {
			out = append(out, p)
		}
	}
	return out
}

// recordFile is the record of files, written with them.
func recordFile(files []File) File {
	paths := make([]string, len(files))
	for i, f := range files {
		paths[i] = f.Path
	}
	slices.Sort(paths)
	b, _ := json.Marshal(record{Version: 1, Files: paths}) // strings only: cannot fail
	return File{Path: recordName, Mode: 0o644, Contents: b}
}

// goneFiles returns the recorded paths that files no longer has.
func goneFiles(recorded []string, files []File) []string {
	keep := make(map[string]bool, len(files))
	for _, f := range files {
		keep[f.Path] = true
	}
	var out []string
	for _, p := range recorded {
		if !keep[p] {
			out = append(out, p)
		}
	}
	return out
}

// removeGone removes each of gone from the mount, keeping a hard-linked
// backup in st so that a failure after it puts the file back. A path that
// is no longer there, or is a directory now, is left alone: only a file
// the daemon wrote is ever removed.
func removeGone(root *os.Root, gone []string, st *[]stagedFile, remove func(*os.Root, string) error) error {
	for _, p := range gone {
		fi, err := root.Lstat(p)
		switch {
		case errors.Is(err, fs.ErrNotExist) || (err == nil && fi.IsDir()):
			continue
		case err != nil:
			return failure.Wrap(failure.Internal, err, "inspecting %q in the mount", p)
		}
		b, err := tempName(p, "old")
		if err != nil {
			return err
		}
		if err := root.Link(p, b); err != nil {
			return failure.Wrap(failure.Internal, err, "keeping a backup of %q in the mount", p)
		}
		*st = append(*st, stagedFile{target: p, backup: b})
		if err := remove(root, p); err != nil {
			return failure.Wrap(failure.Internal, err, "removing %q, which the secret no longer has, from the mount", p)
		}
		(*st)[len(*st)-1].done = true
	}
	return nil
}
