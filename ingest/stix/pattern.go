package stix

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/cidcc/cop/internal/event"
)

// comparison is one comparison expression of a STIX pattern: object:path op value(s).
type comparison struct {
	Object  string   // SCO type, e.g. "ipv4-addr"
	Path    string   // property path with quotes removed, e.g. "hashes.SHA-256", "to_refs[*].value"
	Op      string   // "=", "!=", "<", "<=", ">", ">=", "IN", "LIKE", "MATCHES", "ISSUBSET", "ISSUPERSET", "EXISTS"
	Negated bool     // NOT before the operator
	Values  []string // string literals unquoted; numbers and booleans as written
}

// maxPatternDepth bounds parenthesis nesting, so a hostile pattern cannot grow the stack.
const maxPatternDepth = 64

// parsePattern parses the STIX 2.1 patterning language (observation expressions joined by
// AND, OR, FOLLOWEDBY; qualifiers WITHIN, REPEATS, START/STOP) and returns every comparison
// expression in it, in order. The boolean structure is not kept: for correlation every
// value the pattern names is of interest, whichever branch it sits on.
func parsePattern(s string) ([]comparison, error) {
	p := patternParser{s: s}
	p.space()
	if err := p.observationExpressions(); err != nil {
		return nil, err
	}
	p.space()
	if p.pos != len(p.s) {
		return nil, p.errorf("unexpected %q after the pattern", p.rest(12))
	}
	return p.cmps, nil
}

type patternParser struct {
	s     string
	pos   int
	depth int
	cmps  []comparison
}

func (p *patternParser) errorf(format string, args ...any) error {
	return fmt.Errorf("offset %d: %s", p.pos, fmt.Sprintf(format, args...))
}

func (p *patternParser) rest(n int) string {
	r := p.s[p.pos:]
	if len(r) > n {
		r = r[:n]
	}
	return r
}

func (p *patternParser) space() {
	for p.pos < len(p.s) {
		switch p.s[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

// peekByte skips white space and returns the next byte, or 0 at the end.
func (p *patternParser) peekByte() byte {
	p.space()
	if p.pos < len(p.s) {
		return p.s[p.pos]
	}
	return 0
}

func (p *patternParser) expect(c byte) error {
	if p.peekByte() != c {
		if p.pos >= len(p.s) {
			return p.errorf("expected %q, found the end of the pattern", c)
		}
		return p.errorf("expected %q, found %q", c, p.rest(12))
	}
	p.pos++
	return nil
}

func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

// keyword consumes kw (case-insensitively, as a whole word) if it comes next.
func (p *patternParser) keyword(kw string) bool {
	p.space()
	end := p.pos + len(kw)
	if end > len(p.s) || !strings.EqualFold(p.s[p.pos:end], kw) {
		return false
	}
	if end < len(p.s) && isWordByte(p.s[end]) {
		return false
	}
	p.pos = end
	return true
}

func (p *patternParser) enter() error {
	p.depth++
	if p.depth > maxPatternDepth {
		return p.errorf("nested deeper than %d", maxPatternDepth)
	}
	return nil
}

// observationExpressions := or (FOLLOWEDBY or)*
func (p *patternParser) observationExpressions() error {
	for {
		if err := p.observationOr(); err != nil {
			return err
		}
		if !p.keyword("FOLLOWEDBY") {
			return nil
		}
	}
}

// observationOr := and (OR and)*
func (p *patternParser) observationOr() error {
	for {
		if err := p.observationAnd(); err != nil {
			return err
		}
		if !p.keyword("OR") {
			return nil
		}
	}
}

// observationAnd := observation (AND observation)*
func (p *patternParser) observationAnd() error {
	for {
		if err := p.observation(); err != nil {
			return err
		}
		if !p.keyword("AND") {
			return nil
		}
	}
}

// observation := '[' comparisonOr ']' qualifier* | '(' observationExpressions ')' qualifier*
func (p *patternParser) observation() error {
	if err := p.enter(); err != nil {
		return err
	}
	defer func() { p.depth-- }()
	switch p.peekByte() {
	case '[':
		p.pos++
		if err := p.comparisonOr(); err != nil {
			return err
		}
		if err := p.expect(']'); err != nil {
			return err
		}
	case '(':
		p.pos++
		if err := p.observationExpressions(); err != nil {
			return err
		}
		if err := p.expect(')'); err != nil {
			return err
		}
	default:
		if p.pos >= len(p.s) {
			return p.errorf("expected '[' or '(', found the end of the pattern")
		}
		return p.errorf("expected '[' or '(', found %q", p.rest(12))
	}
	return p.qualifiers()
}

// qualifiers are tolerated and ignored: they narrow when a pattern matches, not what it names.
func (p *patternParser) qualifiers() error {
	for {
		switch {
		case p.keyword("WITHIN"):
			if _, err := p.number(); err != nil {
				return err
			}
			if !p.keyword("SECONDS") {
				return p.errorf("expected SECONDS after WITHIN n")
			}
		case p.keyword("REPEATS"):
			if _, err := p.number(); err != nil {
				return err
			}
			if !p.keyword("TIMES") {
				return p.errorf("expected TIMES after REPEATS n")
			}
		case p.keyword("START"):
			if err := p.timestamp(); err != nil {
				return err
			}
			if !p.keyword("STOP") {
				return p.errorf("expected STOP after START t'...'")
			}
			if err := p.timestamp(); err != nil {
				return err
			}
		default:
			return nil
		}
	}
}

func (p *patternParser) timestamp() error {
	if p.peekByte() != 't' || p.pos+1 >= len(p.s) || p.s[p.pos+1] != '\'' {
		return p.errorf("expected a timestamp t'...'")
	}
	p.pos++
	_, err := p.quoted()
	return err
}

// comparisonOr := comparisonAnd (OR comparisonAnd)*
func (p *patternParser) comparisonOr() error {
	for {
		if err := p.comparisonAnd(); err != nil {
			return err
		}
		if !p.keyword("OR") {
			return nil
		}
	}
}

// comparisonAnd := test (AND test)*
func (p *patternParser) comparisonAnd() error {
	for {
		if err := p.test(); err != nil {
			return err
		}
		if !p.keyword("AND") {
			return nil
		}
	}
}

// test := '(' comparisonOr ')' | [NOT] EXISTS path | path [NOT] operator operand
func (p *patternParser) test() error {
	if p.peekByte() == '(' {
		if err := p.enter(); err != nil {
			return err
		}
		p.pos++
		if err := p.comparisonOr(); err != nil {
			return err
		}
		p.depth--
		return p.expect(')')
	}
	negated := p.keyword("NOT")
	if p.keyword("EXISTS") {
		obj, path, err := p.objectPath()
		if err != nil {
			return err
		}
		p.cmps = append(p.cmps, comparison{Object: obj, Path: path, Op: "EXISTS", Negated: negated})
		return nil
	}
	if negated {
		return p.errorf("expected EXISTS after NOT")
	}
	obj, path, err := p.objectPath()
	if err != nil {
		return err
	}
	c := comparison{Object: obj, Path: path, Negated: p.keyword("NOT")}
	p.space()
	switch {
	case strings.HasPrefix(p.s[p.pos:], "!="), strings.HasPrefix(p.s[p.pos:], "<>"),
		strings.HasPrefix(p.s[p.pos:], "<="), strings.HasPrefix(p.s[p.pos:], ">="):
		c.Op = p.s[p.pos : p.pos+2]
		p.pos += 2
	case strings.HasPrefix(p.s[p.pos:], "="), strings.HasPrefix(p.s[p.pos:], "<"), strings.HasPrefix(p.s[p.pos:], ">"):
		c.Op = p.s[p.pos : p.pos+1]
		p.pos++
	default:
		for _, op := range [...]string{"IN", "LIKE", "MATCHES", "ISSUBSET", "ISSUPERSET"} {
			if p.keyword(op) {
				c.Op = op
				break
			}
		}
		if c.Op == "" {
			return p.errorf("expected a comparison operator (=, !=, <, >, IN, LIKE, MATCHES, ...) after %s", event.Clip(obj+":"+path))
		}
	}
	if c.Op == "IN" {
		if err := p.expect('('); err != nil {
			return err
		}
		for {
			v, err := p.literal()
			if err != nil {
				return err
			}
			c.Values = append(c.Values, v)
			if p.peekByte() != ',' {
				break
			}
			p.pos++
		}
		if err := p.expect(')'); err != nil {
			return err
		}
	} else {
		v, err := p.literal()
		if err != nil {
			return err
		}
		c.Values = []string{v}
	}
	p.cmps = append(p.cmps, c)
	return nil
}

// objectPath := type ':' component ('.' component | '[' (int | '*') ']')*
func (p *patternParser) objectPath() (obj, path string, err error) {
	p.space()
	start := p.pos
	for p.pos < len(p.s) && isWordByte(p.s[p.pos]) {
		p.pos++
	}
	if p.pos == start {
		return "", "", p.errorf("expected an object path such as ipv4-addr:value, found %q", p.rest(12))
	}
	obj = strings.ToLower(p.s[start:p.pos])
	if p.pos >= len(p.s) || p.s[p.pos] != ':' {
		return "", "", p.errorf("expected ':' after object type %s", event.Quote(obj))
	}
	p.pos++
	var b strings.Builder
	first := true
	for {
		if !first {
			if p.pos >= len(p.s) {
				break
			}
			switch p.s[p.pos] {
			case '.':
				p.pos++
				b.WriteByte('.')
			case '[':
				end := strings.IndexByte(p.s[p.pos:], ']')
				if end < 0 {
					return "", "", p.errorf("unclosed '[' in object path")
				}
				idx := p.s[p.pos+1 : p.pos+end]
				if idx != "*" {
					if _, err := strconv.Atoi(idx); err != nil {
						return "", "", p.errorf("list index %s: want a number or *", event.Quote(idx))
					}
				}
				b.WriteString(p.s[p.pos : p.pos+end+1])
				p.pos += end + 1
				continue
			default:
				return obj, b.String(), nil
			}
		}
		first = false
		if p.pos < len(p.s) && p.s[p.pos] == '\'' {
			v, err := p.quoted()
			if err != nil {
				return "", "", err
			}
			b.WriteString(v)
			continue
		}
		start := p.pos
		for p.pos < len(p.s) && isWordByte(p.s[p.pos]) {
			p.pos++
		}
		if p.pos == start {
			return "", "", p.errorf("expected a property name in the path of %s", event.Clip(obj))
		}
		b.WriteString(p.s[start:p.pos])
	}
	return obj, b.String(), nil
}

// quoted reads a single-quoted string literal with \' and \\ escapes.
func (p *patternParser) quoted() (string, error) {
	if p.pos >= len(p.s) || p.s[p.pos] != '\'' {
		return "", p.errorf("expected a quoted string")
	}
	p.pos++
	var b strings.Builder
	for p.pos < len(p.s) {
		c := p.s[p.pos]
		switch c {
		case '\\':
			if p.pos+1 >= len(p.s) {
				return "", p.errorf("unterminated string")
			}
			b.WriteByte(p.s[p.pos+1])
			p.pos += 2
		case '\'':
			p.pos++
			return b.String(), nil
		default:
			b.WriteByte(c)
			p.pos++
		}
	}
	return "", p.errorf("unterminated string")
}

func (p *patternParser) number() (string, error) {
	p.space()
	start := p.pos
	if p.pos < len(p.s) && (p.s[p.pos] == '-' || p.s[p.pos] == '+') {
		p.pos++
	}
	for p.pos < len(p.s) && (p.s[p.pos] >= '0' && p.s[p.pos] <= '9' || p.s[p.pos] == '.' || p.s[p.pos] == 'e' || p.s[p.pos] == 'E') {
		p.pos++
	}
	n := p.s[start:p.pos]
	if _, err := strconv.ParseFloat(n, 64); err != nil {
		p.pos = start
		return "", p.errorf("expected a number, found %q", p.rest(12))
	}
	return n, nil
}

// literal := 'string' | t'..' | h'..' | b'..' | number | true | false
func (p *patternParser) literal() (string, error) {
	switch c := p.peekByte(); {
	case c == '\'':
		return p.quoted()
	case (c == 't' || c == 'h' || c == 'b') && p.pos+1 < len(p.s) && p.s[p.pos+1] == '\'':
		p.pos++
		return p.quoted()
	case p.keyword("true"):
		return "true", nil
	case p.keyword("false"):
		return "false", nil
	default:
		return p.number()
	}
}
