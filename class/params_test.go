package class

import "testing"

func TestEveryParameterIsListedOnce(t *testing.T) {
	t.Parallel()
	p, err := newParser(testCatalog)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for i, prm := range p.params {
		if prm.Name == "" || prm.Max <= 0 || prm.Hint == "" {
			t.Errorf("params[%d] = %+v is incomplete", i, prm)
		}
		if seen[prm.Name] {
			t.Errorf("parameter %s is listed twice", prm.Name)
		}
		seen[prm.Name] = true
	}
	for _, name := range []string{paramObjects, paramRegion, paramFailoverRegion, paramPathTranslation, paramPreferredAddressType, "useChosen"} {
		if !seen[name] {
			t.Errorf("parameter %s is read by the parser but not listed in its parameters", name)
		}
	}
}

func TestAModeIsChosenByItsParameters(t *testing.T) {
	t.Parallel()
	objects := "- {objectName: db, objectType: secretsmanager}\n"
	for value, want := range map[string]AuthMode{"": "plain", "false": "plain", "true": "chosen"} {
		c, err := Parse(map[string]string{"objects": objects, "useChosen": value}, 0o644, testCatalog)
		if err != nil || c.Mode != want {
			t.Errorf("useChosen %q: mode %q (%v), want %q", value, c.Mode, err, want)
		}
	}
	both := Catalog{Services: testCatalog.Services, Modes: []Mode{testMode{name: "plain"},
		testMode{name: "one", param: "useOne"}, testMode{name: "other", param: "useOther"}}}
	_, err := Parse(map[string]string{"objects": objects, "useOne": "true", "useOther": "true"}, 0o644, both)
	if err == nil {
		t.Error("a class choosing two modes was accepted")
	}
}
