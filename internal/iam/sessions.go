package iam

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/cachalot-dev/cachalot/internal/account"
	"github.com/cachalot-dev/cachalot/internal/auth"
	"github.com/cachalot-dev/cachalot/internal/awserr"
	"github.com/cachalot-dev/cachalot/internal/iam/policy"
	"github.com/cachalot-dev/cachalot/internal/store"
)

// Temporary credentials (STS sessions). They live in the store under
// sts-session/<access key id> so that they survive a restart, and are
// resolved like any other key; the wire edge refuses them after Expires.
//
// A session is bound to the unique id (AIDA…, AROA…) of the user or role it
// was issued for, as on AWS, not to its name: once that user or role is
// deleted the credentials are invalid, even if another one is created with
// the same name.

func sessionKey(akid string) string { return store.Key("sts-session", akid) }

// SessionKind says which STS operation issued a session.
type SessionKind string

const (
	// SessionToken is GetSessionToken: the caller's own identity, maybe
	// MFA-authenticated.
	SessionToken SessionKind = "session-token"
	// AssumedRoleSession is AssumeRole.
	AssumedRoleSession SessionKind = "assumed-role"
)

// SessionSpec describes temporary credentials to issue.
type SessionSpec struct {
	Kind      SessionKind
	AccountID string // the account of the identity (the role's account for AssumeRole)
	// UserName is the IAM user of a SessionToken session ("" for root), and
	// UserID its unique id, which the user must still have.
	UserName, UserID string
	// RoleName and SessionName identify an AssumedRoleSession; RoleID is the
	// unique id of the role that was authorized, which it must still have.
	RoleName, RoleID, SessionName string
	// MFA is true when the caller proved an MFA code.
	MFA      bool
	Duration time.Duration
	// Policy and PolicyARNs are session policies (AssumeRole): the session
	// may do only what they also allow.
	Policy     string
	PolicyARNs []string
	// SourceIdentity is kept for GetCallerIdentity-style reporting.
	SourceIdentity string
}

type sessionRec struct {
	AccessKeyID string      `json:"akid"`
	Secret      string      `json:"secret"`
	Token       string      `json:"token"`
	Kind        SessionKind `json:"kind"`
	Account     string      `json:"account"`
	UserName    string      `json:"user,omitempty"`
	UserID      string      `json:"user_id,omitempty"`
	RoleName    string      `json:"role,omitempty"`
	RoleID      string      `json:"role_id,omitempty"`
	SessionName string      `json:"session,omitempty"`
	MFA         bool        `json:"mfa,omitempty"`
	Issued      time.Time   `json:"issued"`
	Expires     time.Time   `json:"expires"`
	Policy      string      `json:"policy,omitempty"`
	PolicyARNs  []string    `json:"policy_arns,omitempty"`
	Source      string      `json:"source_identity,omitempty"`
}

// Issued is what IssueSession returns: the credentials and who they act as.
type Issued struct {
	Key auth.Key
	// RoleID is the role's unique id (AROA…) for an assumed role.
	RoleID string
}

// IssueSession stores new temporary credentials and returns them.
func (s *Service) IssueSession(ctx context.Context, spec SessionSpec) (*Issued, error) {
	akid, err := account.NewAccessKeyID("ASIA")
	if err != nil {
		return nil, err
	}
	secret, err := account.RandomString("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", 40)
	if err != nil {
		return nil, err
	}
	tok := make([]byte, 192)
	if _, err := rand.Read(tok); err != nil {
		return nil, fmt.Errorf("random: %w", err)
	}
	now := s.now().UTC().Truncate(time.Second)
	rec := sessionRec{AccessKeyID: akid, Secret: secret, Token: "IQoJb3JpZ2luX2VjE" + base64.StdEncoding.EncodeToString(tok),
		Kind: spec.Kind, Account: spec.AccountID, UserName: spec.UserName, RoleName: spec.RoleName, SessionName: spec.SessionName,
		MFA: spec.MFA, Issued: now, Expires: now.Add(spec.Duration), Policy: spec.Policy, PolicyARNs: spec.PolicyARNs, Source: spec.SourceIdentity}
	var roleID string
	s.lastMu.Lock()
	purge := now.Sub(s.lastPurge) > time.Hour
	if purge {
		s.lastPurge = now
	}
	s.lastMu.Unlock()
	err = s.update(ctx, func(tx store.Tx) error {
		// At most hourly, forget sessions expired more than a day ago.
		if purge {
			var old []string
			if err := store.ScanJSON(tx, "sts-session/", func(k string, r *sessionRec) error {
				if now.Sub(r.Expires) > 24*time.Hour {
					old = append(old, k)
				}
				return nil
			}); err != nil {
				return err
			}
			for _, k := range old {
				if err := tx.Delete(k); err != nil {
					return err
				}
			}
		}
		if spec.Kind == AssumedRoleSession {
			r, err := s.getRole(tx, spec.AccountID, spec.RoleName)
			if err != nil {
				return err
			}
			if spec.RoleID != "" && r.ID != spec.RoleID {
				return noRole(spec.RoleName)() // replaced since it was authorized
			}
			roleID = r.ID
			rec.RoleName, rec.RoleID = r.Name, r.ID
			r.LastUsed = &now
			if err := store.PutJSON(tx, key(spec.AccountID, kindRole, r.Name), r); err != nil {
				return err
			}
		} else if spec.UserName != "" {
			u, err := s.getUser(tx, spec.AccountID, spec.UserName)
			if err != nil {
				return err
			}
			if spec.UserID != "" && u.ID != spec.UserID {
				return noUser(spec.UserName)() // replaced since the caller authenticated
			}
			rec.UserName, rec.UserID = u.Name, u.ID
		}
		return store.PutJSON(tx, sessionKey(akid), &rec)
	})
	if err != nil {
		return nil, err
	}
	k, err := s.sessionKey(ctx, &rec)
	if err != nil {
		return nil, err
	}
	return &Issued{Key: k, RoleID: roleID}, nil
}

// errPrincipalReplaced: the user or role of a session was deleted and
// another one created with its name.
var errPrincipalReplaced = errors.New("the principal of the session no longer exists")

// sameEntity reports whether a session issued at issued for the entity with
// unique id wantID (empty in records written before sessions kept it) may
// act as the stored entity with id and created: the ids match or, for an
// old record, the entity existed when the session was issued.
func sameEntity(wantID string, issued time.Time, id string, created time.Time) bool {
	if wantID != "" {
		return id == wantID
	}
	return !created.After(issued)
}

// sessionKey builds the auth.Key of a stored session.
func (s *Service) sessionKey(ctx context.Context, r *sessionRec) (auth.Key, error) {
	k := auth.Key{AccessKeyID: r.AccessKeyID, SecretAccessKey: r.Secret, SessionToken: r.Token, Expires: r.Expires}
	var p auth.Principal
	switch {
	case r.Kind == AssumedRoleSession:
		var role *roleRec
		if err := s.view(ctx, func(tx store.Tx) (err error) { role, err = s.getRole(tx, r.Account, r.RoleName); return }); err != nil {
			return k, err
		}
		if !sameEntity(r.RoleID, r.Issued, role.ID, role.Created) {
			return k, errPrincipalReplaced
		}
		p = auth.Principal{Type: auth.AssumedRole, AccountID: r.Account, ARN: policy.AssumedRoleARN(r.Account, role.Name, r.SessionName),
			UserID: role.ID + ":" + r.SessionName, Name: role.Name, RoleARN: roleARN(r.Account, role)}
	case r.UserName == "":
		p = account.RootPrincipal(r.Account, r.AccessKeyID)
	default:
		var u *userRec
		if err := s.view(ctx, func(tx store.Tx) (err error) { u, err = s.getUser(tx, r.Account, r.UserName); return }); err != nil {
			return k, err
		}
		if !sameEntity(r.UserID, r.Issued, u.ID, u.Created) {
			return k, errPrincipalReplaced
		}
		p = auth.Principal{Type: auth.User, AccountID: r.Account, ARN: userARN(r.Account, u), UserID: u.ID, Name: u.Name}
	}
	p.AccessKeyID = r.AccessKeyID
	p.Temporary = true
	p.MFAAuthenticated = r.MFA
	p.TokenIssued = r.Issued
	k.Principal = p
	return k, nil
}

// ResolveKey implements auth.KeyResolver for every key of the installation:
// root keys (through account.Accounts), IAM users' active access keys and
// temporary credentials. Results are cached until the next IAM write.
func (s *Service) ResolveKey(ctx context.Context, akid string) (auth.Key, error) {
	s.mu.RLock()
	k, ok := s.keys[akid]
	gen := s.gen
	s.mu.RUnlock()
	if ok {
		return k, nil
	}
	k, err := s.accounts.ResolveKey(ctx, akid)
	if !errors.Is(err, auth.ErrUnknownKey) {
		return k, err
	}
	if strings.HasPrefix(akid, "ASIA") {
		var r sessionRec
		err := s.view(ctx, func(tx store.Tx) error { return store.GetJSON(tx, sessionKey(akid), &r) })
		if errors.Is(err, store.ErrNotFound) {
			return auth.Key{}, auth.ErrUnknownKey
		}
		if err != nil {
			return auth.Key{}, fmt.Errorf("resolve session key: %w", err)
		}
		k, err = s.sessionKey(ctx, &r)
		if errors.Is(err, errPrincipalReplaced) || awserr.HasCode(err, "NoSuchEntity") {
			// The user or role behind the session is gone: the token is
			// invalid (InvalidClientTokenId, or AuthFailure for EC2).
			return auth.Key{}, auth.ErrUnknownKey
		}
		if err != nil {
			return auth.Key{}, fmt.Errorf("resolve session key: %w", err)
		}
	} else {
		var ak accessKeyRec
		var u *userRec
		err := s.view(ctx, func(tx store.Tx) error {
			if err := store.GetJSON(tx, accessKeyKey(akid), &ak); err != nil {
				return err
			}
			var err error
			u, err = s.getUser(tx, ak.Account, ak.User)
			return err
		})
		if errors.Is(err, store.ErrNotFound) || (err == nil && ak.Status != "Active") {
			return auth.Key{}, auth.ErrUnknownKey
		}
		if err != nil {
			return auth.Key{}, auth.ErrUnknownKey
		}
		k = auth.Key{AccessKeyID: akid, SecretAccessKey: ak.Secret, Principal: auth.Principal{
			Type: auth.User, AccountID: ak.Account, ARN: userARN(ak.Account, u), UserID: u.ID, Name: u.Name, AccessKeyID: akid}}
	}
	s.mu.Lock()
	if s.gen == gen {
		if len(s.keys) > 100_000 {
			clear(s.keys)
		}
		s.keys[akid] = k
	}
	s.mu.Unlock()
	return k, nil
}

// session returns the stored session behind a temporary access key.
func (s *Service) session(ctx context.Context, akid string) (*sessionRec, error) {
	var r sessionRec
	err := s.view(ctx, func(tx store.Tx) error { return store.GetJSON(tx, sessionKey(akid), &r) })
	if err != nil {
		return nil, fmt.Errorf("session %s: %w", akid, err)
	}
	return &r, nil
}

// AccessKeyAccount returns the account owning an access key (root, IAM user
// or temporary), for sts:GetAccessKeyInfo. ok is false for unknown keys.
func (s *Service) AccessKeyAccount(ctx context.Context, akid string) (string, bool, error) {
	k, err := s.ResolveKey(ctx, akid)
	if err == nil {
		return k.Principal.AccountID, true, nil
	}
	if !errors.Is(err, auth.ErrUnknownKey) {
		return "", false, err
	}
	// Inactive IAM keys still belong to their account.
	var ak accessKeyRec
	err = s.view(ctx, func(tx store.Tx) error { return store.GetJSON(tx, accessKeyKey(akid), &ak) })
	if err == nil {
		return ak.Account, true, nil
	}
	if errors.Is(err, store.ErrNotFound) {
		return "", false, nil
	}
	return "", false, err
}
