package class

import (
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// parseFailover reads failoverObject of o, an object of svc. The returned
// FailoverObject is fully resolved: a version or label it leaves out is the
// primary's, as in the reference provider, so fetchers need no merging.
func parseFailover(label string, n *yaml.Node, o *Object, svc Service, c *Class, st *parseState) (*FailoverObject, error) {
	fo, err := readFailover(label, n, st)
	if fo == nil || err != nil {
		return nil, err
	}
	name, version, versionLabel := fo.Name, fo.Version, fo.VersionLabel
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
	if name == "" {
		// Same object, another version or label in the failover region:
		// the file name does not depend on the region, so no alias needed.
		fo.Name = o.Name
		if version != "" && version != o.Version {
			return nil, invalidArg("%s: failoverObject objectVersion %q differs from objectVersion %q; the two regions must serve the same version", label, version, o.Version)
		}
	} else if err := checkFailoverObject(label, fo, o, svc, c, st); err != nil {
		return nil, err
	}
	if fo.Version == "" {
		fo.Version = o.Version
	}
	if fo.VersionLabel == "" {
		fo.VersionLabel = o.VersionLabel
	}
	if err := checkVersions(label, "failoverObject ", svc, version, versionLabel); err != nil {
		return nil, err
	}
	if svc.Versions().VersionOrLabel && fo.Version != "" && fo.VersionLabel != "" {
		return nil, invalidArg("%s: in the failover region the %s would be read by both version %q and label %q; set failoverObject objectVersionLabel only when objectVersion is empty",
			label, svc.Noun(), fo.Version, fo.VersionLabel)
	}
	return fo, nil
}

// readFailover reads failoverObject's fields as written; nil when it is
// absent or empty (the reference ignores an empty one).
func readFailover(label string, n *yaml.Node, st *parseState) (*FailoverObject, error) {
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
	fo := &FailoverObject{}
	for _, x := range []struct {
		key, field string
		dst        *string
	}{
		{keyObjectName, "objectName", &fo.Name},
		{keyObjectVersion, "objectVersion", &fo.Version},
		{keyObjectVersionLabel, "objectVersionLabel", &fo.VersionLabel},
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
	if *fo == (FailoverObject{}) {
		return nil, nil
	}
	return fo, nil
}

// checkFailoverObject checks a failoverObject that names another object
// than o: o needs an alias, the versions must agree, and an ARN must name
// the same service in the failover region.
func checkFailoverObject(label string, fo *FailoverObject, o *Object, svc Service, c *Class, st *parseState) error {
	if o.Alias == "" {
		return invalidArg("%s: failoverObject names another object, so objectAlias is required (the file name must not depend on the region that answered); add objectAlias", label)
	}
	if fo.Version != o.Version {
		return invalidArg("%s: failoverObject objectVersion %q differs from objectVersion %q; they must be equal (leave both empty to read the current version)", label, fo.Version, o.Version)
	}
	if !strings.HasPrefix(fo.Name, "arn:") {
		return nil
	}
	s, why := st.services.fromARN(fo.Name)
	if why != "" {
		return invalidArg("%s: failoverObject objectName %s", label, why)
	}
	if s != svc {
		return invalidArg("%s: failoverObject ARN names a %s object but the object is %s; both regions must use the same service", label, s.ObjectType(), o.Type)
	}
	if a, _ := parseARN(fo.Name); a.region != c.FailoverRegion {
		return invalidArg("%s: failoverObject ARN %q is in region %q but failoverRegion is %q; use the ARN of the replica in %s",
			label, fo.Name, a.region, c.FailoverRegion, c.FailoverRegion)
	}
	return nil
}
