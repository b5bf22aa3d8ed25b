package iam

// Permissions boundaries of users and roles: a managed policy that caps
// what the identity's own policies may grant.

import (
	"context"

	"github.com/cachalot-dev/cachalot/internal/api/iamapi"
	"github.com/cachalot-dev/cachalot/internal/store"
)

func (s *Service) setBoundary(ctx context.Context, kind, name, arn string) error {
	_, acct := caller(ctx)
	return s.update(ctx, func(tx store.Tx) error {
		e, err := s.entity(tx, acct, kind, name)
		if err != nil {
			return err
		}
		if e.serviceRol {
			return protectedRoleError(e.name)
		}
		if arn != "" {
			if err := s.checkPolicyExists(tx, acct, arn); err != nil {
				return err
			}
		} else if *e.boundary == "" {
			return iamapi.ErrNoSuchEntityException("The %s with name %s does not have a permissions boundary.", kind, e.name)
		}
		*e.boundary = arn
		return e.save(tx)
	})
}

func (s *Service) PutUserPermissionsBoundary(ctx context.Context, in *iamapi.PutUserPermissionsBoundaryRequest) error {
	if err := validate(in); err != nil {
		return err
	}
	return s.setBoundary(ctx, kindUser, str(in.UserName), str(in.PermissionsBoundary))
}

func (s *Service) DeleteUserPermissionsBoundary(ctx context.Context, in *iamapi.DeleteUserPermissionsBoundaryRequest) error {
	if err := validate(in); err != nil {
		return err
	}
	return s.setBoundary(ctx, kindUser, str(in.UserName), "")
}

func (s *Service) PutRolePermissionsBoundary(ctx context.Context, in *iamapi.PutRolePermissionsBoundaryRequest) error {
	if err := validate(in); err != nil {
		return err
	}
	return s.setBoundary(ctx, kindRole, str(in.RoleName), str(in.PermissionsBoundary))
}

func (s *Service) DeleteRolePermissionsBoundary(ctx context.Context, in *iamapi.DeleteRolePermissionsBoundaryRequest) error {
	if err := validate(in); err != nil {
		return err
	}
	return s.setBoundary(ctx, kindRole, str(in.RoleName), "")
}
