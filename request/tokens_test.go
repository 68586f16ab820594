package request

import (
	"strings"
	"testing"
	"time"

	"github.com/csi-provider-aws/csi-provider-aws/internal/testkit"

	"github.com/csi-provider-aws/csi-provider-aws/failure"
)

// The audiences kubelet's tokens are requested for (auth's modes).
const (
	audSTS         = "sts.amazonaws.com"
	audPodIdentity = "pods.eks.amazonaws.com"
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
				audSTS:         {Token: "jwt-a", Expiration: time.Date(2026, 3, 1, 13, 0, 0, 0, time.UTC)},
				audPodIdentity: {Token: "jwt-b", Expiration: time.Date(2026, 3, 1, 14, 0, 0, 0, time.UTC)},
			},
		},
		{
			name:    "tokens in the secrets are read when the attributes lack them",
			attrs:   map[string]string{AttrPodName: "p"},
			secrets: map[string]string{AttrTokens: good},
			want: map[string]Token{
				audSTS:         {Token: "jwt-a", Expiration: time.Date(2026, 3, 1, 13, 0, 0, 0, time.UTC)},
				audPodIdentity: {Token: "jwt-b", Expiration: time.Date(2026, 3, 1, 14, 0, 0, 0, time.UTC)},
			},
		},
		{
			name:    "the attributes win over the secrets",
			attrs:   map[string]string{AttrTokens: other},
			secrets: map[string]string{AttrTokens: good},
			want:    map[string]Token{audSTS: {Token: "jwt-other", Expiration: time.Date(2026, 3, 1, 13, 0, 0, 0, time.UTC)}},
		},
		{
			name:    "an empty attribute falls back to the secrets",
			attrs:   map[string]string{AttrTokens: ""},
			secrets: map[string]string{AttrTokens: other},
			want:    map[string]Token{audSTS: {Token: "jwt-other", Expiration: time.Date(2026, 3, 1, 13, 0, 0, 0, time.UTC)}},
		},
		{
			name: "no tokens anywhere is an empty set",
			want: map[string]Token{},
		},
		{
			name:  "an entry without expirationTimestamp has a zero expiration",
			attrs: map[string]string{AttrTokens: `{"sts.amazonaws.com":{"token":"jwt-a"}}`},
			want:  map[string]Token{audSTS: {Token: "jwt-a"}},
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
			testkit.WantKind(t, err, failure.InvalidArgument, tt.fragments...)
			if err != nil && (strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), "c2VjcmV0")) {
				t.Errorf("error quotes the token: %v", err)
			}
		})
	}
}
