package class

import (
	"fmt"

	yaml "go.yaml.in/yaml/v3"

	"github.com/csi-provider-aws/csi-provider-aws/jmes"
)

func parseJMESPath(label string, n *yaml.Node, translation string, objMode int32, st *parseState) ([]JMESPathFile, error) {
	n = deref(n)
	if n == nil || isNull(n) {
		return nil, nil
	}
	if n.Kind != yaml.SequenceNode {
		return nil, invalidArg("%s: jmesPath must be a list of {path, objectAlias}, not %s", label, describeNode(n))
	}
	if err := st.addJMESPathFiles(label, len(n.Content)); err != nil {
		return nil, err
	}
	out := make([]JMESPathFile, 0, len(n.Content))
	for j, item := range n.Content {
		item = deref(item)
		where := fmt.Sprintf("%s: jmesPath[%d]", label, j)
		if item == nil || isNull(item) {
			return nil, invalidArg("%s is empty; remove it or give it a path and an objectAlias", where)
		}
		if item.Kind != yaml.MappingNode {
			return nil, invalidArg("%s must be a mapping with path and objectAlias, not %s", where, describeNode(item))
		}
		f, err := fields(item, st)
		if err != nil {
			return nil, invalidArg("%s: %s", where, err)
		}
		path, err := stringField(f[keyPath])
		if err != nil {
			return nil, invalidArg("%s: path %s", where, err)
		}
		alias, err := stringField(f[keyObjectAlias])
		if err != nil {
			return nil, invalidArg("%s: objectAlias %s", where, err)
		}
		if err := checkField(where, "objectAlias", keyObjectAlias, alias); err != nil {
			return nil, err
		}
		if path == "" {
			return nil, invalidArg("%s has no path; set path to the JMESPath expression whose result becomes the file", where)
		}
		if alias == "" {
			return nil, invalidArg("%s (path %s) has no objectAlias; set objectAlias to the name of the file its result is written to", where, short(path))
		}
		expr, err := st.compile(path)
		if err != nil {
			return nil, invalidArg("%s: %s", where, err)
		}
		mode, err := filePermission(label, fmt.Sprintf("jmesPath[%d] filePermission", j), f[keyFilePermission], objMode)
		if err != nil {
			return nil, err
		}
		name := translateName(translation, alias, "")
		if why := CheckRelPath(name); why != "" {
			return nil, invalidArg("%s: objectAlias gives file name %q, which %s; use a relative path without \"..\"", where, name, why)
		}
		out = append(out, JMESPathFile{Path: path, FileName: name, Mode: mode, Expr: expr})
	}
	return out, nil
}

// compile compiles path once per class: a path repeated through aliases
// shares one compiled expression, so compiling costs at most what the
// class's own text holds.
func (st *parseState) compile(path string) (*jmes.Expr, error) {
	if e, ok := st.exprs[path]; ok {
		return e, nil
	}
	e, err := jmes.Compile(path)
	if err != nil {
		return nil, err
	}
	st.exprs[path] = e
	return e, nil
}
