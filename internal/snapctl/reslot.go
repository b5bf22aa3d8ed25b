package snapctl

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cachalot-dev/cachalot/internal/catalog"
	"github.com/cachalot-dev/cachalot/internal/elasticache"
	"github.com/cachalot-dev/cachalot/internal/engine"
	"github.com/cachalot-dev/cachalot/internal/reconcile"
)

// Re-slotting restores (elasticache/snapreslot.go): a new cluster-mode
// group whose node groups differ from its snapshot's is created empty;
// once its Redis Cluster is formed (every shard's primary owns its slots,
// cluster_state:ok), each of the snapshot's RDB files is loaded by a
// temporary engine — supervised and confined like every node's (its own
// uid, no capabilities), listening on 127.0.0.1 only with a default user
// nobody knows the password of, removed with its data afterwards — and every key is moved from it into the primary of
// the shard owning its slot: SCAN, then DUMP and PTTL pipelined, then
// RESTORE key <expiry> <payload> REPLACE ABSTTL pipelined to each shard.
// The absolute expiry is the time before the DUMP was sent plus the
// remaining TTL, never later than the key's own. Only then is the group
// told the keys are in (Domain.ReslotLoaded) and may become available.
//
// A load interrupted (the service killed, an engine gone, a shard failed
// over) runs again from the start at the next run: RESTORE REPLACE is
// idempotent, and the group stays creating meanwhile. Temporary engines
// left by a killed service are removed at the first run. A load that
// cannot succeed — keys outside database 0, which cluster mode cannot
// hold, or failures for longer than TakeTimeout — fails the group.

// Loader is what the controller needs of the engine supervisor for
// re-slotting restores (engine.Supervisor).
type Loader interface {
	Start(ctx context.Context, spec engine.NodeSpec) (engine.NodeStatus, error)
	Status(nodeID string) (engine.NodeStatus, bool)
	Remove(ctx context.Context, nodeID string) error
	NodeDir(nodeID string) string
	Commands(ctx context.Context, nodeID string, cmds ...[]string) ([]any, error)
	Pipeline(ctx context.Context, nodeID string, cmds ...[]string) ([]any, error)
}

const (
	reslotPrefix = "reslot." // of the temporary engines' node ids
	reslotScan   = 1000      // keys a SCAN asks for
	reslotCall   = time.Minute
	reslotWait   = 250 * time.Millisecond // between looks at a cluster still forming
)

// errNotFormed says a group's cluster is not formed yet.
var errNotFormed = errors.New("cluster not formed yet")

// reslot loads the snapshots of the creating groups that re-slot one.
func (c *Controller) reslot(ctx context.Context, st elasticache.SnapshotState) error {
	if c.cfg.Loader == nil || c.cfg.Catalog == nil {
		return nil
	}
	if err := c.removeStrayLoaders(ctx); err != nil {
		return err
	}
	var errs []error
	waiting := false
	for _, g := range st.Groups {
		if g.Reslot == nil || g.Status != elasticache.GroupCreating {
			continue
		}
		err := c.load(ctx, g, st.Clusters)
		switch {
		case errors.Is(err, errNotFormed):
			waiting = true
		case err == nil:
			delete(c.failing, g.Ref())
			errs = append(errs, c.cfg.Domain.ReslotLoaded(ctx, g.Ref(), g.RestoreSnapshot))
		case ctx.Err() != nil:
			return err
		default:
			errs = append(errs, c.loadFailed(ctx, g, err))
		}
	}
	if waiting {
		reconcile.RequeueAfter(ctx, reslotWait)
	}
	return errors.Join(errs...)
}

// loadFailed fails the group at once for data a cluster cannot hold, or
// after TakeTimeout of failures; until then the error is retried.
func (c *Controller) loadFailed(ctx context.Context, g *elasticache.ReplicationGroup, err error) error {
	ref := g.Ref()
	if c.failing == nil {
		c.failing = map[elasticache.GroupRef]time.Time{}
	}
	first, ok := c.failing[ref]
	if !ok {
		first = c.cfg.Now()
		c.failing[ref] = first
	}
	if !errors.Is(err, elasticache.ErrReslotData) && c.cfg.Now().Sub(first) < c.cfg.TakeTimeout {
		return fmt.Errorf("restore %s into %s (retried): %w", g.RestoreSnapshot, ref, err)
	}
	delete(c.failing, ref)
	c.cfg.Logger.Warn("restore failed", "group", ref.String(), "snapshot", g.RestoreSnapshot, "err", err)
	return c.cfg.Domain.ReslotFailed(ctx, ref, g.RestoreSnapshot, err)
}

// removeStrayLoaders removes, at the first run, the temporary engines a
// killed service left (none of this process runs between runs).
func (c *Controller) removeStrayLoaders(ctx context.Context) error {
	if c.loadersCleaned {
		return nil
	}
	dir := filepath.Dir(c.cfg.Loader.NodeDir("x"))
	ents, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("temporary engines: %w", err)
	}
	var errs []error
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), reslotPrefix) {
			errs = append(errs, c.cfg.Loader.Remove(ctx, e.Name()))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("temporary engines: %w", err)
	}
	c.loadersCleaned = true
	return nil
}

// target is a shard's primary: where the keys of its slots go.
type target struct {
	shard, node string // node group id, engine node id
}

// load moves every key of g's snapshot files into its shards.
func (c *Controller) load(ctx context.Context, g *elasticache.ReplicationGroup, clusters []*elasticache.Cluster) error {
	targets, owner, err := c.formed(ctx, g, clusters)
	if err != nil {
		return err
	}
	inst, err := c.cfg.Catalog.Find(g.Engine, g.EngineVersion)
	if err != nil {
		return fmt.Errorf("engine of %s: %w", g.Ref(), err)
	}
	start := c.cfg.Now()
	var keys int
	for i, file := range g.Reslot.Files {
		n, err := c.loadFile(ctx, g, i, inst, filepath.Join(c.cfg.Dir, file), targets, owner)
		if err != nil {
			return fmt.Errorf("load %s: %w", file, err)
		}
		keys += n
	}
	c.cfg.Logger.Info("snapshot loaded into its shards", "group", g.Ref().String(), "snapshot", g.RestoreSnapshot,
		"files", len(g.Reslot.Files), "keys", keys, "took", c.cfg.Now().Sub(start))
	return nil
}

// formed reads whether g's cluster is formed — each shard's primary a
// primary owning its slots, the cluster ok — and returns the shards'
// primaries and the slots' owners (indexes into them).
func (c *Controller) formed(ctx context.Context, g *elasticache.ReplicationGroup, clusters []*elasticache.Cluster) ([]target, []int, error) {
	if g.Failover != nil {
		return nil, nil, errNotFormed
	}
	byID := map[string]*elasticache.Cluster{}
	for _, cl := range clusters {
		if cl.Account == g.Account && cl.Region == g.Region && cl.ReplicationGroupID == g.ID {
			byID[cl.ID] = cl
		}
	}
	var slots []string
	targets := make([]target, len(g.Shards))
	for i, sh := range g.Shards {
		cl := byID[sh.Primary]
		if cl == nil || len(cl.Nodes) == 0 || cl.Status != elasticache.StatusAvailable {
			return nil, nil, errNotFormed
		}
		node := c.cfg.NodeID(cl.Ref(), cl.Nodes[0].ID)
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		out, err := c.cfg.Loader.Commands(cctx, node, []string{"CLUSTER", "INFO"}, []string{"CLUSTER", "NODES"})
		cancel()
		if err != nil || len(out) != 2 {
			return nil, nil, errNotFormed
		}
		info, _ := out[0].(string)
		nodes, _ := out[1].(string)
		if !strings.Contains(info, "cluster_state:ok") || !ownsExactly(nodes, sh.Slots) {
			return nil, nil, errNotFormed
		}
		targets[i] = target{shard: sh.ID, node: node}
		slots = append(slots, sh.Slots)
	}
	owner, err := elasticache.SlotOwners(slots)
	if err != nil {
		return nil, nil, err
	}
	return targets, owner, nil
}

// ownsExactly reports whether the node answering CLUSTER NODES is a
// primary owning exactly the slots want, none of them open.
func ownsExactly(nodes, want string) bool {
	for _, line := range strings.Split(nodes, "\n") {
		f := strings.Fields(line)
		if len(f) < 8 || !strings.Contains(f[2], "myself") {
			continue
		}
		if !strings.Contains(f[2], "master") {
			return false
		}
		var have []string
		for _, s := range f[8:] {
			if strings.HasPrefix(s, "[") {
				return false // a slot migrating or importing
			}
			have = append(have, s)
		}
		a, errA := elasticache.SlotOwners([]string{strings.Join(have, ",")})
		b, errB := elasticache.SlotOwners([]string{want})
		if len(have) == 0 || errA != nil || errB != nil {
			return false
		}
		for k := range a {
			if a[k] != b[k] {
				return false
			}
		}
		return true
	}
	return false
}

// loaderID is the node id of the temporary engine loading g's file i.
func loaderID(g *elasticache.ReplicationGroup, i int) string {
	return reslotPrefix + g.Account + "." + g.Region + "." + g.ID + "." + strconv.Itoa(i+1)
}

// loadFile runs a temporary engine on file and moves its keys; it
// returns how many were moved.
func (c *Controller) loadFile(ctx context.Context, g *elasticache.ReplicationGroup, i int, inst catalog.Installed, file string, targets []target, owner []int) (int, error) {
	id := loaderID(g, i)
	if err := c.cfg.Loader.Remove(ctx, id); err != nil {
		return 0, err
	}
	defer func() {
		if err := c.cfg.Loader.Remove(context.WithoutCancel(ctx), id); err != nil {
			c.cfg.Logger.Warn("remove temporary engine", "node", id, "err", err)
		}
	}()
	port, err := freePort()
	if err != nil {
		return 0, err
	}
	// The default user gets a password nobody knows: only the admin user
	// (the supervisor's) reads the keys, not other users of the host.
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return 0, err
	}
	sum := sha256.Sum256([]byte(hex.EncodeToString(secret)))
	st, err := c.cfg.Loader.Start(ctx, engine.NodeSpec{NodeID: id, Engine: inst, BindIP: "127.0.0.1", Port: port, Seed: file,
		AuthTokens: []string{hex.EncodeToString(sum[:])}})
	if err != nil {
		return 0, err
	}
	cctx, cancel := context.WithTimeout(ctx, reslotCall)
	out, err := c.cfg.Loader.Commands(cctx, id, []string{"INFO", "keyspace"})
	cancel()
	if err != nil {
		return 0, err
	}
	if ks, _ := out[0].(string); otherDatabases(ks) {
		return 0, elasticache.ErrReslotData
	}
	// Reading the next keys overlaps writing the last ones.
	rctx, stop := context.WithCancel(ctx)
	defer stop()
	batches := make(chan keyBatch, 2)
	var readErr error
	go func() {
		defer close(batches)
		readErr = c.readKeys(rctx, id, owner, len(targets), batches)
	}()
	moved := 0
	for b := range batches {
		if err == nil {
			err = c.writeKeys(ctx, b, targets)
			moved += b.n
		}
		if err != nil {
			stop() // the reader ends; the channel is drained
		}
	}
	if err == nil {
		err = readErr
	}
	if err != nil {
		return moved, err
	}
	// An engine restarted meanwhile (it crashed) came back empty: what
	// was not read yet would be missing.
	if now, ok := c.cfg.Loader.Status(id); !ok || now.PID != st.PID || now.Restarts != st.Restarts {
		return moved, fmt.Errorf("temporary engine %s restarted during the load", id)
	}
	return moved, nil
}

// otherDatabases reports whether INFO keyspace names a database other
// than 0.
func otherDatabases(keyspace string) bool {
	for _, line := range strings.Split(keyspace, "\n") {
		if strings.HasPrefix(line, "db") && !strings.HasPrefix(line, "db0:") {
			return true
		}
	}
	return false
}

// keyBatch is keys read from a temporary engine: the RESTORE commands
// for each target, and how many.
type keyBatch struct {
	per [][][]string
	n   int
}

// readKeys scans the temporary engine src and sends its keys, dumped
// with their expiry, in batches for each of n targets; ctx ending stops it.
func (c *Controller) readKeys(ctx context.Context, src string, owner []int, n int, out chan<- keyBatch) error {
	cursor := "0"
	for {
		cctx, cancel := context.WithTimeout(ctx, reslotCall)
		reply, err := c.cfg.Loader.Commands(cctx, src, []string{"SCAN", cursor, "COUNT", strconv.Itoa(reslotScan)})
		cancel()
		if err != nil {
			return err
		}
		page, _ := reply[0].([]any)
		if len(page) != 2 {
			return fmt.Errorf("SCAN: unexpected reply %v", reply[0])
		}
		cursor, _ = page[0].(string)
		keys, _ := page[1].([]any)
		b, err := c.dumpKeys(ctx, src, keys, owner, n)
		if err != nil {
			return err
		}
		if b.n > 0 {
			select {
			case out <- b:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		if cursor == "0" || cursor == "" {
			return nil
		}
	}
}

// dumpKeys reads keys (DUMP and PTTL, pipelined) from src and makes
// their RESTORE commands for the n targets.
func (c *Controller) dumpKeys(ctx context.Context, src string, keys []any, owner []int, n int) (keyBatch, error) {
	b := keyBatch{per: make([][][]string, n)}
	if len(keys) == 0 {
		return b, nil
	}
	names := make([]string, 0, len(keys))
	cmds := make([][]string, 0, 2*len(keys))
	for _, k := range keys {
		s, ok := k.(string)
		if !ok {
			return b, fmt.Errorf("SCAN: unexpected key %T", k)
		}
		names = append(names, s)
		cmds = append(cmds, []string{"DUMP", s}, []string{"PTTL", s})
	}
	before := time.Now().UnixMilli()
	cctx, cancel := context.WithTimeout(ctx, reslotCall)
	out, err := c.cfg.Loader.Pipeline(cctx, src, cmds...)
	cancel()
	if err != nil {
		return b, err
	}
	for i, k := range names {
		dump, ok := out[2*i].(string)
		pttl, _ := out[2*i+1].(int64)
		if !ok || pttl == -2 {
			continue // expired since the SCAN
		}
		args := []string{"RESTORE", k, "0", dump, "REPLACE"}
		if pttl >= 0 {
			args = []string{"RESTORE", k, strconv.FormatInt(before+pttl, 10), dump, "REPLACE", "ABSTTL"}
		}
		t := owner[elasticache.KeySlot(k)]
		if t < 0 {
			return b, fmt.Errorf("slot %d of key %q has no node group", elasticache.KeySlot(k), k)
		}
		b.per[t] = append(b.per[t], args)
		b.n++
	}
	return b, nil
}

// writeKeys restores a batch into its targets, in parallel.
func (c *Controller) writeKeys(ctx context.Context, b keyBatch, targets []target) error {
	errs := make([]error, len(targets))
	var wg sync.WaitGroup
	for t, cmds := range b.per {
		if len(cmds) == 0 {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			cctx, cancel := context.WithTimeout(ctx, reslotCall)
			defer cancel()
			if _, err := c.cfg.Loader.Pipeline(cctx, targets[t].node, cmds...); err != nil {
				errs[t] = fmt.Errorf("node group %s: %w", targets[t].shard, err)
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// freePort is a TCP port of 127.0.0.1 free a moment ago.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("temporary engine port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
