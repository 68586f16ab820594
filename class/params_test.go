package class

import "testing"

func TestEveryClassParameterIsListedOnce(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for i, p := range classParams {
		if p.name == "" || p.max <= 0 || p.hint == "" {
			t.Errorf("classParams[%d] = %+v is incomplete", i, p)
		}
		if seen[p.name] {
			t.Errorf("parameter %s is listed twice", p.name)
		}
		seen[p.name] = true
	}
	for _, name := range []string{paramObjects, paramRegion, paramFailoverRegion, paramPathTranslation, paramUsePodIdentity, paramPreferredAddressType} {
		if !seen[name] {
			t.Errorf("parameter %s is read by the parser but not listed in classParams", name)
		}
	}
}
