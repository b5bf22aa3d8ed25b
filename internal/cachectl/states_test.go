package cachectl

// The states test, in the manner of tailscale's TestRouterStates: desired
// states of a small installation, driven through the real ElastiCache API
// over the real store and EC2 model, converged by the controller against
// fakes of the engines and the network, with the whole state checked after
// every transition; first every state in order, then a random walk (seeded,
// the seed is logged; -states.seed replays one).

import (
	"bufio"
	stdcmp "cmp"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/cachalot-dev/cachalot/internal/api/elasticacheapi"
	"github.com/cachalot-dev/cachalot/internal/auth"
	"github.com/cachalot-dev/cachalot/internal/catalog"
	"github.com/cachalot-dev/cachalot/internal/dnsname"
	"github.com/cachalot-dev/cachalot/internal/ec2"
	"github.com/cachalot-dev/cachalot/internal/elasticache"
	"github.com/cachalot-dev/cachalot/internal/store"
)

var (
	statesSeed  = flag.Uint64("states.seed", 0, "seed of TestStates' random walk (0: a new one)")
	statesSteps = flag.Int("states.steps", 40, "transitions of TestStates' random walk")
)

// want is a cluster as desired. Clusters named a… are Redis, b… Memcached.
type want struct {
	nodes    int
	nodeType string
	params   string // parameter group; "" the family default
}

// desired is a desired state of the installation.
type desired map[string]want

var states = map[string]desired{
	"empty":       {},
	"redis":       {"a": {1, "cache.t3.micro", ""}},
	"redis-large": {"a": {1, "cache.m5.large", ""}},
	"redis-lru":   {"a": {1, "cache.t3.micro", "lru"}},
	"redis-dbs":   {"a": {1, "cache.t3.micro", "dbs"}}, // a static parameter: pending a reboot when applied
	"memcached-2": {"b": {2, "cache.t3.micro", ""}},
	"memcached-3": {"b": {3, "cache.t3.micro", ""}},
	"both":        {"a": {1, "cache.t3.micro", ""}, "b": {2, "cache.t3.micro", ""}},
	"both-big":    {"a": {1, "cache.m5.large", "lru"}, "b": {3, "cache.t3.micro", ""}},
}

// Actions that are not desired states.
const (
	restartDaemon = "restart" // the daemon restarts: engines are re-adopted, not restarted
	rebootA       = "reboot"  // RebootCacheCluster on a's node
)

var catalogForTest = &catalog.Catalog{Engines: []catalog.Installed{
	{Engine: catalog.Redis, Version: "7.0.15", EngineVersion: "7.0", Family: "redis7", Path: "/fake/redis-server"},
	{Engine: catalog.Memcached, Version: "1.6.18", EngineVersion: "1.6.18", Family: "memcached1.6", Path: "/fake/memcached"},
}}

// world is an installation: the real store, EC2 model and ElastiCache
// domain, the controller, and fakes of the engines and the network.
type world struct {
	t        *testing.T
	ctx      context.Context // the account's scope, for API calls
	loopback bool
	st       *store.Bolt
	ec2      *ec2.Service
	svc      *elasticache.Service
	names    dnsname.Scope // the account's endpoint names
	engines  *fakeEngines
	net      *fakeNetwork
	ctl      *Controller
	model    desired
	events   int // events seen so far
}

func newWorld(t *testing.T, loopback bool) *world {
	st, err := store.OpenBolt(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	w := &world{t: t, loopback: loopback, st: st, model: desired{},
		ctx: auth.WithScope(context.Background(), auth.Scope{AccountID: "000000000000", Region: "us-east-1"})}
	w.ec2 = ec2.New(st, ec2.Config{Logger: log})
	w.net = newFakeNetwork(w.ec2, loopback)
	names, err := dnsname.New(dnsname.DefaultDomain, []byte("cachectl states test secret"))
	if err != nil {
		t.Fatal(err)
	}
	w.names, err = names.Scope("000000000000", "us-east-1")
	if err != nil {
		t.Fatal(err)
	}
	w.svc = elasticache.New(st, elasticache.Config{Network: w.ec2, Engines: catalogForTest, Names: names, HostAddrs: w.net, Logger: log})
	w.engines = newFakeEngines(w.net.launched)
	w.newController()
	t.Cleanup(func() { w.ctl.Close() })
	for name, values := range map[string]map[string]string{"lru": {"maxmemory-policy": "allkeys-lru"}, "dbs": {"databases": "32"}} {
		w.call("CreateCacheParameterGroup", func() error {
			_, err := w.svc.CreateCacheParameterGroup(w.ctx, &elasticacheapi.CreateCacheParameterGroupMessage{CacheParameterGroupName: aws.String(name),
				CacheParameterGroupFamily: aws.String("redis7"), Description: aws.String(name)})
			return err
		})
		for k, v := range values {
			w.call("ModifyCacheParameterGroup", func() error {
				_, err := w.svc.ModifyCacheParameterGroup(w.ctx, &elasticacheapi.ModifyCacheParameterGroupMessage{CacheParameterGroupName: aws.String(name),
					ParameterNameValues: []elasticacheapi.ParameterNameValue{{ParameterName: aws.String(k), ParameterValue: aws.String(v)}}})
				return err
			})
		}
	}
	w.converge(nil)
	return w
}

func (w *world) newController() {
	w.ctl = New(Config{Domain: w.svc, EC2: w.ec2, Network: w.net, Engines: w.engines, Catalog: catalogForTest,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
}

func (w *world) call(what string, f func() error) {
	w.t.Helper()
	if err := f(); err != nil {
		w.t.Fatalf("%s = %v", what, err)
	}
}

// do moves the installation to a desired state or performs an action,
// converging and checking the whole state after every API call.
func (w *world) do(to string) {
	w.t.Helper()
	switch to {
	case restartDaemon:
		w.restart()
		return
	case rebootA:
		if _, ok := w.model["a"]; !ok {
			return
		}
		w.call("RebootCacheCluster", func() error {
			_, err := w.svc.RebootCacheCluster(w.ctx, &elasticacheapi.RebootCacheClusterMessage{CacheClusterId: aws.String("a"), CacheNodeIdsToReboot: []string{"0001"}})
			return err
		})
		w.converge([]string{"Cache node 0001 restarted"})
		return
	}
	target := states[to]
	for _, id := range slices.Sorted(maps.Keys(mergeKeys(w.model, target))) {
		cur, have := w.model[id]
		next, wanted := target[id]
		switch {
		case have && !wanted:
			w.call("DeleteCacheCluster", func() error {
				_, err := w.svc.DeleteCacheCluster(w.ctx, &elasticacheapi.DeleteCacheClusterMessage{CacheClusterId: aws.String(id)})
				return err
			})
			delete(w.model, id)
			w.converge([]string{"Cache cluster deleted"})
		case !have && wanted:
			w.create(id, next)
			w.model[id] = next
			w.converge([]string{"Cache cluster created"})
		case cur != next:
			events := w.modify(id, cur, next)
			w.model[id] = next
			w.converge(events)
		}
	}
}

func mergeKeys(a, b desired) map[string]bool {
	out := map[string]bool{}
	for k := range a {
		out[k] = true
	}
	for k := range b {
		out[k] = true
	}
	return out
}

func engineOf(id string) string {
	if strings.HasPrefix(id, "b") {
		return catalog.Memcached
	}
	return catalog.Redis
}

func (w *world) create(id string, c want) {
	w.t.Helper()
	in := &elasticacheapi.CreateCacheClusterMessage{CacheClusterId: aws.String(id), Engine: aws.String(engineOf(id)),
		CacheNodeType: aws.String(c.nodeType), NumCacheNodes: aws.Int32(int32(c.nodes))}
	if c.params != "" {
		in.CacheParameterGroupName = aws.String(c.params)
	}
	w.call("CreateCacheCluster", func() error { _, err := w.svc.CreateCacheCluster(w.ctx, in); return err })
}

// modify changes a cluster from cur to next in one ModifyCacheCluster and
// returns the events converging it records.
func (w *world) modify(id string, cur, next want) []string {
	w.t.Helper()
	in := &elasticacheapi.ModifyCacheClusterMessage{CacheClusterId: aws.String(id), ApplyImmediately: aws.Bool(true)}
	var events []string
	if next.nodes != cur.nodes {
		in.NumCacheNodes = aws.Int32(int32(next.nodes))
		for i := cur.nodes; i > next.nodes; i-- {
			in.CacheNodeIdsToRemove = append(in.CacheNodeIdsToRemove, fmt.Sprintf("%04d", i))
			events = append(events, fmt.Sprintf("Removed cache node %04d", i))
		}
		for i := cur.nodes + 1; i <= next.nodes; i++ {
			events = append(events, fmt.Sprintf("Added cache node %04d in availability zone *", i))
		}
	}
	if next.nodeType != cur.nodeType {
		in.CacheNodeType = aws.String(next.nodeType)
		events = append(events, "Cache node 0001 restarted")
	}
	if next.params != cur.params {
		in.CacheParameterGroupName = aws.String(stdcmp.Or(next.params, "default.redis7"))
	}
	w.call("ModifyCacheCluster", func() error { _, err := w.svc.ModifyCacheCluster(w.ctx, in); return err })
	return append(events, "Cache cluster modified")
}

// restart restarts the daemon: a new controller, a supervisor that knows
// nothing yet and a network not yet re-applied. Every engine must be
// re-adopted, not restarted.
func (w *world) restart() {
	w.t.Helper()
	before := w.engines.snapshot()
	w.ctl.Close()
	w.engines.restart()
	w.net.restart()
	w.newController()
	w.converge(nil)
	after := w.engines.snapshot()
	for id, p := range before {
		if q, ok := after[id]; !ok || q.pid != p.pid {
			w.t.Errorf("after a daemon restart node %s runs pid %d, want %d re-adopted", id, q.pid, p.pid)
		}
	}
}

// converge runs the controller once — one run must converge any change —
// checks the whole state and the events recorded, then runs it again and
// checks that a converged installation is left alone.
func (w *world) converge(wantEvents []string) {
	w.t.Helper()
	if err := w.ctl.Reconcile(context.Background(), nil); err != nil {
		w.t.Fatalf("Reconcile = %v", err)
	}
	w.check()
	if diff := cmp.Diff(normalise(wantEvents), normalise(w.newEvents())); diff != "" {
		w.t.Errorf("events (-want +got):\n%s", diff)
	}
	rev, procs, syncs := w.revision(), w.engines.snapshot(), w.net.syncs
	if err := w.ctl.Reconcile(context.Background(), nil); err != nil {
		w.t.Fatalf("Reconcile of a converged installation = %v", err)
	}
	if w.revision() != rev || w.net.syncs != syncs || !maps.EqualFunc(procs, w.engines.snapshot(), func(a, b fakeProc) bool { return cmp.Equal(procString(a), procString(b)) }) {
		w.t.Errorf("Reconcile of a converged installation changed something (store revision %d -> %d, syncs %d -> %d)", rev, w.revision(), syncs, w.net.syncs)
	}
}

var azPattern = regexp.MustCompile(`availability zone \S+`)

func normalise(events []string) []string {
	out := []string{}
	for _, e := range events {
		out = append(out, azPattern.ReplaceAllString(e, "availability zone *"))
	}
	slices.Sort(out)
	return out
}

func (w *world) revision() uint64 {
	var rev uint64
	w.st.View(context.Background(), func(tx store.Tx) error { rev = tx.Revision(); return nil })
	return rev
}

// newEvents returns the cluster events recorded since the last call.
func (w *world) newEvents() []string {
	var all []string
	w.st.View(context.Background(), func(tx store.Tx) error {
		return store.ScanJSON(tx, "elasticache/000000000000/us-east-1/event/", func(_ string, e *elasticache.Event) error {
			if e.SourceType == "cache-cluster" {
				all = append(all, e.Message)
			}
			return nil
		})
	})
	out := all[w.events:]
	w.events = len(all)
	return out
}

func procString(p fakeProc) string {
	return fmt.Sprintf("%d %s %s %d %v %v %s %d", p.pid, p.spec.Engine.Path, p.spec.Addr(), p.spec.MaxMemory, p.spec.Parameters, p.pending, p.iface, p.reboots)
}

// TestStates visits every state in order, then walks between states and
// actions at random.
func TestStates(t *testing.T) {
	for _, mode := range []struct {
		name     string
		loopback bool
	}{{"namespaces", false}, {"loopback", true}} {
		t.Run(mode.name, func(t *testing.T) {
			names := slices.Sorted(maps.Keys(states))
			w := newWorld(t, mode.loopback)
			for _, name := range names {
				w.do(name)
				if t.Failed() {
					t.Fatalf("in order: failed moving to %s", name)
				}
			}
			seed := *statesSeed
			if seed == 0 {
				seed = uint64(time.Now().UnixNano())
			}
			t.Logf("random walk: seed %d (replay with -states.seed=%d)", seed, seed)
			rnd := rand.New(rand.NewPCG(seed, 0))
			moves := append(names, restartDaemon, rebootA)
			var path []string
			for range *statesSteps {
				to := moves[rnd.IntN(len(moves))]
				path = append(path, to)
				w.do(to)
				if t.Failed() {
					t.Fatalf("random walk with seed %d failed at %s", seed, strings.Join(path, " -> "))
				}
			}
			w.do("empty")
			if got := w.engines.snapshot(); len(got) != 0 {
				t.Errorf("after deleting everything engines run: %v", slices.Sorted(maps.Keys(got)))
			}
		})
	}
}

// check compares the whole state with the model: the domain's records and
// API, the EC2 model, the engines and the configuration endpoints.
func (w *world) check() {
	t := w.t
	t.Helper()
	clusters, err := w.svc.Clusters(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	wantIfaces, wantProcs := map[string]string{}, map[string]bool{}
	var wantServing []string
	for _, cl := range clusters {
		ids = append(ids, cl.ID)
		w.checkCluster(cl)
		for _, n := range cl.Nodes {
			wantIfaces[n.InterfaceID] = n.IP
			wantProcs[EngineNodeID(cl.Ref(), n.ID)] = true
		}
		if cl.Engine == catalog.Memcached {
			wantIfaces[cl.ConfigInterfaceID] = cl.ConfigIP
			ep := w.describe(cl.ID).ConfigurationEndpoint
			wantServing = append(wantServing, net.JoinHostPort(w.resolve(aws.ToString(ep.Address)), strconv.Itoa(int(aws.ToInt32(ep.Port)))))
		}
	}
	if diff := cmp.Diff(slices.Sorted(maps.Keys(w.model)), ids); diff != "" {
		t.Errorf("clusters (-want +got):\n%s", diff)
	}
	topo, err := w.ec2.Topology(context.Background(), ec2.TopologySelector{})
	if err != nil {
		t.Fatal(err)
	}
	gotIfaces := map[string]string{}
	for _, i := range topo.Interfaces {
		if i.RequesterID == ec2.RequesterElastiCache {
			gotIfaces[i.ID] = i.IP.String()
		}
	}
	if diff := cmp.Diff(wantIfaces, gotIfaces); diff != "" {
		t.Errorf("ElastiCache interfaces in EC2 (-want +got):\n%s", diff)
	}
	procs := w.engines.snapshot()
	if diff := cmp.Diff(slices.Sorted(maps.Keys(wantProcs)), slices.Sorted(maps.Keys(procs))); diff != "" {
		t.Errorf("engine processes (-want +got):\n%s", diff)
	}
	// Deleted means deleted: only the nodes that exist have data.
	if diff := cmp.Diff(slices.Sorted(maps.Keys(wantProcs)), w.engines.dataOf(), cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("node data kept by the engines (-want +got):\n%s", diff)
	}
	slices.Sort(wantServing)
	if diff := cmp.Diff(wantServing, w.net.serving()); diff != "" {
		t.Errorf("configuration endpoints served (-want +got):\n%s", diff)
	}
	wantBound := map[string]bool{}
	if w.loopback {
		for id := range wantIfaces {
			wantBound[id] = true
		}
	}
	if diff := cmp.Diff(wantBound, w.net.bound()); diff != "" {
		t.Errorf("host ports kept by the realiser, by interface (-want +got):\n%s", diff)
	}
}

// checkCluster compares one cluster with the model, and its nodes with
// their engines: what Describe says is what runs.
func (w *world) checkCluster(cl *elasticache.Cluster) {
	t := w.t
	t.Helper()
	m, ok := w.model[cl.ID]
	if !ok {
		return
	}
	if cl.Status != elasticache.StatusAvailable || cl.ObservedGeneration != cl.Generation || cl.LastError != "" {
		t.Errorf("cluster %s: status %s, generation %d observed %d, last error %q; want available and converged", cl.ID, cl.Status, cl.Generation, cl.ObservedGeneration, cl.LastError)
	}
	if len(cl.Nodes) != m.nodes || cl.NodeType != m.nodeType || !strings.HasPrefix(cl.ParameterGroup, stdcmp.Or(m.params, "default.")) {
		t.Errorf("cluster %s: %d nodes of %s, parameter group %s; want %+v", cl.ID, len(cl.Nodes), cl.NodeType, cl.ParameterGroup, m)
	}
	values, err := w.svc.ClusterParameters(context.Background(), cl)
	if err != nil {
		t.Fatal(err)
	}
	mem, _ := catalog.NodeTypeMemory(cl.NodeType)
	api := w.describe(cl.ID)
	procs := w.engines.snapshot()
	pendingReboot, ports := false, map[int]bool{}
	for i, n := range cl.Nodes {
		p, ok := procs[EngineNodeID(cl.Ref(), n.ID)]
		if !ok {
			continue // reported by check
		}
		ep := api.CacheNodes[i].Endpoint
		if host, want := aws.ToString(ep.Address), w.names.Node(cl.ID, n.ID); !w.loopback && host != want {
			t.Errorf("cluster %s node %s endpoint %s, want the name %s", cl.ID, n.ID, host, want)
		}
		addr := net.JoinHostPort(w.resolve(aws.ToString(ep.Address)), strconv.Itoa(int(aws.ToInt32(ep.Port))))
		wantParamStatus := "in-sync"
		if len(p.pending) > 0 {
			wantParamStatus, pendingReboot = "pending-reboot", true
		}
		// The supervisor merges parameter changes into what runs (a value
		// the group no longer sets is not reset): the group's values are in
		// effect.
		inEffect := map[string]string{}
		for k := range values {
			inEffect[k] = p.spec.Parameters[k]
		}
		got := fmt.Sprintf("%s %s %s %s %d %v %s", n.Status, n.Running, addr, p.spec.Engine.Path, p.spec.MaxMemory, inEffect, n.ParamStatus)
		want := fmt.Sprintf("available %s/%s %s /fake/%s %d %v %s", cl.NodeType, cl.EngineVersion, p.spec.Addr(), map[string]string{catalog.Redis: "redis-server", catalog.Memcached: "memcached"}[cl.Engine],
			catalog.EffectiveMaxMemory(mem, values), values, wantParamStatus)
		if got != want {
			t.Errorf("cluster %s node %s = %s, want %s", cl.ID, n.ID, got, want)
		}
		if p.iface != n.InterfaceID {
			t.Errorf("cluster %s node %s runs in %s, want its own interface %s", cl.ID, n.ID, p.iface, n.InterfaceID)
		}
		switch {
		case !w.loopback && addr != net.JoinHostPort(n.IP, strconv.Itoa(cl.Port)):
			t.Errorf("cluster %s node %s endpoint %s, want its VPC address %s and port %d", cl.ID, n.ID, addr, n.IP, cl.Port)
		case w.loopback && (aws.ToString(ep.Address) != "127.0.0.1" || ports[int(aws.ToInt32(ep.Port))]):
			t.Errorf("cluster %s node %s endpoint %s, want 127.0.0.1 and a port of its own", cl.ID, n.ID, addr)
		}
		ports[int(aws.ToInt32(ep.Port))] = true
	}
	if want := map[bool]string{false: "in-sync", true: "pending-reboot"}[pendingReboot]; cl.ParamStatus != want {
		t.Errorf("cluster %s parameter status %s, want %s", cl.ID, cl.ParamStatus, want)
	}
	if cl.Engine == catalog.Memcached {
		w.checkDiscovery(api)
	}
}

// resolve returns the address an endpoint's host resolves to, as the VPC
// resolvers answer it: what the domain's names (elasticache.Service.Names)
// say; in the loopback mode the host is the address.
func (w *world) resolve(host string) string {
	w.t.Helper()
	if w.loopback {
		return host
	}
	names, err := w.svc.AllNames(context.Background())
	if err != nil {
		w.t.Fatal(err)
	}
	for _, n := range names {
		if n.Name == host {
			return n.IP.String()
		}
	}
	w.t.Errorf("endpoint %s: no such name", host)
	return host
}

func (w *world) describe(id string) elasticacheapi.CacheCluster {
	w.t.Helper()
	out, err := w.svc.DescribeCacheClusters(w.ctx, &elasticacheapi.DescribeCacheClustersMessage{CacheClusterId: aws.String(id), ShowCacheNodeInfo: aws.Bool(true)})
	if err != nil {
		w.t.Fatalf("DescribeCacheClusters(%s) = %v", id, err)
	}
	return out.CacheClusters[0]
}

// checkDiscovery asks the configuration endpoint for the cluster's nodes, as
// a Memcached client does, and compares them with Describe.
func (w *world) checkDiscovery(api elasticacheapi.CacheCluster) {
	t := w.t
	t.Helper()
	ep := api.ConfigurationEndpoint
	if host, want := aws.ToString(ep.Address), w.names.MemcachedConfig(aws.ToString(api.CacheClusterId)); !w.loopback && host != want {
		t.Errorf("cluster %s configuration endpoint %s, want the name %s", aws.ToString(api.CacheClusterId), host, want)
	}
	c, err := w.net.dial(net.JoinHostPort(w.resolve(aws.ToString(ep.Address)), strconv.Itoa(int(aws.ToInt32(ep.Port)))))
	if err != nil {
		t.Errorf("cluster %s: %v", aws.ToString(api.CacheClusterId), err)
		return
	}
	defer c.Close()
	go fmt.Fprint(c, "config get cluster\r\n")
	r := bufio.NewReader(c)
	var lines []string
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("config get cluster: %v after %q", err, lines)
		}
		if line == "END\r\n" {
			break
		}
		lines = append(lines, strings.TrimRight(line, "\r\n"))
	}
	var want []string
	for _, n := range api.CacheNodes {
		a, p := aws.ToString(n.Endpoint.Address), aws.ToInt32(n.Endpoint.Port)
		want = append(want, fmt.Sprintf("%s|%s|%d", a, w.resolve(a), p))
	}
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "CONFIG cluster 0 ") {
		t.Fatalf("config get cluster = %q", lines)
	}
	if diff := cmp.Diff(want, strings.Fields(lines[2])); diff != "" {
		t.Errorf("cluster %s: auto discovery (-want +got):\n%s", aws.ToString(api.CacheClusterId), diff)
	}
}

// A parameter that waits for a reboot still waits after a daemon restart:
// re-adopting the engine does not restart it.
func TestStatesPendingRebootSurvivesRestart(t *testing.T) {
	for _, loopback := range []bool{false, true} {
		w := newWorld(t, loopback)
		for _, to := range []string{"redis", "redis-dbs", restartDaemon, rebootA} {
			w.do(to)
			if t.Failed() {
				t.Fatalf("loopback %v: failed at %s", loopback, to)
			}
		}
	}
}
