package redis

import (
	"fmt"
	"regexp"
	"slices"
)

// AUTH tokens (ElastiCache's AuthToken): the passwords of the default
// user, as SHA-256 hashes (ACL "#<hex>" rules), so that neither the
// configuration nor Cachalot's store ever holds a token itself. None
// means nopass, the default user of a cache without a token. During a
// rotation the default user has two (old and new both accepted).
//
// RBAC users (ElastiCache's user groups): Users, each an ACL user with
// its rules (passwords again only as "#<hex>"); a user named default
// replaces the default user of the tokens. Every client user is denied
// what the default user is denied (restrict.go), whatever its rules say.

var tokenHashRE = regexp.MustCompile(`^[0-9a-f]{64}$`)

// User is an ACL user of a node besides Cachalot's admin user: its name
// and ACL rules (on/off, "#<sha256>" or nopass, keys, channels,
// commands).
type User struct {
	Name  string
	Rules []string
}

// Equal reports whether u and v are the same user with the same rules.
func (u User) Equal(v User) bool { return u.Name == v.Name && slices.Equal(u.Rules, v.Rules) }

var (
	userNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@+:=-]*$`)
	// Rules are single tokens of printable ASCII without quotes or
	// backslashes (they are written into the configuration as is), and
	// never a plaintext password (">", "<").
	userRuleRE = regexp.MustCompile(`^[!#-&(-;=?-\[\]-~]+$`)
)

func checkUsers(users []User) error {
	seen := map[string]bool{}
	for _, u := range users {
		if !userNameRE.MatchString(u.Name) || u.Name == AdminUser || seen[u.Name] {
			return fmt.Errorf("acl user %q: invalid, reserved or repeated name", u.Name)
		}
		seen[u.Name] = true
		for _, r := range u.Rules {
			if !userRuleRE.MatchString(r) {
				return fmt.Errorf("acl user %s: rule %q not allowed", u.Name, r)
			}
			if r[0] == '#' && !tokenHashRE.MatchString(r[1:]) {
				return fmt.Errorf("acl user %s: password hash %q: want 64 lower-case hex digits (SHA-256)", u.Name, r[1:])
			}
		}
	}
	return nil
}

// passwordRules are the ACL rules of the default user's passwords.
func passwordRules(hashes []string) ([]string, error) {
	if len(hashes) == 0 {
		return []string{"nopass"}, nil
	}
	out := make([]string, 0, len(hashes))
	for _, h := range hashes {
		if !tokenHashRE.MatchString(h) {
			return nil, fmt.Errorf("auth token hash %q: want 64 lower-case hex digits (SHA-256)", h)
		}
		out = append(out, "#"+h)
	}
	return out, nil
}

// clientUsers are the client users of a node: the default user (of the
// tokens, unless users has one) first, then users, each with the denials
// appended.
func clientUsers(hashes []string, users []User, cluster bool) ([]User, error) {
	if err := checkUsers(users); err != nil {
		return nil, err
	}
	deny := denyRules(cluster)
	var out []User
	if !slices.ContainsFunc(users, func(u User) bool { return u.Name == "default" }) {
		pw, err := passwordRules(hashes)
		if err != nil {
			return nil, err
		}
		out = append(out, User{Name: "default", Rules: slices.Concat([]string{"on"}, pw, []string{"~*", "&*", "+@all"}, deny)})
	}
	for _, u := range users {
		out = append(out, User{Name: u.Name, Rules: slices.Concat(u.Rules, deny)})
	}
	return out, nil
}

// AuthCommands are the commands (by their plain names; send them through
// Admin.Do) that give a running engine exactly its client users: the
// default user with the passwords hashes (none: nopass) unless users has
// a default, and users; each ACL SETUSER is atomic, so a client
// authenticated before stays so, new AUTHs need a current password.
// Users the engine has beyond them (present, from ACL USERS) are deleted
// (DelUsers), which disconnects their clients.
func AuthCommands(hashes []string, users []User, cluster bool) ([][]string, error) {
	cu, err := clientUsers(hashes, users, cluster)
	if err != nil {
		return nil, err
	}
	var out [][]string
	for _, u := range cu {
		out = append(out, slices.Concat([]string{"ACL", "SETUSER", u.Name, "reset"}, u.Rules))
	}
	return out, nil
}

// LegacyAuthCommands sets only the default user's passwords (hashes;
// none: nopass), leaving its permissions: for an engine started before
// Cachalot had its own admin user, whose admin connection is the default
// user's and must keep them. Its other users come with the configuration
// it restarts with.
func LegacyAuthCommands(hashes []string) ([][]string, error) {
	rules, err := passwordRules(hashes)
	if err != nil {
		return nil, err
	}
	return [][]string{append([]string{"ACL", "SETUSER", "default", "resetpass"}, rules...)}, nil
}

// DelUsers is the ACL DELUSER command for the users present has beyond
// the client users (users, default) and Cachalot's admin user; nil if
// none.
func DelUsers(present []string, users []User) []string {
	var del []string
	for _, p := range present {
		if p == "default" || p == AdminUser || slices.ContainsFunc(users, func(u User) bool { return u.Name == p }) {
			continue
		}
		del = append(del, p)
	}
	if len(del) == 0 {
		return nil
	}
	return append([]string{"ACL", "DELUSER"}, del...)
}
