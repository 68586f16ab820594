package class

import (
	"fmt"
	"regexp"
	"strconv"

	yaml "go.yaml.in/yaml/v3"
)

var permRE = regexp.MustCompile(`^0[0-7]{3}$`)

// filePermission reads a filePermission node: a quoted string of four octal
// digits. An unquoted 0600 is the number 384 to YAML, and the reference
// provider then failed with a type error nobody could read (docs/compatibility.md).
func filePermission(label, field string, n *yaml.Node, defaultMode int32) (int32, error) {
	n = deref(n)
	if n == nil || isNull(n) {
		return defaultMode, nil
	}
	if n.Kind != yaml.ScalarNode {
		return 0, invalidArg("%s: %s must be a quoted string such as \"0640\", not %s", label, field, describeNode(n))
	}
	if tag := n.ShortTag(); tag != "!!str" {
		var v any
		if err := n.Decode(&v); err != nil {
			v = n.Value
		}
		suggest := n.Value
		switch {
		case permRE.MatchString(suggest):
		case len(suggest) == 3 && permRE.MatchString("0"+suggest):
			suggest = "0" + suggest
		default:
			suggest = "0640"
		}
		return 0, invalidArg("%s: %s must be a quoted string such as %q; YAML read the unquoted %s as the %s %s", label, field, suggest, clip(n.Value), tagNoun(tag), clip(fmt.Sprint(v)))
	}
	s := n.Value
	if !permRE.MatchString(s) {
		if len(s) == 4 && s[0] >= '1' && s[0] <= '7' && permRE.MatchString("0"+s[1:]) {
			return 0, invalidArg("%s: %s %q sets setuid, setgid or sticky bits, which a mounted secret cannot have; use a value from \"0000\" to \"0777\"", label, field, s)
		}
		example := "0644"
		if len(s) == 3 && permRE.MatchString("0"+s) {
			example = "0" + s
		}
		return 0, invalidArg("%s: %s %s must be four octal digits such as %q", label, field, short(s), example)
	}
	m, _ := strconv.ParseInt(s, 8, 32)
	return int32(m), nil
}

func tagNoun(tag string) string {
	switch tag {
	case "!!int", "!!float":
		return "number"
	case "!!bool":
		return "boolean"
	case "!!null":
		return "null"
	}
	return "value"
}
