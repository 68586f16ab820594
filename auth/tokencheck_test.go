package auth

import (
	"strings"
	"testing"
	"time"

	"github.com/csi-provider-aws/csi-provider-aws/internal/testkit"

	"github.com/csi-provider-aws/csi-provider-aws/request"

	"github.com/csi-provider-aws/csi-provider-aws/failure"
)

func TestCheckToken(t *testing.T) {
	t.Parallel()
	now := t0
	valid := func(extra map[string]any) map[string]any {
		c := map[string]any{
			"sub": "system:serviceaccount:shop:cart",
			"aud": []string{AudienceSTS},
			"exp": now.Add(time.Hour).Unix(),
		}
		for k, v := range extra {
			if v == nil {
				delete(c, k)
			} else {
				c[k] = v
			}
		}
		return c
	}
	tests := []struct {
		name      string
		token     request.Token
		fragments []string // empty: the token is accepted
	}{
		{name: "a valid token for the pod's ServiceAccount and audience is accepted",
			token: request.Token{Token: makeJWT(t, valid(nil)), Expiration: now.Add(time.Hour)}},
		{name: "an aud claim given as one string is accepted",
			token: request.Token{Token: makeJWT(t, valid(map[string]any{"aud": AudienceSTS}))}},
		{name: "a token among several audiences is accepted",
			token: request.Token{Token: makeJWT(t, valid(map[string]any{"aud": []string{"other", AudienceSTS}}))}},
		{name: "a token whose exp has passed is refused",
			token:     request.Token{Token: makeJWT(t, valid(map[string]any{"exp": now.Add(-time.Second).Unix()}))},
			fragments: []string{"expired", "shop/cart"}},
		{name: "a token whose exp is exactly now is refused",
			token:     request.Token{Token: makeJWT(t, valid(map[string]any{"exp": now.Unix()}))},
			fragments: []string{"expired"}},
		{name: "a token whose expirationTimestamp has passed is refused",
			token:     request.Token{Token: makeJWT(t, valid(nil)), Expiration: now.Add(-time.Minute)},
			fragments: []string{"expired"}},
		{name: "a token without exp is refused",
			token:     request.Token{Token: makeJWT(t, valid(map[string]any{"exp": nil}))},
			fragments: []string{"no exp claim"}},
		{name: "a token of another ServiceAccount in the namespace is refused",
			token:     request.Token{Token: makeJWT(t, valid(map[string]any{"sub": "system:serviceaccount:shop:admin"}))},
			fragments: []string{"system:serviceaccount:shop:admin", "system:serviceaccount:shop:cart"}},
		{name: "a token of the same ServiceAccount name in another namespace is refused",
			token:     request.Token{Token: makeJWT(t, valid(map[string]any{"sub": "system:serviceaccount:other:cart"}))},
			fragments: []string{"system:serviceaccount:other:cart"}},
		{name: "a token without a subject is refused",
			token:     request.Token{Token: makeJWT(t, valid(map[string]any{"sub": nil}))},
			fragments: []string{"subject"}},
		{name: "a token for another audience is refused",
			token:     request.Token{Token: makeJWT(t, valid(map[string]any{"aud": []string{AudiencePodIdentity}}))},
			fragments: []string{AudiencePodIdentity, AudienceSTS}},
		{name: "a token without an audience is refused",
			token:     request.Token{Token: makeJWT(t, valid(map[string]any{"aud": nil}))},
			fragments: []string{"audiences"}},
		{name: "an aud claim of the wrong type is refused",
			token:     request.Token{Token: makeJWT(t, valid(map[string]any{"aud": 42}))},
			fragments: []string{"aud claim"}},
		{name: "a token with two parts is refused",
			token:     request.Token{Token: "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0"},
			fragments: []string{"not a valid JWT", "2 dot-separated parts"}},
		{name: "an opaque token is refused",
			token:     request.Token{Token: "opaque-secret-value"},
			fragments: []string{"not a valid JWT"}},
		{name: "a payload that is not base64url is refused",
			token:     request.Token{Token: "eyJhbGciOiJSUzI1NiJ9.!!!!.c2ln"},
			fragments: []string{"not base64url"}},
		{name: "a payload that is not JSON is refused",
			token:     request.Token{Token: "eyJhbGciOiJSUzI1NiJ9.bm90LWpzb24.c2ln"},
			fragments: []string{"not a JSON object"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := CheckToken(tt.token, AudienceSTS, "shop", "cart", now)
			if len(tt.fragments) == 0 {
				if err != nil {
					t.Fatalf("CheckToken: %v", err)
				}
				return
			}
			testkit.WantKind(t, err, failure.Unauthenticated, tt.fragments...)
			if err != nil && strings.Contains(err.Error(), tt.token.Token) {
				t.Errorf("error quotes the token: %v", err)
			}
		})
	}
}
