package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"
)

// Reconnect has a running replica that has not synchronised yet connect
// to its primary now, rather than on its next once-a-second retry (see
// redis.Admin.Reconnect): the replicas of a new group start alongside
// their primary, and one that tried before its primary listened is
// reconnected once the primary answers.
func (s *Supervisor) Reconnect(ctx context.Context, nodeID string) error {
	n, err := s.node(nodeID)
	if err != nil {
		return err
	}
	n.mu.Lock()
	spec, admin := n.spec, n.admin
	n.mu.Unlock()
	if !spec.Role.Replica() {
		return fmt.Errorf("reconnect %s: not a replica", nodeID)
	}
	up, err := s.upstream(spec.Role)
	if err != nil {
		return fmt.Errorf("reconnect %s: %w", nodeID, err)
	}
	c, err := admin.Dial(ctx, spec.Dial, spec.adminAddr())
	if err != nil {
		return fmt.Errorf("reconnect %s: %w", nodeID, err)
	}
	defer c.Close()
	if err := admin.Reconnect(ctx, c, up); err != nil {
		return fmt.Errorf("reconnect %s: %w", nodeID, err)
	}
	return nil
}

// upstreamWait bounds how long a replica starting alongside its primary
// waits for the primary's secrets, which the primary's own start makes
// first thing.
const upstreamWait = 2 * time.Second

// upstreamSecrets reads the secrets of a replica's upstream node, waiting
// up to upstreamWait for them when they do not exist yet: a new group's
// replicas start alongside their primary (cachectl), whose start makes
// them.
func (s *Supervisor) upstreamSecrets(nodeID string) (secrets, error) {
	deadline := time.Now().Add(upstreamWait)
	for {
		sec, err := readSecrets(s.NodeDir(nodeID))
		if err == nil || !errors.Is(err, os.ErrNotExist) || time.Now().After(deadline) {
			return sec, err
		}
		select {
		case <-s.ctx.Done():
			return sec, err
		case <-time.After(5 * time.Millisecond):
		}
	}
}
