package redis

import (
	"context"
	"fmt"
	"strconv"
)

// Reconnect has a replica on c connect to its primary up now. A replica
// whose first connection failed (its primary was still starting) retries
// only on its replication cron, once a second, and REPLICAOF naming the
// primary it already follows does nothing; REPLICAOF NO ONE then REPLICAOF
// up in one MULTI/EXEC connects at once, and no client ever sees the
// replica as a primary in between. Meant for a replica that has not
// synchronised yet: one with data would lose its partial resynchronisation.
func (a Admin) Reconnect(ctx context.Context, c *Conn, up *Upstream) error {
	if _, err := c.Do(ctx, "MULTI"); err != nil {
		return fmt.Errorf("reconnect: %w", err)
	}
	if _, err := a.Do(ctx, c, "REPLICAOF", "NO", "ONE"); err != nil {
		_, _ = c.Do(ctx, "DISCARD")
		return fmt.Errorf("reconnect: %w", err)
	}
	if _, err := a.Do(ctx, c, "REPLICAOF", up.Host, strconv.Itoa(up.Port)); err != nil {
		_, _ = c.Do(ctx, "DISCARD")
		return fmt.Errorf("reconnect: %w", err)
	}
	if _, err := c.Do(ctx, "EXEC"); err != nil {
		return fmt.Errorf("reconnect to %s: %w", up.Addr(), err)
	}
	return nil
}
