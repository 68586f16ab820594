package fakeaws

import (
	"bytes"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

const (
	stageCurrent  = "AWSCURRENT"
	stagePrevious = "AWSPREVIOUS"
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

// TagSecret sets the tags of the secret name in region (key, value,
// key, value...), replacing any it had, and reports whether it exists.
func (s *Server) TagSecret(region, name string, keyValues ...string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec, ok := s.region(region).secrets[name]
	if !ok {
		return false
	}
	sec.tags = nil
	for k := 0; k+1 < len(keyValues); k += 2 {
		sec.tags = append(sec.tags, smTag{Key: keyValues[k], Value: keyValues[k+1]})
	}
	return true
}

// DeleteSecretNow removes a secret at once (like ForceDeleteWithoutRecovery)
// and reports whether it existed.
func (s *Server) DeleteSecretNow(region, name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return removeKey(s.region(region).secrets, name)
}
