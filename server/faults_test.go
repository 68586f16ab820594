package server_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/csi-provider-aws/csi-provider-aws/emulators/fakeaws"
	"github.com/csi-provider-aws/csi-provider-aws/emulators/fakekube"
)

// faultEnv is a daemon that writes the files itself (so that "nothing
// mounted is lost or half written" is checked on a real directory) over the
// in-process fake, with a short TTL so that tests can step past it, and one
// pod whose volume was mounted before the fault.
type faultEnv struct {
	fake   *fakeaws.Server
	d      *daemon
	params map[string]string
	p      pod
	target string
}

const faultTTL = 300 * time.Millisecond

func newFaultEnv(t *testing.T, o daemonOptions) *faultEnv {
	t.Helper()
	f, url := startFake(t)
	f.PutSecretString("us-west-2", "db", "db-1")
	f.PutParameter("us-west-2", "/app/flag", "SecureString", "flag-1")
	if o.kube == nil {
		o.kube = cluster(serviceAccount("team", "app", role), serviceAccount("team", "fresh", role), serviceAccount("team", "third", role))
	}
	o.endpoint, o.cacheTTL = url, faultTTL
	if o.staleMax == 0 {
		o.staleMax = time.Minute
	}
	e := &faultEnv{fake: f, d: startDaemon(t, o), p: pod{ns: "team", name: "web", sa: "app"}, target: t.TempDir(),
		params: map[string]string{"region": "us-west-2", "objects": `
- {objectName: db, objectType: secretsmanager}
- {objectName: /app/flag, objectType: ssmparameter, objectAlias: flag}
`}}
	if _, err := e.d.mount(t, e.p, e.params, e.target); err != nil {
		t.Fatal(err)
	}
	e.wantFiles(t, "db-1", "flag-1")
	return e
}

// wantFiles checks the pod's files are whole: exactly these two, with
// these contents.
func (e *faultEnv) wantFiles(t *testing.T, db, flag string) {
	t.Helper()
	got := readMount(t, e.target)
	if len(got) != 2 || got["db"].data != db || got["flag"].data != flag {
		t.Errorf("the pod sees %v, want db=%s flag=%s and nothing else", got, db, flag)
	}
}

// afterTTL waits until the cached values need confirming again.
func afterTTL() { time.Sleep(faultTTL + 50*time.Millisecond) }

// mountAs mounts a pod of another ServiceAccount: nothing of it is cached.
func (e *faultEnv) mountAs(t *testing.T, sa string) error {
	_, err := e.d.mount(t, pod{ns: "team", name: sa + "-pod", sa: sa}, e.params, t.TempDir())
	return err
}

// TestAWSFaultsAreSurvivedOrExplained: a fault of AWS after the values
// were read keeps the pod's files and, for a server fault, throttling or a
// timeout, serves the last good value (counted); an identity with nothing
// cached fails with the code and a message that name the cause.
func TestAWSFaultsAreSurvivedOrExplained(t *testing.T) {
	cases := []struct {
		name     string
		fault    fakeaws.Fault
		timeout  time.Duration
		code     codes.Code
		message  string
		outcome  string
		apiFault string
	}{
		{"a throttling storm", fakeaws.Fault{Status: 429}, 0,
			codes.ResourceExhausted, "ThrottlingException", "Throttled", "Throttled"},
		{"server faults", fakeaws.Fault{Status: 500}, 0,
			codes.Aborted, "InternalServiceError", "Unavailable", "Unavailable"},
		{"AWS slower than the Mount's deadline", fakeaws.Fault{Delay: 5 * time.Second}, 2 * time.Second,
			codes.DeadlineExceeded, "timed out", "Timeout", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newFaultEnv(t, daemonOptions{mountTimeout: tc.timeout})
			afterTTL()
			for _, svc := range []string{"secretsmanager", "ssm"} { // STS works: the fault is in the secret stores
				f := tc.fault
				f.Service = svc
				e.fake.Inject(f)
			}
			stale := e.d.metric(t, "csi_provider_aws_stale_values_served_total", nil)

			if _, err := e.d.mount(t, e.p, e.params, e.target); err != nil {
				t.Fatalf("the pod whose values were read before the fault: %v, want the last good values", err)
			}
			e.wantFiles(t, "db-1", "flag-1")
			if n := e.d.metric(t, "csi_provider_aws_stale_values_served_total", nil) - stale; n != 2 {
				t.Errorf("stale values counted = %v, want 2 (one per object)", n)
			}

			err := e.mountAs(t, "fresh")
			if status.Code(err) != tc.code || !strings.Contains(err.Error(), tc.message) || !strings.Contains(err.Error(), `"db"`) {
				t.Errorf("an identity with nothing cached got %v, want %v naming the object and %q", err, tc.code, tc.message)
			}
			if n := e.d.metric(t, "csi_provider_aws_mounts_total", map[string]string{"outcome": tc.outcome}); n != 1 {
				t.Errorf("mounts_total{outcome=%s} = %v, want 1", tc.outcome, n)
			}
			if tc.apiFault != "" {
				if n := e.d.metric(t, "csi_provider_aws_api_calls_total", map[string]string{"outcome": tc.apiFault}); n == 0 {
					t.Errorf("api_calls_total{outcome=%s} did not count the faults", tc.apiFault)
				}
			}
		})
	}
}

// TestRevocationIsNeverHiddenByTheCache: once AWS refuses a secret to an
// identity, its cached value is not served, not even as a stale value
// during a later outage; the pod's files stay as they were.
func TestRevocationIsNeverHiddenByTheCache(t *testing.T) {
	e := newFaultEnv(t, daemonOptions{})
	afterTTL()
	e.fake.DenySecret(role, "db")
	_, err := e.d.mount(t, e.p, e.params, e.target)
	if status.Code(err) != codes.PermissionDenied || !strings.Contains(err.Error(), "secretsmanager:GetSecretValue") {
		t.Fatalf("err = %v, want PermissionDenied saying which permission", err)
	}
	e.wantFiles(t, "db-1", "flag-1")
	e.fake.ClearPolicies()
	e.fake.Inject(fakeaws.Fault{Service: "secretsmanager", Status: 500})
	if _, err := e.d.mount(t, e.p, e.params, e.target); status.Code(err) != codes.Aborted {
		t.Errorf("err = %v: a value AWS refused was served during the outage that followed", err)
	}
	if n := e.d.metric(t, "csi_provider_aws_mounts_total", map[string]string{"outcome": "PermissionDenied"}); n != 1 {
		t.Errorf("mounts_total{outcome=PermissionDenied} = %v, want 1", n)
	}
	e.wantFiles(t, "db-1", "flag-1")
}

// TestDaemonRestartMidRotation: the daemon stops after a secret rotated
// and before the pod's republish; the new daemon, with an empty cache,
// answers the republish with the new value, and the files are never half
// written in between.
func TestDaemonRestartMidRotation(t *testing.T) {
	e := newFaultEnv(t, daemonOptions{})
	e.fake.PutSecretString("us-west-2", "db", "db-2")
	e.d.stop()
	if _, err := e.d.mount(t, e.p, e.params, e.target); status.Code(err) != codes.Unavailable {
		t.Fatalf("a Mount while the daemon is down: %v, want Unavailable (the driver retries)", err)
	}
	e.wantFiles(t, "db-1", "flag-1")
	kube := cluster(serviceAccount("team", "app", role))
	d2 := startDaemon(t, daemonOptions{endpoint: e.fake.URL(), kube: kube, cacheTTL: faultTTL, staleMax: time.Minute, socket: e.d.socket})
	if _, err := d2.mount(t, e.p, e.params, e.target); err != nil {
		t.Fatal(err)
	}
	e.wantFiles(t, "db-2", "flag-1")
}

// TestTheAPIServerGoingAwayAfterStart: ServiceAccounts the informers
// already hold keep resolving with no API server; one it never saw fails
// with a message that says the Kubernetes API could not be read.
func TestTheAPIServerGoingAwayAfterStart(t *testing.T) {
	k := fakekube.New()
	if err := k.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(k.Close)
	k.AddNode("node-1", map[string]string{"topology.kubernetes.io/region": "us-west-2"})
	k.AddServiceAccount("team", "app", map[string]string{"eks.amazonaws.com/role-arn": role})
	e := newFaultEnv(t, daemonOptions{kube: k})
	k.Close()
	afterTTL()
	if _, err := e.d.mount(t, e.p, e.params, e.target); err != nil {
		t.Errorf("a known ServiceAccount with the API server gone: %v, want its files", err)
	}
	e.wantFiles(t, "db-1", "flag-1")
	err := e.mountAs(t, "never-seen")
	if status.Code(err) != codes.Aborted || !strings.Contains(err.Error(), "ServiceAccount team/never-seen") || !strings.Contains(err.Error(), "Kubernetes API") {
		t.Errorf("an unknown ServiceAccount with the API server gone: %v, want Aborted naming it and the Kubernetes API", err)
	}
	if n := e.d.metric(t, "csi_provider_aws_mounts_total", map[string]string{"outcome": "Unavailable"}); n != 1 {
		t.Errorf("mounts_total{outcome=Unavailable} = %v, want 1", n)
	}
}

// TestCredentialsAWSRejectsAreDroppedAtOnce: credentials revoked ("Revoke
// active sessions", an AccessDenied with an explicit deny) or expired early
// are dropped on AWS's answer and the read retried once with new ones,
// instead of failing every Mount of the identity until the refresh about
// 40 minutes later.
func TestCredentialsAWSRejectsAreDroppedAtOnce(t *testing.T) {
	for _, tc := range []struct {
		name   string
		reject func(f *fakeaws.Server)
	}{
		{"sessions revoked with an explicit deny", func(f *fakeaws.Server) { f.RevokeSessions(role) }},
		{"credentials expired before their time", func(f *fakeaws.Server) { f.ExpireSessions(role) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newFaultEnv(t, daemonOptions{deniedCredsMinAge: time.Nanosecond})
			e.fake.PutSecretString("us-west-2", "db", "db-2")
			// Past the TTL, and a republish after a republish: AWS is asked.
			afterTTL()
			if _, err := e.d.mount(t, e.p, e.params, e.target); err != nil {
				t.Fatal(err)
			}
			time.Sleep(10 * time.Millisecond) // sessions issued until now are revoked
			tc.reject(e.fake)
			afterTTL()
			sts := e.d.calls.count("STS", "AssumeRoleWithWebIdentity", "us-west-2")
			if _, err := e.d.mount(t, e.p, e.params, e.target); err != nil {
				t.Fatalf("the Mount after AWS rejected the cached credentials: %v, want it served with new ones", err)
			}
			e.wantFiles(t, "db-2", "flag-1")
			if n := e.d.calls.count("STS", "AssumeRoleWithWebIdentity", "us-west-2") - sts; n != 1 {
				t.Errorf("STS calls = %d, want 1 for the new credentials", n)
			}
		})
	}
	t.Run("a denial of fresh credentials is not retried: it is a missing permission", func(t *testing.T) {
		e := newFaultEnv(t, daemonOptions{})
		afterTTL()
		e.fake.DenySecret(role, "db")
		sts := e.d.calls.count("STS", "AssumeRoleWithWebIdentity", "us-west-2")
		if _, err := e.d.mount(t, e.p, e.params, e.target); status.Code(err) != codes.PermissionDenied {
			t.Fatalf("err = %v, want PermissionDenied", err)
		}
		if n := e.d.calls.count("STS", "AssumeRoleWithWebIdentity", "us-west-2") - sts; n != 0 {
			t.Errorf("STS calls = %d: credentials a minute old were dropped for a plain denial", n)
		}
	})
}

// TestAnSTSOutageInThePrimaryRegionIsCoveredByTheFailoverRegion: a class
// with a failoverRegion gets credentials from the failover region's STS
// while the primary's fails with a server fault; a denial there is not
// failed over.
func TestAnSTSOutageInThePrimaryRegionIsCoveredByTheFailoverRegion(t *testing.T) {
	e := newFaultEnv(t, daemonOptions{})
	e.fake.PutSecretString("us-east-1", "db", "db-east")
	e.fake.PutParameter("us-east-1", "/app/flag", "SecureString", "flag-east")
	params := map[string]string{"region": "us-west-2", "failoverRegion": "us-east-1", "objects": e.params["objects"]}
	// STS calls are unsigned: the fake cannot tell their region, but the
	// primary is always asked first (and retried once), so the first two
	// fail; the daemon's own counter says which region answered.
	e.fake.Inject(fakeaws.Fault{Service: "sts", Status: 500, Count: 2})
	target := t.TempDir()
	if _, err := e.d.mount(t, pod{ns: "team", name: "fresh-pod", sa: "fresh"}, params, target); err != nil {
		t.Fatalf("an identity with nothing cached while the primary's STS fails: %v", err)
	}
	if got := readMount(t, target)["db"].data; got != "db-1" {
		t.Errorf("db = %q, want the primary's value: only STS failed over", got)
	}
	if n := e.d.calls.count("STS", "AssumeRoleWithWebIdentity", "us-east-1"); n != 1 {
		t.Errorf("STS calls in the failover region = %d, want 1", n)
	}
	e.fake.ClearFaults()
	e.fake.Inject(fakeaws.Fault{Service: "sts", Code: "AccessDenied", Status: 403, Count: 1})
	before := e.d.calls.count("STS", "AssumeRoleWithWebIdentity", "us-east-1")
	_, err := e.d.mount(t, pod{ns: "team", name: "p3", sa: "third"}, params, t.TempDir())
	if status.Code(err) != codes.PermissionDenied {
		t.Errorf("err = %v, want the primary STS's denial", err)
	}
	if e.d.calls.count("STS", "AssumeRoleWithWebIdentity", "us-east-1") != before {
		t.Error("a denial by the primary's STS was sent to the failover region")
	}
}

// flakyAgent is an EKS Pod Identity agent whose next answers can be set:
// "down" (the connection is dropped), "500", "429", "slow" (1.05 s, as an
// agent calling EKS Auth on a cache miss) or "ok" once the script is used up.
type flakyAgent struct {
	*httptest.Server
	mu     sync.Mutex
	script []string
	calls  int
}

func newFlakyAgent(t *testing.T) *flakyAgent {
	a := &flakyAgent{}
	a.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		a.calls++
		next := "ok"
		if len(a.script) > 0 {
			next, a.script = a.script[0], a.script[1:]
		}
		a.mu.Unlock()
		switch next {
		case "down":
			if hj, ok := w.(http.Hijacker); ok {
				if c, _, err := hj.Hijack(); err == nil {
					c.Close()
				}
			}
			return
		case "500", "429":
			code := map[string]int{"500": 500, "429": 429}[next]
			http.Error(w, `{"code":"Failure","message":"injected"}`, code)
			return
		case "slow":
			time.Sleep(1050 * time.Millisecond)
		}
		_ = json.NewEncoder(w).Encode(map[string]string{
			"AccessKeyId": "ASIAAGENT", "SecretAccessKey": "agent-secret", "Token": "agent-session",
			"AccountId": "123456789012", "Expiration": time.Now().Add(time.Hour).UTC().Format(time.RFC3339)})
	}))
	t.Cleanup(a.Close)
	return a
}

func (a *flakyAgent) then(answers ...string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.script, a.calls = answers, 0
}

// TestAPodIdentityAgentThatFaltersIsRetried: with the daemon's default
// flags, an agent that fails once, throttles once, or takes a second to
// answer still gets the pod its credentials; one that stays down fails the
// Mount within its deadline with a message naming the agent add-on, and the
// pod's files stay as they were.
func TestAPodIdentityAgentThatFaltersIsRetried(t *testing.T) {
	agent := newFlakyAgent(t)
	e := newFaultEnv(t, daemonOptions{podIdentityURL: agent.URL, mountTimeout: 6 * time.Second})
	params := map[string]string{"region": "us-west-2", "usePodIdentity": "true", "preferredAddressType": "ipv4", "objects": e.params["objects"]}
	for i, tc := range []struct {
		name    string
		answers []string
	}{
		{"an agent that answers 500 once", []string{"500"}},
		{"an agent that throttles once", []string{"429"}},
		{"an agent that drops the connection once", []string{"down"}},
		{"an agent that takes a second to answer", []string{"slow"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			agent.then(tc.answers...)
			// Another pod of another ServiceAccount each time: nothing cached.
			sa := fmt.Sprintf("pi-%d", i)
			target := t.TempDir()
			if _, err := e.d.mount(t, pod{ns: "team", name: sa, sa: sa}, params, target); err != nil {
				t.Fatalf("err = %v, want the Mount served after a retry", err)
			}
			if got := readMount(t, target)["db"].data; got != "db-1" {
				t.Errorf("db = %q", got)
			}
		})
	}
	t.Run("an agent that stays down fails the Mount in time and says which add-on to check", func(t *testing.T) {
		down := make([]string, 100)
		for i := range down {
			down[i] = "down"
		}
		agent.then(down...)
		target := t.TempDir()
		start := time.Now()
		_, err := e.d.mount(t, pod{ns: "team", name: "pi-down", sa: "pi-down"}, params, target)
		if status.Code(err) == codes.OK || !strings.Contains(err.Error(), "eks-pod-identity-agent") {
			t.Errorf("err = %v, want a failure naming the eks-pod-identity-agent add-on", err)
		}
		if took := time.Since(start); took > 6*time.Second+500*time.Millisecond {
			t.Errorf("the Mount took %v, past its 6s deadline", took)
		}
		if len(readMount(t, target)) != 0 {
			t.Error("a failed first Mount wrote files")
		}
	})
}
