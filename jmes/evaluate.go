package jmes

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/jmespath-community/go-jmespath/pkg/interpreter"

	"github.com/csi-provider-aws/csi-provider-aws/failure"
)

// Limits on the jmesPath evaluations (docs/limits.md). The static checks
// bound how many times an expression's structure can copy its input, but
// not the input, which can be a large value, a literal or a function's
// output; and what functions produce depends on the value (pad_left's
// width, replace's matches, join's glue). Both are counted here, as the
// evaluation runs: for each jmesPath entry, and for all the entries one
// Mount evaluates, so a class of 1000 entries cannot cost a Mount 1000
// budgets.
const (
	// maxEvalCalls bounds the function calls of one evaluation (map and
	// sort_by call their expression once per element).
	maxEvalCalls = 10_000
	// maxEvalBytes bounds the bytes functions produce in one evaluation,
	// counted as valueSize does.
	maxEvalBytes = 1 << 20
	// maxEvalBuilt bounds the values multi-selects, projections and
	// flattens build in one evaluation, counted as valueSize does (which
	// counts the parts they share with their input again).
	maxEvalBuilt = 4 << 20
	// The same three, for all the evaluations of one Mount.
	maxMountCalls = 100_000
	maxMountBytes = 16 << 20
	maxMountBuilt = 16 << 20
	// MaxDocumentBytes bounds the JSON value a jmesPath entry is evaluated
	// over (the caller checks it before decoding). Secrets Manager caps
	// values at 64 KiB and SSM at 8 KiB, so it is only reached by a value no
	// AWS service returns.
	MaxDocumentBytes = 1 << 20
)

// Budget counts what evaluations used against their limits; scope names
// who the limits are for, in messages. NewBudget makes the one all the
// evaluations of a Mount share; each evaluation has its own besides.
type Budget struct {
	calls, bytes, built          int
	maxCalls, maxBytes, maxBuilt int
	scope                        string
}

func entryBudget() Budget {
	return Budget{maxCalls: maxEvalCalls, maxBytes: maxEvalBytes, maxBuilt: maxEvalBuilt, scope: "one jmesPath entry"}
}

// NewBudget is the budget all the jmesPath entries of one Mount share.
func NewBudget() *Budget {
	return &Budget{maxCalls: maxMountCalls, maxBytes: maxMountBytes, maxBuilt: maxMountBuilt,
		scope: "the jmesPath entries of one Mount together"}
}

// Estimated bytes of parts of a value, in valueSize's and outputBound's
// units: an interface or string header, a slice header, a map.
const (
	slotBytes  = 16
	sliceBytes = 24
	mapBytes   = 48
)

// ErrEvaluation is every evaluation failure other than the budget's. It is
// deliberately bare: the library's messages can quote the data they failed
// on ("invalid type for: <value>"), and the data is a secret.
var ErrEvaluation = errors.New("the expression could not be evaluated")

// BudgetError is an evaluation stopped by its budget. Its text names the
// function and the limit, never a size computed from the value.
type BudgetError struct{ msg string }

func (e *BudgetError) Error() string { return e.msg }

// Evaluate runs e over doc (a value encoding/json decoded into an any) with
// a fresh budget for this evaluation, counting against mount too (nil: a
// Mount budget of its own). It fails with a *BudgetError when a budget
// stops it, and with ErrEvaluation otherwise; a panic in the library
// becomes ErrEvaluation like any other library failure.
func (e *Expr) Evaluate(doc any, mount *Budget) (res any, err error) {
	if mount == nil {
		mount = NewBudget()
	}
	b := &budgetCaller{entry: entryBudget(), mount: mount}
	defer func() {
		if r := recover(); r != nil {
			res, err = nil, ErrEvaluation
		}
		// The interpreter drops some errors (a filter or flatten over a
		// failed left side yields null), so the budget is checked after
		// the evaluation whatever it returned.
		if b.exceeded != nil {
			res, err = nil, b.exceeded
		}
	}()
	res, err = interpreter.NewInterpreter(doc, b, nil).Execute(e.ast, doc)
	if err != nil {
		return nil, ErrEvaluation
	}
	return res, nil
}

// budgetCaller is the FunctionCaller of one evaluation: it calls the
// function table within the entry's budget and the Mount's. Once either is
// exceeded every further call fails at once, so an interpreter that drops
// the error does no more work through functions.
//
// Capped before they run, because their output can outgrow their input
// without bound: pad_left and pad_right (the width), replace (matches times
// the growth of each), join (the strings plus the glue between them),
// to_string (the JSON text, walked without producing it), split (the
// pieces), zip (rows times arrays), items (one pair per entry), lower and
// upper (case mapping can lengthen a string), reverse of a string (its
// runes). Every function's result is then counted by valueSize, and so is
// every value a multi-select, projection or flatten builds (builtName).
type budgetCaller struct {
	entry    Budget
	mount    *Budget
	exceeded *BudgetError
}

func (b *budgetCaller) CallFunction(name string, args []any) (any, error) {
	if b.exceeded != nil {
		return nil, b.exceeded
	}
	if name == builtName {
		return b.countBuilt(args[0])
	}
	for _, u := range []*Budget{&b.entry, b.mount} {
		if u.calls++; u.calls > u.maxCalls {
			return nil, b.fail("it calls functions more than %d times, the most %s may", u.maxCalls, u.scope)
		}
	}
	tight := b.tightest(func(u *Budget) int { return u.maxBytes - u.bytes })
	room := tight.maxBytes - tight.bytes
	if outputBound(name, args, room) > room {
		return nil, b.fail("%s would take what functions produce past %s, the most %s may have them produce", name, failure.Bytes(tight.maxBytes), tight.scope)
	}
	res, err := jmesCaller.CallFunction(name, args)
	if err != nil {
		return nil, err
	}
	n := valueSize(res, room+1)
	for _, u := range []*Budget{&b.entry, b.mount} {
		if u.bytes += n; u.bytes > u.maxBytes {
			return nil, b.fail("%s took what functions produce past %s, the most %s may have them produce", name, failure.Bytes(u.maxBytes), u.scope)
		}
	}
	return res, nil
}

// countBuilt counts a value a multi-select, projection or flatten built
// (see countBuilt in compile.go) and returns it.
func (b *budgetCaller) countBuilt(v any) (any, error) {
	tight := b.tightest(func(u *Budget) int { return u.maxBuilt - u.built })
	n := valueSize(v, tight.maxBuilt-tight.built+1)
	for _, u := range []*Budget{&b.entry, b.mount} {
		if u.built += n; u.built > u.maxBuilt {
			return nil, b.fail("its multi-select lists, hashes, projections and flattens build more than %s, the most %s may", failure.Bytes(u.maxBuilt), u.scope)
		}
	}
	return v, nil
}

// tightest returns the budget with the least room left.
func (b *budgetCaller) tightest(room func(*Budget) int) *Budget {
	if room(b.mount) < room(&b.entry) {
		return b.mount
	}
	return &b.entry
}

func (b *budgetCaller) fail(format string, args ...any) error {
	b.exceeded = &BudgetError{msg: fmt.Sprintf(format, args...)}
	return b.exceeded
}

// outputBound is an upper bound of the bytes name would produce from args,
// computed without producing them and without passing room by much; 0 for
// functions whose result is no larger than their arguments (valueSize
// counts it once it exists). Arguments of the wrong type give 0: the
// library's type check refuses them before the function runs.
func outputBound(name string, args []any, room int) int {
	str := func(i int) string {
		if i < len(args) {
			s, _ := args[i].(string)
			return s
		}
		return ""
	}
	switch name {
	case "pad_left", "pad_right":
		w, ok := argNumber(args, 1)
		if !ok || w > float64(room) {
			return room + 1
		}
		return slotBytes + max(len(str(0)), int(w))
	case "replace":
		return replaceBound(str(0), str(1), str(2), args)
	case "join":
		list, _ := argAt(args, 1).([]any)
		n := slotBytes + len(str(0))*len(list)
		for _, e := range list {
			s, _ := e.(string)
			if n += len(s); n > room {
				break
			}
		}
		return n
	case "to_string":
		if _, ok := argAt(args, 0).(string); ok {
			return 0 // returned as it is
		}
		return slotBytes + jsonSize(argAt(args, 0), room)
	case "split":
		return splitBound(str(0), str(1), args)
	case "zip":
		rows := -1
		for _, a := range args {
			l, _ := a.([]any)
			if rows < 0 || len(l) < rows {
				rows = len(l)
			}
		}
		return slotBytes + sliceBytes + max(rows, 0)*(slotBytes+sliceBytes+slotBytes*len(args))
	case "items":
		m, _ := argAt(args, 0).(map[string]any)
		return slotBytes + sliceBytes + len(m)*(slotBytes+sliceBytes+2*slotBytes)
	case "lower", "upper":
		return slotBytes + 2*len(str(0))
	case "reverse":
		return slotBytes + 5*len(str(0)) // the runes, then the string
	}
	return 0
}

func argAt(args []any, i int) any {
	if i < len(args) {
		return args[i]
	}
	return nil
}

func argNumber(args []any, i int) (float64, bool) {
	f, ok := argAt(args, i).(float64)
	return f, ok
}

// replaceBound bounds replace(s, old, new[, count]): each replaced match
// grows s by len(new)-len(old). An empty old matches between every rune.
func replaceBound(s, old, new string, args []any) int {
	grow := len(new) - len(old)
	if grow <= 0 {
		return slotBytes + len(s)
	}
	n := strings.Count(s, old)
	if c, ok := argNumber(args, 3); ok && c >= 0 && c < float64(n) {
		n = int(c)
	}
	return slotBytes + len(s) + n*grow
}

// splitBound bounds split(s, sep[, count]): per piece a string header, its
// slot and the header boxed into it (the pieces share s's bytes). An empty
// sep splits every rune.
func splitBound(s, sep string, args []any) int {
	n := strings.Count(s, sep) + 1
	if c, ok := argNumber(args, 2); ok && c >= 0 && c+1 < float64(n) {
		n = int(c) + 1
	}
	return slotBytes + sliceBytes + n*3*slotBytes
}

// valueSize estimates the bytes v holds: a slot per value, the strings'
// bytes, a header per array or object. It stops counting once past limit,
// so its cost is bounded by the budget however large or shared v is.
func valueSize(v any, limit int) int {
	switch v := v.(type) {
	case string:
		return slotBytes + len(v)
	case []any:
		n := slotBytes + sliceBytes
		for _, e := range v {
			if n > limit {
				break
			}
			n += valueSize(e, limit-n)
		}
		return n
	case map[string]any:
		n := slotBytes + mapBytes
		for k, e := range v {
			if n > limit {
				break
			}
			n += slotBytes + len(k) + valueSize(e, limit-n)
		}
		return n
	}
	return slotBytes
}

// JSONSize bounds the length of the JSON text encoding/json writes for v,
// a value Evaluate returned (or encoding/json decoded), without producing
// it: it stops counting once past limit, so its cost is bounded by limit
// however large v is.
func JSONSize(v any, limit int) int { return jsonSize(v, limit) }

// jsonSize bounds the length of encoding/json's text for v (to_string's
// result) without producing it, stopping once past limit. Strings count
// their escapes: six bytes for a control character, <, > or &, an invalid
// byte, U+2028 or U+2029.
func jsonSize(v any, limit int) int {
	switch v := v.(type) {
	case nil:
		return len("null")
	case bool:
		return len("false")
	case float64:
		return 24 // the longest float64 encoding/json writes
	case string:
		return jsonStringSize(v)
	case []any:
		n := len("[]")
		for _, e := range v {
			if n > limit {
				break
			}
			n += 1 + jsonSize(e, limit-n)
		}
		return n
	case map[string]any:
		n := len("{}")
		for k, e := range v {
			if n > limit {
				break
			}
			n += 2 + jsonStringSize(k) + jsonSize(e, limit-n)
		}
		return n
	}
	return limit + 1 // not JSON: let the budget refuse it rather than guess
}

func jsonStringSize(s string) int {
	n := len(`""`)
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				n += 2
			case c < 0x20 || c == '<' || c == '>' || c == '&':
				n += 6
			default:
				n++
			}
			i++
			continue
		}
		r, w := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && w == 1 || r == '\u2028' || r == '\u2029' {
			n += 6
		} else {
			n += w
		}
		i += w
	}
	return n
}
