package cachectl

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cachalot-dev/cachalot/internal/elasticache"
	"github.com/cachalot-dev/cachalot/internal/engine"
)

// cluster builds a cluster record for plan tests: engine, status and
// generations, then nodes "id" (created) or "id-" (no interface yet).
func cluster(eng, status string, gen, observedGen int64, nodes ...string) *elasticache.Cluster {
	cl := &elasticache.Cluster{Account: "000000000000", Region: "us-east-1", ID: "c", Engine: eng, EngineVersion: "7.0",
		NodeType: "cache.t3.micro", Port: 6379, SecurityGroups: []string{"sg-1"}, Status: status,
		ParamStatus: "in-sync", Generation: gen, ObservedGeneration: observedGen}
	for _, n := range nodes {
		node := elasticache.Node{ID: strings.TrimSuffix(n, "-"), Status: status, AZ: "us-east-1a", SubnetID: "subnet-1"}
		if !strings.HasSuffix(n, "-") {
			node.InterfaceID, node.IP, node.Running = "eni-"+node.ID, "172.31.0."+node.ID[3:], runningSpec(cl)
		}
		cl.Nodes = append(cl.Nodes, node)
	}
	return cl
}

func running(ids ...string) map[string]engine.State {
	m := map[string]engine.State{}
	for _, id := range ids {
		m[id] = engine.StateRunning
	}
	return m
}

func TestPlan(t *testing.T) {
	memcachedServed := func() *elasticache.Cluster {
		cl := cluster("memcached", elasticache.StatusAvailable, 1, 1, "0001", "0002")
		cl.ConfigInterfaceID, cl.ConfigIP = "eni-config", "172.31.0.100"
		return cl
	}
	classic := func(cl *elasticache.Cluster) *elasticache.Cluster {
		cl.CacheSecurityGroups, cl.SecurityGroups = []string{"default"}, nil
		return cl
	}
	tests := []struct {
		name string
		cl   *elasticache.Cluster
		obs  observed
		want []string
	}{
		{
			name: "converged",
			cl:   cluster("redis", elasticache.StatusAvailable, 1, 1, "0001"),
			obs:  observed{engines: running("0001")},
		},
		{
			name: "converged memcached",
			cl:   memcachedServed(),
			obs:  observed{engines: running("0001", "0002"), serving: true},
		},
		{
			name: "converged classic syncs grants",
			cl:   classic(cluster("redis", elasticache.StatusAvailable, 1, 1, "0001")),
			obs:  observed{engines: running("0001")},
			want: []string{"set-grants", "sync-network"},
		},
		{
			name: "certificate renewed",
			cl:   cluster("redis", elasticache.StatusAvailable, 1, 1, "0001"),
			obs:  observed{engines: running("0001"), tls: &engine.TLS{CertPEM: []byte("new")}, certs: map[string]string{"0001": "old"}},
			want: []string{"set-groups 0001", "sync-network", "resolve-spec", "nodes 0001:set-live", "write-status"},
		},
		{
			name: "certificate current",
			cl:   cluster("redis", elasticache.StatusAvailable, 1, 1, "0001"),
			obs: observed{engines: running("0001"), tls: &engine.TLS{CertPEM: []byte("cur")},
				certs: map[string]string{"0001": (&engine.TLS{CertPEM: []byte("cur")}).ID()}},
		},
		{
			name: "preferred converged",
			cl:   cluster("redis", elasticache.StatusAvailable, 1, 1, "0001"),
			obs: observed{engines: running("0001"), split: true,
				splits: map[string]bool{"0001": true}, fronts: map[string]bool{"0001": true}},
		},
		{
			name: "preferred after a daemon restart: no front",
			cl:   cluster("redis", elasticache.StatusAvailable, 1, 1, "0001"),
			obs:  observed{engines: running("0001"), split: true, splits: map[string]bool{"0001": true}},
			want: []string{"set-groups 0001", "sync-network", "resolve-spec", "nodes 0001:set-live", "write-status"},
		},
		{
			name: "preferred asked, engine not split",
			cl:   cluster("redis", elasticache.StatusModifying, 2, 1, "0001"),
			obs:  observed{engines: running("0001"), split: true},
			want: []string{"set-groups 0001", "sync-network", "resolve-spec", "nodes 0001:set-live", "write-status"},
		},
		{
			name: "required asked, engine still split",
			cl:   cluster("redis", elasticache.StatusModifying, 2, 1, "0001"),
			obs: observed{engines: running("0001"),
				splits: map[string]bool{"0001": true}, fronts: map[string]bool{"0001": true}},
			want: []string{"set-groups 0001", "sync-network", "resolve-spec", "nodes 0001:set-live", "write-status"},
		},
		{
			name: "auth token rotated",
			cl: func() *elasticache.Cluster {
				cl := cluster("redis", elasticache.StatusModifying, 2, 1, "0001")
				cl.AuthTokens = []string{"a", "b"}
				return cl
			}(),
			obs:  observed{engines: running("0001"), auths: map[string]string{"0001": engine.AuthID([]string{"a"})}},
			want: []string{"set-groups 0001", "sync-network", "resolve-spec", "nodes 0001:set-live", "write-status"},
		},
		{
			name: "rbac user changed",
			cl: func() *elasticache.Cluster {
				cl := cluster("redis", elasticache.StatusModifying, 2, 1, "0001")
				cl.ACL = []elasticache.ACLUser{{Name: "default", Rules: []string{"nopass", "off"}}, {Name: "app", Rules: []string{"on", "+get"}}}
				return cl
			}(),
			obs: observed{engines: running("0001"), auths: map[string]string{"0001": engine.AuthID(nil,
				engine.ACLUser{Name: "default", Rules: []string{"nopass", "off"}}, engine.ACLUser{Name: "app", Rules: []string{"on", "+set"}})}},
			want: []string{"set-groups 0001", "sync-network", "resolve-spec", "nodes 0001:set-live", "write-status"},
		},
		{
			name: "rbac users current",
			cl: func() *elasticache.Cluster {
				cl := cluster("redis", elasticache.StatusAvailable, 1, 1, "0001")
				cl.ACL = []elasticache.ACLUser{{Name: "default", Rules: []string{"nopass", "off"}}}
				return cl
			}(),
			obs: observed{engines: running("0001"), auths: map[string]string{"0001": engine.AuthID(nil,
				engine.ACLUser{Name: "default", Rules: []string{"nopass", "off"}})}},
		},
		{
			name: "new redis",
			cl:   cluster("redis", elasticache.StatusCreating, 1, 0, "0001-"),
			want: []string{"create-interface 0001", "sync-network", "resolve-spec", "nodes 0001:start", "write-status"},
		},
		{
			name: "new memcached",
			cl:   cluster("memcached", elasticache.StatusCreating, 1, 0, "0001-", "0002-"),
			want: []string{"create-interface 0001", "create-interface 0002", "create-interface config", "sync-network", "resolve-spec",
				"nodes 0001:start 0002:start", "serve-config", "write-status", "publish-config"},
		},
		{
			name: "new classic",
			cl:   classic(cluster("redis", elasticache.StatusCreating, 1, 0, "0001-")),
			want: []string{"create-interface 0001", "set-grants", "sync-network", "resolve-spec", "nodes 0001:start", "write-status"},
		},
		{
			name: "interface made, engine not started",
			cl:   cluster("redis", elasticache.StatusCreating, 1, 0, "0001"),
			want: []string{"set-groups 0001", "sync-network", "resolve-spec", "nodes 0001:start", "write-status"},
		},
		{
			name: "daemon restart re-adopts",
			cl:   memcachedServed(),
			obs:  observed{engines: map[string]engine.State{}},
			want: []string{"set-groups 0001", "set-groups 0002", "set-groups config", "sync-network", "resolve-spec",
				"nodes 0001:start 0002:start", "serve-config", "write-status", "publish-config"},
		},
		{
			name: "configuration endpoint not served",
			cl:   memcachedServed(),
			obs:  observed{engines: running("0001", "0002")},
			want: []string{"set-groups 0001", "set-groups 0002", "set-groups config", "sync-network", "resolve-spec",
				"nodes 0001 0002", "serve-config", "write-status", "publish-config"},
		},
		{
			name: "security groups changed",
			cl:   cluster("redis", elasticache.StatusModifying, 2, 1, "0001"),
			obs:  observed{engines: running("0001")},
			want: []string{"set-groups 0001", "sync-network", "resolve-spec", "nodes 0001", "write-status"},
		},
		{
			name: "classic grants are not groups",
			cl:   classic(cluster("redis", elasticache.StatusModifying, 2, 1, "0001")),
			obs:  observed{engines: running("0001")},
			want: []string{"set-grants", "sync-network", "resolve-spec", "nodes 0001", "write-status"},
		},
		{
			name: "new node type restarts",
			cl: func() *elasticache.Cluster {
				cl := cluster("redis", elasticache.StatusModifying, 2, 1, "0001")
				cl.NodeType = "cache.m5.large"
				return cl
			}(),
			obs:  observed{engines: running("0001")},
			want: []string{"set-groups 0001", "sync-network", "resolve-spec", "nodes 0001:stop-for-new-spec,start", "write-status"},
		},
		{
			name: "cluster mode changed: the primary restarts as a cluster node, keeping its data",
			cl: func() *elasticache.Cluster {
				cl := cluster("redis", elasticache.StatusModifying, 2, 1, "0001")
				cl.ClusterModeChanged = true
				return cl
			}(),
			obs:  observed{engines: running("0001")},
			want: []string{"set-groups 0001", "sync-network", "resolve-spec", "nodes 0001:stop-for-new-spec,start", "write-status"},
		},
		{
			name: "cluster mode changed: a replica is replaced, empty",
			cl: func() *elasticache.Cluster {
				cl := cluster("redis", elasticache.StatusModifying, 2, 1, "0001")
				cl.ClusterModeChanged, cl.Nodes[0].Replace = true, true
				return cl
			}(),
			obs:  observed{engines: running("0001")},
			want: []string{"set-groups 0001", "sync-network", "resolve-spec", "nodes 0001:replace,start", "write-status"},
		},
		{
			name: "cluster mode changed, the service restarted: the old process is adopted, then restarted",
			cl: func() *elasticache.Cluster {
				cl := cluster("redis", elasticache.StatusModifying, 2, 1, "0001")
				cl.ClusterModeChanged = true
				return cl
			}(),
			want: []string{"set-groups 0001", "sync-network", "resolve-spec", "nodes 0001:start,stop-for-new-spec,start", "write-status"},
		},
		{
			name: "cluster mode changed, restarted: converged",
			cl: func() *elasticache.Cluster {
				cl := cluster("redis", elasticache.StatusAvailable, 2, 2, "0001")
				cl.ClusterModeChanged = true
				cl.Nodes[0].Running = runningSpec(cl)
				return cl
			}(),
			obs: observed{engines: running("0001")},
		},
		{
			name: "new engine version of an engine not supervised starts",
			cl: func() *elasticache.Cluster {
				cl := cluster("redis", elasticache.StatusModifying, 2, 1, "0001")
				cl.EngineVersion = "7.2"
				return cl
			}(),
			obs:  observed{engines: map[string]engine.State{}},
			want: []string{"set-groups 0001", "sync-network", "resolve-spec", "nodes 0001:start", "write-status"},
		},
		{
			name: "reboot",
			cl: func() *elasticache.Cluster {
				cl := cluster("redis", elasticache.StatusRebooting, 2, 1, "0001")
				cl.Nodes[0].RebootRequested = true
				return cl
			}(),
			obs:  observed{engines: running("0001")},
			want: []string{"set-groups 0001", "sync-network", "resolve-spec", "nodes 0001:reboot", "write-status"},
		},
		{
			name: "reboot wins over parameters",
			cl: func() *elasticache.Cluster {
				cl := cluster("redis", elasticache.StatusRebooting, 2, 1, "0001")
				cl.Nodes[0].RebootRequested, cl.ParamStatus = true, "applying"
				return cl
			}(),
			obs:  observed{engines: running("0001")},
			want: []string{"set-groups 0001", "sync-network", "resolve-spec", "nodes 0001:reboot", "write-status"},
		},
		{
			name: "parameters",
			cl: func() *elasticache.Cluster {
				cl := cluster("redis", elasticache.StatusModifying, 2, 1, "0001")
				cl.ParamStatus = "applying"
				return cl
			}(),
			obs:  observed{engines: running("0001")},
			want: []string{"set-groups 0001", "sync-network", "resolve-spec", "nodes 0001:apply-parameters", "write-status"},
		},
		{
			name: "engine restarting after a crash",
			cl:   cluster("redis", elasticache.StatusAvailable, 1, 1, "0001"),
			obs:  observed{engines: map[string]engine.State{"0001": engine.StateRestarting}},
			want: []string{"set-groups 0001", "sync-network", "resolve-spec", "nodes 0001:start", "write-status"},
		},
		{
			name: "node added and node removed",
			cl: func() *elasticache.Cluster {
				cl := memcachedServed()
				cl.Status, cl.Generation = elasticache.StatusModifying, 2
				cl.Nodes[1].Status = elasticache.StatusDeleting
				cl.Nodes = append(cl.Nodes, elasticache.Node{ID: "0003", Status: elasticache.StatusCreating, SubnetID: "subnet-2"})
				return cl
			}(),
			obs: observed{engines: running("0001", "0002"), serving: true},
			want: []string{"set-groups 0001", "create-interface 0003", "set-groups config", "sync-network", "resolve-spec",
				"nodes 0001 0002:stop,delete-interface 0003:start", "write-status", "publish-config"},
		},
		{
			name: "delete",
			cl: func() *elasticache.Cluster {
				cl := memcachedServed()
				cl.Status = elasticache.StatusDeleting
				return cl
			}(),
			obs: observed{engines: running("0001", "0002"), serving: true},
			want: []string{"stop-config", "delete-interface config", "stop-engines 0001:stop 0002:stop",
				"delete-interface 0001", "delete-interface 0002", "sync-network", "remove-cluster"},
		},
		{
			name: "delete before the first run",
			cl:   cluster("redis", elasticache.StatusDeleting, 2, 0, "0001-"),
			want: []string{"stop-engines 0001:stop", "sync-network", "remove-cluster"},
		},
		{
			name: "delete after a daemon restart",
			cl: func() *elasticache.Cluster {
				cl := memcachedServed()
				cl.Status = elasticache.StatusDeleting
				return cl
			}(),
			want: []string{"delete-interface config", "stop-engines 0001:stop 0002:stop",
				"delete-interface 0001", "delete-interface 0002", "sync-network", "remove-cluster"},
		},
		{
			name: "serverless second engine borrows the first's interface",
			cl:   serverless(cluster("redis", elasticache.StatusCreating, 1, 0, "0001-")),
			obs:  observed{borrow: &elasticache.Node{ID: "0001", InterfaceID: "eni-first", IP: "172.31.0.9"}},
			want: []string{"borrow-interface 0001", "sync-network", "resolve-spec", "nodes 0001:start", "write-status"},
		},
		{
			name: "serverless borrowed interface left to its owner on delete",
			cl:   serverless(cluster("redis", elasticache.StatusDeleting, 2, 1, "0001")),
			want: []string{"stop-engines 0001:stop", "sync-network", "remove-cluster"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.obs.engines == nil {
				tt.obs.engines = map[string]engine.State{}
			}
			var got []string
			for _, s := range plan(tt.cl, tt.obs) {
				got = append(got, s.String())
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("plan(%s) (-want +got):\n%s", tt.name, diff)
			}
		})
	}
}

func TestMergeStatus(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	earlier := now.Add(-time.Hour)
	node := func(id, status, paramStatus string) elasticache.Node {
		n := elasticache.Node{ID: id, Status: status, AZ: "us-east-1a", ParamStatus: paramStatus, Running: "cache.t3.micro/7.0"}
		if status != elasticache.StatusCreating {
			n.CreatedAt = earlier
		}
		return n
	}
	ok := func(id string) nodeResult {
		return nodeResult{id: id, paramStatus: "in-sync", running: "cache.t3.micro/7.0"}
	}
	tests := []struct {
		name       string
		cur        elasticache.Cluster
		gen        int64
		results    []nodeResult
		want       elasticache.Cluster
		wantEvents []string
	}{
		{
			name:    "created",
			cur:     elasticache.Cluster{Status: elasticache.StatusCreating, Generation: 1, LastError: "boom", Nodes: []elasticache.Node{node("0001", elasticache.StatusCreating, "")}},
			gen:     1,
			results: []nodeResult{{id: "0001", paramStatus: "in-sync", running: "cache.t3.micro/7.0", started: true}},
			want: elasticache.Cluster{Status: elasticache.StatusAvailable, ParamStatus: "in-sync", Generation: 1, ObservedGeneration: 1, ConfigVersion: 1,
				Nodes: []elasticache.Node{{ID: "0001", Status: elasticache.StatusAvailable, AZ: "us-east-1a", ParamStatus: "in-sync", Running: "cache.t3.micro/7.0", CreatedAt: now}}},
			wantEvents: []string{"Cache cluster created"},
		},
		{
			name: "node added and node removed",
			cur: elasticache.Cluster{Status: elasticache.StatusModifying, Generation: 3, ObservedGeneration: 2, ConfigVersion: 2, RemoveNodes: []string{"0002"},
				Nodes: []elasticache.Node{node("0001", elasticache.StatusAvailable, "in-sync"), node("0002", elasticache.StatusDeleting, "in-sync"), node("0003", elasticache.StatusCreating, "in-sync")}},
			gen:     3,
			results: []nodeResult{ok("0001"), {id: "0002", removed: true}, {id: "0003", paramStatus: "in-sync", running: "cache.t3.micro/7.0", started: true}},
			want: elasticache.Cluster{Status: elasticache.StatusAvailable, ParamStatus: "in-sync", Generation: 3, ObservedGeneration: 3, ConfigVersion: 3, RemoveNodes: []string{},
				Nodes: []elasticache.Node{node("0001", elasticache.StatusAvailable, "in-sync"),
					{ID: "0003", Status: elasticache.StatusAvailable, AZ: "us-east-1a", ParamStatus: "in-sync", Running: "cache.t3.micro/7.0", CreatedAt: now}}},
			wantEvents: []string{"Added cache node 0003 in availability zone us-east-1a", "Removed cache node 0002", "Cache cluster modified"},
		},
		{
			name: "desired state moved on",
			cur: elasticache.Cluster{Status: elasticache.StatusModifying, Generation: 4, ObservedGeneration: 2,
				Nodes: []elasticache.Node{node("0001", elasticache.StatusAvailable, "in-sync")}},
			gen:     3,
			results: []nodeResult{{id: "0001", paramStatus: "in-sync", running: "cache.m5.large/7.0", rebooted: true, started: true}},
			want: elasticache.Cluster{Status: elasticache.StatusModifying, Generation: 4, ObservedGeneration: 2,
				Nodes: []elasticache.Node{{ID: "0001", Status: elasticache.StatusAvailable, AZ: "us-east-1a", ParamStatus: "in-sync", Running: "cache.m5.large/7.0", CreatedAt: earlier}}},
			wantEvents: []string{"Cache node 0001 restarted"},
		},
		{
			name: "reboot",
			cur: func() elasticache.Cluster {
				n := node("0001", "rebooting", "pending-reboot")
				n.RebootRequested = true
				return elasticache.Cluster{Status: elasticache.StatusRebooting, ParamStatus: "pending-reboot", Generation: 5, ObservedGeneration: 4, Nodes: []elasticache.Node{n}}
			}(),
			gen:     5,
			results: []nodeResult{{id: "0001", paramStatus: "in-sync", running: "cache.t3.micro/7.0", rebooted: true}},
			want: elasticache.Cluster{Status: elasticache.StatusAvailable, ParamStatus: "in-sync", Generation: 5, ObservedGeneration: 5,
				Nodes: []elasticache.Node{node("0001", elasticache.StatusAvailable, "in-sync")}},
			wantEvents: []string{"Cache node 0001 restarted"},
		},
		{
			name: "parameters pending a reboot",
			cur: elasticache.Cluster{Status: elasticache.StatusModifying, ParamStatus: "applying", Generation: 2, ObservedGeneration: 1,
				Nodes: []elasticache.Node{node("0001", elasticache.StatusAvailable, "in-sync")}},
			gen:     2,
			results: []nodeResult{{id: "0001", paramStatus: "pending-reboot", running: "cache.t3.micro/7.0"}},
			want: elasticache.Cluster{Status: elasticache.StatusAvailable, ParamStatus: "pending-reboot", Generation: 2, ObservedGeneration: 2,
				Nodes: []elasticache.Node{node("0001", elasticache.StatusAvailable, "pending-reboot")}},
			wantEvents: []string{"Cache cluster modified"},
		},
		{
			name: "node of a result gone meanwhile",
			cur: elasticache.Cluster{Status: elasticache.StatusAvailable, ParamStatus: "in-sync", Generation: 1, ObservedGeneration: 1,
				Nodes: []elasticache.Node{node("0001", elasticache.StatusAvailable, "in-sync")}},
			gen:     1,
			results: []nodeResult{ok("0001"), ok("0009")},
			want: elasticache.Cluster{Status: elasticache.StatusAvailable, ParamStatus: "in-sync", Generation: 1, ObservedGeneration: 1,
				Nodes: []elasticache.Node{node("0001", elasticache.StatusAvailable, "in-sync")}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cur := tt.cur
			planned := cur.Status
			ch := mergeStatus(&cur, tt.gen, tt.results, now)
			if diff := cmp.Diff(tt.want, cur); diff != "" {
				t.Errorf("mergeStatus: cluster (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantEvents, statusEvents(ch, tt.results, planned)); diff != "" {
				t.Errorf("statusEvents (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEngineNodeID(t *testing.T) {
	ref := elasticache.ClusterRef{Account: "000000000000", Region: "us-east-1", ID: "web-cache"}
	id := EngineNodeID(ref, "0001")
	gotRef, gotNode, ok := parseEngineNodeID(id)
	if !ok || gotRef != ref || gotNode != "0001" {
		t.Errorf("parseEngineNodeID(%q) = %v, %q, %v; want %v, 0001, true", id, gotRef, gotNode, ok, ref)
	}
	if _, _, ok := parseEngineNodeID("not-a-node"); ok {
		t.Errorf("parseEngineNodeID(not-a-node) ok, want not")
	}
}

// serverless makes cl the second engine of a serverless cache.
func serverless(cl *elasticache.Cluster) *elasticache.Cluster {
	cl.ServerlessCache, cl.InterfaceOf, cl.Port, cl.DataLimit = "sess", "c0", 6380, 32<<20
	return cl
}

// TestServerlessSpec: the borrowed interface a plan records (none while
// the owner has none: the step fails and is retried), and what a
// serverless engine runs with: its data storage maximum as maxmemory,
// volatile-lru.
func TestServerlessSpec(t *testing.T) {
	cl := serverless(cluster("redis", elasticache.StatusCreating, 1, 0, "0001-"))
	steps := plan(cl, observed{engines: map[string]engine.State{}, borrow: &elasticache.Node{InterfaceID: "eni-first", IP: "172.31.0.9"}})
	if s := steps[0]; s.op != opBorrowInterface || s.iface != "eni-first" || s.ip != "172.31.0.9" {
		t.Errorf("plan()[0] = %+v, want borrow-interface of eni-first at 172.31.0.9", s)
	}
	steps = plan(cl, observed{engines: map[string]engine.State{}})
	if s := steps[0]; s.op != opBorrowInterface || s.iface != "" {
		t.Errorf("plan()[0] without the owner's interface = %+v, want borrow-interface with none", s)
	}
	if err := (&run{cl: cl}).borrowInterface(t.Context(), steps[0]); err == nil || !strings.Contains(err.Error(), "not made yet") {
		t.Errorf("borrowInterface without the owner's interface = %v, want not made yet", err)
	}
	values := serverlessValues(cl, map[string]string{"maxmemory-policy": "allkeys-lru"})
	if got := maxMemory(cl, 1<<30, values); got != 32<<20 || values["maxmemory-policy"] != "volatile-lru" {
		t.Errorf("maxMemory = %d, policy %s; want %d, volatile-lru", got, values["maxmemory-policy"], 32<<20)
	}
	plain := cluster("redis", elasticache.StatusCreating, 1, 0, "0001")
	if got := serverlessValues(plain, map[string]string{"maxmemory-policy": "allkeys-lru"}); got["maxmemory-policy"] != "allkeys-lru" {
		t.Errorf("serverlessValues of a node-based cluster changed its policy to %s", got["maxmemory-policy"])
	}
}
