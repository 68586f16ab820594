package fakeaws

import (
	"net/http"
	"strings"
)

// ssm runs one Parameter Store operation. Caller holds s.mu.
func (s *Server) ssm(c *call) (any, *apiError) {
	switch c.op {
	case "PutParameter":
		return s.ssmPutParameter(c)
	case "GetParameter":
		return s.ssmGetParameter(c)
	case "GetParameters":
		return s.ssmGetParameters(c)
	case "GetParametersByPath":
		return s.ssmGetParametersByPath(c)
	case "LabelParameterVersion":
		return s.ssmLabelParameterVersion(c)
	case "DeleteParameter":
		return s.ssmDeleteParameter(c)
	}
	return nil, errorf(http.StatusBadRequest, "UnknownOperationException", "fakeaws does not implement AmazonSSM.%s", c.op)
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

// getParametersLimit is the most names GetParameters accepts.
const getParametersLimit = 10

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
