package class

import (
	"strings"
)

// Parse turns the Mount attributes (the class's spec.parameters merged
// with the driver's csi.storage.k8s.io/* keys) into a validated Class. It
// does no I/O. defaultMode is the driver's `permission`, used for every file
// whose filePermission is not set.
//
// The Class is never modified afterwards. What depends on the primary
// region is checked by CheckRegion once the caller has resolved it (the
// class's own region, else the daemon's or the node's): ARNs are checked
// here only when the class names its region.
//
// catalog names the services objects may be read from (see Catalog).
//
// Every error is a failure.InvalidArgument whose text names the parameter or
// the object ("objects[2] \"db-creds\": ...") and says what to change; a
// catalog that cannot be parsed with is a failure.Internal.
func Parse(params map[string]string, defaultMode int32, catalog Catalog) (*Class, error) {
	p, err := newParser(catalog)
	if err != nil {
		return nil, err
	}
	return p.parse(p.params.read(params), defaultMode)
}

// parser parses classes with the services and modes of one Catalog.
type parser struct {
	services serviceTable
	modes    []Mode
	// params are the parameters it reads: the class's and the modes'.
	params paramList
}

func newParser(catalog Catalog) (*parser, error) {
	services, err := newServiceTable(catalog.Services)
	if err != nil {
		return nil, err
	}
	if err := checkModes(catalog.Modes); err != nil {
		return nil, err
	}
	params, err := newParamList(catalog.Modes)
	if err != nil {
		return nil, err
	}
	return &parser{services: services, modes: catalog.Modes, params: params}, nil
}

// parse is Parse over the values of p.params; Cache calls it with the
// values it hashed.
func (p *parser) parse(params classValues, defaultMode int32) (*Class, error) {
	if defaultMode < 0 || defaultMode > 0o777 {
		return nil, invalidArg("the driver's permission %d is not a file mode from 0 to 0777", defaultMode)
	}
	if err := p.params.checkLengths(params); err != nil {
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

	if c.Mode, err = p.mode(params); err != nil {
		return nil, err
	}
	if c.AssumeRole, err = parseAssumeRole(params); err != nil {
		return nil, err
	}
	if c.TokenAudience, err = parseTokenAudience(params[pTokenAudience]); err != nil {
		return nil, err
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

	objs, err := parseObjects(params[pObjects], c, defaultMode, p.services)
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

// mode returns the mode the class's parameters choose, else the default
// (the catalog's first).
func (p *parser) mode(params classValues) (AuthMode, error) {
	value := func(name string) string { return p.params.value(params, name) }
	var chosen []AuthMode
	for _, m := range p.modes {
		ok, err := m.Chosen(value)
		if err != nil {
			return "", invalidArg("%s", err)
		}
		if ok {
			chosen = append(chosen, m.Name())
		}
	}
	switch len(chosen) {
	case 0:
		return p.modes[0].Name(), nil
	case 1:
		return chosen[0], nil
	}
	return "", invalidArg("the SecretProviderClass's parameters choose the auth modes %s and %s at once; choose one", chosen[0], chosen[1])
}
