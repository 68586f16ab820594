//go:build e2e

package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// PodIdentityAudience is the audience the EKS Pod Identity agent accepts.
const PodIdentityAudience = "pods.eks.amazonaws.com"

// PodIdentityAgent plays the EKS Pod Identity agent on loopback: it checks
// the token in the Authorization header with a TokenReview for its own
// audience, looks up the ServiceAccount's association and answers with
// credentials (moto accepts any).
type PodIdentityAgent struct {
	URL string // .../v1/credentials

	client kubernetes.Interface
	srv    *http.Server

	mu           sync.Mutex
	associations map[string]string // namespace/sa -> role ARN
	keys         map[string]string // namespace/sa -> access key id handed out
	served       int
	refused      []string
}

// StartPodIdentityAgent listens on a free loopback port.
func StartPodIdentityAgent(client kubernetes.Interface) (*PodIdentityAgent, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	a := &PodIdentityAgent{
		URL:          "http://" + l.Addr().String() + "/v1/credentials",
		client:       client,
		associations: map[string]string{},
		keys:         map[string]string{},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/credentials", a.credentials)
	a.srv = &http.Server{Handler: mux}
	go a.srv.Serve(l)
	return a, nil
}

// Close stops the agent.
func (a *PodIdentityAgent) Close() error { return a.srv.Close() }

// Associate gives namespace/serviceAccount a Pod Identity association.
func (a *PodIdentityAgent) Associate(namespace, serviceAccount, roleARN string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.associations[namespace+"/"+serviceAccount] = roleARN
}

// AccessKeyFor returns the access key id handed out to namespace/sa, "" if none.
func (a *PodIdentityAgent) AccessKeyFor(namespace, serviceAccount string) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.keys[namespace+"/"+serviceAccount]
}

// Served counts the credentials handed out; Refused lists why requests were
// turned away.
func (a *PodIdentityAgent) Served() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.served
}

// Refused lists the reasons requests were turned away.
func (a *PodIdentityAgent) Refused() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.refused)
}

func (a *PodIdentityAgent) refuse(w http.ResponseWriter, status int, reason string) {
	a.mu.Lock()
	a.refused = append(a.refused, reason)
	a.mu.Unlock()
	http.Error(w, reason, status)
}

func (a *PodIdentityAgent) credentials(w http.ResponseWriter, r *http.Request) {
	token := r.Header.Get("Authorization")
	if token == "" {
		a.refuse(w, http.StatusBadRequest, "no token in the Authorization header")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	tr, err := a.client.AuthenticationV1().TokenReviews().Create(ctx, &authenticationv1.TokenReview{
		Spec: authenticationv1.TokenReviewSpec{Token: token, Audiences: []string{PodIdentityAudience}},
	}, metav1.CreateOptions{})
	if err != nil {
		a.refuse(w, http.StatusInternalServerError, "token review: "+err.Error())
		return
	}
	if !tr.Status.Authenticated || !slices.Contains(tr.Status.Audiences, PodIdentityAudience) {
		a.refuse(w, http.StatusForbidden, fmt.Sprintf("token not valid for audience %s: %s", PodIdentityAudience, tr.Status.Error))
		return
	}
	// system:serviceaccount:<namespace>:<name>
	parts := strings.Split(tr.Status.User.Username, ":")
	if len(parts) != 4 || parts[0] != "system" || parts[1] != "serviceaccount" {
		a.refuse(w, http.StatusForbidden, "token is not a ServiceAccount's: "+tr.Status.User.Username)
		return
	}
	who := parts[2] + "/" + parts[3]
	a.mu.Lock()
	role, ok := a.associations[who]
	a.mu.Unlock()
	if !ok {
		a.refuse(w, http.StatusBadRequest, "no Pod Identity association for "+who)
		return
	}
	account := "123456789012"
	if f := strings.Split(role, ":"); len(f) > 4 {
		account = f[4]
	}
	key := "ASIAPODID" + strings.ToUpper(randHex(6))
	a.mu.Lock()
	a.keys[who] = key
	a.served++
	a.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]string{
		"AccessKeyId":     key,
		"SecretAccessKey": randHex(20),
		"Token":           "pod-identity-session-" + randHex(16),
		"AccountId":       account,
		"Expiration":      time.Now().Add(6 * time.Hour).UTC().Format(time.RFC3339),
	})
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
