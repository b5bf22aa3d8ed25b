package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"

	"github.com/cachalot-dev/cachalot/internal/catalog"
	"github.com/cachalot-dev/cachalot/internal/engine/redis"
)

// AuthID identifies a list of AUTH token hashes (NodeSpec.AuthTokens)
// and RBAC users (NodeSpec.Users): NodeStatus.Auth of a node given them;
// "" for neither.
func AuthID(hashes []string, users ...ACLUser) string {
	if len(hashes) == 0 && len(users) == 0 {
		return ""
	}
	h := sha256.New()
	h.Write([]byte(strings.Join(hashes, ",")))
	for _, u := range users {
		fmt.Fprintf(h, "\x00%s\x01%s", u.Name, strings.Join(u.Rules, " "))
	}
	return hex.EncodeToString(h.Sum(nil)[:6])
}

// announceLive sets the announced name of an adopted cluster-mode node
// live (redis.AnnounceCommand); its configuration names it already.
func (n *node) announceLive(ctx context.Context) error {
	n.mu.Lock()
	spec, admin := cloneSpec(n.spec), n.admin
	n.mu.Unlock()
	cmd, err := redis.AnnounceCommand(spec.Engine.Family, spec.Parameters, spec.AnnounceHostname)
	if err != nil || cmd == nil {
		return err
	}
	c, err := admin.Dial(ctx, spec.Dial, spec.adminAddr())
	if err != nil {
		return fmt.Errorf("announce the name of %s: %w", n.id, err)
	}
	defer c.Close()
	if _, err := admin.Do(ctx, c, cmd...); err != nil {
		return fmt.Errorf("announce the name of %s: %w", n.id, err)
	}
	return nil
}

// setAnnounced serves reqAnnounce: a cluster-mode node announces
// another name (its group's names changed with its transit encryption),
// live when its engine runs, and at its next start.
func (n *node) setAnnounced(ctx context.Context, w *watcher, name string) error {
	n.mu.Lock()
	old := n.spec.AnnounceHostname
	n.spec.AnnounceHostname = name
	n.mu.Unlock()
	if w != nil {
		if err := n.announceLive(ctx); err != nil {
			n.mu.Lock()
			n.spec.AnnounceHostname = old
			n.mu.Unlock()
			return err
		}
	}
	return n.writeConfig()
}

// setAuth serves reqAuth: the engine's client users become exactly the
// default user with the passwords hashes (or the users' default) and
// users, live (ACL SETUSER and DELUSER through the admin connection, no
// restart); the configuration it restarts with names them too.
func (n *node) setAuth(ctx context.Context, w *watcher, hashes []string, users []ACLUser, quiet bool) error {
	n.mu.Lock()
	if n.spec.Engine.Engine == catalog.Memcached {
		n.mu.Unlock()
		return fmt.Errorf("node %s: AUTH tokens and users need Redis OSS or Valkey", n.id)
	}
	cmds, err := redis.AuthCommands(hashes, users, n.spec.Parameters["cluster-enabled"] == "yes")
	if err != nil {
		n.mu.Unlock()
		return err
	}
	oldH, oldU := n.spec.AuthTokens, n.spec.Users
	n.spec.AuthTokens, n.spec.Users = slices.Clone(hashes), slices.Clone(users)
	spec, admin := cloneSpec(n.spec), n.admin
	n.mu.Unlock()
	if w != nil && admin.Password == "" {
		// No admin user of Cachalot's (an engine adopted from before
		// there was one): its admin is the default user, which keeps its
		// permissions; users come with the hardened configuration.
		cmds, err = redis.LegacyAuthCommands(hashes)
		if err == nil {
			err = applyUsers(ctx, admin, spec, cmds, nil)
		}
		if err != nil {
			n.mu.Lock()
			n.spec.AuthTokens, n.spec.Users = oldH, oldU
			n.mu.Unlock()
			return fmt.Errorf("set the users of %s: %w", n.id, err)
		}
	} else if w != nil {
		if err := applyUsers(ctx, admin, spec, cmds, users); err != nil {
			n.mu.Lock()
			n.spec.AuthTokens, n.spec.Users = oldH, oldU
			n.mu.Unlock()
			return fmt.Errorf("set the users of %s: %w", n.id, err)
		}
	}
	if err := n.writeConfig(); err != nil {
		return err
	}
	n.setStatus(func(s *NodeStatus) { s.Auth = AuthID(hashes, users...) })
	if !quiet {
		n.emit(Event{Type: EventAuthSet, Message: fmt.Sprintf("AUTH tokens (%d) and users (%d) set", len(hashes), len(users))})
	}
	return nil
}

// applyUsers runs cmds on the node, then deletes the users it has beyond
// users (a user removed from the group).
func applyUsers(ctx context.Context, admin redis.Admin, spec NodeSpec, cmds [][]string, users []ACLUser) error {
	c, err := admin.Dial(ctx, spec.Dial, spec.adminAddr())
	if err != nil {
		return err
	}
	defer c.Close()
	// The users present are read first: on an engine adopted from before
	// Cachalot had its own admin user, the admin connection is the default
	// user's, which the commands below may deny ACL to.
	v, err := admin.Do(ctx, c, "ACL", "USERS")
	if err != nil {
		return fmt.Errorf("ACL USERS: %w", err)
	}
	for _, args := range cmds {
		if _, err := admin.Do(ctx, c, args...); err != nil {
			return fmt.Errorf("ACL SETUSER %s: %w", args[2], err)
		}
	}
	list, _ := v.([]any)
	var present []string
	for _, x := range list {
		if s, ok := x.(string); ok {
			present = append(present, s)
		}
	}
	if del := redis.DelUsers(present, users); del != nil {
		if _, err := admin.Do(ctx, c, del...); err != nil {
			return fmt.Errorf("ACL DELUSER: %w", err)
		}
	}
	return nil
}
