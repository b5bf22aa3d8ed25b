package vpcnet

import (
	"context"
	"net"
	"path/filepath"
	"testing"

	"github.com/cachalot-dev/cachalot/internal/ec2"
	"github.com/cachalot-dev/cachalot/internal/netplane"
	"github.com/cachalot-dev/cachalot/internal/store"
)

func openStore(t *testing.T, path string) *store.Bolt {
	t.Helper()
	st, err := store.OpenBolt(path)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func bind(t *testing.T, n *Controller, eni string, port int) int {
	t.Helper()
	ip, p, err := n.Bind(context.Background(), eni, "10.0.0.5", port)
	if err != nil {
		t.Fatalf("Bind(%s, %d): %v", eni, port, err)
	}
	if ip != "127.0.0.1" || p <= 0 {
		t.Fatalf("Bind(%s, %d) = %s:%d, want 127.0.0.1 and a port", eni, port, ip, p)
	}
	if hip, hp, ok := n.HostAddr(eni, port); !ok || hip != ip || hp != p {
		t.Errorf("HostAddr(%s, %d) = %s:%d %v, want %s:%d", eni, port, hip, hp, ok, ip, p)
	}
	return p
}

// In the loopback mode an interface's server gets a host port of its own,
// chosen once and kept in the store: the same on every Bind, after a
// restart of the controller and of the store, until Release.
func TestLoopbackHostPorts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	st := openStore(t, path)
	n := New(Config{EC2: ec2.New(st, ec2.Config{}), Store: st})
	if !n.Loopback() {
		t.Fatal("a controller without plane is not in the loopback mode")
	}
	redis := bind(t, n, "eni-a", 6379)
	if again := bind(t, n, "eni-a", 6379); again != redis {
		t.Errorf("second Bind = %d, want the kept %d", again, redis)
	}
	other := bind(t, n, "eni-a", 11211)
	peer := bind(t, n, "eni-b", 6379)
	if other == redis || peer == redis || peer == other {
		t.Errorf("host ports %d, %d, %d are not distinct", redis, other, peer)
	}
	if _, _, ok := n.HostAddr("eni-c", 6379); ok {
		t.Error("HostAddr of an interface never bound is ok")
	}

	// A restart: a new controller on the store, reopened.
	st.Close()
	st = openStore(t, path)
	defer st.Close()
	n = New(Config{EC2: ec2.New(st, ec2.Config{}), Store: st})
	if got := bind(t, n, "eni-a", 6379); got != redis {
		t.Errorf("Bind after a restart = %d, want the kept %d", got, redis)
	}
	if got := bind(t, n, "eni-b", 6379); got != peer {
		t.Errorf("Bind of eni-b after a restart = %d, want the kept %d", got, peer)
	}

	if err := n.Release(context.Background(), "eni-a"); err != nil {
		t.Fatal(err)
	}
	for _, port := range []int{6379, 11211} {
		if _, _, ok := n.HostAddr("eni-a", port); ok {
			t.Errorf("HostAddr(eni-a, %d) after Release is ok", port)
		}
	}
	if got := bind(t, n, "eni-b", 6379); got != peer {
		t.Errorf("Release of eni-a changed eni-b's port to %d, want %d", got, peer)
	}
	bind(t, n, "eni-a", 6379) // a new one
}

// The loopback mode's reconcile forgets the host ports of interfaces that
// no longer exist, and keeps those of interfaces that do.
func TestLoopbackForgetsDeletedInterfaces(t *testing.T) {
	st := openStore(t, filepath.Join(t.TempDir(), "state.db"))
	defer st.Close()
	e := ec2.New(st, ec2.Config{Accounts: classicOnly{}})
	const acct, region = "555555555555", "us-east-1"
	ctx := context.Background()
	node, err := e.CreateManagedInterface(ctx, ec2.InterfaceSpec{Account: acct, Region: region, Classic: true, Description: "ElastiCache web-0001"})
	if err != nil {
		t.Fatal(err)
	}
	n := New(Config{EC2: e, Store: st})
	kept := bind(t, n, node.ID, 6379)
	bind(t, n, "eni-gone", 6379)
	if err := n.Reconcile(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if _, _, ok := n.HostAddr("eni-gone", 6379); ok {
		t.Error("the host port of a deleted interface is kept")
	}
	if _, p, ok := n.HostAddr(node.ID, 6379); !ok || p != kept {
		t.Errorf("HostAddr of an existing interface after reconcile = %d %v, want %d", p, ok, kept)
	}
}

// In the namespaces mode a server binds its interface's own address and
// port, and nothing is kept.
func TestNamespacesBind(t *testing.T) {
	st := openStore(t, filepath.Join(t.TempDir(), "state.db"))
	defer st.Close()
	plane, err := netplane.New(netplane.Config{Prefix: "cltest"})
	if err != nil {
		t.Fatal(err)
	}
	n := New(Config{EC2: ec2.New(st, ec2.Config{}), Plane: plane, Store: st})
	ip, port, err := n.Bind(context.Background(), "eni-a", "10.0.0.5", 6379)
	if err != nil || ip != "10.0.0.5" || port != 6379 {
		t.Errorf("Bind = %s:%d, %v; want 10.0.0.5:6379", ip, port, err)
	}
	if _, _, ok := n.HostAddr("eni-a", 6379); ok {
		t.Error("HostAddr in the namespaces mode is ok")
	}
	if n.Loopback() {
		t.Error("Loopback() with a plane")
	}
}

// In the loopback mode Bind honours the requested port when it is free and
// kept for no other interface, and takes another one otherwise.
func TestLoopbackBindHonoursPort(t *testing.T) {
	st := openStore(t, filepath.Join(t.TempDir(), "state.db"))
	defer st.Close()
	n := New(Config{EC2: ec2.New(st, ec2.Config{}), Store: st})
	// A port free just now: the kernel's pick, released.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	free := l.Addr().(*net.TCPAddr).Port
	l.Close()
	if got := bind(t, n, "eni-a", free); got != free {
		t.Errorf("Bind(eni-a, %d) = %d, want the requested port, which is free", free, got)
	}
	// Kept for eni-a (its server may be stopped): eni-b gets another.
	if got := bind(t, n, "eni-b", free); got == free {
		t.Errorf("Bind(eni-b, %d) = %d, the port kept for eni-a", free, got)
	}
	// Taken by someone else: another one.
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	taken := busy.Addr().(*net.TCPAddr).Port
	if got := bind(t, n, "eni-c", taken); got == taken {
		t.Errorf("Bind(eni-c, %d) = %d, a port another program listens on", taken, got)
	}
}
