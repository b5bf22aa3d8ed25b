// Package iamauth verifies ElastiCache IAM authentication tokens: the
// SigV4-presigned request a client generates for an ElastiCache user with
// AuthenticationMode iam and sends as the password of AUTH or HELLO.
//
// A token is a presigned URL without its scheme:
//
//	<cache>/?Action=connect&User=<user>[&ResourceType=ServerlessCache]
//	  &X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=<key>/<day>/<region>/elasticache/aws4_request
//	  &X-Amz-Date=…&X-Amz-Expires=900[&X-Amz-Security-Token=…]&X-Amz-SignedHeaders=host&X-Amz-Signature=…
//
// signed for GET on path "/" of host <cache> (the replication group id or
// the serverless cache's name, lower case). The token is checked as the
// API endpoint checks a presigned request (internal/sigv4, the same key
// resolution: access keys of users, roots and STS sessions), then the
// signer must be allowed elasticache:Connect on the cache and on the user
// by its IAM policies. The payload hash may be that of an empty body
// (aws-sdk-go-v2's PresignHTTP as AWS's examples call it) or
// UNSIGNED-PAYLOAD (botocore's presigner).
package iamauth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/cachalot-dev/cachalot/internal/auth"
	"github.com/cachalot-dev/cachalot/internal/sigv4"
)

// MaxExpiry is the longest validity a token may claim: 15 minutes, as
// ElastiCache documents.
const MaxExpiry = 15 * time.Minute

// Service is the signing name and IAM prefix of ElastiCache.
const Service = "elasticache"

// Check is one authentication to verify.
type Check struct {
	// Account and Region own the cache.
	Account, Region string
	// Cache is the replication group id or serverless cache name.
	Cache string
	// Serverless: Cache is a serverless cache (the token must say
	// ResourceType=ServerlessCache).
	Serverless bool
	// User is the ElastiCache user id the client authenticates as.
	User string
}

// Verifier checks tokens.
type Verifier struct {
	Keys       auth.KeyResolver
	Authorizer auth.Authorizer
	// Now is the clock (time.Now when nil).
	Now  func() time.Time
	keys sigv4.KeyCache
}

// ErrInvalid wraps every reason a token is refused; the client sees only
// the engine's WRONGPASS.
var ErrInvalid = errors.New("invalid IAM authentication token")

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// unsignedPayload is what botocore's presigner signs as the payload hash.
const unsignedPayload = "UNSIGNED-PAYLOAD"

// Verify checks token, the password a client sent; nil when it may
// connect as c.User.
func (v *Verifier) Verify(ctx context.Context, c Check, token string) error {
	now := time.Now()
	if v.Now != nil {
		now = v.Now()
	}
	host, rawQuery, ok := strings.Cut(token, "/?")
	if !ok || host == "" || strings.ContainsAny(host, "/@:") {
		return invalid("not a presigned URL without scheme")
	}
	if !strings.EqualFold(host, c.Cache) {
		return invalid("token is for %q, not this cache", host)
	}
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return invalid("query: %v", err)
	}
	for _, k := range []string{"Action", "User", "ResourceType", "X-Amz-Expires"} {
		if len(q[k]) > 1 {
			return invalid("%s given twice", k)
		}
	}
	if q.Get("Action") != "connect" {
		return invalid("Action is not connect")
	}
	if !strings.EqualFold(q.Get("User"), c.User) {
		return invalid("token is for another user")
	}
	if _, has := q["ResourceType"]; has != c.Serverless || (has && q.Get("ResourceType") != "ServerlessCache") {
		return invalid("ResourceType does not match the cache")
	}
	if q.Get("X-Amz-Expires") == "" {
		return invalid("X-Amz-Expires missing")
	}
	r := &http.Request{Method: http.MethodGet, Host: host, Header: http.Header{},
		URL: &url.URL{Scheme: "http", Host: host, Path: "/", RawQuery: rawQuery}}
	sig, err := sigv4.Parse(r)
	if err != nil {
		return invalid("%v", err)
	}
	switch {
	case !sig.Presigned:
		return invalid("not presigned")
	case sig.Service != Service:
		return invalid("signed for service %q", sig.Service)
	case sig.Region != c.Region:
		return invalid("signed for region %q", sig.Region)
	case sig.Expires > MaxExpiry:
		return invalid("X-Amz-Expires above %d", int(MaxExpiry.Seconds()))
	case len(sig.SignedHeaders) != 1 || sig.SignedHeaders[0] != "host":
		return invalid("signed headers must be host")
	}
	if err := sig.CheckTime(now, 5*time.Minute); err != nil {
		return invalid("%v", err)
	}
	key, err := v.Keys.ResolveKey(ctx, sig.AccessKeyID)
	if err != nil {
		return invalid("access key: %v", err)
	}
	if key.SessionToken != sig.SecurityToken {
		return invalid("security token does not match the access key")
	}
	sk := v.keys.SigningKey(key.SecretAccessKey, sig.Day, sig.Region, sig.Service)
	if sig.VerifyWithKey(r, nil, sk) != nil && sig.VerifyPayloadHash(r, unsignedPayload, sk) != nil {
		return invalid("signature does not match")
	}
	if !key.Expires.IsZero() && now.After(key.Expires) {
		return invalid("temporary credentials expired")
	}
	p := key.Principal
	if p.AccountID != c.Account {
		return invalid("principal of account %s, cache of account %s", p.AccountID, c.Account)
	}
	kind := "replicationgroup"
	if c.Serverless {
		kind = "serverlesscache"
	}
	arn := func(typ, id string) string {
		return "arn:aws:elasticache:" + c.Region + ":" + c.Account + ":" + typ + ":" + id
	}
	if err := v.Authorizer.Authorize(ctx, auth.Request{Principal: p, Service: Service, Action: "Connect",
		Resources: []string{arn(kind, strings.ToLower(c.Cache)), arn("user", strings.ToLower(c.User))},
		Region:    c.Region, SecureTransport: true, Time: now}); err != nil {
		return invalid("%s may not connect: %v", p.ARN, err)
	}
	return nil
}
