package class

import (
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// The object fields that mount a set of objects instead of one
// (docs/compatibility.md: not in the reference provider). objectNamePrefix
// or objectPath takes objectName's place; the others narrow or bound the
// set.
const (
	keyObjectNamePrefix = "objectnameprefix"
	keyObjectPath       = "objectpath"
	keyObjectTags       = "objecttags"
	keyRecursive        = "recursive"
	keyMaxObjects       = "maxobjects"
)

// Bounds of a listing (docs/limits.md).
const (
	// DefaultMaxObjects is a listing's maxObjects when the class sets none.
	DefaultMaxObjects = 100
	// MaxListedObjects is the largest maxObjects a class may set; every
	// object a listing may match also counts against MaxFiles at parse
	// time, so one class lists at most MaxFiles objects in all.
	MaxListedObjects = MaxFiles
	// maxObjectTags bounds objectTags: each tag is checked on every
	// listed secret.
	maxObjectTags = 10
	// IAM's limits on a tag's key and value.
	maxTagKeyLength   = 128
	maxTagValueLength = 256
)

// Listing is what makes an object a set: every object of its service
// whose name starts with Prefix (and has every one of Tags), or every
// parameter under the path Prefix, each mounted as a file named by the
// rest of its name (see Class.Member).
type Listing struct {
	// Field is the object field that names the set, as a class writes it
	// ("objectNamePrefix", "objectPath"): messages name it.
	Field string
	// Prefix is that field's value: a name prefix, or an absolute path.
	Prefix string
	// Tags must each match a tag of a listed object, key and value alike;
	// sorted by key.
	Tags []Tag
	// Recursive reads a path's whole tree, not only its direct children
	// (path listings only; default true).
	Recursive bool
	// Max is maxObjects: more matches than this fail the Mount, naming the
	// prefix and the count.
	Max int
	// path: Prefix is a path (the service's ListForm.Path).
	path bool
}

// Tag is one objectTags entry.
type Tag struct{ Key, Value string }

// ListForm is how a service lists objects, for the parser.
type ListForm struct {
	// Field is the object field that names a set of the service's
	// objects, as a class writes it ("objectNamePrefix"); "" when the
	// service lists nothing.
	Field string
	// Path: Field is an absolute path, read recursively unless the class
	// says recursive: false. Otherwise it is a name prefix, which
	// objectTags may narrow.
	Path bool
	// Check says why a value of Field cannot name a set of the service's
	// objects ("" when it can); nil accepts any value.
	Check func(string) string
}

// Signature is a string that differs for any two listings that may list
// different objects: part of the cache key of what a listing read.
func (l *Listing) Signature() string {
	var b strings.Builder
	b.WriteString(strconv.Quote(l.Prefix))
	for _, t := range l.Tags {
		b.WriteString(" " + strconv.Quote(t.Key) + "=" + strconv.Quote(t.Value))
	}
	b.WriteString(" r=" + strconv.FormatBool(l.Recursive) + " max=" + strconv.Itoa(l.Max))
	return b.String()
}

// Rel is the part of name that names its file: what follows the prefix,
// or the path and its "/", without leading "/"; "" when name is the
// prefix itself or not in the set.
func (l *Listing) Rel(name string) string {
	base := l.Prefix
	if l.Path() {
		base = strings.TrimRight(base, "/") + "/"
	}
	if !strings.HasPrefix(name, base) {
		return ""
	}
	return strings.TrimLeft(name[len(base):], "/")
}

// Path reports whether Prefix is a path, whose members are named by what
// follows it and its "/" (objectPath), rather than a name prefix.
func (l *Listing) Path() bool { return l.path }

// listFields are the fields that make an object a listing, with the name
// a class writes.
var listFields = []struct{ key, field string }{
	{keyObjectNamePrefix, "objectNamePrefix"},
	{keyObjectPath, "objectPath"},
}

// listField returns the listing field an entry sets ("" for none), and an
// error when it sets more than one or one beside objectName.
func listField(label string, f map[string]*yaml.Node) (key, field string, err error) {
	for _, lf := range listFields {
		if f[lf.key] == nil {
			continue
		}
		if field != "" {
			return "", "", invalidArg("%s: %s and %s are both set; an object lists secrets by name prefix or parameters by path, never both", label, field, lf.field)
		}
		key, field = lf.key, lf.field
	}
	if field != "" && f[keyObjectName] != nil {
		return "", "", invalidArg("%s: objectName and %s are both set; an object reads one object by objectName or every object under %s, never both: remove one", label, field, field)
	}
	return key, field, nil
}

// parseListing reads the listing fields of o (a listing named by l.Field
// and l.Prefix) for service svc and checks that o uses no field a listing
// cannot have. A plain object must set none of the listing's fields.
func parseListing(label string, f map[string]*yaml.Node, o *Object, svc Service) error {
	if o.Listing == nil {
		for _, k := range []struct{ key, field string }{{keyObjectTags, "objectTags"}, {keyRecursive, "recursive"}, {keyMaxObjects, "maxObjects"}} {
			if f[k.key] != nil {
				return invalidArg("%s: %s applies only to an object listed by objectNamePrefix or objectPath; remove it", label, k.field)
			}
		}
		return nil
	}
	l, form := o.Listing, svc.List()
	if form.Field != l.Field {
		if form.Field == "" {
			return invalidArg("%s: %s cannot list %ss; name each one with objectName", label, l.Field, svc.Noun())
		}
		return invalidArg("%s: %ss are listed with %s, not %s; rename the field", label, svc.Noun(), form.Field, l.Field)
	}
	if form.Path && !strings.HasPrefix(l.Prefix, "/") {
		return invalidArg("%s: %s %s is not an absolute path; start it with \"/\", such as \"/app/prod\"", label, l.Field, short(l.Prefix))
	}
	if form.Check != nil {
		if why := form.Check(l.Prefix); why != "" {
			return invalidArg("%s: %s %s %s", label, l.Field, short(l.Prefix), why)
		}
	}
	for _, k := range []struct {
		key, field string
		bad        bool
	}{
		{keyObjectVersion, "objectVersion", o.Version != ""},
		{keyObjectVersionLabel, "objectVersionLabel", o.VersionLabel != ""},
		{keyFailoverObject, "failoverObject", f[keyFailoverObject] != nil},
		{keyObjectTags, "objectTags", form.Path && f[keyObjectTags] != nil},
		{keyRecursive, "recursive", !form.Path && f[keyRecursive] != nil},
	} {
		if k.bad {
			return invalidArg("%s: %s cannot be used with %s; a listing reads the current value of every object it matches: remove %s", label, k.field, l.Field, k.field)
		}
	}
	l.path = form.Path
	var err error
	if l.Tags, err = readTags(label, f[keyObjectTags]); err != nil {
		return err
	}
	l.Recursive = true
	if n := deref(f[keyRecursive]); n != nil && !isNull(n) {
		if l.Recursive, err = boolField(label, "recursive", f[keyRecursive]); err != nil {
			return err
		}
	}
	l.Max, err = readMaxObjects(label, f[keyMaxObjects])
	return err
}
