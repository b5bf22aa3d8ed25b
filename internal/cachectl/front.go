package cachectl

import (
	"context"
	"errors"
	"fmt"
	"io"
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
// port, so the engine listens on two ports of its own (engine.Split, at
// the node's address) and a front serves the cache port: it reads a
// connection's first byte — 0x16 opens a TLS handshake (a ClientHello
// record), anything else is a plaintext command — and splices the
// connection to the engine's TLS or plaintext port. The front never
// terminates TLS: the engine does, with the group's certificate, and
// AUTH, ACLs and replication behave as with required. Bytes move by
// splice(2) between the two sockets (io.Copy between TCP connections),
// the cost of one more hop inside the node's network (bench/tls).
//
// The front runs in the daemon, listening inside the node's own
// interface (Network.Listen, as the Memcached configuration endpoint),
// so security groups apply to it as to the engine. A daemon restarted (or
// killed) loses its fronts: observing a preferred node without one is
// not converged, and its plan starts it again (startNode). Leaving
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

// front serves a node's cache port in preferred mode.
type front struct {
	ln         net.Listener
	dial       engine.DialFunc
	plain, tls string // the engine's addresses
	// unix, for an IAM front (iamfront.go), is the engine's socket; iam
	// its configuration.
	unix      string
	iam       atomic.Pointer[iamConf]
	log       *slog.Logger
	wg        sync.WaitGroup
	mu        sync.Mutex             // guards conns
	conns     map[net.Conn]frontKind // open client connections; nil once closed
	done      chan struct{}          // closed by close
	closeOnce sync.Once
}

type frontKind int

const (
	frontPending frontKind = iota // first byte not read yet
	frontPlain
	frontTLS
)

func newFront(ln net.Listener, dial engine.DialFunc, plain, tls string, log *slog.Logger) *front {
	return startFront(ln, frontSpec{dial: dial, plain: plain, tls: tls}, log)
}

// frontSpec is what a front serves: preferred's split (dial, plain,
// tls) or, with iam set, IAM authentication to the engine's socket unix.
type frontSpec struct {
	dial       engine.DialFunc
	plain, tls string
	unix       string
	iam        *iamConf
}

func startFront(ln net.Listener, spec frontSpec, log *slog.Logger) *front {
	if spec.dial == nil {
		var d net.Dialer
		spec.dial = d.DialContext
	}
	f := &front{ln: ln, dial: spec.dial, plain: spec.plain, tls: spec.tls, unix: spec.unix, log: log, conns: map[net.Conn]frontKind{}, done: make(chan struct{})}
	if spec.iam != nil {
		f.iam.Store(spec.iam)
	}
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
			if f.unix != "" {
				f.handleIAM(c)
				return
			}
			f.handle(c)
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

// handle reads c's first byte and splices c to the engine port it asks.
func (f *front) handle(c net.Conn) {
	defer f.forget(c)
	defer c.Close()
	var first [1]byte
	if _, err := io.ReadFull(c, first[:]); err != nil {
		return
	}
	kind, addr := frontPlain, f.plain
	if first[0] == tlsRecordHandshake {
		kind, addr = frontTLS, f.tls
	}
	if !f.track(c, kind) {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		select {
		case <-f.done:
		case <-ctx.Done():
		}
		cancel()
	}()
	up, err := f.dial(ctx, "tcp", addr)
	cancel()
	if err != nil {
		f.log.Debug("transit front: dial engine", "addr", addr, "err", err)
		return
	}
	defer up.Close()
	if _, err := up.Write(first[:]); err != nil {
		return
	}
	// Each direction ends when its source does; the other is then
	// closed so both goroutines end.
	errc := make(chan error, 1)
	go func() {
		_, err := io.Copy(up, c)
		errc <- err
		up.Close()
		c.Close()
	}()
	_, _ = io.Copy(c, up)
	c.Close()
	up.Close()
	<-errc
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
		if f.plain == spec.plain && f.tls == spec.tls && f.unix == spec.unix {
			if spec.iam != nil {
				f.iam.Store(spec.iam) // a new certificate or users, live
			}
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

// serveFront makes node n's cache port accept plaintext and TLS
// (preferred): the front listens at the node's address inside its
// interface and splices to the engine's own ports.
func (r *run) serveFront(ctx context.Context, n elasticache.Node, bindIP string, port int, split engine.Split, socket string) error {
	c := r.c
	key := EngineNodeID(r.ref, n.ID)
	at := func(p int) string { return net.JoinHostPort(bindIP, strconv.Itoa(p)) }
	spec := frontSpec{dial: c.cfg.Network.Dialer(n.InterfaceID), plain: at(split.Plain), tls: at(split.TLS)}
	if split.Plain == 0 {
		// IAM authentication (iamfront.go).
		conf, err := c.iamConfOf(r.cl, &tlsPair{cert: r.tls.CertPEM, key: r.tls.KeyPEM})
		if err != nil {
			return err
		}
		spec = frontSpec{unix: socket, iam: conf}
	}
	err := c.fronts.ensure(key, func() (net.Listener, error) {
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
