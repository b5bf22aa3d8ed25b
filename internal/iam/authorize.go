package iam

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cachalot-dev/cachalot/internal/auth"
	"github.com/cachalot-dev/cachalot/internal/awserr"
	"github.com/cachalot-dev/cachalot/internal/iam/policy"
	"github.com/cachalot-dev/cachalot/internal/store"
)

// policySet is a principal's compiled policies, cached until the next write.
type policySet struct {
	set policy.Set
	// byAction caches, per lower-cased action, set reduced to the statements
	// that can apply to that action (see forAction).
	byAction sync.Map
}

// forAction returns the principal's policies reduced to the statements whose
// Action can match action (and every NotAction statement). Decisions are
// unchanged: a statement whose Action does not match never applies. Policies
// left empty are dropped from Identity; a boundary or session policy is kept
// even when empty, since its silence denies.
func (ps *policySet) forAction(action string) *policy.Set {
	// Keyed by the action as the endpoint spells it (the operation name), so
	// the hot path does not lower-case it.
	if v, ok := ps.byAction.Load(action); ok {
		return v.(*policy.Set)
	}
	la := strings.ToLower(action)
	out := &policy.Set{Resource: ps.set.Resource}
	for _, n := range ps.set.Identity {
		if f := filterNamed(n, la); len(f.Policy.Statements) > 0 {
			out.Identity = append(out.Identity, f)
		}
	}
	if ps.set.Boundary != nil {
		b := filterNamed(*ps.set.Boundary, la)
		out.Boundary = &b
	}
	for _, n := range ps.set.Session {
		out.Session = append(out.Session, filterNamed(n, la))
	}
	v, _ := ps.byAction.LoadOrStore(action, out)
	return v.(*policy.Set)
}

func filterNamed(n policy.Named, action string) policy.Named {
	keep := make([]policy.Statement, 0, len(n.Policy.Statements))
	for _, st := range n.Policy.Statements {
		if len(st.NotAction) > 0 || slices.ContainsFunc(st.Action, func(pat string) bool { return glob(strings.ToLower(pat), action) }) {
			keep = append(keep, st)
		}
	}
	if len(keep) == len(n.Policy.Statements) {
		return n
	}
	p := *n.Policy
	p.Statements = keep
	return policy.Named{Name: n.Name, Policy: &p}
}

// glob matches IAM action patterns: '*' is any run, '?' any one character.
func glob(pat, s string) bool {
	for len(pat) > 0 {
		switch pat[0] {
		case '*':
			for len(pat) > 0 && pat[0] == '*' {
				pat = pat[1:]
			}
			if pat == "" {
				return true
			}
			for i := 0; i <= len(s); i++ {
				if glob(pat, s[i:]) {
					return true
				}
			}
			return false
		case '?':
			if s == "" {
				return false
			}
		default:
			if s == "" || s[0] != pat[0] {
				return false
			}
		}
		pat, s = pat[1:], s[1:]
	}
	return s == ""
}

// setKey names the cache entry of a principal: users share one entry for
// all their keys (by unique id: a user created with a deleted one's name is
// another user); each assumed-role session has its own (session policies).
func setKey(p auth.Principal) string {
	switch p.Type {
	case auth.User:
		return "u/" + p.AccountID + "/" + strings.ToLower(p.Name) + "/" + p.UserID
	case auth.AssumedRole:
		return "s/" + p.AccessKeyID
	}
	return "x/" + p.ARN
}

// policies returns the compiled policy set of p, from the cache or loaded.
func (s *Service) policies(ctx context.Context, p auth.Principal) (*policySet, error) {
	k := setKey(p)
	s.mu.RLock()
	ps, ok := s.sets[k]
	gen := s.gen
	s.mu.RUnlock()
	if ok {
		return ps, nil
	}
	ps = &policySet{}
	err := s.view(ctx, func(tx store.Tx) error {
		switch p.Type {
		case auth.User:
			u, err := s.getUser(tx, p.AccountID, p.Name)
			if err != nil {
				return err
			}
			if p.UserID != "" && u.ID != p.UserID {
				return errPrincipalReplaced
			}
			if err := s.gather(tx, p.AccountID, "user/"+u.Name, u.Inline, u.Attached, &ps.set.Identity); err != nil {
				return err
			}
			for _, gn := range u.Groups {
				g, err := s.getGroup(tx, p.AccountID, gn)
				if err != nil {
					return err
				}
				if err := s.gather(tx, p.AccountID, "group/"+g.Name, g.Inline, g.Attached, &ps.set.Identity); err != nil {
					return err
				}
			}
			return s.boundary(tx, p.AccountID, u.Boundary, &ps.set)
		case auth.AssumedRole:
			sess, err := s.sessionTx(tx, p.AccessKeyID)
			if err != nil {
				return err
			}
			r, err := s.getRole(tx, sess.Account, sess.RoleName)
			if err != nil {
				return err
			}
			if sess.RoleID != "" && r.ID != sess.RoleID {
				return errPrincipalReplaced
			}
			if err := s.gather(tx, p.AccountID, "role/"+r.Name, r.Inline, r.Attached, &ps.set.Identity); err != nil {
				return err
			}
			if sess.Policy != "" {
				sp, err := s.parse(sess.Policy)
				if err != nil {
					return fmt.Errorf("session policy: %w", err)
				}
				ps.set.Session = append(ps.set.Session, policy.Named{Name: "session", Policy: sp})
			}
			if len(sess.PolicyARNs) > 0 {
				if err := s.gather(tx, p.AccountID, "session", nil, sess.PolicyARNs, &ps.set.Session); err != nil {
					return err
				}
			}
			return s.boundary(tx, p.AccountID, r.Boundary, &ps.set)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	if s.gen == gen {
		if len(s.sets) > 100_000 {
			clear(s.sets)
		}
		s.sets[k] = ps
	}
	s.mu.Unlock()
	return ps, nil
}

func (s *Service) sessionTx(tx store.Tx, akid string) (*sessionRec, error) {
	var r sessionRec
	if err := store.GetJSON(tx, sessionKey(akid), &r); err != nil {
		return nil, fmt.Errorf("session %s: %w", akid, err)
	}
	return &r, nil
}

// parse parses an identity policy document, reusing the result for the same
// text: documents are immutable once stored, so a write that invalidates the
// policy sets need not re-parse the policies it did not change.
func (s *Service) parse(doc string) (*policy.Policy, error) {
	s.parsedMu.Lock()
	p, ok := s.parsed[doc]
	s.parsedMu.Unlock()
	if ok {
		return p, nil
	}
	p, err := policy.Parse(doc, policy.KindIdentity)
	if err != nil {
		return nil, err
	}
	s.parsedMu.Lock()
	if len(s.parsed) > 10_000 {
		clear(s.parsed)
	}
	s.parsed[doc] = p
	s.parsedMu.Unlock()
	return p, nil
}

// gather appends the inline and attached policies of an entity to out.
func (s *Service) gather(tx store.Tx, acct, owner string, inline map[string]string, attached []string, out *[]policy.Named) error {
	for _, name := range slices.Sorted(maps.Keys(inline)) {
		p, err := s.parse(inline[name])
		if err != nil {
			return fmt.Errorf("inline policy %s of %s: %w", name, owner, err)
		}
		*out = append(*out, policy.Named{Name: owner + "/" + name, Policy: p})
	}
	for _, arn := range attached {
		n, err := s.managedNamed(tx, acct, arn)
		if err != nil {
			return err
		}
		if n != nil {
			*out = append(*out, *n)
		}
	}
	return nil
}

// managedNamed returns the parsed default version of a managed policy (nil
// when it no longer exists).
func (s *Service) managedNamed(tx store.Tx, acct, arn string) (*policy.Named, error) {
	if m, ok := s.managedByID[arn]; ok {
		return &m.named, nil
	}
	p, err := s.customerPolicy(tx, acct, arn)
	if awserr.HasCode(err, "NoSuchEntity") {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	v := p.version(p.Default)
	if v == nil {
		return nil, nil
	}
	pp, err := s.parse(v.Document)
	if err != nil {
		return nil, fmt.Errorf("policy %s: %w", arn, err)
	}
	return &policy.Named{Name: arn, Policy: pp}, nil
}

func (s *Service) boundary(tx store.Tx, acct, arn string, set *policy.Set) error {
	if arn == "" {
		return nil
	}
	n, err := s.managedNamed(tx, acct, arn)
	if err != nil {
		return err
	}
	if n == nil {
		// A boundary that no longer exists allows nothing.
		empty, _ := policy.Parse(`{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}]}`, policy.KindIdentity)
		n = &policy.Named{Name: arn, Policy: empty}
	}
	set.Boundary = n
	return nil
}

// Authorize implements auth.Authorizer: the root user may do anything in its
// own account; anyone else needs an identity-based policy allowing the action
// on every resource it touches, with no explicit deny, within the
// permissions boundary and session policies.
func (s *Service) Authorize(ctx context.Context, r auth.Request) error {
	p := r.Principal
	s.recordUse(p.AccessKeyID, r)
	action := r.Service + ":" + r.Action
	switch action {
	case "sts:GetCallerIdentity":
		// Needs no permission; it cannot be denied.
		return nil
	case "sts:AssumeRole":
		// STS evaluates the role's trust policy together with the caller's
		// identity policies (AuthorizeAssumeRole).
		return nil
	}
	// GetSessionToken credentials without MFA may not call IAM, and may call
	// no STS action but AssumeRole and GetCallerIdentity.
	if p.Temporary && p.Type != auth.AssumedRole {
		if (r.Service == "iam" && !p.MFAAuthenticated) || r.Service == "sts" {
			why := "with temporary credentials from GetSessionToken"
			if !p.MFAAuthenticated {
				why += " without MFA"
			}
			res := "*"
			if len(r.Resources) > 0 {
				res = r.Resources[0]
			}
			return s.deny(r, action, res, why)
		}
	}
	if p.Type == auth.Root {
		return nil
	}
	ps, err := s.policies(ctx, p)
	if errors.Is(err, errPrincipalReplaced) {
		// Deleted (and its name reused) since its key was resolved.
		return invalidToken(r.Service)
	}
	if err != nil {
		return fmt.Errorf("load policies of %s: %w", p.ARN, err)
	}
	req := policy.Request{Action: action, Caller: policy.CallerFromAuth(p), Time: r.Time, SourceIP: r.SourceIP,
		SecureTransport: r.SecureTransport, Region: r.Region, Context: r.Context}
	set := ps.forAction(action)
	resources := r.Resources
	if len(resources) == 0 {
		resources = []string{"*"}
	}
	for _, res := range resources {
		req.Resource = res
		if action == "iam:CreateServiceLinkedRole" || action == "iam:DeleteServiceLinkedRole" || action == "iam:GetServiceLinkedRoleDeletionStatus" {
			req.Context = withServiceName(r.Context, res)
		}
		d := policy.Evaluate(&req, *set)
		if action == "sts:GetSessionToken" && !d.ExplicitDeny {
			continue
		}
		if !d.Allowed {
			return denial(r.Service, d.Message(&req))
		}
	}
	return nil
}

// withServiceName adds iam:AWSServiceName, taken from a service-linked
// role's path (/aws-service-role/<service>/), to a request context.
func withServiceName(c map[string][]string, roleARN string) map[string][]string {
	const marker = ":role/aws-service-role/"
	i := strings.Index(roleARN, marker)
	if i < 0 {
		return c
	}
	svc := roleARN[i+len(marker):]
	if j := strings.IndexByte(svc, '/'); j >= 0 {
		svc = svc[:j]
	}
	out := maps.Clone(c)
	if out == nil {
		out = map[string][]string{}
	}
	out["iam:AWSServiceName"] = []string{svc}
	return out
}

// invalidToken is the error for credentials whose principal no longer
// exists, in the service's words (the wire edge answers the same for keys
// it cannot resolve).
func invalidToken(service string) error {
	if service == "ec2" {
		return awserr.WithStatus(401, "AuthFailure", "AWS was not able to validate the provided access credentials")
	}
	return awserr.WithStatus(403, "InvalidClientTokenId", "The security token included in the request is invalid.")
}

func denial(service, msg string) error {
	if service == "ec2" {
		return awserr.WithStatus(403, "UnauthorizedOperation", "You are not authorized to perform this operation. %s", msg)
	}
	return awserr.WithStatus(403, "AccessDenied", "%s", msg)
}

func (s *Service) deny(r auth.Request, action, resource, why string) error {
	msg := "User: " + r.Principal.ARN + " is not authorized to perform: " + action
	if resource != "" && resource != "*" {
		msg += " on resource: " + resource
	}
	return denial(r.Service, msg+" "+why)
}

func (s *Service) recordUse(akid string, r auth.Request) {
	if akid == "" || r.Principal.Temporary {
		return
	}
	t := r.Time
	if t.IsZero() {
		t = s.now()
	}
	s.lastMu.Lock()
	s.lastUsed[akid] = keyUse{when: t.Truncate(time.Minute), service: r.Service, region: r.Region}
	s.lastMu.Unlock()
}

// Role is what STS needs to know of a role it issues credentials for.
type Role struct {
	AccountID  string
	Name, ID   string
	ARN        string
	MaxSession time.Duration
}

// AuthorizeAssumeRole decides whether the principal of r may assume the role
// r.Resources[0] (a role ARN, possibly in another account of the
// installation): the role's trust policy must allow the caller and, across
// accounts, the caller's identity policies must allow sts:AssumeRole too.
// r.Context carries sts:ExternalId and the like; mfa marks an MFA code
// checked by the caller. It returns the role or an AccessDenied error.
func (s *Service) AuthorizeAssumeRole(ctx context.Context, r auth.Request, mfa bool) (*Role, error) {
	p := r.Principal
	roleARN := ""
	if len(r.Resources) > 0 {
		roleARN = r.Resources[0]
	}
	denied := awserr.WithStatus(403, "AccessDenied", "User: %s is not authorized to perform: sts:AssumeRole on resource: %s", p.ARN, roleARN)
	a, err := policy.ParseARN(roleARN)
	if err != nil || a.Service != "iam" {
		return nil, awserr.New("ValidationError", "%s is invalid", roleARN)
	}
	typ, _, name := policy.IAMPathName(a)
	if typ != policy.IAMRole || name == "" {
		return nil, awserr.New("ValidationError", "%s is invalid", roleARN)
	}
	var role *roleRec
	err = s.view(ctx, func(tx store.Tx) (err error) { role, err = s.getRole(tx, a.AccountID, name); return })
	if awserr.HasCode(err, "NoSuchEntity") {
		return nil, denied
	}
	if err != nil {
		return nil, err
	}
	if roleARNOf(a.AccountID, role) != roleARN || role.ServiceLinked != "" {
		return nil, denied
	}
	trust, err := policy.Parse(role.Trust, policy.KindTrust)
	if err != nil {
		return nil, fmt.Errorf("trust policy of %s: %w", roleARN, err)
	}
	caller := policy.CallerFromAuth(p)
	if mfa {
		caller.Temporary, caller.MFA, caller.MFAAuthTime = true, true, r.Time
	}
	req := policy.Request{Action: "sts:AssumeRole", Resource: roleARN, Caller: caller, Time: r.Time, SourceIP: r.SourceIP,
		SecureTransport: r.SecureTransport, Region: r.Region, Context: r.Context}
	var identity policy.Set
	if p.Type == auth.Root {
		identity.Identity = []policy.Named{rootPolicy()}
	} else {
		ps, err := s.policies(ctx, p)
		if err != nil {
			return nil, fmt.Errorf("load policies of %s: %w", p.ARN, err)
		}
		identity = ps.set
	}
	with := identity
	with.Resource = &policy.Named{Name: roleARN, Policy: trust}
	if d := policy.Evaluate(&req, with); !d.Allowed {
		return nil, denied
	}
	if a.AccountID != p.AccountID {
		if d := policy.Evaluate(&req, identity); !d.Allowed {
			return nil, denied
		}
	}
	return &Role{AccountID: a.AccountID, Name: role.Name, ID: role.ID, ARN: roleARN, MaxSession: time.Duration(role.MaxSession) * time.Second}, nil
}

func roleARNOf(acct string, r *roleRec) string { return roleARN(acct, r) }

// rootPolicy stands for the root user's implicit permission to do anything
// in its own account when a policy must be evaluated for it.
func rootPolicy() policy.Named {
	p, _ := policy.Parse(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`, policy.KindIdentity)
	return policy.Named{Name: "root", Policy: p}
}

// EnsureServiceLinkedRole makes sure the account has ElastiCache's
// service-linked role AWSServiceRoleForElastiCache, as ElastiCache does on
// the first CreateCacheCluster (or any create): nil if the role exists;
// otherwise, if principal may iam:CreateServiceLinkedRole it (with
// iam:AWSServiceName = elasticache.amazonaws.com, as AmazonElastiCacheFullAccess
// allows), the role is created; otherwise the error is ElastiCache's
// ServiceLinkedRoleNotFoundFault (HTTP 400).
func (s *Service) EnsureServiceLinkedRole(ctx context.Context, principal auth.Principal, accountID string) error {
	var found bool
	err := s.view(ctx, func(tx store.Tx) (err error) {
		found, err = exists(tx, key(accountID, kindRole, policy.ElastiCacheServiceRoleName))
		return
	})
	if err != nil || found {
		return err
	}
	arn := policy.IAMARN(accountID, policy.IAMRole, policy.ElastiCacheServiceRolePath, policy.ElastiCacheServiceRoleName)
	err = s.Authorize(ctx, auth.Request{Principal: principal, Service: "iam", Action: "CreateServiceLinkedRole",
		Resources: []string{arn}, Region: auth.ScopeFrom(ctx).Region, Time: s.now()})
	if err != nil || principal.AccountID != accountID {
		if _, ok := awserr.As(err); ok || err == nil {
			return awserr.WithStatus(400, "ServiceLinkedRoleNotFoundFault",
				"This action cannot be completed due to insufficient permissions. (Recommended action) Please create new role using IAM API CreateServiceLinkedRole.")
		}
		return err
	}
	_, err = s.createServiceLinkedRole(ctx, accountID, policy.ElastiCacheServiceName, "", "")
	if awserr.HasCode(err, "InvalidInput") {
		return nil // created concurrently
	}
	return err
}
