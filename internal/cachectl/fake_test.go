package cachectl

// Fakes of the controller's interfaces, beside them (in the manner of
// tailscale's router_fake.go): an engine supervisor whose processes outlive
// it, and a network realiser that records what it realised. Both hold the
// whole state the states test expects; neither needs root or an engine.

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/cachalot-dev/cachalot/internal/ec2"
	"github.com/cachalot-dev/cachalot/internal/engine"
)

// fakeProc is a running engine process; it survives the supervisor (a
// daemon restart) until stopped.
type fakeProc struct {
	pid       int
	spec      engine.NodeSpec // as started; Parameters as now in effect, or at the next reboot
	pending   []string        // requires-reboot parameters of the last ApplyParameters
	iface     string          // the interface whose network it was launched in
	reboots   int
	supervise bool // supervised by the current fake supervisor
	// failed: the engine died while its role held it on crash
	// (engine.StateFailed); it stays so until a role without hold, or
	// Stop.
	failed bool
	// offset is its replication offset (Replication).
	offset int64
	// savedData: SaveData ran since it started.
	savedData bool
	// reconnects counts Reconnect calls.
	reconnects int
}

// fakeEngines implements Engines over fakeProcs.
type fakeEngines struct {
	mu      sync.Mutex // guards every field
	procs   map[string]*fakeProc
	nextPID int
	// static names the parameters that need a reboot (the engine's tables
	// say which; the fake only needs some).
	static map[string]bool
	// launched maps a launcher the realiser handed out to its interface.
	launched func(engine.Launcher) (string, bool)
	// data holds the node ids whose data exists: made by Start, kept by
	// Stop, deleted by Remove.
	data map[string]bool
	// saved counts SaveData calls by node id; kept, by node id, is
	// whether the node's last stop followed a SaveData (its data survived
	// the restart).
	saved map[string]int
	kept  map[string]bool
}

func newFakeEngines(launched func(engine.Launcher) (string, bool)) *fakeEngines {
	return &fakeEngines{procs: map[string]*fakeProc{}, static: map[string]bool{"databases": true}, launched: launched}
}

// restart is a daemon restart: processes keep running, nothing is supervised.
func (f *fakeEngines) restart() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, p := range f.procs {
		p.supervise = false
	}
}

func (f *fakeEngines) Start(_ context.Context, spec engine.NodeSpec) (engine.NodeStatus, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if spec.Launcher == nil || spec.Dial == nil {
		return engine.NodeStatus{}, fmt.Errorf("start node %s: no launcher or dialer: its network is not realised", spec.NodeID)
	}
	iface, ok := f.launched(spec.Launcher)
	if !ok {
		return engine.NodeStatus{}, fmt.Errorf("start node %s: launcher of an interface not realised", spec.NodeID)
	}
	if f.data == nil {
		f.data = map[string]bool{}
	}
	f.data[spec.NodeID] = true
	if p, ok := f.procs[spec.NodeID]; ok {
		if p.spec.Engine.Path != spec.Engine.Path || p.spec.Addr() != spec.Addr() {
			if p.supervise {
				return engine.NodeStatus{}, fmt.Errorf("start node %s: %w", spec.NodeID, engine.ErrSpecConflict)
			}
			return engine.NodeStatus{}, fmt.Errorf("start node %s: a process of another spec runs", spec.NodeID)
		}
		adopted := !p.supervise
		if adopted {
			p.spec.Role = spec.Role // a re-adopted engine takes its role
		}
		p.supervise = true
		st := f.status(spec.NodeID, p)
		st.Adopted = adopted
		return st, nil
	}
	f.nextPID++
	p := &fakeProc{pid: f.nextPID, spec: spec, iface: iface, supervise: true}
	p.spec.Parameters = maps.Clone(spec.Parameters)
	f.procs[spec.NodeID] = p
	return f.status(spec.NodeID, p), nil
}

func (f *fakeEngines) status(nodeID string, p *fakeProc) engine.NodeStatus {
	st := engine.NodeStatus{NodeID: nodeID, State: engine.StateRunning, PID: p.pid, Addr: p.spec.Addr(), Role: p.spec.Role}
	if p.failed {
		st.State, st.PID = engine.StateFailed, 0
	}
	return st
}

// fail is an engine dying: held on crash, it stays failed; otherwise the
// supervisor restarts it at once (the fake has no restart delay).
func (f *fakeEngines) fail(nodeID string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if p, ok := f.procs[nodeID]; ok && p.spec.Role.HoldOnCrash {
		p.failed = true
	}
}

// SaveData records that the running node's data was saved.
func (f *fakeEngines) SaveData(_ context.Context, nodeID string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, err := f.supervised(nodeID)
	if err != nil {
		return err
	}
	if p.failed {
		return fmt.Errorf("node %s: connection refused", nodeID)
	}
	if f.saved == nil {
		f.saved = map[string]int{}
	}
	f.saved[nodeID]++
	p.savedData = true
	return nil
}

// Reconnect counts reconnections of a running replica.
func (f *fakeEngines) Reconnect(_ context.Context, nodeID string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, err := f.supervised(nodeID)
	if err != nil {
		return err
	}
	if !p.spec.Role.Replica() {
		return fmt.Errorf("reconnect %s: not a replica", nodeID)
	}
	p.reconnects++
	return nil
}

// SetRole follows the supervisor: the role is recorded, and a failed node
// is relaunched unless the role still holds it.
func (f *fakeEngines) SetRole(_ context.Context, nodeID string, role engine.Role) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, err := f.supervised(nodeID)
	if err != nil {
		return err
	}
	p.spec.Role = role
	if p.failed && !role.HoldOnCrash {
		f.nextPID++
		p.pid, p.failed = f.nextPID, false
	}
	return nil
}

// Replication answers as INFO replication would: a replica's link is up
// when the node it follows runs.
func (f *fakeEngines) Replication(_ context.Context, nodeID string) (engine.ReplicationInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, err := f.supervised(nodeID)
	if err != nil {
		return engine.ReplicationInfo{}, err
	}
	if p.failed {
		return engine.ReplicationInfo{}, fmt.Errorf("node %s: connection refused", nodeID)
	}
	if !p.spec.Role.Replica() {
		return engine.ReplicationInfo{Role: "master", Offset: p.offset}, nil
	}
	up := p.spec.Role.ReplicaOf
	info := engine.ReplicationInfo{Role: "slave", MasterHost: up.Host, MasterPort: up.Port, Offset: p.offset}
	if u, ok := f.procs[up.NodeID]; ok && !u.failed {
		info.LinkUp = true
	}
	return info, nil
}

// Commands: the fake engines do not model Redis Cluster (shardplan_test.go
// tests the cluster-mode policy on observed views).
func (f *fakeEngines) Commands(_ context.Context, nodeID string, cmds ...[]string) ([]any, error) {
	return nil, fmt.Errorf("node %s: %s: the fake engines have no cluster mode", nodeID, cmds[0][0])
}

func (f *fakeEngines) SetPrimaryAuth(_ context.Context, nodeID, _ string) error {
	return fmt.Errorf("node %s: the fake engines have no cluster mode", nodeID)
}

func (f *fakeEngines) Pipeline(_ context.Context, nodeID string, cmds ...[]string) ([]any, error) {
	return nil, fmt.Errorf("node %s: %s: the fake engines have no cluster mode", nodeID, cmds[0][0])
}

func (f *fakeEngines) MigrateAuth(nodeID string) ([]string, error) {
	return nil, fmt.Errorf("node %s: the fake engines have no cluster mode", nodeID)
}

func (f *fakeEngines) Stop(_ context.Context, nodeID string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if p, ok := f.procs[nodeID]; ok {
		if f.kept == nil {
			f.kept = map[string]bool{}
		}
		f.kept[nodeID] = p.savedData
	}
	delete(f.procs, nodeID) // like the supervisor, orphans are stopped too
	return nil
}

// Remove stops the node and forgets its data, as the supervisor deletes
// the node's directory.
func (f *fakeEngines) Remove(ctx context.Context, nodeID string) error {
	if err := f.Stop(ctx, nodeID); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.data, nodeID)
	return nil
}

// dataOf lists the node ids whose data exists.
func (f *fakeEngines) dataOf() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Sorted(maps.Keys(f.data))
}

func (f *fakeEngines) supervised(nodeID string) (*fakeProc, error) {
	p, ok := f.procs[nodeID]
	if !ok || !p.supervise {
		return nil, fmt.Errorf("%w: %s", engine.ErrNodeNotFound, nodeID)
	}
	return p, nil
}

func (f *fakeEngines) Reboot(_ context.Context, nodeID string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, err := f.supervised(nodeID)
	if err != nil {
		return err
	}
	p.reboots++
	p.pending = nil
	return nil
}

// ApplyParameters follows the supervisor's contract: the changes merge
// into the node's parameters, and those that need a reboot are returned
// (all of them, whether or not the value differs).
func (f *fakeEngines) ApplyParameters(_ context.Context, nodeID string, changes map[string]string) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, err := f.supervised(nodeID)
	if err != nil {
		return nil, err
	}
	var pending []string
	for name := range changes {
		if f.static[name] {
			pending = append(pending, name)
		}
	}
	if p.spec.Parameters == nil {
		p.spec.Parameters = map[string]string{}
	}
	maps.Copy(p.spec.Parameters, changes)
	p.pending = slices.Sorted(slices.Values(pending))
	return p.pending, nil
}

func (f *fakeEngines) Status(nodeID string) (engine.NodeStatus, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, ok := f.procs[nodeID]
	if !ok || !p.supervise {
		return engine.NodeStatus{}, false
	}
	return f.status(nodeID, p), true
}

// snapshot copies the running processes.
func (f *fakeEngines) snapshot() map[string]fakeProc {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]fakeProc{}
	for id, p := range f.procs {
		out[id] = *p
	}
	return out
}

// fakeNetwork implements Network: Sync records the interfaces of the EC2
// model (the real one), launchers and listeners exist only for realised
// interfaces, and listeners are in memory.
type fakeNetwork struct {
	ec2      *ec2.Service
	loopback bool

	mu        sync.Mutex // guards the fields below
	realised  map[string]bool
	launchers map[*exec.Cmd]string // a launcher's probe command -> interface
	listeners map[string]*memListener
	hostPorts map[string]int // loopback mode: interface/port -> host port, as Bind kept them
	nextPort  int
	syncs     int
}

func newFakeNetwork(e *ec2.Service, loopback bool) *fakeNetwork {
	return &fakeNetwork{ec2: e, loopback: loopback, realised: map[string]bool{}, launchers: map[*exec.Cmd]string{}, listeners: map[string]*memListener{}, hostPorts: map[string]int{}, nextPort: 40000}
}

// restart is a daemon restart: nothing is known realised until Sync.
func (n *fakeNetwork) restart() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.realised = map[string]bool{}
}

func (n *fakeNetwork) Sync(ctx context.Context) error {
	topo, err := n.ec2.Topology(ctx, ec2.TopologySelector{})
	if err != nil {
		return err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.syncs++
	n.realised = map[string]bool{}
	for _, i := range topo.Interfaces {
		n.realised[i.ID] = true
	}
	return nil
}

// Bind keeps, in the loopback mode, a host port per interface and port
// until Release (the fake's ports are never listened on: listeners are in
// memory).
func (n *fakeNetwork) Bind(_ context.Context, interfaceID, ip string, port int) (string, int, error) {
	if !n.loopback {
		return ip, port, nil
	}
	if interfaceID == "" {
		return "", 0, errors.New("bind: no interface")
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	key := interfaceID + "/" + strconv.Itoa(port)
	if _, ok := n.hostPorts[key]; !ok {
		n.nextPort++
		n.hostPorts[key] = n.nextPort
	}
	return "127.0.0.1", n.hostPorts[key], nil
}

func (n *fakeNetwork) Release(_ context.Context, interfaceID string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	for key := range n.hostPorts {
		if strings.HasPrefix(key, interfaceID+"/") {
			delete(n.hostPorts, key)
		}
	}
	return nil
}

// HostAddr is the lookup the domain gets (elasticache.HostAddrs).
func (n *fakeNetwork) HostAddr(interfaceID string, port int) (string, int, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	p, ok := n.hostPorts[interfaceID+"/"+strconv.Itoa(port)]
	return "127.0.0.1", p, ok
}

// bound lists the interfaces Bind keeps host ports for.
func (n *fakeNetwork) bound() map[string]bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := map[string]bool{}
	for key := range n.hostPorts {
		id, _, _ := strings.Cut(key, "/")
		out[id] = true
	}
	return out
}

// Launcher returns, for a realised interface, a launcher that the fake
// engines can trace back to it (by the command it builds).
func (n *fakeNetwork) Launcher(interfaceID string) engine.Launcher {
	n.mu.Lock()
	defer n.mu.Unlock()
	if !n.realised[interfaceID] && !n.loopback {
		return nil
	}
	probe := &exec.Cmd{}
	n.launchers[probe] = interfaceID
	return func(context.Context, []string) *exec.Cmd { return probe }
}

// launched reports the interface a launcher runs in.
func (n *fakeNetwork) launched(l engine.Launcher) (string, bool) {
	cmd := l(context.Background(), nil)
	n.mu.Lock()
	defer n.mu.Unlock()
	id, ok := n.launchers[cmd]
	return id, ok
}

func (n *fakeNetwork) Dialer(interfaceID string) engine.DialFunc {
	return func(context.Context, string, string) (net.Conn, error) {
		return nil, errors.New("the fake network dials nothing")
	}
}

func (n *fakeNetwork) Listen(_ context.Context, interfaceID, network, addr string) (net.Listener, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if !n.realised[interfaceID] && !n.loopback {
		return nil, fmt.Errorf("listen in %s: not realised", interfaceID)
	}
	if l := n.listeners[addr]; l != nil && !l.closed() {
		return nil, fmt.Errorf("listen on %s: address in use", addr)
	}
	l := &memListener{addr: addr, conns: make(chan net.Conn), done: make(chan struct{})}
	n.listeners[addr] = l
	return l, nil
}

// dial connects to a listener opened with Listen.
func (n *fakeNetwork) dial(addr string) (net.Conn, error) {
	n.mu.Lock()
	l := n.listeners[addr]
	n.mu.Unlock()
	if l == nil {
		return nil, fmt.Errorf("dial %s: nothing listens", addr)
	}
	client, server := net.Pipe()
	select {
	case l.conns <- server:
		return client, nil
	case <-l.done:
		return nil, fmt.Errorf("dial %s: listener closed", addr)
	}
}

// serving lists the addresses listened on now.
func (n *fakeNetwork) serving() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []string
	for a, l := range n.listeners {
		if !l.closed() {
			out = append(out, a)
		}
	}
	slices.Sort(out)
	return out
}

// memListener is an in-memory net.Listener.
type memListener struct {
	addr  string
	conns chan net.Conn
	once  sync.Once
	done  chan struct{}
}

func (l *memListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *memListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *memListener) closed() bool {
	select {
	case <-l.done:
		return true
	default:
		return false
	}
}

func (l *memListener) Addr() net.Addr { return memAddr(l.addr) }

type memAddr string

func (a memAddr) Network() string { return "mem" }
func (a memAddr) String() string  { return string(a) }
