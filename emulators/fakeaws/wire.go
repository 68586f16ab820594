package fakeaws

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// apiError is an AWS error as the wire protocols carry it.
type apiError struct {
	Status  int
	Code    string
	Message string
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

func errorf(status int, code, format string, args ...any) *apiError {
	return &apiError{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

func writeJSON(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeJSONError(w, errorf(http.StatusInternalServerError, "InternalFailure", "fakeaws: encode response: %v", err))
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-Requestid", newUUID())
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

func writeJSONError(w http.ResponseWriter, e *apiError) {
	b, _ := json.Marshal(struct {
		Type    string `json:"__type"`
		Message string `json:"message"`
	}{e.Code, e.Message})
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-Requestid", newUUID())
	w.WriteHeader(e.Status)
	_, _ = w.Write(b)
}

// epoch is a timestamp in the JSON protocols' epoch-seconds form.
type epoch time.Time

func (e epoch) MarshalJSON() ([]byte, error) {
	ms := time.Time(e).UnixMilli()
	return fmt.Appendf(nil, "%d.%03d", ms/1000, ms%1000), nil
}

func epochPtr(t time.Time) *epoch {
	if t.IsZero() {
		return nil
	}
	e := epoch(t)
	return &e
}
