package policy

import (
	"strconv"
	"strings"
	"time"
)

// PrincipalType values for aws:PrincipalType.
const (
	PrincipalAccount       = "Account" // the account's root user
	PrincipalUser          = "User"
	PrincipalAssumedRole   = "AssumedRole"
	PrincipalFederatedUser = "FederatedUser"
	PrincipalService       = "Service" // an AWS service principal (e.g. elasticache.amazonaws.com)
)

// Caller is who makes the request, as policies see it.
type Caller struct {
	// Type is one of the Principal* constants (aws:PrincipalType).
	Type string
	// ARN is the caller's identity ARN as GetCallerIdentity returns it: a user
	// ARN, or arn:aws:sts::<account>:assumed-role/<role>/<session>.
	ARN string
	// PrincipalARN is aws:PrincipalArn: the role ARN for an assumed-role
	// session; when empty, ARN is used.
	PrincipalARN string
	AccountID    string // aws:PrincipalAccount
	UserID       string // aws:userid
	// Username is aws:username; set it for IAM users only (AWS leaves the key
	// absent for roles and root).
	Username string
	// Service is the service principal (e.g. "elasticache.amazonaws.com")
	// when Type is PrincipalService; Federated the identity provider for web
	// identity / SAML callers.
	Service   string
	Federated string
	// Temporary is true for STS credentials. aws:MultiFactorAuthPresent is
	// only present for temporary credentials (true when MFA, false if not);
	// it is absent for long-term access keys, as in AWS.
	Temporary bool
	MFA       bool
	// MFAAuthTime is when MFA authentication happened (aws:MultiFactorAuthAge
	// is present only when MFA is true and this is set).
	MFAAuthTime time.Time
	// TokenIssued is aws:TokenIssueTime for temporary credentials.
	TokenIssued time.Time
}

// Request is one authorization question: may Caller do Action on Resource?
// A call touching several resources is several Requests.
type Request struct {
	// Action is "service:Operation", e.g. "elasticache:CreateCacheCluster";
	// compared case-insensitively.
	Action string
	// Resource is the ARN acted on, or "*" for actions without resource-level
	// permissions.
	Resource string
	Caller   Caller
	// Time is the request time (aws:CurrentTime, aws:EpochTime); zero leaves
	// both keys absent.
	Time            time.Time
	SourceIP        string // aws:SourceIp
	SecureTransport bool   // aws:SecureTransport
	Region          string // aws:RequestedRegion
	// Context holds every other condition key (service-specific keys,
	// aws:RequestTag/..., aws:ResourceTag/..., aws:TagKeys, aws:PrincipalTag/...,
	// aws:ViaAWSService, which defaults to false). Keys are matched
	// case-insensitively; the global keys derived from the fields above
	// cannot be overridden here.
	Context map[string][]string
}

// Named is a policy with the name callers want in a Decision: the policy ARN
// for managed policies, the inline policy name (e.g. "user/alice/inline") for
// inline ones.
type Named struct {
	Name   string
	Policy *Policy
}

// Set is every policy that applies to a request.
type Set struct {
	// Identity: the caller's identity-based policies (inline and attached,
	// including those of the user's groups or the session's role).
	Identity []Named
	// Resource: the resource-based policy of the resource, or a role's trust
	// policy when authorizing sts:AssumeRole. Nil when none.
	Resource *Named
	// Boundary: the permissions boundary of the user or role. Nil when none.
	Boundary *Named
	// Session: session policies passed to AssumeRole / GetFederationToken.
	// Empty when none; when set, only what they also allow is allowed.
	Session []Named
}

// Source says which kind of policy a matched statement belongs to.
type Source uint8

const (
	SourceIdentity Source = iota
	SourceResource
	SourceBoundary
	SourceSession
)

func (s Source) String() string {
	switch s {
	case SourceIdentity:
		return "identity"
	case SourceResource:
		return "resource"
	case SourceBoundary:
		return "boundary"
	case SourceSession:
		return "session"
	}
	return "unknown"
}

// Match identifies the statement that decided.
type Match struct {
	Policy string // Named.Name
	Sid    string
	Index  int // statement index in the policy
	Effect Effect
	Source Source
}

// Reason explains a Decision.
type Reason uint8

const (
	// ReasonNoAllow: implicit deny, no statement allows.
	ReasonNoAllow Reason = iota
	// ReasonAllowed: an Allow statement applies and nothing denies.
	ReasonAllowed
	// ReasonExplicitDeny: a Deny statement applies.
	ReasonExplicitDeny
	// ReasonBoundary: identity policies allow, the permissions boundary does
	// not (implicit deny).
	ReasonBoundary
	// ReasonSession: identity policies allow, the session policies do not
	// (implicit deny).
	ReasonSession
	// ReasonTrust: the role's trust policy (a KindTrust Set.Resource) does
	// not allow the caller; identity policies alone never let a caller
	// assume a role.
	ReasonTrust
)

func (r Reason) String() string {
	switch r {
	case ReasonNoAllow:
		return "implicitly denied: no statement allows the action"
	case ReasonAllowed:
		return "allowed"
	case ReasonExplicitDeny:
		return "explicitly denied"
	case ReasonBoundary:
		return "implicitly denied: not allowed by the permissions boundary"
	case ReasonSession:
		return "implicitly denied: not allowed by the session policy"
	case ReasonTrust:
		return "implicitly denied: not allowed by the role's trust policy"
	}
	return "unknown"
}

// Decision is the outcome of Evaluate.
type Decision struct {
	Allowed      bool
	ExplicitDeny bool
	Reason       Reason
	// Matched is the deciding statement: the Deny for an explicit deny, the
	// Allow for an allow or for a boundary/session implicit deny; zero
	// (Policy == "") for a plain implicit deny.
	Matched Match
}

// principal match strength, for resource-based policies.
type pmatch uint8

const (
	pmNone    pmatch = iota
	pmAccount        // the caller's account root: delegates to identity policies
	pmRole           // the role behind the session: limited by boundary and session policies
	pmDirect         // the exact user / session / service, or "*"
)

// evalCtx is the per-request state shared by the matchers. It lives on
// Evaluate's stack: the lower-cased action is kept in buf so that looking it
// up in a statement's action set does not allocate.
type evalCtx struct {
	req *Request
	buf [128]byte
	n   int
	// long holds the lower-cased action when it does not fit in buf.
	long string
}

func (e *evalCtx) setAction(a string) {
	if len(a) > len(e.buf) {
		e.long = strings.ToLower(a)
		return
	}
	for i := 0; i < len(a); i++ {
		c := a[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		e.buf[i] = c
	}
	e.n = len(a)
}

// inActionSet reports whether the lower-cased action is in set.
func (e *evalCtx) inActionSet(set map[string]struct{}) bool {
	if e.long != "" {
		_, ok := set[e.long]
		return ok
	}
	_, ok := set[string(e.buf[:e.n])] // no allocation: map index by converted bytes
	return ok
}

// Evaluate decides req against the policies in set, as AWS does within one
// account: an applicable Deny anywhere wins; otherwise the request is allowed
// when an identity policy allows it (and the permissions boundary and session
// policies, when present, allow it too) or when the resource-based policy
// allows it for this caller; otherwise it is implicitly denied.
//
// A resource-based policy naming the caller's exact ARN (user, role session,
// service, or "*") allows on its own; one naming the role behind a session
// is still limited by the boundary and session policies; one naming the
// account delegates to identity policies. A role trust policy (Kind
// KindTrust) must allow the caller in any case: identity policies alone never
// let a caller assume a role. Cross-account rules (both sides must allow) are
// the caller's: evaluate each account's side and require both.
//
// Evaluate does not special-case the root user: callers allow root before
// asking (except for what AWS lets nothing allow root to do).
func Evaluate(req *Request, set Set) Decision {
	var e evalCtx
	e.req = req
	e.setAction(req.Action)

	// Identity policies: a Deny returns at once; once an Allow is found only
	// Deny statements still need checking.
	var idAllow Match
	found := false
	for _, np := range set.Identity {
		if d, ok := e.scan(np, SourceIdentity, &idAllow, &found); ok {
			return d
		}
	}

	var resAllow Match
	resFound := false
	resKind := pmNone
	if set.Resource != nil && set.Resource.Policy != nil {
		p := set.Resource.Policy
		for i := range p.Statements {
			st := &p.Statements[i]
			if st.Effect == Allow && resFound && resKind == pmDirect {
				continue
			}
			pm := st.principalMatch(&req.Caller)
			if pm == pmNone || !st.applies(&e) {
				continue
			}
			m := Match{Policy: set.Resource.Name, Sid: st.Sid, Index: i, Effect: st.Effect, Source: SourceResource}
			if st.Effect == Deny {
				return Decision{ExplicitDeny: true, Reason: ReasonExplicitDeny, Matched: m}
			}
			if !resFound || pm > resKind {
				resAllow, resFound, resKind = m, true, pm
			}
		}
	}

	var bAllow Match
	bFound := false
	if set.Boundary != nil && set.Boundary.Policy != nil {
		if d, ok := e.scan(*set.Boundary, SourceBoundary, &bAllow, &bFound); ok {
			return d
		}
	}
	var sAllow Match
	sFound := false
	for _, np := range set.Session {
		if d, ok := e.scan(np, SourceSession, &sAllow, &sFound); ok {
			return d
		}
	}

	boundaryOK := set.Boundary == nil || set.Boundary.Policy == nil || bFound
	sessionOK := len(set.Session) == 0 || sFound
	allow := func(m Match) Decision { return Decision{Allowed: true, Reason: ReasonAllowed, Matched: m} }

	if !resFound && set.Resource != nil && set.Resource.Policy != nil && set.Resource.Policy.Kind == KindTrust {
		return Decision{Reason: ReasonTrust}
	}
	if resFound {
		switch resKind {
		case pmDirect:
			return allow(resAllow)
		case pmRole:
			if boundaryOK && sessionOK {
				return allow(resAllow)
			}
		}
	}
	if found {
		switch {
		case !boundaryOK:
			return Decision{Reason: ReasonBoundary, Matched: idAllow}
		case !sessionOK:
			return Decision{Reason: ReasonSession, Matched: idAllow}
		}
		return allow(idAllow)
	}
	return Decision{Reason: ReasonNoAllow}
}

// scan walks one policy without principals. It returns a Decision and true on
// an applicable Deny; it records the first applicable Allow in allow/found.
func (e *evalCtx) scan(np Named, src Source, allow *Match, found *bool) (Decision, bool) {
	if np.Policy == nil {
		return Decision{}, false
	}
	for i := range np.Policy.Statements {
		st := &np.Policy.Statements[i]
		if st.Effect == Allow && *found {
			continue
		}
		if !st.applies(e) {
			continue
		}
		m := Match{Policy: np.Name, Sid: st.Sid, Index: i, Effect: st.Effect, Source: src}
		if st.Effect == Deny {
			return Decision{ExplicitDeny: true, Reason: ReasonExplicitDeny, Matched: m}, true
		}
		*allow, *found = m, true
	}
	return Decision{}, false
}

// applies reports whether the statement's action, resource and conditions
// match the request (principals are the caller's business).
func (st *Statement) applies(e *evalCtx) bool {
	c := &st.c
	if c.matchAction(e) == c.notAction {
		return false
	}
	if c.hasResource {
		m := false
		for i := range c.resources {
			if c.resources[i].match(e.req.Resource, e) {
				m = true
				break
			}
		}
		if m == c.notResource {
			return false
		}
	}
	for i := range c.conds {
		if !c.conds[i].eval(e) {
			return false
		}
	}
	return true
}

func (c *compiled) matchAction(e *evalCtx) bool {
	if c.actionSet != nil && e.inActionSet(c.actionSet) {
		return true
	}
	for i := range c.actions {
		// Action patterns compare case-insensitively (fold).
		if c.actions[i].match(e.req.Action, nil) {
			return true
		}
	}
	return false
}

// principalMatch reports how the statement's Principal / NotPrincipal
// covers the caller.
func (st *Statement) principalMatch(c *Caller) pmatch {
	if st.NotPrincipal != nil {
		if st.NotPrincipal.match(c) != pmNone {
			return pmNone
		}
		return pmDirect
	}
	if st.Principal == nil {
		return pmNone
	}
	return st.Principal.match(c)
}

func (p *Principal) match(c *Caller) pmatch {
	if p.All {
		return pmDirect
	}
	best := pmNone
	for _, a := range p.AWS {
		switch {
		case c.ARN != "" && a == c.ARN:
			return pmDirect
		case c.Type == PrincipalAssumedRole && c.PrincipalARN != "" && a == c.PrincipalARN:
			best = max(best, pmRole)
		case c.AccountID != "" && isRootOf(a, c.AccountID):
			best = max(best, pmAccount)
		}
	}
	if c.Service != "" {
		for _, s := range p.Service {
			if s == c.Service {
				return pmDirect
			}
		}
	}
	if c.Federated != "" {
		for _, f := range p.Federated {
			if f == c.Federated {
				return pmDirect
			}
		}
	}
	return best
}

// isRootOf reports whether a is arn:<partition>:iam::<account>:root.
func isRootOf(a, account string) bool {
	rest, ok := strings.CutPrefix(a, "arn:")
	if !ok {
		return false
	}
	i := strings.IndexByte(rest, ':')
	if i < 0 {
		return false
	}
	rest = rest[i+1:]
	return len(rest) == len("iam::")+len(account)+len(":root") &&
		strings.HasPrefix(rest, "iam::") &&
		rest[len("iam::"):len("iam::")+len(account)] == account &&
		strings.HasSuffix(rest, ":root")
}

// lookup returns the values of condition key (as written, and lower-cased).
// The global keys come from the Request's fields; every other key from
// Request.Context, matched case-insensitively.
func (e *evalCtx) lookup(orig, lower string) values {
	r := e.req
	one := func(s string) values {
		if s == "" {
			return values{}
		}
		return values{one: s, n: 1}
	}
	c := &r.Caller
	switch lower {
	case "aws:username":
		return one(c.Username)
	case "aws:userid":
		return one(c.UserID)
	case "aws:principalaccount":
		return one(c.AccountID)
	case "aws:principalarn":
		if c.PrincipalARN != "" {
			return one(c.PrincipalARN)
		}
		return one(c.ARN)
	case "aws:principaltype":
		return one(c.Type)
	case "aws:sourceip":
		return one(r.SourceIP)
	case "aws:securetransport":
		return one(strconv.FormatBool(r.SecureTransport))
	case "aws:requestedregion":
		return one(r.Region)
	case "aws:currenttime":
		if r.Time.IsZero() {
			return values{}
		}
		return one(r.Time.UTC().Format("2006-01-02T15:04:05Z"))
	case "aws:epochtime":
		if r.Time.IsZero() {
			return values{}
		}
		return one(strconv.FormatInt(r.Time.Unix(), 10))
	case "aws:multifactorauthpresent":
		if !c.Temporary {
			return values{}
		}
		return one(strconv.FormatBool(c.MFA))
	case "aws:multifactorauthage":
		if !c.MFA || c.MFAAuthTime.IsZero() || r.Time.IsZero() {
			return values{}
		}
		return one(strconv.FormatInt(int64(r.Time.Sub(c.MFAAuthTime)/time.Second), 10))
	case "aws:tokenissuetime":
		if !c.Temporary || c.TokenIssued.IsZero() {
			return values{}
		}
		return one(c.TokenIssued.UTC().Format("2006-01-02T15:04:05Z"))
	}
	if r.Context == nil {
		if lower == "aws:viaawsservice" {
			return one("false")
		}
		return values{}
	}
	if v, ok := r.Context[orig]; ok {
		return values{many: v, n: len(v)}
	}
	for k, v := range r.Context {
		if strings.EqualFold(k, lower) {
			return values{many: v, n: len(v)}
		}
	}
	if lower == "aws:viaawsservice" {
		return one("false")
	}
	return values{}
}

// variable resolves a policy variable (lower-cased key) to a single value.
func (e *evalCtx) variable(key string) (string, bool) {
	if e == nil {
		return "", false
	}
	v := e.lookup(key, key)
	if v.n != 1 {
		return "", false
	}
	return v.at(0), true
}
