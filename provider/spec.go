package provider

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/csi-provider-aws/csi-provider-aws/failure"
	"github.com/csi-provider-aws/csi-provider-aws/jmes"
	yaml "go.yaml.in/yaml/v3"
)

// The SecretProviderClass keys the parser reads from the Mount attributes,
// listed with their limits in classParams. Every other key
// (csi.storage.k8s.io/*, secretProviderClass, keys a newer reference
// release may add) is ignored, as the reference provider does.
const (
	paramObjects              = "objects"
	paramRegion               = "region"
	paramFailoverRegion       = "failoverRegion"
	paramPathTranslation      = "pathTranslation"
	paramUsePodIdentity       = "usePodIdentity"
	paramPreferredAddressType = "preferredAddressType"
)

// defaultPathTranslation replaces "/" in file names unless the class says
// otherwise; the reference provider's default.
const defaultPathTranslation = "_"

// regionRE accepts the shape of every AWS region name: a two to four letter
// area, one or more words, a number ("us-east-1", "us-gov-west-1",
// "cn-north-1", "eu-isoe-west-1", "us-isob-east-1", "eusc-de-east-1").
// Regions become endpoint host names, so anything else is refused before it
// reaches the SDK (DESIGN invariant 5).
var regionRE = regexp.MustCompile(`^[a-z]{2,4}(-[a-z]+)+-[0-9]{1,2}$`)

// partitionRE accepts "aws" and every aws-* partition (aws-cn, aws-us-gov,
// aws-iso, aws-iso-b, aws-iso-e, aws-iso-f, aws-eusc).
var partitionRE = regexp.MustCompile(`^aws(-[a-z]+)*$`)

// ParseClass turns the Mount attributes (the class's spec.parameters merged
// with the driver's csi.storage.k8s.io/* keys) into a validated Class. It
// does no I/O. defaultMode is the driver's `permission`, used for every file
// whose filePermission is not set.
//
// The Class is never modified afterwards. What depends on the primary
// region is checked by CheckRegion once the caller has resolved it (the
// class's own region, else the daemon's or the node's): ARNs are checked
// here only when the class names its region.
//
// Every error is a failure.InvalidArgument whose text names the parameter or
// the object ("objects[2] \"db-creds\": ...") and says what to change.
func ParseClass(params map[string]string, defaultMode int32) (*Class, error) {
	v := readClassValues(params)
	return parseClass(&v, defaultMode)
}

// parseClass is ParseClass over the parameters it reads; ClassCache calls
// it with the values it hashed.
func parseClass(params *classValues, defaultMode int32) (*Class, error) {
	if defaultMode < 0 || defaultMode > 0o777 {
		return nil, invalidArg("the driver's permission %d is not a file mode from 0 to 0777", defaultMode)
	}
	if err := params.checkLengths(); err != nil {
		return nil, err
	}
	c := &Class{}

	if r := params[pRegion]; r != "" {
		if err := checkRegionName(paramRegion, r); err != nil {
			return nil, err
		}
		c.Region = r
	}
	if r := params[pFailoverRegion]; r != "" {
		if err := checkRegionName(paramFailoverRegion, r); err != nil {
			return nil, err
		}
		if r == c.Region {
			return nil, invalidArg("failoverRegion %q is the same as region; name a different region or remove failoverRegion", r)
		}
		c.FailoverRegion = r
	}

	t, err := parsePathTranslation(params[pPathTranslation])
	if err != nil {
		return nil, err
	}
	c.PathTranslation = t

	if s := params[pUsePodIdentity]; s != "" {
		b, err := strconv.ParseBool(s)
		if err != nil {
			return nil, invalidArg("usePodIdentity %q is not a boolean; use \"true\" (EKS Pod Identity) or \"false\" (IRSA, the default)", s)
		}
		c.UsePodIdentity = b
	}

	// The reference provider treats any value other than ipv4/ipv6 as auto;
	// keep that, since classes with a typo there work today.
	switch strings.ToLower(params[pPreferredAddressType]) {
	case "ipv4":
		c.PreferredAddressType = "ipv4"
	case "ipv6":
		c.PreferredAddressType = "ipv6"
	default:
		c.PreferredAddressType = "auto"
	}

	objs, err := parseObjects(params[pObjects], c, defaultMode)
	if err != nil {
		return nil, err
	}
	c.Objects = objs
	if err := checkFileNames(c.Objects); err != nil {
		return nil, err
	}
	if c.Region != "" {
		if err := c.checkARNRegions(c.Region); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// CheckRegion checks the class against the resolved primary region (the
// class's region, else the daemon's AWS_REGION, else the node's region
// label): it is a region name, the failover region differs from it and
// every ARN names the region it is read in. It changes nothing: the caller
// passes the region on with the class (FetchRequest.Region).
func (c *Class) CheckRegion(primary string) error {
	if primary == "" {
		return failure.New(failure.FailedPrecondition,
			"no region: the SecretProviderClass sets no region, the daemon has no AWS_REGION and the node has no topology.kubernetes.io/region label; set region in the SecretProviderClass")
	}
	if err := checkRegionName("region", primary); err != nil {
		return err
	}
	if c.FailoverRegion == primary {
		return invalidArg("failoverRegion %q is the same as the primary region %q; name a different region or remove failoverRegion", c.FailoverRegion, primary)
	}
	return c.checkARNRegions(primary)
}

// checkARNRegions checks that each ARN names the region it will be read in:
// an object's ARN the primary region, its failoverObject's ARN the failover
// region. AWS would refuse the call anyway; this says why before any call.
func (c *Class) checkARNRegions(primary string) error {
	for i := range c.Objects {
		o := &c.Objects[i]
		if a, ok := parseARN(o.Name); ok && a.region != primary {
			return invalidArg("%s: the ARN is in region %q but the primary region is %q; use the ARN of the replica in %s, or set region to %s",
				o.label(), a.region, primary, primary, a.region)
		}
		if o.Failover == nil || o.Failover.Name == o.Name {
			// An inherited failover name is the primary's own name; its
			// region was checked above and the fetcher owns what it means
			// in the failover region.
			continue
		}
		if a, ok := parseARN(o.Failover.Name); ok && a.region != c.FailoverRegion {
			return invalidArg("%s: failoverObject ARN %q is in region %q but failoverRegion is %q; use the ARN of the replica in %s",
				o.label(), o.Failover.Name, a.region, c.FailoverRegion, c.FailoverRegion)
		}
	}
	return nil
}

func checkRegionName(field, r string) error {
	if len(r) > maxRegionLength || !regionRE.MatchString(r) {
		return invalidArg("%s %s is not an AWS region name; use one such as \"us-east-1\"", field, short(r))
	}
	return nil
}

// parsePathTranslation returns the replacement for "/" in file names, "" for
// none. One character means one rune: the reference provider counted bytes
// and so refused "é" (SPEC section 6).
func parsePathTranslation(s string) (string, error) {
	switch {
	case s == "":
		return defaultPathTranslation, nil
	case strings.EqualFold(s, "false"):
		return "", nil
	case utf8.RuneCountInString(s) == 1 && utf8.ValidString(s) && s != "\x00":
		return s, nil
	}
	return "", invalidArg("pathTranslation %q must be one character (the replacement for \"/\" in file names, default \"_\") or \"False\" to keep \"/\" as sub-directories", s)
}

// parsedARN is the part of an ARN the checks need.
type parsedARN struct {
	partition, service, region, resource string
}

// parseARN splits an "arn:partition:service:region:account:resource" name.
// ok is false when name does not start with "arn:"; a name that does but is
// not well formed is reported by checkObjectName.
func parseARN(name string) (a parsedARN, ok bool) {
	if !strings.HasPrefix(name, "arn:") {
		return parsedARN{}, false
	}
	p := strings.SplitN(name, ":", 6)
	if len(p) != 6 {
		return parsedARN{}, false
	}
	return parsedARN{partition: p[1], service: p[2], region: p[3], resource: p[5]}, true
}

// typeFromARN returns the object type an ARN names, or an error text saying
// why the ARN is not one of ours.
func typeFromARN(name string) (ObjectType, string) {
	a, ok := parseARN(name)
	if !ok {
		return "", fmt.Sprintf("%q is not a valid ARN (arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE)", name)
	}
	if !partitionRE.MatchString(a.partition) {
		return "", fmt.Sprintf("ARN partition %q is not an AWS partition such as \"aws\", \"aws-cn\" or \"aws-us-gov\"", a.partition)
	}
	switch a.service {
	case "secretsmanager":
		if !strings.HasPrefix(a.resource, "secret:") || len(a.resource) == len("secret:") {
			return "", fmt.Sprintf("Secrets Manager ARN %q does not name a secret (its resource must be \"secret:NAME\")", name)
		}
		return SecretsManager, ""
	case "ssm":
		if !strings.HasPrefix(a.resource, "parameter/") || len(a.resource) == len("parameter/") {
			return "", fmt.Sprintf("SSM ARN %q does not name a parameter (its resource must be \"parameter/NAME\")", name)
		}
		return ParameterStore, ""
	}
	return "", fmt.Sprintf("ARN service %q is neither secretsmanager nor ssm", a.service)
}

// label names an object in messages: objects[2] "db-creds".
func (o *Object) label() string {
	return objectLabel(o.Index, o.Name)
}

func objectLabel(i int, name string) string {
	if name == "" {
		return fmt.Sprintf("objects[%d]", i)
	}
	return fmt.Sprintf("objects[%d] %q", i, name)
}

func invalidArg(format string, args ...any) error {
	return failure.New(failure.InvalidArgument, format, args...)
}

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

// maxAliasDepth bounds how far a YAML alias chain is followed.
const maxAliasDepth = 32

func parseObjects(src string, c *Class, defaultMode int32) ([]Object, error) {
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
	st := &parseState{files: len(root.Content), exprs: map[string]*jmes.Expr{}}
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
// which the driver produces when an empty answer reaches it (SPEC section 6).
func noObjects() error {
	return invalidArg("the SecretProviderClass lists no objects; add at least one entry to objects, such as \"- {objectName: my-secret, objectType: secretsmanager}\"")
}

func parseObject(i int, n *yaml.Node, c *Class, defaultMode int32, st *parseState) (Object, error) {
	o := Object{Index: i}
	if n == nil || isNull(n) {
		return o, invalidArg("objects[%d] is empty; remove it or give it an objectName", i)
	}
	if n.Kind != yaml.MappingNode {
		return o, invalidArg("objects[%d] must be a mapping with at least objectName, not %s", i, describeNode(n))
	}
	f, err := fields(n, st)
	if err != nil {
		return o, invalidArg("objects[%d]: %s", i, err)
	}
	if len(f) == 0 {
		return o, invalidArg("objects[%d] is empty; remove it or give it an objectName", i)
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
		return o, err
	}
	if o.Name == "" {
		return o, invalidArg("objects[%d] has no objectName; set it to the secret or parameter name or ARN", i)
	}
	var typ string
	if typ, err = str(keyObjectType, "objectType"); err != nil {
		return o, err
	}
	if o.Alias, err = str(keyObjectAlias, "objectAlias"); err != nil {
		return o, err
	}
	if o.Version, err = str(keyObjectVersion, "objectVersion"); err != nil {
		return o, err
	}
	if o.VersionLabel, err = str(keyObjectVersionLabel, "objectVersionLabel"); err != nil {
		return o, err
	}
	label := o.label()

	if o.Type, err = objectType(label, o.Name, typ); err != nil {
		return o, err
	}
	if err := checkVersions(label, "", o.Type, o.Version, o.VersionLabel); err != nil {
		return o, err
	}

	if o.Mode, err = filePermission(label, "filePermission", f[keyFilePermission], defaultMode); err != nil {
		return o, err
	}
	o.FileName = translateName(c.PathTranslation, o.Alias, o.Name)
	if why := checkRelPath(o.FileName); why != "" {
		what := "objectName"
		if o.Alias != "" {
			what = "objectAlias"
		}
		return o, invalidArg("%s: %s gives file name %q, which %s; set an objectAlias that is a relative path without \"..\"", label, what, o.FileName, why)
	}

	if o.JMESPath, err = parseJMESPath(label, f[keyJMESPath], c.PathTranslation, o.Mode, st); err != nil {
		return o, err
	}
	if o.Failover, err = parseFailover(label, f[keyFailoverObject], &o, c, st); err != nil {
		return o, err
	}
	return o, nil
}

// objectType decides the object's service from objectType and the ARN.
func objectType(label, name, typ string) (ObjectType, error) {
	var given ObjectType
	switch {
	case typ == "":
	case strings.EqualFold(typ, string(SecretsManager)):
		given = SecretsManager
	case strings.EqualFold(typ, string(ParameterStore)):
		given = ParameterStore
	default:
		return "", invalidArg("%s: objectType %q is unknown; use secretsmanager or ssmparameter", label, typ)
	}
	if !strings.HasPrefix(name, "arn:") {
		if given == "" {
			return "", invalidArg("%s: objectType is missing; set it to secretsmanager or ssmparameter (it may be left out only when objectName is an ARN)", label)
		}
		return given, nil
	}
	fromARN, why := typeFromARN(name)
	if why != "" {
		return "", invalidArg("%s: objectName %s", label, why)
	}
	if given != "" && given != fromARN {
		return "", invalidArg("%s: objectType %q does not match the ARN, which names a %s object; fix objectType or the ARN", label, typ, fromARN)
	}
	return fromARN, nil
}

// checkVersions applies the per-service version rules. prefix is "" for the
// object itself and "failoverObject " for its failover object.
func checkVersions(label, prefix string, t ObjectType, version, versionLabel string) error {
	if t != ParameterStore {
		return nil
	}
	if version != "" && versionLabel != "" {
		return invalidArg("%s: %sobjectVersion and %sobjectVersionLabel are both set, but SSM parameters take one or the other; remove one", label, prefix, prefix)
	}
	if version != "" {
		if _, err := strconv.ParseUint(version, 10, 63); err != nil {
			return invalidArg("%s: %sobjectVersion %q is not an SSM parameter version number such as \"3\"", label, prefix, version)
		}
	}
	return nil
}

var permRE = regexp.MustCompile(`^0[0-7]{3}$`)

// filePermission reads a filePermission node: a quoted string of four octal
// digits. An unquoted 0600 is the number 384 to YAML, and the reference
// provider then failed with a type error nobody could read (SPEC section 6).
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
		if why := checkRelPath(name); why != "" {
			return nil, invalidArg("%s: objectAlias gives file name %q, which %s; use a relative path without \"..\"", where, name, why)
		}
		out = append(out, JMESPathFile{Path: path, FileName: name, Mode: mode, expr: expr})
	}
	return out, nil
}

// parseFailover reads failoverObject. The returned FailoverObject is fully
// resolved: a version or label it leaves out is the primary's, as in the
// reference provider, so fetchers need no merging.
func parseFailover(label string, n *yaml.Node, o *Object, c *Class, st *parseState) (*FailoverObject, error) {
	n = deref(n)
	if n == nil || isNull(n) {
		return nil, nil
	}
	if n.Kind != yaml.MappingNode {
		return nil, invalidArg("%s: failoverObject must be a mapping with objectName, not %s", label, describeNode(n))
	}
	f, err := fields(n, st)
	if err != nil {
		return nil, invalidArg("%s: failoverObject: %s", label, err)
	}
	var name, version, versionLabel string
	for _, x := range []struct {
		key, field string
		dst        *string
	}{
		{keyObjectName, "objectName", &name},
		{keyObjectVersion, "objectVersion", &version},
		{keyObjectVersionLabel, "objectVersionLabel", &versionLabel},
	} {
		s, err := stringField(f[x.key])
		if err != nil {
			return nil, invalidArg("%s: failoverObject %s %s", label, x.field, err)
		}
		if err := checkField(label, "failoverObject "+x.field, x.key, s); err != nil {
			return nil, err
		}
		*x.dst = s
	}
	if name == "" && version == "" && versionLabel == "" {
		// An empty failoverObject means nothing; the reference ignores it.
		return nil, nil
	}
	if c.FailoverRegion == "" {
		if name == "" {
			// The reference checks a failoverObject only when it names
			// an object, and such a class works there without a
			// failoverRegion (the failover part is never used); keep it
			// working.
			return nil, nil
		}
		return nil, invalidArg("%s: failoverObject is set but the SecretProviderClass has no failoverRegion; add failoverRegion or remove failoverObject", label)
	}
	fo := &FailoverObject{Name: name, Version: version, VersionLabel: versionLabel}
	if name == "" {
		// Same object, another version or label in the failover region:
		// the file name does not depend on the region, so no alias needed.
		fo.Name = o.Name
		if version != "" && version != o.Version {
			return nil, invalidArg("%s: failoverObject objectVersion %q differs from objectVersion %q; the two regions must serve the same version", label, version, o.Version)
		}
	} else {
		if o.Alias == "" {
			return nil, invalidArg("%s: failoverObject names another object, so objectAlias is required (the file name must not depend on the region that answered); add objectAlias", label)
		}
		if version != o.Version {
			return nil, invalidArg("%s: failoverObject objectVersion %q differs from objectVersion %q; they must be equal (leave both empty to read the current version)", label, version, o.Version)
		}
		if strings.HasPrefix(name, "arn:") {
			t, why := typeFromARN(name)
			if why != "" {
				return nil, invalidArg("%s: failoverObject objectName %s", label, why)
			}
			if t != o.Type {
				return nil, invalidArg("%s: failoverObject ARN names a %s object but the object is %s; both regions must use the same service", label, t, o.Type)
			}
			if a, _ := parseARN(name); a.region != c.FailoverRegion {
				return nil, invalidArg("%s: failoverObject ARN %q is in region %q but failoverRegion is %q; use the ARN of the replica in %s",
					label, name, a.region, c.FailoverRegion, c.FailoverRegion)
			}
		}
	}
	if fo.Version == "" {
		fo.Version = o.Version
	}
	if fo.VersionLabel == "" {
		fo.VersionLabel = o.VersionLabel
	}
	if err := checkVersions(label, "failoverObject ", o.Type, version, versionLabel); err != nil {
		return nil, err
	}
	if o.Type == ParameterStore && fo.Version != "" && fo.VersionLabel != "" {
		return nil, invalidArg("%s: in the failover region the SSM parameter would be read by both version %q and label %q; set failoverObject objectVersionLabel only when objectVersion is empty", label, fo.Version, fo.VersionLabel)
	}
	return fo, nil
}

// ---- YAML node helpers ----

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
