package iam

// Inline policies of users, groups and roles: put, get, delete and list,
// with the per-entity size quota.

import (
	"context"
	"maps"
	"slices"

	"github.com/cachalot-dev/cachalot/internal/api/iamapi"
	"github.com/cachalot-dev/cachalot/internal/iam/policy"
	"github.com/cachalot-dev/cachalot/internal/store"
)

func inlineQuota(kind string) int {
	switch kind {
	case kindUser:
		return maxUserInline
	case kindGroup:
		return maxGroupInline
	}
	return maxRoleInline
}

func (s *Service) putInline(ctx context.Context, kind, name, pname, doc string) error {
	_, acct := caller(ctx)
	if _, err := parseDoc(doc, policy.KindIdentity); err != nil {
		return err
	}
	return s.update(ctx, func(tx store.Tx) error {
		e, err := s.entity(tx, acct, kind, name)
		if err != nil {
			return err
		}
		if e.serviceRol {
			return protectedRoleError(e.name)
		}
		total := docSize(doc)
		for n, d := range *e.inline {
			if n != pname {
				total += docSize(d)
			}
		}
		if total > inlineQuota(kind) {
			return iamapi.ErrLimitExceededException("Maximum policy size of %d bytes exceeded for %s %s", inlineQuota(kind), kind, e.name)
		}
		if *e.inline == nil {
			*e.inline = map[string]string{}
		}
		(*e.inline)[pname] = doc
		return e.save(tx)
	})
}

func noInline(kind, pname string) error {
	return iamapi.ErrNoSuchEntityException("The %s policy with name %s cannot be found.", kind, pname)
}

func (s *Service) getInline(ctx context.Context, kind, name, pname string) (string, string, error) {
	_, acct := caller(ctx)
	var doc, ename string
	err := s.view(ctx, func(tx store.Tx) error {
		e, err := s.entity(tx, acct, kind, name)
		if err != nil {
			return err
		}
		d, ok := (*e.inline)[pname]
		if !ok {
			return noInline(kind, pname)
		}
		doc, ename = d, e.name
		return nil
	})
	return doc, ename, err
}

func (s *Service) deleteInline(ctx context.Context, kind, name, pname string) error {
	_, acct := caller(ctx)
	return s.update(ctx, func(tx store.Tx) error {
		e, err := s.entity(tx, acct, kind, name)
		if err != nil {
			return err
		}
		if e.serviceRol {
			return protectedRoleError(e.name)
		}
		if _, ok := (*e.inline)[pname]; !ok {
			return noInline(kind, pname)
		}
		delete(*e.inline, pname)
		return e.save(tx)
	})
}

func (s *Service) listInline(ctx context.Context, kind, name string, marker *string, maxItems *int32) ([]string, *bool, *string, error) {
	_, acct := caller(ctx)
	var names []string
	if err := s.view(ctx, func(tx store.Tx) error {
		e, err := s.entity(tx, acct, kind, name)
		if err != nil {
			return err
		}
		names = slices.Sorted(maps.Keys(*e.inline))
		return nil
	}); err != nil {
		return nil, nil, nil, err
	}
	pg, t, m, err := page(names, func(n string) string { return n }, marker, maxItems)
	if pg == nil {
		pg = []string{}
	}
	return pg, t, m, err
}

func (s *Service) PutUserPolicy(ctx context.Context, in *iamapi.PutUserPolicyRequest) error {
	if err := validate(in); err != nil {
		return err
	}
	return s.putInline(ctx, kindUser, str(in.UserName), str(in.PolicyName), str(in.PolicyDocument))
}

func (s *Service) PutGroupPolicy(ctx context.Context, in *iamapi.PutGroupPolicyRequest) error {
	if err := validate(in); err != nil {
		return err
	}
	return s.putInline(ctx, kindGroup, str(in.GroupName), str(in.PolicyName), str(in.PolicyDocument))
}

func (s *Service) PutRolePolicy(ctx context.Context, in *iamapi.PutRolePolicyRequest) error {
	if err := validate(in); err != nil {
		return err
	}
	return s.putInline(ctx, kindRole, str(in.RoleName), str(in.PolicyName), str(in.PolicyDocument))
}

func (s *Service) GetUserPolicy(ctx context.Context, in *iamapi.GetUserPolicyRequest) (*iamapi.GetUserPolicyResponse, error) {
	if err := validate(in); err != nil {
		return nil, err
	}
	doc, n, err := s.getInline(ctx, kindUser, str(in.UserName), str(in.PolicyName))
	if err != nil {
		return nil, err
	}
	return &iamapi.GetUserPolicyResponse{UserName: ptr(n), PolicyName: in.PolicyName, PolicyDocument: ptr(encodeDoc(doc))}, nil
}

func (s *Service) GetGroupPolicy(ctx context.Context, in *iamapi.GetGroupPolicyRequest) (*iamapi.GetGroupPolicyResponse, error) {
	if err := validate(in); err != nil {
		return nil, err
	}
	doc, n, err := s.getInline(ctx, kindGroup, str(in.GroupName), str(in.PolicyName))
	if err != nil {
		return nil, err
	}
	return &iamapi.GetGroupPolicyResponse{GroupName: ptr(n), PolicyName: in.PolicyName, PolicyDocument: ptr(encodeDoc(doc))}, nil
}

func (s *Service) GetRolePolicy(ctx context.Context, in *iamapi.GetRolePolicyRequest) (*iamapi.GetRolePolicyResponse, error) {
	if err := validate(in); err != nil {
		return nil, err
	}
	doc, n, err := s.getInline(ctx, kindRole, str(in.RoleName), str(in.PolicyName))
	if err != nil {
		return nil, err
	}
	return &iamapi.GetRolePolicyResponse{RoleName: ptr(n), PolicyName: in.PolicyName, PolicyDocument: ptr(encodeDoc(doc))}, nil
}

func (s *Service) DeleteUserPolicy(ctx context.Context, in *iamapi.DeleteUserPolicyRequest) error {
	if err := validate(in); err != nil {
		return err
	}
	return s.deleteInline(ctx, kindUser, str(in.UserName), str(in.PolicyName))
}

func (s *Service) DeleteGroupPolicy(ctx context.Context, in *iamapi.DeleteGroupPolicyRequest) error {
	if err := validate(in); err != nil {
		return err
	}
	return s.deleteInline(ctx, kindGroup, str(in.GroupName), str(in.PolicyName))
}

func (s *Service) DeleteRolePolicy(ctx context.Context, in *iamapi.DeleteRolePolicyRequest) error {
	if err := validate(in); err != nil {
		return err
	}
	return s.deleteInline(ctx, kindRole, str(in.RoleName), str(in.PolicyName))
}

func (s *Service) ListUserPolicies(ctx context.Context, in *iamapi.ListUserPoliciesRequest) (*iamapi.ListUserPoliciesResponse, error) {
	if err := validate(in); err != nil {
		return nil, err
	}
	ns, t, m, err := s.listInline(ctx, kindUser, str(in.UserName), in.Marker, in.MaxItems)
	if err != nil {
		return nil, err
	}
	return &iamapi.ListUserPoliciesResponse{PolicyNames: ns, IsTruncated: t, Marker: m}, nil
}

func (s *Service) ListGroupPolicies(ctx context.Context, in *iamapi.ListGroupPoliciesRequest) (*iamapi.ListGroupPoliciesResponse, error) {
	if err := validate(in); err != nil {
		return nil, err
	}
	ns, t, m, err := s.listInline(ctx, kindGroup, str(in.GroupName), in.Marker, in.MaxItems)
	if err != nil {
		return nil, err
	}
	return &iamapi.ListGroupPoliciesResponse{PolicyNames: ns, IsTruncated: t, Marker: m}, nil
}

func (s *Service) ListRolePolicies(ctx context.Context, in *iamapi.ListRolePoliciesRequest) (*iamapi.ListRolePoliciesResponse, error) {
	if err := validate(in); err != nil {
		return nil, err
	}
	ns, t, m, err := s.listInline(ctx, kindRole, str(in.RoleName), in.Marker, in.MaxItems)
	if err != nil {
		return nil, err
	}
	return &iamapi.ListRolePoliciesResponse{PolicyNames: ns, IsTruncated: t, Marker: m}, nil
}
