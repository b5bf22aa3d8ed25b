package elasticache

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/cachalot-dev/cachalot/internal/api/elasticacheapi"
)

// AUTH tokens (Redis OSS and Valkey with in-transit encryption): the
// password of the engine's default user. Cachalot keeps only their
// SHA-256 hashes (AuthTokens on the cluster or group, copied into the
// members), which is all the engine needs (ACL "#<hash>" passwords): a
// token is never stored, logged or returned. A rotation holds two (the
// old and the new, both accepted) until SET keeps the new one only. The
// cache controller gives the engines the hashes; they take them live.

// Token update strategies and statuses as ElastiCache spells them.
const (
	TokenRotate = "ROTATE"
	TokenSet    = "SET"
	TokenDelete = "DELETE"

	TokenRotating = "ROTATING"
	TokenSetting  = "SETTING"
)

// checkAuthToken applies AWS's rules: 16 to 128 printable ASCII
// characters, of which the special ones only ! & # $ ^ < > and -.
func checkAuthToken(tok string) error {
	if len(tok) < 16 || len(tok) > 128 {
		return invalid("Invalid AuthToken provided. The AUTH token must be between 16 and 128 characters long.")
	}
	for _, r := range tok {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		case r == '!' || r == '&' || r == '#' || r == '$' || r == '^' || r == '<' || r == '>' || r == '-':
		default:
			return invalid("Invalid AuthToken provided. Only printable ASCII characters are allowed, and of the special characters only !, &, #, $, ^, <, > and -.")
		}
	}
	return nil
}

// tokenHash is the stored (and engine) form of a token.
func tokenHash(tok string) string {
	sum := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(sum[:])
}

// newAuthTokens validates a create request's token (already known to
// come with in-transit encryption) and returns the hashes the cache
// starts with.
func newAuthTokens(tok *string) ([]string, error) {
	if tok == nil {
		return nil, nil
	}
	if err := checkAuthToken(*tok); err != nil {
		return nil, err
	}
	return []string{tokenHash(*tok)}, nil
}

// updateAuthTokens is a modification's token change: the new hashes and
// the status while the engines take them. cur are the cache's hashes.
func updateAuthTokens(transit string, cur []string, tok, strategy *string) (next []string, status string, err error) {
	st := aws.ToString(strategy)
	switch {
	case tok == nil && strategy == nil:
		return cur, "", nil
	case transit == "":
		return nil, "", invalid("The AUTH token is only supported when encryption-in-transit is enabled")
	case st == TokenDelete:
		return nil, "", invalid("AuthTokenUpdateStrategy DELETE is only allowed when moving to role-based access control (UserGroupIdsToAdd).")
	case tok == nil:
		return nil, "", combination("AuthTokenUpdateStrategy %s requires an AuthToken.", st)
	case strategy == nil:
		return nil, "", combination("The AuthToken parameter must be specified with the AuthTokenUpdateStrategy parameter.")
	case st != TokenRotate && st != TokenSet:
		return nil, "", invalid("Invalid value for AuthTokenUpdateStrategy: %s. Valid values are SET, ROTATE and DELETE.", st)
	}
	if err := checkAuthToken(*tok); err != nil {
		return nil, "", err
	}
	h := tokenHash(*tok)
	if st == TokenSet {
		if len(cur) < 2 {
			return nil, "", combination("AuthTokenUpdateStrategy SET is only allowed after a ROTATE: rotate the AUTH token first.")
		}
		return []string{h}, TokenSetting, nil
	}
	if len(cur) == 0 {
		return []string{h}, TokenRotating, nil
	}
	return []string{cur[len(cur)-1], h}, TokenRotating, nil
}

// authAPI is how Describe reports a cache's tokens.
func authAPI(hashes []string, modified time.Time) (*bool, *time.Time) {
	if len(hashes) == 0 {
		return aws.Bool(false), nil
	}
	if modified.IsZero() {
		return aws.Bool(true), nil
	}
	t := modified
	return aws.Bool(true), &t
}

// modifyAuthTokens applies a modification's token change to a cache's
// hashes, modification time and status; true when they changed.
func modifyAuthTokens(transit string, hashes *[]string, modified *time.Time, status *string, tok, strategy *string, now time.Time) (bool, error) {
	*status = ""
	if tok == nil && strategy == nil {
		return false, nil
	}
	next, st, err := updateAuthTokens(transit, *hashes, tok, strategy)
	if err != nil {
		return false, err
	}
	*hashes, *modified, *status = next, now.UTC(), st
	return true, nil
}

// modifyGroupAuth applies ModifyReplicationGroup's token change to the
// group and every member (their engines take it live).
func (s *Service) modifyGroupAuth(g *ReplicationGroup, members []*Cluster, in *elasticacheapi.ModifyReplicationGroupMessage) (bool, error) {
	changed, err := modifyAuthTokens(g.TransitEncryptionMode, &g.AuthTokens, &g.AuthTokenModified, &g.AuthTokenStatus, in.AuthToken, in.AuthTokenUpdateStrategy, s.cfg.Now())
	if err != nil || !changed {
		return false, err
	}
	for _, c := range members {
		if c.Status == StatusDeleting {
			continue
		}
		c.AuthTokens, c.AuthTokenModified, c.AuthTokenStatus = slices.Clone(g.AuthTokens), g.AuthTokenModified, g.AuthTokenStatus
		if c.Status == StatusAvailable {
			c.Status = StatusModifying
		}
		c.Generation++
	}
	return true, nil
}
