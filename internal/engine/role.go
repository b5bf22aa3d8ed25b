package engine

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/cachalot-dev/cachalot/internal/catalog"
	"github.com/cachalot-dev/cachalot/internal/engine/redis"
)

// A node's role in a replication group (Redis OSS and Valkey only). The
// supervisor renders it into the engine's configuration — so a replica
// that restarts comes back following its primary and resynchronises — and
// changes it live (SetRole) when a failover or a promotion changes who
// follows whom. A replica authenticates to its primary as the primary's
// admin user, whose password the supervisor reads from the primary's own
// node directory: node secrets never leave this package.

// Upstream is the node a replica follows: another node of the same
// supervisor, and where it listens as seen from the replica's network.
type Upstream struct {
	NodeID string
	Host   string
	Port   int
}

// Addr is host:port of the upstream.
func (u Upstream) Addr() string { return net.JoinHostPort(u.Host, strconv.Itoa(u.Port)) }

// Role is a node's place in a replication group. The zero Role is a
// primary (or a node of no group) restarted after a crash.
type Role struct {
	// ReplicaOf is the node a replica follows; zero for a primary.
	ReplicaOf Upstream
	// HoldOnCrash: an engine that exits unasked is not restarted, and an
	// engine found gone at Start (its state file names a process that no
	// longer runs) is not launched again. The node stays supervised in
	// StateFailed until Stop, Remove or a SetRole without HoldOnCrash
	// (which relaunches it). This is the primary of a replication group
	// with automatic failover: restarted, it would come back empty and its
	// replicas would resynchronise to nothing, so a replica is promoted
	// instead.
	HoldOnCrash bool
}

// Replica reports whether the role follows a primary.
func (r Role) Replica() bool { return r.ReplicaOf.NodeID != "" }

func (r Role) String() string {
	out := "primary"
	if r.Replica() {
		out = "replica of " + r.ReplicaOf.NodeID + " at " + r.ReplicaOf.Addr()
	}
	if r.HoldOnCrash {
		out += ", held on crash"
	}
	return out
}

// ReplicationInfo is what an engine says of its replication (INFO
// replication).
type ReplicationInfo = redis.ReplicationInfo

// errNotReplicable is returned for roles on engines without replication.
var errNotReplicable = errors.New("this engine has no replication")

func checkRole(spec NodeSpec) error {
	r := spec.Role
	if !r.Replica() {
		return nil
	}
	if spec.Engine.Engine == catalog.Memcached {
		return errNotReplicable
	}
	if !nodeIDRE.MatchString(r.ReplicaOf.NodeID) || r.ReplicaOf.NodeID[0] == '.' || r.ReplicaOf.NodeID == spec.NodeID {
		return fmt.Errorf("bad upstream node id %q", r.ReplicaOf.NodeID)
	}
	if r.ReplicaOf.Host == "" || r.ReplicaOf.Port <= 0 {
		return fmt.Errorf("upstream %s has no address", r.ReplicaOf.NodeID)
	}
	return nil
}

// upstream resolves a role's upstream for the engine: its address and its
// admin password, read from the upstream node's secrets. nil for a primary.
func (s *Supervisor) upstream(r Role) (*redis.Upstream, error) {
	if !r.Replica() {
		return nil, nil
	}
	sec, err := s.upstreamSecrets(r.ReplicaOf.NodeID)
	if err != nil {
		return nil, fmt.Errorf("upstream %s: %w", r.ReplicaOf.NodeID, err)
	}
	return &redis.Upstream{Host: r.ReplicaOf.Host, Port: r.ReplicaOf.Port, AdminPassword: sec.AdminPassword}, nil
}

// SetRole changes a node's role: the configuration it restarts with, and,
// when its engine runs, the engine itself (REPLICAOF through the admin
// connection). A node in StateFailed given a role without HoldOnCrash is
// relaunched with it.
func (s *Supervisor) SetRole(ctx context.Context, nodeID string, r Role) error {
	n, err := s.node(nodeID)
	if err != nil {
		return err
	}
	n.mu.Lock()
	spec := n.spec
	n.mu.Unlock()
	spec.Role = r
	if err := checkRole(spec); err != nil {
		return fmt.Errorf("set role of %s: %w", nodeID, err)
	}
	_, err = n.do(ctx, request{kind: reqRole, role: r})
	return err
}

// Replication reads INFO replication from a running node, as its admin
// user; it is also a health check (a hung engine does not answer within
// ctx).
func (s *Supervisor) Replication(ctx context.Context, nodeID string) (ReplicationInfo, error) {
	n, err := s.node(nodeID)
	if err != nil {
		return ReplicationInfo{}, err
	}
	n.mu.Lock()
	spec, admin := n.spec, n.admin
	n.mu.Unlock()
	if spec.Engine.Engine == catalog.Memcached {
		return ReplicationInfo{}, fmt.Errorf("replication of %s: %w", nodeID, errNotReplicable)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Second)
		defer cancel()
	}
	c, err := admin.Dial(ctx, spec.Dial, spec.adminAddr())
	if err != nil {
		return ReplicationInfo{}, fmt.Errorf("replication of %s: %w", nodeID, err)
	}
	defer c.Close()
	info, err := admin.Replication(ctx, c)
	if err != nil {
		return ReplicationInfo{}, fmt.Errorf("replication of %s: %w", nodeID, err)
	}
	return info, nil
}

// setRole is the actor's side of SetRole: it records the role, rewrites
// the configuration and applies it to the running engine (w nil: none
// runs; relaunch: it is held, and launches unless the role holds it
// still). It returns a new watcher when it relaunched the node.
func (n *node) setRole(ctx context.Context, w *watcher, r Role, relaunch bool) (*watcher, error) {
	n.mu.Lock()
	old := n.spec.Role
	n.spec.Role = r
	admin, spec := n.admin, n.spec
	n.mu.Unlock()
	rollback := func() {
		n.mu.Lock()
		n.spec.Role = old
		n.mu.Unlock()
		_ = n.writeConfig()
	}
	if err := n.writeConfig(); err != nil {
		rollback()
		return nil, fmt.Errorf("set role of %s: %w", n.id, err)
	}
	n.setStatus(func(s *NodeStatus) { s.Role = r })
	if w == nil {
		// No process: the configuration the next launch reads has the
		// role.
		if !relaunch || r.HoldOnCrash {
			return nil, nil
		}
		nw, err := n.launch(ctx)
		if err != nil {
			return nil, fmt.Errorf("set role of %s: relaunch: %w", n.id, err)
		}
		return nw, nil
	}
	if clusterMode(spec) {
		// The cluster, not replicaof, says whom a cluster node follows.
		return nil, nil
	}
	up, err := n.s.upstream(r)
	if err != nil {
		return nil, fmt.Errorf("set role of %s: %w", n.id, err)
	}
	c, err := admin.Dial(ctx, spec.Dial, spec.adminAddr())
	if err != nil {
		// Not answering: the configuration it restarts with has the role.
		return nil, fmt.Errorf("set role of %s: %w", n.id, err)
	}
	defer c.Close()
	if err := admin.SetRole(ctx, c, up); err != nil {
		return nil, fmt.Errorf("set role of %s: %w", n.id, err)
	}
	return nil, nil
}

// applyAdoptedRole makes a re-adopted engine take the node's role: it may
// have run with another while the daemon was away (a failover decided
// since). Both REPLICAOF forms are no-ops when the role is already right.
func (n *node) applyAdoptedRole(ctx context.Context) error {
	n.mu.Lock()
	spec, admin := n.spec, n.admin
	n.mu.Unlock()
	if spec.Engine.Engine == catalog.Memcached || clusterMode(spec) {
		return nil
	}
	up, err := n.s.upstream(spec.Role)
	if err != nil {
		return err
	}
	c, err := admin.Dial(ctx, spec.Dial, spec.adminAddr())
	if err != nil {
		return err
	}
	defer c.Close()
	return admin.SetRole(ctx, c, up)
}
