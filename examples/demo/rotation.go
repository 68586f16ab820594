package main

import (
	"context"
	"fmt"
	"time"

	"sigs.k8s.io/secrets-store-csi-driver/provider/v1alpha1"
)

// rotate is step 5: a new secret version, then republish like kubelet until
// the pod sees it.
func (d *demo) rotate(ctx context.Context, oldV, paramV string) error {
	before, err := readPodDir(d.target)
	if err != nil {
		return err
	}
	newV, err := d.aws.rotate(ctx)
	if err != nil {
		return err
	}
	rotatedAt := time.Now()
	resp, stale, err := d.republishUntil(ctx, newV, rotatedAt)
	if err != nil {
		return err
	}
	landed := time.Since(rotatedAt)
	after, vers, err := d.podSees(resp, expected(secretV2, password2, newV, paramV))
	if err != nil {
		return err
	}

	d.printf("\n5. Rotation: PutSecretValue %s through the AWS SDK: version %s\n", secretName, newV)
	d.printLanding(stale, landed)
	d.printChanges(contents(before), contents(after), vers)
	d.printf("     object versions: %s (was %s)\n", groupVersions(vers), oldV)
	return nil
}

// republishUntil mounts every republishEvery until the pod sees version
// newV of the watched file, and counts the stale answers before it.
func (d *demo) republishUntil(ctx context.Context, newV string, rotatedAt time.Time) (resp *v1alpha1.MountResponse, stale int, err error) {
	for {
		if resp, _, err = d.mount(ctx); err != nil {
			return nil, 0, err
		}
		files, err := readPodDir(d.target)
		if err != nil {
			return nil, 0, err
		}
		if f := contents(files)[watchedFile]; f.data == password2 && versions(resp)[watchedFile] == newV {
			return resp, stale, nil
		}
		stale++
		if time.Since(rotatedAt) > rotationTimeout {
			return nil, 0, fmt.Errorf("after %s of republishing every %s the pod still sees %s version %s; want the rotated value, version %s",
				rotationTimeout, republishEvery, watchedFile, versions(resp)[watchedFile], newV)
		}
		select {
		case <-ctx.Done():
			return nil, 0, ctx.Err()
		case <-time.After(republishEvery):
		}
	}
}

// printLanding says how many republishes it took for the new value to land.
func (d *demo) printLanding(stale int, landed time.Duration) {
	switch {
	case stale == 0:
		d.printf("     the next republish carried it (%s after the rotation)\n", round(landed))
	case d.cacheTTLFlag != "":
		d.printf("     republishing every %s: %d answers came from the daemon's value cache (%s), then the new value, %s after the rotation\n",
			republishEvery, stale, d.cacheTTLFlag, round(landed))
	default:
		d.printf("     republishing every %s: %d answers still had the old value, then the new one, %s after the rotation\n",
			republishEvery, stale, round(landed))
	}
}

// printChanges shows, file by file, what the rotation changed for the pod.
func (d *demo) printChanges(old, cur map[string]podFile, vers map[string]string) {
	for _, name := range sortedKeys(cur) {
		switch {
		case old[name].data != cur[name].data:
			was, now := around(old[name].data, cur[name].data, 30)
			d.printf("     %-20s %s -> %s\n", name, was, now)
		case name == "api-key":
			d.printf("     %-20s unchanged, version %s\n", name, vers[name])
		default:
			d.printf("     %-20s same contents, new version (a jmesPath file carries its secret's)\n", name)
		}
	}
}
