// Package jmes is JMESPath within bounds: expressions from a
// SecretProviderClass, which any tenant may write, checked when the class is
// parsed (Compile: nothing is evaluated) and evaluated at Mount time within
// a budget for each entry and one for all the entries of a Mount
// (Expr.Evaluate). The limits and their messages are listed in
// docs/limits.md.
package jmes

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jmespath-community/go-jmespath/pkg/functions"
	"github.com/jmespath-community/go-jmespath/pkg/interpreter"
	"github.com/jmespath-community/go-jmespath/pkg/parsing"
)

// Limits on a jmesPath expression, checked when the class is parsed
// (docs/limits.md). The expression comes from a SecretProviderClass, which
// any tenant may write, and the daemon serves every pod of its node: the
// parser recurses once per nesting level, and a few characters of
// multi-select can multiply the value exponentially.
const (
	// MaxExprBytes bounds a path's length, checked before anything reads it.
	MaxExprBytes = 1024
	// maxExprDepth bounds how deeply brackets, parentheses and braces nest,
	// plus runs of prefix operators; each level is a level of recursion
	// in the parser and the interpreter.
	maxExprDepth = 32
	// maxExprFanOut bounds how many times larger than its input the
	// result can be (multi-select lists and hashes add, projections
	// multiply); see exprFanOut.
	maxExprFanOut = 64
)

// Expr is a jmesPath expression that passed every static check:
// evaluating it needs no further parsing or checking.
type Expr struct {
	// ast is the checked tree, with countBuilt's calls.
	ast parsing.ASTNode
	// fanOut is exprFanOut's bound for the whole expression.
	fanOut int
	// size estimates the bytes the parsed expression holds, for the class
	// cache's byte bound.
	size int
}

// Size estimates the bytes the compiled expression holds.
func (e *Expr) Size() int { return e.size }

// jmesFunction is one function a path may call: the library's entry and
// the argument counts its spec accepts (max < 0: any number from min).
type jmesFunction struct {
	entry    functions.FunctionEntry
	min, max int
}

// The function table, built once from the library's and never modified:
// the static checks and the evaluation read the same table, so a path that
// passed the checks calls only what they saw. sort_by's handler is wrapped
// to sort a copy: the library sorts its argument in place, and that
// argument is the value the object's other jmesPath entries read next.
var jmesFunctions, jmesCaller = newFunctionTable()

func newFunctionTable() (map[string]jmesFunction, interpreter.FunctionCaller) {
	entries := functions.GetDefaultFunctions()
	table := make(map[string]jmesFunction, len(entries))
	for i := range entries {
		e := &entries[i]
		if e.Name == "sort_by" {
			sortBy := e.Handler
			e.Handler = func(args []any) (any, error) {
				if a, ok := args[0].([]any); ok {
					args[0] = slices.Clone(a) // an empty list stays a list
				}
				return sortBy(args)
			}
		}
		f := jmesFunction{entry: *e, max: len(e.Arguments)}
		for _, a := range e.Arguments {
			if !a.Optional {
				f.min++
			}
			if a.Variadic {
				f.max = -1
			}
		}
		table[e.Name] = f
	}
	return table, interpreter.NewFunctionCaller(entries...)
}

// Compile checks and parses a jmesPath expression. Length and
// nesting are checked before the parser sees the text; after parsing, the
// tree is checked statically: nothing is evaluated, so no part of an
// expression runs before a Mount gives it a value and a budget.
//
// The error text completes "jmesPath[0]: ..." and starts with "path".
func Compile(path string) (*Expr, error) {
	if len(path) > MaxExprBytes {
		return nil, fmt.Errorf("path is %d bytes long, more than the %d allowed; shorten it, or split what it selects across several jmesPath entries",
			len(path), MaxExprBytes)
	}
	if d := exprDepth(path); d > maxExprDepth {
		return nil, fmt.Errorf("path %q nests brackets, parentheses, braces or prefix operators (!, -, &) %d deep, more than the %d allowed; simplify the expression",
			path, d, maxExprDepth)
	}
	ast, err := parseExpr(path)
	if err != nil {
		return nil, fmt.Errorf("path %q is not a valid JMESPath expression (%s); see https://jmespath.org/specification.html", path, err)
	}
	fan, err := checkExpr(&ast)
	if err != nil {
		return nil, fmt.Errorf("path %q %w", path, err)
	}
	if fan > maxExprFanOut {
		return nil, fmt.Errorf("path %q would copy the value too many times: its multi-select lists, hashes and projections multiply it more than the %d times allowed; select fewer fields, or flatten fewer times",
			path, maxExprFanOut)
	}
	countBuilt(&ast)
	return &Expr{ast: ast, fanOut: fan, size: astSize(&ast)}, nil
}

// builtName is the function countBuilt wraps around every node that builds
// a new array or object. It is not an identifier, so no expression can
// call it; only budgetCaller knows it.
const builtName = "(count what was built)"

// countBuilt wraps every multi-select list or hash, projection and flatten
// of a checked tree in a call to builtName, which counts the value the node
// built against the evaluation's budget and returns it unchanged. The
// fan-out bound is relative to its input, and the input can be a large
// value, a literal or the output of a function: without counting, six
// doublings of a 64 KiB list of numbers (a fan-out of 64, allowed)
// allocated 475 MB, and an 8-by-8 multi-select over it 764 MB. A slice is
// not wrapped: the projection around it must see it to slice strings, and
// counts what it returns.
func countBuilt(n *parsing.ASTNode) {
	for i := range n.Children {
		countBuilt(&n.Children[i])
	}
	switch n.NodeType {
	case parsing.ASTMultiSelectList, parsing.ASTMultiSelectHash, parsing.ASTProjection,
		parsing.ASTValueProjection, parsing.ASTFilterProjection, parsing.ASTFlatten:
		built := *n
		*n = parsing.ASTNode{NodeType: parsing.ASTFunctionExpression, Value: builtName, Children: []parsing.ASTNode{built}}
	}
}

// parseExpr runs the library's parser. The text comes from
// SecretProviderClasses, so a panic in the library is turned into an error
// rather than allowed to end the daemon and every other pod's mount.
func parseExpr(path string) (ast parsing.ASTNode, err error) {
	defer func() {
		if r := recover(); r != nil {
			ast, err = parsing.ASTNode{}, errors.New("the expression could not be parsed")
		}
	}()
	ast, err = parsing.NewParser().Parse(path)
	var se parsing.SyntaxError
	if errors.As(err, &se) {
		err = fmt.Errorf("%s at character %d", se.Error(), se.Offset+1)
	}
	return ast, err
}

// exprDepth returns how deeply path nests brackets, parentheses and braces,
// plus the longest run of prefix operators (!, -, +, &, U+2212) at that
// depth: both are levels of recursion in the parser. Quoted identifiers
// "...", raw strings '...' and JSON literals `...` are skipped (a backslash
// escapes the next character in each), as the library's lexer does.
func exprDepth(path string) int {
	deepest, depth, run := 0, 0, 0
	for i := 0; i < len(path); i++ {
		switch c := path[i]; c {
		case '"', '\'', '`':
			i = closingQuote(path, i)
			run = 0
		case '[', '(', '{':
			depth++
			run = 0
		case ']', ')', '}':
			depth = max(depth-1, 0)
			run = 0
		case '!', '&':
			// "!=" and "&&" are binary operators, not prefixes.
			if i+1 < len(path) && (c == '!' && path[i+1] == '=' || c == '&' && path[i+1] == '&') {
				i++
				run = 0
				continue
			}
			run++
		case '-', '+':
			run++
		case ' ', '\t', '\n', '\r':
			// Whitespace does not end a run: "! ! a" nests like "!!a".
		default:
			if strings.HasPrefix(path[i:], "\u2212") { // the library's other minus
				i += len("\u2212") - 1
				run++
				break
			}
			run = 0
		}
		deepest = max(deepest, depth+run)
	}
	return deepest
}

// closingQuote returns the index of the quote closing the one at path[open],
// or the last index when it is never closed (the parser then reports it).
func closingQuote(path string, open int) int {
	q := path[open]
	for i := open + 1; i < len(path); i++ {
		switch path[i] {
		case '\\':
			i++
		case q:
			return i
		}
	}
	return len(path) - 1
}

// checkExpr refuses what the evaluation must never meet and returns the
// expression's fan-out (see exprFanOut). Its error text follows the quoted
// path.
//
// Let expressions, variables and the root reference $ are refused: the
// reference provider's JMESPath (jmespath/go-jmespath v0.4.0) has none of
// them, so no working class uses them, and a variable can carry a large
// value anywhere in the expression, past what the fan-out bound counts.
func checkExpr(n *parsing.ASTNode) (int, error) {
	switch n.NodeType {
	case parsing.ASTLetExpression, parsing.ASTBindings, parsing.ASTBinding:
		return 0, errors.New("uses a let expression or an assignment (=), which the JMESPath of the reference provider does not have; select the fields directly")
	case parsing.ASTVariable:
		return 0, fmt.Errorf("uses the variable %v, which the JMESPath of the reference provider does not have; select the field directly", n.Value)
	case parsing.ASTRootNode:
		return 0, errors.New("uses the root reference $, which the JMESPath of the reference provider does not have; write the path from the top of the value instead")
	case parsing.ASTFunctionExpression:
		if err := checkCall(n); err != nil {
			return 0, err
		}
	}
	kids := make([]int, len(n.Children))
	for i := range n.Children {
		f, err := checkExpr(&n.Children[i])
		if err != nil {
			return 0, err
		}
		kids[i] = f
	}
	return exprFanOut(n, kids), nil
}

// checkCall refuses a call to a function the table does not have, or with
// an argument count its spec does not accept. The library would refuse
// both only when the call is reached, which a null in the data can prevent.
func checkCall(n *parsing.ASTNode) error {
	name, _ := n.Value.(string)
	f, ok := jmesFunctions[name]
	if !ok {
		return fmt.Errorf("calls a function JMESPath does not have (unknown function: %s); see https://jmespath.org/specification.html#built-in-functions", name)
	}
	got := len(n.Children)
	if got >= f.min && (f.max < 0 || got <= f.max) {
		return nil
	}
	var takes string
	switch {
	case f.max < 0:
		takes = fmt.Sprintf("at least %d", f.min)
	case f.min == f.max:
		takes = fmt.Sprint(f.min)
	default:
		takes = fmt.Sprintf("%d to %d", f.min, f.max)
	}
	args := "arguments"
	if got == 1 {
		args = "argument"
	}
	return fmt.Errorf("calls %s with %d %s, but %s takes %s", name, got, args, name, takes)
}

// exprFanOut bounds how many times larger than its input n's result can
// be, given its children's bounds: multi-select lists and hashes hold each
// child's result (sum); a sub-expression, pipe, index expression or
// projection applies its right side to each part of its left side's
// result (product), and so does a function taking an expression reference
// (map, sort_by, group_by, max_by, min_by) with its other arguments;
// other functions, comparisons and and/or/not/arithmetic hold at most what
// their operands did (sum or max); leaves are 1. Values saturate just
// above maxExprFanOut, so any product stays small.
func exprFanOut(n *parsing.ASTNode, kids []int) int {
	switch n.NodeType {
	case parsing.ASTMultiSelectList, parsing.ASTMultiSelectHash:
		return fanSum(kids)
	case parsing.ASTSubexpression, parsing.ASTPipe, parsing.ASTIndexExpression,
		parsing.ASTProjection, parsing.ASTValueProjection:
		return fanProduct(kids)
	case parsing.ASTFilterProjection: // left, right, condition
		return fanProduct([]int{kids[0], max(kids[1], kids[2])})
	case parsing.ASTFunctionExpression:
		args, refs := []int{}, []int{1}
		for i := range n.Children {
			if n.Children[i].NodeType == parsing.ASTExpRef {
				refs = append(refs, kids[i])
			} else {
				args = append(args, kids[i])
			}
		}
		return fanProduct(append(refs, fanSum(args)))
	case parsing.ASTComparator, parsing.ASTOrExpression, parsing.ASTAndExpression,
		parsing.ASTArithmeticExpression:
		return max(1, fanMax(kids))
	}
	// Leaves, and nodes with one child that hold at most its result
	// (flatten, not, unary minus, key-value pair, expression reference).
	// Any other node is bounded by the product, the largest rule above.
	return fanProduct(kids)
}

func fanSum(kids []int) int {
	s := 0
	for _, k := range kids {
		s = min(s+k, maxExprFanOut+1)
	}
	return max(s, 1)
}

func fanProduct(kids []int) int {
	p := 1
	for _, k := range kids {
		p = min(p*k, maxExprFanOut+1)
	}
	return p
}

func fanMax(kids []int) int {
	m := 0
	for _, k := range kids {
		m = max(m, k)
	}
	return m
}

// astSize estimates the bytes a parsed expression holds: each node, its
// name or string, and its literal.
func astSize(n *parsing.ASTNode) int {
	const nodeBytes = 96
	s := nodeBytes
	switch v := n.Value.(type) {
	case string:
		s += len(v)
	case nil, int, parsing.TokType:
	default:
		s += valueSize(v, maxEvalBytes)
	}
	for i := range n.Children {
		s += astSize(&n.Children[i])
	}
	return s
}
