package engine

import (
	"testing"
	"time"

	"github.com/cachalot-dev/cachalot/internal/catalog"
	"github.com/cachalot-dev/cachalot/internal/engine/redis"
)

func TestWantHz(t *testing.T) {
	idle := Stats{Engine: catalog.Redis, CurrConnections: 1, ConfiguredHz: 10}
	with := func(f func(*Stats)) Stats { st := idle; f(&st); return st }
	for _, tc := range []struct {
		name   string
		st     Stats
		idleHz int
		want   int
	}{
		{"idle", idle, 1, 1},
		{"idle, already low", with(func(s *Stats) { s.ConfiguredHz = 1 }), 1, 1},
		{"off", idle, 0, 0},
		{"client", with(func(s *Stats) { s.CurrConnections = 2 }), 1, NormalHz},
		{"replica attached", with(func(s *Stats) { s.Replicas = 1 }), 1, NormalHz},
		{"replica", with(func(s *Stats) { s.Replica = true }), 1, NormalHz},
		{"cluster mode", with(func(s *Stats) { s.ClusterEnabled = true }), 1, NormalHz},
		{"memcached", with(func(s *Stats) { s.Engine = catalog.Memcached }), 1, 0},
		{"hz unknown", with(func(s *Stats) { s.ConfiguredHz = 0 }), 1, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := WantHz(tc.st, tc.idleHz); got != tc.want {
				t.Errorf("WantHz(%+v, %d) = %d, want %d", tc.st, tc.idleHz, got, tc.want)
			}
		})
	}
}

// TestRedisIdleHz: an idle node is lowered to IdleHz, gets 10 back while a
// client is connected, and IdleHz again once it left.
func TestRedisIdleHz(t *testing.T) {
	in := requireEngine(t, catalog.Redis)
	rec := newRecorder()
	s, _ := newSupervisor(t, rec)
	s.cfg.IdleHz = 1
	spec := redisSpec(t, in, "hz-0001")
	if _, err := s.Start(ctxT(t), spec); err != nil {
		t.Fatal(err)
	}
	adjust := func() Stats {
		t.Helper()
		st, err := s.Stats(ctxT(t), spec.NodeID)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.AdjustHz(ctxT(t), spec.NodeID, st); err != nil {
			t.Fatal(err)
		}
		return st
	}
	if st := adjust(); st.ConfiguredHz != NormalHz {
		t.Fatalf("a new node's configured_hz = %d, want %d", st.ConfiguredHz, NormalHz)
	}
	if got := configGet(t, s, spec, "hz"); got != "1" {
		t.Fatalf("idle node: CONFIG GET hz = %s, want 1", got)
	}
	c, err := redis.Dial(ctxT(t), spec.Addr())
	if err != nil {
		t.Fatal(err)
	}
	if st := adjust(); st.CurrConnections != 2 {
		t.Fatalf("with a client: connected_clients = %d, want 2 (the client and the reader)", st.CurrConnections)
	}
	if got := configGet(t, s, spec, "hz"); got != "10" {
		t.Errorf("with a client: CONFIG GET hz = %s, want 10", got)
	}
	c.Close()
	// The engine notices the close when it next reads the socket.
	for i := 0; ; i++ {
		adjust()
		got := configGet(t, s, spec, "hz")
		if got == "1" {
			break
		}
		if i == 100 {
			t.Fatalf("client gone: CONFIG GET hz = %s, want 1", got)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
