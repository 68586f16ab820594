package fakeaws

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

const (
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
