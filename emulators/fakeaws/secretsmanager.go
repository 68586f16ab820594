package fakeaws

import (
	"net/http"
	"slices"
	"strings"
)

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

// lookupLive is lookup for the operations that refuse a secret scheduled
// for deletion.
func (s *Server) lookupLive(c *call, action, id string) (*secret, *apiError) {
	sec, e := s.lookup(c, action, id)
	if e != nil {
		return nil, e
	}
	if !sec.deletion.IsZero() {
		return nil, errSecretDeleted()
	}
	return sec, nil
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

// batchLimit is the most ids BatchGetSecretValue accepts.
const batchLimit = 20

type smAPIError struct {
	SecretId  string
	ErrorCode string
	Message   string
}

// batchGetInput is BatchGetSecretValue's request.
type batchGetInput struct {
	SecretIdList []string
	Filters      []smFilter
	MaxResults   *int
	NextToken    string
}

// check validates the request's shape; it runs before IAM is consulted.
func (in *batchGetInput) check() *apiError {
	if len(in.SecretIdList) > batchLimit {
		return errorf(http.StatusBadRequest, "ValidationException",
			"1 validation error detected: Value '[%s]' at 'secretIdList' failed to satisfy constraint: "+
				"Member must have length less than or equal to %d", strings.Join(in.SecretIdList, ", "), batchLimit)
	}
	if (len(in.SecretIdList) == 0) == (len(in.Filters) == 0) {
		return smInvalidParameter("Either 'SecretIdList' or 'Filters' must be provided, but not both.")
	}
	if in.MaxResults != nil && len(in.SecretIdList) > 0 {
		return smInvalidParameter("MaxResults can only be used with Filters.")
	}
	return nil
}

// batchAnswer collects BatchGetSecretValue's values and per-secret errors.
type batchAnswer struct {
	values []*secretValue
	errs   []smAPIError
}

func (b *batchAnswer) fail(id string, e *apiError) {
	b.errs = append(b.errs, smAPIError{SecretId: id, ErrorCode: e.Code, Message: e.Message})
}

// read adds sec's AWSCURRENT value, or the error reading it gives under id.
func (b *batchAnswer) read(id string, sec *secret) {
	v, e := sec.value("", "")
	if e != nil {
		b.fail(id, e)
		return
	}
	b.values = append(b.values, v)
}

func (s *Server) smBatchGetSecretValue(c *call) (any, *apiError) {
	var in batchGetInput
	if e := c.decode(&in); e != nil {
		return nil, e
	}
	if e := in.check(); e != nil {
		return nil, e
	}
	if e := s.authorize(c, "secretsmanager:BatchGetSecretValue", "", "", ""); e != nil {
		return nil, e
	}
	if len(in.Filters) > 0 {
		// Filters list secrets: AWS asks for ListSecrets as well.
		if e := s.authorize(c, "secretsmanager:ListSecrets", "", "", ""); e != nil {
			return nil, e
		}
	}
	b := &batchAnswer{values: []*secretValue{}, errs: []smAPIError{}}
	out := map[string]any{}
	if len(in.SecretIdList) > 0 {
		s.batchByID(c, in.SecretIdList, b)
	} else {
		next, e := s.batchByFilter(c, &in, b)
		if e != nil {
			return nil, e
		}
		if next != "" {
			out["NextToken"] = next
		}
	}
	out["SecretValues"] = b.values
	out["Errors"] = b.errs
	return out, nil
}

// batchByID reads the secrets a SecretIdList names, in its order.
func (s *Server) batchByID(c *call, ids []string, b *batchAnswer) {
	for _, id := range ids {
		sec, e := s.lookup(c, "GetSecretValue", id)
		if e != nil {
			b.fail(id, e)
			continue
		}
		b.read(id, sec)
	}
}

// batchByFilter reads one page of the secrets the filters match, checking
// IAM per secret, and returns the next page's token.
func (s *Server) batchByFilter(c *call, in *batchGetInput, b *batchAnswer) (string, *apiError) {
	max, e := pageSize(in.MaxResults, batchLimit)
	if e != nil {
		return "", e
	}
	matched, e := s.region(c.region).filterSecrets(in.Filters, false)
	if e != nil {
		return "", e
	}
	page, next, e := paginate(matched, in.NextToken, max)
	if e != nil {
		return "", e
	}
	for _, sec := range page {
		c.resources = append(c.resources, sec.name)
		if e := s.authorize(c, "secretsmanager:GetSecretValue", "secret", sec.name, sec.arn); e != nil {
			b.fail(sec.arn, e)
			continue
		}
		b.read(sec.arn, sec)
	}
	return next, nil
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
