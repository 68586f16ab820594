package provider

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/csi-provider-aws/csi-provider-aws/class"
	"github.com/csi-provider-aws/csi-provider-aws/failure"
	"github.com/csi-provider-aws/csi-provider-aws/jmes"
)

// extractJMESPath evaluates o's jmesPath entries over its JSON value, each
// within its own budget and all within mount's, and hands each result to
// emit, in order, as soon as it exists: BuildFiles stops at the first
// result that takes the answer past its limit, so no more than one
// evaluation is ever held beyond it.
//
// Only a string result is accepted, as in the reference provider: a number,
// boolean, object, array or no match is an error naming the object, the
// entry, its path and the kind of result, never the result or the value
// itself.
func extractJMESPath(o *class.Object, data []byte, mount *jmes.Budget, emit func(j int, s string) error) error {
	if len(data) > jmes.MaxDocumentBytes {
		return failure.New(failure.TooLarge, "%s: the value is %s, more than the %s a jmesPath entry may read; remove jmesPath from this object and read the whole value as its file",
			o.Label(), failure.Bytes(len(data)), failure.Bytes(jmes.MaxDocumentBytes))
	}
	var doc any
	if err := json.Unmarshal(data, &doc); err != nil {
		// The decoder's message quotes the offending character; say only
		// where the problem is, not what it is.
		return invalidArg("%s: the value is not JSON, so its jmesPath entries cannot apply; store the value as a JSON object or remove jmesPath", o.Label())
	}
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
		s, isString := res.(string)
		if !isString {
			return invalidArg("%s selects %s, but only a string can become a file; point the path at a string field", where, describeResult(res))
		}
		if err := emit(j, s); err != nil {
			return err
		}
	}
	return nil
}

// describeResult names the JSON kind of a jmesPath result, nothing more.
func describeResult(v any) string {
	switch v.(type) {
	case nil:
		return "nothing (null: the path matched no field)"
	case bool:
		return "a boolean"
	case float64, int, int64, json.Number:
		return "a number"
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
