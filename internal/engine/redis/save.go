package redis

import (
	"context"
	"fmt"
	"strconv"
	"time"
)

// SaveForRestart writes the dataset of the engine on c to its RDB file
// (dir/dump.rdb, which the engine loads when it starts again), with
// clients' writes paused first for at most hold: a write arriving after
// the save waits, and fails when the engine stops, rather than being
// acknowledged and lost. Reads go on. The engine is about to be restarted
// with a new node type or engine version, keeping its data.
func (a Admin) SaveForRestart(ctx context.Context, c *Conn, hold time.Duration) error {
	ms := strconv.FormatInt(hold.Milliseconds(), 10)
	if _, err := c.Do(ctx, "CLIENT", "PAUSE", ms, "WRITE"); err != nil {
		// Before Redis 6.2 a pause holds every command.
		if _, err := c.Do(ctx, "CLIENT", "PAUSE", ms); err != nil {
			return fmt.Errorf("pause clients: %w", err)
		}
	}
	if _, err := a.Do(ctx, c, "SAVE"); err != nil {
		_, _ = c.Do(ctx, "CLIENT", "UNPAUSE")
		return fmt.Errorf("save: %w", err)
	}
	return nil
}
