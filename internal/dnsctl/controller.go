// Package dnsctl is the DNS controller: it runs, inside the daemon, the
// Amazon-provided DNS server of every VPC whose enableDnsSupport is on — a
// resolver.Server per VPC on sockets opened in the VPC's router namespace,
// where the network plane puts the server's addresses (the VPC's base
// address + 2 and 169.254.169.253) and admits queries from every interface
// of the VPC, security groups aside — and keeps each server's view of the
// names (resolver.Table) equal to the store: the caches' endpoint names
// (elasticache.Service.AllNames, the one function naming them) and, with
// enableDnsHostnames, the VPC's private DNS names. A change of either is
// visible at the next query after the reconcile it triggers.
//
// The servers are the daemon's own sockets: they die with it, even on
// kill -9, and the first (full) reconcile after a start opens them again;
// nothing is left behind to adopt. In the loopback network mode there is
// no VPC network and nothing to serve.
//
// It is a reconcile.Controller. Only the wiring (internal/app) imports it;
// it reaches the EC2 model, the caches' names and the network through
// interfaces of its own.
package dnsctl

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"

	"github.com/cachalot-dev/cachalot/internal/ec2"
	"github.com/cachalot-dev/cachalot/internal/elasticache"
	"github.com/cachalot-dev/cachalot/internal/resolver"
)

// EC2 is the EC2 network model (ec2.Service).
type EC2 interface {
	Topology(ctx context.Context, sel ec2.TopologySelector) (*ec2.Topology, error)
}

// Caches names the caches' endpoints (elasticache.Service).
type Caches interface {
	AllNames(ctx context.Context) ([]elasticache.EndpointName, error)
}

// Network opens sockets in a VPC's router namespace (vpcnet.Controller).
type Network interface {
	// Loopback reports the loopback network mode: no VPC network.
	Loopback() bool
	// Sync realises the EC2 network model now, so a new VPC's router
	// namespace exists.
	Sync(ctx context.Context) error
	// NetnsPath is the path of the namespace of a VPC's router.
	NetnsPath(id string) (string, error)
	ListenPacket(ctx context.Context, id, network, addr string) (net.PacketConn, error)
	Listen(ctx context.Context, id, network, addr string) (net.Listener, error)
}

// Config configures a Controller.
type Config struct {
	EC2     EC2     // required
	Caches  Caches  // required
	Network Network // required
	// Domain is the endpoint domain (serve --dns-domain): a zone every
	// server answers for. Required.
	Domain string
	Logger *slog.Logger // default slog.Default()
}

// Controller serves the DNS server of every VPC with enableDnsSupport.
type Controller struct {
	cfg Config
	log *slog.Logger

	mu      sync.Mutex         // guards servers and closed; serialises Reconcile and Close
	servers map[string]*served // by VPC id
	closed  bool
}

// served is one VPC's running server.
type served struct {
	srv   *resolver.Server
	table *resolver.Table
	netns uint64 // inode of the router namespace the sockets were opened in
}

// New returns a controller; it has no side effects.
func New(cfg Config) *Controller {
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Controller{cfg: cfg, log: log.With("component", "dns"), servers: map[string]*served{}}
}

// Name implements reconcile.Controller.
func (c *Controller) Name() string { return "dns" }

// Watches implements reconcile.Controller: the EC2 model (VPCs, their
// attributes, interfaces), the clusters, whose nodes' addresses the names
// resolve to, and the replication groups, whose primary endpoint follows
// their current primary.
func (c *Controller) Watches(key string) bool {
	return strings.HasPrefix(key, "ec2/") || strings.HasPrefix(key, elasticache.ClusterPrefix) &&
		(strings.Contains(key, "/cluster/") || strings.Contains(key, "/replicationgroup/"))
}

// Reconcile implements reconcile.Controller: it reads the topology and the
// names whole, stops the servers of VPCs gone or without DNS support
// (and of VPCs whose router namespace was made anew), starts the missing
// ones and gives every server its view.
func (c *Controller) Reconcile(ctx context.Context, _ []string) error {
	if c.cfg.Network.Loopback() {
		return nil
	}
	topo, err := c.cfg.EC2.Topology(ctx, ec2.TopologySelector{})
	if err != nil {
		return fmt.Errorf("read topology: %w", err)
	}
	names, err := c.cfg.Caches.AllNames(ctx)
	if err != nil {
		return fmt.Errorf("read endpoint names: %w", err)
	}
	want := views(topo, names, c.cfg.Domain)

	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	for id, s := range c.servers {
		if _, ok := want[id]; !ok || s.netns != c.netnsInode(id) {
			c.stop(id)
		}
	}
	var errs []error
	synced := false
	for id, v := range want {
		s := c.servers[id]
		if s == nil {
			if !synced {
				if err := c.cfg.Network.Sync(ctx); err != nil {
					return fmt.Errorf("realise network: %w", err)
				}
				synced = true
			}
			if _, err := c.start(ctx, id, v); err != nil {
				errs = append(errs, fmt.Errorf("dns server of %s: %w", id, err))
			}
			continue
		}
		if err := s.table.Set(v.zones, v.records); err != nil {
			errs = append(errs, fmt.Errorf("dns view of %s: %w", id, err))
		}
	}
	return errors.Join(errs...)
}

// start opens the sockets of id's server in its router namespace — UDP and
// TCP port 53 on every address there; the network plane admits queries to
// the DNS server's addresses only — and starts it with view v. Called with
// c.mu held.
func (c *Controller) start(ctx context.Context, id string, v view) (*served, error) {
	s := &served{table: &resolver.Table{}, netns: c.netnsInode(id)}
	if err := s.table.Set(v.zones, v.records); err != nil {
		return nil, err
	}
	pc, err := c.cfg.Network.ListenPacket(ctx, id, "udp4", "0.0.0.0:53")
	if err != nil {
		return nil, err
	}
	ln, err := c.cfg.Network.Listen(ctx, id, "tcp4", "0.0.0.0:53")
	if err != nil {
		pc.Close()
		return nil, err
	}
	s.srv = resolver.New(s.table, c.log.With("vpc", id))
	if err := s.srv.Start(ctx, pc, ln); err != nil {
		s.srv.Close() // it owns the sockets now
		return nil, err
	}
	c.servers[id] = s
	c.log.Info("serving", "vpc", id, "records", len(v.records))
	return s, nil
}

// stop stops id's server. Called with c.mu held.
func (c *Controller) stop(id string) {
	if s := c.servers[id]; s != nil {
		s.srv.Close()
		delete(c.servers, id)
		c.log.Info("stopped", "vpc", id)
	}
}

// netnsInode is the inode of id's router namespace, 0 when it has none.
func (c *Controller) netnsInode(id string) uint64 {
	path, err := c.cfg.Network.NetnsPath(id)
	if err != nil {
		return 0
	}
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Ino
	}
	return 0
}

// Serving lists the VPCs whose server runs (tests, diagnostics).
func (c *Controller) Serving() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, 0, len(c.servers))
	for id := range c.servers {
		out = append(out, id)
	}
	return out
}

// Close stops every server; Reconcile does nothing after it. Safe more than
// once.
func (c *Controller) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	for id := range c.servers {
		c.stop(id)
	}
}
