package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/cachalot-dev/cachalot/internal/catalog"
	"github.com/cachalot-dev/cachalot/internal/engine/identity"
	"github.com/cachalot-dev/cachalot/internal/engine/redis"
)

// Launcher builds the command that starts an engine. argv[0] is the
// engine binary or a helper that execs it in place after confining it
// (prlimit, setpriv: sandbox.go), so the launcher runs with the daemon's
// privileges and the engine drops them after it. The default,
// HostLauncher, starts it on the host; the network plane injects one that
// enters the node's network namespace (e.g. `nsenter --net=/run/netns/X
// -- argv...`).
//
// The launcher must exec the engine in place (the started process's pid is
// the engine's pid) and must not tie the process to ctx (no
// exec.CommandContext): engines outlive requests and the daemon. The
// supervisor sets Dir (when empty: the node's data directory),
// Stdin/Stdout/Stderr and Setsid itself.
type Launcher func(ctx context.Context, argv []string) *exec.Cmd

// HostLauncher starts argv on the host, in the daemon's namespaces.
func HostLauncher(_ context.Context, argv []string) *exec.Cmd {
	return exec.Command(argv[0], argv[1:]...)
}

// DialFunc opens a connection; nil means net.Dialer on the host. It
// converts to the dial functions of the engine clients
// (redis.DialWith, memcached.DialWith, memcached.DialTLS).
type DialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// EventType says what happened to a node.
type EventType string

const (
	EventStarted           EventType = "started"            // launched and ready
	EventAdopted           EventType = "adopted"            // a running engine was re-adopted, not restarted
	EventCrashed           EventType = "crashed"            // exited without being asked to
	EventRestarted         EventType = "restarted"          // back and ready after a crash ("Cache node restarted")
	EventRestartFailed     EventType = "restart-failed"     // a restart after a crash failed; retried with backoff
	EventRebooted          EventType = "rebooted"           // Reboot done
	EventStopped           EventType = "stopped"            // Stop done
	EventParametersApplied EventType = "parameters-applied" // ApplyParameters done
	// EventFailed: a node held on crash (Role.HoldOnCrash) exited unasked,
	// or was found gone at Start; it is not restarted (StateFailed).
	EventFailed     EventType = "failed"
	EventRoleSet    EventType = "role-set"    // SetRole done
	EventTLSRenewed EventType = "tls-renewed" // new certificate files set live
	// EventTransitSwitched: the engine switched its in-transit
	// encryption live (transit.go).
	EventTransitSwitched EventType = "transit-switched"
	EventAuthSet         EventType = "auth-set" // the default user's passwords set live
)

// Event reports a node lifecycle change to Config.OnEvent.
type Event struct {
	NodeID  string
	Type    EventType
	Time    time.Time
	PID     int
	Message string
	Err     error // for crashed and restart-failed
}

// Config configures a Supervisor. Zero fields take the stated defaults.
type Config struct {
	// DataDir holds one directory per node, DataDir/<NodeID> (required).
	// Teardown kills every engine process working under it.
	DataDir string
	// Launcher starts engine processes; default HostLauncher.
	Launcher Launcher
	// Logger; default discards.
	Logger *slog.Logger
	// OnEvent, if set, is called for every Event from supervisor
	// goroutines, one node at a time, never with a lock held. It must not
	// call back into the Supervisor synchronously.
	OnEvent func(Event)
	// ReadyTimeout bounds the wait for a started engine to answer; default 15s.
	ReadyTimeout time.Duration
	// StopTimeout is the grace period after SIGTERM before SIGKILL; default 10s.
	StopTimeout time.Duration
	// PollInterval is how often liveness is checked where an engine's exit
	// cannot be waited for (no pidfd); default 200ms.
	PollInterval time.Duration
	// IdleHz is the hz AdjustHz gives an idle Redis OSS/Valkey node
	// (idlehz.go); default 0: hz is never changed.
	IdleHz int
	// MinBackoff and MaxBackoff bound the delay before restarting a crashed
	// engine (doubling per consecutive crash); default 100ms and 30s.
	MinBackoff, MaxBackoff time.Duration
	// Identities allocates each node's own uid and gid when the daemon
	// runs as root (sandbox.go); default: the identity.Engines range,
	// recorded in DataDir/.identities.
	Identities *identity.Allocator
	// Setpriv and Prlimit are the util-linux helpers engines are confined
	// with (setpriv drops the identity and capabilities; prlimit sets
	// memcached's memory limit); default: found in PATH. Running as root,
	// a missing one fails the start; otherwise the engine runs without.
	Setpriv, Prlimit string
}

func (c Config) withDefaults() Config {
	if c.Launcher == nil {
		c.Launcher = HostLauncher
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if c.ReadyTimeout <= 0 {
		c.ReadyTimeout = 15 * time.Second
	}
	if c.StopTimeout <= 0 {
		c.StopTimeout = 10 * time.Second
	}
	if c.PollInterval <= 0 {
		c.PollInterval = 200 * time.Millisecond
	}
	if c.MinBackoff <= 0 {
		c.MinBackoff = 100 * time.Millisecond
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = 30 * time.Second
	}
	if c.Identities == nil {
		c.Identities = identity.New(filepath.Join(c.DataDir, identitiesDirName), identity.Engines())
	}
	return c
}

// NodeSpec is the desired engine process of one cache node.
type NodeSpec struct {
	NodeID    string            // unique per installation; [A-Za-z0-9._-]
	Engine    catalog.Installed // from catalog.Catalog.Find
	BindIP    string            // the node's address (in its namespace)
	Port      int               // default 6379 (Redis/Valkey) or 11211 (memcached)
	MaxMemory int64             // bytes, from catalog.NodeTypeMemory; 0 = engine default
	// Parameters are the parameter group's values that differ from the
	// family defaults.
	Parameters map[string]string
	// Save holds Redis RDB save points; empty means none.
	Save []string
	// Role is the node's place in a replication group (role.go); the zero
	// Role is a primary restarted after a crash.
	Role Role
	// Seed, when set, is an RDB file (a snapshot) the node's engine loads
	// at its first start: copied as its dump file into a data directory
	// made anew, never into one an engine ran in (snapshot.go).
	Seed string `json:",omitempty"`
	// Launcher, when set, starts this node's process instead of
	// Config.Launcher: how a node runs inside its own network namespace.
	Launcher Launcher `json:"-"`
	// Dial, when set, is how the supervisor reaches the node for health
	// checks and CONFIG SET: from inside the node's network, never through
	// the host's routes.
	Dial DialFunc `json:"-"`
	// TLS, when set, is the node's in-transit encryption (tls.go; every
	// engine). A Start with other certificates for a running node
	// renews them live; a Start switching a Redis OSS or Valkey node's
	// TLS on or off, or its Split, switches it live too (transit.go).
	TLS *TLS `json:"-"`
	// Split, with TLS, is ElastiCache's TransitEncryptionMode preferred
	// (Redis OSS and Valkey): the engine listens plaintext and with TLS
	// on the two ports of Split at BindIP, not on Port, which the caller
	// serves (a front handing each connection to one of them); the
	// supervisor reaches the engine on the plaintext one. A Split whose
	// Plain is 0 has no plaintext port (the front of IAM authentication
	// terminates TLS and reaches the engine on its Unix socket,
	// NodeStatus.Socket): the supervisor reaches it with TLS on Split.TLS.
	Split *Split `json:",omitempty"`
	// AuthTokens are the SHA-256 hashes (hex) of the default user's
	// passwords (ElastiCache's AUTH token; two during a rotation); none:
	// no password. A Start with others for a running node sets them live.
	AuthTokens []string `json:"-"`
	// AnnounceHostname is a cluster-mode node's DNS name, announced as
	// its preferred endpoint (redis.Config.AnnounceHostname); "" for
	// none. A Start with another for a running node announces it live.
	AnnounceHostname string `json:",omitempty"`
	// SecondPort, when set, is a second port the engine listens on at
	// BindIP, with the same protocol and TLS as Port: a serverless
	// Memcached cache's reader endpoint (11212). Memcached only; it
	// applies at the engine's start.
	SecondPort int `json:",omitempty"`
	// Users are the engine's RBAC users (ElastiCache's user groups; a
	// user named default replaces the default user of AuthTokens); a
	// Start with others for a running node sets them live.
	Users []ACLUser `json:"-"`
}

// ACLUser is an RBAC user of a node's engine: name and ACL rules, its
// passwords only as "#<sha256>" (redis.User).
type ACLUser = redis.User

func (s NodeSpec) port() int {
	if s.Port != 0 {
		return s.Port
	}
	if d, err := driverFor(s.Engine.Engine); err == nil {
		return d.defaultPort()
	}
	return redis.DefaultPort // an unknown engine fails to start; its address still shows
}

// Addr is host:port of the node.
func (s NodeSpec) Addr() string { return net.JoinHostPort(s.BindIP, strconv.Itoa(s.port())) }

// Split are the ports of an engine in TransitEncryptionMode preferred
// (NodeSpec.Split).
type Split = redis.Split

// adminAddr is where the supervisor reaches the engine: its port, or its
// plaintext port when it listens split.
func (s NodeSpec) adminAddr() string {
	if s.Split != nil && s.TLS != nil {
		if s.Split.Plain == 0 {
			return net.JoinHostPort(s.BindIP, strconv.Itoa(s.Split.TLS))
		}
		return net.JoinHostPort(s.BindIP, strconv.Itoa(s.Split.Plain))
	}
	return s.Addr()
}

// State of a supervised node.
type State string

const (
	StateStarting   State = "starting"
	StateRunning    State = "running"
	StateRestarting State = "restarting" // crashed, restart pending
	StateStopped    State = "stopped"
	// StateFailed: the engine of a node held on crash is gone and stays
	// so until Stop, Remove or SetRole (Role.HoldOnCrash).
	StateFailed State = "failed"
)

// NodeStatus is a snapshot of a supervised node.
type NodeStatus struct {
	NodeID    string
	State     State
	PID       int
	Addr      string
	Dir       string
	Adopted   bool      // the current process was re-adopted
	Restarts  int       // restarts after crashes by this supervisor
	Since     time.Time // when the current process became ready
	LastError string
	Role      Role // the role the node has been given (Start, SetRole)
	// TLS identifies the certificate files the engine was given
	// (TLS.ID); "" without TLS.
	TLS string
	// Auth identifies the AUTH tokens the engine was given (AuthID).
	Auth string
	// Split: the engine listens split (NodeSpec.Split); SplitTLSOnly:
	// split without a plaintext port (Split.Plain 0, the IAM front's).
	Split, SplitTLSOnly bool
}

// Errors of the Supervisor.
var (
	ErrNodeNotFound = errors.New("cache node not supervised")
	ErrClosed       = errors.New("supervisor closed")
	ErrNotReady     = errors.New("engine did not become ready")
	ErrSpecConflict = errors.New("cache node already supervised with another binary or address")
)

// identitiesDirName is the identity registry's directory in DataDir; a
// node id may not start with a dot, so no node directory is named so.
const identitiesDirName = ".identities"

// Supervisor runs and watches engine processes, one per node. Create it
// with New; it does nothing until Start.
type Supervisor struct {
	cfg Config
	log *slog.Logger
	ids *identity.Allocator

	ctx    context.Context // cancelled by Close; bounds crash restarts
	cancel context.CancelFunc
	wg     sync.WaitGroup // every goroutine the supervisor started

	mu     sync.Mutex // guards nodes and closed
	nodes  map[string]*node
	closed bool

	snaps sync.Mutex // serialises SnapshotTo: one BGSAVE and copy at a time
}

// New returns a Supervisor. It has no side effects.
func New(cfg Config) *Supervisor {
	cfg = cfg.withDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	return &Supervisor{cfg: cfg, log: cfg.Logger, ids: cfg.Identities, ctx: ctx, cancel: cancel, nodes: map[string]*node{}}
}

// NodeDir returns the directory of a node.
func (s *Supervisor) NodeDir(nodeID string) string { return filepath.Join(s.cfg.DataDir, nodeID) }

// Start makes the node's engine run and answer: it re-adopts a process
// this installation started earlier (same pid, start time and directory)
// without restarting it, or launches one and waits until it is ready. It
// is idempotent: a node already supervised is left alone (its status is
// returned), unless spec asks for another binary or address
// (ErrSpecConflict). Changes of parameters go through ApplyParameters,
// changes of role through SetRole. A node held on crash whose engine is
// gone is not launched again: Start returns it in StateFailed.
func (s *Supervisor) Start(ctx context.Context, spec NodeSpec) (NodeStatus, error) {
	if !supervisionSupported {
		return NodeStatus{}, fmt.Errorf("start node %s: %w", spec.NodeID, errors.ErrUnsupported)
	}
	if err := s.checkSpec(spec); err != nil {
		return NodeStatus{}, fmt.Errorf("start node %s: %w", spec.NodeID, err)
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return NodeStatus{}, ErrClosed
	}
	if n, ok := s.nodes[spec.NodeID]; ok {
		s.mu.Unlock()
		n.mu.Lock()
		cur := n.spec
		n.mu.Unlock()
		if cur.Engine.Path != spec.Engine.Path || cur.BindIP != spec.BindIP || cur.port() != spec.port() {
			return NodeStatus{}, fmt.Errorf("start node %s: %w: runs %s at %s, asked %s at %s (Stop it first)",
				spec.NodeID, ErrSpecConflict, cur.Engine.Path, cur.Addr(), spec.Engine.Path, spec.Addr())
		}
		if transitOf(cur) != transitOf(spec) {
			if spec.Engine.Engine == catalog.Memcached {
				return NodeStatus{}, fmt.Errorf("start node %s: %w: TLS %v, asked %v (Stop it first)",
					spec.NodeID, ErrSpecConflict, cur.TLS != nil, spec.TLS != nil)
			}
			if _, err := n.do(ctx, request{kind: reqTransit, tls: spec.TLS, split: spec.Split}); err != nil {
				return NodeStatus{}, fmt.Errorf("start node %s: %w", spec.NodeID, err)
			}
		} else if !cur.TLS.equal(spec.TLS) {
			if _, err := n.do(ctx, request{kind: reqTLS, tls: spec.TLS}); err != nil {
				return NodeStatus{}, fmt.Errorf("start node %s: %w", spec.NodeID, err)
			}
		}
		if cur.AnnounceHostname != spec.AnnounceHostname && spec.Engine.Engine != catalog.Memcached {
			if _, err := n.do(ctx, request{kind: reqAnnounce, name: spec.AnnounceHostname}); err != nil {
				return NodeStatus{}, fmt.Errorf("start node %s: %w", spec.NodeID, err)
			}
		}
		if !slices.Equal(cur.AuthTokens, spec.AuthTokens) || !slices.EqualFunc(cur.Users, spec.Users, ACLUser.Equal) {
			if _, err := n.do(ctx, request{kind: reqAuth, auth: spec.AuthTokens, users: spec.Users}); err != nil {
				return NodeStatus{}, fmt.Errorf("start node %s: %w", spec.NodeID, err)
			}
		}
		return n.snapshot(), nil
	}
	n := &node{s: s, id: spec.NodeID, dir: s.NodeDir(spec.NodeID), spec: cloneSpec(spec),
		reqs: make(chan request), done: make(chan struct{})}
	n.status = NodeStatus{NodeID: spec.NodeID, State: StateStarting, Addr: spec.Addr(), Dir: n.dir, Role: spec.Role, TLS: spec.TLS.ID(), Auth: AuthID(spec.AuthTokens, spec.Users...), Split: spec.TLS != nil && spec.Split != nil,
		SplitTLSOnly: spec.TLS != nil && spec.Split != nil && spec.Split.Plain == 0}
	s.nodes[spec.NodeID] = n
	s.mu.Unlock()

	w, adopted, err := n.bringUp(ctx)
	held := errors.Is(err, errHeld)
	if held {
		err = nil
	}
	s.mu.Lock()
	if err == nil && s.closed {
		err = ErrClosed
	}
	if err != nil {
		delete(s.nodes, spec.NodeID)
		s.mu.Unlock()
		if w != nil {
			w.stop()
		}
		close(n.done)
		return NodeStatus{}, fmt.Errorf("start node %s: %w", spec.NodeID, err)
	}
	s.wg.Add(1)
	s.mu.Unlock()
	switch {
	case held:
		n.setStatus(func(st *NodeStatus) { st.State = StateFailed })
		n.emit(Event{Type: EventFailed, Message: "engine gone at start; held for failover"})
	case adopted:
		n.emit(Event{Type: EventAdopted, PID: w.id.PID})
	default:
		n.emit(Event{Type: EventStarted, PID: w.id.PID})
	}
	go n.run(w)
	return n.snapshot(), nil
}

// nodeIDRE is what a node id may hold: it names the node directory (and
// may not start with a dot: checkSpec).
var nodeIDRE = regexp.MustCompile(`^[A-Za-z0-9._-]*$`)

func (s *Supervisor) checkSpec(spec NodeSpec) error {
	if spec.NodeID == "" || !nodeIDRE.MatchString(spec.NodeID) || strings.HasPrefix(spec.NodeID, ".") {
		return fmt.Errorf("bad node id %q", spec.NodeID)
	}
	if s.cfg.DataDir == "" || !filepath.IsAbs(s.cfg.DataDir) {
		return fmt.Errorf("data dir %q is not absolute", s.cfg.DataDir)
	}
	if spec.Engine.Path == "" {
		return fmt.Errorf("no engine binary (use Catalog.Find): %w", catalog.ErrEngineNotInstalled)
	}
	if _, err := netip.ParseAddr(spec.BindIP); err != nil {
		return fmt.Errorf("bind address: %w", err)
	}
	return checkRole(spec)
}

// Status returns a snapshot of a supervised node.
func (s *Supervisor) Status(nodeID string) (NodeStatus, bool) {
	s.mu.Lock()
	n, ok := s.nodes[nodeID]
	s.mu.Unlock()
	if !ok {
		return NodeStatus{}, false
	}
	return n.snapshot(), true
}

// Nodes returns snapshots of all supervised nodes, sorted by id.
func (s *Supervisor) Nodes() []NodeStatus {
	s.mu.Lock()
	ns := slices.Collect(maps.Values(s.nodes))
	s.mu.Unlock()
	out := make([]NodeStatus, 0, len(ns))
	for _, n := range ns {
		out = append(out, n.snapshot())
	}
	slices.SortFunc(out, func(a, b NodeStatus) int { return strings.Compare(a.NodeID, b.NodeID) })
	return out
}

// Stop stops a node's engine (SIGTERM, then SIGKILL after StopTimeout)
// and forgets it. The node directory is kept. A node not supervised but
// left running by an earlier supervisor is stopped too; stopping a node
// that does not run is not an error.
func (s *Supervisor) Stop(ctx context.Context, nodeID string) error {
	s.mu.Lock()
	n, ok := s.nodes[nodeID]
	s.mu.Unlock()
	if !ok {
		return s.stopOrphan(ctx, nodeID)
	}
	_, err := n.do(ctx, request{kind: reqStop})
	if errors.Is(err, ErrNodeNotFound) {
		return nil // stopped meanwhile
	}
	return err
}

// Remove stops a node's engine as Stop does, then deletes the node's
// directory — its data, configuration, secrets and logs — and releases its
// identity: a deleted node leaves nothing a later node of the same id could
// find. Removing a node that never ran is not an error.
func (s *Supervisor) Remove(ctx context.Context, nodeID string) error {
	if err := s.Stop(ctx, nodeID); err != nil {
		return err
	}
	dir := s.NodeDir(nodeID)
	if filepath.Dir(dir) != filepath.Clean(s.cfg.DataDir) || filepath.Base(dir) != nodeID {
		return fmt.Errorf("remove node %q: not a node id", nodeID)
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("remove node %s: %w", nodeID, err)
	}
	if err := s.ids.Release(nodeID); err != nil {
		return fmt.Errorf("remove node %s: release its identity: %w", nodeID, err)
	}
	return nil
}

func (s *Supervisor) stopOrphan(ctx context.Context, nodeID string) error {
	if !supervisionSupported {
		return nil
	}
	dir := s.NodeDir(nodeID)
	if st, err := readState(dir); err == nil && owned(st.procID, dir) {
		if err := s.terminate(ctx, st.procID); err != nil {
			return fmt.Errorf("stop node %s: %w", nodeID, err)
		}
	}
	if err := s.terminateStrays(ctx, dir); err != nil {
		return fmt.Errorf("stop node %s: %w", nodeID, err)
	}
	_ = os.Remove(filepath.Join(dir, stateFileName))
	return nil
}

// terminateStrays stops the engine processes working in a node directory
// that no state file records: launch writes the state file just after the
// process starts, and a daemon killed in between leaves an engine no
// later supervisor would know of (found by the crash campaign,
// bench/crash), holding the node's address.
func (s *Supervisor) terminateStrays(ctx context.Context, dir string) error {
	procs, err := engineProcsUnder(dir)
	if err != nil {
		return fmt.Errorf("find engines in %s: %w", dir, err)
	}
	var errs []error
	for _, p := range procs {
		errs = append(errs, s.terminate(ctx, p))
	}
	return errors.Join(errs...)
}

// Reboot restarts a node's engine with its current spec (and any pending
// requires-reboot parameters). Without persistence the data is lost, as
// with ElastiCache.
func (s *Supervisor) Reboot(ctx context.Context, nodeID string) error {
	n, err := s.node(nodeID)
	if err != nil {
		return err
	}
	_, err = n.do(ctx, request{kind: reqReboot})
	return err
}

// ApplyParameters changes parameter values of a running node (validated
// against the family with catalog.ValidateChanges). For Redis/Valkey, immediate
// parameters are applied live with CONFIG SET; requires-reboot ones are
// recorded for the next start and returned as pending. For memcached,
// which has no live configuration, the engine is restarted with the new
// values and nothing is pending.
func (s *Supervisor) ApplyParameters(ctx context.Context, nodeID string, changes map[string]string) (pending []string, err error) {
	n, err := s.node(nodeID)
	if err != nil {
		return nil, err
	}
	if err := catalog.ValidateChanges(n.family(), changes); err != nil {
		return nil, fmt.Errorf("apply parameters to %s: %w", nodeID, err)
	}
	r, err := n.do(ctx, request{kind: reqApply, params: maps.Clone(changes)})
	return r.pending, err
}

func (s *Supervisor) node(nodeID string) (*node, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	n, ok := s.nodes[nodeID]
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrNodeNotFound, nodeID)
	}
	return n, nil
}

// Close stops supervising: goroutines end, engine processes keep running
// for a later supervisor to re-adopt. It is safe to call more than once,
// and after a partial start.
func (s *Supervisor) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
	return nil
}

// Teardown closes the supervisor, kills every engine process of this
// installation (those working under DataDir, supervised or not) and
// deletes DataDir: node data, secrets, logs and identities.
func (s *Supervisor) Teardown(ctx context.Context) error {
	if err := s.killAll(ctx); err != nil {
		return err
	}
	if err := os.RemoveAll(s.cfg.DataDir); err != nil {
		return fmt.Errorf("teardown: %w", err)
	}
	return nil
}

// killAll closes the supervisor and kills every engine process of this
// installation.
func (s *Supervisor) killAll(ctx context.Context) error {
	_ = s.Close()
	if !supervisionSupported {
		return nil
	}
	procs, err := engineProcsUnder(s.cfg.DataDir)
	if err != nil {
		return fmt.Errorf("teardown: %w", err)
	}
	var wg sync.WaitGroup
	errs := make([]error, len(procs))
	for i, p := range procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.terminate(ctx, p)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// terminate sends SIGTERM, waits up to StopTimeout, then SIGKILLs the
// process group and waits for the end.
func (s *Supervisor) terminate(ctx context.Context, p procID) error {
	if err := signal(p, syscall.SIGTERM); err != nil {
		return err
	}
	// A stopped engine (hung by SIGSTOP, say) sees SIGTERM once continued.
	_ = signal(p, syscall.SIGCONT)
	if waitGone(ctx, p, s.cfg.StopTimeout) {
		return nil
	}
	if err := killGroup(p); err != nil {
		return err
	}
	if waitGone(context.WithoutCancel(ctx), p, 5*time.Second) {
		return nil
	}
	return fmt.Errorf("pid %d survived SIGKILL", p.PID)
}

// waitGone polls until p is gone, d elapses or ctx ends.
func waitGone(ctx context.Context, p procID, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for alive(p) {
		if time.Now().After(deadline) || ctx.Err() != nil {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}

// The state file records the process a node directory's engine runs as.
const stateFileName = "cachalot-node.json"

type nodeState struct {
	procID
	Engine string `json:"engine"`
	Binary string `json:"binary"`
	BindIP string `json:"bind_ip"`
	Port   int    `json:"port"`
	// UID is the identity the engine runs as; 0 for the daemon's own.
	UID uint32 `json:"uid,omitempty"`
	// Restricted says the engine was started with the restricted
	// commands and the admin user of the node's secrets; a state file
	// without it was written by a Cachalot before them, whose engine is
	// reached as it was (no AUTH, original command names) until it
	// restarts.
	Restricted bool `json:"restricted,omitempty"`
	// TLS says the engine speaks TLS only (NodeSpec.TLS).
	TLS bool `json:"tls,omitempty"`
	// Split: the engine listens split (NodeSpec.Split), TLS set too.
	Split *Split `json:"split,omitempty"`
}

func readState(dir string) (nodeState, error) {
	var st nodeState
	b, err := os.ReadFile(filepath.Join(dir, stateFileName))
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, fmt.Errorf("parse %s: %w", stateFileName, err)
	}
	return st, nil
}

func writeState(dir string, st nodeState) error {
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(dir, stateFileName), append(b, '\n'))
}

func writeFileAtomic(path string, b []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o640); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

func cloneSpec(s NodeSpec) NodeSpec {
	s.Parameters = maps.Clone(s.Parameters)
	s.Save = slices.Clone(s.Save)
	s.AuthTokens = slices.Clone(s.AuthTokens)
	s.Users = slices.Clone(s.Users)
	if s.Split != nil {
		sp := *s.Split
		s.Split = &sp
	}
	return s
}

// tail returns the end of a file, for error messages.
func tail(path string, n int64) string {
	f, err := openRegular(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() > n {
		_, _ = f.Seek(-n, io.SeekEnd)
	}
	b, _ := io.ReadAll(f)
	return strings.TrimSpace(string(b))
}

// LogFiles returns the log files of the node whose directory is dir
// (NodeDir), oldest kind first: what the engine printed (engine.out) and,
// for Redis OSS and Valkey, its own log file. Files not written yet are
// left out.
func LogFiles(dir string) []string {
	var out []string
	for _, f := range []string{filepath.Join(dir, "engine.out"), filepath.Join(dir, dataDirName, redis.LogFile)} {
		if fi, err := os.Stat(f); err == nil && fi.Mode().IsRegular() {
			out = append(out, f)
		}
	}
	return out
}

// Socket is the path of a Redis OSS or Valkey node's Unix socket: in its
// data directory, reachable only by the engine's user and root (the
// daemon). The front of IAM authentication reaches the engine there.
func (s NodeStatus) Socket() string {
	return filepath.Join(s.Dir, dataDirName, redis.UnixSocket)
}
