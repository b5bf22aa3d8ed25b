package cachectl

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cachalot-dev/cachalot/internal/catalog"
	"github.com/cachalot-dev/cachalot/internal/ec2"
	"github.com/cachalot-dev/cachalot/internal/elasticache"
	"github.com/cachalot-dev/cachalot/internal/engine"
)

// run is one application of a cluster's plan.
type run struct {
	c   *Controller
	cl  *elasticache.Cluster // working copy: steps record interface ids and ports in it
	ref elasticache.ClusterRef
	gen int64 // the generation the plan converges to
	// role is the role of the cluster's nodes (observed.role).
	role engine.Role

	// tls is the nodes' in-transit encryption (observed.tls)
	tls *engine.TLS

	// resolve-spec
	inst    catalog.Installed
	values  map[string]string
	nodeMem int64

	results []nodeResult         // nodes
	stored  *elasticache.Cluster // write-status: the record as written
}

// nodeResult is what converging one node did.
type nodeResult struct {
	id          string
	removed     bool
	paramStatus string
	running     string // Node.Running
	rebooted    bool   // the node restarted: a reboot, or a new spec
	started     bool
	replaced    bool // the node's engine and data were replaced
}

// apply runs the steps in order, stopping at the first failure: the next
// run starts over from what is then observed.
func (c *Controller) apply(ctx context.Context, cl *elasticache.Cluster, role engine.Role, tls *engine.TLS, steps []step) error {
	if cs := c.configs.get(cl.Ref()); cs != nil && tls != nil && cs.cert.Load() != nil {
		// A renewed certificate: the configuration endpoint presents it.
		if err := cs.setTLS(tls); err != nil {
			return err
		}
	}
	if len(steps) == 0 {
		return nil
	}
	c.log.Debug("cluster plan", "cluster", cl.Ref().String(), "plan", planString(steps))
	r := &run{c: c, cl: cl, ref: cl.Ref(), gen: cl.Generation, role: role, tls: tls}
	start := time.Now()
	took := make([]any, 0, 2*len(steps)+4) // the time each step ended, since start
	defer func() {
		c.log.Debug("cluster applied", append(took, "cluster", r.ref.String(), "since_created", sinceCreated(cl, start))...)
	}()
	for i := 0; i < len(steps); i++ {
		s := steps[i]
		var err error
		if s.op == opCreateInterface {
			// Consecutive creations are one: all the cluster's new
			// interfaces in one EC2 transaction, which the network then
			// realises in one pass (see createInterfaces).
			targets := []string{s.target}
			for i+1 < len(steps) && steps[i+1].op == opCreateInterface {
				i++
				targets = append(targets, steps[i].target)
			}
			err = r.createInterfaces(ctx, targets)
		} else {
			err = r.do(ctx, s)
		}
		took = append(took, string(s.op), time.Since(start).Round(10*time.Microsecond))
		if err != nil {
			return err
		}
	}
	return nil
}

// sinceCreated is how long before start the cluster was created (0 when
// the record does not say).
func sinceCreated(cl *elasticache.Cluster, start time.Time) time.Duration {
	if cl.CreatedAt.IsZero() {
		return 0
	}
	return start.Sub(cl.CreatedAt).Round(10 * time.Microsecond)
}

func (r *run) do(ctx context.Context, s step) error {
	c, cl := r.c, r.cl
	switch s.op {
	case opCreateInterface:
		return r.createInterfaces(ctx, []string{s.target})
	case opBorrowInterface:
		return r.borrowInterface(ctx, s)
	case opSetGroups:
		if err := c.cfg.EC2.SetInterfaceGroups(ctx, cl.Account, cl.Region, r.interfaceOf(s.target), cl.SecurityGroups); err != nil {
			if s.target == configTarget {
				return fmt.Errorf("set security groups of the configuration endpoint: %w", err)
			}
			return fmt.Errorf("set security groups of node %s: %w", s.target, err)
		}
		if s.target != configTarget {
			if err := c.cfg.EC2.SetInterfaceServicePeering(ctx, cl.Account, cl.Region, r.interfaceOf(s.target), servicePeering(cl)); err != nil {
				return fmt.Errorf("set the replication peering of node %s: %w", s.target, err)
			}
		}
	case opSetGrants:
		return c.cfg.Domain.SetClusterGrants(ctx, cl)
	case opSyncNetwork:
		if err := c.cfg.Network.Sync(ctx); err != nil {
			return fmt.Errorf("realise network: %w", err)
		}
	case opResolveSpec:
		return r.resolveSpec(ctx)
	case opNodes:
		return r.nodes(ctx, s.nodes)
	case opServeConfig:
		return r.serveConfig(ctx)
	case opWriteStatus:
		return r.writeStatus(ctx)
	case opPublishConfig:
		if cs := c.configs.get(r.ref); cs != nil && r.stored != nil {
			conf, err := c.cfg.Domain.DiscoveryConfig(r.stored)
			if err != nil {
				return fmt.Errorf("discovery config: %w", err)
			}
			cs.set(conf)
		}
	case opStopConfig:
		c.configs.stop(r.ref)
	case opDeleteInterface:
		if err := r.deleteInterface(ctx, r.interfaceOf(s.target)); err != nil {
			if s.target == configTarget {
				return fmt.Errorf("delete configuration endpoint interface: %w", err)
			}
			return fmt.Errorf("delete interface of node %s: %w", s.target, err)
		}
	case opStopEngines:
		return r.stopEngines(ctx, s.nodes)
	case opRemoveCluster:
		if err := c.forgetCertificate(r.cl); err != nil {
			return err
		}
		return c.cfg.Domain.RemoveCluster(ctx, r.ref)
	default:
		return fmt.Errorf("unknown plan step %q", s.op)
	}
	return nil
}

// interfaceOf is the interface of a target, as recorded so far.
func (r *run) interfaceOf(target string) string {
	if target == configTarget {
		return r.cl.ConfigInterfaceID
	}
	return r.node(target).InterfaceID
}

func (r *run) node(id string) *elasticache.Node {
	for i := range r.cl.Nodes {
		if r.cl.Nodes[i].ID == id {
			return &r.cl.Nodes[i]
		}
	}
	panic("cachectl: plan names node " + id + " the cluster does not have")
}

// createInterfaces creates the targets' requester-managed interfaces, in
// one EC2 transaction, and records their ids and addresses, before anything
// runs in them. One transaction makes one change of the EC2 model: the
// network controller, which follows every change, realises all of them in
// one pass, rather than a first pass with one interface racing the
// sync-network step with all (two router ruleset loads where one does;
// the create-to-connectable tail of multi-node clusters).
func (r *run) createInterfaces(ctx context.Context, targets []string) error {
	cl := r.cl
	specs := make([]ec2.InterfaceSpec, len(targets))
	for i, target := range targets {
		spec := ec2.InterfaceSpec{Account: cl.Account, Region: cl.Region, GroupIDs: cl.SecurityGroups, Classic: cl.Classic()}
		if target == configTarget {
			spec.SubnetID, spec.AZ = cl.Nodes[0].SubnetID, classicAZ(cl, cl.Nodes[0].AZ)
			spec.Description = "ElastiCache " + cl.ID + " configuration endpoint"
			spec.Tags = map[string]string{"elasticache:cluster": cl.ID, "elasticache:node": "config"}
		} else {
			n := r.node(target)
			spec.SubnetID, spec.AZ = n.SubnetID, classicAZ(cl, n.AZ)
			spec.ServicePeering = servicePeering(cl)
			spec.Description = "ElastiCache " + cl.ID + "-" + n.ID
			spec.Tags = map[string]string{"elasticache:cluster": cl.ID, "elasticache:node": n.ID}
		}
		specs[i] = spec
	}
	ifaces, err := r.c.cfg.EC2.CreateManagedInterfaces(ctx, specs)
	if err != nil {
		if len(targets) == 1 && targets[0] == configTarget {
			return fmt.Errorf("create configuration endpoint interface: %w", err)
		}
		if len(targets) == 1 {
			return fmt.Errorf("create interface for node %s: %w", targets[0], err)
		}
		return fmt.Errorf("create interfaces for %s: %w", strings.Join(targets, ", "), err)
	}
	record := func(c *elasticache.Cluster) {
		for i, target := range targets {
			iface := ifaces[i]
			if target == configTarget {
				c.ConfigInterfaceID, c.ConfigIP = iface.ID, iface.PrivateIP
				continue
			}
			for j := range c.Nodes {
				if c.Nodes[j].ID == target {
					c.Nodes[j].InterfaceID, c.Nodes[j].IP = iface.ID, iface.PrivateIP
				}
			}
		}
	}
	record(cl)
	_, err = r.c.cfg.Domain.UpdateCluster(ctx, r.ref, func(cur *elasticache.Cluster) bool { record(cur); return true })
	return err
}

// borrowInterface records, for the node of a cluster sharing another's
// interface (a serverless cache's second engine), that interface and its
// address.
func (r *run) borrowInterface(ctx context.Context, s step) error {
	if s.iface == "" || s.ip == "" {
		return fmt.Errorf("node %s: the interface of %s is not made yet", s.target, r.cl.InterfaceOf)
	}
	record := func(c *elasticache.Cluster) {
		for j := range c.Nodes {
			if c.Nodes[j].ID == s.target {
				c.Nodes[j].InterfaceID, c.Nodes[j].IP = s.iface, s.ip
			}
		}
	}
	record(r.cl)
	_, err := r.c.cfg.Domain.UpdateCluster(ctx, r.ref, func(cur *elasticache.Cluster) bool { record(cur); return true })
	return err
}

// servicePeering is the service-peering label of a cluster's node
// interfaces: its replication group's, "" outside one.
func servicePeering(cl *elasticache.Cluster) string {
	if cl.ReplicationGroupID == "" {
		return ""
	}
	return "elasticache replication group " + cl.ReplicationGroupID
}

// classicAZ is the zone of a classic cluster's new interface ("" for a VPC
// cluster, whose zone is its subnet's).
func classicAZ(cl *elasticache.Cluster, az string) string {
	if !cl.Classic() {
		return ""
	}
	return az
}

// resolveSpec reads what every node's engine is started with.
func (r *run) resolveSpec(ctx context.Context) error {
	cl := r.cl
	inst, err := r.c.cfg.Catalog.Find(cl.Engine, cl.EngineVersion)
	if err != nil {
		return fmt.Errorf("engine %s %s: %w", cl.Engine, cl.EngineVersion, err)
	}
	values, err := r.c.cfg.Domain.ClusterParameters(ctx, cl)
	if err != nil {
		return err
	}
	nodeMem, err := catalog.NodeTypeMemory(cl.NodeType)
	if err != nil {
		return err
	}
	r.inst, r.values, r.nodeMem = inst, serverlessValues(cl, values), nodeMem
	return nil
}

// nodes converges every node on its own goroutine: a cluster's nodes start,
// stop and reboot in parallel.
func (r *run) nodes(ctx context.Context, plans []nodePlan) error {
	r.results = make([]nodeResult, len(plans))
	errs := make([]error, len(plans))
	var wg sync.WaitGroup
	for i, p := range plans {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.results[i], errs[i] = r.convergeNode(ctx, p)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// convergeNode runs one node's actions.
func (r *run) convergeNode(ctx context.Context, p nodePlan) (nodeResult, error) {
	c, cl := r.c, r.cl
	n := *r.node(p.id) // a copy: the goroutines share cl
	key := EngineNodeID(r.ref, n.ID)
	res := nodeResult{id: n.ID, paramStatus: n.ParamStatus, running: runningSpec(cl)}
	for _, a := range p.actions {
		switch a {
		case actStop:
			c.fronts.drop(key)
			if err := c.cfg.Engines.Remove(ctx, key); err != nil && !errors.Is(err, engine.ErrNodeNotFound) {
				return nodeResult{}, fmt.Errorf("remove node %s: %w", n.ID, err)
			}
			res.removed = true
		case actDeleteInterface:
			if err := r.deleteInterface(ctx, n.InterfaceID); err != nil {
				return nodeResult{}, fmt.Errorf("delete interface of node %s: %w", n.ID, err)
			}
		case actReplace:
			// A replacement node: nothing of the old engine survives.
			if err := c.cfg.Engines.Remove(ctx, key); err != nil && !errors.Is(err, engine.ErrNodeNotFound) {
				return nodeResult{}, fmt.Errorf("replace node %s: %w", n.ID, err)
			}
			res.replaced = true
		case actSetRole:
			if err := c.cfg.Engines.SetRole(ctx, key, r.role); err != nil {
				return nodeResult{}, fmt.Errorf("set the role of node %s: %w", n.ID, err)
			}
		case actStopRespec:
			// A new node type or engine version: restart with the new
			// spec, keeping the data (ElastiCache scales and upgrades
			// Redis OSS and Valkey nodes without losing it).
			if cl.Engine != catalog.Memcached {
				if err := c.cfg.Engines.SaveData(ctx, key); err != nil {
					return nodeResult{}, fmt.Errorf("save the data of node %s before its new spec: %w", n.ID, err)
				}
			}
			if err := c.cfg.Engines.Stop(ctx, key); err != nil {
				return nodeResult{}, fmt.Errorf("stop node %s for its new spec: %w", n.ID, err)
			}
			res.rebooted = true
		case actStart:
			adopted, err := r.startNode(ctx, n)
			if err != nil {
				return nodeResult{}, err
			}
			res.started = true
			if !adopted {
				// A re-adopted process was not restarted: parameters
				// pending a reboot still are.
				res.paramStatus = "in-sync"
			}
		case actSetLive:
			// Start of a running node with another certificate or
			// other AUTH tokens sets them live.
			if _, err := r.startNode(ctx, n); err != nil {
				return nodeResult{}, fmt.Errorf("set the certificate and AUTH tokens of node %s: %w", n.ID, err)
			}
		case actReboot:
			if err := c.cfg.Engines.Reboot(ctx, key); err != nil {
				return nodeResult{}, fmt.Errorf("reboot node %s: %w", n.ID, err)
			}
			res.rebooted, res.paramStatus = true, "in-sync"
		case actApplyParameters:
			pending, err := c.cfg.Engines.ApplyParameters(ctx, key, r.values)
			if err != nil {
				return nodeResult{}, fmt.Errorf("apply parameters to node %s: %w", n.ID, err)
			}
			res.paramStatus = "in-sync"
			if len(pending) > 0 {
				res.paramStatus = "pending-reboot"
			}
		}
	}
	return res, nil
}

// startNode launches the node, or re-adopts its process after a daemon
// restart (adopted), inside the node's interface.
func (r *run) startNode(ctx context.Context, n elasticache.Node) (adopted bool, err error) {
	c := r.c
	bindIP, port, err := c.cfg.Network.Bind(ctx, n.InterfaceID, n.IP, r.cl.Port)
	if err != nil {
		return false, fmt.Errorf("bind node %s: %w", n.ID, err)
	}
	spec := engine.NodeSpec{
		NodeID: EngineNodeID(r.ref, n.ID), Engine: r.inst, BindIP: bindIP, Port: port,
		MaxMemory:  maxMemory(r.cl, r.nodeMem, r.values),
		Parameters: r.values,
		Role:       r.role,
		Seed:       c.seed(r.cl),
		Launcher:   c.cfg.Network.Launcher(n.InterfaceID),
		Dial:       c.cfg.Network.Dialer(n.InterfaceID),
		TLS:        r.tls,
		AuthTokens: r.cl.AuthTokens,
		Users:      aclUsers(r.cl, c.cfg.IAMSecret),
	}
	// TransitEncryptionMode preferred or IAM authentication: the engine
	// listens with TLS on a port of its own and the node's front serves
	// the cache port (front.go, iamfront.go); the front leaves the port
	// before an engine leaving them takes it.
	fronted := r.tls != nil && frontMode(r.cl)
	if f := c.fronts.get(spec.NodeID); f != nil && !fronted {
		c.fronts.stop(spec.NodeID)
	}
	if fronted {
		ip, p, err := c.cfg.Network.Bind(ctx, n.InterfaceID, n.IP, splitPorts(r.cl.Port).TLS)
		if err != nil {
			return false, fmt.Errorf("bind node %s: %w", n.ID, err)
		}
		if ip != bindIP {
			return false, fmt.Errorf("bind node %s: %w", n.ID, errSplitBind)
		}
		spec.Split = &engine.Split{TLS: p}
	}
	if r.cl.ReaderPort != 0 {
		// The second listener is bound like the first: in the loopback
		// mode, a host port of its own at the same host address.
		ip2, port2, err := c.cfg.Network.Bind(ctx, n.InterfaceID, n.IP, r.cl.ReaderPort)
		if err != nil {
			return false, fmt.Errorf("bind node %s: %w", n.ID, err)
		}
		if ip2 != bindIP {
			return false, fmt.Errorf("bind node %s: port %d bound at %s, port %d at %s", n.ID, r.cl.Port, bindIP, r.cl.ReaderPort, ip2)
		}
		spec.SecondPort = port2
	}
	if r.values["cluster-enabled"] == "yes" && bindIP == n.IP {
		// A cluster-mode node listening at its private address (the
		// namespaces network mode) announces its name, as ElastiCache's
		// do with TLS: cluster clients follow it to the node inside the
		// VPCs and, the cache published, from the host, where private
		// addresses do not lead. In the loopback mode the host address it
		// binds is what clients follow. A serverless cache's engines
		// (two ports of one address) announce the cache's one name.
		if spec.AnnounceHostname, err = r.nodeName(n.ID); err != nil {
			return false, err
		}
	}
	st, err := c.cfg.Engines.Start(ctx, spec)
	if err != nil {
		return false, fmt.Errorf("start node %s: %w", n.ID, err)
	}
	if st.State != engine.StateRunning {
		// Known to the supervisor but not up (restarting after a crash):
		// not available yet; try again shortly.
		return false, fmt.Errorf("node %s is %s", n.ID, st.State)
	}
	if fronted {
		if err := r.serveFront(ctx, n, bindIP, port, st.Socket()); err != nil {
			return false, err
		}
	}
	return st.Adopted, nil
}

// nodeName is the DNS name of node id of the cluster.
func (r *run) nodeName(id string) (string, error) {
	names, err := r.c.cfg.Domain.Names(r.cl)
	if err != nil {
		return "", fmt.Errorf("name node %s: %w", id, err)
	}
	for _, n := range names {
		if n.Node == id {
			return n.Name, nil
		}
	}
	return "", fmt.Errorf("name node %s: it has no address yet", id)
}

// serveConfig runs the cluster's configuration endpoint responder inside
// the endpoint's interface.
func (r *run) serveConfig(ctx context.Context) error {
	c, cl := r.c, r.cl
	ip, port, err := c.cfg.Network.Bind(ctx, cl.ConfigInterfaceID, cl.ConfigIP, cl.Port)
	if err != nil {
		return fmt.Errorf("bind the configuration endpoint: %w", err)
	}
	if c.configs.get(r.ref) != nil {
		return nil
	}
	ln, err := c.cfg.Network.Listen(ctx, cl.ConfigInterfaceID, "tcp", net.JoinHostPort(ip, strconv.Itoa(port)))
	if err != nil {
		return fmt.Errorf("listen on the configuration endpoint: %w", err)
	}
	conf, err := c.cfg.Domain.DiscoveryConfig(cl)
	if err != nil {
		ln.Close()
		return fmt.Errorf("discovery config: %w", err)
	}
	s, err := newConfigServer(ln, r.inst.Version, r.tls, c.log)
	if err != nil {
		ln.Close()
		return err
	}
	s.set(conf)
	c.configs.put(r.ref, s)
	return nil
}

// deleteInterface releases an interface: what the realiser kept for it,
// then the interface itself.
func (r *run) deleteInterface(ctx context.Context, id string) error {
	if err := r.c.cfg.Network.Release(ctx, id); err != nil {
		return err
	}
	return r.c.cfg.EC2.DeleteManagedInterface(ctx, r.cl.Account, r.cl.Region, id)
}

// stopEngines stops every node's engine in parallel and deletes its data.
func (r *run) stopEngines(ctx context.Context, plans []nodePlan) error {
	errs := make([]error, len(plans))
	var wg sync.WaitGroup
	for i, p := range plans {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.c.fronts.drop(EngineNodeID(r.ref, p.id))
			if err := r.c.cfg.Engines.Remove(ctx, EngineNodeID(r.ref, p.id)); err != nil && !errors.Is(err, engine.ErrNodeNotFound) {
				errs[i] = fmt.Errorf("remove node %s: %w", p.id, err)
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// seed is the snapshot a cluster created from one starts with: the RDB
// file in the snapshot store; "" for none.
func (c *Controller) seed(cl *elasticache.Cluster) string {
	if cl.RestoreFile == "" || c.cfg.SnapshotDir == "" {
		return ""
	}
	return filepath.Join(c.cfg.SnapshotDir, cl.RestoreFile)
}
