package policy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// Kind says what a document is attached to, which decides the elements it may
// and must have.
type Kind uint8

const (
	// KindIdentity: a user, group or role policy, a permissions boundary or a
	// session policy. No Principal; Action and Resource required.
	KindIdentity Kind = iota
	// KindResource: a resource-based policy. Principal, Action and Resource
	// required.
	KindResource
	// KindTrust: a role trust (assume-role) policy. Principal and Action
	// required; Resource prohibited.
	KindTrust
)

func (k Kind) String() string {
	switch k {
	case KindIdentity:
		return "identity"
	case KindResource:
		return "resource"
	case KindTrust:
		return "trust"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// The two policy language versions IAM accepts. Policy variables are only
// substituted in Version2012; in Version2008 (also the default when Version is
// absent) "${...}" is literal text.
const (
	Version2012 = "2012-10-17"
	Version2008 = "2008-10-17"
)

// Effect is Allow or Deny.
type Effect string

const (
	Allow Effect = "Allow"
	Deny  Effect = "Deny"
)

// Policy is a parsed, validated and compiled document. It is immutable and
// safe for concurrent use.
type Policy struct {
	// Version as written; empty when the document has none.
	Version    string
	ID         string
	Kind       Kind
	Statements []Statement
}

// Statement is one statement as written, plus its compiled form.
type Statement struct {
	Sid    string
	Effect Effect
	// Principal and NotPrincipal are nil when absent.
	Principal    *Principal
	NotPrincipal *Principal
	// Exactly one of Action / NotAction is set.
	Action    []string
	NotAction []string
	// At most one of Resource / NotResource is set (none in trust policies).
	Resource    []string
	NotResource []string
	Conditions  []Condition

	c compiled
}

// Principal is the Principal or NotPrincipal element. All is "*" (also
// {"AWS": "*"}); AWS holds ARNs, with bare account ids normalized to
// arn:aws:iam::<account>:root.
type Principal struct {
	All           bool
	AWS           []string
	Service       []string
	Federated     []string
	CanonicalUser []string
}

// Condition is one operator/key/values triple of a Condition block, in
// document order (operators, then keys, sorted as encoding/json sorts them).
type Condition struct {
	Operator string
	Key      string
	Values   []string
}

type compiled struct {
	notAction   bool
	actionSet   map[string]struct{} // lower-cased exact actions (large lists)
	actions     []pattern
	hasResource bool
	notResource bool
	resources   []pattern
	conds       []cond
}

// exactSetMin is the number of exact actions from which a statement keeps
// them in a map rather than a slice.
const exactSetMin = 8

// Parse parses, validates and compiles a policy document of the given kind.
// Errors are *MalformedError (errors.Is(err, ErrMalformed)) with IAM's wording.
// Size limits are the caller's: see CanonicalSize.
func Parse(doc string, kind Kind) (*Policy, error) {
	// IAM rejects a document that does not start with '{' (leading
	// whitespace included) with this message.
	if len(doc) == 0 || doc[0] != '{' {
		return nil, malformed(MsgLegacyParsing)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal([]byte(doc), &top); err != nil {
		return nil, malformed(MsgLegacyParsing)
	}
	p := &Policy{Kind: kind}
	var stmtsRaw json.RawMessage
	for _, k := range sortedKeys(top) {
		v := top[k]
		switch k {
		case "Version":
			s, ok := jsonString(v)
			if !ok || (s != Version2012 && s != Version2008) {
				return nil, malformed(MsgLegacyParsing)
			}
			p.Version = s
		case "Id":
			s, ok := jsonString(v)
			if !ok {
				return nil, malformed(MsgSyntax)
			}
			p.ID = s
		case "Statement":
			stmtsRaw = v
		default:
			return nil, malformed(MsgSyntax)
		}
	}
	if stmtsRaw == nil {
		return nil, malformed(MsgMissingStatement)
	}
	var raws []json.RawMessage
	switch firstByte(stmtsRaw) {
	case '{':
		raws = []json.RawMessage{stmtsRaw}
	case '[':
		if err := json.Unmarshal(stmtsRaw, &raws); err != nil {
			return nil, malformed(MsgSyntax)
		}
	default:
		return nil, malformed(MsgSyntax)
	}
	vars := p.Version == Version2012
	sids := make(map[string]bool, len(raws))
	p.Statements = make([]Statement, 0, len(raws))
	for _, raw := range raws {
		st, err := parseStatement(raw, kind, vars)
		if err != nil {
			return nil, err
		}
		if st.Sid != "" {
			if sids[st.Sid] {
				return nil, malformed(MsgSidUnique)
			}
			sids[st.Sid] = true
		}
		p.Statements = append(p.Statements, st)
	}
	return p, nil
}

// parseNamed is Parse with the policy's name in the error.
func parseNamed(name, doc string, kind Kind) (*Policy, error) {
	p, err := Parse(doc, kind)
	if err != nil {
		return nil, fmt.Errorf("policy %s: %w", name, err)
	}
	return p, nil
}

func parseStatement(raw json.RawMessage, kind Kind, vars bool) (Statement, error) {
	st, has, err := decodeStatement(raw, kind)
	if err != nil {
		return st, err
	}
	if err := checkPrincipal(&st, kind); err != nil {
		return st, err
	}
	if !has.effect {
		return st, malformed(MsgMissingEffect)
	}
	if err := checkActions(&st, has); err != nil {
		return st, err
	}
	if err := checkResources(&st, kind, has); err != nil {
		return st, err
	}
	if err := st.compile(vars); err != nil {
		return st, err
	}
	return st, nil
}

// stmtFields records which of the statement's fields were present.
type stmtFields struct {
	effect, action, notAction, resource, notResource bool
}

// decodeStatement reads the statement's fields, rejecting unknown ones and
// malformed values.
func decodeStatement(raw json.RawMessage, kind Kind) (Statement, stmtFields, error) {
	var st Statement
	var has stmtFields
	if firstByte(raw) != '{' {
		return st, has, malformed(MsgSyntax)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return st, has, malformed(MsgSyntax)
	}
	for _, k := range sortedKeys(m) {
		v := m[k]
		var err error
		switch k {
		case "Sid":
			s, ok := jsonString(v)
			if !ok {
				return st, has, malformed(MsgSyntax)
			}
			if !isAlnum(s) && kind == KindIdentity {
				return st, has, malformed(MsgSidAlnum)
			}
			st.Sid = s
		case "Effect":
			s, ok := jsonString(v)
			if !ok {
				return st, has, malformed(MsgSyntax)
			}
			if s != string(Allow) && s != string(Deny) {
				return st, has, malformed(fmt.Sprintf("Invalid effect: %s", s))
			}
			st.Effect, has.effect = Effect(s), true
		case "Action":
			st.Action, err = stringList(v)
			has.action = true
		case "NotAction":
			st.NotAction, err = stringList(v)
			has.notAction = true
		case "Resource":
			st.Resource, err = stringList(v)
			has.resource = true
		case "NotResource":
			st.NotResource, err = stringList(v)
			has.notResource = true
		case "Principal":
			st.Principal, err = parsePrincipal(v)
		case "NotPrincipal":
			st.NotPrincipal, err = parsePrincipal(v)
		case "Condition":
			st.Conditions, err = parseConditions(v)
		default:
			return st, has, malformed(MsgSyntax)
		}
		if err != nil {
			return st, has, err
		}
	}
	return st, has, nil
}

// checkPrincipal applies the principal rules, which depend on the kind:
// identity policies name none, the others exactly one of Principal and
// NotPrincipal.
func checkPrincipal(st *Statement, kind Kind) error {
	hasPrincipal := st.Principal != nil || st.NotPrincipal != nil
	switch kind {
	case KindIdentity:
		if hasPrincipal {
			return malformed(MsgPrincipalForbidden)
		}
	default:
		if !hasPrincipal {
			return malformed(MsgMissingPrincipal)
		}
		if st.Principal != nil && st.NotPrincipal != nil {
			return malformed(MsgPrincipalAndNot)
		}
	}
	return nil
}

// checkActions requires exactly one of Action and NotAction, not empty, each
// action "*" or with a vendor prefix.
func checkActions(st *Statement, has stmtFields) error {
	if has.action && has.notAction {
		return malformed(MsgActionAndNot)
	}
	if !has.action && !has.notAction {
		return malformed(MsgMissingAction)
	}
	actions := st.Action
	if has.notAction {
		actions = st.NotAction
	}
	if len(actions) == 0 {
		return malformed(MsgNoActions)
	}
	for _, a := range actions {
		if a == "*" {
			continue
		}
		if i := strings.IndexByte(a, ':'); i <= 0 {
			return malformed(MsgVendorPrefix)
		}
	}
	return nil
}

// checkResources forbids resources in trust policies and requires, in the
// others, exactly one of Resource and NotResource, not empty, of ARNs or "*".
func checkResources(st *Statement, kind Kind, has stmtFields) error {
	switch kind {
	case KindTrust:
		if has.resource {
			return malformed(MsgResourceProhibited)
		}
		if has.notResource {
			return malformed("Has prohibited field NotResource")
		}
	default:
		if has.resource && has.notResource {
			return malformed(MsgResourceAndNot)
		}
		if !has.resource && !has.notResource {
			return malformed(MsgMissingResource)
		}
		res := st.Resource
		if has.notResource {
			res = st.NotResource
		}
		if len(res) == 0 {
			return malformed(MsgNoResources)
		}
		for _, r := range res {
			if r != "*" && !strings.HasPrefix(r, "arn:") {
				return malformed(fmt.Sprintf("Resource %s must be in ARN format or \"*\".", r))
			}
		}
	}
	return nil
}

func (st *Statement) compile(vars bool) error {
	c := &st.c
	actions := st.Action
	if st.NotAction != nil {
		c.notAction = true
		actions = st.NotAction
	}
	var exact []string
	for _, a := range actions {
		if !strings.ContainsAny(a, "*?") {
			exact = append(exact, strings.ToLower(a))
			continue
		}
		c.actions = append(c.actions, compilePattern(strings.ToLower(a), true, false, true))
	}
	if len(exact) >= exactSetMin {
		c.actionSet = make(map[string]struct{}, len(exact))
		for _, a := range exact {
			c.actionSet[a] = struct{}{}
		}
	} else {
		for _, a := range exact {
			c.actions = append(c.actions, compilePattern(a, true, false, true))
		}
	}

	res := st.Resource
	if st.NotResource != nil {
		c.notResource = true
		res = st.NotResource
	}
	c.hasResource = res != nil
	for _, r := range res {
		c.resources = append(c.resources, compilePattern(r, true, vars, false))
	}

	for _, cd := range st.Conditions {
		cc, err := compileCondition(cd, vars)
		if err != nil {
			return err
		}
		c.conds = append(c.conds, cc)
	}
	return nil
}

func parsePrincipal(raw json.RawMessage) (*Principal, error) {
	if s, ok := jsonString(raw); ok {
		if s == "*" {
			return &Principal{All: true}, nil
		}
		return nil, malformed(fmt.Sprintf("Invalid principal in policy: %q", s))
	}
	if firstByte(raw) != '{' {
		return nil, malformed(MsgSyntax)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, malformed(MsgSyntax)
	}
	if len(m) == 0 {
		return nil, malformed(MsgSyntax)
	}
	p := &Principal{}
	for _, k := range sortedKeys(m) {
		vals, err := stringList(m[k])
		if err != nil {
			return nil, err
		}
		if len(vals) == 0 {
			return nil, malformed(fmt.Sprintf("Invalid principal in policy: %q:[]", k))
		}
		for i, s := range vals {
			if s == "" {
				return nil, malformed(fmt.Sprintf("Invalid principal in policy: %q:%q", k, s))
			}
			if k == "AWS" {
				switch {
				case s == "*":
					p.All = true
				case isAccountID(s):
					vals[i] = "arn:aws:iam::" + s + ":root"
				case strings.HasPrefix(s, "arn:"):
				default:
					return nil, malformed(fmt.Sprintf("Invalid principal in policy: %q:%q", k, s))
				}
			}
		}
		switch k {
		case "AWS":
			p.AWS = vals
		case "Service":
			p.Service = vals
		case "Federated":
			p.Federated = vals
		case "CanonicalUser":
			p.CanonicalUser = vals
		default:
			return nil, malformed(fmt.Sprintf("Invalid principal in policy: %q", k))
		}
	}
	return p, nil
}

func parseConditions(raw json.RawMessage) ([]Condition, error) {
	if firstByte(raw) != '{' {
		return nil, malformed(MsgSyntax)
	}
	var ops map[string]json.RawMessage
	if err := json.Unmarshal(raw, &ops); err != nil {
		return nil, malformed(MsgSyntax)
	}
	var out []Condition
	for _, op := range sortedKeys(ops) {
		if firstByte(ops[op]) != '{' {
			return nil, malformed(MsgSyntax)
		}
		var keys map[string]json.RawMessage
		if err := json.Unmarshal(ops[op], &keys); err != nil {
			return nil, malformed(MsgSyntax)
		}
		for _, k := range sortedKeys(keys) {
			vals, err := conditionValues(keys[k])
			if err != nil {
				return nil, err
			}
			if i := strings.IndexByte(k, ':'); i <= 0 {
				return nil, malformed(MsgVendorPrefix)
			}
			out = append(out, Condition{Operator: op, Key: k, Values: vals})
		}
	}
	return out, nil
}

// conditionValues accepts a string, number or boolean, or a list of them.
func conditionValues(raw json.RawMessage) ([]string, error) {
	raw = bytes.TrimSpace(raw)
	if firstByte(raw) == '[' {
		var items []json.RawMessage
		if err := json.Unmarshal(raw, &items); err != nil {
			return nil, malformed(MsgSyntax)
		}
		out := make([]string, 0, len(items))
		for _, it := range items {
			s, err := scalar(it)
			if err != nil {
				return nil, err
			}
			out = append(out, s)
		}
		return out, nil
	}
	s, err := scalar(raw)
	if err != nil {
		return nil, err
	}
	return []string{s}, nil
}

func scalar(raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	if s, ok := jsonString(raw); ok {
		return s, nil
	}
	switch c := firstByte(raw); {
	case c == 't' || c == 'f':
		var b bool
		if err := json.Unmarshal(raw, &b); err != nil {
			return "", malformed(MsgSyntax)
		}
		if b {
			return "true", nil
		}
		return "false", nil
	case c == '-' || (c >= '0' && c <= '9'):
		var n json.Number
		if err := json.Unmarshal(raw, &n); err != nil {
			return "", malformed(MsgSyntax)
		}
		return n.String(), nil
	}
	return "", malformed(MsgSyntax)
}

// stringList accepts a string or a list of strings.
func stringList(raw json.RawMessage) ([]string, error) {
	if s, ok := jsonString(raw); ok {
		return []string{s}, nil
	}
	if firstByte(raw) != '[' {
		return nil, malformed(MsgSyntax)
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, malformed(MsgSyntax)
	}
	out := make([]string, 0, len(items))
	for _, it := range items {
		s, ok := jsonString(it)
		if !ok {
			return nil, malformed(MsgSyntax)
		}
		out = append(out, s)
	}
	return out, nil
}

func jsonString(raw json.RawMessage) (string, bool) {
	raw = bytes.TrimSpace(raw)
	if firstByte(raw) != '"' {
		return "", false
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", false
	}
	return s, true
}

func firstByte(b []byte) byte {
	b = bytes.TrimLeft(b, " \t\r\n")
	if len(b) == 0 {
		return 0
	}
	return b[0]
}

func isAlnum(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

func isAccountID(s string) bool {
	if len(s) != 12 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func sortedKeys(m map[string]json.RawMessage) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	// Small maps: insertion sort keeps this free of a sort import.
	for i := 1; i < len(keys); i++ {
		for j := i; j > 0 && keys[j] < keys[j-1]; j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
		}
	}
	return keys
}

// Compact returns doc with the whitespace outside strings removed, the form
// IAM measures against its size limits.
func Compact(doc string) (string, error) {
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(doc)); err != nil {
		return "", fmt.Errorf("compact policy: %w", malformed(MsgLegacyParsing))
	}
	return b.String(), nil
}

// CanonicalSize is the number of characters of doc that IAM counts against
// its policy size quotas: the document without whitespace outside strings.
func CanonicalSize(doc string) (int, error) {
	c, err := Compact(doc)
	if err != nil {
		return 0, err
	}
	return len([]rune(c)), nil
}
