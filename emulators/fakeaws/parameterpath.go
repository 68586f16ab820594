package fakeaws

import (
	"slices"
	"strings"
)

// ssmGetParametersByPath lists the parameters under a path, as SSM does:
// the path must start with "/"; without Recursive only those one level
// below it; at most 10 a page (MaxResults), in name order, following
// NextToken; SecureStrings decrypted with WithDecryption. Parameters the
// caller may not read are left out, as SSM leaves them out.
func (s *Server) ssmGetParametersByPath(c *call) (any, *apiError) {
	var in struct {
		Path           string
		Recursive      bool
		WithDecryption bool
		MaxResults     int
		NextToken      string
	}
	if e := c.decode(&in); e != nil {
		return nil, e
	}
	if !strings.HasPrefix(in.Path, "/") {
		return nil, ssmValidation("The parameter doesn't meet the parameter name requirements. The parameter name must begin with a forward slash \"/\".")
	}
	if in.MaxResults == 0 {
		in.MaxResults = 10
	}
	if in.MaxResults < 1 || in.MaxResults > 10 {
		return nil, ssmValidation("1 validation error detected: Value '%d' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 10", in.MaxResults)
	}
	base := strings.TrimSuffix(in.Path, "/") + "/"
	rs := s.region(c.region)
	var names []string
	for name := range rs.params {
		rest, ok := strings.CutPrefix(name, base)
		if !ok || rest == "" || (!in.Recursive && strings.Contains(rest, "/")) {
			continue
		}
		if s.authorize(c, "ssm:GetParametersByPath", "parameter", name, paramARN(c.region, name)) != nil {
			continue
		}
		names = append(names, name)
	}
	slices.Sort(names)
	page, next, e := paginate(names, in.NextToken, in.MaxResults)
	if e != nil {
		return nil, e
	}
	out := struct {
		Parameters []paramOut
		NextToken  string `json:",omitempty"`
	}{NextToken: next, Parameters: []paramOut{}}
	for _, name := range page {
		p := rs.params[name]
		out.Parameters = append(out.Parameters, paramOutOf(c.region, p, p.latest(), "", in.WithDecryption))
	}
	return out, nil
}
