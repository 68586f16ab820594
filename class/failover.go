package class

import (
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

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
