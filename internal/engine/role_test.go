//go:build linux

package engine

import (
	"context"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/cachalot-dev/cachalot/internal/catalog"
)

// waitFor polls cond until it holds or d passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, d)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// replicaOf is the role of a replica of spec.
func replicaOf(spec NodeSpec) Role {
	return Role{ReplicaOf: Upstream{NodeID: spec.NodeID, Host: spec.BindIP, Port: spec.Port}}
}

// linkUp waits until node's replication link to its primary is up.
func linkUp(t *testing.T, s *Supervisor, node string) ReplicationInfo {
	t.Helper()
	var info ReplicationInfo
	waitFor(t, 10*time.Second, node+" replicating", func() bool {
		var err error
		info, err = s.Replication(ctxT(t), node)
		return err == nil && info.Role == "slave" && info.LinkUp
	})
	return info
}

// TestReplication: a replica follows its primary as the primary's admin
// user (clients may not PSYNC), comes back following it after a crash,
// and roles change live: the replica is promoted, the old primary follows
// it, and writes made on the new primary reach the old one.
func TestReplication(t *testing.T) {
	in := requireEngine(t, catalog.Redis)
	rec := newRecorder()
	s, _ := newSupervisor(t, rec)
	p := redisSpec(t, in, "rg-001.0001")
	r := redisSpec(t, in, "rg-002.0001")
	r.Role = replicaOf(p)
	if _, err := s.Start(ctxT(t), p); err != nil {
		t.Fatal(err)
	}
	if got := redisDo(t, p.Addr(), "SET", "k", "v1"); got != "OK" {
		t.Fatalf("SET on primary = %q", got)
	}
	st, err := s.Start(ctxT(t), r)
	if err != nil {
		t.Fatal(err)
	}
	if st.Role != r.Role {
		t.Errorf("Start(replica).Role = %v, want %v", st.Role, r.Role)
	}
	linkUp(t, s, r.NodeID)
	waitFor(t, 5*time.Second, "k on the replica", func() bool { return redisDo(t, r.Addr(), "GET", "k") == "v1" })
	if info, err := s.Replication(ctxT(t), p.NodeID); err != nil || !info.Primary() || info.Replicas != 1 {
		t.Errorf("Replication(primary) = %+v, %v; want master with 1 replica", info, err)
	}

	// A crashed replica restarts as a replica and resynchronises.
	if err := syscall.Kill(st.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	rec.wait(t, EventRestarted, 10*time.Second)
	linkUp(t, s, r.NodeID)
	waitFor(t, 5*time.Second, "k on the restarted replica", func() bool { return redisDo(t, r.Addr(), "GET", "k") == "v1" })

	// Promote the replica, demote the primary.
	if err := s.SetRole(ctxT(t), r.NodeID, Role{HoldOnCrash: true}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetRole(ctxT(t), p.NodeID, replicaOf(r)); err != nil {
		t.Fatal(err)
	}
	if got := redisDo(t, r.Addr(), "SET", "k", "v2"); got != "OK" {
		t.Fatalf("SET on the promoted replica = %q", got)
	}
	linkUp(t, s, p.NodeID)
	waitFor(t, 5*time.Second, "k on the demoted primary", func() bool { return redisDo(t, p.Addr(), "GET", "k") == "v2" })
	if st, _ := s.Status(r.NodeID); !st.Role.HoldOnCrash || st.Role.Replica() {
		t.Errorf("Status(promoted).Role = %v, want a held primary", st.Role)
	}
}

// TestHoldOnCrash: a node held on crash is not restarted (StateFailed,
// EventFailed), a new supervisor finding its engine gone does not launch
// it, and a role without HoldOnCrash relaunches it.
func TestHoldOnCrash(t *testing.T) {
	in := requireEngine(t, catalog.Redis)
	rec := newRecorder()
	s, dataDir := newSupervisor(t, rec)
	p := redisSpec(t, in, "held.0001")
	p.Role = Role{HoldOnCrash: true}
	st, err := s.Start(ctxT(t), p)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(st.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	rec.wait(t, EventFailed, 5*time.Second)
	if now, _ := s.Status(p.NodeID); now.State != StateFailed || now.PID != 0 {
		t.Errorf("Status() after a held crash = %+v, want failed, no pid", now)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// A new supervisor: the engine is gone, the node stays held.
	rec2 := newRecorder()
	s2 := New(testConfig(t, dataDir, rec2))
	defer s2.Close()
	st2, err := s2.Start(ctxT(t), p)
	if err != nil {
		t.Fatal(err)
	}
	if st2.State != StateFailed {
		t.Errorf("Start() of a held node whose engine is gone = %s, want failed", st2.State)
	}
	rec2.wait(t, EventFailed, time.Second)
	if _, err := s2.ApplyParameters(ctxT(t), p.NodeID, map[string]string{"timeout": "30"}); err != nil {
		t.Errorf("ApplyParameters(held) = %v, want recorded for the next launch", err)
	}
	// Released, it launches, with the parameters recorded meanwhile.
	if err := s2.SetRole(ctxT(t), p.NodeID, Role{}); err != nil {
		t.Fatal(err)
	}
	if now, _ := s2.Status(p.NodeID); now.State != StateRunning {
		t.Fatalf("Status() after SetRole without hold = %s, want running", now.State)
	}
	if got := configGet(t, s2, p, "timeout"); got != "30" {
		t.Errorf("CONFIG GET timeout = %s, want 30", got)
	}
}

// TestReplicationInfoHung: a hung engine (SIGSTOP) does not answer its
// replication health check, and Stop still ends it.
func TestReplicationInfoHung(t *testing.T) {
	in := requireEngine(t, catalog.Redis)
	s, _ := newSupervisor(t, nil)
	p := redisSpec(t, in, "hung.0001")
	st, err := s.Start(ctxT(t), p)
	if err != nil {
		t.Fatal(err)
	}
	proc := procID{PID: st.PID, StartTime: mustStart(t, st.PID)}
	if err := syscall.Kill(st.PID, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if _, err := s.Replication(ctx, p.NodeID); err == nil {
		t.Error("Replication() of a stopped engine = nil error, want a timeout")
	}
	if err := s.Stop(ctxT(t), p.NodeID); err != nil {
		t.Errorf("Stop(hung) = %v", err)
	}
	if alive(proc) {
		t.Error("the hung engine survived Stop")
	}
}

func TestRoleString(t *testing.T) {
	r := Role{ReplicaOf: Upstream{NodeID: "a.0001", Host: "10.0.0.5", Port: 6379}, HoldOnCrash: true}
	if got, want := r.String(), "replica of a.0001 at 10.0.0.5:"+strconv.Itoa(6379)+", held on crash"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}
