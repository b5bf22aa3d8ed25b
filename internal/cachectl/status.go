package cachectl

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/cachalot-dev/cachalot/internal/elasticache"
	"github.com/cachalot-dev/cachalot/internal/engine"
)

// statusChange is what writing a run's status changed, for its events.
type statusChange struct {
	added     []string // "0003 in availability zone us-east-1b"
	available bool     // the cluster became available at the converged generation
	created   bool     // … and it was creating
}

// mergeStatus writes a run's node results into the stored cluster cur and,
// unless the desired state moved on since the run's plan (gen), marks it
// available at gen. It is pure: the write-status step applies it inside
// the domain's update.
func mergeStatus(cur *elasticache.Cluster, gen int64, results []nodeResult, now time.Time) statusChange {
	var ch statusChange
	nodesChanged := false
	for _, r := range results {
		j := slices.IndexFunc(cur.Nodes, func(n elasticache.Node) bool { return n.ID == r.id })
		if j < 0 {
			continue
		}
		if r.removed {
			nodesChanged = true
			cur.Nodes = slices.Delete(cur.Nodes, j, j+1)
			cur.RemoveNodes = slices.DeleteFunc(cur.RemoveNodes, func(id string) bool { return id == r.id })
			continue
		}
		n := &cur.Nodes[j]
		if n.Status == elasticache.StatusCreating && cur.Status != elasticache.StatusCreating {
			ch.added = append(ch.added, n.ID+" in availability zone "+n.AZ)
		}
		if n.Status == elasticache.StatusCreating {
			nodesChanged = true
		}
		n.Status = elasticache.StatusAvailable
		n.ParamStatus = r.paramStatus
		n.Running = r.running
		if r.rebooted || r.started {
			n.RebootRequested = false
		}
		if n.CreatedAt.IsZero() || r.replaced {
			n.CreatedAt = now
		}
		if r.replaced {
			n.Replace = false
		}
	}
	if nodesChanged {
		cur.ConfigVersion++ // one auto-discovery version per node list change
	}
	if cur.Generation != gen {
		return ch // the next run converges the new desired state
	}
	ch.created = cur.Status == elasticache.StatusCreating
	ch.available = cur.Status != elasticache.StatusAvailable
	cur.Status = elasticache.StatusAvailable
	cur.ObservedGeneration = gen
	cur.LastError = ""
	cur.ParamStatus = "in-sync"
	for _, n := range cur.Nodes {
		if n.ParamStatus == "pending-reboot" {
			cur.ParamStatus = "pending-reboot"
		}
	}
	return ch
}

// statusEvents are the events of a run, in order: nodes added, nodes
// restarted and removed, then the cluster created or modified (planned is
// the cluster's status when the run was planned).
func statusEvents(ch statusChange, results []nodeResult, planned string) []string {
	var out []string
	for _, a := range ch.added {
		out = append(out, "Added cache node "+a)
	}
	for _, r := range results {
		if r.rebooted {
			out = append(out, "Cache node "+r.id+" restarted")
		}
		if r.removed {
			out = append(out, "Removed cache node "+r.id)
		}
	}
	switch {
	case ch.available && ch.created:
		out = append(out, "Cache cluster created")
	case ch.available && planned == elasticache.StatusModifying:
		out = append(out, "Cache cluster modified")
	}
	return out
}

// writeStatus writes the run's results back to the domain with its events,
// in one transaction.
func (r *run) writeStatus(ctx context.Context) error {
	now := r.c.cfg.Now().UTC()
	_, err := r.c.cfg.Domain.WriteStatus(ctx, r.ref, func(cur *elasticache.Cluster) []string {
		ch := mergeStatus(cur, r.gen, r.results, now)
		stored := *cur
		stored.Nodes = slices.Clone(cur.Nodes)
		r.stored = &stored
		return statusEvents(ch, r.results, r.cl.Status)
	})
	return err
}

// EngineEvents returns the engine supervisor's event hook
// (engine.Config.OnEvent): a crash and the restart after it become events of
// the node's cluster.
func EngineEvents(d Domain, log *slog.Logger) func(engine.Event) {
	return func(e engine.Event) {
		var msg string
		switch e.Type {
		case engine.EventRestarted:
			msg = "Cache node {node} restarted"
		case engine.EventCrashed:
			msg = "Recovering cache nodes {node}"
		default:
			return
		}
		ref, node, ok := parseEngineNodeID(e.NodeID)
		if !ok {
			return
		}
		if err := d.RecordEvent(context.Background(), ref, e.Time, strings.ReplaceAll(msg, "{node}", node)); err != nil {
			log.Warn("record node event", "node", e.NodeID, "err", err)
		}
	}
}

// parseEngineNodeID is the inverse of EngineNodeID (a region may contain
// dots; cluster and node ids do not).
func parseEngineNodeID(id string) (elasticache.ClusterRef, string, bool) {
	parts := strings.Split(id, ".")
	if len(parts) < 4 {
		return elasticache.ClusterRef{}, "", false
	}
	k := len(parts)
	return elasticache.ClusterRef{Account: parts[0], Region: strings.Join(parts[1:k-2], "."), ID: parts[k-2]}, parts[k-1], true
}
