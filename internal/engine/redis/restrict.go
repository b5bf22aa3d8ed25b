package redis

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"net"
	"strings"
)

// ElastiCache restricts commands that need advanced privileges (the user
// guide's "Restricted commands": bgrewriteaof, bgsave, config, debug,
// migrate, replicaof, save, slaveof, shutdown, sync); a client sending one
// gets the engine's own unknown-command error, because ElastiCache
// renames them away:
//
//	ERR unknown command 'CONFIG', with args beginning with: 'GET' 'maxmemory'
//
// Cachalot does the same with rename-command, and restricts MODULE and
// ACL too (a client must not load code, read the users or change its own
// rights). Each is renamed to NAME-<suffix>, the suffix a per-node secret,
// and the ACL of the default user denies them all by their original name
// (ACL rules name a command, not its current name), so a client that
// learns a renamed name (MONITOR shows it) still gets NOPERM. PSYNC is
// denied to the default user by ACL only: a replica sends it by that name,
// so renaming it would break replication.
//
// Cachalot itself reaches the node as a private admin user ("cachalot",
// with the node's secret password and every right) and sends the renamed
// names (Admin.Name). Everything that needs a restricted command — live
// parameters today; REPLICAOF, CLUSTER, BGSAVE and MIGRATE for
// replication, cluster mode and snapshots — goes through an Admin
// connection (Admin.Dial), and a replica authenticates to its primary as
// the admin user (masteruser/masterauth).

// AdminUser is the ACL user Cachalot manages a node as.
const AdminUser = "cachalot"

// RenamedCommands returns the commands renamed away from clients, upper
// case, sorted.
func RenamedCommands() []string {
	return []string{"ACL", "BGREWRITEAOF", "BGSAVE", "CONFIG", "DEBUG", "MIGRATE", "MODULE",
		"REPLICAOF", "SAVE", "SHUTDOWN", "SLAVEOF", "SYNC"}
}

// DeniedCommands returns the commands the default user may not run under
// any name: the renamed ones and PSYNC, lower case as ACL rules name them.
func DeniedCommands() []string {
	var out []string
	for _, c := range RenamedCommands() {
		out = append(out, strings.ToLower(c))
	}
	return append(out, "psync")
}

// DeniedClusterSubcommands returns the CLUSTER subcommands the default
// user of a cluster-mode node may not run, lower case: those that change
// the cluster (Cachalot forms and keeps it, as ElastiCache does), leaving
// clients what cluster clients read (SLOTS, SHARDS, NODES, INFO, MYID,
// KEYSLOT, COUNTKEYSINSLOT, GETKEYSINSLOT) and READONLY/READWRITE.
func DeniedClusterSubcommands() []string {
	return []string{"addslots", "addslotsrange", "bumpepoch", "count-failure-reports", "delslots", "delslotsrange",
		"failover", "flushslots", "forget", "meet", "replicate", "reset", "saveconfig", "set-config-epoch", "setslot"}
}

// Admin is how Cachalot reaches a node past the restrictions its clients
// have. The zero Admin is a node started without them (by a Cachalot
// before they existed, and re-adopted since): no AUTH, original names.
type Admin struct {
	Password string // the admin user's; "" = no admin user
	Suffix   string // of the renamed commands; "" = not renamed
	// TLS, when set, is how the node is reached: it speaks TLS only
	// (ClientConfig).
	TLS *tls.Config
}

// Name returns the name to send a command by: the renamed name for a
// restricted command, cmd otherwise.
func (a Admin) Name(cmd string) string {
	if a.Suffix == "" {
		return cmd
	}
	up := strings.ToUpper(cmd)
	for _, r := range RenamedCommands() {
		if r == up {
			return up + "-" + a.Suffix
		}
	}
	return cmd
}

// Dial connects to the node and authenticates as the admin user.
func (a Admin) Dial(ctx context.Context, dial func(ctx context.Context, network, addr string) (net.Conn, error), addr string) (*Conn, error) {
	c, err := DialWith(ctx, dial, addr)
	if err == nil && a.TLS != nil {
		c, err = c.startTLS(ctx, a.TLS)
	}
	if err != nil || a.Password == "" {
		return c, err
	}
	if _, err := c.Do(ctx, "AUTH", AdminUser, a.Password); err != nil {
		c.Close()
		return nil, fmt.Errorf("auth as %s at %s: %w", AdminUser, addr, err)
	}
	return c, nil
}

// Do runs one command on a connection from Dial, by its admin name.
func (a Admin) Do(ctx context.Context, c *Conn, args ...string) (any, error) {
	args = append([]string{a.Name(args[0])}, args[1:]...)
	return c.Do(ctx, args...)
}

// denyRules are the rules that deny a client user what ElastiCache
// restricts (the renamed commands and PSYNC, and on a cluster-mode node
// the CLUSTER subcommands that change the cluster).
func denyRules(cluster bool) []string {
	deny := make([]string, 0, len(DeniedCommands()))
	for _, c := range DeniedCommands() {
		deny = append(deny, "-"+c)
	}
	if cluster {
		for _, c := range DeniedClusterSubcommands() {
			deny = append(deny, "-cluster|"+c)
		}
	}
	return deny
}

// restrictions renders the rename-command and user directives of a: the
// client users (clientUsers: the default user with passwords, AUTH tokens
// or nopass, or the RBAC users) and the admin user.
func (a Admin) restrictions(w func(k string, v ...string), users []User) {
	if a.Suffix != "" {
		for _, c := range RenamedCommands() {
			w("rename-command", c, a.Name(c))
		}
	}
	for _, u := range users {
		w("user", append([]string{u.Name}, u.Rules...)...)
	}
	if a.Password != "" {
		sum := sha256.Sum256([]byte(a.Password))
		w("user", AdminUser, "on", "#"+hex.EncodeToString(sum[:]), "~*", "&*", "+@all")
	}
}
