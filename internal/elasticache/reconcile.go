package elasticache

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cachalot-dev/cachalot/internal/auth"
	"github.com/cachalot-dev/cachalot/internal/catalog"
	"github.com/cachalot-dev/cachalot/internal/ec2"
	"github.com/cachalot-dev/cachalot/internal/engine"
	"github.com/cachalot-dev/cachalot/internal/store"
)

// Engines is what the reconciler needs of the engine supervisor.
type Engines interface {
	Start(ctx context.Context, spec engine.NodeSpec) (engine.NodeStatus, error)
	Stop(ctx context.Context, nodeID string) error
	Reboot(ctx context.Context, nodeID string) error
	ApplyParameters(ctx context.Context, nodeID string, changes map[string]string) (pending []string, err error)
	Status(nodeID string) (engine.NodeStatus, bool)
}

// NetworkRealizer brings the kernel in line with the EC2 model now (the
// netplane controller), and runs node processes inside an interface's
// network.
type NetworkRealizer interface {
	Sync(ctx context.Context) error
	// Launcher and Dialer run and reach a process inside the interface's
	// network; nil when the network is not realised (nodes cannot start).
	Launcher(interfaceID string) engine.Launcher
	Dialer(interfaceID string) engine.DialFunc
	// Loopback reports the loopback network mode: nodes then listen on
	// 127.0.0.1 with a port of their own instead of their VPC address.
	Loopback() bool
	// Listen opens a listener inside the interface's network.
	Listen(ctx context.Context, interfaceID, network, addr string) (net.Listener, error)
}

// Controller converges cache clusters: it creates their nodes' network
// interfaces, has the network realised, runs one engine per node inside
// the node's interface, applies parameters and reboots, removes what is
// deleted, and writes statuses and events back to the store. It
// implements reconcile.Controller.
type Controller struct {
	svc     *Service
	network Network
	realize NetworkRealizer
	engines Engines
	log     *slog.Logger
	configs configServers

	mu sync.Mutex // serialises Reconcile runs
}

// Close stops the configuration endpoints served by this daemon.
func (c *Controller) Close() { c.configs.Close() }

// NewController returns the cluster controller.
func NewController(svc *Service, realize NetworkRealizer, engines Engines) *Controller {
	return &Controller{svc: svc, network: svc.cfg.Network, realize: realize, engines: engines, log: svc.cfg.Logger}
}

// Name implements reconcile.Controller.
func (c *Controller) Name() string { return "elasticache-clusters" }

// Watches implements reconcile.Controller: cluster, parameter group and
// cache security group keys.
func (c *Controller) Watches(key string) bool {
	return strings.HasPrefix(key, ClusterPrefix) && (strings.Contains(key, "/cluster/") || strings.Contains(key, "/parametergroup/") ||
		strings.Contains(key, "/cachesecuritygroup/"))
}

// EngineNodeID names a node for the supervisor: unique per installation.
func EngineNodeID(account, region, cluster, node string) string {
	return account + "." + region + "." + cluster + "." + node
}

// Reconcile implements reconcile.Controller. It looks at every cluster; a
// failure of one does not stop the others.
func (c *Controller) Reconcile(ctx context.Context, _ []string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var clusters []*Cluster
	err := c.svc.st.View(ctx, func(tx store.Tx) error {
		return store.ScanJSON(tx, ClusterPrefix, func(key string, cl *Cluster) error {
			if strings.Contains(key, "/cluster/") {
				clusters = append(clusters, cl)
			}
			return nil
		})
	})
	if err != nil {
		return err
	}
	var errs []error
	for _, cl := range clusters {
		if err := c.reconcileCluster(ctx, cl); err != nil {
			errs = append(errs, fmt.Errorf("cluster %s/%s/%s: %w", cl.Account, cl.Region, cl.ID, err))
			c.recordError(ctx, cl, err)
		}
	}
	return errors.Join(errs...)
}

func (c *Controller) recordError(ctx context.Context, cl *Cluster, err error) {
	c.update(ctx, cl, func(cur *Cluster) bool {
		msg := err.Error()
		if cur.LastError == msg {
			return false
		}
		cur.LastError = msg
		return true
	})
}

// update applies fn to the current stored cluster and writes it if fn says
// it changed. It returns false if the cluster is gone.
func (c *Controller) update(ctx context.Context, cl *Cluster, fn func(cur *Cluster) bool) (bool, error) {
	found := false
	err := c.svc.st.Update(ctx, func(tx store.Tx) error {
		var cur Cluster
		if err := store.GetJSON(tx, clusterKey(cl.Account, cl.Region, cl.ID), &cur); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return nil
			}
			return err
		}
		found = true
		if !fn(&cur) {
			return nil
		}
		return putCluster(tx, &cur)
	})
	return found, err
}

func (c *Controller) event(ctx context.Context, cl *Cluster, msg string) {
	err := c.svc.st.Update(ctx, func(tx store.Tx) error {
		return c.svc.putEvent(tx, cl.Account, cl.Region, Event{SourceID: cl.ID, SourceType: "cache-cluster", Message: msg})
	})
	if err != nil {
		c.log.Warn("record event", "cluster", cl.ID, "err", err)
	}
}

func (c *Controller) reconcileCluster(ctx context.Context, cl *Cluster) error {
	if cl.Status == StatusDeleting {
		return c.deleteCluster(ctx, cl)
	}
	if cl.Status == StatusAvailable && cl.ObservedGeneration == cl.Generation && c.allRunning(cl) &&
		(cl.ConfigInterfaceID == "" || c.configs.get(clusterKey(cl.Account, cl.Region, cl.ID)) != nil) {
		// EC2-Classic: the authorizations of the cache security groups
		// change without the cluster changing.
		if cl.classic() {
			if err := c.svc.setClusterGrants(ctx, cl); err != nil {
				return err
			}
			if err := c.realize.Sync(ctx); err != nil {
				return fmt.Errorf("realise network: %w", err)
			}
		}
		return nil
	}
	gen := cl.Generation
	// 1. Network interfaces for new nodes; security groups of existing ones.
	for i := range cl.Nodes {
		n := &cl.Nodes[i]
		if n.Status == StatusDeleting {
			continue
		}
		if n.InterfaceID == "" {
			iface, err := c.network.CreateManagedInterface(ctx, ec2.InterfaceSpec{
				Account: cl.Account, Region: cl.Region, SubnetID: n.SubnetID, GroupIDs: cl.SecurityGroups,
				Classic: cl.classic(), AZ: classicAZ(cl, n.AZ),
				Description: "ElastiCache " + cl.ID + "-" + n.ID,
				Tags:        map[string]string{"elasticache:cluster": cl.ID, "elasticache:node": n.ID},
			})
			if err != nil {
				return fmt.Errorf("create interface for node %s: %w", n.ID, err)
			}
			n.InterfaceID, n.IP = iface.ID, iface.PrivateIP
			id, ip := n.ID, iface.PrivateIP
			if _, err := c.update(ctx, cl, func(cur *Cluster) bool {
				for j := range cur.Nodes {
					if cur.Nodes[j].ID == id {
						cur.Nodes[j].InterfaceID, cur.Nodes[j].IP = iface.ID, ip
					}
				}
				return true
			}); err != nil {
				return err
			}
		} else if !cl.classic() {
			if err := c.network.SetInterfaceGroups(ctx, cl.Account, cl.Region, n.InterfaceID, cl.SecurityGroups); err != nil {
				return fmt.Errorf("set security groups of node %s: %w", n.ID, err)
			}
		}
	}
	if cl.Engine == catalog.Memcached && len(cl.Nodes) > 0 {
		if cl.ConfigInterfaceID == "" {
			iface, err := c.network.CreateManagedInterface(ctx, ec2.InterfaceSpec{
				Account: cl.Account, Region: cl.Region, SubnetID: cl.Nodes[0].SubnetID, GroupIDs: cl.SecurityGroups,
				Classic: cl.classic(), AZ: classicAZ(cl, cl.Nodes[0].AZ),
				Description: "ElastiCache " + cl.ID + " configuration endpoint",
				Tags:        map[string]string{"elasticache:cluster": cl.ID, "elasticache:node": "config"},
			})
			if err != nil {
				return fmt.Errorf("create configuration endpoint interface: %w", err)
			}
			cl.ConfigInterfaceID, cl.ConfigIP = iface.ID, iface.PrivateIP
			if _, err := c.update(ctx, cl, func(cur *Cluster) bool {
				cur.ConfigInterfaceID, cur.ConfigIP = iface.ID, iface.PrivateIP
				return true
			}); err != nil {
				return err
			}
		} else if !cl.classic() {
			if err := c.network.SetInterfaceGroups(ctx, cl.Account, cl.Region, cl.ConfigInterfaceID, cl.SecurityGroups); err != nil {
				return fmt.Errorf("set security groups of the configuration endpoint: %w", err)
			}
		}
	}
	// EC2-Classic: new interfaces get their grants before the network is realised.
	if err := c.svc.setClusterGrants(ctx, cl); err != nil {
		return err
	}
	// 2. The kernel follows the model.
	if err := c.realize.Sync(ctx); err != nil {
		return fmt.Errorf("realise network: %w", err)
	}
	// 3. Engines.
	inst, err := c.svc.cfg.Engines.Find(cl.Engine, cl.EngineVersion)
	if err != nil {
		return fmt.Errorf("engine %s %s: %w", cl.Engine, cl.EngineVersion, err)
	}
	values, err := c.paramValues(ctx, cl)
	if err != nil {
		return err
	}
	nodeMem, err := catalog.NodeTypeMemory(cl.NodeType)
	if err != nil {
		return err
	}
	type nodeResult struct {
		id, status, paramStatus, running string
		rebooted, started                bool
	}
	// Each node converges on its own goroutine: a cluster's nodes start,
	// stop and reboot in parallel.
	nodeStep := func(n *Node) (nodeResult, error) {
		key := EngineNodeID(cl.Account, cl.Region, cl.ID, n.ID)
		if n.Status == StatusDeleting {
			if err := c.engines.Stop(ctx, key); err != nil && !errors.Is(err, engine.ErrNodeNotFound) {
				return nodeResult{}, fmt.Errorf("stop node %s: %w", n.ID, err)
			}
			if n.InterfaceID != "" {
				if err := c.network.DeleteManagedInterface(ctx, cl.Account, cl.Region, n.InterfaceID); err != nil {
					return nodeResult{}, fmt.Errorf("delete interface of node %s: %w", n.ID, err)
				}
			}
			return nodeResult{id: n.ID, status: "removed"}, nil
		}
		launch, dial := c.realize.Launcher(n.InterfaceID), c.realize.Dialer(n.InterfaceID)
		bindIP, port := n.IP, cl.Port
		if c.realize.Loopback() {
			if n.HostPort == 0 {
				p, err := freeLoopbackPort()
				if err != nil {
					return nodeResult{}, err
				}
				n.HostPort = p
				id := n.ID
				if _, err := c.update(ctx, cl, func(cur *Cluster) bool {
					for j := range cur.Nodes {
						if cur.Nodes[j].ID == id {
							cur.Nodes[j].HostPort = p
						}
					}
					return true
				}); err != nil {
					return nodeResult{}, err
				}
			}
			bindIP, port = "127.0.0.1", n.HostPort
		}
		spec := engine.NodeSpec{
			NodeID: key, Engine: inst, BindIP: bindIP, Port: port,
			MaxMemory:  catalog.EffectiveMaxMemory(nodeMem, values),
			Parameters: values,
			Launcher:   launch,
			Dial:       dial,
		}
		r := nodeResult{id: n.ID, status: StatusAvailable, paramStatus: n.ParamStatus, running: cl.NodeType + "/" + cl.EngineVersion}
		st, ok := c.engines.Status(key)
		running := ok && st.State == engine.StateRunning
		if ok && n.Running != "" && n.Running != r.running {
			// A new node type or engine version: restart with the new spec.
			if err := c.engines.Stop(ctx, key); err != nil {
				return nodeResult{}, fmt.Errorf("stop node %s for its new spec: %w", n.ID, err)
			}
			running = false
			r.rebooted = true
		}
		if !running {
			// Start launches the node, or re-adopts its process after a
			// daemon restart; a requested reboot still follows.
			st, err := c.engines.Start(ctx, spec)
			if err != nil {
				return nodeResult{}, fmt.Errorf("start node %s: %w", n.ID, err)
			}
			if st.State != engine.StateRunning {
				// Known to the supervisor but not up (restarting after a
				// crash): not available yet; try again shortly.
				return nodeResult{}, fmt.Errorf("node %s is %s", n.ID, st.State)
			}
			r.started = true
			r.paramStatus = "in-sync"
		}
		switch {
		case n.RebootRequested:
			if err := c.engines.Reboot(ctx, key); err != nil {
				return nodeResult{}, fmt.Errorf("reboot node %s: %w", n.ID, err)
			}
			r.rebooted, r.paramStatus = true, "in-sync"
		case cl.ParamStatus == "applying":
			pending, err := c.engines.ApplyParameters(ctx, key, values)
			if err != nil {
				return nodeResult{}, fmt.Errorf("apply parameters to node %s: %w", n.ID, err)
			}
			r.paramStatus = "in-sync"
			if len(pending) > 0 {
				r.paramStatus = "pending-reboot"
			}
		}
		return r, nil
	}
	results := make([]nodeResult, len(cl.Nodes))
	errs := make([]error, len(cl.Nodes))
	var wg sync.WaitGroup
	for i := range cl.Nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = nodeStep(&cl.Nodes[i])
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if cl.ConfigInterfaceID != "" {
		if c.realize.Loopback() && cl.ConfigHostPort == 0 {
			p, err := freeLoopbackPort()
			if err != nil {
				return err
			}
			cl.ConfigHostPort = p
			if _, err := c.update(ctx, cl, func(cur *Cluster) bool { cur.ConfigHostPort = p; return true }); err != nil {
				return err
			}
		}
		if err := c.ensureConfigServer(ctx, cl, inst.Version); err != nil {
			return err
		}
	}
	// 4. Status back to the store, unless the desired state moved on.
	now := c.svc.cfg.Now().UTC()
	var becameAvailable, wasCreating bool
	var added []string
	_, err = c.update(ctx, cl, func(cur *Cluster) bool {
		nodesChanged := false
		defer func() {
			if nodesChanged {
				cur.ConfigVersion++ // one auto-discovery version per node list change
			}
		}()
		for _, r := range results {
			j := slices.IndexFunc(cur.Nodes, func(n Node) bool { return n.ID == r.id })
			if j < 0 {
				continue
			}
			if r.status == "removed" {
				nodesChanged = true
				cur.Nodes = slices.Delete(cur.Nodes, j, j+1)
				cur.RemoveNodes = slices.DeleteFunc(cur.RemoveNodes, func(id string) bool { return id == r.id })
				continue
			}
			n := &cur.Nodes[j]
			if n.Status == StatusCreating && cur.Status != StatusCreating {
				added = append(added, n.ID+" in availability zone "+n.AZ)
			}
			if n.Status == StatusCreating {
				nodesChanged = true
			}
			n.Status = r.status
			n.ParamStatus = r.paramStatus
			n.Running = r.running
			if r.rebooted || r.started {
				n.RebootRequested = false
			}
			if n.CreatedAt.IsZero() {
				n.CreatedAt = now
			}
		}
		if cur.Generation != gen {
			return true // the next run converges the new desired state
		}
		wasCreating = cur.Status == StatusCreating
		becameAvailable = cur.Status != StatusAvailable
		cur.Status = StatusAvailable
		cur.ObservedGeneration = gen
		cur.LastError = ""
		cur.ParamStatus = "in-sync"
		for _, n := range cur.Nodes {
			if n.ParamStatus == "pending-reboot" {
				cur.ParamStatus = "pending-reboot"
			}
		}
		return true
	})
	if err != nil {
		return err
	}
	if cs := c.configs.get(clusterKey(cl.Account, cl.Region, cl.ID)); cs != nil {
		var cur Cluster
		if err := c.svc.st.View(ctx, func(tx store.Tx) error { return store.GetJSON(tx, clusterKey(cl.Account, cl.Region, cl.ID), &cur) }); err == nil {
			cs.set(clusterConfig(&cur))
		}
	}
	for _, a := range added {
		c.event(ctx, cl, "Added cache node "+a)
	}
	for _, r := range results {
		if r.rebooted {
			c.event(ctx, cl, "Cache node "+r.id+" restarted")
		}
		if r.status == "removed" {
			c.event(ctx, cl, "Removed cache node "+r.id)
		}
	}
	switch {
	case becameAvailable && wasCreating:
		c.event(ctx, cl, "Cache cluster created")
	case becameAvailable && cl.Status == StatusModifying:
		c.event(ctx, cl, "Cache cluster modified")
	}
	return nil
}

// allRunning reports whether every node's engine is running.
func (c *Controller) allRunning(cl *Cluster) bool {
	for _, n := range cl.Nodes {
		st, ok := c.engines.Status(EngineNodeID(cl.Account, cl.Region, cl.ID, n.ID))
		if !ok || st.State != engine.StateRunning {
			return false
		}
	}
	return true
}

// paramValues are the cluster's parameter group values that differ from the
// family defaults.
func (c *Controller) paramValues(ctx context.Context, cl *Cluster) (map[string]string, error) {
	var g *ParameterGroup
	err := c.svc.st.View(ctx, func(tx store.Tx) error {
		var err error
		g, err = getParamGroup(tx, auth.Scope{AccountID: cl.Account, Region: cl.Region}, cl.ParameterGroup)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("parameter group %s: %w", cl.ParameterGroup, err)
	}
	return maps.Clone(g.Values), nil
}

// ensureConfigServer runs the cluster's configuration endpoint responder.
func (c *Controller) ensureConfigServer(ctx context.Context, cl *Cluster, version string) error {
	key := clusterKey(cl.Account, cl.Region, cl.ID)
	if c.configs.get(key) != nil {
		return nil
	}
	addr := net.JoinHostPort(cl.ConfigIP, fmt.Sprint(cl.Port))
	if c.realize.Loopback() {
		addr = net.JoinHostPort("127.0.0.1", fmt.Sprint(cl.ConfigHostPort))
	}
	ln, err := c.realize.Listen(ctx, cl.ConfigInterfaceID, "tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on the configuration endpoint: %w", err)
	}
	s := newConfigServer(ln, version, c.log)
	s.set(clusterConfig(cl))
	c.configs.put(key, s)
	return nil
}

func (c *Controller) deleteCluster(ctx context.Context, cl *Cluster) error {
	c.configs.stop(clusterKey(cl.Account, cl.Region, cl.ID))
	if cl.ConfigInterfaceID != "" {
		if err := c.network.DeleteManagedInterface(ctx, cl.Account, cl.Region, cl.ConfigInterfaceID); err != nil {
			return fmt.Errorf("delete configuration endpoint interface: %w", err)
		}
	}
	// Engines stop in parallel (memcached takes ~0.5 s to exit).
	errs := make([]error, len(cl.Nodes))
	var wg sync.WaitGroup
	for i, n := range cl.Nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := c.engines.Stop(ctx, EngineNodeID(cl.Account, cl.Region, cl.ID, n.ID)); err != nil && !errors.Is(err, engine.ErrNodeNotFound) {
				errs[i] = fmt.Errorf("stop node %s: %w", n.ID, err)
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	for _, n := range cl.Nodes {
		if n.InterfaceID != "" {
			if err := c.network.DeleteManagedInterface(ctx, cl.Account, cl.Region, n.InterfaceID); err != nil {
				return fmt.Errorf("delete interface of node %s: %w", n.ID, err)
			}
		}
	}
	if err := c.realize.Sync(ctx); err != nil {
		return fmt.Errorf("realise network: %w", err)
	}
	return c.svc.st.Update(ctx, func(tx store.Tx) error {
		if err := tx.Delete(clusterKey(cl.Account, cl.Region, cl.ID)); err != nil {
			return err
		}
		return c.svc.putEvent(tx, cl.Account, cl.Region, Event{SourceID: cl.ID, SourceType: "cache-cluster", Message: "Cache cluster deleted"})
	})
}

// NodeEvent records an engine supervisor event (crash, restart) as an
// ElastiCache event of the node's cluster.
func (s *Service) NodeEvent(ctx context.Context, nodeID string, t time.Time, msg string) {
	parts := strings.Split(nodeID, ".")
	if len(parts) < 4 {
		return
	}
	account, region, node := parts[0], strings.Join(parts[1:len(parts)-2], "."), parts[len(parts)-1]
	cluster := parts[len(parts)-2]
	err := s.st.Update(ctx, func(tx store.Tx) error {
		return s.putEvent(tx, account, region, Event{Time: t, SourceID: cluster, SourceType: "cache-cluster", Message: strings.ReplaceAll(msg, "{node}", node)})
	})
	if err != nil {
		s.cfg.Logger.Warn("record node event", "node", nodeID, "err", err)
	}
}

// freeLoopbackPort finds a free TCP port on 127.0.0.1 (loopback mode).
func freeLoopbackPort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a loopback port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
