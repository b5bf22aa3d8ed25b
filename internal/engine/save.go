package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cachalot-dev/cachalot/internal/catalog"
)

// saveHold bounds how long SaveData leaves clients' writes paused: the
// node is stopped right after the save, which ends the pause sooner.
const saveHold = 10 * time.Second

// SaveData writes a running Redis OSS or Valkey node's dataset to its data
// directory, where the engine loads it from when it starts again, with
// clients' writes paused until the engine stops (at most saveHold): the
// node keeps its data across a stop and start, as a node type or engine
// version change does on ElastiCache. Memcached keeps nothing: an error.
func (s *Supervisor) SaveData(ctx context.Context, nodeID string) error {
	n, err := s.node(nodeID)
	if err != nil {
		return err
	}
	n.mu.Lock()
	spec, admin := n.spec, n.admin
	n.mu.Unlock()
	if spec.Engine.Engine == catalog.Memcached {
		return fmt.Errorf("save data of %s: %w", nodeID, errNoData)
	}
	c, err := admin.Dial(ctx, spec.Dial, spec.adminAddr())
	if err != nil {
		return fmt.Errorf("save data of %s: %w", nodeID, err)
	}
	defer c.Close()
	if err := admin.SaveForRestart(ctx, c, saveHold); err != nil {
		return fmt.Errorf("save data of %s: %w", nodeID, err)
	}
	return nil
}

// errNoData is returned by SaveData for an engine that keeps no data.
var errNoData = errors.New("this engine keeps no data")
