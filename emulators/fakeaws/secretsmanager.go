package fakeaws

import (
	"bytes"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

const (
	stageCurrent  = "AWSCURRENT"
	stagePrevious = "AWSPREVIOUS"

	// batchLimit is the most ids BatchGetSecretValue accepts.
	batchLimit = 20
)

type secret struct {
	name        string
	arn         string
	description string
	tags        []smTag
	created     time.Time
	changed     time.Time
	deletion    time.Time // when a scheduled deletion happens; zero if none
	versions    map[string]*secretVersion
}

type secretVersion struct {
	id      string
	str     *string
	bin     []byte
	stages  []string
	created time.Time
}

type smTag struct {
	Key   string `json:"Key"`
	Value string `json:"Value"`
}

type smFilter struct {
	Key    string   `json:"Key"`
	Values []string `json:"Values"`
}

func (v *secretVersion) has(stage string) bool { return slices.Contains(v.stages, stage) }

func (v *secretVersion) remove(stage string) {
	v.stages = slices.DeleteFunc(v.stages, func(s string) bool { return s == stage })
}

func (v *secretVersion) sameValue(str *string, bin []byte) bool {
	if (v.str == nil) != (str == nil) {
		return false
	}
	if str != nil {
		return *v.str == *str
	}
	return bytes.Equal(v.bin, bin)
}

// withStage returns the version carrying stage, or nil.
func (sec *secret) withStage(stage string) *secretVersion {
	for _, v := range sec.versions {
		if v.has(stage) {
			return v
		}
	}
	return nil
}

// attach moves stage onto version id. Moving AWSCURRENT makes the version
// that had it AWSPREVIOUS, as Secrets Manager does.
func (sec *secret) attach(stage, id string) {
	var from string
	for vid, v := range sec.versions {
		if vid != id && v.has(stage) {
			v.remove(stage)
			from = vid
		}
	}
	if v := sec.versions[id]; !v.has(stage) {
		v.stages = append(v.stages, stage)
	}
	if stage == stageCurrent && from != "" {
		sec.attach(stagePrevious, from)
	}
}

// versionsToStages lists the versions that carry a stage; versions without
// one are deprecated and AWS leaves them out.
func (sec *secret) versionsToStages() map[string][]string {
	out := map[string][]string{}
	for id, v := range sec.versions {
		if len(v.stages) > 0 {
			out[id] = slices.Clone(v.stages)
		}
	}
	return out
}

func secretARN(region, name string) string {
	return fmt.Sprintf("arn:aws:secretsmanager:%s:%s:secret:%s-%s", region, AccountID, name, randomString(6, alnum))
}

// findSecret resolves a SecretId: a name, a full ARN, or a partial ARN
// (the ARN without the random suffix).
func (rs *regionState) findSecret(id string) *secret {
	if !strings.HasPrefix(id, "arn:") {
		return rs.secrets[id]
	}
	for _, sec := range rs.secrets {
		if sec.arn == id || sec.arn[:len(sec.arn)-7] == id {
			return sec
		}
	}
	return nil
}

func errSecretNotFound() *apiError {
	return errorf(http.StatusBadRequest, "ResourceNotFoundException", "Secrets Manager can't find the specified secret.")
}

func errSecretDeleted() *apiError {
	return errorf(http.StatusBadRequest, "InvalidRequestException",
		"You can't perform this operation on the secret because it was marked for deletion.")
}

func smInvalidParameter(format string, args ...any) *apiError {
	return errorf(http.StatusBadRequest, "InvalidParameterException", format, args...)
}

// secretsManager runs one Secrets Manager operation. Caller holds s.mu.
func (s *Server) secretsManager(c *call) (any, *apiError) {
	switch c.op {
	case "CreateSecret":
		return s.smCreateSecret(c)
	case "PutSecretValue":
		return s.smPutSecretValue(c)
	case "UpdateSecretVersionStage":
		return s.smUpdateSecretVersionStage(c)
	case "DeleteSecret":
		return s.smDeleteSecret(c)
	case "GetSecretValue":
		return s.smGetSecretValue(c)
	case "BatchGetSecretValue":
		return s.smBatchGetSecretValue(c)
	case "DescribeSecret":
		return s.smDescribeSecret(c)
	case "ListSecrets":
		return s.smListSecrets(c)
	}
	return nil, errorf(http.StatusBadRequest, "UnknownOperationException", "fakeaws does not implement secretsmanager.%s", c.op)
}

// lookup resolves id for action, applying Deny rules first (IAM is checked
// before existence on AWS).
func (s *Server) lookup(c *call, action, id string) (*secret, *apiError) {
	c.resources = append(c.resources, id)
	sec := s.region(c.region).findSecret(id)
	name, shown := id, id
	if sec != nil {
		name, shown = sec.name, sec.arn
	} else if strings.HasPrefix(id, "arn:") {
		name = ""
	}
	if e := s.authorize(c, "secretsmanager:"+action, "secret", name, shown); e != nil {
		return nil, e
	}
	if sec == nil {
		return nil, errSecretNotFound()
	}
	return sec, nil
}

func checkSecretValue(str *string, bin []byte) *apiError {
	if str != nil && bin != nil {
		return smInvalidParameter("You can't specify both a binary secret value and a string secret value in the same secret.")
	}
	return nil
}

func (s *Server) smCreateSecret(c *call) (any, *apiError) {
	var in struct {
		Name               string
		ClientRequestToken string
		Description        string
		SecretString       *string
		SecretBinary       []byte
		Tags               []smTag
	}
	if e := c.decode(&in); e != nil {
		return nil, e
	}
	c.resources = append(c.resources, in.Name)
	if e := s.authorize(c, "secretsmanager:CreateSecret", "secret", in.Name, in.Name); e != nil {
		return nil, e
	}
	if in.Name == "" {
		return nil, errorf(http.StatusBadRequest, "ValidationException",
			"1 validation error detected: Value null at 'name' failed to satisfy constraint: Member must not be null")
	}
	if e := checkSecretValue(in.SecretString, in.SecretBinary); e != nil {
		return nil, e
	}
	rs := s.region(c.region)
	if old, ok := rs.secrets[in.Name]; ok {
		if !old.deletion.IsZero() {
			return nil, errorf(http.StatusBadRequest, "InvalidRequestException",
				"You can't create this secret because a secret with this name is already scheduled for deletion.")
		}
		return nil, errorf(http.StatusBadRequest, "ResourceExistsException",
			"The operation failed because the secret %s already exists.", in.Name)
	}
	sec := s.newSecret(c.region, in.Name, c.now)
	sec.description, sec.tags = in.Description, in.Tags
	out := map[string]any{"ARN": sec.arn, "Name": sec.name}
	if in.SecretString != nil || in.SecretBinary != nil {
		id := in.ClientRequestToken
		if id == "" {
			id = newUUID()
		}
		sec.putVersion(id, in.SecretString, in.SecretBinary, nil, c.now)
		out["VersionId"] = id
	}
	rs.secrets[in.Name] = sec
	return out, nil
}

func (s *Server) newSecret(region, name string, now time.Time) *secret {
	return &secret{
		name:     name,
		arn:      secretARN(region, name),
		created:  now,
		changed:  now,
		versions: map[string]*secretVersion{},
	}
}

// putVersion stores a new version and moves stages (default AWSCURRENT) to it.
func (sec *secret) putVersion(id string, str *string, bin []byte, stages []string, now time.Time) *secretVersion {
	v := &secretVersion{id: id, str: str, bin: bin, created: now}
	sec.versions[id] = v
	if stages == nil {
		stages = []string{stageCurrent}
	}
	for _, st := range stages {
		sec.attach(st, id)
	}
	sec.changed = now
	return v
}

func (s *Server) smPutSecretValue(c *call) (any, *apiError) {
	var in struct {
		SecretId           string
		ClientRequestToken string
		SecretString       *string
		SecretBinary       []byte
		VersionStages      []string
	}
	if e := c.decode(&in); e != nil {
		return nil, e
	}
	sec, e := s.lookup(c, "PutSecretValue", in.SecretId)
	if e != nil {
		return nil, e
	}
	if !sec.deletion.IsZero() {
		return nil, errSecretDeleted()
	}
	if e := checkSecretValue(in.SecretString, in.SecretBinary); e != nil {
		return nil, e
	}
	if in.SecretString == nil && in.SecretBinary == nil {
		return nil, errorf(http.StatusBadRequest, "InvalidRequestException", "You must provide either SecretString or SecretBinary.")
	}
	id := in.ClientRequestToken
	if id == "" {
		id = newUUID()
	}
	v, exists := sec.versions[id]
	switch {
	case exists && !v.sameValue(in.SecretString, in.SecretBinary):
		return nil, errorf(http.StatusBadRequest, "ResourceExistsException",
			"You can't modify an existing version, you can only create a new version.")
	case !exists:
		v = sec.putVersion(id, in.SecretString, in.SecretBinary, in.VersionStages, c.now)
	}
	return map[string]any{"ARN": sec.arn, "Name": sec.name, "VersionId": id, "VersionStages": slices.Clone(v.stages)}, nil
}

func (s *Server) smUpdateSecretVersionStage(c *call) (any, *apiError) {
	var in struct {
		SecretId            string
		VersionStage        string
		MoveToVersionId     string
		RemoveFromVersionId string
	}
	if e := c.decode(&in); e != nil {
		return nil, e
	}
	sec, e := s.lookup(c, "UpdateSecretVersionStage", in.SecretId)
	if e != nil {
		return nil, e
	}
	if !sec.deletion.IsZero() {
		return nil, errSecretDeleted()
	}
	for _, id := range []string{in.MoveToVersionId, in.RemoveFromVersionId} {
		if _, ok := sec.versions[id]; id != "" && !ok {
			return nil, smInvalidParameter("Not a valid version: %s", id)
		}
	}
	holder := sec.withStage(in.VersionStage)
	switch {
	case in.MoveToVersionId != "":
		if holder != nil && holder.id != in.MoveToVersionId && holder.id != in.RemoveFromVersionId {
			return nil, smInvalidParameter("The parameter RemoveFromVersionId can't be empty. Staging label %s is currently "+
				"attached to version %s, so you must explicitly reference that version in RemoveFromVersionId.",
				in.VersionStage, holder.id)
		}
		sec.attach(in.VersionStage, in.MoveToVersionId)
	case in.RemoveFromVersionId != "":
		if holder == nil || holder.id != in.RemoveFromVersionId {
			return nil, smInvalidParameter("The staging label %s is not attached to version %s.", in.VersionStage, in.RemoveFromVersionId)
		}
		if in.VersionStage == stageCurrent {
			return nil, smInvalidParameter("You can't remove the staging label AWSCURRENT from a version without moving it to another version.")
		}
		holder.remove(in.VersionStage)
	default:
		return nil, smInvalidParameter("You must specify MoveToVersionId or RemoveFromVersionId.")
	}
	sec.changed = c.now
	return map[string]any{"ARN": sec.arn, "Name": sec.name}, nil
}

func (s *Server) smDeleteSecret(c *call) (any, *apiError) {
	var in struct {
		SecretId                   string
		RecoveryWindowInDays       *int64
		ForceDeleteWithoutRecovery bool
	}
	if e := c.decode(&in); e != nil {
		return nil, e
	}
	if in.ForceDeleteWithoutRecovery && in.RecoveryWindowInDays != nil {
		return nil, smInvalidParameter("You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays.")
	}
	days := int64(30)
	if in.RecoveryWindowInDays != nil {
		days = *in.RecoveryWindowInDays
		if days < 7 || days > 30 {
			return nil, smInvalidParameter("The RecoveryWindowInDays value must be between 7 and 30 days (inclusive).")
		}
	}
	sec, e := s.lookup(c, "DeleteSecret", in.SecretId)
	if e != nil {
		if e.Code == "ResourceNotFoundException" && in.ForceDeleteWithoutRecovery {
			// Secrets Manager (and moto) answer a forced delete of a secret
			// that does not exist with success.
			return map[string]any{"ARN": secretARN(c.region, in.SecretId), "Name": in.SecretId, "DeletionDate": epoch(c.now)}, nil
		}
		return nil, e
	}
	if !sec.deletion.IsZero() && !in.ForceDeleteWithoutRecovery {
		return nil, errorf(http.StatusBadRequest, "InvalidRequestException",
			"You can't perform this operation on the secret because it was already scheduled for deletion.")
	}
	rs := s.region(c.region)
	when := c.now
	if in.ForceDeleteWithoutRecovery {
		delete(rs.secrets, sec.name)
	} else {
		when = c.now.Add(time.Duration(days) * 24 * time.Hour)
		sec.deletion = when
	}
	return map[string]any{"ARN": sec.arn, "Name": sec.name, "DeletionDate": epoch(when)}, nil
}

// secretValue is GetSecretValue's answer and BatchGetSecretValue's element.
type secretValue struct {
	ARN           string
	Name          string
	VersionId     string
	VersionStages []string
	CreatedDate   *epoch
	SecretString  *string `json:",omitempty"`
	SecretBinary  []byte  `json:",omitempty"`
}

// value selects a version like GetSecretValue: by id, by stage, or
// AWSCURRENT.
func (sec *secret) value(versionID, stage string) (*secretValue, *apiError) {
	if !sec.deletion.IsZero() {
		return nil, errSecretDeleted()
	}
	var v *secretVersion
	if versionID != "" {
		v = sec.versions[versionID]
		if v == nil {
			return nil, errorf(http.StatusBadRequest, "ResourceNotFoundException",
				"Secrets Manager can't find the specified secret value for VersionId: %s", versionID)
		}
		if stage != "" && !v.has(stage) {
			return nil, errorf(http.StatusBadRequest, "InvalidRequestException",
				"You provided a VersionStage that is not associated to the provided VersionId.")
		}
	} else {
		if stage == "" {
			stage = stageCurrent
		}
		v = sec.withStage(stage)
		if v == nil {
			return nil, errorf(http.StatusBadRequest, "ResourceNotFoundException",
				"Secrets Manager can't find the specified secret value for staging label: %s", stage)
		}
	}
	return &secretValue{
		ARN:           sec.arn,
		Name:          sec.name,
		VersionId:     v.id,
		VersionStages: slices.Clone(v.stages),
		CreatedDate:   epochPtr(v.created),
		SecretString:  v.str,
		SecretBinary:  v.bin,
	}, nil
}

func (s *Server) smGetSecretValue(c *call) (any, *apiError) {
	var in struct {
		SecretId     string
		VersionId    string
		VersionStage string
	}
	if e := c.decode(&in); e != nil {
		return nil, e
	}
	sec, e := s.lookup(c, "GetSecretValue", in.SecretId)
	if e != nil {
		return nil, e
	}
	return sec.value(in.VersionId, in.VersionStage)
}

type smAPIError struct {
	SecretId  string
	ErrorCode string
	Message   string
}

func (s *Server) smBatchGetSecretValue(c *call) (any, *apiError) {
	var in struct {
		SecretIdList []string
		Filters      []smFilter
		MaxResults   *int
		NextToken    string
	}
	if e := c.decode(&in); e != nil {
		return nil, e
	}
	if len(in.SecretIdList) > batchLimit {
		return nil, errorf(http.StatusBadRequest, "ValidationException",
			"1 validation error detected: Value '[%s]' at 'secretIdList' failed to satisfy constraint: "+
				"Member must have length less than or equal to %d", strings.Join(in.SecretIdList, ", "), batchLimit)
	}
	if (len(in.SecretIdList) == 0) == (len(in.Filters) == 0) {
		return nil, smInvalidParameter("Either 'SecretIdList' or 'Filters' must be provided, but not both.")
	}
	if in.MaxResults != nil && len(in.SecretIdList) > 0 {
		return nil, smInvalidParameter("MaxResults can only be used with Filters.")
	}
	if e := s.authorize(c, "secretsmanager:BatchGetSecretValue", "", "", ""); e != nil {
		return nil, e
	}
	values := []*secretValue{}
	errs := []smAPIError{}
	fail := func(id string, e *apiError) {
		errs = append(errs, smAPIError{SecretId: id, ErrorCode: e.Code, Message: e.Message})
	}
	out := map[string]any{}
	if len(in.SecretIdList) > 0 {
		for _, id := range in.SecretIdList {
			sec, e := s.lookup(c, "GetSecretValue", id)
			if e != nil {
				fail(id, e)
				continue
			}
			v, e := sec.value("", "")
			if e != nil {
				fail(id, e)
				continue
			}
			values = append(values, v)
		}
	} else {
		max := batchLimit
		if in.MaxResults != nil {
			if *in.MaxResults < 1 || *in.MaxResults > batchLimit {
				return nil, errorf(http.StatusBadRequest, "ValidationException",
					"1 validation error detected: Value '%d' at 'maxResults' failed to satisfy constraint: "+
						"Member must have value less than or equal to %d", *in.MaxResults, batchLimit)
			}
			max = *in.MaxResults
		}
		matched, e := s.region(c.region).filterSecrets(in.Filters, false)
		if e != nil {
			return nil, e
		}
		page, next, e := paginate(matched, in.NextToken, max)
		if e != nil {
			return nil, e
		}
		for _, sec := range page {
			c.resources = append(c.resources, sec.name)
			if e := s.authorize(c, "secretsmanager:GetSecretValue", "secret", sec.name, sec.arn); e != nil {
				fail(sec.arn, e)
				continue
			}
			v, e := sec.value("", "")
			if e != nil {
				fail(sec.arn, e)
				continue
			}
			values = append(values, v)
		}
		if next != "" {
			out["NextToken"] = next
		}
	}
	out["SecretValues"] = values
	out["Errors"] = errs
	return out, nil
}

type secretDescription struct {
	ARN                    string
	Name                   string
	Description            string              `json:",omitempty"`
	CreatedDate            *epoch              `json:",omitempty"`
	LastChangedDate        *epoch              `json:",omitempty"`
	DeletedDate            *epoch              `json:",omitempty"`
	Tags                   []smTag             `json:",omitempty"`
	VersionIdsToStages     map[string][]string `json:",omitempty"`
	SecretVersionsToStages map[string][]string `json:",omitempty"`
}

func (sec *secret) describe() *secretDescription {
	return &secretDescription{
		ARN:             sec.arn,
		Name:            sec.name,
		Description:     sec.description,
		CreatedDate:     epochPtr(sec.created),
		LastChangedDate: epochPtr(sec.changed),
		DeletedDate:     epochPtr(sec.deletion),
		Tags:            sec.tags,
	}
}

func (s *Server) smDescribeSecret(c *call) (any, *apiError) {
	var in struct{ SecretId string }
	if e := c.decode(&in); e != nil {
		return nil, e
	}
	sec, e := s.lookup(c, "DescribeSecret", in.SecretId)
	if e != nil {
		return nil, e
	}
	d := sec.describe()
	d.VersionIdsToStages = sec.versionsToStages()
	return d, nil
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
	max := 100
	if in.MaxResults != nil {
		if *in.MaxResults < 1 || *in.MaxResults > 100 {
			return nil, errorf(http.StatusBadRequest, "ValidationException",
				"1 validation error detected: Value '%d' at 'maxResults' failed to satisfy constraint: "+
					"Member must have value less than or equal to 100", *in.MaxResults)
		}
		max = *in.MaxResults
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

// PutSecretString stores value as a new AWSCURRENT version of the secret
// name in region, creating the secret if needed, without a request.
func (s *Server) PutSecretString(region, name, value string) (arn, versionID string) {
	return s.putSecret(region, name, &value, nil)
}

// PutSecretBinary is PutSecretString for a binary secret.
func (s *Server) PutSecretBinary(region, name string, value []byte) (arn, versionID string) {
	return s.putSecret(region, name, nil, append([]byte{}, value...))
}

func (s *Server) putSecret(region, name string, str *string, bin []byte) (string, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	rs := s.region(region)
	sec, ok := rs.secrets[name]
	if !ok || !sec.deletion.IsZero() {
		sec = s.newSecret(region, name, now)
		rs.secrets[name] = sec
	}
	id := newUUID()
	sec.putVersion(id, str, bin, nil, now)
	return sec.arn, id
}

// DeleteSecretNow removes a secret at once (like ForceDeleteWithoutRecovery)
// and reports whether it existed.
func (s *Server) DeleteSecretNow(region, name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	rs := s.region(region)
	_, ok := rs.secrets[name]
	delete(rs.secrets, name)
	return ok
}
