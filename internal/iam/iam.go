// Package iam owns AWS Identity and Access Management for every account of
// the installation: users, groups, roles, customer managed policies and
// their versions, inline policies, attachments, access keys, login
// profiles, virtual MFA devices, instance profiles, service-linked roles and
// account aliases; the temporary credentials STS issues (sessions); the
// resolution of IAM users' and temporary access keys for SigV4; and the
// Authorizer that decides every request of every service with the pure
// policy engine in iam/policy.
//
// IAM is global: records are scoped by account, never by region. Every write
// goes through Service.update, which forgets the in-memory caches (resolved
// keys, compiled policy sets), so reads on the request path stay cheap and
// never stale.
//
// Imported by the wiring package (internal/app), by sts (sessions, MFA
// verification, role lookup) and by services that need the ElastiCache
// service-linked role (EnsureServiceLinkedRole).
package iam

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/cachalot-dev/cachalot/internal/account"
	"github.com/cachalot-dev/cachalot/internal/api/iamapi"
	"github.com/cachalot-dev/cachalot/internal/auth"
	"github.com/cachalot-dev/cachalot/internal/iam/policy"
	"github.com/cachalot-dev/cachalot/internal/store"
)

// Config configures a Service.
type Config struct {
	// Store holds IAM's records; required.
	Store store.Store
	// Accounts resolves root keys and lists accounts; required.
	Accounts *account.Accounts
	// Logger; default slog.Default().
	Logger *slog.Logger
	// Now is the clock; default time.Now. Tests inject a fake one.
	Now func() time.Time
	// MaxAttachedPolicies is the quota of managed policies attached to one
	// user, group or role; default 10 (AWS's default quota).
	MaxAttachedPolicies int
}

// Service implements iamapi.Operations, auth.KeyResolver (IAM users' and
// temporary keys) and auth.Authorizer.
type Service struct {
	iamapi.Unimplemented

	st       store.Store
	accounts *account.Accounts
	log      *slog.Logger
	now      func() time.Time
	maxAtt   int

	// managed holds the AWS managed policies, parsed once; immutable.
	managed     []policy.Managed
	managedByID map[string]*managedPolicy // by ARN

	mu sync.RWMutex // guards keys, sets, gen
	// keys caches resolved IAM user and temporary keys by access key id.
	keys map[string]auth.Key
	// sets caches each principal's compiled policies (see authorize.go).
	sets map[string]*policySet
	// gen counts writes; a cache fill computed under an older gen is dropped.
	gen uint64

	lastMu    sync.Mutex // guards lastUsed, lastPurge
	lastUsed  map[string]keyUse
	lastPurge time.Time // when expired sessions were last purged

	parsedMu sync.Mutex // guards parsed
	// parsed caches parsed identity policies by document text.
	parsed map[string]*policy.Policy

	// fieldCache maps an input type to its resource members (resources.go).
	fieldCache sync.Map
}

type managedPolicy struct {
	meta  policy.Managed
	named policy.Named
}

type keyUse struct {
	when            time.Time
	service, region string
}

// New returns the IAM service; it has no side effects besides parsing the
// embedded AWS managed policies.
func New(cfg Config) (*Service, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MaxAttachedPolicies == 0 {
		cfg.MaxAttachedPolicies = 10
	}
	s := &Service{
		st: cfg.Store, accounts: cfg.Accounts, log: cfg.Logger, now: cfg.Now, maxAtt: cfg.MaxAttachedPolicies,
		managedByID: map[string]*managedPolicy{},
		keys:        map[string]auth.Key{}, sets: map[string]*policySet{}, lastUsed: map[string]keyUse{},
		parsed: map[string]*policy.Policy{},
	}
	ms, err := policy.ManagedPolicies()
	if err != nil {
		return nil, fmt.Errorf("load managed policies: %w", err)
	}
	s.managed = ms
	for _, m := range ms {
		n, err := m.Named()
		if err != nil {
			return nil, fmt.Errorf("parse managed policy %s: %w", m.Name, err)
		}
		s.managedByID[m.ARN] = &managedPolicy{meta: m, named: n}
	}
	return s, nil
}

// update runs fn in a write transaction and forgets every cache.
func (s *Service) update(ctx context.Context, fn func(tx store.Tx) error) error {
	err := s.st.Update(ctx, fn)
	s.invalidate()
	return err
}

func (s *Service) invalidate() {
	s.mu.Lock()
	clear(s.keys)
	clear(s.sets)
	s.gen++
	s.mu.Unlock()
}

func (s *Service) view(ctx context.Context, fn func(tx store.Tx) error) error {
	return s.st.View(ctx, fn)
}

// Store keys. IAM is global, so the region part of the usual
// <service>/<account>/<region>/<kind>/<id> is "global". Names are
// case-insensitive in IAM: keys hold them lower-cased, records as written.
func key(acct, kind, name string) string {
	return store.Key("iam", acct, "global", kind, strings.ToLower(name))
}
func prefix(acct, kind string) string { return store.Key("iam", acct, "global", kind) + "/" }

const (
	kindUser    = "user"
	kindGroup   = "group"
	kindRole    = "role"
	kindPolicy  = "policy"
	kindProfile = "instance-profile"
	kindMFA     = "mfa"
	kindTask    = "slr-task"
	kindAlias   = "alias"
)

// Global indexes (access key ids and aliases are unique installation-wide).
func accessKeyKey(akid string) string { return store.Key("iam-accesskey", akid) }
func aliasKey(alias string) string    { return store.Key("iam-alias", alias) }

// Records.

type tag struct {
	Key   string `json:"k"`
	Value string `json:"v"`
}

type userRec struct {
	Name     string            `json:"name"`
	ID       string            `json:"id"`
	Path     string            `json:"path"`
	Created  time.Time         `json:"created"`
	Tags     []tag             `json:"tags,omitempty"`
	Inline   map[string]string `json:"inline,omitempty"`
	Attached []string          `json:"attached,omitempty"`
	Groups   []string          `json:"groups,omitempty"`
	Boundary string            `json:"boundary,omitempty"`
	Keys     []string          `json:"keys,omitempty"`
	Login    *loginRec         `json:"login,omitempty"`
}

type loginRec struct {
	Created       time.Time `json:"created"`
	ResetRequired bool      `json:"reset_required,omitempty"`
	// PasswordHash is a salted SHA-256 of the password; the password itself
	// is never stored.
	PasswordHash string `json:"password_hash"`
}

type groupRec struct {
	Name     string            `json:"name"`
	ID       string            `json:"id"`
	Path     string            `json:"path"`
	Created  time.Time         `json:"created"`
	Inline   map[string]string `json:"inline,omitempty"`
	Attached []string          `json:"attached,omitempty"`
}

type roleRec struct {
	Name        string            `json:"name"`
	ID          string            `json:"id"`
	Path        string            `json:"path"`
	Created     time.Time         `json:"created"`
	Trust       string            `json:"trust"`
	Description string            `json:"description,omitempty"`
	MaxSession  int32             `json:"max_session"`
	Tags        []tag             `json:"tags,omitempty"`
	Inline      map[string]string `json:"inline,omitempty"`
	Attached    []string          `json:"attached,omitempty"`
	Boundary    string            `json:"boundary,omitempty"`
	// ServiceLinked is the AWS service a service-linked role belongs to.
	ServiceLinked string     `json:"service_linked,omitempty"`
	LastUsed      *time.Time `json:"last_used,omitempty"`
	LastRegion    string     `json:"last_region,omitempty"`
}

type policyRec struct {
	Name        string       `json:"name"`
	ID          string       `json:"id"`
	Path        string       `json:"path"`
	Description string       `json:"description,omitempty"`
	Created     time.Time    `json:"created"`
	Updated     time.Time    `json:"updated"`
	Default     string       `json:"default"`
	Versions    []versionRec `json:"versions"`
	Next        int          `json:"next"`
	Tags        []tag        `json:"tags,omitempty"`
}

type versionRec struct {
	ID       string    `json:"id"`
	Document string    `json:"document"`
	Created  time.Time `json:"created"`
}

type accessKeyRec struct {
	ID      string    `json:"id"`
	Secret  string    `json:"secret"`
	Account string    `json:"account"`
	User    string    `json:"user"`
	Status  string    `json:"status"`
	Created time.Time `json:"created"`
}

type mfaRec struct {
	Name    string    `json:"name"`
	Path    string    `json:"path"`
	Serial  string    `json:"serial"`
	Seed    string    `json:"seed"` // Base32 TOTP secret; never logged
	Created time.Time `json:"created"`
	// User is the user the device is enabled for ("" when unassigned,
	// rootUser for the account's root user).
	User    string    `json:"user,omitempty"`
	Enabled time.Time `json:"enabled,omitzero"`
	Tags    []tag     `json:"tags,omitempty"`
}

type profileRec struct {
	Name    string    `json:"name"`
	ID      string    `json:"id"`
	Path    string    `json:"path"`
	Created time.Time `json:"created"`
	Roles   []string  `json:"roles,omitempty"`
	Tags    []tag     `json:"tags,omitempty"`
}

type taskRec struct {
	ID     string `json:"id"`
	Status string `json:"status"`
}

// rootUser is the user name under which the root user's MFA device is kept.
const rootUser = "<root>"

// get loads the record of kind/name into v, or returns a NoSuchEntity error
// worded by notFound.
func get(tx store.Tx, acct, kind, name string, v any, notFound func() error) error {
	err := store.GetJSON(tx, key(acct, kind, name), v)
	if errors.Is(err, store.ErrNotFound) {
		return notFound()
	}
	return err
}

func noUser(name string) func() error {
	return func() error { return iamapi.ErrNoSuchEntityException("The user with name %s cannot be found.", name) }
}
func noGroup(name string) func() error {
	return func() error { return iamapi.ErrNoSuchEntityException("The group with name %s cannot be found.", name) }
}
func noRole(name string) func() error {
	return func() error { return iamapi.ErrNoSuchEntityException("The role with name %s cannot be found.", name) }
}

func (s *Service) getUser(tx store.Tx, acct, name string) (*userRec, error) {
	var u userRec
	return &u, get(tx, acct, kindUser, name, &u, noUser(name))
}
func (s *Service) getGroup(tx store.Tx, acct, name string) (*groupRec, error) {
	var g groupRec
	return &g, get(tx, acct, kindGroup, name, &g, noGroup(name))
}
func (s *Service) getRole(tx store.Tx, acct, name string) (*roleRec, error) {
	var r roleRec
	return &r, get(tx, acct, kindRole, name, &r, noRole(name))
}

func exists(tx store.Tx, k string) (bool, error) {
	_, err := tx.Get(k)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// caller returns the principal and account of the request in ctx.
func caller(ctx context.Context) (auth.Principal, string) {
	p, _ := auth.PrincipalFrom(ctx)
	acct := auth.ScopeFrom(ctx).AccountID
	if acct == "" {
		acct = p.AccountID
	}
	return p, acct
}

// ID prefixes of IAM's unique ids.
const (
	prefixUser    = "AIDA"
	prefixGroup   = "AGPA"
	prefixRole    = "AROA"
	prefixPolicy  = "ANPA"
	prefixProfile = "AIPA"
)

func newID(prefix string) (string, error) {
	s, err := account.RandomString("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 17)
	return prefix + s, err
}

// encodeDoc renders a policy document as IAM returns it: URL-encoded
// (RFC 3986, spaces as %20).
func encodeDoc(doc string) string {
	return strings.ReplaceAll(url.QueryEscape(doc), "+", "%20")
}

func tagsOut(ts []tag) []iamapi.Tag {
	if len(ts) == 0 {
		return nil
	}
	out := make([]iamapi.Tag, len(ts))
	for i, t := range ts {
		out[i] = iamapi.Tag{Key: ptr(t.Key), Value: ptr(t.Value)}
	}
	return out
}

func ptr[T any](v T) *T { return &v }

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func timePtr(t time.Time) *time.Time { t = t.UTC(); return &t }
