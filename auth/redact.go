package auth

import (
	"strings"

	"github.com/csi-provider-aws/csi-provider-aws/failure"
)

// redact returns err unchanged unless its text contains one of secrets (a
// token an AWS or agent message echoed back); then it returns an error of the
// same Kind whose text has the secret replaced and which carries no chain,
// so that no wrapped error can reveal it either.
func redact(err error, secrets ...string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	leaked := false
	for _, s := range secrets {
		if s != "" && strings.Contains(msg, s) {
			msg = strings.ReplaceAll(msg, s, "[redacted]")
			leaked = true
		}
	}
	if !leaked {
		return err
	}
	return &failure.Error{Kind: failure.KindOf(err), Msg: msg}
}
