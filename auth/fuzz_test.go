package auth

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/csi-provider-aws/csi-provider-aws/request"
)

// FuzzTokens feeds arbitrary token attributes (whole or cut short) and
// arbitrary JWTs through ParseTokens and CheckToken: nothing may panic, and
// no error may quote the token.
func FuzzTokens(f *testing.F) {
	f.Add("sts.amazonaws.com", "a.b.c", "2026-03-01T13:00:00Z", 0)
	f.Add("sts.amazonaws.com", "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln", "", 40)
	f.Add("x", "eyJhbGciOiJSUzI1NiJ9.eyJhdWQiOjQyLCJleHAiOjF9.c2ln", "tomorrow", 0)
	f.Add("", "....", "2026-03-01T13:00:00+02:00", 7)
	f.Fuzz(func(t *testing.T, aud, jwt, exp string, cut int) {
		// The marker makes the token recognisable and absent from every
		// message template; audiences are quoted by design, so skip those
		// that contain it.
		const marker = "TOKEN§"
		if strings.Contains(aud, marker) {
			return
		}
		tok := marker + jwt
		raw, err := json.Marshal(map[string]map[string]string{aud: {"token": tok, "expirationTimestamp": exp}})
		if err != nil {
			return
		}
		if cut > 0 && cut < len(raw) {
			raw = raw[:cut]
		}
		toks, err := request.ParseTokens(map[string]string{request.AttrTokens: string(raw)}, nil)
		if err != nil && strings.Contains(err.Error(), tok) {
			t.Fatalf("ParseTokens error quotes the token: %v", err)
		}
		for a, tk := range toks {
			if err := CheckToken(tk, a, "ns", "sa", t0); err != nil && strings.Contains(err.Error(), tk.Token) {
				t.Fatalf("CheckToken error quotes the token: %v", err)
			}
		}
		if err := CheckToken(request.Token{Token: tok}, AudienceSTS, "ns", "sa", t0); err != nil && strings.Contains(err.Error(), tok) {
			t.Fatalf("CheckToken error quotes the token: %v", err)
		}
	})
}
