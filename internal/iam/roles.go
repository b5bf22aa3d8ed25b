package iam

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/cachalot-dev/cachalot/internal/api/iamapi"
	"github.com/cachalot-dev/cachalot/internal/iam/policy"
	"github.com/cachalot-dev/cachalot/internal/store"
)

func roleARN(acct string, r *roleRec) string {
	return policy.IAMARN(acct, policy.IAMRole, r.Path, r.Name)
}

func roleOut(acct string, r *roleRec, full bool) iamapi.Role {
	out := iamapi.Role{Arn: ptr(roleARN(acct, r)), AssumeRolePolicyDocument: ptr(encodeDoc(r.Trust)), CreateDate: timePtr(r.Created),
		Description: optional(r.Description), MaxSessionDuration: ptr(r.MaxSession), Path: ptr(r.Path), RoleId: ptr(r.ID), RoleName: ptr(r.Name)}
	if r.Boundary != "" {
		out.PermissionsBoundary = &iamapi.AttachedPermissionsBoundary{PermissionsBoundaryArn: ptr(r.Boundary), PermissionsBoundaryType: ptr("PermissionsBoundaryPolicy")}
	}
	if full {
		out.Tags = tagsOut(r.Tags)
		out.RoleLastUsed = &iamapi.RoleLastUsed{}
		if r.LastUsed != nil {
			out.RoleLastUsed = &iamapi.RoleLastUsed{LastUsedDate: timePtr(*r.LastUsed), Region: optional(r.LastRegion)}
		}
	}
	return out
}

func protectedRoleError(name string) error {
	return iamapi.ErrUnmodifiableEntityException("Cannot perform the operation on the protected role '%s' - this role is only modifiable by AWS", name)
}

// protectedRole refuses changes to a service-linked role.
func (s *Service) protectedRole(ctx context.Context, name string) error {
	_, acct := caller(ctx)
	var r *roleRec
	err := s.view(ctx, func(tx store.Tx) (err error) { r, err = s.getRole(tx, acct, name); return })
	if err != nil {
		return err
	}
	if r.ServiceLinked != "" {
		return protectedRoleError(r.Name)
	}
	return nil
}

func checkTrust(doc string) error {
	if _, err := parseDoc(doc, policy.KindTrust); err != nil {
		return err
	}
	if docSize(doc) > maxTrustSize {
		return iamapi.ErrLimitExceededException("Cannot exceed quota for ACLSizePerRole: %d", maxTrustSize)
	}
	return nil
}

func (s *Service) CreateRole(ctx context.Context, in *iamapi.CreateRoleRequest) (*iamapi.CreateRoleResponse, error) {
	if err := validate(in); err != nil {
		return nil, err
	}
	_, acct := caller(ctx)
	if err := checkTrust(str(in.AssumeRolePolicyDocument)); err != nil {
		return nil, err
	}
	id, err := newID(prefixRole)
	if err != nil {
		return nil, err
	}
	r := roleRec{Name: str(in.RoleName), ID: id, Path: normPath(in.Path), Created: s.now().UTC(), Trust: str(in.AssumeRolePolicyDocument),
		Description: str(in.Description), MaxSession: 3600, Tags: mergeTags(nil, in.Tags)}
	if in.MaxSessionDuration != nil {
		r.MaxSession = *in.MaxSessionDuration
	}
	if strings.HasPrefix(r.Path, "/aws-service-role/") {
		return nil, iamapi.ErrInvalidInputException("The path /aws-service-role/ is reserved for service-linked roles.")
	}
	err = s.update(ctx, func(tx store.Tx) error {
		return s.putNewRole(tx, acct, &r, in.PermissionsBoundary)
	})
	if err != nil {
		return nil, err
	}
	return &iamapi.CreateRoleResponse{Role: ptr(roleOut(acct, &r, false))}, nil
}

func (s *Service) putNewRole(tx store.Tx, acct string, r *roleRec, boundary *string) error {
	if ok, err := exists(tx, key(acct, kindRole, r.Name)); err != nil || ok {
		if ok {
			return iamapi.ErrEntityAlreadyExistsException("Role with name %s already exists.", r.Name)
		}
		return err
	}
	if n, err := count(tx, prefix(acct, kindRole)); err != nil {
		return err
	} else if n >= maxRoles {
		return iamapi.ErrLimitExceededException("Cannot exceed quota for RolesPerAccount: %d", maxRoles)
	}
	if boundary != nil {
		if err := s.checkPolicyExists(tx, acct, *boundary); err != nil {
			return err
		}
		r.Boundary = *boundary
	}
	return store.PutJSON(tx, key(acct, kindRole, r.Name), r)
}

func (s *Service) GetRole(ctx context.Context, in *iamapi.GetRoleRequest) (*iamapi.GetRoleResponse, error) {
	if err := validate(in); err != nil {
		return nil, err
	}
	_, acct := caller(ctx)
	var r *roleRec
	if err := s.view(ctx, func(tx store.Tx) (err error) { r, err = s.getRole(tx, acct, str(in.RoleName)); return }); err != nil {
		return nil, err
	}
	return &iamapi.GetRoleResponse{Role: ptr(roleOut(acct, r, true))}, nil
}

func (s *Service) ListRoles(ctx context.Context, in *iamapi.ListRolesRequest) (*iamapi.ListRolesResponse, error) {
	if err := validate(in); err != nil {
		return nil, err
	}
	_, acct := caller(ctx)
	var rs []*roleRec
	if err := s.view(ctx, func(tx store.Tx) (err error) { rs, err = store.ListJSON[roleRec](tx, prefix(acct, kindRole)); return }); err != nil {
		return nil, err
	}
	rs = slices.DeleteFunc(rs, func(r *roleRec) bool { return !pathMatches(r.Path, in.PathPrefix) })
	pg, trunc, marker, err := page(rs, func(r *roleRec) string { return strings.ToLower(r.Name) }, in.Marker, in.MaxItems)
	if err != nil {
		return nil, err
	}
	out := &iamapi.ListRolesResponse{Roles: []iamapi.Role{}, IsTruncated: trunc, Marker: marker}
	for _, r := range pg {
		out.Roles = append(out.Roles, roleOut(acct, r, false))
	}
	return out, nil
}

func (s *Service) modifyRole(ctx context.Context, name string, allowSLR bool, fn func(r *roleRec) error) error {
	_, acct := caller(ctx)
	return s.update(ctx, func(tx store.Tx) error {
		r, err := s.getRole(tx, acct, name)
		if err != nil {
			return err
		}
		if r.ServiceLinked != "" && !allowSLR {
			return protectedRoleError(r.Name)
		}
		if err := fn(r); err != nil {
			return err
		}
		return store.PutJSON(tx, key(acct, kindRole, r.Name), r)
	})
}

func (s *Service) UpdateRole(ctx context.Context, in *iamapi.UpdateRoleRequest) (*iamapi.UpdateRoleResponse, error) {
	if err := validate(in); err != nil {
		return nil, err
	}
	err := s.modifyRole(ctx, str(in.RoleName), in.MaxSessionDuration == nil, func(r *roleRec) error {
		if in.Description != nil {
			r.Description = *in.Description
		}
		if in.MaxSessionDuration != nil {
			r.MaxSession = *in.MaxSessionDuration
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &iamapi.UpdateRoleResponse{}, nil
}

func (s *Service) UpdateRoleDescription(ctx context.Context, in *iamapi.UpdateRoleDescriptionRequest) (*iamapi.UpdateRoleDescriptionResponse, error) {
	if err := validate(in); err != nil {
		return nil, err
	}
	_, acct := caller(ctx)
	var out roleRec
	err := s.modifyRole(ctx, str(in.RoleName), true, func(r *roleRec) error {
		r.Description = str(in.Description)
		out = *r
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &iamapi.UpdateRoleDescriptionResponse{Role: ptr(roleOut(acct, &out, true))}, nil
}

func (s *Service) UpdateAssumeRolePolicy(ctx context.Context, in *iamapi.UpdateAssumeRolePolicyRequest) error {
	if err := validate(in); err != nil {
		return err
	}
	if err := checkTrust(str(in.PolicyDocument)); err != nil {
		return err
	}
	return s.modifyRole(ctx, str(in.RoleName), false, func(r *roleRec) error {
		r.Trust = str(in.PolicyDocument)
		return nil
	})
}

func (s *Service) TagRole(ctx context.Context, in *iamapi.TagRoleRequest) error {
	if err := validate(in); err != nil {
		return err
	}
	return s.modifyRole(ctx, str(in.RoleName), true, func(r *roleRec) error {
		r.Tags = mergeTags(r.Tags, in.Tags)
		if len(r.Tags) > 50 {
			return iamapi.ErrLimitExceededException("The number of tags has reached the maximum limit.")
		}
		return nil
	})
}

func (s *Service) UntagRole(ctx context.Context, in *iamapi.UntagRoleRequest) error {
	if err := validate(in); err != nil {
		return err
	}
	return s.modifyRole(ctx, str(in.RoleName), true, func(r *roleRec) error {
		r.Tags = untag(r.Tags, in.TagKeys)
		return nil
	})
}

func (s *Service) ListRoleTags(ctx context.Context, in *iamapi.ListRoleTagsRequest) (*iamapi.ListRoleTagsResponse, error) {
	if err := validate(in); err != nil {
		return nil, err
	}
	_, acct := caller(ctx)
	var r *roleRec
	if err := s.view(ctx, func(tx store.Tx) (err error) { r, err = s.getRole(tx, acct, str(in.RoleName)); return }); err != nil {
		return nil, err
	}
	tags := tagsOut(r.Tags)
	if tags == nil {
		tags = []iamapi.Tag{}
	}
	return &iamapi.ListRoleTagsResponse{Tags: tags, IsTruncated: ptr(false)}, nil
}

func (s *Service) DeleteRole(ctx context.Context, in *iamapi.DeleteRoleRequest) error {
	if err := validate(in); err != nil {
		return err
	}
	_, acct := caller(ctx)
	return s.update(ctx, func(tx store.Tx) error {
		r, err := s.getRole(tx, acct, str(in.RoleName))
		if err != nil {
			return err
		}
		if r.ServiceLinked != "" {
			return protectedRoleError(r.Name)
		}
		if len(r.Inline) > 0 || len(r.Attached) > 0 {
			return iamapi.ErrDeleteConflictException("Cannot delete entity, must detach all policies first.")
		}
		inProfile := false
		if err := store.ScanJSON(tx, prefix(acct, kindProfile), func(_ string, p *profileRec) error {
			inProfile = inProfile || slices.Contains(p.Roles, r.Name)
			return nil
		}); err != nil {
			return err
		}
		if inProfile {
			return iamapi.ErrDeleteConflictException("Cannot delete entity, must remove roles from instance profile first.")
		}
		return tx.Delete(key(acct, kindRole, r.Name))
	})
}

// Instance profiles.

func (s *Service) profileOut(tx store.Tx, acct string, p *profileRec) (iamapi.InstanceProfile, error) {
	out := iamapi.InstanceProfile{Arn: ptr(policy.IAMARN(acct, policy.IAMInstanceProfile, p.Path, p.Name)), CreateDate: timePtr(p.Created),
		InstanceProfileId: ptr(p.ID), InstanceProfileName: ptr(p.Name), Path: ptr(p.Path), Roles: []iamapi.Role{}, Tags: tagsOut(p.Tags)}
	for _, n := range p.Roles {
		r, err := s.getRole(tx, acct, n)
		if err != nil {
			return out, err
		}
		out.Roles = append(out.Roles, roleOut(acct, r, false))
	}
	return out, nil
}

func noProfile(name string) func() error {
	return func() error {
		return iamapi.ErrNoSuchEntityException("Instance Profile %s cannot be found.", name)
	}
}

func (s *Service) CreateInstanceProfile(ctx context.Context, in *iamapi.CreateInstanceProfileRequest) (*iamapi.CreateInstanceProfileResponse, error) {
	if err := validate(in); err != nil {
		return nil, err
	}
	_, acct := caller(ctx)
	id, err := newID(prefixProfile)
	if err != nil {
		return nil, err
	}
	p := profileRec{Name: str(in.InstanceProfileName), ID: id, Path: normPath(in.Path), Created: s.now().UTC(), Tags: mergeTags(nil, in.Tags)}
	var out iamapi.InstanceProfile
	err = s.update(ctx, func(tx store.Tx) error {
		if ok, err := exists(tx, key(acct, kindProfile, p.Name)); err != nil || ok {
			if ok {
				return iamapi.ErrEntityAlreadyExistsException("Instance Profile %s already exists.", p.Name)
			}
			return err
		}
		if err := store.PutJSON(tx, key(acct, kindProfile, p.Name), &p); err != nil {
			return err
		}
		out, err = s.profileOut(tx, acct, &p)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &iamapi.CreateInstanceProfileResponse{InstanceProfile: &out}, nil
}

func (s *Service) GetInstanceProfile(ctx context.Context, in *iamapi.GetInstanceProfileRequest) (*iamapi.GetInstanceProfileResponse, error) {
	if err := validate(in); err != nil {
		return nil, err
	}
	_, acct := caller(ctx)
	var out iamapi.InstanceProfile
	err := s.view(ctx, func(tx store.Tx) error {
		var p profileRec
		if err := get(tx, acct, kindProfile, str(in.InstanceProfileName), &p, noProfile(str(in.InstanceProfileName))); err != nil {
			return err
		}
		var err error
		out, err = s.profileOut(tx, acct, &p)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &iamapi.GetInstanceProfileResponse{InstanceProfile: &out}, nil
}

func (s *Service) listProfiles(ctx context.Context, keep func(*profileRec) bool, marker *string, maxItems *int32) ([]iamapi.InstanceProfile, *bool, *string, error) {
	_, acct := caller(ctx)
	var all []iamapi.InstanceProfile
	err := s.view(ctx, func(tx store.Tx) error {
		return store.ScanJSON(tx, prefix(acct, kindProfile), func(_ string, p *profileRec) error {
			if !keep(p) {
				return nil
			}
			o, err := s.profileOut(tx, acct, p)
			all = append(all, o)
			return err
		})
	})
	if err != nil {
		return nil, nil, nil, err
	}
	pg, t, m, err := page(all, func(p iamapi.InstanceProfile) string { return strings.ToLower(*p.InstanceProfileName) }, marker, maxItems)
	if pg == nil {
		pg = []iamapi.InstanceProfile{}
	}
	return pg, t, m, err
}

func (s *Service) ListInstanceProfiles(ctx context.Context, in *iamapi.ListInstanceProfilesRequest) (*iamapi.ListInstanceProfilesResponse, error) {
	if err := validate(in); err != nil {
		return nil, err
	}
	ps, t, m, err := s.listProfiles(ctx, func(p *profileRec) bool { return pathMatches(p.Path, in.PathPrefix) }, in.Marker, in.MaxItems)
	if err != nil {
		return nil, err
	}
	return &iamapi.ListInstanceProfilesResponse{InstanceProfiles: ps, IsTruncated: t, Marker: m}, nil
}

func (s *Service) ListInstanceProfilesForRole(ctx context.Context, in *iamapi.ListInstanceProfilesForRoleRequest) (*iamapi.ListInstanceProfilesForRoleResponse, error) {
	if err := validate(in); err != nil {
		return nil, err
	}
	_, acct := caller(ctx)
	var r *roleRec
	if err := s.view(ctx, func(tx store.Tx) (err error) { r, err = s.getRole(tx, acct, str(in.RoleName)); return }); err != nil {
		return nil, err
	}
	ps, t, m, err := s.listProfiles(ctx, func(p *profileRec) bool { return slices.Contains(p.Roles, r.Name) }, in.Marker, in.MaxItems)
	if err != nil {
		return nil, err
	}
	return &iamapi.ListInstanceProfilesForRoleResponse{InstanceProfiles: ps, IsTruncated: t, Marker: m}, nil
}

func (s *Service) modifyProfile(ctx context.Context, name string, fn func(tx store.Tx, p *profileRec) error) error {
	_, acct := caller(ctx)
	return s.update(ctx, func(tx store.Tx) error {
		var p profileRec
		if err := get(tx, acct, kindProfile, name, &p, noProfile(name)); err != nil {
			return err
		}
		if err := fn(tx, &p); err != nil {
			return err
		}
		return store.PutJSON(tx, key(acct, kindProfile, p.Name), &p)
	})
}

func (s *Service) AddRoleToInstanceProfile(ctx context.Context, in *iamapi.AddRoleToInstanceProfileRequest) error {
	if err := validate(in); err != nil {
		return err
	}
	_, acct := caller(ctx)
	return s.modifyProfile(ctx, str(in.InstanceProfileName), func(tx store.Tx, p *profileRec) error {
		r, err := s.getRole(tx, acct, str(in.RoleName))
		if err != nil {
			return err
		}
		if len(p.Roles) >= maxRolesPerProfil {
			return iamapi.ErrLimitExceededException("Cannot exceed quota for InstanceSessionsPerInstanceProfile: %d", maxRolesPerProfil)
		}
		p.Roles = append(p.Roles, r.Name)
		return nil
	})
}

func (s *Service) RemoveRoleFromInstanceProfile(ctx context.Context, in *iamapi.RemoveRoleFromInstanceProfileRequest) error {
	if err := validate(in); err != nil {
		return err
	}
	_, acct := caller(ctx)
	return s.modifyProfile(ctx, str(in.InstanceProfileName), func(tx store.Tx, p *profileRec) error {
		r, err := s.getRole(tx, acct, str(in.RoleName))
		if err != nil {
			return err
		}
		i := slices.Index(p.Roles, r.Name)
		if i < 0 {
			return iamapi.ErrNoSuchEntityException("The role %s is not in instance profile %s.", r.Name, p.Name)
		}
		p.Roles = slices.Delete(p.Roles, i, i+1)
		return nil
	})
}

func (s *Service) DeleteInstanceProfile(ctx context.Context, in *iamapi.DeleteInstanceProfileRequest) error {
	if err := validate(in); err != nil {
		return err
	}
	_, acct := caller(ctx)
	name := str(in.InstanceProfileName)
	return s.update(ctx, func(tx store.Tx) error {
		var p profileRec
		if err := get(tx, acct, kindProfile, name, &p, noProfile(name)); err != nil {
			return err
		}
		if len(p.Roles) > 0 {
			return iamapi.ErrDeleteConflictException("Cannot delete entity, must remove roles from instance profile first.")
		}
		return tx.Delete(key(acct, kindProfile, p.Name))
	})
}

// Service-linked roles.

// linkedServices are the AWS services whose service-linked role Cachalot
// knows how to create.
var linkedServices = map[string]struct{ role, path, policyARN, description string }{
	policy.ElastiCacheServiceName: {policy.ElastiCacheServiceRoleName, policy.ElastiCacheServiceRolePath, policy.ElastiCacheServiceRolePolicyARN,
		"This policy allows ElastiCache to manage AWS resources on your behalf as necessary for managing your cache."},
}

func (s *Service) createServiceLinkedRole(ctx context.Context, acct, service, suffix, description string) (*roleRec, error) {
	ls, ok := linkedServices[service]
	if !ok {
		return nil, iamapi.ErrInvalidInputException("Service role name for %s is not supported (Cachalot knows: %s).", service, policy.ElastiCacheServiceName)
	}
	if suffix != "" {
		return nil, iamapi.ErrInvalidInputException("Custom suffix is not allowed for %s", service)
	}
	id, err := newID(prefixRole)
	if err != nil {
		return nil, err
	}
	if description == "" {
		description = ls.description
	}
	r := roleRec{Name: ls.role, ID: id, Path: ls.path, Created: s.now().UTC(), Trust: policy.ElastiCacheServiceRoleTrust,
		Description: description, MaxSession: 3600, Attached: []string{ls.policyARN}, ServiceLinked: service}
	err = s.update(ctx, func(tx store.Tx) error {
		if ok, err := exists(tx, key(acct, kindRole, r.Name)); err != nil || ok {
			if ok {
				return iamapi.ErrInvalidInputException("Service role name %s has been taken in this account, please try a different suffix.", r.Name)
			}
			return err
		}
		return s.putNewRole(tx, acct, &r, nil)
	})
	if err != nil {
		return nil, err
	}
	return &r, nil
}

func (s *Service) CreateServiceLinkedRole(ctx context.Context, in *iamapi.CreateServiceLinkedRoleRequest) (*iamapi.CreateServiceLinkedRoleResponse, error) {
	if err := validate(in); err != nil {
		return nil, err
	}
	_, acct := caller(ctx)
	r, err := s.createServiceLinkedRole(ctx, acct, str(in.AWSServiceName), str(in.CustomSuffix), str(in.Description))
	if err != nil {
		return nil, err
	}
	return &iamapi.CreateServiceLinkedRoleResponse{Role: ptr(roleOut(acct, r, false))}, nil
}

func (s *Service) DeleteServiceLinkedRole(ctx context.Context, in *iamapi.DeleteServiceLinkedRoleRequest) (*iamapi.DeleteServiceLinkedRoleResponse, error) {
	if err := validate(in); err != nil {
		return nil, err
	}
	_, acct := caller(ctx)
	name := str(in.RoleName)
	uuid, err := newUUID()
	if err != nil {
		return nil, err
	}
	var task string
	err = s.update(ctx, func(tx store.Tx) error {
		r, err := s.getRole(tx, acct, name)
		if err != nil {
			return err
		}
		if r.ServiceLinked == "" {
			return iamapi.ErrInvalidInputException("Role %s is not a service-linked role.", r.Name)
		}
		task = "task" + r.Path + r.Name + "/" + uuid
		if err := tx.Delete(key(acct, kindRole, r.Name)); err != nil {
			return err
		}
		return store.PutJSON(tx, key(acct, kindTask, uuid), &taskRec{ID: task, Status: "SUCCEEDED"})
	})
	if err != nil {
		return nil, err
	}
	return &iamapi.DeleteServiceLinkedRoleResponse{DeletionTaskId: ptr(task)}, nil
}

func (s *Service) GetServiceLinkedRoleDeletionStatus(ctx context.Context, in *iamapi.GetServiceLinkedRoleDeletionStatusRequest) (*iamapi.GetServiceLinkedRoleDeletionStatusResponse, error) {
	if err := validate(in); err != nil {
		return nil, err
	}
	_, acct := caller(ctx)
	id := str(in.DeletionTaskId)
	uuid := id[strings.LastIndexByte(id, '/')+1:]
	var t taskRec
	err := s.view(ctx, func(tx store.Tx) error { return store.GetJSON(tx, key(acct, kindTask, uuid), &t) })
	if errors.Is(err, store.ErrNotFound) || (err == nil && t.ID != id) {
		return nil, iamapi.ErrNoSuchEntityException("Deletion task %s cannot be found.", id)
	}
	if err != nil {
		return nil, err
	}
	return &iamapi.GetServiceLinkedRoleDeletionStatusResponse{Status: ptr(t.Status)}, nil
}
