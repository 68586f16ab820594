package request

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/csi-provider-aws/csi-provider-aws/internal/testkit"

	"github.com/csi-provider-aws/csi-provider-aws/failure"
)

func TestThePodsNamesAreCheckedBeforeUse(t *testing.T) {
	t.Parallel()
	huge := strings.Repeat("x", 1<<20)
	tests := []struct {
		name      string
		attr      string
		value     string
		fragments []string // empty: accepted
		notQuoted string   // a part of the value the error must not quote
	}{
		{name: "a lowercase namespace is accepted", attr: AttrPodNamespace, value: "shop-2"},
		{name: "a namespace with capitals is refused naming the attribute and quoting it", attr: AttrPodNamespace, value: "Shop",
			fragments: []string{AttrPodNamespace, `"Shop"`, "is not a Kubernetes namespace name", "RFC 1123 label"}},
		{name: "a namespace with dots is refused", attr: AttrPodNamespace, value: "shop.prod",
			fragments: []string{AttrPodNamespace, "must not contain dots"}},
		{name: "a namespace with the cache key separator is refused", attr: AttrPodNamespace, value: "shop|cart",
			fragments: []string{AttrPodNamespace}},
		{name: "a namespace of 64 characters is refused as too long", attr: AttrPodNamespace, value: strings.Repeat("a", 64),
			fragments: []string{AttrPodNamespace, "64 bytes long", "at most 63"}},
		{name: "a megabyte namespace is refused quoting only its start", attr: AttrPodNamespace, value: "y" + huge,
			fragments: []string{AttrPodNamespace, `"y` + strings.Repeat("x", maxQuoted-1) + `"...`}, notQuoted: strings.Repeat("x", maxQuoted)},
		{name: "a ServiceAccount name with dots is accepted", attr: AttrServiceAccount, value: "cart.v2"},
		{name: "a ServiceAccount name with capitals is refused naming the attribute", attr: AttrServiceAccount, value: "Cart",
			fragments: []string{AttrServiceAccount, `"Cart"`, "is not a Kubernetes ServiceAccount name", "RFC 1123 subdomain"}},
		{name: "a ServiceAccount name with the cache key separator is refused", attr: AttrServiceAccount, value: "cart|x",
			fragments: []string{AttrServiceAccount}},
		{name: "a ServiceAccount name of 254 characters is refused as too long", attr: AttrServiceAccount, value: strings.Repeat("a", 254),
			fragments: []string{AttrServiceAccount, "254 bytes long", "at most 253"}},
		{name: "a pod name of 253 characters is accepted", attr: AttrPodName, value: strings.Repeat("p", 253)},
		{name: "a pod name of 254 characters is refused", attr: AttrPodName, value: strings.Repeat("p", 254),
			fragments: []string{AttrPodName, "at most 253"}},
		{name: "a megabyte pod UID is refused quoting only its start", attr: AttrPodUID, value: huge,
			fragments: []string{AttrPodUID, "at most 128"}, notQuoted: strings.Repeat("x", maxQuoted+1)},
		{name: "an empty pod name and UID are accepted", attr: AttrPodUID, value: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			attrs := map[string]string{AttrPodNamespace: "shop", AttrServiceAccount: "cart", AttrPodName: "", AttrPodUID: ""}
			attrs[tt.attr] = tt.value
			r, err := podFrom(attrs)
			if len(tt.fragments) == 0 {
				if err != nil {
					t.Fatalf("podFrom: %v", err)
				}
				if got := map[string]string{AttrPodNamespace: r.Namespace, AttrServiceAccount: r.ServiceAccount,
					AttrPodName: r.Name, AttrPodUID: r.UID}[tt.attr]; got != tt.value {
					t.Errorf("%s read as %q", tt.attr, got)
				}
				return
			}
			testkit.WantKind(t, err, failure.InvalidArgument, tt.fragments...)
			if err == nil {
				return
			}
			if tt.notQuoted != "" && strings.Contains(err.Error(), tt.notQuoted) {
				t.Errorf("the error quotes more than %d bytes of the value", maxQuoted)
			}
			if len(err.Error()) > 600 {
				t.Errorf("error of %d bytes", len(err.Error()))
			}
		})
	}
}

func TestQuotePrefixCutsAtARuneBoundary(t *testing.T) {
	t.Parallel()
	q := Quote(strings.Repeat("é", 40)) // 80 bytes; byte 40 ends a rune
	if q != `"`+strings.Repeat("é", 20)+`"...` {
		t.Errorf("quotePrefix = %s", q)
	}
	q = Quote("a" + strings.Repeat("é", 40)) // byte 40 splits a rune
	if !utf8.ValidString(q) || strings.Contains(q, `\x`) || q != `"a`+strings.Repeat("é", 19)+`"...` {
		t.Errorf("quotePrefix = %s, want whole runes only", q)
	}
}
