package iam

import (
	"context"
	"strconv"
	"strings"

	"github.com/cachalot-dev/cachalot/internal/api/iamapi"
	"github.com/cachalot-dev/cachalot/internal/iam/policy"
	"github.com/cachalot-dev/cachalot/internal/store"
)

// SimulatePrincipalPolicy evaluates actions on resources against the
// identity policies of a user (including its groups'), group or role, plus
// PolicyInputList, with the same evaluator that authorizes requests.
func (s *Service) SimulatePrincipalPolicy(ctx context.Context, in *iamapi.SimulatePrincipalPolicyRequest) (*iamapi.SimulatePolicyResponse, error) {
	if err := validate(in); err != nil {
		return nil, err
	}
	_, acct := caller(ctx)
	src := str(in.PolicySourceArn)
	a, err := policy.ParseARN(src)
	if err != nil || a.Service != "iam" || a.AccountID != acct {
		return nil, iamapi.ErrInvalidInputException("Invalid PolicySourceArn %s.", src)
	}
	typ, _, name := policy.IAMPathName(a)
	var set policy.Set
	c := policy.Caller{ARN: src, AccountID: acct}
	err = s.view(ctx, func(tx store.Tx) error {
		switch typ {
		case policy.IAMUser:
			u, err := s.getUser(tx, acct, name)
			if err != nil {
				return err
			}
			c.Type, c.Username, c.UserID = policy.PrincipalUser, u.Name, u.ID
			if err := s.gather(tx, acct, "user/"+u.Name, u.Inline, u.Attached, &set.Identity); err != nil {
				return err
			}
			for _, gn := range u.Groups {
				g, err := s.getGroup(tx, acct, gn)
				if err != nil {
					return err
				}
				if err := s.gather(tx, acct, "group/"+g.Name, g.Inline, g.Attached, &set.Identity); err != nil {
					return err
				}
			}
			return s.boundary(tx, acct, u.Boundary, &set)
		case policy.IAMGroup:
			g, err := s.getGroup(tx, acct, name)
			if err != nil {
				return err
			}
			c.Type = policy.PrincipalUser
			return s.gather(tx, acct, "group/"+g.Name, g.Inline, g.Attached, &set.Identity)
		case policy.IAMRole:
			r, err := s.getRole(tx, acct, name)
			if err != nil {
				return err
			}
			c.Type, c.PrincipalARN, c.UserID = policy.PrincipalAssumedRole, src, r.ID
			if err := s.gather(tx, acct, "role/"+r.Name, r.Inline, r.Attached, &set.Identity); err != nil {
				return err
			}
			return s.boundary(tx, acct, r.Boundary, &set)
		}
		return iamapi.ErrInvalidInputException("Invalid PolicySourceArn %s.", src)
	})
	if err != nil {
		return nil, err
	}
	for i, doc := range in.PolicyInputList {
		p, err := parseDoc(doc, policy.KindIdentity)
		if err != nil {
			return nil, err
		}
		set.Identity = append(set.Identity, policy.Named{Name: "PolicyInputList." + strconv.Itoa(i+1), Policy: p})
	}
	if in.CallerArn != nil {
		c.ARN = *in.CallerArn
	}
	rctx := map[string][]string{}
	for _, e := range in.ContextEntries {
		rctx[str(e.ContextKeyName)] = e.ContextKeyValues
	}
	resources := in.ResourceArns
	if len(resources) == 0 {
		resources = []string{"*"}
	}
	var results []iamapi.EvaluationResult
	for _, action := range in.ActionNames {
		for _, res := range resources {
			req := policy.Request{Action: action, Resource: res, Caller: c, Context: rctx, Time: s.now()}
			d := policy.Evaluate(&req, set)
			decision := "implicitDeny"
			switch {
			case d.Allowed:
				decision = "allowed"
			case d.ExplicitDeny:
				decision = "explicitDeny"
			}
			r := iamapi.EvaluationResult{EvalActionName: ptr(action), EvalDecision: ptr(decision), EvalResourceName: ptr(res),
				MissingContextValues: []string{}, MatchedStatements: []iamapi.Statement{}}
			if d.Matched.Policy != "" {
				typ := "IAM Policy"
				if strings.HasPrefix(d.Matched.Policy, "arn:aws:iam::aws:") {
					typ = "AWS Managed Policy"
				}
				r.MatchedStatements = append(r.MatchedStatements, iamapi.Statement{SourcePolicyId: ptr(d.Matched.Policy), SourcePolicyType: ptr(typ)})
			}
			results = append(results, r)
		}
	}
	return &iamapi.SimulatePolicyResponse{EvaluationResults: results, IsTruncated: ptr(false)}, nil
}
