package cachectl

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cachalot-dev/cachalot/internal/elasticache"
	"github.com/cachalot-dev/cachalot/internal/engine"
)

// configServer answers Memcached auto discovery on a cluster's configuration
// endpoint: "config get cluster" returns the config version and the current
// nodes as host|ip|port (the domain's DiscoveryConfig); "version" and "quit"
// work as in memcached. It runs in the daemon, listening inside the
// configuration endpoint's own network interface, so clients reach it under
// the cluster's security groups. Other commands are refused: data goes to
// the nodes themselves. A cluster with in-transit encryption has it TLS
// only, with the cluster's certificate (which names the endpoint), as its
// nodes.
type configServer struct {
	ln      net.Listener
	config  atomic.Pointer[string] // the "config get cluster" payload
	cert    atomic.Pointer[servedCert]
	version string
	log     *slog.Logger
	wg      sync.WaitGroup
	mu      sync.Mutex            // guards conns
	conns   map[net.Conn]struct{} // open client connections; nil once closed
}

// servedCert is the certificate a TLS configuration endpoint presents.
type servedCert struct {
	id   string // engine.TLS.ID
	cert tls.Certificate
}

// newConfigServer serves on ln, over TLS with t when not nil.
func newConfigServer(ln net.Listener, engineVersion string, t *engine.TLS, log *slog.Logger) (*configServer, error) {
	s := &configServer{ln: ln, version: engineVersion, log: log, conns: map[net.Conn]struct{}{}}
	if t != nil {
		if err := s.setTLS(t); err != nil {
			return nil, err
		}
		s.ln = tls.NewListener(ln, &tls.Config{
			MinVersion: tls.VersionTLS12,
			GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
				return &s.cert.Load().cert, nil
			},
		})
	}
	empty := "0\n\n"
	s.config.Store(&empty)
	s.wg.Add(1)
	go s.serve()
	return s, nil
}

func (s *configServer) set(payload string) { s.config.Store(&payload) }

// setTLS makes a TLS endpoint present t's certificate to new connections
// (a renewal); an endpoint without TLS keeps none.
func (s *configServer) setTLS(t *engine.TLS) error {
	if cur := s.cert.Load(); cur != nil && cur.id == t.ID() {
		return nil
	}
	c, err := tls.X509KeyPair(t.CertPEM, t.KeyPEM)
	if err != nil {
		return fmt.Errorf("configuration endpoint certificate: %w", err)
	}
	s.cert.Store(&servedCert{id: t.ID(), cert: c})
	return nil
}

func (s *configServer) serve() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.handle(c)
		}()
	}
}

func (s *configServer) handle(c net.Conn) {
	defer c.Close()
	// Clients keep their connection to poll; closing the endpoint
	// closes them.
	s.mu.Lock()
	if s.conns == nil {
		s.mu.Unlock()
		return
	}
	s.conns[c] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
	}()
	r := bufio.NewReader(c)
	for {
		c.SetReadDeadline(time.Now().Add(5 * time.Minute))
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		fields := strings.Fields(line)
		var reply string
		switch {
		case len(fields) == 3 && fields[0] == "config" && fields[1] == "get" && fields[2] == "cluster":
			p := *s.config.Load()
			reply = fmt.Sprintf("CONFIG cluster 0 %d\r\n%s\r\nEND\r\n", len(p), p)
		case len(fields) == 1 && fields[0] == "version":
			reply = "VERSION " + s.version + "\r\n"
		case len(fields) == 1 && fields[0] == "quit":
			return
		case len(fields) == 0:
			continue
		default:
			reply = "ERROR\r\n"
		}
		c.SetWriteDeadline(time.Now().Add(10 * time.Second))
		if _, err := c.Write([]byte(reply)); err != nil {
			return
		}
	}
}

func (s *configServer) close() {
	s.ln.Close()
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.conns = nil
	s.mu.Unlock()
	s.wg.Wait()
}

// configServers tracks the running configuration endpoints by cluster.
type configServers struct {
	mu      sync.Mutex // guards servers
	servers map[elasticache.ClusterRef]*configServer
}

func (cs *configServers) get(key elasticache.ClusterRef) *configServer {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return cs.servers[key]
}

func (cs *configServers) put(key elasticache.ClusterRef, s *configServer) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.servers == nil {
		cs.servers = map[elasticache.ClusterRef]*configServer{}
	}
	cs.servers[key] = s
}

func (cs *configServers) stop(key elasticache.ClusterRef) {
	cs.mu.Lock()
	s := cs.servers[key]
	delete(cs.servers, key)
	cs.mu.Unlock()
	if s != nil {
		s.close()
	}
}

// Close stops every configuration endpoint (the daemon is stopping).
func (cs *configServers) Close() {
	cs.mu.Lock()
	all := cs.servers
	cs.servers = nil
	cs.mu.Unlock()
	for _, s := range all {
		s.close()
	}
}
