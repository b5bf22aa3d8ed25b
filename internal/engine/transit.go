package engine

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"

	"github.com/cachalot-dev/cachalot/internal/catalog"
	"github.com/cachalot-dev/cachalot/internal/engine/identity"
	"github.com/cachalot-dev/cachalot/internal/engine/redis"
)

// Transit modes live. A Redis OSS or Valkey node moves between plaintext
// on its port, TLS only on its port (TransitEncryptionMode required) and
// split listening (preferred: plaintext and TLS each on a port of its
// own, NodeSpec.Split) without a restart: the engine takes its listeners
// and TLS settings by CONFIG SET (redis.TransitCommands), its data and
// its open connections stay. ElastiCache enables in-transit encryption
// on an existing group this way, in two steps, without downtime.

// transitSplit is what transitOf says of a node listening split.
const transitSplit = "split"

// transitOf names how a spec's engine listens: "" plaintext, "tls", or
// "split" with its ports.
func transitOf(s NodeSpec) string {
	switch {
	case s.TLS == nil:
		return ""
	case s.Split == nil:
		return "tls"
	}
	return transitSplit + ":" + strconv.Itoa(s.Split.Plain) + ":" + strconv.Itoa(s.Split.TLS)
}

// splitOf is the state file's record of a spec's split ports.
func splitOf(s NodeSpec) *Split {
	if s.TLS == nil || s.Split == nil {
		return nil
	}
	sp := *s.Split
	return &sp
}

// switchTransit serves reqTransit: the engine of a running node (w) takes
// t and split live; the spec, configuration and state file follow. A node
// with no process takes them at its next launch.
func (n *node) switchTransit(ctx context.Context, w *watcher, t *TLS, split *Split) error {
	n.mu.Lock()
	old := cloneSpec(n.spec)
	n.mu.Unlock()
	next := cloneSpec(old)
	next.TLS, next.Split = t, nil
	if t != nil && split != nil {
		sp := *split
		next.Split = &sp
	}
	data := filepath.Join(n.dir, dataDirName)
	if w != nil {
		if t != nil {
			var id *identity.ID
			if runningAsRoot() {
				claimed, err := n.s.ids.Claim(n.id)
				if err != nil {
					return err
				}
				id = &claimed
			}
			if err := writeEngineFiles(data, id, t.files()); err != nil {
				return err
			}
		}
		n.mu.Lock()
		admin := n.admin
		n.mu.Unlock()
		c, err := admin.Dial(ctx, old.Dial, old.adminAddr())
		if err != nil {
			return fmt.Errorf("switch the transit encryption of %s: %w", n.id, err)
		}
		defer c.Close()
		var names *redis.TLS
		if t != nil {
			nm := t.names()
			nm.Split = next.Split
			names = &nm
		}
		for _, args := range redis.TransitCommands(names, next.port(), next.Parameters["cluster-enabled"] == "yes") {
			if _, err := admin.Do(ctx, c, args...); err != nil {
				return fmt.Errorf("switch the transit encryption of %s: %v: %w", n.id, args[:3], err)
			}
		}
		st, err := readState(n.dir)
		if err != nil {
			return fmt.Errorf("switch the transit encryption of %s: %w", n.id, err)
		}
		st.TLS, st.Split = t != nil, splitOf(next)
		if err := writeState(n.dir, st); err != nil {
			return err
		}
	}
	n.mu.Lock()
	n.spec.TLS, n.spec.Split = next.TLS, next.Split
	admin, err := withTLS(n.admin, n.spec)
	if err == nil {
		n.admin = admin
	}
	n.mu.Unlock()
	if err != nil {
		return err
	}
	if err := n.writeConfig(); err != nil {
		return err
	}
	if t != nil {
		removeOldTLSFiles(data, t.files())
	} else {
		removeOldTLSFiles(data, nil)
	}
	n.setStatus(func(s *NodeStatus) {
		s.TLS, s.Split = t.ID(), transitOf(next) != "" && next.Split != nil
		s.SplitTLSOnly = s.Split && next.Split.Plain == 0
	})
	n.emit(Event{Type: EventTransitSwitched, Message: "in-transit encryption: " + transitMessage(next)})
	return nil
}

// transitMessage says how a spec's engine listens, for events.
func transitMessage(s NodeSpec) string {
	switch {
	case s.TLS == nil:
		return "plaintext"
	case s.Split == nil:
		return "TLS only (required)"
	case s.Split.Plain == 0:
		return "TLS through the IAM authentication front"
	}
	return "plaintext and TLS (preferred)"
}

// adoptedTransit is spec as the engine a state file records listens
// (its TLS and Split), and whether it can be adopted so: always when it
// listens as spec asks; a Redis OSS or Valkey engine listening otherwise
// is adopted and then switched, unless it speaks TLS and spec has no CA
// to reach it with.
func adoptedTransit(st nodeState, spec NodeSpec) (NodeSpec, bool) {
	as := cloneSpec(spec)
	if !st.TLS {
		as.TLS, as.Split = nil, nil
	} else {
		as.Split = nil
		if st.Split != nil {
			sp := *st.Split
			as.Split = &sp
		}
	}
	if transitOf(as) == transitOf(spec) {
		return spec, true
	}
	if st.Engine == catalog.Memcached || st.TLS && spec.TLS == nil {
		return spec, false
	}
	return as, true
}
