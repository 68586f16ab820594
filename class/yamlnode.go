package class

import (
	"fmt"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// maxAliasDepth bounds how far a YAML alias chain is followed.
const maxAliasDepth = 32

func deref(n *yaml.Node) *yaml.Node {
	for d := 0; n != nil && n.Kind == yaml.AliasNode; d++ {
		if d == maxAliasDepth {
			return nil
		}
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// fields maps a mapping's lower-cased keys to their values. A later key
// replaces an earlier one, as encoding/json does in the reference provider;
// merge keys ("<<: *base") supply keys the mapping does not set itself.
// Every mapping and key read counts against the class's maxYAMLKeys.
func fields(n *yaml.Node, st *parseState) (map[string]*yaml.Node, error) {
	budget := maxMergedMappings
	return mergeFields(n, &budget, st)
}

// maxMergedMappings bounds the mappings one entry may pull in through merge
// keys. Aliases share nodes, so a few lines of "<<: [*a, *a, *a]" nested ten
// deep would otherwise cost billions of steps: YAML's "billion laughs".
const maxMergedMappings = 1000

func mergeFields(n *yaml.Node, budget *int, st *parseState) (map[string]*yaml.Node, error) {
	*budget--
	if *budget < 0 {
		return nil, fmt.Errorf("merge keys (<<) pull in more than %d mappings", maxMergedMappings)
	}
	if st.yamlKeys += 1 + len(n.Content)/2; st.yamlKeys > maxYAMLKeys {
		return nil, yamlBudgetError()
	}
	out := make(map[string]*yaml.Node, len(n.Content)/2)
	var merged []*yaml.Node
	for k := 0; k+1 < len(n.Content); k += 2 {
		key := deref(n.Content[k])
		if key == nil || key.Kind != yaml.ScalarNode {
			return nil, fmt.Errorf("keys must be plain names such as objectName, not %s", describeNode(key))
		}
		if key.ShortTag() == "!!merge" {
			merged = append(merged, n.Content[k+1])
			continue
		}
		out[strings.ToLower(key.Value)] = n.Content[k+1]
	}
	for len(merged) > 0 {
		m := deref(merged[0])
		merged = merged[1:]
		switch {
		case m == nil:
		case m.Kind == yaml.SequenceNode:
			if *budget -= len(m.Content); *budget < 0 {
				return nil, fmt.Errorf("merge keys (<<) pull in more than %d mappings", maxMergedMappings)
			}
			merged = append(merged, m.Content...)
		case m.Kind == yaml.MappingNode:
			sub, err := mergeFields(m, budget, st)
			if err != nil {
				return nil, err
			}
			for k, v := range sub {
				if _, ok := out[k]; !ok {
					out[k] = v
				}
			}
		default:
			return nil, fmt.Errorf("a merge key (<<) must refer to a mapping, not %s", describeNode(m))
		}
	}
	return out, nil
}

// stringField reads a string field. Any scalar is taken as written:
// "objectVersion: 3" means the version "3" even though YAML reads a number
// (the reference rejected it; accepting it breaks no class). Null is "".
func stringField(n *yaml.Node) (string, error) {
	n = deref(n)
	if n == nil || isNull(n) {
		return "", nil
	}
	if n.Kind != yaml.ScalarNode {
		return "", fmt.Errorf("must be a string, not %s", describeNode(n))
	}
	return n.Value, nil
}

// describeNode says what a node is, for "not a list"-style messages. A
// scalar's text is shown shortened: these are class fields, never secrets.
func describeNode(n *yaml.Node) string {
	n = deref(n)
	if n == nil {
		return "nothing"
	}
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		v := n.Value
		if len(v) > 40 {
			v = v[:40] + "..."
		}
		switch n.ShortTag() {
		case "!!null":
			return "null"
		case "!!str":
			return fmt.Sprintf("the string %q", v)
		default:
			return fmt.Sprintf("the %s %s", tagNoun(n.ShortTag()), v)
		}
	}
	return "an unsupported YAML node"
}
