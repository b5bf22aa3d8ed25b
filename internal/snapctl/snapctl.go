// Package snapctl is the snapshot controller: it converges the ElastiCache
// domain's snapshots (internal/elasticache, snapmodel.go) to RDB files (a
// serverless Memcached cache's: dumps of its items) in
// the snapshot store, a directory of its own (<data dir>/snapshots, mode
// 0700, one file per node group of a snapshot, named by the domain).
//
// A creating snapshot is taken from the engine (engine.Supervisor's
// SnapshotTo: the RDB streamed as the node's admin, as `redis-cli --rdb`
// gets it, into a file written atomically)
// and written back available in one transaction with its event; one that
// cannot be taken is removed with a failure event. The store holds no half
// written snapshot: files are written to a temporary name, synced and
// renamed, and only then is the snapshot recorded available — so after
// kill -9 a creating snapshot is simply taken again, and temporary files
// are removed at start. A deleting snapshot's record is removed, and files
// no snapshot (nor a cache being restored) names any more are deleted.
// Restores end here too (the domain's SettleRestores), re-slotting
// restores are loaded key by key into their shards (reslot.go), and automatic
// snapshots are taken in their window and expired after their retention
// (auto.go), the controller asking to run again at the next such time
// (reconcile.RequeueAt).
//
// Imported by the wiring package only.
package snapctl

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/cachalot-dev/cachalot/internal/catalog"
	"github.com/cachalot-dev/cachalot/internal/elasticache"
	"github.com/cachalot-dev/cachalot/internal/engine"
)

// Name is the controller's name.
const Name = "snapshots"

// Domain is what the controller needs of the ElastiCache domain
// (elasticache.Service): the snapshot status write-back API.
type Domain interface {
	SnapshotState(ctx context.Context) (elasticache.SnapshotState, error)
	SnapshotTaken(ctx context.Context, ref elasticache.SnapshotRef, taken []elasticache.NodeTaken) error
	SnapshotFailed(ctx context.Context, ref elasticache.SnapshotRef, cause error) error
	RemoveSnapshot(ctx context.Context, ref elasticache.SnapshotRef) error
	ExpireSnapshot(ctx context.Context, ref elasticache.SnapshotRef) error
	SettleRestores(ctx context.Context) (bool, error)
	StartAutomaticSnapshot(ctx context.Context, src elasticache.SnapshotSourceRef, name string) error
	ReslotLoaded(ctx context.Context, ref elasticache.GroupRef, snapshot string) error
	ReslotFailed(ctx context.Context, ref elasticache.GroupRef, snapshot string, cause error) error
}

// Engines is what the controller needs of the engine supervisor.
type Engines interface {
	SnapshotTo(ctx context.Context, nodeID, dst string) (int64, error)
}

// Config configures the controller.
type Config struct {
	Domain  Domain  // required
	Engines Engines // required
	// Dir is the snapshot store (required); made at the first run.
	Dir string
	// NodeID names a cluster's node for the supervisor (required; the
	// cache controller's cachectl.EngineNodeID).
	NodeID func(ref elasticache.ClusterRef, node string) string
	// TakeTimeout is how long a snapshot that cannot be taken (its engine
	// not running yet) is retried before it fails; default 10 minutes.
	TakeTimeout time.Duration
	// Loader and Catalog run the temporary engines of re-slotting
	// restores (reslot.go); without a Loader such a restore waits.
	Loader  Loader
	Catalog *catalog.Catalog
	Now     func() time.Time // default time.Now
	Logger  *slog.Logger     // default slog.Default()
}

// Controller is the snapshot controller (a reconcile.Controller).
type Controller struct {
	cfg     Config
	cleaned bool // temporary files of an earlier process removed; only Reconcile touches it
	// loadersCleaned: temporary engines of an earlier process removed;
	// failing: when each group's re-slotting load first failed. Only
	// Reconcile touches them.
	loadersCleaned bool
	failing        map[elasticache.GroupRef]time.Time
}

// New returns the controller; it has no side effects.
func New(cfg Config) *Controller {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.TakeTimeout <= 0 {
		cfg.TakeTimeout = 10 * time.Minute
	}
	return &Controller{cfg: cfg}
}

// Name implements reconcile.Controller.
func (c *Controller) Name() string { return Name }

// Watches implements reconcile.Controller: snapshots, clusters and groups.
func (c *Controller) Watches(key string) bool { return elasticache.SnapshotWatchKey(key) }

// Reconcile implements reconcile.Controller: restores settled, deleted
// and expired snapshots removed with their files, automatic snapshots
// started, then every creating snapshot taken, one after the other.
func (c *Controller) Reconcile(ctx context.Context, _ []string) error {
	if err := c.prepareDir(); err != nil {
		return err
	}
	st, err := c.cfg.Domain.SnapshotState(ctx)
	if err != nil {
		return err
	}
	if restoresOver(st) {
		if _, err := c.cfg.Domain.SettleRestores(ctx); err != nil {
			return err
		}
		if st, err = c.cfg.Domain.SnapshotState(ctx); err != nil {
			return err
		}
	}
	var errs []error
	for _, sn := range st.Snapshots {
		if sn.Status == elasticache.SnapshotDeleting {
			errs = append(errs, c.cfg.Domain.RemoveSnapshot(ctx, sn.Ref()))
		}
	}
	errs = append(errs, c.collect(st), c.automatic(ctx, st), c.reslot(ctx, st))
	for _, sn := range st.Snapshots {
		if sn.Status == elasticache.SnapshotCreating {
			errs = append(errs, c.take(ctx, sn))
		}
	}
	return errors.Join(errs...)
}

// prepareDir makes the store and, at the first run, removes the
// temporary files a process killed while writing left.
func (c *Controller) prepareDir() error {
	if err := os.MkdirAll(c.cfg.Dir, 0o700); err != nil {
		return fmt.Errorf("snapshot store: %w", err)
	}
	if c.cleaned {
		return nil
	}
	ents, err := os.ReadDir(c.cfg.Dir)
	if err != nil {
		return fmt.Errorf("snapshot store: %w", err)
	}
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".tmp") {
			if err := os.Remove(filepath.Join(c.cfg.Dir, e.Name())); err != nil {
				return fmt.Errorf("snapshot store: %w", err)
			}
		}
	}
	c.cleaned = true
	return nil
}

// collect deletes the files of the store no snapshot and no cache being
// restored names (deleted snapshots, snapshots that failed).
func (c *Controller) collect(st elasticache.SnapshotState) error {
	named := map[string]bool{}
	for _, sn := range st.Snapshots {
		if sn.Status == elasticache.SnapshotDeleting {
			continue
		}
		for _, n := range sn.Nodes {
			named[n.File] = true
		}
	}
	for _, cl := range st.Clusters {
		if cl.RestoreFile != "" {
			named[cl.RestoreFile] = true
		}
	}
	for _, g := range st.Groups {
		if g.Reslot != nil {
			for _, f := range g.Reslot.Files {
				named[f] = true
			}
		}
	}
	ents, err := os.ReadDir(c.cfg.Dir)
	if err != nil {
		return fmt.Errorf("snapshot store: %w", err)
	}
	var errs []error
	for _, e := range ents {
		snapshot := strings.HasSuffix(e.Name(), ".rdb") || strings.HasSuffix(e.Name(), elasticache.MemcachedSnapshotSuffix)
		if snapshot && !named[e.Name()] {
			if err := os.Remove(filepath.Join(c.cfg.Dir, e.Name())); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, fmt.Errorf("snapshot store: %w", err))
			}
		}
	}
	return errors.Join(errs...)
}

// take writes the files of a creating snapshot and records it available;
// one that cannot be taken is recorded failed — at once when the disk is
// too small, after TakeTimeout when its engine does not answer.
func (c *Controller) take(ctx context.Context, sn *elasticache.Snapshot) error {
	var taken []elasticache.NodeTaken
	var err error
	for _, n := range sn.Nodes {
		id := c.cfg.NodeID(elasticache.ClusterRef{Account: sn.Account, Region: sn.Region, ID: n.ClusterID}, n.NodeID)
		var size int64
		size, err = c.cfg.Engines.SnapshotTo(ctx, id, filepath.Join(c.cfg.Dir, n.File))
		if err != nil {
			break
		}
		taken = append(taken, elasticache.NodeTaken{NodeGroupID: n.NodeGroupID, Size: size, At: c.cfg.Now()})
	}
	if err == nil {
		c.cfg.Logger.Info("snapshot taken", "snapshot", sn.Ref().String())
		return c.cfg.Domain.SnapshotTaken(ctx, sn.Ref(), taken)
	}
	if ctx.Err() != nil {
		return err // stopping: taken again at the next start
	}
	if !errors.Is(err, engine.ErrNoSpace) && !errors.Is(err, engine.ErrNoSnapshots) && c.cfg.Now().Sub(sn.CreatedAt) < c.cfg.TakeTimeout {
		return fmt.Errorf("take snapshot %s (retried): %w", sn.Ref(), err)
	}
	c.cfg.Logger.Warn("snapshot failed", "snapshot", sn.Ref().String(), "err", err)
	return c.cfg.Domain.SnapshotFailed(ctx, sn.Ref(), err)
}

// restoresOver reports whether a restore has ended that the domain has not
// settled yet (SettleRestores writes only then): a cache created from a
// snapshot is no longer creating, or a snapshot is restoring for no cache.
func restoresOver(st elasticache.SnapshotState) bool {
	loading := map[elasticache.SnapshotRef]bool{}
	for _, cl := range st.Clusters {
		if cl.RestoreSnapshot != "" && cl.Status != elasticache.StatusCreating {
			return true
		}
		if cl.RestoreSnapshot != "" {
			loading[elasticache.SnapshotRef{Account: cl.Account, Region: cl.Region, Name: cl.RestoreSnapshot}] = true
		}
	}
	for _, g := range st.Groups {
		if g.RestoreSnapshot != "" && g.Status != elasticache.GroupCreating {
			return true
		}
	}
	for _, sn := range st.Snapshots {
		if sn.Status == elasticache.SnapshotRestoring && !loading[sn.Ref()] {
			return true
		}
	}
	return false
}
