// Package cachectl is the cache controller: it converges the ElastiCache
// domain's clusters (internal/elasticache) to network interfaces, engine
// processes and Memcached configuration endpoints, and writes status and
// events back through the domain's status write-back API.
//
// Where a cluster becomes a process, in one read: Reconcile (this file)
// reads every cluster and observes its engines; plan (plan.go) computes,
// purely, the steps that bring the cluster from what is observed to what is
// desired — create interfaces, sync the network, start, stop, reboot or
// reconfigure each node, serve the configuration endpoint, write status —
// and apply (apply.go) runs them against the small interfaces declared
// below: Engines (the engine supervisor), EC2 (managed network interfaces),
// Network (the realiser: kernel sync, and running, reaching and serving
// inside an interface's network) and Domain (the status write-back API).
// The plan is table-tested and states_test.go drives the controller through
// random sequences of desired states against fakes of these interfaces; the
// engine and kernel end-to-end tests are the real proof.
//
// Replication groups: their member clusters converge here like any
// cluster, each node's engine in the role its record gives it (the
// primary, held on crash with automatic failover, or a replica of the
// primary; a new group's replicas start alongside their primary once
// every interface is made (linkup.go), other replicas converge after the
// rest). The group controller (group.go) owns what is the
// group's — health checks, failovers, the group's status and events —
// deciding with the pure policy of failover.go and writing roles back
// through the domain, which this controller then realises. Groups with
// cluster mode enabled are the group controller's too (shards.go): it
// forms and keeps their Redis Cluster (meet, slots, replicas, failovers).
//
// Imported by the wiring package only.
package cachectl

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/cachalot-dev/cachalot/internal/catalog"
	"github.com/cachalot-dev/cachalot/internal/ec2"
	"github.com/cachalot-dev/cachalot/internal/elasticache"
	"github.com/cachalot-dev/cachalot/internal/engine"
)

// Engines is what the controller needs of the engine supervisor
// (engine.Supervisor): one supervised process per node, named by NodeID.
type Engines interface {
	// Start launches the node, or re-adopts its process after a daemon
	// restart, and returns its status.
	Start(ctx context.Context, spec engine.NodeSpec) (engine.NodeStatus, error)
	// Stop stops the node; engine.ErrNodeNotFound if it is not supervised.
	Stop(ctx context.Context, nodeID string) error
	// Remove stops the node and deletes its data: a deleted node leaves
	// nothing a later node of the same id could find.
	Remove(ctx context.Context, nodeID string) error
	Reboot(ctx context.Context, nodeID string) error
	// ApplyParameters applies changed parameter values, returning those
	// that wait for a reboot.
	ApplyParameters(ctx context.Context, nodeID string, changes map[string]string) (pending []string, err error)
	Status(nodeID string) (engine.NodeStatus, bool)
	// SetRole changes a node's role in its replication group (the primary
	// it follows, held on crash); a failed node is relaunched unless the
	// role holds it.
	SetRole(ctx context.Context, nodeID string, role engine.Role) error
	// Replication reads a running node's replication state; it is also
	// its health check.
	Replication(ctx context.Context, nodeID string) (engine.ReplicationInfo, error)
	// SaveData writes a running Redis OSS or Valkey node's dataset where
	// its engine loads it from when it starts again (writes paused until
	// it stops): a new node type or version keeps the data.
	SaveData(ctx context.Context, nodeID string) error
}

// EC2 is what the controller needs of the EC2 model (ec2.Service): the
// requester-managed interfaces of nodes and configuration endpoints.
type EC2 interface {
	// CreateManagedInterfaces creates several interfaces in one
	// transaction (a cluster's new nodes and configuration endpoint).
	CreateManagedInterfaces(ctx context.Context, specs []ec2.InterfaceSpec) ([]ec2.Interface, error)
	DeleteManagedInterface(ctx context.Context, account, region, id string) error
	SetInterfaceGroups(ctx context.Context, account, region, id string, groups []string) error
	// SetInterfaceServicePeering labels a node's interface with its
	// replication group: the group's nodes replicate past the security
	// groups, as on AWS.
	SetInterfaceServicePeering(ctx context.Context, account, region, id, label string) error
}

// Network is the realiser of the EC2 model (vpcnet.Controller): it brings
// the kernel in line with the model now, and runs, reaches and serves
// inside an interface's network.
type Network interface {
	// Sync realises the current EC2 model (a node's namespace exists
	// before its engine starts).
	Sync(ctx context.Context) error
	// Launcher and Dialer run and reach a process inside the interface's
	// network.
	Launcher(interfaceID string) engine.Launcher
	Dialer(interfaceID string) engine.DialFunc
	// Listen opens a listener inside the interface's network.
	Listen(ctx context.Context, interfaceID, network, addr string) (net.Listener, error)
	// Bind returns where a server of the interface listening on ip and
	// port binds: ip and port in the namespaces mode; in the loopback mode
	// 127.0.0.1 and a host port of its own, kept by the realiser (never in
	// a domain record) until Release.
	Bind(ctx context.Context, interfaceID, ip string, port int) (bindIP string, bindPort int, err error)
	// Release forgets what Bind kept for an interface being deleted.
	Release(ctx context.Context, interfaceID string) error
}

// Domain is the ElastiCache domain's status write-back API
// (elasticache.Service).
type Domain interface {
	Clusters(ctx context.Context) ([]*elasticache.Cluster, error)
	UpdateCluster(ctx context.Context, ref elasticache.ClusterRef, fn func(cur *elasticache.Cluster) bool) (found bool, err error)
	WriteStatus(ctx context.Context, ref elasticache.ClusterRef, fn func(cur *elasticache.Cluster) (events []string)) (found bool, err error)
	RecordEvent(ctx context.Context, ref elasticache.ClusterRef, t time.Time, msg string) error
	RemoveCluster(ctx context.Context, ref elasticache.ClusterRef) error
	ClusterParameters(ctx context.Context, cl *elasticache.Cluster) (map[string]string, error)
	SetClusterGrants(ctx context.Context, cl *elasticache.Cluster) error
	DiscoveryConfig(cl *elasticache.Cluster) (string, error)
	// CertificateNames are the names a TLS cache's certificate carries.
	CertificateNames(cl *elasticache.Cluster) ([]string, error)
	// Names are the DNS names of the cluster's endpoints.
	Names(cl *elasticache.Cluster) ([]elasticache.EndpointName, error)
}

// Catalog is the set of installed engines (catalog.Catalog).
type Catalog interface {
	Find(engine, version string) (catalog.Installed, error)
}

// Config configures the Controller. Every interface is required.
type Config struct {
	Domain  Domain
	EC2     EC2
	Network Network
	Engines Engines
	Catalog Catalog
	// SnapshotDir is the snapshot store (internal/snapctl): a cluster
	// restored from a snapshot starts with its RDB file from there.
	SnapshotDir string
	// Certificates is the installation's CA (tls.go); nil: caches with
	// in-transit encryption fail to converge, saying so.
	Certificates Certificates
	Logger       *slog.Logger     // default slog.Default()
	Now          func() time.Time // node creation times; default time.Now
	// Parallel is how many clusters converge at once; default 32. A
	// cluster's own nodes always converge in parallel. Engines start mostly
	// waiting (exec, load, the first PING), so after a restart a hundred
	// clusters converge in about a tenth of the serial time; 200 clusters
	// created at once were available in 18–19 s with 32 against 30–40 s
	// with 8, on a loaded 2-core machine (bench/capacity RESULTS.md).
	Parallel int
	// IAM verifies IAM authentication tokens (iamfront.go); nil: every
	// token is refused. IAMSecret derives IAM users' engine passwords
	// (the installation's secret); IAMReauth is how long an
	// IAM-authenticated connection lasts without a new IAM AUTH (default
	// DefaultIAMReauth).
	IAM       TokenVerifier
	IAMSecret []byte
	IAMReauth time.Duration
}

// Controller converges cache clusters; it implements reconcile.Controller.
type Controller struct {
	cfg     Config
	log     *slog.Logger
	configs configServers
	fronts  fronts // TransitEncryptionMode preferred (front.go)
	ecpu    ecpuLimiters

	mu sync.Mutex // serialises Reconcile runs
}

// New returns the cache controller; it has no side effects.
func New(cfg Config) *Controller {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Parallel <= 0 {
		cfg.Parallel = 32
	}
	return &Controller{cfg: cfg, log: cfg.Logger}
}

// Close stops the configuration endpoints and the fronts of preferred
// nodes served by this daemon; engines
// keep running (a restart re-adopts them).
func (c *Controller) Close() {
	c.configs.Close()
	c.fronts.Close()
}

// Name implements reconcile.Controller.
func (c *Controller) Name() string { return "elasticache-clusters" }

// Watches implements reconcile.Controller: clusters, parameter groups and
// cache security groups.
func (c *Controller) Watches(key string) bool { return elasticache.ConvergeKey(key) }

// EngineNodeID names a node for the supervisor: unique per installation.
func EngineNodeID(ref elasticache.ClusterRef, node string) string {
	return ref.Account + "." + ref.Region + "." + ref.ID + "." + node
}

// Reconcile implements reconcile.Controller. It looks at every cluster; a
// failure of one does not stop the others, and is recorded on the cluster.
func (c *Controller) Reconcile(ctx context.Context, _ []string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	clusters, err := c.cfg.Domain.Clusters(ctx)
	if err != nil {
		return err
	}
	// A new replica starts alongside its primary (linkup.go): the
	// interfaces of new replicas and of their primaries are made first, in
	// one pass of the network, then they converge with everything else.
	// Other replicas converge after everything else: a replica follows its
	// primary, which a failover may just have changed.
	var errs []error
	if prep := interfacesFirst(clusters); len(prep) > 0 {
		errs = c.prepare(ctx, prep)
		if clusters, err = c.cfg.Domain.Clusters(ctx); err != nil {
			return errors.Join(append(errs, err)...)
		}
	}
	var first, replicas []*elasticache.Cluster
	byRef := map[elasticache.ClusterRef]*elasticache.Cluster{}
	for _, cl := range clusters {
		byRef[cl.Ref()] = cl
		if cl.ReplicaOf != "" && cl.Status != elasticache.StatusDeleting && cl.Status != elasticache.StatusCreating {
			replicas = append(replicas, cl)
		} else {
			first = append(first, cl)
		}
	}
	rolls := rollingPrimaries(clusters)
	errs = append(errs, c.converge(ctx, first, byRef, rolls)...)
	if len(replicas) > 0 {
		fresh, err := c.cfg.Domain.Clusters(ctx)
		if err != nil {
			return errors.Join(append(errs, err)...)
		}
		byRef := map[elasticache.ClusterRef]*elasticache.Cluster{}
		for _, cl := range fresh {
			byRef[cl.Ref()] = cl
		}
		var again []*elasticache.Cluster
		for _, cl := range replicas {
			if f := byRef[cl.Ref()]; f != nil {
				again = append(again, f)
			}
		}
		errs = append(errs, c.converge(ctx, again, byRef, rolls)...)
	}
	return errors.Join(errs...)
}

// interfacesFirst returns the clusters whose interfaces are made before
// anything converges: new replicas needing interfaces, and their primaries
// needing them too (a new group).
func interfacesFirst(clusters []*elasticache.Cluster) []*elasticache.Cluster {
	primaries := map[elasticache.ClusterRef]bool{}
	var out []*elasticache.Cluster
	for _, cl := range clusters {
		if cl.ReplicaOf != "" && cl.Status == elasticache.StatusCreating && needsInterfaces(cl) {
			out = append(out, cl)
			primaries[elasticache.ClusterRef{Account: cl.Account, Region: cl.Region, ID: cl.ReplicaOf}] = true
		}
	}
	for _, cl := range clusters {
		if cl.InterfaceOf != "" && cl.Status == elasticache.StatusCreating && needsInterfaces(cl) {
			// A serverless cache's second engine shares the first's
			// interface: it is made before both start, in parallel.
			primaries[elasticache.ClusterRef{Account: cl.Account, Region: cl.Region, ID: cl.InterfaceOf}] = true
		}
	}
	for _, cl := range clusters {
		if primaries[cl.Ref()] && cl.Status != elasticache.StatusDeleting && needsInterfaces(cl) {
			out = append(out, cl)
		}
	}
	return out
}

// needsInterfaces reports whether a node of the cluster has no interface.
func needsInterfaces(cl *elasticache.Cluster) bool {
	for _, n := range cl.Nodes {
		if n.InterfaceID == "" && n.Status != elasticache.StatusDeleting {
			return true
		}
	}
	return false
}

// prepare runs, for new replicas, the part of their plan that does not
// need their primary: interfaces, security groups, the network.
func (c *Controller) prepare(ctx context.Context, clusters []*elasticache.Cluster) []error {
	errs := make([]error, len(clusters))
	var wg sync.WaitGroup
	for i, cl := range clusters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			obs := observed{engines: map[string]engine.State{}, roles: map[string]engine.Role{}}
			steps := plan(cl, obs)
			if k := slices.IndexFunc(steps, func(s step) bool { return s.op == opResolveSpec }); k >= 0 {
				steps = steps[:k]
			}
			if err := c.apply(ctx, cl, engine.Role{}, nil, steps); err != nil {
				errs[i] = fmt.Errorf("cluster %s: %w", cl.Ref(), err)
			}
		}()
	}
	wg.Wait()
	return errs
}

// converge plans and applies clusters, up to Parallel at once; a failure
// of one does not hold the others back. byRef finds the primaries of
// replicas; rolls are the group primaries whose new spec waits for a
// failover (rolling.go).
func (c *Controller) converge(ctx context.Context, clusters []*elasticache.Cluster, byRef map[elasticache.ClusterRef]*elasticache.Cluster, rolls map[elasticache.ClusterRef]bool) []error {
	errs := make([]error, len(clusters))
	// Observers read other clusters (a replica its primary's address, a
	// borrowing cluster its owner's interface) while those converge and
	// record new interfaces on their records: they read a copy taken
	// before anything starts.
	peers := make(map[elasticache.ClusterRef]*elasticache.Cluster, len(byRef))
	for ref, cl := range byRef {
		cp := *cl
		cp.Nodes = slices.Clone(cl.Nodes)
		peers[ref] = &cp
	}
	sem := make(chan struct{}, c.cfg.Parallel)
	var wg sync.WaitGroup
	for i, cl := range clusters {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			obs, err := c.observe(ctx, cl, peers)
			obs.rolls = rolls[cl.Ref()]
			if err == nil {
				err = c.apply(ctx, cl, obs.role, obs.tls, plan(cl, obs))
			}
			if err != nil {
				errs[i] = fmt.Errorf("cluster %s: %w", cl.Ref(), err)
				c.recordError(ctx, cl.Ref(), err)
			}
		}()
	}
	wg.Wait()
	return errs
}

// observe reads what the cluster's plan depends on besides its record: the
// supervisor's view of each node, whether this daemon serves the
// configuration endpoint, and the role of its nodes.
func (c *Controller) observe(ctx context.Context, cl *elasticache.Cluster, byRef map[elasticache.ClusterRef]*elasticache.Cluster) (observed, error) {
	obs := observed{
		engines: map[string]engine.State{},
		roles:   map[string]engine.Role{},
		certs:   map[string]string{},
		auths:   map[string]string{},
		serving: c.configs.get(cl.Ref()) != nil,
		split:   cl.TransitEncryptionMode == elasticache.TransitPreferred,
		splits:  map[string]bool{},
		fronts:  map[string]bool{},
		iam:     frontMode(cl),
		tlsOnly: map[string]bool{}, iamFronts: map[string]bool{},
		iamSecret: c.cfg.IAMSecret,
	}
	obs.split = obs.split || obs.iam
	for _, n := range cl.Nodes {
		key := EngineNodeID(cl.Ref(), n.ID)
		if st, ok := c.cfg.Engines.Status(key); ok {
			obs.engines[n.ID] = st.State
			obs.roles[n.ID] = st.Role
			obs.certs[n.ID] = st.TLS
			obs.auths[n.ID] = st.Auth
			obs.splits[n.ID] = st.Split
			obs.tlsOnly[n.ID] = st.SplitTLSOnly
		}
		f := c.fronts.get(key)
		obs.fronts[n.ID] = f != nil
		obs.iamFronts[n.ID] = f != nil && f.unix != ""
	}
	if cl.Status == elasticache.StatusDeleting {
		return obs, nil
	}
	if cl.InterfaceOf != "" {
		if owner := byRef[elasticache.ClusterRef{Account: cl.Account, Region: cl.Region, ID: cl.InterfaceOf}]; owner != nil && len(owner.Nodes) > 0 && owner.Nodes[0].InterfaceID != "" {
			n := owner.Nodes[0]
			obs.borrow = &n
		}
	}
	var err error
	if obs.tls, err = c.nodeTLS(ctx, cl); err != nil {
		return obs, err
	}
	obs.role, err = c.role(ctx, cl, byRef)
	return obs, err
}

// role is the role of a cluster's nodes: none outside a replication group;
// the primary, held on crash with automatic failover; a replica following
// its primary's node where that node listens (in the loopback mode, the
// host port the realiser keeps for it).
func (c *Controller) role(ctx context.Context, cl *elasticache.Cluster, byRef map[elasticache.ClusterRef]*elasticache.Cluster) (engine.Role, error) {
	if cl.ReplicaOf == "" {
		return engine.Role{HoldOnCrash: cl.HoldOnCrash}, nil
	}
	up := byRef[elasticache.ClusterRef{Account: cl.Account, Region: cl.Region, ID: cl.ReplicaOf}]
	if up == nil || len(up.Nodes) == 0 || up.Nodes[0].IP == "" {
		return engine.Role{}, fmt.Errorf("primary %s has no address yet", cl.ReplicaOf)
	}
	n := up.Nodes[0]
	ip, port, err := c.cfg.Network.Bind(ctx, n.InterfaceID, n.IP, up.Port)
	if err != nil {
		return engine.Role{}, fmt.Errorf("address of primary %s: %w", cl.ReplicaOf, err)
	}
	return engine.Role{ReplicaOf: engine.Upstream{NodeID: EngineNodeID(up.Ref(), n.ID), Host: ip, Port: port}}, nil
}

func (c *Controller) recordError(ctx context.Context, ref elasticache.ClusterRef, err error) {
	msg := err.Error()
	if _, err := c.cfg.Domain.UpdateCluster(ctx, ref, func(cur *elasticache.Cluster) bool {
		if cur.LastError == msg {
			return false
		}
		cur.LastError = msg
		return true
	}); err != nil {
		c.log.Warn("record reconcile error", "cluster", ref.String(), "err", err)
	}
}
