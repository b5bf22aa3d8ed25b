// Package auth owns the identity of a verified request: who made it (the
// Principal) and the interfaces through which the wire layer resolves access
// keys and asks whether an action is allowed. It is a leaf package imported by
// the wire layer, by iam/sts (which implement the interfaces) and by domain
// services that need the caller's account.
package auth

import (
	"context"
	"time"
)

// PrincipalType says what kind of identity signed a request.
type PrincipalType string

const (
	Root        PrincipalType = "Root"
	User        PrincipalType = "IAMUser"
	AssumedRole PrincipalType = "AssumedRole"
	// FederatedUser is the identity of GetFederationToken credentials.
	FederatedUser PrincipalType = "FederatedUser"
)

// Principal is the verified identity behind a request.
type Principal struct {
	Type      PrincipalType
	AccountID string
	// ARN as GetCallerIdentity returns it, e.g. arn:aws:iam::123456789012:user/alice.
	ARN string
	// UserID as GetCallerIdentity returns it (the account id for root, AIDA… for a user,
	// AROA…:session for an assumed role).
	UserID string
	// Name is the user name, role name or "root".
	Name string
	// AccessKeyID that signed the request.
	AccessKeyID string
	// SessionToken is set for temporary credentials.
	Temporary bool
	// MFAAuthenticated is true for temporary credentials obtained with MFA.
	MFAAuthenticated bool
	// TokenIssued is when the temporary credentials were issued (zero for long-term keys).
	TokenIssued time.Time
	// RoleARN is the role behind an assumed-role session.
	RoleARN string
}

// Key is the secret material behind an access key id.
type Key struct {
	AccessKeyID     string
	SecretAccessKey string
	// SessionToken must match the request's X-Amz-Security-Token when set.
	SessionToken string
	// Expires is when temporary credentials stop working (zero: never).
	Expires   time.Time
	Principal Principal
}

// KeyResolver finds the secret for an access key id. It returns ErrUnknownKey
// when the key does not exist or is inactive.
type KeyResolver interface {
	ResolveKey(ctx context.Context, accessKeyID string) (Key, error)
}

// Request describes one API call for authorization.
type Request struct {
	Principal Principal
	// Service is the IAM service prefix: elasticache, ec2, iam, sts.
	Service string
	// Action is the API operation name, e.g. CreateCacheCluster.
	Action string
	// Resources are the ARNs the action touches; "*" when it has none.
	Resources []string
	// Region of the request.
	Region string
	// SourceIP of the caller, and SecureTransport when the request came over TLS.
	SourceIP        string
	SecureTransport bool
	// Time of the request.
	Time time.Time
	// Context holds extra condition keys (e.g. "elasticache:CacheNodeType").
	Context map[string][]string
}

// Authorizer decides whether a request is allowed. It returns nil or an
// *awserr.Error (AccessDenied, UnauthorizedOperation) ready for the wire.
type Authorizer interface {
	Authorize(ctx context.Context, r Request) error
}

type principalKey struct{}

// WithPrincipal returns a context carrying p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the principal of the request in ctx.
func PrincipalFrom(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}

// Scope is where a request acts: the caller's account and the signed region.
type Scope struct {
	AccountID string
	Region    string
}

type scopeKey struct{}

// WithScope returns a context carrying s.
func WithScope(ctx context.Context, s Scope) context.Context {
	return context.WithValue(ctx, scopeKey{}, s)
}

// ScopeFrom returns the scope of the request in ctx.
func ScopeFrom(ctx context.Context) Scope {
	s, _ := ctx.Value(scopeKey{}).(Scope)
	return s
}

// ErrUnknownKey is returned by a KeyResolver for an access key it does not know.
var ErrUnknownKey = errUnknownKey{}

type errUnknownKey struct{}

func (errUnknownKey) Error() string { return "unknown access key" }
