package redis

import (
	"fmt"
	"regexp"
)

// AUTH tokens (ElastiCache's AuthToken): the passwords of the default
// user, as SHA-256 hashes (ACL "#<hex>" rules), so that neither the
// configuration nor Cachalot's store ever holds a token itself. None
// means nopass, the default user of a cache without a token. During a
// rotation the default user has two (old and new both accepted).

var tokenHashRE = regexp.MustCompile(`^[0-9a-f]{64}$`)

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

// AuthCommands are the commands (by their plain names; send them through
// Admin.Do) that give a running engine's default user exactly the
// passwords hashes (none: nopass), atomically: a client authenticated
// before stays so, new AUTHs need a current token.
func AuthCommands(hashes []string) ([][]string, error) {
	rules, err := passwordRules(hashes)
	if err != nil {
		return nil, err
	}
	return [][]string{append([]string{"ACL", "SETUSER", "default", "resetpass"}, rules...)}, nil
}
