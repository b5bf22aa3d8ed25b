package policy

import (
	"strings"
	"unicode/utf8"
)

// A pattern is a string from a policy compiled once at parse time: literal
// runs, the wildcards * and ? (when the element supports them) and policy
// variables ${key} / ${key, 'default'} (in 2012-10-17 documents). Matching
// walks the tokens against the request value without building the
// substituted string, so it does not allocate.
type pattern struct {
	raw  string
	toks []ptok
	// kind short-circuits the common shapes.
	kind patKind
	// lit is the whole literal for patExact, or the literal before the
	// trailing * for patPrefix.
	lit  string
	fold bool // ASCII/Unicode case-insensitive comparison (actions, *IgnoreCase)
}

type patKind uint8

const (
	patGeneral patKind = iota
	patAny             // "*"
	patExact           // no wildcard, no variable
	patPrefix          // literal followed by a single trailing *
)

type tokKind uint8

const (
	tokLit  tokKind = iota // s
	tokStar                // *
	tokOne                 // ?
	tokVar                 // ${s} with optional default def
)

type ptok struct {
	kind   tokKind
	s      string
	def    string
	hasDef bool
}

// compilePattern compiles s. wild says whether * and ? are wildcards; vars
// whether ${...} are policy variables.
func compilePattern(s string, wild, vars, fold bool) pattern {
	p := pattern{raw: s, fold: fold}
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			p.toks = append(p.toks, ptok{kind: tokLit, s: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case wild && c == '*':
			flush()
			// Consecutive stars are one star.
			if n := len(p.toks); n == 0 || p.toks[n-1].kind != tokStar {
				p.toks = append(p.toks, ptok{kind: tokStar})
			}
			i++
		case wild && c == '?':
			flush()
			p.toks = append(p.toks, ptok{kind: tokOne})
			i++
		case vars && c == '$' && i+1 < len(s) && s[i+1] == '{':
			end := strings.IndexByte(s[i+2:], '}')
			if end < 0 {
				lit.WriteString(s[i:])
				i = len(s)
				continue
			}
			body := s[i+2 : i+2+end]
			i += 2 + end + 1
			switch strings.TrimSpace(body) {
			case "*", "?", "$":
				lit.WriteString(strings.TrimSpace(body))
				continue
			}
			key, def, hasDef := parseVariable(body)
			if key == "" {
				lit.WriteString("${" + body + "}")
				continue
			}
			flush()
			p.toks = append(p.toks, ptok{kind: tokVar, s: strings.ToLower(key), def: def, hasDef: hasDef})
		default:
			lit.WriteByte(c)
			i++
		}
	}
	flush()
	switch {
	case len(p.toks) == 0:
		p.kind, p.lit = patExact, ""
	case len(p.toks) == 1 && p.toks[0].kind == tokStar:
		p.kind = patAny
	case len(p.toks) == 1 && p.toks[0].kind == tokLit:
		p.kind, p.lit = patExact, p.toks[0].s
	case len(p.toks) == 2 && p.toks[0].kind == tokLit && p.toks[1].kind == tokStar:
		p.kind, p.lit = patPrefix, p.toks[0].s
	}
	return p
}

// parseVariable splits "aws:username, 'default'" into key and default.
func parseVariable(body string) (key, def string, hasDef bool) {
	k, rest, ok := strings.Cut(body, ",")
	key = strings.TrimSpace(k)
	if !ok {
		return key, "", false
	}
	rest = strings.TrimSpace(rest)
	if len(rest) >= 2 && rest[0] == '\'' && rest[len(rest)-1] == '\'' {
		return key, rest[1 : len(rest)-1], true
	}
	return "", "", false
}

// hasVars reports whether the pattern refers to a policy variable.
func (p *pattern) hasVars() bool {
	for _, t := range p.toks {
		if t.kind == tokVar {
			return true
		}
	}
	return false
}

func (p *pattern) equal(a, b string) bool {
	if p.fold {
		return strings.EqualFold(a, b)
	}
	return a == b
}

func (p *pattern) hasPrefix(s, prefix string) bool {
	if len(s) < len(prefix) {
		return false
	}
	return p.equal(s[:len(prefix)], prefix)
}

// match reports whether s matches the pattern; r resolves variables and may be
// nil when the pattern has none.
func (p *pattern) match(s string, r *evalCtx) bool {
	switch p.kind {
	case patAny:
		return true
	case patExact:
		return p.equal(s, p.lit)
	case patPrefix:
		return p.hasPrefix(s, p.lit)
	}
	// Greedy matching with backtracking to the last star: the tokens between
	// two stars have a fixed length once variables are resolved, so only the
	// last star ever needs to move.
	ti, si := 0, 0
	starTi, starSi := -1, 0
	for {
		if ti < len(p.toks) {
			t := &p.toks[ti]
			switch t.kind {
			case tokStar:
				starTi, starSi = ti, si
				ti++
				continue
			case tokOne:
				if si < len(s) {
					_, n := utf8.DecodeRuneInString(s[si:])
					si += n
					ti++
					continue
				}
			case tokLit:
				if p.hasPrefix(s[si:], t.s) {
					si += len(t.s)
					ti++
					continue
				}
			case tokVar:
				v, ok := resolveVar(t, r)
				if !ok {
					// An unresolvable variable makes the whole pattern fail.
					return false
				}
				if p.hasPrefix(s[si:], v) {
					si += len(v)
					ti++
					continue
				}
			}
		} else if si == len(s) {
			return true
		}
		if starTi < 0 || starSi >= len(s) {
			return false
		}
		_, n := utf8.DecodeRuneInString(s[starSi:])
		starSi += n
		si = starSi
		ti = starTi + 1
	}
}

func resolveVar(t *ptok, r *evalCtx) (string, bool) {
	if r != nil {
		if v, ok := r.variable(t.s); ok {
			return v, true
		}
	}
	if t.hasDef {
		return t.def, true
	}
	return "", false
}

// expand returns the pattern with variables substituted (wildcards kept), or
// false if a variable cannot be resolved. Used where a whole value is needed
// (numbers, dates, IPs, ARNs), not on the string-matching path.
func (p *pattern) expand(r *evalCtx) (string, bool) {
	if p.kind == patExact {
		return p.lit, true
	}
	var b strings.Builder
	for i := range p.toks {
		t := &p.toks[i]
		switch t.kind {
		case tokLit:
			b.WriteString(t.s)
		case tokStar:
			b.WriteByte('*')
		case tokOne:
			b.WriteByte('?')
		case tokVar:
			v, ok := resolveVar(t, r)
			if !ok {
				return "", false
			}
			b.WriteString(v)
		}
	}
	return b.String(), true
}
