package assign

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"regexp/syntax"
	"strconv"
	"strings"
)

// SavedGroups maps a saved group id to its member values, for the $inGroup
// and $notInGroup operators.
type SavedGroups map[string][]any

// Condition is a compiled targeting condition (GrowthBook's Mongo-style
// condition language). The zero Condition matches everything. A Condition is
// immutable and safe for concurrent use; Eval does not allocate for the
// common operators on string, number and boolean attributes.
type Condition struct {
	root *condNode
	src  json.RawMessage
}

// ConditionError reports a bad condition document; Path names the offending
// element, e.g. "$and[1].country.$inn".
type ConditionError struct {
	Path string
	Msg  string
}

// Error implements error.
func (e *ConditionError) Error() string {
	if e.Path == "" {
		return "condition: " + e.Msg
	}
	return "condition: " + e.Path + ": " + e.Msg
}

// ParseCondition compiles a JSON condition strictly: unknown operators,
// malformed operator arguments and invalid regular expressions are errors
// naming their path. An empty input or JSON null yields the zero Condition.
func ParseCondition(data []byte) (Condition, error) { return parseCondition(data, false) }

// ParseConditionLax compiles a JSON condition the way GrowthBook SDKs read
// one: an unknown operator or a malformed operator argument (a non-array $in,
// an invalid regular expression) makes that operator evaluate to false
// instead of failing. Only invalid JSON or a non-object condition is an error.
func ParseConditionLax(data []byte) (Condition, error) { return parseCondition(data, true) }

func parseCondition(data []byte, lax bool) (Condition, error) {
	t := bytes.TrimSpace(data)
	if len(t) == 0 || string(t) == "null" {
		return Condition{}, nil
	}
	var v any
	if err := json.Unmarshal(t, &v); err != nil {
		return Condition{}, &ConditionError{Msg: "invalid JSON: " + err.Error()}
	}
	m, ok := v.(map[string]any)
	if !ok {
		return Condition{}, &ConditionError{Msg: "must be a JSON object"}
	}
	p := condParser{lax: lax}
	n, err := p.cond(m, "")
	if err != nil {
		return Condition{}, err
	}
	if len(n.clauses) == 0 {
		n = nil
	} else {
		n.attrs = newAttrTests(n.clauses)
	}
	return Condition{root: n, src: append(json.RawMessage(nil), t...)}, nil
}

// MarshalJSON returns the source document of the condition ({} when zero).
func (c Condition) MarshalJSON() ([]byte, error) {
	if c.src == nil {
		return []byte("{}"), nil
	}
	return c.src, nil
}

// IsZero reports whether c matches everything without looking at attributes.
func (c Condition) IsZero() bool { return c.root == nil }

// Eval reports whether attrs satisfy the condition.
func (c Condition) Eval(attrs Attributes, groups SavedGroups) bool {
	if c.root == nil {
		return true
	}
	if c.root.attrs != nil {
		return evalAttrTests(c.root.attrs, attrs, groups)
	}
	return c.root.eval(map[string]any(attrs), groups)
}

// evalAny evaluates a condition against an arbitrary root value.
func (c Condition) evalAny(root any, groups SavedGroups) bool {
	if c.root == nil {
		return true
	}
	return c.root.eval(root, groups)
}

type clauseKind uint8

const (
	clField clauseKind = iota
	clOr
	clNor
	clAnd
	clNot
)

type condNode struct {
	clauses []clause
	// attrs is set when every clause tests a top-level attribute (the
	// usual targeting condition, such as {"country": {"$in": ["KR", "JP"]},
	// "tier": {"$ne": "banned"}}): Condition.Eval then runs these tests on
	// the unit's attributes instead of walking the clauses.
	attrs []attrTest
}

type clause struct {
	kind clauseKind
	path []string // clField: the attribute path, the key split on "."
	val  *valueCond
	subs []*condNode
}

// attrTest is a field clause on a top-level attribute: the attribute's
// value must satisfy val. str is val specialised for a string value, when
// val has one of strTest's shapes.
type attrTest struct {
	key string
	val *valueCond
	str strTest
}

// newAttrTests returns the clauses as attrTests, or nil when one of them
// is not a field clause on a top-level attribute.
func newAttrTests(clauses []clause) []attrTest {
	ts := make([]attrTest, len(clauses))
	for i, c := range clauses {
		if c.kind != clField || len(c.path) != 1 {
			return nil
		}
		ts[i] = attrTest{key: c.path[0], val: c.val, str: newStrTest(c.val)}
	}
	return ts
}

// evalAttrTests reports whether attrs pass every test: it gives the answer
// of condNode.eval on attrs, looking each attribute up directly.
func evalAttrTests(ts []attrTest, attrs Attributes, g SavedGroups) bool {
	for i := range ts {
		t := &ts[i]
		v := attrs[t.key]
		if sv, ok := v.(string); ok && t.str.set {
			if !t.str.match(sv) {
				return false
			}
		} else if !t.val.eval(v, g) {
			return false
		}
	}
	return true
}

// strTest is a value condition specialised for a string value, for the
// shapes most targeting conditions take: a string literal or $eq / $ne with
// a string argument, and $in / $nin with a list of strings. Each is a
// membership test: the value passes when it is in list ($eq, $in), or when
// it is not (negate: $ne, $nin). For a string value it answers exactly as
// the valueCond does, without the interface conversions and the calls per
// operator of the general evaluation. The zero strTest (set false) has no
// fast path.
type strTest struct {
	set    bool
	negate bool
	list   []string
}

// newStrTest specialises vc for string values when it has one of
// strTest's shapes, and returns the zero strTest otherwise.
func newStrTest(vc *valueCond) strTest {
	if vc.kind == vkString {
		return strTest{set: true, list: []string{vc.s}}
	}
	if vc.kind != vkOps || len(vc.ops) != 1 {
		return strTest{}
	}
	switch o := &vc.ops[0]; {
	case (o.code == opEq || o.code == opNe) && o.isStr:
		return strTest{set: true, negate: o.code == opNe, list: []string{o.s}}
	case (o.code == opIn || o.code == opNin) && o.strs != nil:
		return strTest{set: true, negate: o.code == opNin, list: o.strs}
	}
	return strTest{}
}

// match evaluates the test for the string value v (t.set is true).
func (t *strTest) match(v string) bool { return containsString(t.list, v) != t.negate }

type valueKind uint8

const (
	vkString valueKind = iota
	vkNumber
	vkBool
	vkNull
	vkDeep
	vkOps
)

type valueCond struct {
	kind valueKind
	s    string
	f    float64
	b    bool
	lit  any
	ops  []op
}

type opCode uint8

const (
	opFalse opCode = iota
	opEq
	opNe
	opLt
	opLte
	opGt
	opGte
	opVeq
	opVne
	opVgt
	opVgte
	opVlt
	opVlte
	opExists
	opIn
	opNin
	opIni
	opNini
	opInGroup
	opNotInGroup
	opNot
	opSize
	opElemMatchValue
	opElemMatchCond
	opAll
	opAlli
	opRegex
	opType
)

type op struct {
	code  opCode
	arg   any
	s     string
	b     bool
	list  []any
	strs  []string // list when every element is a string (fast path)
	isStr bool     // arg is a string, held in s (fast path for $eq/$ne)
	re    *regexp.Regexp
	vc    *valueCond
	vcs   []*valueCond
	cond  *condNode
}

var opCodes = map[string]opCode{
	"$eq": opEq, "$ne": opNe, "$lt": opLt, "$lte": opLte, "$gt": opGt, "$gte": opGte,
	"$veq": opVeq, "$vne": opVne, "$vgt": opVgt, "$vgte": opVgte, "$vlt": opVlt, "$vlte": opVlte,
	"$exists": opExists, "$in": opIn, "$nin": opNin, "$ini": opIni, "$nini": opNini,
	"$inGroup": opInGroup, "$notInGroup": opNotInGroup, "$not": opNot, "$size": opSize,
	"$elemMatch": opElemMatchValue, "$all": opAll, "$alli": opAlli,
	"$regex": opRegex, "$regexi": opRegex, "$type": opType,
}

type condParser struct{ lax bool }

func joinPath(base, elem string) string {
	if base == "" {
		return elem
	}
	return base + "." + elem
}

func (p *condParser) cond(m map[string]any, path string) (*condNode, error) {
	n := &condNode{}
	for _, k := range sortedKeys(m) {
		v := m[k]
		kp := joinPath(path, k)
		switch k {
		case "$or", "$nor", "$and":
			arr, ok := v.([]any)
			if !ok {
				if !p.lax {
					return nil, &ConditionError{kp, "must be an array of conditions"}
				}
				// JS would throw and the SDK treats the condition as failed.
				n.clauses = append(n.clauses, clause{kind: clField, val: &valueCond{kind: vkOps, ops: []op{{code: opFalse}}}})
				continue
			}
			c := clause{kind: map[string]clauseKind{"$or": clOr, "$nor": clNor, "$and": clAnd}[k]}
			for i, e := range arr {
				ep := fmt.Sprintf("%s[%d]", kp, i)
				em, ok := e.(map[string]any)
				if !ok {
					if !p.lax {
						return nil, &ConditionError{ep, "must be a condition object"}
					}
					em = map[string]any{}
				}
				sub, err := p.cond(em, ep)
				if err != nil {
					return nil, err
				}
				c.subs = append(c.subs, sub)
			}
			n.clauses = append(n.clauses, c)
		case "$not":
			em, ok := v.(map[string]any)
			if !ok {
				if !p.lax {
					return nil, &ConditionError{kp, "must be a condition object"}
				}
				em = map[string]any{}
			}
			sub, err := p.cond(em, kp)
			if err != nil {
				return nil, err
			}
			n.clauses = append(n.clauses, clause{kind: clNot, subs: []*condNode{sub}})
		default:
			vc, err := p.value(v, kp)
			if err != nil {
				return nil, err
			}
			n.clauses = append(n.clauses, clause{kind: clField, path: strings.Split(k, "."), val: vc})
		}
	}
	return n, nil
}

func isOperatorObject(m map[string]any) bool {
	if len(m) == 0 {
		return false
	}
	for k := range m {
		if !strings.HasPrefix(k, "$") {
			return false
		}
	}
	return true
}

func (p *condParser) value(v any, path string) (*valueCond, error) {
	switch x := v.(type) {
	case string:
		return &valueCond{kind: vkString, s: x}, nil
	case float64:
		return &valueCond{kind: vkNumber, f: x}, nil
	case bool:
		return &valueCond{kind: vkBool, b: x}, nil
	case nil:
		return &valueCond{kind: vkNull}, nil
	case []any:
		return &valueCond{kind: vkDeep, lit: x}, nil
	case map[string]any:
		if !isOperatorObject(x) {
			return &valueCond{kind: vkDeep, lit: x}, nil
		}
		vc := &valueCond{kind: vkOps}
		for _, k := range sortedKeys(x) {
			o, err := p.op(k, x[k], joinPath(path, k))
			if err != nil {
				return nil, err
			}
			vc.ops = append(vc.ops, o)
		}
		return vc, nil
	}
	return nil, &ConditionError{path, fmt.Sprintf("unsupported value %T", v)}
}

func (p *condParser) bad(path, msg string) (op, error) {
	if p.lax {
		return op{code: opFalse}, nil
	}
	return op{}, &ConditionError{path, msg}
}

func (p *condParser) op(name string, arg any, path string) (op, error) {
	code, ok := opCodes[name]
	if !ok {
		return p.bad(path, "unknown operator "+strconv.Quote(name))
	}
	o := op{code: code, arg: arg}
	switch code {
	case opEq, opNe:
		if str, ok := arg.(string); ok {
			o.s, o.isStr = str, true
		}
		switch arg.(type) {
		case []any, map[string]any:
			if !p.lax {
				return op{}, &ConditionError{path, "argument must be a string, number, boolean or null"}
			}
		}
	case opLt, opLte, opGt, opGte:
		switch arg.(type) {
		case string, float64:
		default:
			if !p.lax {
				return op{}, &ConditionError{path, "argument must be a string or a number"}
			}
		}
	case opVeq, opVne, opVgt, opVgte, opVlt, opVlte:
		switch arg.(type) {
		case string, float64:
		default:
			if !p.lax {
				return op{}, &ConditionError{path, "argument must be a version string"}
			}
		}
		o.s = paddedVersion(arg)
	case opExists:
		o.b = truthy(arg)
	case opIn, opNin, opIni, opNini:
		l, ok := arg.([]any)
		if !ok {
			return p.bad(path, "argument must be an array")
		}
		o.list = l
		if code == opIn || code == opNin {
			o.strs = make([]string, 0, len(l))
			for _, e := range l {
				str, ok := e.(string)
				if !ok {
					o.strs = nil
					break
				}
				o.strs = append(o.strs, str)
			}
		}
	case opInGroup, opNotInGroup:
		s, ok := arg.(string)
		if !ok {
			return p.bad(path, "argument must be a saved group id (string)")
		}
		o.s = s
	case opNot, opSize:
		vc, err := p.value(arg, path)
		if err != nil {
			return op{}, err
		}
		o.vc = vc
	case opElemMatchValue:
		m, ok := arg.(map[string]any)
		if !ok {
			return p.bad(path, "argument must be an object")
		}
		if isOperatorObject(m) {
			vc, err := p.value(m, path)
			if err != nil {
				return op{}, err
			}
			o.vc = vc
		} else {
			c, err := p.cond(m, path)
			if err != nil {
				return op{}, err
			}
			o.code, o.cond = opElemMatchCond, c
		}
	case opAll, opAlli:
		l, ok := arg.([]any)
		if !ok {
			return p.bad(path, "argument must be an array")
		}
		o.list = l
		for i, e := range l {
			vc, err := p.value(e, fmt.Sprintf("%s[%d]", path, i))
			if err != nil {
				return op{}, err
			}
			o.vcs = append(o.vcs, vc)
		}
	case opRegex:
		s, ok := arg.(string)
		if !ok {
			return p.bad(path, "argument must be a regular expression string")
		}
		if len(s) > MaxRegexLen {
			return p.bad(path, fmt.Sprintf("regular expression longer than %d bytes", MaxRegexLen))
		}
		if name == "$regexi" {
			s = "(?i)" + s
		}
		re, err := compileRegex(s)
		if err != nil {
			return p.bad(path, err.Error())
		}
		o.re = re
	case opType:
		s, ok := arg.(string)
		if !ok {
			return p.bad(path, "argument must be a type name")
		}
		o.s = s
	}
	return o, nil
}

// MaxRegexLen caps the length in bytes of a $regex or $regexi pattern, and MaxRegexProg the
// number of instructions its compiled program may hold. Both are checked when a condition is
// defined, so a pattern such as "(a{1,1000}){1,1000}" that is short but expands to a huge
// program is refused before any assignment evaluates it.
const (
	MaxRegexLen  = 1024
	MaxRegexProg = 5000
)

// compileRegex compiles s after checking the size of its program.
func compileRegex(s string) (*regexp.Regexp, error) {
	re, err := syntax.Parse(s, syntax.Perl)
	if err != nil {
		return nil, fmt.Errorf("invalid regular expression: %w", err)
	}
	prog, err := syntax.Compile(re.Simplify())
	if err != nil {
		return nil, fmt.Errorf("invalid regular expression: %w", err)
	}
	if len(prog.Inst) > MaxRegexProg {
		return nil, fmt.Errorf("regular expression compiles to %d instructions, more than %d", len(prog.Inst), MaxRegexProg)
	}
	re2, err := regexp.Compile(s)
	if err != nil {
		return nil, fmt.Errorf("invalid regular expression: %w", err)
	}
	return re2, nil
}

// ---- evaluation ----

func (n *condNode) eval(obj any, g SavedGroups) bool {
	for i := range n.clauses {
		c := &n.clauses[i]
		switch c.kind {
		case clField:
			if !c.val.eval(getPath(obj, c.path), g) {
				return false
			}
		case clOr:
			if len(c.subs) == 0 {
				continue
			}
			ok := false
			for _, s := range c.subs {
				if s.eval(obj, g) {
					ok = true
					break
				}
			}
			if !ok {
				return false
			}
		case clNor:
			for _, s := range c.subs {
				if s.eval(obj, g) {
					return false
				}
			}
		case clAnd:
			for _, s := range c.subs {
				if !s.eval(obj, g) {
					return false
				}
			}
		case clNot:
			if c.subs[0].eval(obj, g) {
				return false
			}
		}
	}
	return true
}

func getPath(obj any, path []string) any {
	if len(path) == 1 {
		if m, ok := obj.(map[string]any); ok {
			return m[path[0]]
		}
	}
	cur := obj
	for _, part := range path {
		switch m := cur.(type) {
		case map[string]any:
			v, ok := m[part]
			if !ok {
				return nil
			}
			cur = v
		case Attributes:
			v, ok := m[part]
			if !ok {
				return nil
			}
			cur = v
		case []any:
			i, err := strconv.Atoi(part)
			if err != nil || i < 0 || i >= len(m) {
				return nil
			}
			cur = m[i]
		default:
			return nil
		}
	}
	return cur
}

func (vc *valueCond) eval(v any, g SavedGroups) bool {
	switch vc.kind {
	case vkString:
		if s, ok := v.(string); ok {
			return s == vc.s
		}
		var buf [64]byte
		return string(appendJSString(buf[:0], v)) == vc.s
	case vkNumber:
		return toNumber(v) == vc.f
	case vkBool:
		return v != nil && truthy(v) == vc.b
	case vkNull:
		return v == nil
	case vkDeep:
		return deepEqual(v, vc.lit)
	}
	for i := range vc.ops {
		if !vc.ops[i].eval(v, g) {
			return false
		}
	}
	return true
}

func (o *op) eval(v any, g SavedGroups) bool {
	switch o.code {
	case opFalse:
		return false
	case opEq:
		if sv, ok := v.(string); ok && o.isStr {
			return sv == o.s
		}
		return strictEqual(v, o.arg)
	case opNe:
		if sv, ok := v.(string); ok && o.isStr {
			return sv != o.s
		}
		return !strictEqual(v, o.arg)
	case opLt:
		c, ok := jsCompare(v, o.arg)
		return ok && c < 0
	case opLte:
		c, ok := jsCompare(v, o.arg)
		return ok && c <= 0
	case opGt:
		c, ok := jsCompare(v, o.arg)
		return ok && c > 0
	case opGte:
		c, ok := jsCompare(v, o.arg)
		return ok && c >= 0
	case opVeq:
		return paddedVersion(v) == o.s
	case opVne:
		return paddedVersion(v) != o.s
	case opVgt:
		return paddedVersion(v) > o.s
	case opVgte:
		return paddedVersion(v) >= o.s
	case opVlt:
		return paddedVersion(v) < o.s
	case opVlte:
		return paddedVersion(v) <= o.s
	case opExists:
		if o.b {
			return v != nil
		}
		return v == nil
	case opIn:
		if sv, ok := v.(string); ok && o.strs != nil {
			return containsString(o.strs, sv)
		}
		return isIn(v, o.list, false)
	case opNin:
		if sv, ok := v.(string); ok && o.strs != nil {
			return !containsString(o.strs, sv)
		}
		return !isIn(v, o.list, false)
	case opIni:
		return isIn(v, o.list, true)
	case opNini:
		return !isIn(v, o.list, true)
	case opInGroup:
		return isIn(v, g[o.s], false)
	case opNotInGroup:
		return !isIn(v, g[o.s], false)
	case opNot:
		return !o.vc.eval(v, g)
	case opSize:
		a, ok := v.([]any)
		if !ok {
			return false
		}
		return o.vc.eval(float64(len(a)), g)
	case opElemMatchValue, opElemMatchCond:
		a, ok := v.([]any)
		if !ok {
			return false
		}
		for _, e := range a {
			if !truthy(e) {
				continue
			}
			if o.code == opElemMatchValue {
				if o.vc.eval(e, g) {
					return true
				}
			} else if o.cond.eval(e, g) {
				return true
			}
		}
		return false
	case opAll, opAlli:
		a, ok := v.([]any)
		if !ok {
			return false
		}
		for i, vc := range o.vcs {
			found := false
			for _, e := range a {
				if o.code == opAlli {
					es, ok1 := e.(string)
					ws, ok2 := o.list[i].(string)
					if ok1 && ok2 {
						if strings.EqualFold(es, ws) {
							found = true
							break
						}
						continue
					}
				}
				if vc.eval(e, g) {
					found = true
					break
				}
			}
			if !found {
				return false
			}
		}
		return true
	case opRegex:
		if s, ok := v.(string); ok {
			return o.re.MatchString(s)
		}
		if v == nil {
			return false
		}
		var buf [64]byte
		return o.re.Match(appendJSString(buf[:0], v))
	case opType:
		return jsType(v) == o.s
	}
	return false
}

// ---- JavaScript value semantics ----

func numberOf(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case int32:
		return float64(x), true
	case uint:
		return float64(x), true
	case uint64:
		return float64(x), true
	case uint32:
		return float64(x), true
	case float32:
		return float64(x), true
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	}
	return 0, false
}

func truthy(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case bool:
		return x
	case string:
		return x != ""
	}
	if f, ok := numberOf(v); ok {
		return f != 0 && !math.IsNaN(f)
	}
	return true
}

// toNumber is JavaScript's Number(v).
func toNumber(v any) float64 {
	switch x := v.(type) {
	case nil:
		return 0
	case bool:
		if x {
			return 1
		}
		return 0
	case string:
		return stringToNumber(x)
	case []any:
		switch len(x) {
		case 0:
			return 0
		case 1:
			var buf [64]byte
			return stringToNumber(string(appendJSString(buf[:0], x[0])))
		}
		return math.NaN()
	}
	if f, ok := numberOf(v); ok {
		return f
	}
	return math.NaN()
}

func stringToNumber(s string) float64 {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0
	}
	switch s {
	case "Infinity", "+Infinity":
		return math.Inf(1)
	case "-Infinity":
		return math.Inf(-1)
	}
	if len(s) > 2 && s[0] == '0' && strings.ContainsAny(s[1:2], "xXoObB") {
		if i, err := strconv.ParseUint(s, 0, 64); err == nil {
			return float64(i)
		}
		return math.NaN()
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-') {
			return math.NaN()
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return math.NaN()
	}
	return f
}

// appendJSString appends JavaScript's String(v).
func appendJSString(dst []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(dst, "null"...)
	case string:
		return append(dst, x...)
	case bool:
		return strconv.AppendBool(dst, x)
	case []any:
		for i, e := range x {
			if i > 0 {
				dst = append(dst, ',')
			}
			if e != nil {
				dst = appendJSString(dst, e)
			}
		}
		return dst
	case map[string]any:
		return append(dst, "[object Object]"...)
	}
	if f, ok := numberOf(v); ok {
		return appendJSNumber(dst, f)
	}
	return append(dst, fmt.Sprint(v)...)
}

func appendJSNumber(dst []byte, f float64) []byte {
	switch {
	case math.IsNaN(f):
		return append(dst, "NaN"...)
	case math.IsInf(f, 1):
		return append(dst, "Infinity"...)
	case math.IsInf(f, -1):
		return append(dst, "-Infinity"...)
	case f == 0:
		return append(dst, '0')
	}
	a := math.Abs(f)
	if a >= 1e21 || a < 1e-6 {
		return strconv.AppendFloat(dst, f, 'g', -1, 64)
	}
	return strconv.AppendFloat(dst, f, 'f', -1, 64)
}

func strictEqual(a, b any) bool {
	switch x := a.(type) {
	case nil:
		return b == nil
	case string:
		y, ok := b.(string)
		return ok && x == y
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	case []any, map[string]any:
		return false
	}
	fa, ok1 := numberOf(a)
	fb, ok2 := numberOf(b)
	return ok1 && ok2 && fa == fb
}

func sameValueZero(a, b any) bool {
	if strictEqual(a, b) {
		return true
	}
	fa, ok1 := numberOf(a)
	fb, ok2 := numberOf(b)
	return ok1 && ok2 && math.IsNaN(fa) && math.IsNaN(fb)
}

func isIn(v any, list []any, fold bool) bool {
	if arr, ok := v.([]any); ok {
		for _, e := range arr {
			if contains(list, e, fold) {
				return true
			}
		}
		return false
	}
	return contains(list, v, fold)
}

func contains(list []any, v any, fold bool) bool {
	for _, e := range list {
		if fold {
			if s1, ok := v.(string); ok {
				if s2, ok := e.(string); ok && strings.EqualFold(s1, s2) {
					return true
				}
				continue
			}
		}
		if sameValueZero(v, e) {
			return true
		}
	}
	return false
}

// jsCompare compares like JavaScript's relational operators: two strings
// compare as strings, anything else as numbers; ok is false when either side
// is NaN (every comparison is then false).
func jsCompare(a, b any) (int, bool) {
	if sa, ok := a.(string); ok {
		if sb, ok := b.(string); ok {
			return strings.Compare(sa, sb), true
		}
	}
	fa, fb := toNumber(a), toNumber(b)
	if math.IsNaN(fa) || math.IsNaN(fb) {
		return 0, false
	}
	switch {
	case fa < fb:
		return -1, true
	case fa > fb:
		return 1, true
	}
	return 0, true
}

func jsType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case bool:
		return "boolean"
	case []any:
		return "array"
	case map[string]any, Attributes:
		return "object"
	}
	if _, ok := numberOf(v); ok {
		return "number"
	}
	return "unknown"
}

func deepEqual(a, b any) bool {
	switch x := a.(type) {
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !deepEqual(x[i], y[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok || !deepEqual(v, w) {
				return false
			}
		}
		return true
	}
	return strictEqual(a, b)
}

// paddedVersion is GrowthBook's paddedVersionString: strip a leading "v"
// and any "+build" suffix, split on "." and "-", append "~" to plain
// x.y.z versions, left-pad numeric parts with spaces to 5 and join with "-".
func paddedVersion(v any) string {
	var s string
	switch x := v.(type) {
	case string:
		s = x
	default:
		if f, ok := numberOf(v); ok {
			s = string(appendJSNumber(nil, f))
		}
	}
	if s == "" {
		s = "0"
	}
	s = strings.TrimPrefix(s, "v")
	if i := strings.IndexByte(s, '+'); i >= 0 {
		s = s[:i]
	}
	parts := splitVersion(s)
	if len(parts) == 3 {
		parts = append(parts, "~")
	}
	var b strings.Builder
	for i, p := range parts {
		if i > 0 {
			b.WriteByte('-')
		}
		if isDigits(p) && len(p) < 5 {
			b.WriteString("     "[:5-len(p)])
		}
		b.WriteString(p)
	}
	return b.String()
}

func splitVersion(s string) []string {
	var parts []string
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '.' || s[i] == '-' {
			parts = append(parts, s[start:i])
			start = i + 1
		}
	}
	return append(parts, s[start:])
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	// insertion sort: condition objects are small
	for i := 1; i < len(keys); i++ {
		for j := i; j > 0 && keys[j] < keys[j-1]; j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
		}
	}
	return keys
}

func containsString(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}
