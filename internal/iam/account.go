package iam

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"regexp"
	"strings"

	"github.com/cachalot-dev/cachalot/internal/api/iamapi"
	"github.com/cachalot-dev/cachalot/internal/awserr"
	"github.com/cachalot-dev/cachalot/internal/store"
)

// aliasRe is the model's accountAliasType pattern without its lookahead
// (no "--"), which is checked separately.
var aliasRe = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$`)

func (s *Service) CreateAccountAlias(ctx context.Context, in *iamapi.CreateAccountAliasRequest) error {
	_, acct := caller(ctx)
	alias := str(in.AccountAlias)
	if !aliasRe.MatchString(alias) || strings.Contains(alias, "--") {
		return validationError(alias, "AccountAlias", `Member must satisfy regular expression pattern: ^[a-z0-9]([a-z0-9]|-(?!-)){1,61}[a-z0-9]$`)
	}
	return s.update(ctx, func(tx store.Tx) error {
		owner, err := tx.Get(aliasKey(alias))
		switch {
		case err == nil && string(owner) == acct:
			return nil
		case err == nil:
			return iamapi.ErrEntityAlreadyExistsException("The account alias %s already exists.", alias)
		case !errors.Is(err, store.ErrNotFound):
			return err
		}
		if old, err := tx.Get(key(acct, kindAlias, "alias")); err == nil {
			if err := tx.Delete(aliasKey(string(old))); err != nil {
				return err
			}
		}
		if err := tx.Put(aliasKey(alias), []byte(acct)); err != nil {
			return err
		}
		return tx.Put(key(acct, kindAlias, "alias"), []byte(alias))
	})
}

func (s *Service) DeleteAccountAlias(ctx context.Context, in *iamapi.DeleteAccountAliasRequest) error {
	_, acct := caller(ctx)
	alias := str(in.AccountAlias)
	return s.update(ctx, func(tx store.Tx) error {
		cur, err := tx.Get(key(acct, kindAlias, "alias"))
		if errors.Is(err, store.ErrNotFound) || (err == nil && string(cur) != alias) {
			return iamapi.ErrNoSuchEntityException("The account alias %s cannot be found.", alias)
		}
		if err != nil {
			return err
		}
		if err := tx.Delete(aliasKey(alias)); err != nil {
			return err
		}
		return tx.Delete(key(acct, kindAlias, "alias"))
	})
}

func (s *Service) ListAccountAliases(ctx context.Context, in *iamapi.ListAccountAliasesRequest) (*iamapi.ListAccountAliasesResponse, error) {
	if err := validate(in); err != nil {
		return nil, err
	}
	_, acct := caller(ctx)
	out := &iamapi.ListAccountAliasesResponse{AccountAliases: []string{}, IsTruncated: ptr(false)}
	err := s.view(ctx, func(tx store.Tx) error {
		a, err := tx.Get(key(acct, kindAlias, "alias"))
		if err == nil {
			out.AccountAliases = append(out.AccountAliases, string(a))
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		return nil
	})
	return out, err
}

// GetAccountSummary reports the account's IAM usage and quotas.
func (s *Service) GetAccountSummary(ctx context.Context) (*iamapi.GetAccountSummaryResponse, error) {
	_, acct := caller(ctx)
	m := map[string]int32{
		"UsersQuota": maxUsers, "GroupsQuota": maxGroups, "RolesQuota": maxRoles, "PoliciesQuota": maxPolicies,
		"GroupsPerUserQuota": maxGroupsPerUser, "AccessKeysPerUserQuota": maxKeysPerUser,
		"AttachedPoliciesPerUserQuota": int32(s.maxAtt), "AttachedPoliciesPerGroupQuota": int32(s.maxAtt), "AttachedPoliciesPerRoleQuota": int32(s.maxAtt),
		"PolicyVersionsInUseQuota": 10000, "VersionsPerPolicyQuota": maxVersions, "PolicySizeQuota": maxManagedSize,
		"UserPolicySizeQuota": maxUserInline, "GroupPolicySizeQuota": maxGroupInline, "AssumeRolePolicySizeQuota": maxTrustSize,
		"InstanceProfilesQuota": 1000, "ServerCertificatesQuota": 20, "SigningCertificatesPerUserQuota": 2,
		"MFADevices": 0, "MFADevicesInUse": 0, "AccountMFAEnabled": 0, "AccountAccessKeysPresent": 1, "AccountSigningCertificatesPresent": 0,
		"Users": 0, "Groups": 0, "Roles": 0, "Policies": 0, "InstanceProfiles": 0, "PolicyVersionsInUse": 0, "Providers": 0, "ServerCertificates": 0,
	}
	err := s.view(ctx, func(tx store.Tx) error {
		var users, groups, roles, policies, profiles, mfa, mfaInUse, versions int32
		if err := store.ScanJSON(tx, prefix(acct, kindUser), func(_ string, u *userRec) error {
			users++
			versions += int32(len(u.Attached))
			return nil
		}); err != nil {
			return err
		}
		if err := store.ScanJSON(tx, prefix(acct, kindGroup), func(_ string, g *groupRec) error {
			groups++
			versions += int32(len(g.Attached))
			return nil
		}); err != nil {
			return err
		}
		if err := store.ScanJSON(tx, prefix(acct, kindRole), func(_ string, r *roleRec) error {
			roles++
			versions += int32(len(r.Attached))
			return nil
		}); err != nil {
			return err
		}
		n, err := count(tx, prefix(acct, kindPolicy))
		if err != nil {
			return err
		}
		policies = int32(n)
		if n, err = count(tx, prefix(acct, kindProfile)); err != nil {
			return err
		}
		profiles = int32(n)
		if err := store.ScanJSON(tx, prefix(acct, kindMFA), func(_ string, d *mfaRec) error {
			mfa++
			if d.User != "" {
				mfaInUse++
			}
			if d.User == rootUser {
				m["AccountMFAEnabled"] = 1
			}
			return nil
		}); err != nil {
			return err
		}
		m["Users"], m["Groups"], m["Roles"], m["Policies"], m["InstanceProfiles"] = users, groups, roles, policies, profiles
		m["MFADevices"], m["MFADevicesInUse"], m["PolicyVersionsInUse"] = mfa, mfaInUse, versions
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &iamapi.GetAccountSummaryResponse{SummaryMap: m}, nil
}

func newUUID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", awserr.Internal()
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	s := hex.EncodeToString(b[:])
	return s[:8] + "-" + s[8:12] + "-" + s[12:16] + "-" + s[16:20] + "-" + s[20:], nil
}
