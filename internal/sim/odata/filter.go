// Package odata is the OData v4 $filter subset both OData APIs of the
// simulator share (the Defender for Endpoint alerts API and Microsoft
// Graph's alerts_v2): a tokenizer and a recursive-descent
// parser for the expressions the documents use, compiled to a predicate
// over the filterable values K of an alert version. What differs between
// the APIs (the properties, the entity's name in messages, how enums
// compare, which DateTimeOffset literals are accepted) is a Schema.
//
// The grammar follows the OData ABNF and the Microsoft OData library (ODL)
// that ASP.NET OData services and Graph run on, with its precedence: "not"
// binds tighter than the comparisons, so "not status eq 'New'" is (not
// status) eq 'New', a type error in ODL, and must be written
// "not (status eq 'New')".
//
//	expr       := and ('or' and)*
//	and        := comparison ('and' comparison)*
//	comparison := unary (op unary)*      op: eq ne gt ge lt le
//	unary      := 'not' unary | primary
//	primary    := '(' expr ')' | property | literal
//
// Messages use ODL's wording (Microsoft.OData.Core resources: "Syntax error
// at position {0} in '{1}'.", "Unrecognized '{0}' literal '{1}' at '{2}' in
// '{3}'.", "A binary operator with incompatible types was detected. Found
// operand types '{0}' and '{1}' for operator kind '{2}'.", ...). Positions
// are 0-based offsets in UTF-16 code units, as .NET counts them.
//
// Choices common to both APIs, where Microsoft is silent (each the stricter
// plausible answer):
//   - keywords and operators only in lower case (ODL);
//   - string comparisons are ordinal and case-sensitive;
//   - functions (startswith, contains, any, ...), "in", "has", arithmetic
//     and comparisons between two properties are refused;
//   - a comparison with null is allowed for every property and operator, as
//     in ODL; gt/ge/lt/le against null, or of a null value, is false.
package odata

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// Kind is the Edm type of a filterable property.
type Kind int

const (
	KindDateTime Kind = iota
	KindLong
	KindString
	KindEnum
)

// Prop is a filterable property of an entity whose filterable values
// are a K. Exactly one accessor, the one of its kind, is set; it returns nil
// for a null value.
type Prop[K any] struct {
	Name    string // as the entity spells it
	Kind    Kind
	Edm     string   // Edm type name for messages
	Members []string // enum members in the order of their numeric values (KindEnum)
	// Sentinel is the position of unknownFutureValue in Members for an
	// evolvable enum, -1 otherwise.
	Sentinel int
	Time     func(*K) *time.Time // KindDateTime
	Long     func(*K) *int64     // KindLong
	Str      func(*K) *string    // KindString, and KindEnum (the member's name)
}

// position is the position of an enum member, -1 when v is not one.
func (p *Prop[K]) position(v string, fold bool) int {
	for i, m := range p.Members {
		if m == v || fold && strings.EqualFold(m, v) {
			return i
		}
	}
	return -1
}

// Schema is what an API's $filter understands.
type Schema[K any] struct {
	Entity string              // the entity type's name in messages
	Props  map[string]*Prop[K] // by name, lower-cased when FoldNames
	// FoldNames matches property names case-insensitively.
	FoldNames bool
	// OrderedEnums allows gt, ge, lt and le on enums, comparing the members'
	// numeric values (their positions), with the evolvable-enum rules for
	// unknownFutureValue; otherwise enums take eq and ne only.
	OrderedEnums bool
	// FoldEnums matches enum literals with members case-insensitively.
	FoldEnums bool
	// DateOnly accepts YYYY-MM-DD[Z] as a DateTimeOffset (midnight UTC).
	DateOnly bool
	// Unfilterable are properties of the entity that exist but cannot be
	// filtered on; naming one gets its own message.
	Unfilterable []string
	// UnfilterableHint ends the message for an unfilterable property.
	UnfilterableHint string
}

// Options are a request's settings that change what a $filter means.
type Options struct {
	// IncludeUnknownEnums is Graph's "Prefer: include-unknown-enum-members":
	// members after unknownFutureValue may be named, and unknownFutureValue
	// then stands for itself only.
	IncludeUnknownEnums bool
}

// filterError is a $filter the API refuses; the message is ODL's.
type filterError struct{ msg string }

func (e *filterError) Error() string { return e.msg }

// compareOp is a comparison operator, with ODL's BinaryOperatorKind name.
type compareOp int

const (
	opEq compareOp = iota
	opNe
	opGt
	opGe
	opLt
	opLe
)

var compareOps = map[string]compareOp{"eq": opEq, "ne": opNe, "gt": opGt, "ge": opGe, "lt": opLt, "le": opLe}

func (o compareOp) kind() string {
	return [...]string{"Equal", "NotEqual", "GreaterThan", "GreaterThanOrEqual", "LessThan", "LessThanOrEqual"}[o]
}

// mirror is the operator with its operands swapped (5 lt x == x gt 5).
func (o compareOp) mirror() compareOp {
	return [...]compareOp{opEq, opNe, opLt, opLe, opGt, opGe}[o]
}

// holds says whether a comparison whose three-way result is c satisfies o.
func (o compareOp) holds(c int) bool {
	switch o {
	case opEq:
		return c == 0
	case opNe:
		return c != 0
	case opGt:
		return c > 0
	case opGe:
		return c >= 0
	case opLt:
		return c < 0
	default:
		return c <= 0
	}
}

// Tokens.

type tokKind int

const (
	tokEnd tokKind = iota
	tokLParen
	tokRParen
	tokComma
	tokIdent  // a name: keyword, operator, property, null/true/false
	tokString // '...' with '' unescaped in val
	tokWord   // an unquoted literal starting with a digit or '-': number or date/time
)

type token struct {
	kind tokKind
	text string // as written
	val  string // string literal value
	pos  int    // byte offset
}

type filterParser[K any] struct {
	src    string
	toks   []token
	i      int
	schema *Schema[K]
	opts   Options
}

// Parse parses a $filter value into a predicate over K. A value the API
// refuses is an error whose message is the one ODL would write.
func Parse[K any](src string, schema *Schema[K], opts Options) (func(*K) bool, error) {
	p := &filterParser[K]{src: src, schema: schema, opts: opts}
	if err := p.lex(); err != nil {
		return nil, err
	}
	n, err := p.parseOr()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tokEnd {
		return nil, p.errSyntax(t.pos)
	}
	if n.typ != typeBool {
		return nil, &filterError{"The $filter expression must evaluate to a single boolean value."}
	}
	return n.eval, nil
}

// pos16 converts a byte offset of src to .NET's UTF-16 index.
func (p *filterParser[K]) pos16(pos int) int {
	n := 0
	for _, r := range p.src[:pos] {
		n += utf16.RuneLen(r)
	}
	return n
}

func (p *filterParser[K]) errSyntax(pos int) error {
	return &filterError{fmt.Sprintf("Syntax error at position %d in '%s'.", p.pos16(pos), p.src)}
}

// isSpace is OData's BWS: space and horizontal tab (the URL decoder has
// already turned '+' and %20 into spaces).
func isSpace(c byte) bool { return c == ' ' || c == '\t' }

func isIdentStart(r rune) bool { return r == '_' || unicode.IsLetter(r) }
func isIdentPart(r rune) bool {
	return r == '_' || r == '.' || r == '/' || unicode.IsLetter(r) || unicode.IsDigit(r)
}

// isWordPart: the characters of an unquoted literal (numbers, dates, times
// with their offsets).
func isWordPart(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '.' || c == ':' || c == '-' || c == '+'
}

func (p *filterParser[K]) lex() error {
	s := p.src
	i := 0
	for {
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		if i == len(s) {
			p.toks = append(p.toks, token{kind: tokEnd, pos: i})
			return nil
		}
		start := i
		c := s[i]
		switch {
		case c == '(':
			p.toks = append(p.toks, token{kind: tokLParen, text: "(", pos: i})
			i++
		case c == ')':
			p.toks = append(p.toks, token{kind: tokRParen, text: ")", pos: i})
			i++
		case c == ',':
			p.toks = append(p.toks, token{kind: tokComma, text: ",", pos: i})
			i++
		case c == '\'':
			var val strings.Builder
			i++
			for {
				if i == len(s) {
					return &filterError{fmt.Sprintf("There is an unterminated string literal at position %d in '%s'.", p.pos16(i), s)}
				}
				if s[i] == '\'' {
					if i+1 < len(s) && s[i+1] == '\'' {
						val.WriteByte('\'')
						i += 2
						continue
					}
					i++
					break
				}
				val.WriteByte(s[i])
				i++
			}
			p.toks = append(p.toks, token{kind: tokString, text: s[start:i], val: val.String(), pos: start})
		case c >= '0' && c <= '9' || c == '-' && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9':
			i++
			for i < len(s) && isWordPart(s[i]) {
				i++
			}
			p.toks = append(p.toks, token{kind: tokWord, text: s[start:i], pos: start})
		default:
			r, size := utf8.DecodeRuneInString(s[i:])
			if !isIdentStart(r) {
				return &filterError{fmt.Sprintf("Syntax error: character '%c' is not valid at position %d in '%s'.", r, p.pos16(i), s)}
			}
			i += size
			for i < len(s) {
				r, size := utf8.DecodeRuneInString(s[i:])
				if !isIdentPart(r) {
					break
				}
				i += size
			}
			if i < len(s) && s[i] == '\'' {
				// A typed literal: duration'P1D', binary'..', Namespace.Enum'Member'.
				return &filterError{fmt.Sprintf("Unrecognized literal '%s' at position %d in '%s': typed literals are not supported by this API; write enums and strings as plain quoted strings.", s[start:i], p.pos16(start), s)}
			}
			p.toks = append(p.toks, token{kind: tokIdent, text: s[start:i], pos: start})
		}
	}
}

func (p *filterParser[K]) peek() token { return p.toks[p.i] }
func (p *filterParser[K]) next() token {
	t := p.toks[p.i]
	if t.kind != tokEnd {
		p.i++
	}
	return t
}

// isKeyword: keywords are lower case only, as ODL requires.
func (t token) isKeyword(k string) bool { return t.kind == tokIdent && t.text == k }

// Nodes.

type nodeType int

const (
	typeBool nodeType = iota + 1
	typeProperty
	typeLiteral
)

// literalValue is a parsed literal.
type literalValue struct {
	edm    string // Edm type name: Edm.String, Edm.Int32, Edm.Int64, Edm.Decimal, Edm.Double, Edm.DateTimeOffset, Edm.Boolean, "" for null
	isNull bool
	str    string
	num    int64
	time   time.Time
}

type node[K any] struct {
	typ  nodeType
	pos  int
	eval func(*K) bool // typeBool
	prop *Prop[K]      // typeProperty
	lit  literalValue  // typeLiteral
	text string        // as written, for messages
}

func (n *node[K]) edm() string {
	switch n.typ {
	case typeBool:
		return "Edm.Boolean"
	case typeProperty:
		return n.prop.Edm
	}
	return n.lit.edm
}

func (p *filterParser[K]) parseOr() (*node[K], error) {
	left, err := p.parseAnd()
	if err != nil {
		return nil, err
	}
	for p.peek().isKeyword("or") {
		p.next()
		right, err := p.parseAnd()
		if err != nil {
			return nil, err
		}
		if err := checkLogical(left, right, "Or"); err != nil {
			return nil, err
		}
		l, r := left.eval, right.eval
		left = &node[K]{typ: typeBool, pos: left.pos, eval: func(k *K) bool { return l(k) || r(k) }}
	}
	return left, nil
}

func (p *filterParser[K]) parseAnd() (*node[K], error) {
	left, err := p.parseComparison()
	if err != nil {
		return nil, err
	}
	for p.peek().isKeyword("and") {
		p.next()
		right, err := p.parseComparison()
		if err != nil {
			return nil, err
		}
		if err := checkLogical(left, right, "And"); err != nil {
			return nil, err
		}
		l, r := left.eval, right.eval
		left = &node[K]{typ: typeBool, pos: left.pos, eval: func(k *K) bool { return l(k) && r(k) }}
	}
	return left, nil
}

func checkLogical[K any](left, right *node[K], kind string) error {
	if left.typ == typeBool && right.typ == typeBool {
		return nil
	}
	return &filterError{fmt.Sprintf("A binary operator with incompatible types was detected. Found operand types '%s' and '%s' for operator kind '%s'.", left.edm(), right.edm(), kind)}
}

func (p *filterParser[K]) parseComparison() (*node[K], error) {
	left, err := p.parseUnary()
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		op, ok := compareOps[t.text]
		if t.kind != tokIdent || !ok {
			return left, nil
		}
		p.next()
		right, err := p.parseUnary()
		if err != nil {
			return nil, err
		}
		if left, err = p.compare(left, op, right); err != nil {
			return nil, err
		}
	}
}

func (p *filterParser[K]) parseUnary() (*node[K], error) {
	t := p.peek()
	if t.isKeyword("not") {
		p.next()
		operand, err := p.parseUnary()
		if err != nil {
			return nil, err
		}
		if operand.typ != typeBool {
			return nil, &filterError{fmt.Sprintf("A unary operator with an incompatible type was detected. Found operand type '%s' for operator kind 'Not'.", operand.edm())}
		}
		e := operand.eval
		return &node[K]{typ: typeBool, pos: t.pos, eval: func(k *K) bool { return !e(k) }}, nil
	}
	return p.parsePrimary()
}

func (p *filterParser[K]) parsePrimary() (*node[K], error) {
	t := p.next()
	switch t.kind {
	case tokEnd:
		return nil, &filterError{fmt.Sprintf("Expression expected at position %d in '%s'.", p.pos16(t.pos), p.src)}
	case tokLParen:
		n, err := p.parseOr()
		if err != nil {
			return nil, err
		}
		if c := p.next(); c.kind != tokRParen {
			return nil, &filterError{fmt.Sprintf("')' or operator expected at position %d in '%s'.", p.pos16(c.pos), p.src)}
		}
		return n, nil
	case tokString:
		return &node[K]{typ: typeLiteral, pos: t.pos, text: t.text, lit: literalValue{edm: "Edm.String", str: t.val}}, nil
	case tokWord:
		lit, err := p.parseWord(t)
		if err != nil {
			return nil, err
		}
		return &node[K]{typ: typeLiteral, pos: t.pos, text: t.text, lit: lit}, nil
	case tokIdent:
		switch t.text {
		case "null":
			return &node[K]{typ: typeLiteral, pos: t.pos, text: t.text, lit: literalValue{isNull: true}}, nil
		case "true", "false":
			b := t.text == "true"
			return &node[K]{typ: typeBool, pos: t.pos, text: t.text, eval: func(*K) bool { return b }}, nil
		case "and", "or", "not", "eq", "ne", "gt", "ge", "lt", "le", "has", "in", "add", "sub", "mul", "div", "mod":
			return nil, &filterError{fmt.Sprintf("Expression expected at position %d in '%s'.", p.pos16(t.pos), p.src)}
		}
		if p.peek().kind == tokLParen {
			return nil, &filterError{fmt.Sprintf("An unknown function with name '%s' was found. This API supports no functions in $filter on alerts (position %d in '%s').", t.text, p.pos16(t.pos), p.src)}
		}
		return p.property(t)
	}
	return nil, p.errSyntax(t.pos)
}

// property resolves a name to a filterable property.
func (p *filterParser[K]) property(t token) (*node[K], error) {
	key := t.text
	if p.schema.FoldNames {
		key = strings.ToLower(key)
	}
	if prop, ok := p.schema.Props[key]; ok {
		return &node[K]{typ: typeProperty, pos: t.pos, text: t.text, prop: prop}, nil
	}
	for _, name := range p.schema.Unfilterable {
		if name == t.text || p.schema.FoldNames && strings.EqualFold(name, t.text) {
			return nil, &filterError{fmt.Sprintf("The property '%s' of type '%s' cannot be used in $filter%s", t.text, p.schema.Entity, p.schema.UnfilterableHint)}
		}
	}
	return nil, &filterError{fmt.Sprintf("Could not find a property named '%s' on type '%s'.", t.text, p.schema.Entity)}
}

// parseWord classifies an unquoted literal: a date/time when it starts like
// a date (YYYY-MM-DD), else a number.
func (p *filterParser[K]) parseWord(t token) (literalValue, error) {
	w := t.text
	if looksLikeDate(w) {
		tm, ok := parseODataDateTimeOffset(w, p.schema.DateOnly)
		if !ok {
			return literalValue{}, &filterError{fmt.Sprintf("Unrecognized 'Edm.DateTimeOffset' literal '%s' at '%d' in '%s'.", w, p.pos16(t.pos), p.src)}
		}
		return literalValue{edm: "Edm.DateTimeOffset", time: tm}, nil
	}
	digits := strings.TrimPrefix(w, "-")
	switch {
	case digits != "" && strings.Trim(digits, "0123456789") == "":
		n, err := strconv.ParseInt(w, 10, 64)
		if err != nil {
			return literalValue{edm: "Edm.Decimal"}, nil // too large for Int64: ODL reads it as a decimal
		}
		if n >= -1<<31 && n < 1<<31 {
			return literalValue{edm: "Edm.Int32", num: n}, nil
		}
		return literalValue{edm: "Edm.Int64", num: n}, nil
	case isDecimal(digits):
		return literalValue{edm: "Edm.Decimal"}, nil
	}
	if _, err := strconv.ParseFloat(w, 64); err == nil && strings.ContainsAny(w, "eE") {
		return literalValue{edm: "Edm.Double"}, nil
	}
	return literalValue{}, p.errSyntax(t.pos)
}

func isDecimal(s string) bool {
	i := strings.IndexByte(s, '.')
	if i <= 0 || i == len(s)-1 {
		return false
	}
	return strings.Trim(s[:i], "0123456789") == "" && strings.Trim(s[i+1:], "0123456789") == ""
}

func looksLikeDate(w string) bool {
	if len(w) < 10 {
		return false
	}
	for i := 0; i < 10; i++ {
		switch i {
		case 4, 7:
			if w[i] != '-' {
				return false
			}
		default:
			if w[i] < '0' || w[i] > '9' {
				return false
			}
		}
	}
	return true
}

// parseODataDateTimeOffset reads a DateTimeOffset literal:
// YYYY-MM-DDThh:mm[:ss[.f{1,7}]] followed by Z or a ±hh:mm offset, and,
// when dateOnly, YYYY-MM-DD and YYYY-MM-DDZ (midnight UTC). A time without
// an offset is refused, as is an offset sent unencoded ('+' decodes to a
// space, which splits the literal). Values are exact to the 100 ns tick.
func parseODataDateTimeOffset(s string, dateOnly bool) (time.Time, bool) {
	num := func(s string) (int, bool) {
		n := 0
		for i := 0; i < len(s); i++ {
			if s[i] < '0' || s[i] > '9' {
				return 0, false
			}
			n = n*10 + int(s[i]-'0')
		}
		return n, len(s) > 0
	}
	year, _ := num(s[0:4])
	month, _ := num(s[5:7])
	day, _ := num(s[8:10])
	if year < 1 || month < 1 || month > 12 || day < 1 || day > daysIn(year, month) {
		return time.Time{}, false
	}
	rest := s[10:]
	var hour, minute, sec, nanos int
	if rest == "" || rest == "Z" {
		if !dateOnly {
			return time.Time{}, false
		}
		return time.Date(year, time.Month(month), day, 0, 0, 0, 0, time.UTC), true
	}
	if rest[0] != 'T' || len(rest) < 6 || rest[3] != ':' {
		return time.Time{}, false
	}
	var ok bool
	if hour, ok = num(rest[1:3]); !ok || hour > 23 {
		return time.Time{}, false
	}
	if minute, ok = num(rest[4:6]); !ok || minute > 59 {
		return time.Time{}, false
	}
	rest = rest[6:]
	if strings.HasPrefix(rest, ":") {
		if len(rest) < 3 {
			return time.Time{}, false
		}
		if sec, ok = num(rest[1:3]); !ok || sec > 59 {
			return time.Time{}, false
		}
		rest = rest[3:]
		if strings.HasPrefix(rest, ".") {
			j := 1
			for j < len(rest) && rest[j] >= '0' && rest[j] <= '9' {
				j++
			}
			frac := rest[1:j]
			if len(frac) < 1 || len(frac) > 7 {
				return time.Time{}, false
			}
			f, _ := num(frac)
			for k := len(frac); k < 9; k++ {
				f *= 10
			}
			nanos = f
			rest = rest[j:]
		}
	}
	var offset int
	switch {
	case rest == "Z":
	case len(rest) == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':':
		oh, ok1 := num(rest[1:3])
		om, ok2 := num(rest[4:6])
		if !ok1 || !ok2 || om > 59 || oh > 14 || oh == 14 && om != 0 {
			return time.Time{}, false
		}
		offset = oh*3600 + om*60
		if rest[0] == '-' {
			offset = -offset
		}
	default:
		return time.Time{}, false
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, nanos, time.FixedZone("", offset)).UTC()
	if t.Year() < 1 || t.Year() > 9999 {
		return time.Time{}, false
	}
	return t, true
}

func daysIn(year, month int) int {
	return time.Date(year, time.Month(month)+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// compare type-checks a comparison and compiles it.
func (p *filterParser[K]) compare(left *node[K], op compareOp, right *node[K]) (*node[K], error) {
	incompatible := func() error {
		le, re := left.edm(), right.edm()
		if left.typ == typeLiteral && left.lit.isNull {
			le = "<null>"
		}
		if right.typ == typeLiteral && right.lit.isNull {
			re = "<null>"
		}
		return &filterError{fmt.Sprintf("A binary operator with incompatible types was detected. Found operand types '%s' and '%s' for operator kind '%s'.", le, re, op.kind())}
	}
	prop, lit := left, right
	switch {
	case left.typ == typeProperty && right.typ == typeLiteral:
	case left.typ == typeLiteral && right.typ == typeProperty:
		prop, lit, op = right, left, op.mirror()
	case left.typ == typeProperty && right.typ == typeProperty:
		return nil, &filterError{fmt.Sprintf("Comparing two properties ('%s' and '%s') is not supported in $filter on alerts; compare a property with a literal.", left.text, right.text)}
	case left.typ == typeBool || right.typ == typeBool:
		if left.typ == typeBool && right.typ == typeBool && (op == opEq || op == opNe) {
			l, r := left.eval, right.eval
			eq := op == opEq
			return &node[K]{typ: typeBool, pos: left.pos, eval: func(k *K) bool { return (l(k) == r(k)) == eq }}, nil
		}
		return nil, incompatible()
	default:
		return nil, &filterError{fmt.Sprintf("A comparison in $filter on alerts must involve a property of %s (position %d in '%s').", p.schema.Entity, p.pos16(left.pos), p.src)}
	}
	pr, lv := prop.prop, lit.lit

	if lv.isNull {
		isNull := pr.isNull
		return &node[K]{typ: typeBool, pos: left.pos, eval: func(k *K) bool {
			switch op {
			case opEq:
				return isNull(k)
			case opNe:
				return !isNull(k)
			}
			return false
		}}, nil
	}

	switch pr.Kind {
	case KindDateTime:
		if lv.edm != "Edm.DateTimeOffset" {
			return nil, incompatible()
		}
		want, get := lv.time, pr.Time
		return &node[K]{typ: typeBool, pos: left.pos, eval: func(k *K) bool {
			v := get(k)
			if v == nil {
				return op == opNe
			}
			return op.holds(v.Compare(want))
		}}, nil
	case KindLong:
		if lv.edm != "Edm.Int32" && lv.edm != "Edm.Int64" {
			return nil, incompatible()
		}
		want, get := lv.num, pr.Long
		return &node[K]{typ: typeBool, pos: left.pos, eval: func(k *K) bool {
			v := get(k)
			if v == nil {
				return op == opNe
			}
			switch {
			case *v < want:
				return op.holds(-1)
			case *v > want:
				return op.holds(1)
			}
			return op.holds(0)
		}}, nil
	case KindString:
		if lv.edm != "Edm.String" {
			return nil, incompatible()
		}
		want, get := lv.str, pr.Str
		return &node[K]{typ: typeBool, pos: left.pos, eval: func(k *K) bool {
			v := get(k)
			if v == nil {
				return op == opNe
			}
			return op.holds(strings.Compare(*v, want))
		}}, nil
	default: // kindEnum
		if lv.edm != "Edm.String" {
			return nil, incompatible()
		}
		return p.compareEnum(left.pos, pr, op, lv.str)
	}
}

// compareEnum compiles a comparison of an enum property with a member.
//
// With orderedEnums, members compare by their numeric values and evolvable
// enums follow Microsoft Graph's rules (microsoft/api-guidelines
// graph/patterns/evolvable-enums.md, "Filter Behavior"): without
// includeUnknownEnums, naming a member after unknownFutureValue is a 400,
// and "eq unknownFutureValue" matches every member after it (the value the
// client is shown); with it, unknownFutureValue stands for itself, which no
// alert has.
func (p *filterParser[K]) compareEnum(pos int, pr *Prop[K], op compareOp, literal string) (*node[K], error) {
	want := pr.position(literal, p.schema.FoldEnums)
	if want < 0 {
		return nil, &filterError{fmt.Sprintf("The string '%s' is not a valid enumeration type constant.", literal)}
	}
	get := pr.Str
	if !p.schema.OrderedEnums {
		if op != opEq && op != opNe {
			return nil, &filterError{fmt.Sprintf("The operator '%s' is not supported for the enumeration property '%s'; use eq or ne.", op.kind(), pr.Name)}
		}
		member := pr.Members[want]
		return &node[K]{typ: typeBool, pos: pos, eval: func(k *K) bool {
			v := get(k)
			match := v != nil && strings.EqualFold(*v, member)
			return match == (op == opEq)
		}}, nil
	}
	sentinel := pr.Sentinel
	hidden := sentinel >= 0 && !p.opts.IncludeUnknownEnums
	if hidden && want > sentinel {
		return nil, &filterError{fmt.Sprintf("The enumeration member '%s' of '%s' comes after 'unknownFutureValue': it can be used only with the request header 'Prefer: include-unknown-enum-members'.", pr.Members[want], pr.Edm)}
	}
	fold := p.schema.FoldEnums
	return &node[K]{typ: typeBool, pos: pos, eval: func(k *K) bool {
		v := get(k)
		if v == nil {
			return op == opNe
		}
		have := pr.position(*v, fold)
		if hidden && want == sentinel {
			// The client sees every member after the sentinel as the
			// sentinel itself.
			switch op {
			case opEq:
				return have >= sentinel
			case opNe:
				return have < sentinel
			}
		}
		switch {
		case have < want:
			return op.holds(-1)
		case have > want:
			return op.holds(1)
		}
		return op.holds(0)
	}}, nil
}

// isNull says whether the property's value is null.
func (pr *Prop[K]) isNull(k *K) bool {
	switch pr.Kind {
	case KindDateTime:
		return pr.Time(k) == nil
	case KindLong:
		return pr.Long(k) == nil
	}
	return pr.Str(k) == nil
}
