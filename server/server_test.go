package server

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"sigs.k8s.io/secrets-store-csi-driver/provider/v1alpha1"

	"github.com/csi-provider-aws/csi-provider-aws/auth"
	"github.com/csi-provider-aws/csi-provider-aws/class"
	"github.com/csi-provider-aws/csi-provider-aws/failure"
	"github.com/csi-provider-aws/csi-provider-aws/provider"
)

func TestFailuresMapToTheCodesTheDriverHandles(t *testing.T) {
	cases := []struct {
		kind failure.Kind
		want codes.Code
	}{
		{failure.InvalidArgument, codes.InvalidArgument},
		{failure.PermissionDenied, codes.PermissionDenied},
		{failure.NotFound, codes.NotFound},
		{failure.FailedPrecondition, codes.FailedPrecondition},
		{failure.Unauthenticated, codes.Unauthenticated},
		{failure.Throttled, codes.ResourceExhausted},
		{failure.TooLarge, codes.ResourceExhausted},
		{failure.Timeout, codes.DeadlineExceeded},
		{failure.Unavailable, codes.Aborted},
		{failure.Internal, codes.Internal},
	}
	for _, tc := range cases {
		t.Run(tc.kind.String()+" becomes "+tc.want.String(), func(t *testing.T) {
			err := toStatus(failure.New(tc.kind, "objects[0] %q in us-east-1: cause", "db"))
			if status.Code(err) != tc.want {
				t.Errorf("code = %v, want %v", status.Code(err), tc.want)
			}
			if status.Code(err) == codes.Unavailable {
				t.Error("never Unavailable: the driver retries it three times")
			}
			if msg := status.Convert(err).Message(); !strings.Contains(msg, `objects[0] "db" in us-east-1: cause`) {
				t.Errorf("message = %q, want the cause passed through", msg)
			}
		})
	}
}

func TestTheSocket(t *testing.T) {
	dir, err := os.MkdirTemp("", "sock-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })

	t.Run("a regular file at the socket path is left alone and named in the error", func(t *testing.T) {
		path := filepath.Join(dir, "file.sock")
		if err := os.WriteFile(path, []byte("keep me"), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := Listen(path)
		if err == nil || !strings.Contains(err.Error(), "not a socket") || !strings.Contains(err.Error(), path) {
			t.Fatalf("err = %v", err)
		}
		if b, _ := os.ReadFile(path); string(b) != "keep me" {
			t.Error("the file was changed")
		}
	})
	t.Run("a stale socket from a previous run is replaced", func(t *testing.T) {
		path := filepath.Join(dir, "stale.sock")
		old, err := net.Listen("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		old.(*net.UnixListener).SetUnlinkOnClose(false)
		old.Close()
		l, err := Listen(path)
		if err != nil {
			t.Fatal(err)
		}
		l.Close()
	})
	t.Run("the socket is created for its owner only", func(t *testing.T) {
		path := filepath.Join(dir, "nested", "aws.sock")
		l, err := Listen(path)
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("socket mode %v lets others connect", fi.Mode().Perm())
		}
	})
}

func TestHealthChecksTheSocketForReal(t *testing.T) {
	dir, err := os.MkdirTemp("", "health-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "aws.sock")
	ready := NewReadiness(nil)
	h := NewHealth(sock, NewMetrics().Registry, ready)
	get := func(path string) int {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		return rec.Code
	}
	if c := get("/healthz"); c != http.StatusServiceUnavailable {
		t.Errorf("healthz without a socket = %d, want 503", c)
	}
	l, err := Listen(sock)
	if err != nil {
		t.Fatal(err)
	}
	g := grpc.NewServer()
	srv, err := New(Options{Credentials: noCreds{}, Fetcher: noFetch{}, Regions: noRegions{}, Catalog: catalog})
	if err != nil {
		t.Fatal(err)
	}
	v1alpha1.RegisterCSIDriverProviderServer(g, srv)
	go func() { _ = g.Serve(l) }()
	defer g.Stop()
	if c := get("/healthz"); c != http.StatusOK {
		t.Errorf("healthz with a serving socket = %d, want 200", c)
	}
	if c := get("/readyz"); c != http.StatusServiceUnavailable {
		t.Errorf("readyz before Serving = %d, want 503", c)
	}
	ready.Serving()
	if c := get("/readyz"); c != http.StatusOK {
		t.Errorf("readyz when ready = %d, want 200", c)
	}
	if c := get("/metrics"); c != http.StatusOK {
		t.Errorf("metrics = %d", c)
	}
}

func TestBadRequestsAreRefusedBeforeAnyIO(t *testing.T) {
	srv, err := New(Options{Credentials: noCreds{}, Fetcher: noFetch{}, Regions: noRegions{}, Catalog: catalog, DriverWritesSecrets: true})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		req  *v1alpha1.MountRequest
		want string
	}{
		{"attributes that are not JSON name the field", &v1alpha1.MountRequest{Attributes: "{not json", Permission: "420"}, "attributes are not a JSON object"},
		{"attributes with a number value say which field", &v1alpha1.MountRequest{Attributes: `{"objects": 5}`, Permission: "420"}, `attribute "objects" is not a string`},
		{"secrets that are not JSON are refused without echoing them", &v1alpha1.MountRequest{Attributes: "{}", Secrets: "eyJhbGciOi-token", Permission: "420"}, "secrets field is not a JSON object"},
		{"a permission that is not a mode is refused", &v1alpha1.MountRequest{Attributes: "{}", Permission: "rw-r--r--"}, "permission"},
		{"a permission beyond 0777 is refused", &v1alpha1.MountRequest{Attributes: "{}", Permission: "4096"}, "permission"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := srv.Mount(context.Background(), tc.req)
			if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want InvalidArgument mentioning %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "eyJ") {
				t.Errorf("the error echoes the request: %v", err)
			}
		})
	}
}

// catalog is the daemon's, as main builds it.
var catalog = class.Catalog{Services: provider.Services(), Modes: auth.Modes()}

type noCreds struct{ Credentials }
type noFetch struct{ Fetcher }
type noRegions struct{}

func (noRegions) Region(context.Context, string, string, string) (string, error) {
	return "", errors.New("unused")
}
