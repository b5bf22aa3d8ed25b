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

// AuthID identifies a list of AUTH token hashes (NodeSpec.AuthTokens):
// NodeStatus.Auth of a node given them; "" for none.
func AuthID(hashes []string) string {
	if len(hashes) == 0 {
		return ""
	}
	sum := sha256.Sum256([]byte(strings.Join(hashes, ",")))
	return hex.EncodeToString(sum[:6])
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
	c, err := admin.Dial(ctx, spec.Dial, spec.Addr())
	if err != nil {
		return fmt.Errorf("announce the name of %s: %w", n.id, err)
	}
	defer c.Close()
	if _, err := admin.Do(ctx, c, cmd...); err != nil {
		return fmt.Errorf("announce the name of %s: %w", n.id, err)
	}
	return nil
}

// setAuth serves reqAuth: the engine's default user gets exactly the
// passwords hashes, live (ACL SETUSER through the admin connection, no
// restart); the configuration it restarts with names them too.
func (n *node) setAuth(ctx context.Context, w *watcher, hashes []string, quiet bool) error {
	cmds, err := redis.AuthCommands(hashes)
	if err != nil {
		return err
	}
	n.mu.Lock()
	if n.spec.Engine.Engine == catalog.Memcached {
		n.mu.Unlock()
		return fmt.Errorf("node %s: AUTH tokens need Redis OSS or Valkey", n.id)
	}
	old := n.spec.AuthTokens
	n.spec.AuthTokens = slices.Clone(hashes)
	spec, admin := cloneSpec(n.spec), n.admin
	n.mu.Unlock()
	if w != nil {
		c, err := admin.Dial(ctx, spec.Dial, spec.Addr())
		if err == nil {
			defer c.Close()
			for _, args := range cmds {
				if _, err = admin.Do(ctx, c, args...); err != nil {
					break
				}
			}
		}
		if err != nil {
			n.mu.Lock()
			n.spec.AuthTokens = old
			n.mu.Unlock()
			return fmt.Errorf("set the AUTH tokens of %s: %w", n.id, err)
		}
	}
	if err := n.writeConfig(); err != nil {
		return err
	}
	n.setStatus(func(s *NodeStatus) { s.Auth = AuthID(hashes) })
	if !quiet {
		n.emit(Event{Type: EventAuthSet, Message: fmt.Sprintf("AUTH tokens set (%d)", len(hashes))})
	}
	return nil
}
