package fakekube

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/csi-provider-aws/csi-provider-aws/internal/testkit"
)

// tokenPath matches .../namespaces/NS/serviceaccounts/SA/token.
var tokenPath = regexp.MustCompile(`^/api/v1/namespaces/([^/]+)/serviceaccounts/([^/]+)/token$`)

// tokenRequest is the part of an authentication.k8s.io/v1 TokenRequest the
// fake reads and answers.
type tokenRequest struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Spec       struct {
		Audiences         []string `json:"audiences"`
		ExpirationSeconds *int64   `json:"expirationSeconds,omitempty"`
		BoundObjectRef    *struct {
			Kind, Name string
			UID        string `json:"uid"`
		} `json:"boundObjectRef,omitempty"`
	} `json:"spec"`
	Status struct {
		Token               string    `json:"token"`
		ExpirationTimestamp time.Time `json:"expirationTimestamp"`
	} `json:"status"`
}

// TokenRequests counts the tokens the fake issued.
func (s *Server) TokenRequests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls["create serviceaccounts/token"]
}

// token answers a TokenRequest as the API server does: for an existing
// ServiceAccount, bound to an existing pod of it when a pod is named (its
// UID must match), for the audiences asked, for the lifetime asked (at
// least 10 minutes). The token is unsigned (tests check claims only).
func (s *Server) token(w http.ResponseWriter, r *http.Request, namespace, sa string) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	var tr tokenRequest
	if err == nil {
		err = json.Unmarshal(body, &tr)
	}
	if err != nil || len(tr.Spec.Audiences) != 1 {
		writeStatus(w, apierrors.NewBadRequest("fakekube reads a TokenRequest with exactly one audience"))
		return
	}
	s.mu.Lock()
	_, saOK := s.resources["serviceaccounts"].objects[key(namespace, sa)]
	var pod *testkit.Pod
	if ref := tr.Spec.BoundObjectRef; ref != nil {
		p, ok := s.resources["pods"].objects[key(namespace, ref.Name)]
		if ref.Kind != "Pod" || !ok || string(p.GetUID()) != ref.UID {
			s.mu.Unlock()
			writeStatus(w, apierrors.NewBadRequest(fmt.Sprintf("the bound object %s %s (uid %s) does not exist", ref.Kind, ref.Name, ref.UID)))
			return
		}
		pod = &testkit.Pod{Name: ref.Name, UID: ref.UID}
	}
	s.mu.Unlock()
	if !saOK {
		writeStatus(w, apierrors.NewNotFound(schema.GroupResource{Resource: "serviceaccounts"}, sa))
		return
	}
	life := int64(3600)
	if e := tr.Spec.ExpirationSeconds; e != nil {
		life = max(*e, 600)
	}
	exp := time.Now().Add(time.Duration(life) * time.Second).Truncate(time.Second)
	tok := testkit.Token{Namespace: namespace, ServiceAccount: sa, Audience: tr.Spec.Audiences[0], Expires: exp, Pod: pod}
	tr.Status.Token, tr.Status.ExpirationTimestamp = tok.String(), exp
	tr.APIVersion, tr.Kind = "authentication.k8s.io/v1", "TokenRequest"
	writeJSON(w, http.StatusCreated, &tr)
}
