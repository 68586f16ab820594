package fakeaws

import (
	"net/http"
	"slices"
	"time"
)

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
	sec, e := s.lookupLive(c, "PutSecretValue", in.SecretId)
	if e != nil {
		return nil, e
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
	sec, e := s.lookupLive(c, "UpdateSecretVersionStage", in.SecretId)
	if e != nil {
		return nil, e
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
