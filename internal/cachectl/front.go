package cachectl

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/cachalot-dev/cachalot/internal/elasticache"
	"github.com/cachalot-dev/cachalot/internal/engine"
)

// TransitEncryptionMode preferred: plaintext and TLS on the cache port,
// as ElastiCache accepts them. A stock engine cannot serve both on one
// port, so a front of the daemon serves the cache port: it reads a
// connection's first byte — 0x16 opens a TLS handshake (a ClientHello
// record), anything else is a plaintext command — terminates TLS with the
// group's certificate when it is one, and passes the client's commands to
// the engine on its Unix socket (no plaintext port of the network); the
// engine's replies pass verbatim, and AUTH, ACLs and access strings are
// the engine's own. The same front serves nodes with IAM users
// (iamfront.go: it also checks their tokens). The engine keeps a TLS port
// of its own at the node's address (engine.Split) for the supervisor,
// replication and the cluster bus.
//
// Terminating in the daemon rather than splicing to the engine's own TLS
// and plaintext ports (as the first version did) takes TLS off the
// engine's one thread: through the front, TLS clients get what the
// engine's own TLS gives, and plaintext ones most of what a plaintext
// port gives (bench/tls).
//
// The front runs in the daemon, listening inside the node's own
// interface (Network.Listen, as the Memcached configuration endpoint),
// so security groups apply to it as to the engine. A daemon restarted (or
// killed) loses its fronts: observing a node without its front is not
// converged, and its plan starts it again (startNode). Leaving
// preferred, the front stops before the engine takes the port back; its
// plaintext connections close (required drops them, as ElastiCache
// does), TLS ones stay until their client closes them.

// tlsRecordHandshake is the first byte of a TLS ClientHello.
const tlsRecordHandshake = 0x16

// splitPorts are the engine's own ports in preferred mode for a cache
// port: two ports away from the cache port and its cluster bus port
// (port+10000), within the port range.
func splitPorts(port int) engine.Split {
	base := port + 20000
	if base+1 > 65535 {
		base = port - 30000
	}
	return engine.Split{Plain: base, TLS: base + 1}
}

// front serves a node's cache port in preferred mode or with IAM users.
type front struct {
	ln   net.Listener
	unix string // the engine's socket
	iam  atomic.Pointer[iamConf]
	log  *slog.Logger
	wg   sync.WaitGroup
	mu   sync.Mutex // guards conns
	// conns are the open client connections; nil once closed.
	conns     map[net.Conn]frontKind
	done      chan struct{} // closed by close
	closeOnce sync.Once
}

type frontKind int

const (
	frontPending frontKind = iota // first byte not read yet
	frontPlain
	frontTLS
)

// frontSpec is what a front serves: the engine's socket unix, with iam.
type frontSpec struct {
	unix string
	iam  *iamConf
}

func startFront(ln net.Listener, spec frontSpec, log *slog.Logger) *front {
	f := &front{ln: ln, unix: spec.unix, log: log, conns: map[net.Conn]frontKind{}, done: make(chan struct{})}
	f.iam.Store(spec.iam)
	f.wg.Add(1)
	go f.serve()
	return f
}

func (f *front) serve() {
	defer f.wg.Done()
	for {
		c, err := f.ln.Accept()
		if err != nil {
			return
		}
		if !f.track(c, frontPending) {
			c.Close()
			return
		}
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			f.handleConn(c)
		}()
	}
}

// track records c as kind; false once the front is closed.
func (f *front) track(c net.Conn, kind frontKind) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.conns == nil {
		return false
	}
	f.conns[c] = kind
	return true
}

func (f *front) forget(c net.Conn) {
	f.mu.Lock()
	if f.conns != nil {
		delete(f.conns, c)
	}
	f.mu.Unlock()
}

// stop closes the listener and the plaintext connections; TLS ones
// stay until their client or the engine ends them (the engine keeps
// them when it moves its TLS listener).
func (f *front) stop() {
	f.ln.Close()
	f.mu.Lock()
	for c, kind := range f.conns {
		if kind != frontTLS {
			c.Close()
		}
	}
	f.mu.Unlock()
}

// idle reports whether no connection goes through the front.
func (f *front) idle() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.conns) == 0
}

// close stops the front and every connection through it.
func (f *front) close() {
	f.closeOnce.Do(func() { close(f.done) })
	f.ln.Close()
	f.mu.Lock()
	for c := range f.conns {
		c.Close()
	}
	f.conns = nil
	f.mu.Unlock()
	f.wg.Wait()
}

// fronts tracks the running fronts by engine node id.
type fronts struct {
	mu     sync.Mutex // guards byNode and old
	byNode map[string]*front
	// old are stopped fronts whose TLS connections may still be open;
	// Close ends them.
	old []*front
}

func (fs *fronts) get(node string) *front {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.byNode[node]
}

// ensure starts the front of node unless it runs; listen opens its
// listener.
func (fs *fronts) ensure(node string, listen func() (net.Listener, error), spec frontSpec, log *slog.Logger) error {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if f := fs.byNode[node]; f != nil {
		if f.unix == spec.unix {
			f.iam.Store(spec.iam) // a new certificate, users or mode, live
			return nil
		}
		fs.retire(node, f)
	}
	ln, err := listen()
	if err != nil {
		return err
	}
	if fs.byNode == nil {
		fs.byNode = map[string]*front{}
	}
	fs.byNode[node] = startFront(ln, spec, log)
	return nil
}

// stop stops node's front, if it runs.
func (fs *fronts) stop(node string) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if f := fs.byNode[node]; f != nil {
		fs.retire(node, f)
	}
}

// retire stops node's front f; it is kept (for Close) while TLS
// connections go through it. The retired fronts left idle are closed.
// fs.mu is held.
func (fs *fronts) retire(node string, f *front) {
	f.stop()
	delete(fs.byNode, node)
	old := append(fs.old, f)
	fs.old = fs.old[:0]
	for _, o := range old {
		if o.idle() {
			go o.close() // waits for its goroutines, which end with the listener and connections
			continue
		}
		fs.old = append(fs.old, o)
	}
}

// drop stops node's front and every connection through it (the node is
// removed).
func (fs *fronts) drop(node string) {
	fs.mu.Lock()
	f := fs.byNode[node]
	delete(fs.byNode, node)
	fs.mu.Unlock()
	if f != nil {
		f.close()
	}
}

// Close stops every front and its connections.
func (fs *fronts) Close() {
	fs.mu.Lock()
	all := append(fs.old, mapsValues(fs.byNode)...)
	fs.byNode, fs.old = nil, nil
	fs.mu.Unlock()
	for _, f := range all {
		f.close()
	}
}

func mapsValues(m map[string]*front) []*front {
	out := make([]*front, 0, len(m))
	for _, f := range m {
		out = append(out, f)
	}
	return out
}

// serveFront serves node n's cache port with its front (preferred, or
// IAM users): it listens at the node's address inside its interface and
// passes commands to the engine's socket.
func (r *run) serveFront(ctx context.Context, n elasticache.Node, bindIP string, port int, socket string) error {
	c := r.c
	key := EngineNodeID(r.ref, n.ID)
	conf, err := c.iamConfOf(r.cl, &tlsPair{cert: r.tls.CertPEM, key: r.tls.KeyPEM})
	if err != nil {
		return err
	}
	spec := frontSpec{unix: socket, iam: conf}
	at := func(p int) string { return net.JoinHostPort(bindIP, strconv.Itoa(p)) }
	err = c.fronts.ensure(key, func() (net.Listener, error) {
		return c.cfg.Network.Listen(ctx, n.InterfaceID, "tcp", at(port))
	}, spec, c.log)
	if err != nil {
		return fmt.Errorf("serve the cache port of node %s (preferred): %w", n.ID, err)
	}
	return nil
}

// errSplitBind: the loopback mode bound a node's split ports elsewhere
// than its cache port.
var errSplitBind = errors.New("split ports bound at another address than the cache port")
