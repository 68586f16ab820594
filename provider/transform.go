package provider

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	jmespath "github.com/jmespath-community/go-jmespath"
)

// compileJMESPath compiles a jmesPath expression. The library is fed text
// from SecretProviderClasses, so a panic in it is turned into an error
// rather than allowed to end the daemon and every other pod's mount.
func compileJMESPath(expr string) (jp jmespath.JMESPath, err error) {
	defer func() {
		if r := recover(); r != nil {
			jp, err = nil, fmt.Errorf("the expression could not be parsed")
		}
	}()
	jp, err = jmespath.Compile(expr)
	var se jmespath.SyntaxError
	if errors.As(err, &se) {
		err = fmt.Errorf("%s at character %d", se.Error(), se.Offset+1)
	}
	return jp, err
}

// unknownFunction reports a call to a function the library does not have,
// which Compile lets through. It evaluates the expression over null: no
// data, so nothing secret can reach the message. A call that null
// short-circuits ("a.nope(@)") is only found when the mount evaluates it.
func unknownFunction(jp jmespath.JMESPath) (msg string, found bool) {
	defer func() {
		if r := recover(); r != nil {
			msg, found = "", false
		}
	}()
	if _, err := jp.Search(nil); err != nil && strings.HasPrefix(err.Error(), "unknown function") {
		return err.Error(), true
	}
	return "", false
}

// searchJMESPath evaluates jp over doc. Like compileJMESPath it contains a
// library panic. Its error is deliberately bare: the library's messages can
// quote the data they failed on ("invalid type for: <value>"), and the data
// is a secret.
func searchJMESPath(jp jmespath.JMESPath, doc any) (res any, ok bool) {
	defer func() {
		if r := recover(); r != nil {
			res, ok = nil, false
		}
	}()
	res, err := jp.Search(doc)
	if err != nil {
		return nil, false
	}
	return res, true
}

// extractJMESPath evaluates o's jmesPath entries over its JSON value and
// returns one result per entry. Only a string result is accepted, as in the
// reference provider: a number, boolean, object, array or no match is an
// error naming the object, the entry, its path and the kind of result, never
// the result or the value itself.
func extractJMESPath(o *Object, data []byte) ([][]byte, error) {
	var doc any
	if err := json.Unmarshal(data, &doc); err != nil {
		// The decoder's message quotes the offending character; say only
		// where the problem is, not what it is.
		return nil, invalidArg("%s: the value is not JSON, so its jmesPath entries cannot apply; store the value as a JSON object or remove jmesPath", o.label())
	}
	out := make([][]byte, len(o.JMESPath))
	for j, e := range o.JMESPath {
		where := fmt.Sprintf("%s: jmesPath[%d] path %q", o.label(), j, e.Path)
		jp, err := compileJMESPath(e.Path)
		if err != nil {
			// ParseClass compiled it already; this is only reachable with a
			// Class built by hand.
			return nil, invalidArg("%s is not a valid JMESPath expression (%s)", where, err)
		}
		res, ok := searchJMESPath(jp, doc)
		if !ok {
			return nil, invalidArg("%s could not be evaluated over the value (a function was given an argument of the wrong type, or is unknown); check the expression against the secret's structure", where)
		}
		s, isString := res.(string)
		if !isString {
			return nil, invalidArg("%s selects %s, but only a string can become a file; point the path at a string field", where, describeResult(res))
		}
		out[j] = []byte(s)
	}
	return out, nil
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
