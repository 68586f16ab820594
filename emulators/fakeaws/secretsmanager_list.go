package fakeaws

import (
	"net/http"
	"sort"
	"strconv"
	"strings"
)

type smFilter struct {
	Key    string   `json:"Key"`
	Values []string `json:"Values"`
}

func (s *Server) smListSecrets(c *call) (any, *apiError) {
	var in struct {
		Filters                []smFilter
		IncludePlannedDeletion bool
		MaxResults             *int
		NextToken              string
		SortOrder              string
	}
	if e := c.decode(&in); e != nil {
		return nil, e
	}
	if e := s.authorize(c, "secretsmanager:ListSecrets", "", "", ""); e != nil {
		return nil, e
	}
	max, e := pageSize(in.MaxResults, 100)
	if e != nil {
		return nil, e
	}
	matched, e := s.region(c.region).filterSecrets(in.Filters, in.IncludePlannedDeletion)
	if e != nil {
		return nil, e
	}
	if in.SortOrder == "desc" {
		for i, j := 0, len(matched)-1; i < j; i, j = i+1, j-1 {
			matched[i], matched[j] = matched[j], matched[i]
		}
	}
	page, next, e := paginate(matched, in.NextToken, max)
	if e != nil {
		return nil, e
	}
	list := make([]*secretDescription, 0, len(page))
	for _, sec := range page {
		d := sec.describe()
		d.SecretVersionsToStages = sec.versionsToStages()
		list = append(list, d)
	}
	out := map[string]any{"SecretList": list}
	if next != "" {
		out["NextToken"] = next
	}
	return out, nil
}

// filterSecrets returns the secrets matching every filter, oldest first.
func (rs *regionState) filterSecrets(filters []smFilter, includeDeleted bool) ([]*secret, *apiError) {
	for i, f := range filters {
		switch f.Key {
		case "name", "description", "tag-key", "tag-value", "primary-region", "owning-service", "all":
		default:
			return nil, errorf(http.StatusBadRequest, "ValidationException",
				"1 validation error detected: Value '%s' at 'filters.%d.member.key' failed to satisfy constraint: "+
					"Member must satisfy enum value set: [all, name, tag-key, description, tag-value, primary-region, owning-service]",
				f.Key, i+1)
		}
		if len(f.Values) > 10 {
			return nil, errorf(http.StatusBadRequest, "ValidationException",
				"1 validation error detected: Value '[%s]' at 'filters.%d.member.values' failed to satisfy constraint: "+
					"Member must have length less than or equal to 10", strings.Join(f.Values, ", "), i+1)
		}
	}
	var out []*secret
	for _, sec := range rs.secrets {
		if !sec.deletion.IsZero() && !includeDeleted {
			continue
		}
		ok := true
		for _, f := range filters {
			if !sec.matches(f) {
				ok = false
				break
			}
		}
		if ok {
			out = append(out, sec)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].created.Equal(out[j].created) {
			return out[i].created.Before(out[j].created)
		}
		return out[i].name < out[j].name
	})
	return out, nil
}

// matches applies one ListSecrets filter: values are ORed, a leading '!'
// negates, matching is by prefix (see the Filter type in the API reference).
func (sec *secret) matches(f smFilter) bool {
	var pos, neg []string
	for _, v := range f.Values {
		if strings.HasPrefix(v, "!") {
			neg = append(neg, v[1:])
		} else {
			pos = append(pos, v)
		}
	}
	hit := func(v string) bool {
		switch f.Key {
		case "name":
			return strings.HasPrefix(sec.name, v)
		case "description":
			return strings.HasPrefix(strings.ToLower(sec.description), strings.ToLower(v))
		case "tag-key", "tag-value":
			for _, t := range sec.tags {
				if (f.Key == "tag-key" && strings.HasPrefix(t.Key, v)) || (f.Key == "tag-value" && strings.HasPrefix(t.Value, v)) {
					return true
				}
			}
		case "all":
			lv := strings.ToLower(v)
			fields := []string{sec.name, sec.description}
			for _, t := range sec.tags {
				fields = append(fields, t.Key, t.Value)
			}
			for _, fl := range fields {
				if strings.Contains(strings.ToLower(fl), lv) {
					return true
				}
			}
		}
		return false
	}
	for _, v := range neg {
		if hit(v) {
			return false
		}
	}
	if len(pos) == 0 {
		return true
	}
	for _, v := range pos {
		if hit(v) {
			return true
		}
	}
	return false
}

// pageSize is MaxResults checked against limit, or limit when absent.
func pageSize(maxResults *int, limit int) (int, *apiError) {
	if maxResults == nil {
		return limit, nil
	}
	if *maxResults < 1 || *maxResults > limit {
		return 0, errorf(http.StatusBadRequest, "ValidationException",
			"1 validation error detected: Value '%d' at 'maxResults' failed to satisfy constraint: "+
				"Member must have value less than or equal to %d", *maxResults, limit)
	}
	return *maxResults, nil
}

// paginate cuts a page of at most max items starting at the offset that
// token (from a previous page) names.
func paginate[T any](items []T, token string, max int) (page []T, next string, e *apiError) {
	start := 0
	if token != "" {
		n, err := strconv.Atoi(strings.TrimPrefix(token, "fakeaws-"))
		if err != nil || n < 0 || n > len(items) {
			return nil, "", errorf(http.StatusBadRequest, "InvalidNextTokenException", "The NextToken value is invalid.")
		}
		start = n
	}
	end := start + max
	if end >= len(items) {
		return items[start:], "", nil
	}
	return items[start:end], "fakeaws-" + strconv.Itoa(end), nil
}
