package fakeaws

import (
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

const (
	// getParametersLimit is the most names GetParameters accepts.
	getParametersLimit = 10
	// labelsPerVersion is how many labels one parameter version may carry.
	labelsPerVersion = 10
	// defaultParamKey is the KMS key SecureString uses when none is named.
	defaultParamKey = "alias/aws/ssm"
)

type parameter struct {
	name     string
	versions []*paramVersion // versions[i].version == i+1
}

type paramVersion struct {
	version     int64
	typ         string
	value       string
	keyID       string
	dataType    string
	description string
	modified    time.Time
	labels      []string
}

func (p *parameter) latest() *paramVersion { return p.versions[len(p.versions)-1] }

func (p *parameter) byLabel(label string) *paramVersion {
	for _, v := range p.versions {
		for _, l := range v.labels {
			if l == label {
				return v
			}
		}
	}
	return nil
}

func paramARN(region, name string) string {
	if !strings.HasPrefix(name, "/") {
		name = "/" + name
	}
	return fmt.Sprintf("arn:aws:ssm:%s:%s:parameter%s", region, AccountID, name)
}

func ssmValidation(format string, args ...any) *apiError {
	return errorf(http.StatusBadRequest, "ValidationException", format, args...)
}

func errParamNotFound(name string) *apiError {
	return errorf(http.StatusBadRequest, "ParameterNotFound", "Parameter %s not found.", name)
}

// ssm runs one Parameter Store operation. Caller holds s.mu.
func (s *Server) ssm(c *call) (any, *apiError) {
	switch c.op {
	case "PutParameter":
		return s.ssmPutParameter(c)
	case "GetParameter":
		return s.ssmGetParameter(c)
	case "GetParameters":
		return s.ssmGetParameters(c)
	case "LabelParameterVersion":
		return s.ssmLabelParameterVersion(c)
	case "DeleteParameter":
		return s.ssmDeleteParameter(c)
	}
	return nil, errorf(http.StatusBadRequest, "UnknownOperationException", "fakeaws does not implement AmazonSSM.%s", c.op)
}

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

// putParam appends a version. Caller holds s.mu.
func (s *Server) putParam(region, name, typ, value string, now time.Time) *paramVersion {
	rs := s.region(region)
	p, ok := rs.params[name]
	if !ok {
		p = &parameter{name: name}
		rs.params[name] = p
	}
	v := &paramVersion{
		version:  int64(len(p.versions) + 1),
		typ:      typ,
		value:    value,
		dataType: "text",
		modified: now,
	}
	if typ == "SecureString" {
		v.keyID = defaultParamKey
	}
	p.versions = append(p.versions, v)
	return v
}

// paramOut is a Parameter in GetParameter(s) answers.
type paramOut struct {
	Name             string
	Type             string
	Value            string
	Version          int64
	Selector         string `json:",omitempty"`
	LastModifiedDate *epoch
	ARN              string
	DataType         string
}

// splitParamRef splits "name", "name:3", "name:label" or a parameter ARN
// (with or without selector) into the candidate names and the selector.
func splitParamRef(region, ref string) (names []string, selector string, ok bool) {
	rest := ref
	arn := strings.HasPrefix(ref, "arn:")
	if arn {
		parts := strings.SplitN(ref, ":", 6)
		if len(parts) != 6 || parts[2] != "ssm" || parts[3] != region || !strings.HasPrefix(parts[5], "parameter/") {
			return nil, "", false
		}
		rest = strings.TrimPrefix(parts[5], "parameter")
	}
	if i := strings.LastIndex(rest, ":"); i >= 0 {
		rest, selector = rest[:i], rest[i:]
		if selector == ":" {
			return nil, "", false
		}
	}
	if !arn {
		return []string{rest}, selector, true
	}
	// arn:...:parameter/x names both "x" and "/x"; deeper paths keep the slash.
	if strings.Count(rest, "/") == 1 {
		return []string{rest[1:], rest}, selector, true
	}
	return []string{rest}, selector, true
}

// resolve finds the version a reference names; missing reports the error
// GetParameter gives (GetParameters lists the reference as invalid instead).
func (rs *regionState) resolveParam(region, ref string) (*parameter, *paramVersion, string, *apiError) {
	names, selector, ok := splitParamRef(region, ref)
	if !ok {
		return nil, nil, "", errParamNotFound(ref)
	}
	var p *parameter
	for _, n := range names {
		if p = rs.params[n]; p != nil {
			break
		}
	}
	if p == nil {
		return nil, nil, selector, errParamNotFound(ref)
	}
	if selector == "" {
		return p, p.latest(), "", nil
	}
	sel := selector[1:]
	if n, err := strconv.ParseInt(sel, 10, 64); err == nil {
		if n < 1 || n > int64(len(p.versions)) {
			return p, nil, selector, errorf(http.StatusBadRequest, "ParameterVersionNotFound",
				"Systems Manager could not find version %d of %s. Verify the version and try again.", n, p.name)
		}
		return p, p.versions[n-1], selector, nil
	}
	v := p.byLabel(sel)
	if v == nil {
		return p, nil, selector, errParamNotFound(ref)
	}
	return p, v, selector, nil
}

func paramOutOf(region string, p *parameter, v *paramVersion, selector string, decrypt bool) paramOut {
	value := v.value
	if v.typ == "SecureString" && !decrypt {
		// moto's stand-in for the ciphertext AWS returns: never the value
		// a caller should use.
		value = "kms:" + v.keyID + ":" + v.value
	}
	return paramOut{
		Name:             p.name,
		Type:             v.typ,
		Value:            value,
		Version:          v.version,
		Selector:         selector,
		LastModifiedDate: epochPtr(v.modified),
		ARN:              paramARN(region, p.name),
		DataType:         v.dataType,
	}
}

// authorizeParam applies Deny rules for a reference before it is resolved.
func (s *Server) authorizeParam(c *call, action, ref string) *apiError {
	c.resources = append(c.resources, ref)
	names, _, ok := splitParamRef(c.region, ref)
	if !ok {
		return nil
	}
	name := names[len(names)-1]
	if p := s.region(c.region).params[names[0]]; p != nil {
		name = p.name
	}
	return s.authorize(c, action, "parameter", name, paramARN(c.region, name))
}

func (s *Server) ssmGetParameter(c *call) (any, *apiError) {
	var in struct {
		Name           string
		WithDecryption bool
	}
	if e := c.decode(&in); e != nil {
		return nil, e
	}
	if e := s.authorizeParam(c, "ssm:GetParameter", in.Name); e != nil {
		return nil, e
	}
	p, v, sel, e := s.region(c.region).resolveParam(c.region, in.Name)
	if e != nil {
		return nil, e
	}
	return map[string]any{"Parameter": paramOutOf(c.region, p, v, sel, in.WithDecryption)}, nil
}

func (s *Server) ssmGetParameters(c *call) (any, *apiError) {
	var in struct {
		Names          []string
		WithDecryption bool
	}
	if e := c.decode(&in); e != nil {
		return nil, e
	}
	switch {
	case len(in.Names) == 0:
		return nil, ssmValidation("1 validation error detected: Value '[]' at 'names' failed to satisfy constraint: " +
			"Member must have length greater than or equal to 1.")
	case len(in.Names) > getParametersLimit:
		return nil, ssmValidation("1 validation error detected: Value '[%s]' at 'names' failed to satisfy constraint: "+
			"Member must have length less than or equal to %d.", strings.Join(in.Names, ", "), getParametersLimit)
	}
	// IAM checks every name before anything is read: one denied name fails
	// the whole call.
	for _, ref := range in.Names {
		if e := s.authorizeParam(c, "ssm:GetParameters", ref); e != nil {
			return nil, e
		}
	}
	params := []paramOut{}
	invalid := []string{}
	seen := map[string]bool{}
	rs := s.region(c.region)
	for _, ref := range in.Names {
		if seen[ref] {
			continue
		}
		seen[ref] = true
		p, v, sel, e := rs.resolveParam(c.region, ref)
		if e != nil {
			invalid = append(invalid, ref)
			continue
		}
		params = append(params, paramOutOf(c.region, p, v, sel, in.WithDecryption))
	}
	return map[string]any{"Parameters": params, "InvalidParameters": invalid}, nil
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

// PutParameter stores value as a new version of the parameter name in
// region (typ "String", "StringList" or "SecureString"), without a request.
func (s *Server) PutParameter(region, name, typ, value string) (version int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.putParam(region, name, typ, value, s.now()).version
}

// LabelParameter moves labels to a version of a parameter (0 = latest).
func (s *Server) LabelParameter(region, name string, version int64, labels ...string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var vp *int64
	if version > 0 {
		vp = &version
	}
	_, invalid, e := s.labelParam(region, name, vp, labels)
	if e != nil {
		return e
	}
	if len(invalid) > 0 {
		return fmt.Errorf("fakeaws: invalid labels %q", invalid)
	}
	return nil
}

// DeleteParameterNow removes a parameter and reports whether it existed.
func (s *Server) DeleteParameterNow(region, name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return removeKey(s.region(region).params, name)
}
