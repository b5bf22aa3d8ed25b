package engine

import (
	"context"
	"fmt"
	"time"

	"github.com/cachalot-dev/cachalot/internal/catalog"
	"github.com/cachalot-dev/cachalot/internal/engine/redis"
)

// Commands runs commands on a running Valkey or Redis OSS node as its
// admin user (restricted commands by their renamed names), on one
// connection, and returns their replies: what the group controller needs
// of a cluster-mode node (CLUSTER MEET, ADDSLOTSRANGE, REPLICATE, FAILOVER,
// FORGET, NODES, INFO). The first failing command ends the run. Without a
// deadline in ctx, one second.
func (s *Supervisor) Commands(ctx context.Context, nodeID string, cmds ...[]string) ([]any, error) {
	n, err := s.node(nodeID)
	if err != nil {
		return nil, err
	}
	n.mu.Lock()
	spec, admin := n.spec, n.admin
	n.mu.Unlock()
	if spec.Engine.Engine == catalog.Memcached {
		return nil, fmt.Errorf("command on %s: %w", nodeID, errNotReplicable)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Second)
		defer cancel()
	}
	c, err := admin.Dial(ctx, spec.Dial, spec.adminAddr())
	if err != nil {
		return nil, fmt.Errorf("command on %s: %w", nodeID, err)
	}
	defer c.Close()
	out := make([]any, 0, len(cmds))
	for _, args := range cmds {
		v, err := admin.Do(ctx, c, args...)
		if err != nil {
			return out, fmt.Errorf("%s on %s: %w", args[0], nodeID, err)
		}
		out = append(out, v)
	}
	return out, nil
}

// SetPrimaryAuth gives a cluster-mode node the credentials of the node it
// replicates (or is about to): the primary's admin user and password
// (masteruser, masterauth), since the default user may not run PSYNC. In
// cluster mode the cluster, not replicaof, says whom a node follows, so
// these are set live whenever that changes.
func (s *Supervisor) SetPrimaryAuth(ctx context.Context, nodeID, primaryNodeID string) error {
	if !nodeIDRE.MatchString(primaryNodeID) || primaryNodeID == "" || primaryNodeID[0] == '.' {
		return fmt.Errorf("set primary credentials of %s: bad node id %q", nodeID, primaryNodeID)
	}
	sec, err := readSecrets(s.NodeDir(primaryNodeID))
	if err != nil {
		return fmt.Errorf("set primary credentials of %s: %w", nodeID, err)
	}
	if sec.AdminPassword == "" {
		return nil
	}
	_, err = s.Commands(ctx, nodeID, []string{"CONFIG", "SET", "masteruser", redis.AdminUser, "masterauth", sec.AdminPassword})
	return err
}

// ParseReplicationInfo parses the reply to INFO replication (a Commands
// reply).
func ParseReplicationInfo(s string) (ReplicationInfo, error) { return redis.ParseReplicationInfo(s) }

// clusterMode reports whether a node runs in cluster mode, where the
// engine refuses REPLICAOF: its roles are the cluster's.
func clusterMode(spec NodeSpec) bool { return spec.Parameters["cluster-enabled"] == "yes" }

// MigrateAuth returns the arguments by which MIGRATE authenticates to a
// cluster-mode node as its admin user (AUTH2 user password), none for a
// node without one: the group controller moves keys between shards
// during an online resharding.
func (s *Supervisor) MigrateAuth(nodeID string) ([]string, error) {
	if !nodeIDRE.MatchString(nodeID) || nodeID == "" || nodeID[0] == '.' {
		return nil, fmt.Errorf("migrate credentials: bad node id %q", nodeID)
	}
	sec, err := readSecrets(s.NodeDir(nodeID))
	if err != nil {
		return nil, fmt.Errorf("migrate credentials of %s: %w", nodeID, err)
	}
	if sec.AdminPassword == "" {
		return nil, nil
	}
	return []string{"AUTH2", redis.AdminUser, sec.AdminPassword}, nil
}

// Pipeline runs commands as Commands does, but sends them all before
// reading the replies (one round trip): an error reply is its command's
// entry (a redis.Error), and the first one is also returned as the error.
func (s *Supervisor) Pipeline(ctx context.Context, nodeID string, cmds ...[]string) ([]any, error) {
	n, err := s.node(nodeID)
	if err != nil {
		return nil, err
	}
	n.mu.Lock()
	spec, admin := n.spec, n.admin
	n.mu.Unlock()
	if spec.Engine.Engine == catalog.Memcached {
		return nil, fmt.Errorf("pipeline on %s: %w", nodeID, errNotReplicable)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Second)
		defer cancel()
	}
	c, err := admin.Dial(ctx, spec.Dial, spec.adminAddr())
	if err != nil {
		return nil, fmt.Errorf("pipeline on %s: %w", nodeID, err)
	}
	defer c.Close()
	out, err := admin.Pipeline(ctx, c, cmds)
	if err != nil {
		return out, fmt.Errorf("pipeline on %s: %w", nodeID, err)
	}
	for i, v := range out {
		if re, ok := v.(redis.Error); ok {
			return out, fmt.Errorf("%s on %s: %w", cmds[i][0], nodeID, re)
		}
	}
	return out, nil
}
