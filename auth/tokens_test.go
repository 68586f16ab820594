package auth

import (
	"strings"
	"testing"
	"time"

	"github.com/csi-provider-aws/csi-provider-aws/failure"
)

func TestParseTokens(t *testing.T) {
	t.Parallel()
	const good = `{"sts.amazonaws.com":{"token":"jwt-a","expirationTimestamp":"2026-03-01T13:00:00Z"},"pods.eks.amazonaws.com":{"token":"jwt-b","expirationTimestamp":"2026-03-01T14:00:00Z"}}`
	const other = `{"sts.amazonaws.com":{"token":"jwt-other","expirationTimestamp":"2026-03-01T13:00:00Z"}}`
	tests := []struct {
		name    string
		attrs   map[string]string
		secrets map[string]string
		want    map[string]Token
	}{
		{
			name:  "tokens in the attributes are read by audience",
			attrs: map[string]string{AttrTokens: good},
			want: map[string]Token{
				AudienceSTS:         {Token: "jwt-a", Expiration: time.Date(2026, 3, 1, 13, 0, 0, 0, time.UTC)},
				AudiencePodIdentity: {Token: "jwt-b", Expiration: time.Date(2026, 3, 1, 14, 0, 0, 0, time.UTC)},
			},
		},
		{
			name:    "tokens in the secrets are read when the attributes lack them",
			attrs:   map[string]string{AttrPodName: "p"},
			secrets: map[string]string{AttrTokens: good},
			want: map[string]Token{
				AudienceSTS:         {Token: "jwt-a", Expiration: time.Date(2026, 3, 1, 13, 0, 0, 0, time.UTC)},
				AudiencePodIdentity: {Token: "jwt-b", Expiration: time.Date(2026, 3, 1, 14, 0, 0, 0, time.UTC)},
			},
		},
		{
			name:    "the attributes win over the secrets",
			attrs:   map[string]string{AttrTokens: other},
			secrets: map[string]string{AttrTokens: good},
			want:    map[string]Token{AudienceSTS: {Token: "jwt-other", Expiration: time.Date(2026, 3, 1, 13, 0, 0, 0, time.UTC)}},
		},
		{
			name:    "an empty attribute falls back to the secrets",
			attrs:   map[string]string{AttrTokens: ""},
			secrets: map[string]string{AttrTokens: other},
			want:    map[string]Token{AudienceSTS: {Token: "jwt-other", Expiration: time.Date(2026, 3, 1, 13, 0, 0, 0, time.UTC)}},
		},
		{
			name: "no tokens anywhere is an empty set",
			want: map[string]Token{},
		},
		{
			name:  "an entry without expirationTimestamp has a zero expiration",
			attrs: map[string]string{AttrTokens: `{"sts.amazonaws.com":{"token":"jwt-a"}}`},
			want:  map[string]Token{AudienceSTS: {Token: "jwt-a"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseTokens(tt.attrs, tt.secrets)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d tokens, want %d", len(got), len(tt.want))
			}
			for aud, w := range tt.want {
				g, ok := got[aud]
				if !ok || g.Token != w.Token || !g.Expiration.Equal(w.Expiration) {
					t.Errorf("token for %q = %+v, want %+v", aud, g, w)
				}
			}
		})
	}
}

func TestParseTokensRefusesMalformedInput(t *testing.T) {
	t.Parallel()
	const secret = "eyJhbGciOiJSUzI1NiJ9.c2VjcmV0LXBheWxvYWQ.c2ln"
	tests := []struct {
		name      string
		attrs     map[string]string
		secrets   map[string]string
		fragments []string
	}{
		{
			name:      "truncated JSON in the attributes names the attribute",
			attrs:     map[string]string{AttrTokens: `{"sts.amazonaws.com":{"token":"` + secret},
			fragments: []string{"attribute " + AttrTokens, "byte"},
		},
		{
			name:      "truncated JSON in the secrets names the secret",
			secrets:   map[string]string{AttrTokens: `{"sts.amazonaws.com":{"token":"` + secret + `"` + secret},
			fragments: []string{"secret " + AttrTokens},
		},
		{
			name:      "a token given as a bare string is refused",
			attrs:     map[string]string{AttrTokens: `{"sts.amazonaws.com":"` + secret + `"}`},
			fragments: []string{AttrTokens, "JSON string"},
		},
		{
			name:      "a list instead of an object is refused",
			attrs:     map[string]string{AttrTokens: `["` + secret + `"]`},
			fragments: []string{AttrTokens},
		},
		{
			name:      "an entry without a token is refused naming the audience",
			attrs:     map[string]string{AttrTokens: `{"sts.amazonaws.com":{"expirationTimestamp":"2026-03-01T13:00:00Z"}}`},
			fragments: []string{`audience "sts.amazonaws.com"`},
		},
		{
			name:      "an expirationTimestamp that is not RFC 3339 is refused",
			attrs:     map[string]string{AttrTokens: `{"sts.amazonaws.com":{"token":"` + secret + `","expirationTimestamp":"tomorrow"}}`},
			fragments: []string{"expirationTimestamp", "RFC 3339"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := ParseTokens(tt.attrs, tt.secrets)
			wantKind(t, err, failure.InvalidArgument, tt.fragments...)
			if err != nil && (strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), "c2VjcmV0")) {
				t.Errorf("error quotes the token: %v", err)
			}
		})
	}
}

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
		token     Token
		fragments []string // empty: the token is accepted
	}{
		{name: "a valid token for the pod's ServiceAccount and audience is accepted",
			token: Token{Token: makeJWT(t, valid(nil)), Expiration: now.Add(time.Hour)}},
		{name: "an aud claim given as one string is accepted",
			token: Token{Token: makeJWT(t, valid(map[string]any{"aud": AudienceSTS}))}},
		{name: "a token among several audiences is accepted",
			token: Token{Token: makeJWT(t, valid(map[string]any{"aud": []string{"other", AudienceSTS}}))}},
		{name: "a token whose exp has passed is refused",
			token:     Token{Token: makeJWT(t, valid(map[string]any{"exp": now.Add(-time.Second).Unix()}))},
			fragments: []string{"expired", "shop/cart"}},
		{name: "a token whose exp is exactly now is refused",
			token:     Token{Token: makeJWT(t, valid(map[string]any{"exp": now.Unix()}))},
			fragments: []string{"expired"}},
		{name: "a token whose expirationTimestamp has passed is refused",
			token:     Token{Token: makeJWT(t, valid(nil)), Expiration: now.Add(-time.Minute)},
			fragments: []string{"expired"}},
		{name: "a token without exp is refused",
			token:     Token{Token: makeJWT(t, valid(map[string]any{"exp": nil}))},
			fragments: []string{"no exp claim"}},
		{name: "a token of another ServiceAccount in the namespace is refused",
			token:     Token{Token: makeJWT(t, valid(map[string]any{"sub": "system:serviceaccount:shop:admin"}))},
			fragments: []string{"system:serviceaccount:shop:admin", "system:serviceaccount:shop:cart"}},
		{name: "a token of the same ServiceAccount name in another namespace is refused",
			token:     Token{Token: makeJWT(t, valid(map[string]any{"sub": "system:serviceaccount:other:cart"}))},
			fragments: []string{"system:serviceaccount:other:cart"}},
		{name: "a token without a subject is refused",
			token:     Token{Token: makeJWT(t, valid(map[string]any{"sub": nil}))},
			fragments: []string{"subject"}},
		{name: "a token for another audience is refused",
			token:     Token{Token: makeJWT(t, valid(map[string]any{"aud": []string{AudiencePodIdentity}}))},
			fragments: []string{AudiencePodIdentity, AudienceSTS}},
		{name: "a token without an audience is refused",
			token:     Token{Token: makeJWT(t, valid(map[string]any{"aud": nil}))},
			fragments: []string{"audiences"}},
		{name: "an aud claim of the wrong type is refused",
			token:     Token{Token: makeJWT(t, valid(map[string]any{"aud": 42}))},
			fragments: []string{"aud claim"}},
		{name: "a token with two parts is refused",
			token:     Token{Token: "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0"},
			fragments: []string{"not a valid JWT", "2 dot-separated parts"}},
		{name: "an opaque token is refused",
			token:     Token{Token: "opaque-secret-value"},
			fragments: []string{"not a valid JWT"}},
		{name: "a payload that is not base64url is refused",
			token:     Token{Token: "eyJhbGciOiJSUzI1NiJ9.!!!!.c2ln"},
			fragments: []string{"not base64url"}},
		{name: "a payload that is not JSON is refused",
			token:     Token{Token: "eyJhbGciOiJSUzI1NiJ9.bm90LWpzb24.c2ln"},
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
			wantKind(t, err, failure.Unauthenticated, tt.fragments...)
			if err != nil && strings.Contains(err.Error(), tt.token.Token) {
				t.Errorf("error quotes the token: %v", err)
			}
		})
	}
}

func TestRequestFromAttributes(t *testing.T) {
	t.Parallel()
	tok := `{"sts.amazonaws.com":{"token":"jwt-a","expirationTimestamp":"2026-03-01T13:00:00Z"}}`
	full := func(drop string) map[string]string {
		m := map[string]string{
			AttrPodName: "cart-7d9", AttrPodNamespace: "shop", AttrPodUID: "0b6c",
			AttrServiceAccount: "cart", AttrTokens: tok, "objects": "- objectName: x",
		}
		delete(m, drop)
		return m
	}

	t.Run("the pod, its ServiceAccount and tokens are read", func(t *testing.T) {
		t.Parallel()
		r, err := RequestFromAttributes(full(""), nil)
		if err != nil {
			t.Fatal(err)
		}
		if r.Namespace != "shop" || r.ServiceAccount != "cart" || r.PodName != "cart-7d9" || r.PodUID != "0b6c" {
			t.Errorf("request = %+v", r)
		}
		if r.Tokens[AudienceSTS].Token != "jwt-a" {
			t.Errorf("tokens = %v", r.Tokens)
		}
		if r.Mode != "" || r.Region != "" || r.PreferredAddressType != "" {
			t.Errorf("class-derived fields are set: %+v", r)
		}
	})
	for _, attr := range []string{AttrPodNamespace, AttrServiceAccount} {
		t.Run("a request without "+attr+" is refused naming it", func(t *testing.T) {
			t.Parallel()
			_, err := RequestFromAttributes(full(attr), nil)
			wantKind(t, err, failure.InvalidArgument, attr)
		})
	}
	t.Run("a request with malformed tokens is refused", func(t *testing.T) {
		t.Parallel()
		m := full("")
		m[AttrTokens] = "{"
		_, err := RequestFromAttributes(m, nil)
		wantKind(t, err, failure.InvalidArgument, AttrTokens)
	})
	t.Run("tokens only in the secrets are read", func(t *testing.T) {
		t.Parallel()
		r, err := RequestFromAttributes(full(AttrTokens), map[string]string{AttrTokens: tok})
		if err != nil {
			t.Fatal(err)
		}
		if r.Tokens[AudienceSTS].Token != "jwt-a" {
			t.Errorf("tokens = %v", r.Tokens)
		}
	})
}
