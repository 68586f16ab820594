package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"sigs.k8s.io/secrets-store-csi-driver/pkg/util/fileutil"
	"sigs.k8s.io/secrets-store-csi-driver/provider/v1alpha1"
)

// mount sends one Mount as the driver does and writes the answer with the
// driver's writer.
func (d *demo) mount(ctx context.Context) (*v1alpha1.MountResponse, time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, mountTimeout)
	defer cancel()
	began := time.Now()
	resp, err := d.client.Mount(ctx, &v1alpha1.MountRequest{
		Attributes: d.attrs, Secrets: "{}", TargetPath: d.target, Permission: "420",
	})
	took := time.Since(began)
	if err != nil {
		return nil, took, fmt.Errorf("Mount failed: %w", err)
	}
	if code := resp.GetError().GetCode(); code != "" {
		return nil, took, fmt.Errorf("Mount answered error code %q", code)
	}
	d.latencies = append(d.latencies, took)
	if err := fileutil.WritePayloads(d.target, resp.GetFiles()); err != nil {
		return nil, took, fmt.Errorf("the driver's fileutil.WritePayloads refused the answer: %w", err)
	}
	return resp, took, nil
}

// want is what the pod must see: contents, mode and version per file.
type want map[string]struct {
	data    string
	mode    os.FileMode
	version string
}

func check(files map[string]podFile, vers map[string]string, w want) error {
	var problems []string
	for _, name := range sortedKeys(w) {
		exp := w[name]
		f, ok := files[name]
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("%s is missing", name))
		case f.data != exp.data:
			problems = append(problems, fmt.Sprintf("%s holds %s, want %s", name, quote(f.data, 60), quote(exp.data, 60)))
		case f.mode != exp.mode:
			problems = append(problems, fmt.Sprintf("%s has mode %04o, want %04o", name, f.mode, exp.mode))
		case vers[name] != exp.version:
			problems = append(problems, fmt.Sprintf("%s reports version %q, want %q", name, vers[name], exp.version))
		}
	}
	for _, name := range sortedKeys(files) {
		if _, ok := w[name]; !ok {
			problems = append(problems, fmt.Sprintf("unexpected file %s", name))
		}
	}
	if len(problems) > 0 {
		return errors.New("the pod would see the wrong files: " + strings.Join(problems, "; "))
	}
	return nil
}

func expected(secretData, password, secretV, paramV string) want {
	return want{
		"demo_db-credentials": {secretData, 0o644, secretV},
		"db-username":         {"app", 0o644, secretV},
		"db-password":         {password, 0o400, secretV},
		"api-key":             {apiKey, 0o644, paramV},
	}
}

// podSees reads the pod's files after the Mount that answered resp and
// checks them and their object versions against w.
func (d *demo) podSees(resp *v1alpha1.MountResponse, w want) ([]podFile, map[string]string, error) {
	files, err := readPodDir(d.target)
	if err != nil {
		return nil, nil, err
	}
	vers := versions(resp)
	if err := check(contents(files), vers, w); err != nil {
		return nil, nil, err
	}
	return files, vers, nil
}

// firstMount is step 4.
func (d *demo) firstMount(ctx context.Context, secretV, paramV string) error {
	class, params, err := spcParameters(classYAML)
	if err != nil {
		return err
	}
	if d.attrs, err = mountAttributes(class, params, time.Now().Add(time.Hour)); err != nil {
		return err
	}
	d.target = filepath.Join(d.dir, "pod", "mount")
	if err := os.MkdirAll(d.target, 0o755); err != nil {
		return err
	}
	resp, took, err := d.mount(ctx)
	if err != nil {
		return err
	}
	files, vers, err := d.podSees(resp, expected(secretV1, password1, secretV, paramV))
	if err != nil {
		return err
	}
	d.printf("\n4. Mount: class %s (examples/demo/secretproviderclass.yaml: a jmesPath secret and an SSM SecureString, no region)\n", class)
	d.printf("     through the driver's provider/v1alpha1 client: %d files in %s, written by the driver's fileutil.WritePayloads:\n",
		len(resp.GetFiles()), round(took))
	printTree(d.out, "     ", d.short(d.target), files, nil)
	d.printf("     object versions: %s\n", groupVersions(vers))
	return nil
}

// groupVersions prints "a, b = v1; c = v2".
func groupVersions(vers map[string]string) string {
	byVersion := map[string][]string{}
	for id, v := range vers {
		byVersion[v] = append(byVersion[v], id)
	}
	var parts []string
	for _, v := range sortedKeys(byVersion) {
		ids := byVersion[v]
		slices.Sort(ids)
		parts = append(parts, strings.Join(ids, ", ")+" = "+v)
	}
	return strings.Join(parts, "; ")
}
