package fakeaws

import (
	"net/http"
	"regexp"
	"slices"
	"strings"
)

var reservedParam = regexp.MustCompile(`(?i)^/?(aws|ssm)`)

func (s *Server) ssmPutParameter(c *call) (any, *apiError) {
	var in struct {
		Name        string
		Value       *string
		Type        string
		Overwrite   bool
		KeyId       string
		Description string
		DataType    string
	}
	if e := c.decode(&in); e != nil {
		return nil, e
	}
	c.resources = append(c.resources, in.Name)
	if e := s.authorize(c, "ssm:PutParameter", "parameter", in.Name, paramARN(c.region, in.Name)); e != nil {
		return nil, e
	}
	if in.Value == nil || *in.Value == "" {
		return nil, ssmValidation("1 validation error detected: Value '' at 'value' failed to satisfy constraint: " +
			"Member must have length greater than or equal to 1.")
	}
	if reservedParam.MatchString(in.Name) {
		return nil, ssmValidation(`Parameter name: can't be prefixed with "aws" or "ssm" (case-insensitive).`)
	}
	rs := s.region(c.region)
	p, exists := rs.params[in.Name]
	if exists && !in.Overwrite {
		return nil, errorf(http.StatusBadRequest, "ParameterAlreadyExists",
			"The parameter already exists. To overwrite this value, set the overwrite option in the request to true.")
	}
	if in.Type == "" && exists {
		in.Type = p.latest().typ
	}
	switch in.Type {
	case "":
		return nil, ssmValidation("A parameter type is required when you create a parameter.")
	case "String", "StringList", "SecureString":
	default:
		return nil, ssmValidation("1 validation error detected: Value '%s' at 'type' failed to satisfy constraint: "+
			"Member must satisfy enum value set: [SecureString, StringList, String]", in.Type)
	}
	v := s.putParam(c.region, in.Name, in.Type, *in.Value, c.now)
	if in.Type == "SecureString" {
		v.keyID = in.KeyId
		if v.keyID == "" {
			v.keyID = defaultParamKey
		}
	}
	v.description = in.Description
	if in.DataType != "" {
		v.dataType = in.DataType
	}
	return map[string]any{"Version": v.version, "Tier": "Standard"}, nil
}

var labelPattern = regexp.MustCompile(`^[a-zA-Z0-9_.\-]{1,100}$`)

func validLabel(l string) bool {
	if !labelPattern.MatchString(l) || (l[0] >= '0' && l[0] <= '9') {
		return false
	}
	low := strings.ToLower(l)
	return !strings.HasPrefix(low, "aws") && !strings.HasPrefix(low, "ssm")
}

func (s *Server) ssmLabelParameterVersion(c *call) (any, *apiError) {
	var in struct {
		Name             string
		ParameterVersion *int64
		Labels           []string
	}
	if e := c.decode(&in); e != nil {
		return nil, e
	}
	if e := s.authorizeParam(c, "ssm:LabelParameterVersion", in.Name); e != nil {
		return nil, e
	}
	v, invalid, e := s.labelParam(c.region, in.Name, in.ParameterVersion, in.Labels)
	if e != nil {
		return nil, e
	}
	return map[string]any{"InvalidLabels": invalid, "ParameterVersion": v}, nil
}

// labelParam moves labels to a version (latest if version is nil). Caller
// holds s.mu.
func (s *Server) labelParam(region, name string, version *int64, labels []string) (int64, []string, *apiError) {
	if len(labels) == 0 || len(labels) > labelsPerVersion {
		return 0, nil, ssmValidation("1 validation error detected: Value '[%s]' at 'labels' failed to satisfy constraint: "+
			"Member must have length less than or equal to 10", strings.Join(labels, ", "))
	}
	p := s.region(region).params[name]
	if p == nil {
		return 0, nil, errParamNotFound(name)
	}
	v := p.latest()
	if version != nil {
		if *version < 1 || *version > int64(len(p.versions)) {
			return 0, nil, errorf(http.StatusBadRequest, "ParameterVersionNotFound",
				"Systems Manager could not find version %d of %s. Verify the version and try again.", *version, name)
		}
		v = p.versions[*version-1]
	}
	invalid := []string{}
	var valid []string
	for _, l := range labels {
		if validLabel(l) {
			valid = append(valid, l)
		} else {
			invalid = append(invalid, l)
		}
	}
	total := len(v.labels)
	for _, l := range valid {
		if !slices.Contains(v.labels, l) {
			total++
		}
	}
	if total > labelsPerVersion {
		return 0, nil, errorf(http.StatusBadRequest, "ParameterVersionLabelLimitExceeded",
			"An operation attempted to add a label to a parameter version that already has %d labels.", labelsPerVersion)
	}
	for _, l := range valid {
		for _, other := range p.versions {
			if other != v {
				other.labels = slices.DeleteFunc(other.labels, func(x string) bool { return x == l })
			}
		}
		if !slices.Contains(v.labels, l) {
			v.labels = append(v.labels, l)
		}
	}
	return v.version, invalid, nil
}

func (s *Server) ssmDeleteParameter(c *call) (any, *apiError) {
	var in struct{ Name string }
	if e := c.decode(&in); e != nil {
		return nil, e
	}
	if e := s.authorizeParam(c, "ssm:DeleteParameter", in.Name); e != nil {
		return nil, e
	}
	rs := s.region(c.region)
	if _, ok := rs.params[in.Name]; !ok {
		return nil, errParamNotFound(in.Name)
	}
	delete(rs.params, in.Name)
	return struct{}{}, nil
}
