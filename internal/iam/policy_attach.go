package iam

// Managed policies attached to users, groups and roles: attach, detach
// (with the per-entity quotas), the attached-policy listings and
// ListEntitiesForPolicy.

import (
	"context"
	"slices"
	"strings"

	"github.com/cachalot-dev/cachalot/internal/api/iamapi"
	"github.com/cachalot-dev/cachalot/internal/iam/policy"
	"github.com/cachalot-dev/cachalot/internal/store"
)

// attachments lists the entities of acct a policy is attached to (or is the
// permissions boundary of).
type attachment struct {
	users, groups, roles []string
	boundaries           int
}

func (s *Service) attachments(tx store.Tx, acct, arn string) (*attachment, error) {
	var a attachment
	err := store.ScanJSON(tx, prefix(acct, kindUser), func(_ string, u *userRec) error {
		if slices.Contains(u.Attached, arn) {
			a.users = append(a.users, u.Name)
		}
		if u.Boundary == arn {
			a.boundaries++
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := store.ScanJSON(tx, prefix(acct, kindGroup), func(_ string, g *groupRec) error {
		if slices.Contains(g.Attached, arn) {
			a.groups = append(a.groups, g.Name)
		}
		return nil
	}); err != nil {
		return nil, err
	}
	err = store.ScanJSON(tx, prefix(acct, kindRole), func(_ string, r *roleRec) error {
		if slices.Contains(r.Attached, arn) {
			a.roles = append(a.roles, r.Name)
		}
		if r.Boundary == arn {
			a.boundaries++
		}
		return nil
	})
	return &a, err
}

func (a *attachment) count() int { return len(a.users) + len(a.groups) + len(a.roles) }

func quotaName(kind string) string {
	switch kind {
	case kindUser:
		return "PoliciesPerUser"
	case kindGroup:
		return "PoliciesPerGroup"
	}
	return "PoliciesPerRole"
}

func (s *Service) attach(ctx context.Context, kind, name, arn string) error {
	_, acct := caller(ctx)
	return s.update(ctx, func(tx store.Tx) error {
		e, err := s.entity(tx, acct, kind, name)
		if err != nil {
			return err
		}
		if err := s.checkPolicyExists(tx, acct, arn); err != nil {
			return err
		}
		if m, ok := s.managedByID[arn]; ok && strings.HasPrefix(m.meta.Path, "/aws-service-role/") && !e.serviceRol {
			return iamapi.ErrPolicyNotAttachableException("Cannot attach a Service Role Policy to a Customer Role.")
		}
		if slices.Contains(*e.attached, arn) {
			return nil
		}
		if len(*e.attached) >= s.maxAtt {
			return iamapi.ErrLimitExceededException("Cannot exceed quota for %s: %d", quotaName(kind), s.maxAtt)
		}
		*e.attached = append(*e.attached, arn)
		return e.save(tx)
	})
}

func (s *Service) detach(ctx context.Context, kind, name, arn string) error {
	_, acct := caller(ctx)
	return s.update(ctx, func(tx store.Tx) error {
		e, err := s.entity(tx, acct, kind, name)
		if err != nil {
			return err
		}
		i := slices.Index(*e.attached, arn)
		if i < 0 {
			return iamapi.ErrNoSuchEntityException("Policy %s was not found.", arn)
		}
		*e.attached = slices.Delete(*e.attached, i, i+1)
		return e.save(tx)
	})
}

func (s *Service) AttachUserPolicy(ctx context.Context, in *iamapi.AttachUserPolicyRequest) error {
	if err := validate(in); err != nil {
		return err
	}
	return s.attach(ctx, kindUser, str(in.UserName), str(in.PolicyArn))
}

func (s *Service) AttachGroupPolicy(ctx context.Context, in *iamapi.AttachGroupPolicyRequest) error {
	if err := validate(in); err != nil {
		return err
	}
	return s.attach(ctx, kindGroup, str(in.GroupName), str(in.PolicyArn))
}

func (s *Service) AttachRolePolicy(ctx context.Context, in *iamapi.AttachRolePolicyRequest) error {
	if err := validate(in); err != nil {
		return err
	}
	return s.attach(ctx, kindRole, str(in.RoleName), str(in.PolicyArn))
}

func (s *Service) DetachUserPolicy(ctx context.Context, in *iamapi.DetachUserPolicyRequest) error {
	if err := validate(in); err != nil {
		return err
	}
	return s.detach(ctx, kindUser, str(in.UserName), str(in.PolicyArn))
}

func (s *Service) DetachGroupPolicy(ctx context.Context, in *iamapi.DetachGroupPolicyRequest) error {
	if err := validate(in); err != nil {
		return err
	}
	return s.detach(ctx, kindGroup, str(in.GroupName), str(in.PolicyArn))
}

func (s *Service) DetachRolePolicy(ctx context.Context, in *iamapi.DetachRolePolicyRequest) error {
	if err := validate(in); err != nil {
		return err
	}
	if err := s.protectedRole(ctx, str(in.RoleName)); err != nil {
		return err
	}
	return s.detach(ctx, kindRole, str(in.RoleName), str(in.PolicyArn))
}

// policyName returns the name of a managed policy ARN.
func policyName(arn string) string {
	if i := strings.LastIndexByte(arn, '/'); i >= 0 {
		return arn[i+1:]
	}
	return arn
}

func (s *Service) listAttached(ctx context.Context, kind, name string, pfx, marker *string, maxItems *int32) ([]iamapi.AttachedPolicy, *bool, *string, error) {
	_, acct := caller(ctx)
	var arns []string
	if err := s.view(ctx, func(tx store.Tx) error {
		e, err := s.entity(tx, acct, kind, name)
		if err != nil {
			return err
		}
		arns = slices.Clone(*e.attached)
		return nil
	}); err != nil {
		return nil, nil, nil, err
	}
	var out []iamapi.AttachedPolicy
	for _, arn := range arns {
		if pfx != nil {
			a, err := policy.ParseARN(arn)
			if err == nil {
				if _, p, _ := policy.IAMPathName(a); !strings.HasPrefix(p, *pfx) {
					continue
				}
			}
		}
		out = append(out, iamapi.AttachedPolicy{PolicyArn: ptr(arn), PolicyName: ptr(policyName(arn))})
	}
	pg, trunc, next, err := page(out, func(p iamapi.AttachedPolicy) string { return *p.PolicyArn }, marker, maxItems)
	if pg == nil {
		pg = []iamapi.AttachedPolicy{}
	}
	return pg, trunc, next, err
}

func (s *Service) ListAttachedUserPolicies(ctx context.Context, in *iamapi.ListAttachedUserPoliciesRequest) (*iamapi.ListAttachedUserPoliciesResponse, error) {
	if err := validate(in); err != nil {
		return nil, err
	}
	ps, t, m, err := s.listAttached(ctx, kindUser, str(in.UserName), in.PathPrefix, in.Marker, in.MaxItems)
	if err != nil {
		return nil, err
	}
	return &iamapi.ListAttachedUserPoliciesResponse{AttachedPolicies: ps, IsTruncated: t, Marker: m}, nil
}

func (s *Service) ListAttachedGroupPolicies(ctx context.Context, in *iamapi.ListAttachedGroupPoliciesRequest) (*iamapi.ListAttachedGroupPoliciesResponse, error) {
	if err := validate(in); err != nil {
		return nil, err
	}
	ps, t, m, err := s.listAttached(ctx, kindGroup, str(in.GroupName), in.PathPrefix, in.Marker, in.MaxItems)
	if err != nil {
		return nil, err
	}
	return &iamapi.ListAttachedGroupPoliciesResponse{AttachedPolicies: ps, IsTruncated: t, Marker: m}, nil
}

func (s *Service) ListAttachedRolePolicies(ctx context.Context, in *iamapi.ListAttachedRolePoliciesRequest) (*iamapi.ListAttachedRolePoliciesResponse, error) {
	if err := validate(in); err != nil {
		return nil, err
	}
	ps, t, m, err := s.listAttached(ctx, kindRole, str(in.RoleName), in.PathPrefix, in.Marker, in.MaxItems)
	if err != nil {
		return nil, err
	}
	return &iamapi.ListAttachedRolePoliciesResponse{AttachedPolicies: ps, IsTruncated: t, Marker: m}, nil
}

func (s *Service) ListEntitiesForPolicy(ctx context.Context, in *iamapi.ListEntitiesForPolicyRequest) (*iamapi.ListEntitiesForPolicyResponse, error) {
	if err := validate(in); err != nil {
		return nil, err
	}
	_, acct := caller(ctx)
	arn := str(in.PolicyArn)
	out := &iamapi.ListEntitiesForPolicyResponse{PolicyGroups: []iamapi.PolicyGroup{}, PolicyRoles: []iamapi.PolicyRole{}, PolicyUsers: []iamapi.PolicyUser{}, IsTruncated: ptr(false)}
	filter := str(in.EntityFilter)
	err := s.view(ctx, func(tx store.Tx) error {
		if err := s.checkPolicyExists(tx, acct, arn); err != nil {
			return err
		}
		att, err := s.attachments(tx, acct, arn)
		if err != nil {
			return err
		}
		if filter == "" || filter == "User" {
			for _, n := range att.users {
				u, err := s.getUser(tx, acct, n)
				if err != nil {
					return err
				}
				if pathMatches(u.Path, in.PathPrefix) {
					out.PolicyUsers = append(out.PolicyUsers, iamapi.PolicyUser{UserId: ptr(u.ID), UserName: ptr(u.Name)})
				}
			}
		}
		if filter == "" || filter == "Group" {
			for _, n := range att.groups {
				g, err := s.getGroup(tx, acct, n)
				if err != nil {
					return err
				}
				if pathMatches(g.Path, in.PathPrefix) {
					out.PolicyGroups = append(out.PolicyGroups, iamapi.PolicyGroup{GroupId: ptr(g.ID), GroupName: ptr(g.Name)})
				}
			}
		}
		if filter == "" || filter == "Role" {
			for _, n := range att.roles {
				r, err := s.getRole(tx, acct, n)
				if err != nil {
					return err
				}
				if pathMatches(r.Path, in.PathPrefix) {
					out.PolicyRoles = append(out.PolicyRoles, iamapi.PolicyRole{RoleId: ptr(r.ID), RoleName: ptr(r.Name)})
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
