package iam

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"slices"
	"strings"

	"github.com/cachalot-dev/cachalot/internal/account"
	"github.com/cachalot-dev/cachalot/internal/api/iamapi"
	"github.com/cachalot-dev/cachalot/internal/auth"
	"github.com/cachalot-dev/cachalot/internal/awserr"
	"github.com/cachalot-dev/cachalot/internal/iam/policy"
	"github.com/cachalot-dev/cachalot/internal/store"
)

// Quotas (AWS's defaults).
const (
	maxUsers          = 5000
	maxGroups         = 300
	maxRoles          = 1000
	maxPolicies       = 1500
	maxGroupsPerUser  = 10
	maxKeysPerUser    = 2
	maxVersions       = 5
	maxUserInline     = 2048
	maxGroupInline    = 5120
	maxRoleInline     = 10240
	maxManagedSize    = 6144
	maxTrustSize      = 2048
	maxMFAPerUser     = 8
	maxRolesPerProfil = 1
)

func userARN(acct string, u *userRec) string {
	return policy.IAMARN(acct, policy.IAMUser, u.Path, u.Name)
}

func userOut(acct string, u *userRec, withTags bool) iamapi.User {
	out := iamapi.User{
		Arn: ptr(userARN(acct, u)), CreateDate: timePtr(u.Created), Path: ptr(u.Path),
		UserId: ptr(u.ID), UserName: ptr(u.Name),
	}
	if u.Boundary != "" {
		out.PermissionsBoundary = &iamapi.AttachedPermissionsBoundary{
			PermissionsBoundaryArn: ptr(u.Boundary), PermissionsBoundaryType: ptr("PermissionsBoundaryPolicy")}
	}
	if withTags {
		out.Tags = tagsOut(u.Tags)
	}
	return out
}

// targetUser returns the user an operation with an optional UserName acts
// on: the named one, or the calling IAM user.
func targetUser(ctx context.Context, name *string) (string, error) {
	if name != nil {
		return *name, nil
	}
	p, _ := auth.PrincipalFrom(ctx)
	if p.Type == auth.User {
		return p.Name, nil
	}
	return "", awserr.New("ValidationError", "Must specify userName when calling with non-User credentials")
}

func (s *Service) CreateUser(ctx context.Context, in *iamapi.CreateUserRequest) (*iamapi.CreateUserResponse, error) {
	if err := validate(in); err != nil {
		return nil, err
	}
	name := str(in.UserName)
	if len(name) > 64 {
		return nil, validationError(name, "UserName", "Member must have length less than or equal to 64")
	}
	_, acct := caller(ctx)
	id, err := newID(prefixUser)
	if err != nil {
		return nil, err
	}
	u := userRec{Name: name, ID: id, Path: normPath(in.Path), Created: s.now().UTC(), Tags: mergeTags(nil, in.Tags)}
	err = s.update(ctx, func(tx store.Tx) error {
		if ok, err := exists(tx, key(acct, kindUser, name)); err != nil || ok {
			if ok {
				return iamapi.ErrEntityAlreadyExistsException("User with name %s already exists.", name)
			}
			return err
		}
		if n, err := count(tx, prefix(acct, kindUser)); err != nil {
			return err
		} else if n >= maxUsers {
			return iamapi.ErrLimitExceededException("Cannot exceed quota for UsersPerAccount: %d", maxUsers)
		}
		if in.PermissionsBoundary != nil {
			if err := s.checkPolicyExists(tx, acct, *in.PermissionsBoundary); err != nil {
				return err
			}
			u.Boundary = *in.PermissionsBoundary
		}
		return store.PutJSON(tx, key(acct, kindUser, name), &u)
	})
	if err != nil {
		return nil, err
	}
	out := userOut(acct, &u, true)
	return &iamapi.CreateUserResponse{User: &out}, nil
}

func count(tx store.Tx, pfx string) (int, error) {
	n := 0
	err := tx.Scan(pfx, func(string, []byte) error { n++; return nil })
	return n, err
}

func (s *Service) GetUser(ctx context.Context, in *iamapi.GetUserRequest) (*iamapi.GetUserResponse, error) {
	if err := validate(in); err != nil {
		return nil, err
	}
	p, acct := caller(ctx)
	if in.UserName == nil && p.Type == auth.Root {
		a, err := s.accounts.Get(ctx, acct)
		if err != nil {
			return nil, err
		}
		return &iamapi.GetUserResponse{User: &iamapi.User{Arn: ptr(policy.AccountRootARN(acct)), UserId: ptr(acct),
			CreateDate: timePtr(a.CreatedAt), Path: ptr("/")}}, nil
	}
	name, err := targetUser(ctx, in.UserName)
	if err != nil {
		return nil, err
	}
	var u *userRec
	if err := s.view(ctx, func(tx store.Tx) (err error) { u, err = s.getUser(tx, acct, name); return }); err != nil {
		return nil, err
	}
	out := userOut(acct, u, true)
	return &iamapi.GetUserResponse{User: &out}, nil
}

func (s *Service) listUsers(ctx context.Context, acct string) ([]*userRec, error) {
	var us []*userRec
	err := s.view(ctx, func(tx store.Tx) (err error) {
		us, err = store.ListJSON[userRec](tx, prefix(acct, kindUser))
		return
	})
	return us, err
}

func (s *Service) ListUsers(ctx context.Context, in *iamapi.ListUsersRequest) (*iamapi.ListUsersResponse, error) {
	if err := validate(in); err != nil {
		return nil, err
	}
	_, acct := caller(ctx)
	us, err := s.listUsers(ctx, acct)
	if err != nil {
		return nil, err
	}
	us = slices.DeleteFunc(us, func(u *userRec) bool { return !pathMatches(u.Path, in.PathPrefix) })
	pg, trunc, marker, err := page(us, func(u *userRec) string { return strings.ToLower(u.Name) }, in.Marker, in.MaxItems)
	if err != nil {
		return nil, err
	}
	out := &iamapi.ListUsersResponse{IsTruncated: trunc, Marker: marker, Users: []iamapi.User{}}
	for _, u := range pg {
		out.Users = append(out.Users, userOut(acct, u, false))
	}
	return out, nil
}

func (s *Service) UpdateUser(ctx context.Context, in *iamapi.UpdateUserRequest) error {
	if err := validate(in); err != nil {
		return err
	}
	_, acct := caller(ctx)
	name := str(in.UserName)
	return s.update(ctx, func(tx store.Tx) error {
		u, err := s.getUser(tx, acct, name)
		if err != nil {
			return err
		}
		if in.NewPath != nil {
			u.Path = *in.NewPath
		}
		if in.NewUserName != nil && *in.NewUserName != u.Name {
			nn := *in.NewUserName
			if !strings.EqualFold(nn, u.Name) {
				if ok, err := exists(tx, key(acct, kindUser, nn)); err != nil || ok {
					if ok {
						return iamapi.ErrEntityAlreadyExistsException("User with name %s already exists.", nn)
					}
					return err
				}
			}
			if err := tx.Delete(key(acct, kindUser, u.Name)); err != nil {
				return err
			}
			// Access keys and MFA devices name their user.
			for _, akid := range u.Keys {
				var k accessKeyRec
				if err := store.GetJSON(tx, accessKeyKey(akid), &k); err == nil {
					k.User = nn
					if err := store.PutJSON(tx, accessKeyKey(akid), &k); err != nil {
						return err
					}
				}
			}
			if err := store.ScanJSON(tx, prefix(acct, kindMFA), func(k string, m *mfaRec) error {
				if m.User == u.Name {
					m.User = nn
					return store.PutJSON(tx, k, m)
				}
				return nil
			}); err != nil {
				return err
			}
			u.Name = nn
		}
		return store.PutJSON(tx, key(acct, kindUser, u.Name), u)
	})
}

func (s *Service) DeleteUser(ctx context.Context, in *iamapi.DeleteUserRequest) error {
	if err := validate(in); err != nil {
		return err
	}
	_, acct := caller(ctx)
	return s.update(ctx, func(tx store.Tx) error {
		u, err := s.getUser(tx, acct, str(in.UserName))
		if err != nil {
			return err
		}
		switch {
		case len(u.Keys) > 0:
			return iamapi.ErrDeleteConflictException("Cannot delete entity, must delete access keys first.")
		case u.Login != nil:
			return iamapi.ErrDeleteConflictException("Cannot delete entity, must delete login profile first.")
		case len(u.Inline) > 0 || len(u.Attached) > 0:
			return iamapi.ErrDeleteConflictException("Cannot delete entity, must delete policies first.")
		case len(u.Groups) > 0:
			return iamapi.ErrDeleteConflictException("Cannot delete entity, must remove user from all groups first.")
		}
		hasMFA := false
		if err := store.ScanJSON(tx, prefix(acct, kindMFA), func(_ string, m *mfaRec) error {
			hasMFA = hasMFA || m.User == u.Name
			return nil
		}); err != nil {
			return err
		}
		if hasMFA {
			return iamapi.ErrDeleteConflictException("Cannot delete entity, must delete MFA device first.")
		}
		return tx.Delete(key(acct, kindUser, u.Name))
	})
}

func (s *Service) TagUser(ctx context.Context, in *iamapi.TagUserRequest) error {
	if err := validate(in); err != nil {
		return err
	}
	_, acct := caller(ctx)
	return s.update(ctx, func(tx store.Tx) error {
		u, err := s.getUser(tx, acct, str(in.UserName))
		if err != nil {
			return err
		}
		u.Tags = mergeTags(u.Tags, in.Tags)
		if len(u.Tags) > 50 {
			return iamapi.ErrLimitExceededException("The number of tags has reached the maximum limit.")
		}
		return store.PutJSON(tx, key(acct, kindUser, u.Name), u)
	})
}

func (s *Service) UntagUser(ctx context.Context, in *iamapi.UntagUserRequest) error {
	if err := validate(in); err != nil {
		return err
	}
	_, acct := caller(ctx)
	return s.update(ctx, func(tx store.Tx) error {
		u, err := s.getUser(tx, acct, str(in.UserName))
		if err != nil {
			return err
		}
		u.Tags = untag(u.Tags, in.TagKeys)
		return store.PutJSON(tx, key(acct, kindUser, u.Name), u)
	})
}

func (s *Service) ListUserTags(ctx context.Context, in *iamapi.ListUserTagsRequest) (*iamapi.ListUserTagsResponse, error) {
	if err := validate(in); err != nil {
		return nil, err
	}
	_, acct := caller(ctx)
	var u *userRec
	if err := s.view(ctx, func(tx store.Tx) (err error) { u, err = s.getUser(tx, acct, str(in.UserName)); return }); err != nil {
		return nil, err
	}
	tags := tagsOut(u.Tags)
	if tags == nil {
		tags = []iamapi.Tag{}
	}
	return &iamapi.ListUserTagsResponse{Tags: tags, IsTruncated: ptr(false)}, nil
}

// Login profiles.

func hashPassword(pw string) (string, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	sum := sha256.Sum256(append(salt, pw...))
	return hex.EncodeToString(salt) + ":" + hex.EncodeToString(sum[:]), nil
}

func checkPassword(pw string) error {
	if len(pw) < 8 {
		return iamapi.ErrPasswordPolicyViolationException("Password should have a minimum length of 8")
	}
	return nil
}

func (s *Service) CreateLoginProfile(ctx context.Context, in *iamapi.CreateLoginProfileRequest) (*iamapi.CreateLoginProfileResponse, error) {
	if err := validate(in); err != nil {
		return nil, err
	}
	_, acct := caller(ctx)
	name, err := targetUser(ctx, in.UserName)
	if err != nil {
		return nil, err
	}
	if in.Password == nil {
		return nil, awserr.New("ValidationError", "Password is required")
	}
	if err := checkPassword(*in.Password); err != nil {
		return nil, err
	}
	h, err := hashPassword(*in.Password)
	if err != nil {
		return nil, err
	}
	var lp loginRec
	err = s.update(ctx, func(tx store.Tx) error {
		u, err := s.getUser(tx, acct, name)
		if err != nil {
			return err
		}
		if u.Login != nil {
			return iamapi.ErrEntityAlreadyExistsException("Login Profile for user %s already exists.", u.Name)
		}
		lp = loginRec{Created: s.now().UTC(), ResetRequired: in.PasswordResetRequired != nil && *in.PasswordResetRequired, PasswordHash: h}
		u.Login = &lp
		name = u.Name
		return store.PutJSON(tx, key(acct, kindUser, u.Name), u)
	})
	if err != nil {
		return nil, err
	}
	return &iamapi.CreateLoginProfileResponse{LoginProfile: &iamapi.LoginProfile{
		CreateDate: timePtr(lp.Created), PasswordResetRequired: ptr(lp.ResetRequired), UserName: ptr(name)}}, nil
}

func (s *Service) GetLoginProfile(ctx context.Context, in *iamapi.GetLoginProfileRequest) (*iamapi.GetLoginProfileResponse, error) {
	if err := validate(in); err != nil {
		return nil, err
	}
	_, acct := caller(ctx)
	name, err := targetUser(ctx, in.UserName)
	if err != nil {
		return nil, err
	}
	var u *userRec
	if err := s.view(ctx, func(tx store.Tx) (err error) { u, err = s.getUser(tx, acct, name); return }); err != nil {
		return nil, err
	}
	if u.Login == nil {
		return nil, iamapi.ErrNoSuchEntityException("Login Profile for User %s cannot be found.", u.Name)
	}
	return &iamapi.GetLoginProfileResponse{LoginProfile: &iamapi.LoginProfile{
		CreateDate: timePtr(u.Login.Created), PasswordResetRequired: ptr(u.Login.ResetRequired), UserName: ptr(u.Name)}}, nil
}

func (s *Service) UpdateLoginProfile(ctx context.Context, in *iamapi.UpdateLoginProfileRequest) error {
	if err := validate(in); err != nil {
		return err
	}
	_, acct := caller(ctx)
	name, err := targetUser(ctx, in.UserName)
	if err != nil {
		return err
	}
	var h string
	if in.Password != nil {
		if err := checkPassword(*in.Password); err != nil {
			return err
		}
		if h, err = hashPassword(*in.Password); err != nil {
			return err
		}
	}
	return s.update(ctx, func(tx store.Tx) error {
		u, err := s.getUser(tx, acct, name)
		if err != nil {
			return err
		}
		if u.Login == nil {
			return iamapi.ErrNoSuchEntityException("Login Profile for User %s cannot be found.", u.Name)
		}
		if h != "" {
			u.Login.PasswordHash = h
		}
		if in.PasswordResetRequired != nil {
			u.Login.ResetRequired = *in.PasswordResetRequired
		}
		return store.PutJSON(tx, key(acct, kindUser, u.Name), u)
	})
}

func (s *Service) DeleteLoginProfile(ctx context.Context, in *iamapi.DeleteLoginProfileRequest) error {
	if err := validate(in); err != nil {
		return err
	}
	_, acct := caller(ctx)
	name, err := targetUser(ctx, in.UserName)
	if err != nil {
		return err
	}
	return s.update(ctx, func(tx store.Tx) error {
		u, err := s.getUser(tx, acct, name)
		if err != nil {
			return err
		}
		if u.Login == nil {
			return iamapi.ErrNoSuchEntityException("Login Profile for User %s cannot be found.", u.Name)
		}
		u.Login = nil
		return store.PutJSON(tx, key(acct, kindUser, u.Name), u)
	})
}

// Access keys.

func (s *Service) CreateAccessKey(ctx context.Context, in *iamapi.CreateAccessKeyRequest) (*iamapi.CreateAccessKeyResponse, error) {
	if err := validate(in); err != nil {
		return nil, err
	}
	_, acct := caller(ctx)
	name, err := targetUser(ctx, in.UserName)
	if err != nil {
		return nil, err
	}
	creds, err := account.NewCredentials()
	if err != nil {
		return nil, err
	}
	k := accessKeyRec{ID: creds.AccessKeyID, Secret: creds.SecretAccessKey, Account: acct, Status: "Active", Created: s.now().UTC()}
	err = s.update(ctx, func(tx store.Tx) error {
		u, err := s.getUser(tx, acct, name)
		if err != nil {
			return err
		}
		if len(u.Keys) >= maxKeysPerUser {
			return iamapi.ErrLimitExceededException("Cannot exceed quota for AccessKeysPerUser: %d", maxKeysPerUser)
		}
		k.User = u.Name
		u.Keys = append(u.Keys, k.ID)
		if err := store.PutJSON(tx, accessKeyKey(k.ID), &k); err != nil {
			return err
		}
		return store.PutJSON(tx, key(acct, kindUser, u.Name), u)
	})
	if err != nil {
		return nil, err
	}
	return &iamapi.CreateAccessKeyResponse{AccessKey: &iamapi.AccessKey{
		AccessKeyId: ptr(k.ID), SecretAccessKey: ptr(k.Secret), Status: ptr(k.Status),
		UserName: ptr(k.User), CreateDate: timePtr(k.Created)}}, nil
}

func (s *Service) ListAccessKeys(ctx context.Context, in *iamapi.ListAccessKeysRequest) (*iamapi.ListAccessKeysResponse, error) {
	if err := validate(in); err != nil {
		return nil, err
	}
	p, acct := caller(ctx)
	out := &iamapi.ListAccessKeysResponse{AccessKeyMetadata: []iamapi.AccessKeyMetadata{}, IsTruncated: ptr(false)}
	if in.UserName == nil && p.Type == auth.Root {
		a, err := s.accounts.Get(ctx, acct)
		if err != nil {
			return nil, err
		}
		out.AccessKeyMetadata = append(out.AccessKeyMetadata, iamapi.AccessKeyMetadata{
			AccessKeyId: ptr(a.RootAccessKeyID), CreateDate: timePtr(a.CreatedAt), Status: ptr("Active")})
		return out, nil
	}
	name, err := targetUser(ctx, in.UserName)
	if err != nil {
		return nil, err
	}
	err = s.view(ctx, func(tx store.Tx) error {
		u, err := s.getUser(tx, acct, name)
		if err != nil {
			return err
		}
		for _, akid := range u.Keys {
			var k accessKeyRec
			if err := store.GetJSON(tx, accessKeyKey(akid), &k); err != nil {
				return err
			}
			out.AccessKeyMetadata = append(out.AccessKeyMetadata, iamapi.AccessKeyMetadata{
				AccessKeyId: ptr(k.ID), CreateDate: timePtr(k.Created), Status: ptr(k.Status), UserName: ptr(k.User)})
		}
		return nil
	})
	return out, err
}

// userKey loads an access key of a user, NoSuchEntity if it is not theirs.
func userKey(tx store.Tx, acct, user, akid string) (*accessKeyRec, error) {
	var k accessKeyRec
	err := store.GetJSON(tx, accessKeyKey(akid), &k)
	if errors.Is(err, store.ErrNotFound) || (err == nil && (k.Account != acct || !strings.EqualFold(k.User, user))) {
		return nil, iamapi.ErrNoSuchEntityException("The Access Key with id %s cannot be found.", akid)
	}
	return &k, err
}

func (s *Service) UpdateAccessKey(ctx context.Context, in *iamapi.UpdateAccessKeyRequest) error {
	if err := validate(in); err != nil {
		return err
	}
	_, acct := caller(ctx)
	name, err := targetUser(ctx, in.UserName)
	if err != nil {
		return err
	}
	return s.update(ctx, func(tx store.Tx) error {
		if _, err := s.getUser(tx, acct, name); err != nil {
			return err
		}
		k, err := userKey(tx, acct, name, str(in.AccessKeyId))
		if err != nil {
			return err
		}
		k.Status = str(in.Status)
		return store.PutJSON(tx, accessKeyKey(k.ID), k)
	})
}

func (s *Service) DeleteAccessKey(ctx context.Context, in *iamapi.DeleteAccessKeyRequest) error {
	if err := validate(in); err != nil {
		return err
	}
	_, acct := caller(ctx)
	name, err := targetUser(ctx, in.UserName)
	if err != nil {
		return err
	}
	return s.update(ctx, func(tx store.Tx) error {
		u, err := s.getUser(tx, acct, name)
		if err != nil {
			return err
		}
		k, err := userKey(tx, acct, name, str(in.AccessKeyId))
		if err != nil {
			return err
		}
		u.Keys = slices.DeleteFunc(u.Keys, func(id string) bool { return id == k.ID })
		if err := tx.Delete(accessKeyKey(k.ID)); err != nil {
			return err
		}
		return store.PutJSON(tx, key(acct, kindUser, u.Name), u)
	})
}

func (s *Service) GetAccessKeyLastUsed(ctx context.Context, in *iamapi.GetAccessKeyLastUsedRequest) (*iamapi.GetAccessKeyLastUsedResponse, error) {
	if err := validate(in); err != nil {
		return nil, err
	}
	_, acct := caller(ctx)
	akid := str(in.AccessKeyId)
	var k accessKeyRec
	err := s.view(ctx, func(tx store.Tx) error { return store.GetJSON(tx, accessKeyKey(akid), &k) })
	if errors.Is(err, store.ErrNotFound) || (err == nil && k.Account != acct) {
		return nil, iamapi.ErrNoSuchEntityException("The Access Key with id %s cannot be found.", akid)
	}
	if err != nil {
		return nil, err
	}
	out := &iamapi.GetAccessKeyLastUsedResponse{UserName: ptr(k.User),
		AccessKeyLastUsed: &iamapi.AccessKeyLastUsed{Region: ptr("N/A"), ServiceName: ptr("N/A")}}
	s.lastMu.Lock()
	use, ok := s.lastUsed[akid]
	s.lastMu.Unlock()
	if ok {
		out.AccessKeyLastUsed = &iamapi.AccessKeyLastUsed{LastUsedDate: timePtr(use.when), Region: ptr(use.region), ServiceName: ptr(use.service)}
	}
	return out, nil
}
