package provider

import "testing"

func TestClassCacheReturnsIndependentCopiesOfOneParse(t *testing.T) {
	cc := NewClassCache(4)
	params := map[string]string{"objects": "- {objectName: db, objectType: secretsmanager}\n", "csi.storage.k8s.io/pod.name": "a"}
	a, err := cc.Parse(params, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	params["csi.storage.k8s.io/pod.name"] = "b" // per-pod keys do not change the class
	b, err := cc.Parse(params, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if &a.Objects[0] != &b.Objects[0] {
		t.Error("the second pod's class was parsed again")
	}
	if err := a.WithRegion("us-east-1"); err != nil {
		t.Fatal(err)
	}
	if b.Region != "" {
		t.Errorf("setting one copy's region changed the other: %q", b.Region)
	}
	c, err := cc.Parse(params, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if c.Objects[0].Mode != 0o600 {
		t.Errorf("another default mode reused a parse with mode %o", c.Objects[0].Mode)
	}
	params["objects"] = "- {objectName: db, objectType: vault}\n"
	if _, err := cc.Parse(params, 0o644); err == nil {
		t.Error("a bad class was accepted from the cache")
	}
}
