package provider

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/csi-provider-aws/csi-provider-aws/class"
	"github.com/csi-provider-aws/csi-provider-aws/failure"
	"github.com/csi-provider-aws/csi-provider-aws/jmes"
)

// jsonDocument decodes the value of o, an object whose value is read as
// JSON (its jmesPath entries, its jsonKeysAsFiles), within the size a
// jmesPath entry may read. Numbers become float64, which the JMESPath
// functions need: an integer beyond 2^53, or more than 17 significant
// digits, is rounded (docs/compatibility.md).
func jsonDocument(o *class.Object, data []byte) (any, error) {
	if len(data) > jmes.MaxDocumentBytes {
		return nil, failure.New(failure.TooLarge, "%s: the value is %s, more than the %s a jmesPath entry or jsonKeysAsFiles may read; remove them from this object and read the whole value as its file",
			o.Label(), failure.Bytes(len(data)), failure.Bytes(jmes.MaxDocumentBytes))
	}
	var doc any
	if err := json.Unmarshal(data, &doc); err != nil {
		// The decoder's message quotes the offending character; say only
		// where the problem is, not what it is.
		what, fields := "its jmesPath entries", "jmesPath"
		switch {
		case o.JSONKeysAsFiles && len(o.JMESPath) > 0:
			what, fields = "its jmesPath entries and jsonKeysAsFiles", "jmesPath and jsonKeysAsFiles"
		case o.JSONKeysAsFiles:
			what, fields = "jsonKeysAsFiles", "jsonKeysAsFiles"
		}
		return nil, invalidArg("%s: the value is not JSON, so %s cannot apply; store the value as a JSON object or remove %s", o.Label(), what, fields)
	}
	return doc, nil
}

// extractJMESPath evaluates o's jmesPath entries over doc, its decoded
// JSON value, each within its own budget and all within mount's, and
// hands each result to emit, in order, as soon as it exists: BuildFiles
// stops at the first result that takes the answer past its limit, so no
// more than one evaluation is ever held beyond it.
//
// A result of any JSON type may become a file (fileSource.contents); an
// evaluation that fails is an error naming the object, the entry and its
// path, never the result or the value itself.
func extractJMESPath(o *class.Object, doc any, mount *jmes.Budget, emit func(j int, res any) error) error {
	for j := range o.JMESPath {
		e := &o.JMESPath[j]
		where := fmt.Sprintf("%s: jmesPath[%d] path %q", o.Label(), j, e.Path)
		expr := e.Expr
		if expr == nil {
			// Only a Class built by hand gets here: class.Parse compiled
			// every path.
			var err error
			if expr, err = jmes.Compile(e.Path); err != nil {
				return invalidArg("%s: jmesPath[%d]: %s", o.Label(), j, err)
			}
		}
		res, err := expr.Evaluate(doc, mount)
		var be *jmes.BudgetError
		switch {
		case errors.As(err, &be):
			return failure.New(failure.TooLarge, "%s needs more than its evaluation may use: %s (docs/limits.md); simplify the expression",
				where, be)
		case err != nil:
			return invalidArg("%s could not be evaluated over the value (a function was given an argument of the wrong type or value); check the expression against the secret's structure", where)
		}
		if err := emit(j, res); err != nil {
			return err
		}
	}
	return nil
}

// jmesPathSource names jmesPath[j] of o in the messages about its result.
func jmesPathSource(o *class.Object, j int) fileSource {
	e := &o.JMESPath[j]
	return fileSource{label: o.Label(), subject: fmt.Sprintf("jmesPath[%d] path %q selects", j, e.Path),
		fix: "point the path at a field that holds a value", enc: e.Encoding}
}

// topLevelKeys returns the keys of doc, o's decoded JSON value, sorted,
// for jsonKeysAsFiles; doc must be a JSON object.
func topLevelKeys(o *class.Object, doc any) (map[string]any, []string, error) {
	m, ok := doc.(map[string]any)
	if !ok {
		return nil, nil, invalidArg("%s: jsonKeysAsFiles needs the value to be a JSON object ({\"key\": value, ...}), but it is %s; store the secret as a JSON object or remove jsonKeysAsFiles",
			o.Label(), describeResult(doc))
	}
	return m, slices.Sorted(maps.Keys(m)), nil
}

// keySource names jsonKeysAsFiles key of o in the messages about its value.
func keySource(o *class.Object, key string) fileSource {
	return fileSource{label: o.Label(), subject: "jsonKeysAsFiles key " + quoteClipped(key) + " holds",
		fix: "give the key a value or remove it, or list the keys you need under jmesPath", enc: o.Encoding}
}

// quoteClipped quotes a key for a message, cut to a readable length: keys
// are names, not values, but a secret's keys can be long.
func quoteClipped(s string) string {
	const most = 64
	if len(s) > most {
		return fmt.Sprintf("%q...", s[:most])
	}
	return fmt.Sprintf("%q", s)
}

// describeResult names the JSON kind of a value, nothing more.
func describeResult(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case float64, int, int64, json.Number:
		return "a number"
	case string:
		return "a string"
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	}
	return fmt.Sprintf("a value of type %T", v)
}

func invalidArg(format string, args ...any) error {
	return failure.New(failure.InvalidArgument, format, args...)
}
