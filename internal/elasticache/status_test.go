package elasticache

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cachalot-dev/cachalot/internal/store"
)

// WriteStatus writes a status fn changes, with its events; one fn leaves as
// it was is not written (the store revision stays, so the controllers
// watching clusters are not woken), though its events still are.
func TestWriteStatusUnchangedWritesNothing(t *testing.T) {
	ctx := context.Background()
	st, err := store.OpenBolt(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	s := New(st, Config{})
	ref := ClusterRef{"111122223333", "us-east-1", "c1"}
	cl := &Cluster{Account: ref.Account, Region: ref.Region, ID: ref.ID, Engine: "redis", Status: StatusAvailable,
		Nodes: []Node{{ID: "0001", Status: StatusAvailable}}}
	if err := st.Update(ctx, func(tx store.Tx) error { return putCluster(tx, cl) }); err != nil {
		t.Fatal(err)
	}
	revision := func() uint64 {
		t.Helper()
		var rev uint64
		if err := st.View(ctx, func(tx store.Tx) error { rev = tx.Revision(); return nil }); err != nil {
			t.Fatal(err)
		}
		return rev
	}
	events := func() []string {
		t.Helper()
		var out []string
		if err := st.View(ctx, func(tx store.Tx) error {
			return store.ScanJSON(tx, "elasticache/", func(key string, e *Event) error {
				if strings.Contains(key, "/event/") {
					out = append(out, e.Message)
				}
				return nil
			})
		}); err != nil {
			t.Fatal(err)
		}
		return out
	}

	before := revision()
	found, err := s.WriteStatus(ctx, ref, func(cur *Cluster) []string {
		cur.Status = StatusAvailable // as it was
		return nil
	})
	if err != nil || !found {
		t.Fatalf("WriteStatus(unchanged) = %v, %v", found, err)
	}
	if got := revision(); got != before {
		t.Errorf("WriteStatus(unchanged): revision %d -> %d, want unchanged", before, got)
	}

	if _, err := s.WriteStatus(ctx, ref, func(*Cluster) []string { return []string{"Cache node 0001 restarted"} }); err != nil {
		t.Fatal(err)
	}
	if got := events(); len(got) != 1 || got[0] != "Cache node 0001 restarted" {
		t.Errorf("events after WriteStatus(unchanged, one event) = %q, want the event", got)
	}

	before = revision()
	if _, err := s.WriteStatus(ctx, ref, func(cur *Cluster) []string { cur.Nodes[0].ParamStatus = "pending-reboot"; return nil }); err != nil {
		t.Fatal(err)
	}
	if got := revision(); got == before {
		t.Errorf("WriteStatus(changed): revision %d unchanged, want it to move", got)
	}
	clusters, err := s.Clusters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(clusters) != 1 || clusters[0].Nodes[0].ParamStatus != "pending-reboot" {
		t.Errorf("Clusters after WriteStatus(changed) = %+v, want node 0001 pending-reboot", clusters)
	}
}
