package instancectl

import (
	"fmt"
	"os"
	"os/exec"

	"github.com/cachalot-dev/cachalot/internal/engine/identity"
)

// How user data is confined. Instances share the host's file system and
// process table, so when the daemon runs as root each account's scripts
// run as that account's identity (a uid and gid of the identity.UserData
// range, claimed under the key "account-<id>" and kept across restarts),
// dropped to by setpriv(1) after entering the instance's network
// namespace: no supplementary groups, no capabilities (bounding set
// cleared), no_new_privs. The range is disjoint from the engines' and from
// every uid a distribution assigns, so a script can signal no engine, no
// other account's script and no system process, and reads only
// world-readable files. It starts with umask 077: what it writes (in /tmp,
// say) is readable by its own account only.
//
// One identity per account, not per instance: instances of one account
// may signal each other (they are the same owner's), and an identity is
// never released, so files a script leaves behind never become readable
// by another account that would inherit its uid.
//
// When the daemon does not run as root nothing can switch identity:
// scripts run as the daemon's user, with no_new_privs when setpriv is
// installed. (The namespaces network mode, the only one running user
// data, needs root.)

// accountKey is the identity key of an account's user data.
func accountKey(account string) string { return "account-" + account }

// confine returns argv run as account's identity with no capabilities,
// no_new_privs and umask 077.
func (u *Controller) confine(account string, argv []string) ([]string, error) {
	root := os.Geteuid() == 0
	setpriv := u.cfg.Setpriv
	if setpriv == "" {
		p, err := exec.LookPath("setpriv")
		if err != nil && root {
			return nil, fmt.Errorf("setpriv (util-linux) is needed to confine user data when running as root: %w", err)
		}
		setpriv = p // "" when missing: no confinement
	}
	var id *identity.ID
	if root {
		if u.cfg.Identities == nil {
			return nil, fmt.Errorf("no user-data identity allocator configured")
		}
		claimed, err := u.cfg.Identities.Claim(accountKey(account))
		if err != nil {
			return nil, fmt.Errorf("user-data identity of account %s: %w", account, err)
		}
		id = &claimed
	}
	// umask is set by a shell after the drop, then argv replaces it.
	masked := append([]string{"/bin/sh", "-c", `umask 077 && exec "$@"`, "sh"}, argv...)
	return identity.Drop{Setpriv: setpriv, ID: id}.Argv(masked), nil
}
