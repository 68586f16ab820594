package class

import (
	"slices"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// readTags reads objectTags: a mapping of tag keys to values, every one a
// plain string.
func readTags(label string, n *yaml.Node) ([]Tag, error) {
	n = deref(n)
	if n == nil || isNull(n) {
		return nil, nil
	}
	if n.Kind != yaml.MappingNode {
		return nil, invalidArg("%s: objectTags must be a mapping of tag keys to values, such as {team: payments}, not %s", label, describeNode(n))
	}
	if len(n.Content)/2 > maxObjectTags {
		return nil, invalidArg("%s: objectTags lists %d tags, more than the %d allowed; keep the tags that select the set", label, len(n.Content)/2, maxObjectTags)
	}
	tags := make([]Tag, 0, len(n.Content)/2)
	for k := 0; k+1 < len(n.Content); k += 2 {
		key, value := deref(n.Content[k]), deref(n.Content[k+1])
		if key == nil || key.Kind != yaml.ScalarNode || isNull(key) || key.Value == "" {
			return nil, invalidArg("%s: objectTags keys must be non-empty strings, not %s", label, describeNode(key))
		}
		if value == nil || value.Kind != yaml.ScalarNode || isNull(value) {
			return nil, invalidArg("%s: objectTags %s must be a string (the tag's value), not %s", label, short(key.Value), describeNode(value))
		}
		if len(key.Value) > maxTagKeyLength || len(value.Value) > maxTagValueLength {
			return nil, invalidArg("%s: objectTags %s is longer than a tag may be (keys %d bytes, values %d)", label, short(key.Value), maxTagKeyLength, maxTagValueLength)
		}
		for _, t := range tags {
			if t.Key == key.Value {
				return nil, invalidArg("%s: objectTags names the key %s twice; keep one", label, short(key.Value))
			}
		}
		tags = append(tags, Tag{Key: key.Value, Value: value.Value})
	}
	slices.SortFunc(tags, func(a, b Tag) int { return strings.Compare(a.Key, b.Key) })
	return tags, nil
}

// readMaxObjects reads maxObjects: a whole number from 1 to
// MaxListedObjects, DefaultMaxObjects when absent.
func readMaxObjects(label string, n *yaml.Node) (int, error) {
	n = deref(n)
	if n == nil || isNull(n) {
		return DefaultMaxObjects, nil
	}
	v, err := strconv.Atoi(n.Value)
	if n.Kind != yaml.ScalarNode || err != nil || v < 1 || v > MaxListedObjects {
		return 0, invalidArg("%s: maxObjects must be a whole number from 1 to %d, not %s", label, MaxListedObjects, describeNode(n))
	}
	return v, nil
}

// addListingFiles counts the files a listing may write against the
// class's MaxFiles: maxObjects members, each with its jmesPath files. The
// object and its entries were counted once already.
func (st *parseState) addListingFiles(label string, o *Object) error {
	per := 1 + len(o.JMESPath)
	st.files += (o.Listing.Max - 1) * per
	if st.files > MaxFiles {
		return invalidArg("%s: with maxObjects %d (each match writing %d files) the SecretProviderClass may write more than %d files, the most one may write; lower maxObjects, or split the objects into several SecretProviderClasses",
			label, o.Listing.Max, per, MaxFiles)
	}
	return nil
}

// Member is the object a Mount reads for name, one match of o's listing:
// it is read like o, and its file is named by the rest of its name after
// the prefix, translated like an objectName, under o's objectAlias as a
// directory. A member read as JSON (jmesPath or jsonKeysAsFiles) is a
// directory instead, holding the files taken out of it. The error names
// the listing, the match and the file name when that name cannot be a
// file of the mount.
func (c *Class) Member(o *Object, name string) (Object, error) {
	rel := o.Listing.Rel(name)
	if rel == "" {
		rel = name // the prefix itself: named as an objectName would be
	}
	p := translateName(c.PathTranslation, rel, "")
	if o.Alias != "" {
		p = o.Alias + "/" + p
	}
	m := *o
	m.Listing, m.ListedBy, m.Name, m.Alias, m.FileName = nil, o.Name, name, "", p
	if why := CheckRelPath(p); why != "" {
		return m, invalidArg("%s gives file name %s, which %s; rename it, or choose a prefix and objectAlias that give valid names", m.Label(), short(p), why)
	}
	if o.ReadsJSON() {
		m.Dir = p
		m.JMESPath = make([]JMESPathFile, len(o.JMESPath))
		for j, e := range o.JMESPath {
			e.FileName = p + "/" + e.FileName
			m.JMESPath[j] = e
		}
	}
	return m, nil
}

// finishListing reads the rest of a listing object: its directory (the
// objectAlias as written, not translated: it names a directory), its
// options and jmesPath entries, applied to every member, and counts the
// files it may write.
func finishListing(label string, f map[string]*yaml.Node, c *Class, o *Object, st *parseState) error {
	o.FileName = o.Alias
	if o.Alias != "" {
		if why := CheckRelPath(o.Alias); why != "" {
			return invalidArg("%s: objectAlias %s is the directory of the listed files, and it %s; use a relative path without \"..\"", label, short(o.Alias), why)
		}
	}
	if err := readObjectOptions(label, f, o); err != nil {
		return err
	}
	var err error
	if o.JMESPath, err = parseJMESPath(label, f[keyJMESPath], c.PathTranslation, o, st); err != nil {
		return err
	}
	return st.addListingFiles(label, o)
}
