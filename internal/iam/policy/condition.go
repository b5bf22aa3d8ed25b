package policy

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

type family uint8

const (
	famString family = iota
	famNumeric
	famDate
	famBool
	famBinary
	famIP
	famArn
	famNull
)

type cmpOp uint8

const (
	cmpEq cmpOp = iota
	cmpLt
	cmpLe
	cmpGt
	cmpGe
)

type setOp uint8

const (
	setNone setOp = iota
	setForAll
	setForAny
)

// cond is a compiled Condition.
type cond struct {
	keyOrig  string
	key      string // lower-cased
	fam      family
	cmp      cmpOp
	negated  bool
	ifExists bool
	set      setOp
	vals     []pattern
	// Values pre-parsed at compile time (for values without variables);
	// ok[i] says whether vals[i] parsed.
	nums  []float64
	times []time.Time
	ips   []netip.Prefix
	bins  [][]byte
	arns  [][]pattern // six segment patterns per value, nil if not an ARN
	ok    []bool
	null  bool // Null: true means "the key must be absent"
}

// parseOperator splits "ForAnyValue:StringLikeIfExists" into its parts.
func parseOperator(op string) (c cond, err error) {
	base := op
	if pre, rest, ok := strings.Cut(op, ":"); ok {
		switch {
		case strings.EqualFold(pre, "ForAllValues"):
			c.set = setForAll
		case strings.EqualFold(pre, "ForAnyValue"):
			c.set = setForAny
		default:
			return c, malformed(fmt.Sprintf("Invalid Condition type : %s", op))
		}
		base = rest
	}
	if n := len(base) - len("IfExists"); n > 0 && strings.EqualFold(base[n:], "IfExists") {
		c.ifExists = true
		base = base[:n]
	}
	switch strings.ToLower(base) {
	case "stringequals":
		c.fam = famString
	case "stringnotequals":
		c.fam, c.negated = famString, true
	case "stringequalsignorecase":
		c.fam = famString
	case "stringnotequalsignorecase":
		c.fam, c.negated = famString, true
	case "stringlike":
		c.fam = famString
	case "stringnotlike":
		c.fam, c.negated = famString, true
	case "numericequals", "dateequals":
		c.cmp = cmpEq
	case "numericnotequals", "datenotequals":
		c.cmp, c.negated = cmpEq, true
	case "numericlessthan", "datelessthan":
		c.cmp = cmpLt
	case "numericlessthanequals", "datelessthanequals":
		c.cmp = cmpLe
	case "numericgreaterthan", "dategreaterthan":
		c.cmp = cmpGt
	case "numericgreaterthanequals", "dategreaterthanequals":
		c.cmp = cmpGe
	case "bool":
		c.fam = famBool
	case "binaryequals":
		c.fam = famBinary
	case "ipaddress":
		c.fam = famIP
	case "notipaddress":
		c.fam, c.negated = famIP, true
	case "arnequals", "arnlike":
		c.fam = famArn
	case "arnnotequals", "arnnotlike":
		c.fam, c.negated = famArn, true
	case "null":
		if c.ifExists || c.set != setNone {
			return c, malformed(fmt.Sprintf("Invalid Condition type : %s", op))
		}
		c.fam = famNull
	default:
		return c, malformed(fmt.Sprintf("Invalid Condition type : %s", op))
	}
	lb := strings.ToLower(base)
	switch {
	case strings.HasPrefix(lb, "numeric"):
		c.fam = famNumeric
	case strings.HasPrefix(lb, "date"):
		c.fam = famDate
	}
	return c, nil
}

func compileCondition(cd Condition, vars bool) (cond, error) {
	c, err := parseOperator(cd.Operator)
	if err != nil {
		return c, err
	}
	c.keyOrig = cd.Key
	c.key = strings.ToLower(cd.Key)
	lb := strings.ToLower(cd.Operator)
	like := strings.Contains(lb, "like") // StringLike, ArnLike (ArnEquals also takes wildcards below)
	fold := strings.Contains(lb, "ignorecase")
	n := len(cd.Values)
	c.vals = make([]pattern, n)
	c.ok = make([]bool, n)
	for i, v := range cd.Values {
		switch c.fam {
		case famString:
			c.vals[i] = compilePattern(v, like, vars, fold)
		case famArn:
			// ArnEquals and ArnLike behave alike: both take wildcards.
			c.vals[i] = compilePattern(v, false, vars, false)
		default:
			c.vals[i] = compilePattern(v, false, vars, false)
		}
	}
	switch c.fam {
	case famNumeric:
		c.nums = make([]float64, n)
	case famDate:
		c.times = make([]time.Time, n)
	case famIP:
		c.ips = make([]netip.Prefix, n)
	case famBinary:
		c.bins = make([][]byte, n)
	case famArn:
		c.arns = make([][]pattern, n)
	case famNull:
		if n > 0 {
			c.null = strings.EqualFold(cd.Values[0], "true")
		}
	}
	for i := range c.vals {
		if c.vals[i].hasVars() {
			continue
		}
		c.ok[i] = c.preparse(i, c.vals[i].raw)
	}
	return c, nil
}

// preparse parses value s into the typed slot i.
func (c *cond) preparse(i int, s string) bool {
	var ok bool
	switch c.fam {
	case famNumeric:
		c.nums[i], ok = parseNumber(s)
	case famDate:
		c.times[i], ok = parseDate(s)
	case famIP:
		c.ips[i], ok = parsePrefix(s)
	case famBinary:
		c.bins[i], ok = parseBinary(s)
	case famArn:
		c.arns[i] = compileArnPattern(s)
		ok = true
	default:
		ok = true
	}
	return ok
}

func parseNumber(s string) (float64, bool) {
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	return f, err == nil
}

// parseDate accepts the ISO 8601 forms IAM accepts and epoch seconds.
func parseDate(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, false
	}
	if s[0] >= '0' && s[0] <= '9' && !strings.ContainsAny(s, "-T:") {
		if sec, err := strconv.ParseInt(s, 10, 64); err == nil {
			return time.Unix(sec, 0).UTC(), true
		}
		if f, err := strconv.ParseFloat(s, 64); err == nil && f > -1e12 && f < 1e12 {
			return time.UnixMilli(int64(f * 1000)).UTC(), true
		}
		return time.Time{}, false
	}
	layouts := [...]string{
		time.RFC3339Nano,
		"2006-01-02T15:04:05Z0700",
		"2006-01-02T15:04Z07:00",
		"2006-01-02T15:04Z",
		"2006-01-02T15:04:05",
		"2006-01-02",
	}
	for _, l := range layouts {
		if t, err := time.Parse(l, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

func parsePrefix(s string) (netip.Prefix, bool) {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, false
		}
		a := p.Addr().Unmap()
		bits := p.Bits()
		if p.Addr().Is4In6() {
			bits -= 96
			if bits < 0 {
				bits = 0
			}
		}
		return netip.PrefixFrom(a, bits).Masked(), true
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, false
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), true
}

func parseBinary(s string) ([]byte, bool) {
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	return b, err == nil
}

// compileArnPattern splits an ARN pattern into its six colon-separated
// components, each matched separately with wildcards (as ArnLike does). A
// value that is not ARN-shaped yields one pattern matched against the whole.
func compileArnPattern(s string) []pattern {
	parts := strings.SplitN(s, ":", 6)
	out := make([]pattern, len(parts))
	for i, p := range parts {
		out[i] = compilePattern(p, true, false, false)
	}
	return out
}

func matchArn(pats []pattern, v string) bool {
	if len(pats) != 6 {
		if len(pats) == 1 {
			return pats[0].match(v, nil)
		}
		return false
	}
	for i := 0; i < 5; i++ {
		j := strings.IndexByte(v, ':')
		if j < 0 {
			return false
		}
		if !pats[i].match(v[:j], nil) {
			return false
		}
		v = v[j+1:]
	}
	return pats[5].match(v, nil)
}

// values is a view of a condition key's values in the request context,
// without allocating for the single-valued global keys.
type values struct {
	one  string
	many []string
	n    int
}

func (v values) at(i int) string {
	if v.many != nil {
		return v.many[i]
	}
	return v.one
}

// eval evaluates the condition against the request.
func (c *cond) eval(e *evalCtx) bool {
	// Date conditions on the request time compare times directly rather
	// than formatting and re-parsing them.
	if c.fam == famDate && (c.key == "aws:currenttime" || c.key == "aws:epochtime") && !e.req.Time.IsZero() {
		m := c.matchTime(e.req.Time.Truncate(time.Second), e)
		if c.negated {
			return !m
		}
		return m
	}
	vs := e.lookup(c.keyOrig, c.key)
	if c.fam == famNull {
		return (vs.n == 0) == c.null
	}
	if vs.n == 0 {
		switch {
		case c.ifExists:
			return true
		case c.set == setForAll:
			return true
		case c.set == setForAny:
			return false
		}
		// A negated operator is true when the key is absent.
		return c.negated
	}
	switch c.set {
	case setForAll:
		for i := 0; i < vs.n; i++ {
			if !c.valueOK(vs.at(i), e) {
				return false
			}
		}
		return true
	case setForAny:
		for i := 0; i < vs.n; i++ {
			if c.valueOK(vs.at(i), e) {
				return true
			}
		}
		return false
	}
	if c.negated {
		// No request value may match any policy value.
		for i := 0; i < vs.n; i++ {
			if !c.valueOK(vs.at(i), e) {
				return false
			}
		}
		return true
	}
	for i := 0; i < vs.n; i++ {
		if c.valueOK(vs.at(i), e) {
			return true
		}
	}
	return false
}

// valueOK is the operator applied to one request value: for a positive
// operator, v matches one of the policy values; for a negated one, it matches
// none.
func (c *cond) valueOK(v string, e *evalCtx) bool {
	m := c.matchAny(v, e)
	if c.negated {
		return !m
	}
	return m
}

func (c *cond) matchAny(v string, e *evalCtx) bool {
	switch c.fam {
	case famString:
		for i := range c.vals {
			if c.vals[i].match(v, e) {
				return true
			}
		}
		return false
	case famBool:
		for i := range c.vals {
			if s, ok := c.vals[i].expand(e); ok && strings.EqualFold(strings.TrimSpace(s), strings.TrimSpace(v)) {
				return true
			}
		}
		return false
	case famNumeric:
		x, ok := parseNumber(v)
		if !ok {
			return false
		}
		for i := range c.vals {
			y, ok := c.nums[i], c.ok[i]
			if c.vals[i].hasVars() {
				s, sok := c.vals[i].expand(e)
				y, ok = 0, false
				if sok {
					y, ok = parseNumber(s)
				}
			}
			if ok && compare(c.cmp, cmpFloat(x, y)) {
				return true
			}
		}
		return false
	case famDate:
		x, ok := parseDate(v)
		if !ok {
			return false
		}
		return c.matchTime(x, e)
	case famIP:
		a, err := netip.ParseAddr(strings.TrimSpace(v))
		if err != nil {
			return false
		}
		a = a.Unmap()
		for i := range c.vals {
			p, ok := c.ips[i], c.ok[i]
			if c.vals[i].hasVars() {
				s, sok := c.vals[i].expand(e)
				p, ok = netip.Prefix{}, false
				if sok {
					p, ok = parsePrefix(s)
				}
			}
			if ok && p.Contains(a) {
				return true
			}
		}
		return false
	case famBinary:
		b, ok := parseBinary(v)
		for i := range c.vals {
			if c.vals[i].hasVars() {
				continue
			}
			if ok && c.ok[i] && bytes.Equal(b, c.bins[i]) {
				return true
			}
			if !ok && v == c.vals[i].raw {
				return true
			}
		}
		return false
	case famArn:
		for i := range c.vals {
			pats := c.arns[i]
			if c.vals[i].hasVars() {
				s, ok := c.vals[i].expand(e)
				if !ok {
					continue
				}
				pats = compileArnPattern(s)
			}
			if matchArn(pats, v) {
				return true
			}
		}
		return false
	}
	return false
}

func cmpFloat(x, y float64) int {
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}

// compare reports whether r (the sign of request value minus policy value)
// satisfies op.
func compare(op cmpOp, r int) bool {
	switch op {
	case cmpEq:
		return r == 0
	case cmpLt:
		return r < 0
	case cmpLe:
		return r <= 0
	case cmpGt:
		return r > 0
	case cmpGe:
		return r >= 0
	}
	return false
}

// matchTime reports whether time x compares as the operator says with one
// of the policy's dates.
func (c *cond) matchTime(x time.Time, e *evalCtx) bool {
	for i := range c.vals {
		y, ok := c.times[i], c.ok[i]
		if c.vals[i].hasVars() {
			s, sok := c.vals[i].expand(e)
			y, ok = time.Time{}, false
			if sok {
				y, ok = parseDate(s)
			}
		}
		if ok && compare(c.cmp, x.Compare(y)) {
			return true
		}
	}
	return false
}
