package redis

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
)

// Replication: a replica follows its primary with `replicaof`, and
// authenticates to it as the primary's admin user (masteruser,
// masterauth), since the default user may not run PSYNC (restrict.go).
// The directives are rendered into redis.conf, so a replica that restarts
// (after a crash, a reboot, a new node type) comes back as a replica and
// resynchronises; a running engine changes role live with REPLICAOF and
// CONFIG SET (Admin.SetRole), which the supervisor sends when a failover
// or a manual promotion changes who follows whom.

// Upstream is the primary a replica follows: where it listens and the
// password of its admin user.
type Upstream struct {
	Host          string
	Port          int
	AdminPassword string // the primary's admin password; "" = no AUTH
}

// Addr is host:port of the upstream.
func (u Upstream) Addr() string { return net.JoinHostPort(u.Host, strconv.Itoa(u.Port)) }

// replication renders the replicaof directives of a replica; nothing for a
// primary.
func (u *Upstream) replication(w func(k string, v ...string)) {
	if u == nil {
		return
	}
	w("replicaof", u.Host, strconv.Itoa(u.Port))
	if u.AdminPassword != "" {
		w("masteruser", AdminUser)
		w("masterauth", u.AdminPassword)
	}
	w("replica-read-only", "yes")
}

// SetRole makes the engine on c follow up, or, with a nil up, a primary
// (REPLICAOF NO ONE). The replica's credentials are set before REPLICAOF,
// so its first sync already authenticates. Both are no-ops when the
// engine already has the role.
func (a Admin) SetRole(ctx context.Context, c *Conn, up *Upstream) error {
	if up == nil {
		if _, err := a.Do(ctx, c, "REPLICAOF", "NO", "ONE"); err != nil {
			return fmt.Errorf("promote: %w", err)
		}
		return nil
	}
	if up.AdminPassword != "" {
		if _, err := a.Do(ctx, c, "CONFIG", "SET", "masteruser", AdminUser, "masterauth", up.AdminPassword); err != nil {
			return fmt.Errorf("set the primary's credentials: %w", err)
		}
	}
	if _, err := a.Do(ctx, c, "REPLICAOF", up.Host, strconv.Itoa(up.Port)); err != nil {
		return fmt.Errorf("replicaof %s: %w", up.Addr(), err)
	}
	return nil
}

// ReplicationInfo is what INFO replication says of an engine's role.
type ReplicationInfo struct {
	Role string // "master" or "slave", as the engine says
	// MasterHost and MasterPort are the primary a replica follows;
	// LinkUp says its replication link is up (master_link_status:up).
	MasterHost string
	MasterPort int
	LinkUp     bool
	// Offset is how far the engine's dataset is in the replication
	// stream: master_repl_offset on a primary, slave_repl_offset on a
	// replica (the replica with the highest offset lags least).
	Offset int64
	// Replicas is the number of replicas connected to a primary.
	Replicas int
	// Syncing says a replica's synchronisation with its primary is in
	// progress (master_sync_in_progress:1).
	Syncing bool
}

// Primary reports whether the engine is a primary.
func (r ReplicationInfo) Primary() bool { return r.Role == "master" }

// ParseReplicationInfo parses the reply to INFO replication.
func ParseReplicationInfo(s string) (ReplicationInfo, error) {
	var r ReplicationInfo
	var masterOffset, replicaOffset int64
	haveReplicaOffset := false
	for _, line := range strings.Split(s, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok {
			continue
		}
		switch k {
		case "role":
			r.Role = v
		case "master_host":
			r.MasterHost = v
		case "master_port":
			r.MasterPort, _ = strconv.Atoi(v)
		case "master_link_status":
			r.LinkUp = v == "up"
		case "master_repl_offset":
			masterOffset, _ = strconv.ParseInt(v, 10, 64)
		case "slave_repl_offset":
			replicaOffset, _ = strconv.ParseInt(v, 10, 64)
			haveReplicaOffset = true
		case "master_sync_in_progress":
			r.Syncing = v == "1"
		case "connected_slaves":
			r.Replicas, _ = strconv.Atoi(v)
		}
	}
	if r.Role != "master" && r.Role != "slave" {
		return r, fmt.Errorf("INFO replication: no role in %q", s)
	}
	r.Offset = masterOffset
	if r.Role == "slave" && haveReplicaOffset {
		r.Offset = replicaOffset
	}
	return r, nil
}

// Replication reads INFO replication from the engine on c.
func (a Admin) Replication(ctx context.Context, c *Conn) (ReplicationInfo, error) {
	s, err := c.String(ctx, "INFO", "replication")
	if err != nil {
		return ReplicationInfo{}, err
	}
	return ParseReplicationInfo(s)
}
