package snapctl

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cachalot-dev/cachalot/internal/catalog"
	"github.com/cachalot-dev/cachalot/internal/elasticache"
	"github.com/cachalot-dev/cachalot/internal/engine"
)

// fakeDomain serves a fixed state and records what the controller asks.
type fakeDomain struct {
	st    elasticache.SnapshotState
	calls []string
}

func (d *fakeDomain) ReslotLoaded(context.Context, elasticache.GroupRef, string) error { return nil }
func (d *fakeDomain) ReslotFailed(context.Context, elasticache.GroupRef, string, error) error {
	return nil
}

func (d *fakeDomain) SnapshotState(context.Context) (elasticache.SnapshotState, error) {
	return d.st, nil
}
func (d *fakeDomain) SnapshotTaken(_ context.Context, r elasticache.SnapshotRef, taken []elasticache.NodeTaken) error {
	d.calls = append(d.calls, "taken "+r.Name)
	return nil
}
func (d *fakeDomain) SnapshotFailed(_ context.Context, r elasticache.SnapshotRef, err error) error {
	d.calls = append(d.calls, "failed "+r.Name)
	return nil
}
func (d *fakeDomain) RemoveSnapshot(_ context.Context, r elasticache.SnapshotRef) error {
	d.calls = append(d.calls, "remove "+r.Name)
	return nil
}
func (d *fakeDomain) ExpireSnapshot(_ context.Context, r elasticache.SnapshotRef) error {
	d.calls = append(d.calls, "expire "+r.Name)
	return nil
}
func (d *fakeDomain) SettleRestores(context.Context) (bool, error) {
	d.calls = append(d.calls, "settle")
	return true, nil
}
func (d *fakeDomain) StartAutomaticSnapshot(_ context.Context, src elasticache.SnapshotSourceRef, name string) error {
	d.calls = append(d.calls, "start "+name)
	return nil
}

// fakeEngines writes a small file, or fails with err.
type fakeEngines struct{ err error }

func (e fakeEngines) SnapshotTo(_ context.Context, nodeID, dst string) (int64, error) {
	if e.err != nil {
		return 0, e.err
	}
	return 3, os.WriteFile(dst, []byte("rdb"), 0o600)
}

func newTest(t *testing.T, d *fakeDomain, e Engines, now time.Time) (*Controller, string) {
	dir := t.TempDir()
	return New(Config{Domain: d, Engines: e, Dir: dir, Now: func() time.Time { return now },
		NodeID: func(r elasticache.ClusterRef, n string) string { return r.ID + "." + n }}), dir
}

func TestWindow(t *testing.T) {
	day := time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC)
	at := func(h, m int) time.Time { return day.Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute) }
	tests := []struct {
		w                string
		now              time.Time
		start, end, next time.Time
	}{
		{"06:30-07:30", at(5, 0), at(6, 30), at(7, 30), at(30, 30)},
		{"06:30-07:30", at(6, 30), at(6, 30), at(7, 30), at(30, 30)},
		{"06:30-07:30", at(7, 30), at(30, 30), at(31, 30), at(54, 30)},
		{"23:30-00:30", at(0, 10), at(-1, 30), at(0, 30), at(23, 30)},
	}
	for _, tt := range tests {
		start, end, next, err := window(tt.w, tt.now)
		if err != nil || !start.Equal(tt.start) || !end.Equal(tt.end) || !next.Equal(tt.next) {
			t.Errorf("window(%s, %s) = %s, %s, %s, %v; want %s, %s, %s", tt.w, tt.now, start, end, next, err, tt.start, tt.end, tt.next)
		}
	}
	for _, bad := range []string{"", "6-7", "25:00-26:00", "06:30"} {
		if _, _, _, err := window(bad, day); err == nil {
			t.Errorf("window(%q): no error", bad)
		}
	}
}

// TestAutomatic: a snapshot is started in the window, once a window; an
// automatic snapshot goes after its retention, with its source, or when
// the retention drops to zero; manual ones stay.
func TestAutomatic(t *testing.T) {
	now := time.Date(2026, 3, 10, 6, 45, 0, 0, time.UTC)
	cl := func(id string, retain int) *elasticache.Cluster {
		return &elasticache.Cluster{Account: "a", Region: "r", ID: id, Engine: "redis", Status: elasticache.StatusAvailable,
			SnapshotWindow: "06:30-07:30", SnapshotRetain: retain}
	}
	auto := func(name, cluster string, at time.Time) *elasticache.Snapshot {
		return &elasticache.Snapshot{Account: "a", Region: "r", Name: name, ClusterID: cluster, Source: elasticache.SourceAutomated,
			Status: elasticache.SnapshotAvailable, CreatedAt: at}
	}
	d := &fakeDomain{st: elasticache.SnapshotState{
		Clusters: []*elasticache.Cluster{cl("due", 2), cl("done", 2), cl("off", 0), cl("mc", 3)},
		Groups: []*elasticache.ReplicationGroup{{Account: "a", Region: "r", ID: "rg", Status: elasticache.GroupAvailable,
			SnapshotWindow: "08:00-09:00", SnapshotRetain: 1}},
		Snapshots: []*elasticache.Snapshot{
			auto("automatic.done-today", "done", now.Add(-10*time.Minute)),
			auto("automatic.due-old", "due", now.Add(-49*time.Hour)),
			auto("automatic.due-young", "due", now.Add(-47*time.Hour)),
			auto("automatic.off-1", "off", now.Add(-time.Hour)),
			auto("automatic.gone-1", "gone", now.Add(-time.Hour)),
			{Account: "a", Region: "r", Name: "manual", ClusterID: "gone", Source: elasticache.SourceManual, Status: elasticache.SnapshotAvailable, CreatedAt: now.Add(-1000 * time.Hour)},
		},
	}}
	d.st.Clusters[3].Engine = "memcached"
	c, _ := newTest(t, d, fakeEngines{}, now)
	if err := c.Reconcile(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	slices.Sort(d.calls)
	want := []string{"expire automatic.due-old", "expire automatic.gone-1", "expire automatic.off-1", "start automatic.due-2026-03-10-06-45"}
	if diff := cmp.Diff(want, d.calls); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
}

// TestTake: a creating snapshot is taken into the store and recorded
// available; what a killed process left (temporary files) and files no
// snapshot names are removed; a deleting snapshot's record goes.
func TestTake(t *testing.T) {
	now := time.Now()
	d := &fakeDomain{st: elasticache.SnapshotState{Snapshots: []*elasticache.Snapshot{
		{Account: "a", Region: "r", Name: "s1", Status: elasticache.SnapshotCreating, CreatedAt: now,
			Nodes: []elasticache.SnapshotNode{{ClusterID: "c", NodeID: "0001", File: "s1.rdb"}}},
		{Account: "a", Region: "r", Name: "s2", Status: elasticache.SnapshotDeleting, Nodes: []elasticache.SnapshotNode{{File: "s2.rdb"}}},
		{Account: "a", Region: "r", Name: "m1", Status: elasticache.SnapshotAvailable, Nodes: []elasticache.SnapshotNode{{File: "m1.mcdump"}}},
	}, Clusters: []*elasticache.Cluster{{ID: "restoring", RestoreFile: "r.rdb"}}}}
	c, dir := newTest(t, d, fakeEngines{}, now)
	for _, f := range []string{"s1.rdb.tmp", "s2.rdb", "old.rdb", "r.rdb", "m1.mcdump", "m0.mcdump", "m1.mcdump.tmp"} {
		if err := os.WriteFile(filepath.Join(dir, f), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Reconcile(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"remove s2", "taken s1"}, d.calls); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
	ents, _ := os.ReadDir(dir)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if diff := cmp.Diff([]string{"m1.mcdump", "r.rdb", "s1.rdb"}, names); diff != "" {
		t.Errorf("store (-want +got):\n%s", diff)
	}
}

// TestTakeFails: no space fails at once; an engine not answering is
// retried until TakeTimeout, then fails.
func TestTakeFails(t *testing.T) {
	now := time.Now()
	snap := func(age time.Duration) *fakeDomain {
		return &fakeDomain{st: elasticache.SnapshotState{Snapshots: []*elasticache.Snapshot{{Account: "a", Region: "r", Name: "s",
			Status: elasticache.SnapshotCreating, CreatedAt: now.Add(-age), Nodes: []elasticache.SnapshotNode{{ClusterID: "c", NodeID: "0001", File: "s.rdb"}}}}}}
	}
	tests := []struct {
		name    string
		age     time.Duration
		err     error
		failed  bool
		wantErr bool
	}{
		{"no space", 0, engine.ErrNoSpace, true, false},
		{"not running yet", time.Minute, engine.ErrNodeNotFound, false, true},
		{"never ran", time.Hour, engine.ErrNodeNotFound, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := snap(tt.age)
			c, _ := newTest(t, d, fakeEngines{err: tt.err}, now)
			err := c.Reconcile(context.Background(), nil)
			if (err != nil) != tt.wantErr || slices.Contains(d.calls, "failed s") != tt.failed {
				t.Errorf("Reconcile = %v, calls %q; want error %v, failed %v", err, d.calls, tt.wantErr, tt.failed)
			}
			if tt.wantErr && !errors.Is(err, engine.ErrNodeNotFound) {
				t.Errorf("Reconcile = %v, want it to wrap the engine's error", err)
			}
		})
	}
}

// TestSettle: restores are settled when one is over, and only then.
func TestSettle(t *testing.T) {
	restoring := &elasticache.Snapshot{Account: "a", Region: "r", Name: "s", Status: elasticache.SnapshotRestoring}
	tests := []struct {
		name   string
		st     elasticache.SnapshotState
		settle bool
	}{
		{"loading", elasticache.SnapshotState{Snapshots: []*elasticache.Snapshot{restoring},
			Clusters: []*elasticache.Cluster{{Account: "a", Region: "r", ID: "c", Status: elasticache.StatusCreating, RestoreSnapshot: "s"}}}, false},
		{"cluster available", elasticache.SnapshotState{Snapshots: []*elasticache.Snapshot{restoring},
			Clusters: []*elasticache.Cluster{{Account: "a", Region: "r", ID: "c", Status: elasticache.StatusAvailable, RestoreSnapshot: "s"}}}, true},
		{"cluster gone", elasticache.SnapshotState{Snapshots: []*elasticache.Snapshot{restoring}}, true},
		{"group available", elasticache.SnapshotState{Groups: []*elasticache.ReplicationGroup{{Status: elasticache.GroupAvailable, RestoreSnapshot: "s"}}}, true},
		{"nothing", elasticache.SnapshotState{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := &fakeDomain{st: tt.st}
			c, _ := newTest(t, d, fakeEngines{}, time.Now())
			if err := c.Reconcile(context.Background(), nil); err != nil {
				t.Fatal(err)
			}
			if got := slices.Contains(d.calls, "settle"); got != tt.settle {
				t.Errorf("settled = %v, want %v (calls %q)", got, tt.settle, d.calls)
			}
		})
	}
}

// TestAutomaticServerless: a serverless cache with a retention takes its
// daily snapshot in the hour from its DailySnapshotTime, once a day, only
// while available and not already snapshotting; one without a retention
// takes none; its expired automatic snapshots go.
func TestAutomaticServerless(t *testing.T) {
	now := time.Date(2026, 3, 10, 6, 45, 0, 0, time.UTC)
	sl := func(name, daily string, retain int) *elasticache.ReplicationGroup {
		return &elasticache.ReplicationGroup{Account: "a", Region: "r", ID: elasticache.ServerlessGroupID(name), Status: elasticache.GroupAvailable,
			Serverless: &elasticache.Serverless{Name: name, DailySnapshotTime: daily, SnapshotRetain: retain}}
	}
	auto := func(name, cache string, at time.Time) *elasticache.Snapshot {
		return &elasticache.Snapshot{Account: "a", Region: "r", Name: elasticache.ServerlessGroupID(name), GroupID: elasticache.ServerlessGroupID(cache),
			ServerlessCache: cache, Source: elasticache.SourceAutomated, Status: elasticache.SnapshotAvailable, CreatedAt: at}
	}
	mcDue := sl("mcdue", "06:30", 1) // a serverless Memcached cache takes them too
	mcDue.Engine = catalog.Memcached
	busy := sl("busy", "06:30", 1)
	busy.Snapshotting = "serverless--manual"
	d := &fakeDomain{st: elasticache.SnapshotState{
		Groups: []*elasticache.ReplicationGroup{sl("due", "06:30", 2), sl("later", "07:00", 2), sl("off", "06:30", 0), sl("done", "06:00", 2), busy, mcDue},
		Snapshots: []*elasticache.Snapshot{
			auto("automatic.due-old", "due", now.Add(-49*time.Hour)),
			auto("automatic.done-today", "done", now.Add(-30*time.Minute)),
		},
	}}
	c, _ := newTest(t, d, fakeEngines{}, now)
	if err := c.Reconcile(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	slices.Sort(d.calls)
	want := []string{"expire serverless--automatic.due-old", "start automatic.due-2026-03-10-06-45", "start automatic.mcdue-2026-03-10-06-45"}
	if diff := cmp.Diff(want, d.calls); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
	if w, err := dailyWindow("23:30"); err != nil || w != "23:30-00:30" {
		t.Errorf("dailyWindow(23:30) = %q, %v", w, err)
	}
}
