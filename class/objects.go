package class

import (
	"fmt"
	"strings"

	yaml "go.yaml.in/yaml/v3"

	"github.com/csi-provider-aws/csi-provider-aws/jmes"
)

// ---- the objects YAML ----

// The object fields, lower-cased. Keys are matched without regard to case
// because the reference provider decodes through encoding/json, which does
// the same: a class written with "objectname:" works there, so it must work
// here. Unknown keys are ignored for the same reason.
const (
	keyObjectName         = "objectname"
	keyObjectType         = "objecttype"
	keyObjectAlias        = "objectalias"
	keyObjectVersion      = "objectversion"
	keyObjectVersionLabel = "objectversionlabel"
	keyFilePermission     = "filepermission"
	keyJMESPath           = "jmespath"
	keyFailoverObject     = "failoverobject"
	keyPath               = "path"
)

func parseObjects(src string, c *Class, defaultMode int32, services serviceTable) ([]Object, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		return nil, invalidArg("objects is not valid YAML (%s); it must be a YAML list such as \"- {objectName: my-secret, objectType: secretsmanager}\"", err)
	}
	root := &doc
	if root.Kind == yaml.DocumentNode {
		if len(root.Content) == 0 {
			return nil, noObjects()
		}
		root = root.Content[0]
	}
	root = deref(root)
	if root == nil || root.Kind == 0 || isNull(root) {
		return nil, noObjects()
	}
	if root.Kind != yaml.SequenceNode {
		return nil, invalidArg("objects must be a YAML list (each entry starting with \"- objectName: ...\"), not %s", describeNode(root))
	}
	if len(root.Content) == 0 {
		return nil, noObjects()
	}
	if err := checkObjectCount(len(root.Content)); err != nil {
		return nil, err
	}
	st := &parseState{files: len(root.Content), exprs: map[string]*jmes.Expr{}, services: services}
	objs := make([]Object, 0, len(root.Content))
	for i, item := range root.Content {
		o, err := parseObject(i, deref(item), c, defaultMode, st)
		if err != nil {
			return nil, err
		}
		objs = append(objs, o)
	}
	return objs, nil
}

// noObjects replaces the reference provider's "missing object versions",
// which the driver produces when an empty answer reaches it (docs/compatibility.md).
func noObjects() error {
	return invalidArg("the SecretProviderClass lists no objects; add at least one entry to objects, such as \"- {objectName: my-secret, objectType: secretsmanager}\"")
}

func parseObject(i int, n *yaml.Node, c *Class, defaultMode int32, st *parseState) (Object, error) {
	o, typ, f, err := readObject(i, n, st)
	if err != nil {
		return o, err
	}
	label := o.Label()
	name := o.Name
	if o.Listing != nil {
		name = "" // a prefix is never an ARN: objectType is needed
	}
	svc, err := st.services.objectService(label, name, typ)
	if err != nil {
		return o, err
	}
	o.Type = svc.ObjectType()
	if err := parseListing(label, f, &o, svc); err != nil {
		return o, err
	}
	if err := checkVersions(label, "", svc, o.Version, o.VersionLabel); err != nil {
		return o, err
	}

	if o.Mode, err = filePermission(label, "filePermission", f[keyFilePermission], defaultMode); err != nil {
		return o, err
	}
	if o.Listing != nil {
		return o, finishListing(label, f, c, &o, st)
	}
	o.FileName = translateName(c.PathTranslation, o.Alias, o.Name)
	if why := CheckRelPath(o.FileName); why != "" {
		what := "objectName"
		if o.Alias != "" {
			what = "objectAlias"
		}
		return o, invalidArg("%s: %s gives file name %q, which %s; set an objectAlias that is a relative path without \"..\"", label, what, o.FileName, why)
	}

	if err := readObjectOptions(label, f, &o); err != nil {
		return o, err
	}
	if o.JMESPath, err = parseJMESPath(label, f[keyJMESPath], c.PathTranslation, &o, st); err != nil {
		return o, err
	}
	if o.Failover, err = parseFailover(label, f[keyFailoverObject], &o, svc, c, st); err != nil {
		return o, err
	}
	return o, nil
}

// readObject reads entry i's string fields into an Object (its Type, as
// written, is typ) and returns its fields for the rest.
func readObject(i int, n *yaml.Node, st *parseState) (o Object, typ string, f map[string]*yaml.Node, err error) {
	o = Object{Index: i}
	if n == nil || isNull(n) {
		return o, "", nil, invalidArg("objects[%d] is empty; remove it or give it an objectName", i)
	}
	if n.Kind != yaml.MappingNode {
		return o, "", nil, invalidArg("objects[%d] must be a mapping with at least objectName, not %s", i, describeNode(n))
	}
	if f, err = fields(n, st); err != nil {
		return o, "", nil, invalidArg("objects[%d]: %s", i, err)
	}
	if len(f) == 0 {
		return o, "", nil, invalidArg("objects[%d] is empty; remove it or give it an objectName", i)
	}
	str := func(key, field string) (string, error) {
		s, err := stringField(f[key])
		if err != nil {
			return "", invalidArg("%s: %s %s", objectLabel(i, o.Name), field, err)
		}
		if key == keyObjectName {
			return s, checkField(fmt.Sprintf("objects[%d]", i), field, key, s)
		}
		return s, checkField(objectLabel(i, o.Name), field, key, s)
	}
	if o.Name, err = str(keyObjectName, "objectName"); err != nil {
		return o, "", nil, err
	}
	lkey, lfield, err := listField(fmt.Sprintf("objects[%d]", i), f)
	if err != nil {
		return o, "", nil, err
	}
	if lfield != "" {
		if o.Name, err = str(lkey, lfield); err != nil {
			return o, "", nil, err
		}
		if o.Name == "" {
			return o, "", nil, invalidArg("objects[%d]: %s is empty; set it to the beginning of the names to list, or name one object with objectName", i, lfield)
		}
		o.Listing = &Listing{Field: lfield, Prefix: o.Name}
	}
	if o.Name == "" {
		return o, "", nil, invalidArg("objects[%d] has no objectName; set it to the secret or parameter name or ARN (or list a set with objectNamePrefix or objectPath)", i)
	}
	for _, x := range []struct {
		key, field string
		dst        *string
	}{
		{keyObjectType, "objectType", &typ},
		{keyObjectAlias, "objectAlias", &o.Alias},
		{keyObjectVersion, "objectVersion", &o.Version},
		{keyObjectVersionLabel, "objectVersionLabel", &o.VersionLabel},
	} {
		if *x.dst, err = str(x.key, x.field); err != nil {
			return o, "", nil, err
		}
	}
	return o, typ, f, nil
}

// objectService decides the object's service from objectType and the ARN.
func (t serviceTable) objectService(label, name, typ string) (Service, error) {
	var given Service
	if typ != "" {
		if given = t.byType(typ); given == nil {
			return nil, invalidArg("%s: objectType %q is unknown; use %s", label, typ, t.types())
		}
	}
	if !strings.HasPrefix(name, "arn:") {
		if given == nil {
			return nil, invalidArg("%s: objectType is missing; set it to %s (it may be left out only when objectName is an ARN)", label, t.types())
		}
		return given, nil
	}
	fromARN, why := t.fromARN(name)
	if why != "" {
		return nil, invalidArg("%s: objectName %s", label, why)
	}
	if given != nil && given != fromARN {
		return nil, invalidArg("%s: objectType %q does not match the ARN, which names a %s object; fix objectType or the ARN", label, typ, fromARN.ObjectType())
	}
	return fromARN, nil
}
