package server_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// TestHundredsOfConcurrentMountsOfMixedIdentities: 300 Mounts at once from
// pods of six ServiceAccounts (two pairs share a role ARN) each get their
// own identity's values, with one STS call and one batch read per identity.
// Fake only: it needs per-role denials and exact call counts.
func TestHundredsOfConcurrentMountsOfMixedIdentities(t *testing.T) {
	fake, url := startFake(t)
	type identity struct{ ns, sa, role string }
	ids := []identity{
		{"shop", "cart", "arn:aws:iam::123456789012:role/shared"},
		{"shop", "pay", "arn:aws:iam::123456789012:role/shared"},
		{"bank", "cart", "arn:aws:iam::123456789012:role/shared"},
		{"shop", "search", "arn:aws:iam::123456789012:role/search"},
		{"ops", "agent", "arn:aws:iam::123456789012:role/ops"},
		{"ops", "audit", "arn:aws:iam::123456789012:role/ops"},
	}
	var sas []*corev1.ServiceAccount
	for _, id := range ids {
		sas = append(sas, serviceAccount(id.ns, id.sa, id.role))
	}
	fake.PutSecretString("us-west-2", "common", "common-value")
	fake.PutSecretString("us-west-2", "ops-only", "ops-value")
	// Only the ops role may read ops-only: a pod of another identity must
	// never get it, even while it is cached for ops pods.
	for _, role := range []string{"arn:aws:iam::123456789012:role/shared", "arn:aws:iam::123456789012:role/search"} {
		fake.DenySecret(role, "ops-only")
	}
	fake.ResetCalls()
	d := startDaemon(t, daemonOptions{endpoint: url, driverWritesSecrets: true, cacheTTL: time.Hour, kube: cluster(sas...)})
	params := map[string]string{"region": "us-west-2", "objects": "- {objectName: common, objectType: secretsmanager}\n- {objectName: ops-only, objectType: secretsmanager}\n"}

	var wg sync.WaitGroup
	type outcome struct {
		id  identity
		ops string
		err error
	}
	results := make(chan outcome, 300)
	for i := range 300 {
		id := ids[i%len(ids)]
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := d.mount(t, pod{ns: id.ns, name: fmt.Sprintf("pod-%d", i), sa: id.sa}, params, t.TempDir())
			o := outcome{id: id, err: err}
			for _, f := range resp.GetFiles() {
				if f.Path == "ops-only" {
					o.ops = string(f.Contents)
				}
			}
			results <- o
		}()
	}
	wg.Wait()
	close(results)
	for o := range results {
		isOps := o.id.role == "arn:aws:iam::123456789012:role/ops"
		switch {
		case isOps && (o.err != nil || o.ops != "ops-value"):
			t.Errorf("%s/%s: err %v, ops-only %q; want the value", o.id.ns, o.id.sa, o.err, o.ops)
		case !isOps && (o.err == nil || o.ops != ""):
			t.Errorf("%s/%s was served ops-only (%q, err %v); its role may not read it", o.id.ns, o.id.sa, o.ops, o.err)
		}
	}
	calls := fake.Calls()
	if calls["sts:AssumeRoleWithWebIdentity"] != len(ids) {
		t.Errorf("STS calls = %d, want one per identity (%d): same role ARN is not the same identity", calls["sts:AssumeRoleWithWebIdentity"], len(ids))
	}
	// Each identity reads both secrets in one batch; the four denied ones
	// read ops-only again on each later Mount (failures are never cached, so
	// a fixed policy takes effect at once), the two ops identities never.
	opsReads := 0
	for _, c := range fake.Log() {
		if c.Operation == "BatchGetSecretValue" && c.RoleARN == "arn:aws:iam::123456789012:role/ops" {
			opsReads++
		}
	}
	if opsReads != 2 {
		t.Errorf("the two ops identities made %d BatchGetSecretValue calls, want one each", opsReads)
	}
}
