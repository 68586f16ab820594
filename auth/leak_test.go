package auth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/csi-provider-aws/csi-provider-aws/request"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/smithy-go"
	"github.com/go-logr/logr/funcr"
	"k8s.io/klog/v2"
)

// texts returns every way err and the errors it wraps can be printed.
func texts(err error) []string {
	if err == nil {
		return nil
	}
	out := []string{err.Error(), fmt.Sprintf("%v", err), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err), fmt.Sprintf("%q", err)}
	switch u := err.(type) {
	case interface{ Unwrap() error }:
		out = append(out, texts(u.Unwrap())...)
	case interface{ Unwrap() []error }:
		for _, e := range u.Unwrap() {
			out = append(out, texts(e)...)
		}
	}
	return out
}

// TestNoErrorCarriesATokenOrCredential drives every failure path with a
// token that AWS or the agent echo back, and checks that no error (nor any
// error it wraps) prints the token or a credential.
func TestNoErrorCarriesATokenOrCredential(t *testing.T) {
	good := saToken(t, "shop", "cart", AudienceSTS).Token
	podTok := saToken(t, "shop", "cart", AudiencePodIdentity).Token
	forbidden := []string{good, podTok, strings.Split(good, ".")[1], strings.Split(podTok, ".")[1],
		"secret-1", "session-1", "pod-secret", "pod-session", "real-secret", "real-session"}

	var errs []error
	add := func(what string, err error) {
		if err == nil {
			t.Errorf("%s: no error", what)
			return
		}
		errs = append(errs, fmt.Errorf("%s: %w", what, err))
	}

	// Parsing and checking.
	_, err := request.ParseTokens(map[string]string{request.AttrTokens: `{"sts.amazonaws.com":{"token":"` + good}, nil)
	add("truncated tokens", err)
	_, err = request.ParseTokens(map[string]string{request.AttrTokens: `{"sts.amazonaws.com":"` + good + `"}`}, nil)
	add("a bare token", err)
	_, err = request.ParseTokens(nil, map[string]string{request.AttrTokens: `{"sts.amazonaws.com":{"token":"` + good + `","expirationTimestamp":"` + good + `"}}`})
	add("a token as timestamp", err)
	_, err = request.ParseTokens(map[string]string{request.AttrTokens: good}, nil)
	add("a token instead of JSON", err)
	for _, tok := range []string{good, good + "x", strings.Replace(good, ".", "!", 1), strings.Split(good, ".")[1]} {
		add("CheckToken for another ServiceAccount", CheckToken(request.Token{Token: tok}, AudienceSTS, "shop", "other", t0))
		add("CheckToken for another audience", CheckToken(request.Token{Token: tok}, AudiencePodIdentity, "shop", "cart", t0))
		add("CheckToken expired", CheckToken(request.Token{Token: tok, Expiration: t0}, AudienceSTS, "shop", "cart", t0))
	}

	// IRSA: STS echoing the token in its message.
	f := newFixture(t, serviceAccount("shop", "cart", roleCart))
	req := testReq(t, "shop", "cart", "p1")
	req.Tokens[AudienceSTS] = request.Token{Token: good}
	req.Tokens[AudiencePodIdentity] = request.Token{Token: podTok}
	f.sts.setErr(&smithy.GenericAPIError{Code: "ValidationError", Message: "Value '" + good + "' at 'webIdentityToken' failed to satisfy constraint", Fault: smithy.FaultClient})
	_, _, err = f.creds.Resolve(context.Background(), req.mount())
	add("STS echoing the token", err)
	f.sts.setErr(fmt.Errorf("transport failed for token %s", good))
	_, _, err = f.creds.Resolve(context.Background(), req.mount())
	add("a transport error quoting the token", err)

	// The real STS client echoing the token in its XML error.
	func() {
		isolateAWSEnv(t)
		srv := newSTSServer(t)
		srv.fail = `<ErrorResponse><Error><Type>Sender</Type><Code>InvalidIdentityToken</Code><Message>token ` + good + ` is bad</Message></Error><RequestId>r</RequestId></ErrorResponse>`
		t.Setenv("AWS_ENDPOINT_URL_STS", srv.URL)
		cfg, err := config.LoadDefaultConfig(context.Background(), config.WithCredentialsProvider(aws.AnonymousCredentials{}))
		if err != nil {
			t.Fatal(err)
		}
		id := Identity{Mode: ModeIRSA, Namespace: "shop", ServiceAccount: "cart", RoleARN: roleCart, Region: "eu-west-1"}
		_, err = NewIRSA(regionalClients(cfg), IRSAOptions{}).exchange(context.Background(), id, good, "")
		add("the real STS client echoing the token", err)
	}()

	// Pod Identity: the agent echoing the token, or not there at all.
	req.Mode = ModePodIdentity
	errs = append(errs, agentErrors(t, podTok, req)...)
	errs = append(errs, retryAndFailoverErrors(t, good, podTok)...)
	errs = append(errs, nameAndPodClaimErrors(t, good)...)

	checkNoLeak(t, errs, forbidden)
}

// checkNoLeak fails if any of errs, or any error they wrap, prints one of
// forbidden.
func checkNoLeak(t *testing.T, errs []error, forbidden []string) {
	t.Helper()
	for _, err := range errs {
		for _, text := range texts(err) {
			for _, s := range forbidden {
				if strings.Contains(text, s) {
					t.Errorf("an error prints a token or credential %.12s...: %s", s, text)
				}
			}
		}
	}
	if len(errs) < 20 {
		t.Errorf("only %d errors checked", len(errs))
	}
	var unwrapped int
	for _, err := range errs {
		for e := errors.Unwrap(err); e != nil; e = errors.Unwrap(e) {
			unwrapped++
		}
	}
	if unwrapped == 0 {
		t.Errorf("no wrapped errors were walked")
	}
}

// agentErrors drives the agent client with answers that echo the token,
// and with no agent at all.
func agentErrors(t *testing.T, podTok string, req testRequest) []error {
	var errs []error
	add := func(what string, err error) {
		if err == nil {
			t.Errorf("%s: no error", what)
			return
		}
		errs = append(errs, fmt.Errorf("%s: %w", what, err))
	}
	for _, status := range []int{400, 403, 500, 200} {
		echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(status)
			fmt.Fprintf(w, `{"message":"bad token %s"}`, r.Header.Get("Authorization"))
		}))
		p := NewPodIdentity(PodIdentityOptions{IPv4Endpoint: echo.URL, IPv6Endpoint: echo.URL})
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond) // a 500 is retried until then
		_, err := p.exchange(ctx, podID, podTok, "auto")
		cancel()
		add(fmt.Sprintf("the agent echoing the token with HTTP %d", status), err)
		echo.Close()
	}
	p := NewPodIdentity(PodIdentityOptions{IPv4Endpoint: deadEndpoint(t), IPv6Endpoint: deadEndpoint(t)})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err := p.exchange(ctx, podID, podTok, "auto")
	add("no agent", err)
	f2 := newFixture(t)
	f2.agent.status, f2.agent.body = 401, podTok
	_, _, err = f2.creds.Resolve(context.Background(), req.mount())
	add("Resolve with the agent echoing the token", err)

	return errs
}

// retryAndFailoverErrors drives the retried agent and the STS failover with
// answers that echo the token.
func retryAndFailoverErrors(t *testing.T, good, podTok string) []error {
	var errs []error
	echo := func(w http.ResponseWriter, r *http.Request, status int) {
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"message":"bad token %s"}`, r.Header.Get("Authorization"))
	}
	for _, statuses := range [][]int{{500}, {429}, {503}, {500, 403}, {429, 400}} {
		var n atomic.Int32
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			i := min(int(n.Add(1)), len(statuses)) - 1
			echo(w, r, statuses[i])
		}))
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		_, err := NewPodIdentity(PodIdentityOptions{IPv4Endpoint: srv.URL}).exchange(ctx, podID, podTok, "ipv4")
		cancel()
		srv.Close()
		if err == nil {
			t.Errorf("the agent answering %v: no error", statuses)
			continue
		}
		errs = append(errs, fmt.Errorf("the retried agent echoing the token with %v: %w", statuses, err))
	}

	f := newFixture(t, serviceAccount("shop", "cart", roleCart))
	echoing := func(context.Context) error {
		return &smithy.GenericAPIError{Code: "InternalFailure", Message: "token " + good + " broke STS", Fault: smithy.FaultServer}
	}
	sr := &scriptedRegions{fs: f.sts, script: map[string]func(context.Context) error{"eu-west-1": echoing, "eu-central-1": echoing}}
	f.creds.providers[ModeIRSA] = NewIRSA(sr.forRegion, IRSAOptions{})
	req := testReq(t, "shop", "cart", "p1")
	req.Tokens[AudienceSTS] = request.Token{Token: good}
	req.FailoverRegion = "eu-central-1"
	_, _, err := f.creds.Resolve(context.Background(), req.mount())
	if err == nil {
		t.Fatal("STS echoing the token in both regions: no error")
	}
	errs = append(errs, fmt.Errorf("STS echoing the token in both regions: %w", err))

	// The failover answering: only the log line tells of the primary's error.
	var mu sync.Mutex
	var lines []string
	klog.SetLogger(funcr.New(func(prefix, args string) {
		mu.Lock()
		defer mu.Unlock()
		lines = append(lines, prefix+" "+args)
	}, funcr.Options{}))
	defer klog.ClearLogger()
	delete(sr.script, "eu-central-1")
	f2 := newFixture(t, serviceAccount("shop", "cart", roleCart))
	f2.creds.providers[ModeIRSA] = NewIRSA(sr.forRegion, IRSAOptions{})
	if _, _, err := f2.creds.Resolve(context.Background(), req.mount()); err != nil {
		t.Fatalf("the failover region answering: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(lines) == 0 || !strings.Contains(strings.Join(lines, "\n"), "broke STS") {
		t.Errorf("the primary's error was not logged when the failover region answered: %q", lines)
	}
	for _, l := range lines {
		errs = append(errs, errors.New("log line: "+l))
	}
	return errs
}

// nameAndPodClaimErrors puts the token where a pod claim goes (where a
// name goes is package request's: request/pod_test.go).
func nameAndPodClaimErrors(t *testing.T, good string) []error {
	var errs []error
	f := scopedFixture(t, ScopePod, false, serviceAccount("shop", "cart", roleCart))
	req := testReq(t, "shop", "cart", "p1")
	req.Tokens[AudienceSTS] = podToken(t, "shop", "cart", AudienceSTS, good, good)
	if _, _, err := f.creds.Resolve(context.Background(), req.mount()); err != nil {
		errs = append(errs, fmt.Errorf("a pod claim holding the token: %w", err))
	} else {
		t.Error("a pod claim holding the token: no error")
	}
	return errs
}
