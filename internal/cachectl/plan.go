package cachectl

import (
	"fmt"
	"strings"

	"github.com/cachalot-dev/cachalot/internal/catalog"
	"github.com/cachalot-dev/cachalot/internal/elasticache"
	"github.com/cachalot-dev/cachalot/internal/engine"
)

// observed is what a cluster's plan depends on besides its stored record.
type observed struct {
	// engines is the supervisor's state of each node, by node id; a node
	// the supervisor does not know (never started, or not re-adopted
	// since a daemon restart) is absent.
	engines map[string]engine.State
	// serving: this daemon serves the cluster's configuration endpoint.
	serving bool
	// roles is the role the supervisor has given each node's engine, by
	// node id; role is the one the cluster's nodes should have: the zero
	// Role outside a replication group, else its primary's or a replica's
	// of the primary it follows (role.go).
	roles map[string]engine.Role
	role  engine.Role
	// rolls: the cluster is the primary of a replication group with
	// replicas, so a new node type or engine version reaches it by a
	// failover to an updated replica, not by a restart (rolling.go).
	rolls bool
	// tls is what the cluster's engines run with (tls.go), nil without
	// TLS; certs is the TLS.ID each node's engine was given, by node id.
	tls   *engine.TLS
	certs map[string]string
	// split: the cluster's nodes are in TransitEncryptionMode preferred
	// (front.go); splits says which engines listen split, fronts which
	// nodes' fronts run, by node id.
	split          bool
	splits, fronts map[string]bool
	// iam: the nodes are served by IAM fronts (iamfront.go), with split
	// engines without a plaintext port; tlsOnly says which engines listen
	// so, iamFronts which nodes' IAM fronts run. iamSecret derives IAM
	// users' passwords.
	iam                bool
	tlsOnly, iamFronts map[string]bool
	iamSecret          []byte
	// auths is the engine.AuthID each node's engine was given, by node
	// id (the cluster's AuthTokens: want).
	auths map[string]string
	// borrow is the node whose interface the cluster's one node shares
	// (Cluster.InterfaceOf: a serverless cache's second engine); nil when
	// that node has no interface yet.
	borrow *elasticache.Node
}

// op is what a step does; the steps of a plan run in order.
type op string

const (
	opCreateInterface op = "create-interface" // for target, then record its id and address
	opBorrowInterface op = "borrow-interface" // target shares the interface of Cluster.InterfaceOf's node
	opSetGroups       op = "set-groups"       // target's interface gets the cluster's VPC security groups
	opSetGrants       op = "set-grants"       // EC2-Classic: every interface gets the cache security groups' grants
	opSyncNetwork     op = "sync-network"     // the kernel follows the EC2 model, now
	opResolveSpec     op = "resolve-spec"     // the engine binary, parameter values and memory of the nodes
	opNodes           op = "nodes"            // every node converges on its own goroutine (nodes)
	opServeConfig     op = "serve-config"     // the configuration endpoint listens
	opWriteStatus     op = "write-status"     // node results and cluster status back to the domain, then events
	opPublishConfig   op = "publish-config"   // the configuration endpoint answers with the stored nodes
	opStopConfig      op = "stop-config"      // the configuration endpoint stops listening
	opDeleteInterface op = "delete-interface" // target's interface is released (and what Bind kept for it)
	opStopEngines     op = "stop-engines"     // every node's engine stops, in parallel (nodes)
	opRemoveCluster   op = "remove-cluster"   // the deleted cluster leaves the domain
)

// configTarget is the target of a step on the configuration endpoint's
// interface; other targets are node ids.
const configTarget = "config"

// step is one step of a plan.
type step struct {
	op     op
	target string     // a node id, configTarget, or ""
	nodes  []nodePlan // opNodes and opStopEngines
	// iface and ip: the interface opBorrowInterface records ("" when the
	// owner has none yet: the step fails and the run is retried).
	iface, ip string
}

// action is one thing done to a node, in order, on the node's goroutine.
type action string

const (
	actStopRespec      action = "stop-for-new-spec" // a new node type or engine version: stop, then start
	actStart           action = "start"             // start, or re-adopt after a daemon restart
	actReboot          action = "reboot"            // RebootCacheCluster
	actApplyParameters action = "apply-parameters"  // the parameter group changed
	actStop            action = "stop"              // the node is being removed
	actDeleteInterface action = "delete-interface"  // … and its interface released
	actReplace         action = "replace"           // the node's engine and data are removed (a failed primary), then it starts anew
	actSetRole         action = "set-role"          // the engine takes the node's role in its replication group
	actSetLive         action = "set-live"          // the engine takes its new certificate or AUTH tokens, live
)

// nodePlan is what happens to one node.
type nodePlan struct {
	id      string
	actions []action
}

func (s step) String() string {
	out := string(s.op)
	if s.target != "" {
		out += " " + s.target
	}
	for _, n := range s.nodes {
		out += " " + n.id
		for i, a := range n.actions {
			sep := ","
			if i == 0 {
				sep = ":"
			}
			out += sep + string(a)
		}
	}
	return out
}

func (n nodePlan) has(a action) bool {
	for _, x := range n.actions {
		if x == a {
			return true
		}
	}
	return false
}

// plan computes, purely, the steps that converge cl from what is observed:
// the deletion of a deleted cluster; nothing (or, in EC2-Classic, the
// grants) for a converged one; otherwise interfaces first, then the
// network, then the engines, then the configuration endpoint and status.
func plan(cl *elasticache.Cluster, obs observed) []step {
	if cl.Status == elasticache.StatusDeleting {
		return planDelete(cl, obs)
	}
	if held(cl, obs) {
		// The group's primary died with automatic failover on: the group
		// controller promotes a replica, or has it replaced in place.
		return nil
	}
	if awaitsRoll(cl, obs) {
		// The group's primary keeps serving with its old spec until the
		// group controller fails it over to an updated replica.
		return nil
	}
	if converged(cl, obs) {
		if cl.Classic() {
			// The authorizations of the cache security groups change
			// without the cluster changing.
			return []step{{op: opSetGrants}, {op: opSyncNetwork}}
		}
		return nil
	}
	var steps []step
	for _, n := range cl.Nodes {
		switch {
		case n.Status == elasticache.StatusDeleting:
		case n.InterfaceID == "" && cl.InterfaceOf != "":
			s := step{op: opBorrowInterface, target: n.ID}
			if obs.borrow != nil {
				s.iface, s.ip = obs.borrow.InterfaceID, obs.borrow.IP
			}
			steps = append(steps, s)
		case n.InterfaceID == "":
			steps = append(steps, step{op: opCreateInterface, target: n.ID})
		case !cl.Classic():
			steps = append(steps, step{op: opSetGroups, target: n.ID})
		}
	}
	configEndpoint := hasConfigEndpoint(cl)
	switch {
	case !configEndpoint:
	case cl.ConfigInterfaceID == "":
		steps = append(steps, step{op: opCreateInterface, target: configTarget})
	case !cl.Classic():
		steps = append(steps, step{op: opSetGroups, target: configTarget})
	}
	if cl.Classic() {
		// New interfaces get their grants before the network is realised.
		steps = append(steps, step{op: opSetGrants})
	}
	steps = append(steps, step{op: opSyncNetwork}, step{op: opResolveSpec})
	nodes := step{op: opNodes}
	for _, n := range cl.Nodes {
		nodes.nodes = append(nodes.nodes, planNode(cl, n, obs))
	}
	steps = append(steps, nodes)
	if configEndpoint && !obs.serving {
		steps = append(steps, step{op: opServeConfig})
	}
	steps = append(steps, step{op: opWriteStatus})
	if configEndpoint {
		steps = append(steps, step{op: opPublishConfig})
	}
	return steps
}

// converged reports whether the cluster is as desired: available at the
// generation it asks for, every engine running, its configuration endpoint
// served.
func converged(cl *elasticache.Cluster, obs observed) bool {
	if cl.Status != elasticache.StatusAvailable || cl.ObservedGeneration != cl.Generation {
		return false
	}
	for _, n := range cl.Nodes {
		if obs.engines[n.ID] != engine.StateRunning || obs.roles[n.ID] != obs.role || n.Replace || !liveInSync(cl, n, obs) {
			return false
		}
	}
	return cl.ConfigInterfaceID == "" || obs.serving
}

// held reports whether a node of the cluster is held on crash: its engine
// failed, its role holds it, and no replacement is asked for.
func held(cl *elasticache.Cluster, obs observed) bool {
	if !obs.role.HoldOnCrash {
		return false
	}
	for _, n := range cl.Nodes {
		if obs.engines[n.ID] == engine.StateFailed && !n.Replace {
			return true
		}
	}
	return false
}

// hasConfigEndpoint: a Memcached cluster with nodes has a configuration
// endpoint (made on its first convergence), but for a serverless Memcached
// cache's member: its clients connect to the cache's one endpoint.
func hasConfigEndpoint(cl *elasticache.Cluster) bool {
	return cl.ConfigInterfaceID != "" || cl.Engine == catalog.Memcached && len(cl.Nodes) > 0 && cl.ServerlessCache == ""
}

// planNode is what converges one node: a removed node stops and releases
// its interface; a node whose engine was started with another node type or
// version stops first; a node not running starts (or is re-adopted); then a
// requested reboot, or new parameter values.
func planNode(cl *elasticache.Cluster, n elasticache.Node, obs observed) nodePlan {
	p := nodePlan{id: n.ID}
	if n.Status == elasticache.StatusDeleting {
		p.actions = append(p.actions, actStop)
		if n.InterfaceID != "" {
			p.actions = append(p.actions, actDeleteInterface)
		}
		return p
	}
	if n.Replace {
		p.actions = append(p.actions, actReplace, actStart)
		return p
	}
	state, known := obs.engines[n.ID]
	if known && state == engine.StateFailed {
		// Held on crash, and its role no longer holds it (held() waits
		// otherwise): the new role relaunches it.
		return nodePlan{id: n.ID, actions: []action{actSetRole}}
	}
	running := known && state == engine.StateRunning
	respec := known && n.Running != "" && n.Running != runningSpec(cl)
	if !known && clusterModeOnly(cl, n) {
		// After a restart of the service, before the supervisor knows the
		// node: a process still running is the one started without
		// cluster mode (adoption does not look at parameters). It is
		// adopted, then restarted as a cluster node, keeping its data.
		p.actions = append(p.actions, actStart)
		respec = true
	}
	if respec {
		p.actions = append(p.actions, actStopRespec)
		running = false
	}
	if !running {
		p.actions = append(p.actions, actStart)
	} else if obs.roles[n.ID] != obs.role {
		p.actions = append(p.actions, actSetRole)
	}
	if running && !liveInSync(cl, n, obs) {
		p.actions = append(p.actions, actSetLive)
	}
	switch {
	case n.RebootRequested:
		p.actions = append(p.actions, actReboot)
	case cl.ParamStatus == "applying":
		p.actions = append(p.actions, actApplyParameters)
	}
	return p
}

// liveInSync reports whether a node's engine runs with the cluster's
// certificate, AUTH tokens and RBAC users, and listens as its transit
// mode asks, its front served in preferred (what it takes live).
func liveInSync(cl *elasticache.Cluster, n elasticache.Node, obs observed) bool {
	return obs.certs[n.ID] == obs.tls.ID() && obs.auths[n.ID] == engine.AuthID(cl.AuthTokens, aclUsers(cl, obs.iamSecret)...) &&
		obs.splits[n.ID] == obs.split && obs.fronts[n.ID] == obs.split && obs.tlsOnly[n.ID] == obs.iam && obs.iamFronts[n.ID] == obs.iam
}

// aclUsers are the engine users of the cluster's ACL (RBAC: its
// replication group's user group), nil without.
// An IAM user's password is the one its front gives the engine for a
// valid token (iamfront.go), derived from secret.
func aclUsers(cl *elasticache.Cluster, secret []byte) []engine.ACLUser {
	if len(cl.ACL) == 0 {
		return nil
	}
	out := make([]engine.ACLUser, 0, len(cl.ACL))
	for _, u := range cl.ACL {
		rules := u.Rules
		if u.IAM {
			rules = append([]string{iamHashRule(secret, u.Name)}, rules...)
		}
		out = append(out, engine.ACLUser{Name: u.Name, Rules: rules})
	}
	return out
}

// runningSpec is what a node's engine is started with, as Node.Running
// records it: a member of a group whose cluster mode changed from disabled
// restarts as a cluster node (elasticache/rgclustermode.go).
func runningSpec(cl *elasticache.Cluster) string {
	if cl.ClusterModeChanged {
		return cl.NodeType + "/" + cl.EngineVersion + "/cluster"
	}
	return cl.NodeType + "/" + cl.EngineVersion
}

// serverlessValues are the parameter values a serverless cache's engines
// run with beyond their group's: at the data storage maximum, keys with a
// TTL are evicted, least recently used first, and with none left to evict
// writes get the OOM error, as ElastiCache Serverless documents
// (volatile-lru).
func serverlessValues(cl *elasticache.Cluster, values map[string]string) map[string]string {
	if cl.ServerlessCache == "" || cl.Engine == catalog.Memcached {
		// Memcached evicts least recently used items at its limit (-m),
		// as ElastiCache documents for serverless Memcached.
		return values
	}
	if values == nil {
		values = map[string]string{}
	}
	values["maxmemory-policy"] = "volatile-lru"
	return values
}

// maxMemory is what a node's engine is limited to: a serverless cache's
// data storage maximum, else its node type less reserved memory.
func maxMemory(cl *elasticache.Cluster, nodeMem int64, values map[string]string) int64 {
	if cl.DataLimit > 0 {
		return cl.DataLimit
	}
	return catalog.EffectiveMaxMemory(nodeMem, values)
}

// planDelete stops the configuration endpoint, releases its interface,
// stops every engine in parallel (memcached takes ~0.5 s to exit), releases
// the nodes' interfaces, has the network follow and removes the cluster.
func planDelete(cl *elasticache.Cluster, obs observed) []step {
	var steps []step
	if obs.serving {
		steps = append(steps, step{op: opStopConfig})
	}
	if cl.ConfigInterfaceID != "" {
		steps = append(steps, step{op: opDeleteInterface, target: configTarget})
	}
	if len(cl.Nodes) > 0 {
		stop := step{op: opStopEngines}
		for _, n := range cl.Nodes {
			stop.nodes = append(stop.nodes, nodePlan{id: n.ID, actions: []action{actStop}})
		}
		steps = append(steps, stop)
	}
	for _, n := range cl.Nodes {
		if n.InterfaceID != "" && cl.InterfaceOf == "" { // a borrowed one is its owner's to delete
			steps = append(steps, step{op: opDeleteInterface, target: n.ID})
		}
	}
	return append(steps, step{op: opSyncNetwork}, step{op: opRemoveCluster})
}

// planString renders a plan one step per line (tests, logs).
func planString(steps []step) string {
	var b strings.Builder
	for _, s := range steps {
		fmt.Fprintln(&b, s)
	}
	return b.String()
}
