package auth_test

import (
	"context"
	"testing"
	"time"

	"github.com/csi-provider-aws/csi-provider-aws/internal/testkit"
	"github.com/csi-provider-aws/csi-provider-aws/request"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/csi-provider-aws/csi-provider-aws/auth"
	"github.com/csi-provider-aws/csi-provider-aws/class"
	"github.com/csi-provider-aws/csi-provider-aws/emulators/fakeaws"
	"github.com/csi-provider-aws/csi-provider-aws/emulators/fakekube"
	"github.com/csi-provider-aws/csi-provider-aws/kube"
	"github.com/csi-provider-aws/csi-provider-aws/provider"
)

// TestScopeDecidesWhoSharesValues runs Mounts the way the server does
// (Resolve, then Fetch under Scope: id.Key()) against the in-process fake
// AWS: with the pod scope the value cache, not only the credential cache,
// is per pod.
func TestScopeDecidesWhoSharesValues(t *testing.T) {
	t.Parallel()
	const role = "arn:aws:iam::123456789012:role/cart"
	tests := []struct {
		name             string
		scope            auth.ScopeMode
		wantSTS, wantGet int
	}{
		{"with the identity scope two pods share one STS call and one value read", auth.ScopeIdentity, 1, 1},
		{"with the pod scope each pod makes its own STS call and value read", auth.ScopePod, 2, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fakeAWS := fakeaws.New()
			if err := fakeAWS.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(fakeAWS.Close)
			fakeAWS.Trust(role, "system:serviceaccount:shop:cart")
			fakeAWS.PutSecretString("us-west-2", "db", "s3cr3t")

			cfg, err := provider.LoadAWSConfig(context.Background(), provider.AWSConfigOptions{MaxAttempts: 1})
			if err != nil {
				t.Fatal(err)
			}
			cfg.BaseEndpoint = aws.String(fakeAWS.URL())
			clients := provider.NewClients(cfg)
			fakeKube := fakekube.New()
			if err := fakeKube.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(fakeKube.Close)
			fakeKube.AddServiceAccount("shop", "cart", map[string]string{kube.RoleARNAnnotation: role})
			kubeconfig, err := fakeKube.Kubeconfig(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			roles, err := kube.Start(t.Context(), kube.Options{Kubeconfig: kubeconfig, QPS: 50, Burst: 100})
			if err != nil {
				t.Fatal(err)
			}
			irsa := auth.NewIRSA(func(region string) auth.STSAPI { return clients.STS(region) }, auth.IRSAOptions{})
			creds, err := auth.NewCredentials(auth.CredentialsOptions{Roles: roles, Providers: map[auth.Mode]auth.Provider{auth.ModeIRSA: irsa}, Scope: tt.scope})
			if err != nil {
				t.Fatal(err)
			}
			fetcher := provider.NewFetcher(clients, provider.FetcherOptions{CacheTTL: time.Hour})

			for round := 0; round < 3; round++ {
				for _, pod := range []string{"cart-a", "cart-b"} {
					mount(t, creds, fetcher, pod)
				}
			}
			calls := fakeAWS.Calls()
			reads := calls["secretsmanager:GetSecretValue"] + calls["secretsmanager:BatchGetSecretValue"]
			if calls["sts:AssumeRoleWithWebIdentity"] != tt.wantSTS || reads != tt.wantGet {
				t.Errorf("AWS calls for 6 Mounts of 2 pods = %v; want %d STS and %d value reads", calls, tt.wantSTS, tt.wantGet)
			}
		})
	}
}

// mount is what the server does for one Mount of pod shop/<pod>.
func mount(t *testing.T, creds *auth.Credentials, fetcher *provider.Fetcher, pod string) {
	t.Helper()
	ctx := context.Background()
	c, err := class.Parse(map[string]string{
		"region": "us-west-2", "objects": "- {objectName: db, objectType: secretsmanager}\n",
	}, 0o644, class.Catalog{Services: provider.Services(), Modes: auth.Modes()})
	if err != nil {
		t.Fatal(err)
	}
	exp := time.Now().Add(time.Hour)
	tok := testkit.Token{Namespace: "shop", ServiceAccount: "cart", Audience: auth.AudienceSTS, Expires: exp,
		Pod: &testkit.Pod{Name: pod, UID: "uid-" + pod}}
	m := &request.Mount{
		Pod:    request.Pod{Namespace: "shop", ServiceAccount: "cart", Name: pod, UID: "uid-" + pod},
		Tokens: map[string]request.Token{auth.AudienceSTS: {Token: tok.String(), Expiration: exp}},
		Class:  c, Region: "us-west-2",
	}
	id, p, err := creds.Resolve(ctx, m)
	if err != nil {
		t.Fatalf("Resolve for %s: %v", pod, err)
	}
	values, err := fetcher.Fetch(ctx, provider.FetchRequest{Scope: id.Key(), Credentials: p, Mount: m})
	if err != nil || len(values) != 1 {
		t.Fatalf("Fetch for %s: %d values, %v", pod, len(values), err)
	}
}
