package auth

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/csi-provider-aws/csi-provider-aws/internal/testkit"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/csi-provider-aws/csi-provider-aws/failure"
)

const roleCart = "arn:aws:iam::123456789012:role/cart"

func TestIRSAAssumesTheRoleInTheIdentitysRegion(t *testing.T) {
	t.Parallel()
	clock := newClock()
	fs := newFakeSTS(clock)
	var asked []string
	var mu sync.Mutex
	irsa := NewIRSA(func(region string) STSAPI {
		mu.Lock()
		defer mu.Unlock()
		asked = append(asked, region)
		return fs.forRegion(region)
	}, IRSAOptions{Duration: 20 * time.Minute})
	id := Identity{Mode: ModeIRSA, Namespace: "shop", ServiceAccount: "cart", RoleARN: roleCart,
		Region: "ap-southeast-2", PodName: "cart-1", PodUID: "u1"}

	creds, err := irsa.exchange(context.Background(), id, "the-token", "")
	if err != nil {
		t.Fatal(err)
	}
	call := fs.last()
	want := stsCall{region: "ap-southeast-2", roleARN: roleCart, sessionName: "shop.cart-1", token: "the-token", duration: 1200}
	if call != want {
		t.Errorf("STS call = %+v, want %+v", call, want)
	}
	if len(asked) != 1 || asked[0] != "ap-southeast-2" {
		t.Errorf("STS clients asked for regions %v", asked)
	}
	if creds.AccessKeyID != "ASIA1" || creds.SecretAccessKey != "secret-1" || creds.SessionToken != "session-1" ||
		!creds.CanExpire || !creds.Expires.Equal(t0.Add(time.Hour)) || creds.AccountID != "123456789012" {
		t.Errorf("credentials = %+v", creds)
	}
}

func TestIRSALetsSTSChooseTheDurationByDefault(t *testing.T) {
	t.Parallel()
	fs := newFakeSTS(newClock())
	irsa := NewIRSA(fs.forRegion, IRSAOptions{})
	id := Identity{Mode: ModeIRSA, Namespace: "shop", ServiceAccount: "cart", RoleARN: roleCart, Region: "eu-west-1"}
	if _, err := irsa.exchange(context.Background(), id, "tok", ""); err != nil {
		t.Fatal(err)
	}
	if d := fs.last().duration; d != 0 {
		t.Errorf("DurationSeconds = %d, want unset", d)
	}
}

// stsServer answers AssumeRoleWithWebIdentity in the STS query protocol
// (form-encoded request, XML answer) and records what it received.
type stsServer struct {
	*httptest.Server
	mu       sync.Mutex
	requests []stsRequest
	// fail, when set, is the XML error answer (status 400).
	fail string
}

type stsRequest struct {
	host, authorization, securityToken string
	form                               url.Values
}

func newSTSServer(t *testing.T) *stsServer {
	s := &stsServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		form, _ := url.ParseQuery(string(body))
		s.mu.Lock()
		s.requests = append(s.requests, stsRequest{host: r.Host, authorization: r.Header.Get("Authorization"),
			securityToken: r.Header.Get("X-Amz-Security-Token"), form: form})
		fail := s.fail
		s.mu.Unlock()
		w.Header().Set("Content-Type", "text/xml")
		if fail != "" {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, fail)
			return
		}
		fmt.Fprintf(w, `<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleWithWebIdentityResult>
    <SubjectFromWebIdentityToken>system:serviceaccount:shop:cart</SubjectFromWebIdentityToken>
    <Audience>sts.amazonaws.com</Audience>
    <AssumedRoleUser>
      <Arn>arn:aws:sts::123456789012:assumed-role/cart/%s</Arn>
      <AssumedRoleId>AROAEXAMPLE:%s</AssumedRoleId>
    </AssumedRoleUser>
    <Credentials>
      <AccessKeyId>ASIAREALCLIENT</AccessKeyId>
      <SecretAccessKey>real-secret</SecretAccessKey>
      <SessionToken>real-session</SessionToken>
      <Expiration>2026-03-01T13:00:00Z</Expiration>
    </Credentials>
    <Provider>oidc.example</Provider>
  </AssumeRoleWithWebIdentityResult>
  <ResponseMetadata><RequestId>11111111-2222-3333-4444-555555555555</RequestId></ResponseMetadata>
</AssumeRoleWithWebIdentityResponse>`, form.Get("RoleSessionName"), form.Get("RoleSessionName"))
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *stsServer) received() []stsRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]stsRequest(nil), s.requests...)
}

// isolateAWSEnv keeps the developer's AWS files and variables out of a test
// that loads the SDK's default configuration.
func isolateAWSEnv(t *testing.T) {
	empty := filepath.Join(t.TempDir(), "empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
		"AWS_SESSION_TOKEN", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ENDPOINT_URL", "AWS_REGION", "AWS_DEFAULT_REGION",
		"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "AWS_USE_FIPS_ENDPOINT", "AWS_USE_DUALSTACK_ENDPOINT", "AWS_CA_BUNDLE"} {
		t.Setenv(k, "")
	}
	t.Setenv("AWS_CONFIG_FILE", empty)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", empty)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}

// refusingCredentials stands for the daemon's own credentials: it counts
// every use and fails.
type refusingCredentials struct{ used atomic.Int32 }

func (r *refusingCredentials) Retrieve(context.Context) (aws.Credentials, error) {
	r.used.Add(1)
	return aws.Credentials{}, fmt.Errorf("the daemon's own credentials must not be used")
}

// regionalClients builds one STS client per region from cfg, as the daemon
// does (provider.Clients.STS).
func regionalClients(cfg aws.Config) STSForRegion {
	var mu sync.Mutex
	clients := map[string]*sts.Client{}
	return func(region string) STSAPI {
		mu.Lock()
		defer mu.Unlock()
		c, ok := clients[region]
		if !ok {
			c = sts.NewFromConfig(cfg, func(o *sts.Options) { o.Region = region })
			clients[region] = c
		}
		return c
	}
}

// TestIRSAWithTheRealSTSClient drives the SDK's own STS client against an
// httptest server speaking the STS wire protocol (not parallel: it sets
// environment variables).
func TestIRSAWithTheRealSTSClient(t *testing.T) {
	id := Identity{Mode: ModeIRSA, Namespace: "shop", ServiceAccount: "cart", RoleARN: roleCart,
		Region: "eu-west-3", PodName: "cart-1", PodUID: "u1"}
	tok := saToken(t, "shop", "cart", AudienceSTS).Token

	t.Run("AWS_ENDPOINT_URL_STS is honoured and the call is unsigned", func(t *testing.T) {
		isolateAWSEnv(t)
		srv := newSTSServer(t)
		t.Setenv("AWS_ENDPOINT_URL_STS", srv.URL)
		own := &refusingCredentials{}
		cfg, err := config.LoadDefaultConfig(context.Background(), config.WithCredentialsProvider(own))
		if err != nil {
			t.Fatal(err)
		}
		irsa := NewIRSA(regionalClients(cfg), IRSAOptions{})

		creds, err := irsa.exchange(context.Background(), id, tok, "")
		if err != nil {
			t.Fatal(err)
		}
		if creds.AccessKeyID != "ASIAREALCLIENT" || creds.SecretAccessKey != "real-secret" || creds.SessionToken != "real-session" ||
			!creds.Expires.Equal(time.Date(2026, 3, 1, 13, 0, 0, 0, time.UTC)) {
			t.Errorf("credentials = %+v", creds)
		}
		reqs := srv.received()
		if len(reqs) != 1 {
			t.Fatalf("the STS endpoint got %d requests, want 1", len(reqs))
		}
		r := reqs[0]
		if r.form.Get("Action") != "AssumeRoleWithWebIdentity" || r.form.Get("RoleArn") != roleCart ||
			r.form.Get("RoleSessionName") != "shop.cart-1" || r.form.Get("WebIdentityToken") != tok {
			t.Errorf("request form = %v", r.form)
		}
		if r.authorization != "" || r.securityToken != "" {
			t.Errorf("the request is signed: Authorization %q, X-Amz-Security-Token %q", r.authorization, r.securityToken)
		}
		if n := own.used.Load(); n != 0 {
			t.Errorf("the daemon's own credentials were asked %d times", n)
		}
	})

	t.Run("without an endpoint override the identity's regional endpoint is called", func(t *testing.T) {
		isolateAWSEnv(t)
		srv := newSTSServer(t)
		target, _ := url.Parse(srv.URL)
		var hosts []string
		var mu sync.Mutex
		redirect := clientFunc(func(req *http.Request) (*http.Response, error) {
			mu.Lock()
			hosts = append(hosts, req.URL.Scheme+"://"+req.URL.Host)
			mu.Unlock()
			req.URL.Scheme, req.URL.Host = target.Scheme, target.Host
			return srv.Client().Do(req)
		})
		cfg, err := config.LoadDefaultConfig(context.Background(),
			config.WithCredentialsProvider(&refusingCredentials{}), config.WithHTTPClient(redirect))
		if err != nil {
			t.Fatal(err)
		}
		irsa := NewIRSA(regionalClients(cfg), IRSAOptions{})
		for _, region := range []string{"eu-west-3", "us-east-1"} {
			id := id
			id.Region = region
			if _, err := irsa.exchange(context.Background(), id, tok, ""); err != nil {
				t.Fatal(err)
			}
		}
		want := []string{"https://sts.eu-west-3.amazonaws.com", "https://sts.us-east-1.amazonaws.com"}
		if fmt.Sprint(hosts) != fmt.Sprint(want) {
			t.Errorf("STS endpoints called = %v, want %v", hosts, want)
		}
	})

	t.Run("an STS refusal is classified and stripped of request ids and the token", func(t *testing.T) {
		isolateAWSEnv(t)
		srv := newSTSServer(t)
		srv.fail = `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>Not authorized to perform sts:AssumeRoleWithWebIdentity</Message></Error><RequestId>99999999-8888-7777-6666-555555555555</RequestId></ErrorResponse>`
		t.Setenv("AWS_ENDPOINT_URL_STS", srv.URL)
		cfg, err := config.LoadDefaultConfig(context.Background(), config.WithCredentialsProvider(&refusingCredentials{}))
		if err != nil {
			t.Fatal(err)
		}
		_, err = NewIRSA(regionalClients(cfg), IRSAOptions{}).exchange(context.Background(), id, tok, "")
		testkit.WantKind(t, err, failure.PermissionDenied, roleCart, "shop/cart", "eu-west-3", "AccessDenied: Not authorized")
		if strings.Contains(err.Error(), "99999999") || strings.Contains(err.Error(), tok) {
			t.Errorf("error carries a request id or the token: %v", err)
		}
	})
}

type clientFunc func(*http.Request) (*http.Response, error)

func (f clientFunc) Do(r *http.Request) (*http.Response, error) { return f(r) }
