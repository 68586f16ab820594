package auth

import (
	"regexp"
	"strings"
	"testing"

	"github.com/csi-provider-aws/csi-provider-aws/internal/testkit"

	"github.com/csi-provider-aws/csi-provider-aws/failure"
	"github.com/csi-provider-aws/csi-provider-aws/request"
)

func TestIdentityKey(t *testing.T) {
	t.Parallel()
	base := Identity{Mode: ModeIRSA, Namespace: "shop", ServiceAccount: "cart",
		RoleARN: "arn:aws:iam::123456789012:role/cart", Region: "eu-west-1", PodName: "cart-1", PodUID: "u1"}
	tests := []struct {
		name   string
		change func(*Identity)
		same   bool
	}{
		{"another pod of the same ServiceAccount has the same key", func(i *Identity) { i.PodName, i.PodUID = "cart-2", "u2" }, true},
		{"another ServiceAccount with the same role has another key", func(i *Identity) { i.ServiceAccount = "checkout" }, false},
		{"the same ServiceAccount name in another namespace has another key", func(i *Identity) { i.Namespace = "shop2" }, false},
		{"another role has another key", func(i *Identity) { i.RoleARN = "arn:aws:iam::123456789012:role/other" }, false},
		{"another region has another key", func(i *Identity) { i.Region = "us-east-1" }, false},
		{"Pod Identity for the same ServiceAccount has another key", func(i *Identity) { i.Mode, i.RoleARN = ModePodIdentity, "" }, false},
		{"the per-pod key of the same pod differs from the shared key", func(i *Identity) { i.PerPod = true }, false},
	}
	perPod := base
	perPod.PerPod = true
	podTests := []struct {
		name   string
		change func(*Identity)
		same   bool
	}{
		{"with PerPod another pod of the same ServiceAccount has another key", func(i *Identity) { i.PodName, i.PodUID = "cart-2", "u2" }, false},
		{"with PerPod the same pod UID under another name has the same key", func(i *Identity) { i.PodName = "renamed" }, true},
		{"with PerPod another ServiceAccount with the same role and pod UID has another key", func(i *Identity) { i.ServiceAccount = "checkout" }, false},
	}
	for _, tt := range podTests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			other := perPod
			tt.change(&other)
			if got := perPod.Key() == other.Key(); got != tt.same {
				t.Errorf("%q == %q is %v, want %v", perPod.Key(), other.Key(), got, tt.same)
			}
		})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			other := base
			tt.change(&other)
			if got := base.Key() == other.Key(); got != tt.same {
				t.Errorf("%q == %q is %v, want %v", base.Key(), other.Key(), got, tt.same)
			}
		})
	}
}

func TestSessionName(t *testing.T) {
	t.Parallel()
	valid := regexp.MustCompile(`^[\w+=,.@-]{2,64}$`)
	long := strings.Repeat("a", 70)
	tests := []struct {
		name string
		id   Identity
		want string // "" = only check validity and the properties below
	}{
		{"a short name is namespace.pod", Identity{Namespace: "shop", PodName: "cart-7d9f", PodUID: "u"}, "shop.cart-7d9f"},
		{"without a pod name the ServiceAccount stands in", Identity{Namespace: "shop", ServiceAccount: "cart"}, "shop.cart"},
		{"a name of exactly 64 characters is kept", Identity{Namespace: "n", PodName: strings.Repeat("p", 62)}, "n." + strings.Repeat("p", 62)},
		{"odd characters become dashes", Identity{Namespace: "shop", PodName: "cart/1 é:x"}, "shop.cart-1---x"},
		{"allowed punctuation is kept", Identity{Namespace: "a", PodName: "b_c+d=e,f.g@h-i"}, "a.b_c+d=e,f.g@h-i"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := sessionName(tt.id)
			if got != tt.want {
				t.Errorf("sessionName = %q, want %q", got, tt.want)
			}
			if !valid.MatchString(got) {
				t.Errorf("%q is not a valid STS role session name", got)
			}
		})
	}

	t.Run("a long name is truncated to 64 characters and ends with a hash of the pod UID", func(t *testing.T) {
		t.Parallel()
		a := sessionName(Identity{Namespace: "shop", PodName: long + "-1", PodUID: "uid-1"})
		b := sessionName(Identity{Namespace: "shop", PodName: long + "-2", PodUID: "uid-2"})
		for _, s := range []string{a, b} {
			if len(s) != 64 || !valid.MatchString(s) || !strings.HasPrefix(s, "shop.aaaa") {
				t.Errorf("%q: want 64 valid characters starting with the namespace", s)
			}
		}
		if a == b {
			t.Errorf("two pods whose long names differ only at the end share session name %q", a)
		}
		again := sessionName(Identity{Namespace: "shop", PodName: long + "-1", PodUID: "uid-1"})
		if again != a {
			t.Errorf("session name is not stable: %q then %q", a, again)
		}
	})
	t.Run("a long name with odd characters is still valid", func(t *testing.T) {
		t.Parallel()
		s := sessionName(Identity{Namespace: strings.Repeat("ü", 40), PodName: strings.Repeat("ø/", 40)})
		if !valid.MatchString(s) {
			t.Errorf("%q is not a valid STS role session name", s)
		}
	})
}

func TestResolveChecksNamesOfARequestBuiltByHand(t *testing.T) {
	t.Parallel()
	f := newFixture(t, serviceAccount("shop", "cart", roleCart))
	for _, tt := range []struct {
		name   string
		change func(*testRequest)
		attr   string
	}{
		{"a namespace holding the cache key separator is refused", func(r *testRequest) { r.Namespace = "shop|cart" }, request.AttrPodNamespace},
		{"a ServiceAccount name with capitals is refused", func(r *testRequest) { r.ServiceAccount = "Cart" }, request.AttrServiceAccount},
		{"an oversized pod UID is refused", func(r *testRequest) { r.PodUID = strings.Repeat("u", 129) }, request.AttrPodUID},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := testReq(t, "shop", "cart", "p1")
			tt.change(&r)
			_, _, err := f.resolve(t, r)
			testkit.WantKind(t, err, failure.InvalidArgument, tt.attr)
			if f.sts.count() != 0 {
				t.Errorf("a refused request reached STS")
			}
		})
	}
}
