package cachectl

import (
	"bufio"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cachalot-dev/cachalot/internal/elasticache"
)

// configServer answers Memcached auto discovery on a cluster's configuration
// endpoint: "config get cluster" returns the config version and the current
// nodes as host|ip|port (the domain's DiscoveryConfig); "version" and "quit"
// work as in memcached. It runs in the daemon, listening inside the
// configuration endpoint's own network interface, so clients reach it under
// the cluster's security groups. Other commands are refused: data goes to
// the nodes themselves.
type configServer struct {
	ln      net.Listener
	config  atomic.Pointer[string] // the "config get cluster" payload
	version string
	log     *slog.Logger
	wg      sync.WaitGroup
}

func newConfigServer(ln net.Listener, engineVersion string, log *slog.Logger) *configServer {
	s := &configServer{ln: ln, version: engineVersion, log: log}
	empty := "0\n\n"
	s.config.Store(&empty)
	s.wg.Add(1)
	go s.serve()
	return s
}

func (s *configServer) set(payload string) { s.config.Store(&payload) }

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
