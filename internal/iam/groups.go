package iam

import (
	"context"
	"slices"
	"strings"

	"github.com/cachalot-dev/cachalot/internal/api/iamapi"
	"github.com/cachalot-dev/cachalot/internal/iam/policy"
	"github.com/cachalot-dev/cachalot/internal/store"
)

func groupOut(acct string, g *groupRec) iamapi.Group {
	return iamapi.Group{Arn: ptr(policy.IAMARN(acct, policy.IAMGroup, g.Path, g.Name)), CreateDate: timePtr(g.Created),
		GroupId: ptr(g.ID), GroupName: ptr(g.Name), Path: ptr(g.Path)}
}

func (s *Service) CreateGroup(ctx context.Context, in *iamapi.CreateGroupRequest) (*iamapi.CreateGroupResponse, error) {
	if err := validate(in); err != nil {
		return nil, err
	}
	_, acct := caller(ctx)
	id, err := newID(prefixGroup)
	if err != nil {
		return nil, err
	}
	g := groupRec{Name: str(in.GroupName), ID: id, Path: normPath(in.Path), Created: s.now().UTC()}
	err = s.update(ctx, func(tx store.Tx) error {
		if ok, err := exists(tx, key(acct, kindGroup, g.Name)); err != nil || ok {
			if ok {
				return iamapi.ErrEntityAlreadyExistsException("Group with name %s already exists.", g.Name)
			}
			return err
		}
		if n, err := count(tx, prefix(acct, kindGroup)); err != nil {
			return err
		} else if n >= maxGroups {
			return iamapi.ErrLimitExceededException("Cannot exceed quota for GroupsPerAccount: %d", maxGroups)
		}
		return store.PutJSON(tx, key(acct, kindGroup, g.Name), &g)
	})
	if err != nil {
		return nil, err
	}
	out := groupOut(acct, &g)
	return &iamapi.CreateGroupResponse{Group: &out}, nil
}

func (s *Service) GetGroup(ctx context.Context, in *iamapi.GetGroupRequest) (*iamapi.GetGroupResponse, error) {
	if err := validate(in); err != nil {
		return nil, err
	}
	_, acct := caller(ctx)
	var g *groupRec
	var members []*userRec
	err := s.view(ctx, func(tx store.Tx) (err error) {
		if g, err = s.getGroup(tx, acct, str(in.GroupName)); err != nil {
			return err
		}
		return store.ScanJSON(tx, prefix(acct, kindUser), func(_ string, u *userRec) error {
			if slices.Contains(u.Groups, g.Name) {
				members = append(members, u)
			}
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	pg, trunc, marker, err := page(members, func(u *userRec) string { return strings.ToLower(u.Name) }, in.Marker, in.MaxItems)
	if err != nil {
		return nil, err
	}
	out := &iamapi.GetGroupResponse{Group: ptr(groupOut(acct, g)), Users: []iamapi.User{}, IsTruncated: trunc, Marker: marker}
	for _, u := range pg {
		out.Users = append(out.Users, userOut(acct, u, false))
	}
	return out, nil
}

func (s *Service) ListGroups(ctx context.Context, in *iamapi.ListGroupsRequest) (*iamapi.ListGroupsResponse, error) {
	if err := validate(in); err != nil {
		return nil, err
	}
	_, acct := caller(ctx)
	var gs []*groupRec
	if err := s.view(ctx, func(tx store.Tx) (err error) {
		gs, err = store.ListJSON[groupRec](tx, prefix(acct, kindGroup))
		return
	}); err != nil {
		return nil, err
	}
	gs = slices.DeleteFunc(gs, func(g *groupRec) bool { return !pathMatches(g.Path, in.PathPrefix) })
	pg, trunc, marker, err := page(gs, func(g *groupRec) string { return strings.ToLower(g.Name) }, in.Marker, in.MaxItems)
	if err != nil {
		return nil, err
	}
	out := &iamapi.ListGroupsResponse{Groups: []iamapi.Group{}, IsTruncated: trunc, Marker: marker}
	for _, g := range pg {
		out.Groups = append(out.Groups, groupOut(acct, g))
	}
	return out, nil
}

func (s *Service) ListGroupsForUser(ctx context.Context, in *iamapi.ListGroupsForUserRequest) (*iamapi.ListGroupsForUserResponse, error) {
	if err := validate(in); err != nil {
		return nil, err
	}
	_, acct := caller(ctx)
	var gs []*groupRec
	err := s.view(ctx, func(tx store.Tx) error {
		u, err := s.getUser(tx, acct, str(in.UserName))
		if err != nil {
			return err
		}
		for _, n := range u.Groups {
			g, err := s.getGroup(tx, acct, n)
			if err != nil {
				return err
			}
			gs = append(gs, g)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	pg, trunc, marker, err := page(gs, func(g *groupRec) string { return strings.ToLower(g.Name) }, in.Marker, in.MaxItems)
	if err != nil {
		return nil, err
	}
	out := &iamapi.ListGroupsForUserResponse{Groups: []iamapi.Group{}, IsTruncated: trunc, Marker: marker}
	for _, g := range pg {
		out.Groups = append(out.Groups, groupOut(acct, g))
	}
	return out, nil
}

func (s *Service) UpdateGroup(ctx context.Context, in *iamapi.UpdateGroupRequest) error {
	if err := validate(in); err != nil {
		return err
	}
	_, acct := caller(ctx)
	return s.update(ctx, func(tx store.Tx) error {
		g, err := s.getGroup(tx, acct, str(in.GroupName))
		if err != nil {
			return err
		}
		old := g.Name
		if in.NewPath != nil {
			g.Path = *in.NewPath
		}
		if in.NewGroupName != nil && *in.NewGroupName != old {
			nn := *in.NewGroupName
			if !strings.EqualFold(nn, old) {
				if ok, err := exists(tx, key(acct, kindGroup, nn)); err != nil || ok {
					if ok {
						return iamapi.ErrEntityAlreadyExistsException("Group with name %s already exists.", nn)
					}
					return err
				}
			}
			if err := tx.Delete(key(acct, kindGroup, old)); err != nil {
				return err
			}
			g.Name = nn
			if err := store.ScanJSON(tx, prefix(acct, kindUser), func(k string, u *userRec) error {
				if i := slices.Index(u.Groups, old); i >= 0 {
					u.Groups[i] = nn
					return store.PutJSON(tx, k, u)
				}
				return nil
			}); err != nil {
				return err
			}
		}
		return store.PutJSON(tx, key(acct, kindGroup, g.Name), g)
	})
}

func (s *Service) DeleteGroup(ctx context.Context, in *iamapi.DeleteGroupRequest) error {
	if err := validate(in); err != nil {
		return err
	}
	_, acct := caller(ctx)
	return s.update(ctx, func(tx store.Tx) error {
		g, err := s.getGroup(tx, acct, str(in.GroupName))
		if err != nil {
			return err
		}
		if len(g.Inline) > 0 || len(g.Attached) > 0 {
			return iamapi.ErrDeleteConflictException("Cannot delete entity, must delete policies first.")
		}
		hasUsers := false
		if err := store.ScanJSON(tx, prefix(acct, kindUser), func(_ string, u *userRec) error {
			hasUsers = hasUsers || slices.Contains(u.Groups, g.Name)
			return nil
		}); err != nil {
			return err
		}
		if hasUsers {
			return iamapi.ErrDeleteConflictException("Cannot delete entity, must remove users from group first.")
		}
		return tx.Delete(key(acct, kindGroup, g.Name))
	})
}

func (s *Service) AddUserToGroup(ctx context.Context, in *iamapi.AddUserToGroupRequest) error {
	if err := validate(in); err != nil {
		return err
	}
	_, acct := caller(ctx)
	return s.update(ctx, func(tx store.Tx) error {
		g, err := s.getGroup(tx, acct, str(in.GroupName))
		if err != nil {
			return err
		}
		u, err := s.getUser(tx, acct, str(in.UserName))
		if err != nil {
			return err
		}
		if slices.Contains(u.Groups, g.Name) {
			return nil
		}
		if len(u.Groups) >= maxGroupsPerUser {
			return iamapi.ErrLimitExceededException("Cannot exceed quota for GroupsPerUser: %d", maxGroupsPerUser)
		}
		u.Groups = append(u.Groups, g.Name)
		return store.PutJSON(tx, key(acct, kindUser, u.Name), u)
	})
}

func (s *Service) RemoveUserFromGroup(ctx context.Context, in *iamapi.RemoveUserFromGroupRequest) error {
	if err := validate(in); err != nil {
		return err
	}
	_, acct := caller(ctx)
	return s.update(ctx, func(tx store.Tx) error {
		g, err := s.getGroup(tx, acct, str(in.GroupName))
		if err != nil {
			return err
		}
		u, err := s.getUser(tx, acct, str(in.UserName))
		if err != nil {
			return err
		}
		i := slices.Index(u.Groups, g.Name)
		if i < 0 {
			return iamapi.ErrNoSuchEntityException("User %s is not in group %s.", u.Name, g.Name)
		}
		u.Groups = slices.Delete(u.Groups, i, i+1)
		return store.PutJSON(tx, key(acct, kindUser, u.Name), u)
	})
}
