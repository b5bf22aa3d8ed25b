package engine

import (
	"errors"
	"os"
	"testing"

	"github.com/cachalot-dev/cachalot/internal/catalog"
)

// A removed node leaves nothing behind: a key saved to disk before the
// removal does not come back in a node started later with the same id.
func TestRemoveDeletesNodeData(t *testing.T) {
	in := requireEngine(t, catalog.Redis)
	s, _ := newSupervisor(t, nil)
	spec := redisSpec(t, in, "rs-removed")
	if _, err := s.Start(ctxT(t), spec); err != nil {
		t.Fatal(err)
	}
	if got := redisDo(t, spec.Addr(), "SET", "secret", "kept?"); got != "OK" {
		t.Fatalf("SET = %q", got)
	}
	// What a snapshot would do: the engine writes its data to disk.
	ctx := ctxT(t)
	admin := nodeAdmin(t, s, spec.NodeID)
	c, err := admin.Dial(ctx, nil, spec.Addr())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Do(ctx, c, "SAVE"); err != nil {
		t.Fatal(err)
	}
	c.Close()
	if err := s.Remove(ctx, spec.NodeID); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(s.NodeDir(spec.NodeID)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("node dir after Remove: %v, want gone", err)
	}
	if err := s.Remove(ctx, spec.NodeID); err != nil {
		t.Errorf("second Remove() = %v, want nil", err)
	}
	if _, err := s.Start(ctx, spec); err != nil {
		t.Fatal(err)
	}
	if got := redisDo(t, spec.Addr(), "EXISTS", "secret"); got != "0" {
		t.Errorf("EXISTS secret in the new node = %s, want 0: the removed node's data came back", got)
	}
}

// Teardown deletes the installation's node data with its processes.
func TestTeardownDeletesNodeData(t *testing.T) {
	in := requireEngine(t, catalog.Redis)
	s, dataDir := newSupervisor(t, nil)
	if _, err := s.Start(ctxT(t), redisSpec(t, in, "rs-td")); err != nil {
		t.Fatal(err)
	}
	if err := s.Teardown(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dataDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("engines dir after Teardown: %v, want gone", err)
	}
}
