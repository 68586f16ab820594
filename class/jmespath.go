package class

import (
	"fmt"

	yaml "go.yaml.in/yaml/v3"

	"github.com/csi-provider-aws/csi-provider-aws/jmes"
)

// parseJMESPath reads the jmesPath entries of o, whose mode and
// objectEncoding they take unless they set their own.
func parseJMESPath(label string, n *yaml.Node, translation string, o *Object, st *parseState) ([]JMESPathFile, error) {
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
		e, err := parseJMESPathEntry(label, j, deref(item), translation, o, st)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

// parseJMESPathEntry reads jmesPath[j] of o.
func parseJMESPathEntry(label string, j int, item *yaml.Node, translation string, o *Object, st *parseState) (JMESPathFile, error) {
	where := fmt.Sprintf("%s: jmesPath[%d]", label, j)
	if item == nil || isNull(item) {
		return JMESPathFile{}, invalidArg("%s is empty; remove it or give it a path and an objectAlias", where)
	}
	if item.Kind != yaml.MappingNode {
		return JMESPathFile{}, invalidArg("%s must be a mapping with path and objectAlias, not %s", where, describeNode(item))
	}
	f, err := fields(item, st)
	if err != nil {
		return JMESPathFile{}, invalidArg("%s: %s", where, err)
	}
	path, err := stringField(f[keyPath])
	if err != nil {
		return JMESPathFile{}, invalidArg("%s: path %s", where, err)
	}
	alias, err := stringField(f[keyObjectAlias])
	if err != nil {
		return JMESPathFile{}, invalidArg("%s: objectAlias %s", where, err)
	}
	if err := checkField(where, "objectAlias", keyObjectAlias, alias); err != nil {
		return JMESPathFile{}, err
	}
	if path == "" {
		return JMESPathFile{}, invalidArg("%s has no path; set path to the JMESPath expression whose result becomes the file", where)
	}
	if alias == "" {
		return JMESPathFile{}, invalidArg("%s (path %s) has no objectAlias; set objectAlias to the name of the file its result is written to", where, short(path))
	}
	expr, err := st.compile(path)
	if err != nil {
		return JMESPathFile{}, invalidArg("%s: %s", where, err)
	}
	e := JMESPathFile{Path: path, Expr: expr}
	if e.Mode, err = filePermission(label, fmt.Sprintf("jmesPath[%d] filePermission", j), f[keyFilePermission], o.Mode); err != nil {
		return JMESPathFile{}, err
	}
	if e.Encoding, err = encodingField(label, fmt.Sprintf("jmesPath[%d] objectEncoding", j), f[keyObjectEncoding], o.Encoding); err != nil {
		return JMESPathFile{}, err
	}
	e.FileName = translateName(translation, alias, "")
	if why := CheckRelPath(e.FileName); why != "" {
		return JMESPathFile{}, invalidArg("%s: objectAlias gives file name %q, which %s; use a relative path without \"..\"", where, e.FileName, why)
	}
	return e, nil
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
