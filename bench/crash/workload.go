package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awsec2 "github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"
	ectypes "github.com/aws/aws-sdk-go-v2/service/elasticache/types"
)

// Limits per worker, so that a campaign's live engines and namespaces stay
// within what a small machine runs comfortably.
const (
	maxClusters  = 2
	maxGroups    = 4
	maxInstances = 2
	maxUsers     = 3
	maxPolicies  = 3
	tagKey       = "crash-campaign"
)

// outcome of one call.
type outcome int

const (
	acked    outcome = iota // the service answered success
	rejected                // the service answered an error (4xx): nothing happened
	unknown                 // no answer (serve killed), or a 5xx: it may or may not have happened
)

// classify tells what an SDK error says about the call.
func classify(err error) outcome {
	if err == nil {
		return acked
	}
	var re *awshttp.ResponseError
	if errors.As(err, &re) && re.HTTPStatusCode() >= 400 && re.HTTPStatusCode() < 500 {
		return rejected
	}
	if errors.Is(err, syscall.ECONNREFUSED) {
		return rejected // never reached serve (it was already gone)
	}
	return unknown
}

// counters of the campaign, shared by the workers.
type counters struct {
	ops, acked, rejected, unknown, serverErrors atomic.Int64

	mu     sync.Mutex         // guards byCall
	byCall map[string]*[3]int // by call name: issued, acknowledged, unanswered
}

// count records a call under its name: issued, or its outcome.
func (c *counters) count(op string, o outcome, issued bool) {
	name, _, _ := strings.Cut(op, " ")
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byCall == nil {
		c.byCall = map[string]*[3]int{}
	}
	n := c.byCall[name]
	if n == nil {
		n = &[3]int{}
		c.byCall[name] = n
	}
	switch {
	case issued:
		n[0]++
	case o == acked:
		n[1]++
	case o == unknown:
		n[2]++
	}
}

// worker issues random writes on resources of its own (names carry its
// number), so that its calls on one resource never overlap.
type worker struct {
	n       int
	s       *server
	m       *model
	rng     *rand.Rand
	seq     int // names are never reused across runs
	engines []string
	account string
	defSG   string // id of the default VPC's default group
	c       *counters
	// stopped is set when a call got no answer: serve is gone, and the
	// worker sends nothing more until the next run.
	stopped bool
}

// call is one write: the key of the resource it changes, the state it
// leads to, and the call itself, which returns that state completed with
// what the answer tells (ids).
type call struct {
	key, op string
	post    state
	do      func(context.Context) (state, error)
}

// step issues one random write; false when the worker stopped.
func (w *worker) step(ctx context.Context) bool {
	if w.stopped {
		return false
	}
	var c *call
	for try := 0; c == nil; try++ {
		if try == 1000 {
			panic("no write is possible") // every kind at its limit cannot happen: deletes are then possible
		}
		c = w.pick()
	}
	w.c.ops.Add(1)
	w.c.count(c.op, 0, true)
	w.m.begin(c.key, c.post, c.op)
	got, err := c.do(ctx)
	w.c.count(c.op, classify(err), false)
	switch classify(err) {
	case acked:
		w.c.acked.Add(1)
		w.m.ack(c.key, got)
	case rejected:
		w.c.rejected.Add(1)
		w.m.reject(c.key)
	default:
		w.c.unknown.Add(1)
		var re *awshttp.ResponseError
		if errors.As(err, &re) && re.HTTPStatusCode() >= 500 {
			w.c.serverErrors.Add(1)
		}
		w.stopped = true
	}
	return !w.stopped
}

// pick chooses a write by weight; nil when the chosen kind has no
// possible target (the caller picks again).
func (w *worker) pick() *call {
	type choice struct {
		weight int
		f      func() *call
	}
	choices := []choice{
		{10, w.createCluster}, {6, w.deleteCluster}, {8, w.modifyCluster},
		{8, w.createGroup}, {4, w.deleteGroup}, {12, w.authorize}, {8, w.revoke},
		{7, w.runInstance}, {5, w.terminate},
		{6, w.createUser}, {3, w.deleteUser}, {5, w.createPolicy}, {2, w.deletePolicy},
		{5, w.attach}, {4, w.detach},
		{4, w.createReplicationGroup}, {2, w.deleteReplicationGroup}, {3, w.testFailover},
	}
	total := 0
	for _, c := range choices {
		total += c.weight
	}
	r := w.rng.IntN(total)
	for _, c := range choices {
		if r < c.weight {
			return c.f()
		}
		r -= c.weight
	}
	return nil
}

func (w *worker) name(kind string) string {
	w.seq++
	return fmt.Sprintf("%s-%d-%d", kind, w.n, w.seq)
}

// present returns the worker's keys of a kind whose acknowledged state is
// not absent.
func (w *worker) present(kind string) []string {
	var out []string
	for _, k := range w.m.keys(fmt.Sprintf("%s/%s-%d-", kind, kindPrefix[kind], w.n)) {
		if w.m.get(k) != nil {
			out = append(out, k)
		}
	}
	return out
}

// kindPrefix is the name prefix of each kind's resources.
var kindPrefix = map[string]string{"cluster": "cr", "sg": "crash-sg", "instance": "crash-i", "user": "crash-u", "policy": "crash-p", "rg": "crg"}

func (w *worker) any(keys []string) string { return keys[w.rng.IntN(len(keys))] }

func nameOf(key string) string { _, n, _ := strings.Cut(key, "/"); return n }

// group returns a security group for a new cluster or instance: one of the
// worker's, or the default group.
func (w *worker) group() (id, name string) {
	if gs := w.present("sg"); len(gs) > 0 && w.rng.IntN(3) > 0 {
		k := w.any(gs)
		return w.m.get(k).(groupState).id, nameOf(k)
	}
	return w.defSG, "default"
}

func (w *worker) createCluster() *call {
	if len(w.present("cluster")) >= maxClusters || len(w.engines) == 0 {
		return nil
	}
	id := w.name("cr")
	eng := w.engines[w.rng.IntN(len(w.engines))]
	nodes := 1
	if eng == "memcached" {
		nodes = 1 + w.rng.IntN(2)
	}
	gid, gname := w.group()
	post := clusterState{engine: eng, nodes: nodeIDs(nodes), groups: []string{gname}, tagged: true}
	return &call{key: "cluster/" + id, op: "CreateCacheCluster " + id, post: post, do: func(ctx context.Context) (state, error) {
		_, err := w.s.w.ec.CreateCacheCluster(ctx, &elasticache.CreateCacheClusterInput{
			CacheClusterId: aws.String(id), Engine: aws.String(eng), CacheNodeType: aws.String("cache.t3.micro"),
			NumCacheNodes: aws.Int32(int32(nodes)), SecurityGroupIds: []string{gid},
			Tags: []ectypes.Tag{{Key: aws.String(tagKey), Value: aws.String(id)}},
		})
		return post, err
	}}
}

func nodeIDs(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%04d", i+1)
	}
	return out
}

func (w *worker) deleteCluster() *call {
	cs := w.present("cluster")
	if len(cs) == 0 {
		return nil
	}
	k := w.any(cs)
	return &call{key: k, op: "DeleteCacheCluster " + nameOf(k), do: func(ctx context.Context) (state, error) {
		_, err := w.s.w.ec.DeleteCacheCluster(ctx, &elasticache.DeleteCacheClusterInput{CacheClusterId: aws.String(nameOf(k))})
		return nil, err
	}}
}

// modifyCluster changes a Memcached cluster's node count by one, or a
// cluster's security group.
func (w *worker) modifyCluster() *call {
	cs := w.present("cluster")
	if len(cs) == 0 {
		return nil
	}
	k := w.any(cs)
	cur := w.m.get(k).(clusterState)
	post := cur
	in := &elasticache.ModifyCacheClusterInput{CacheClusterId: aws.String(nameOf(k)), ApplyImmediately: aws.Bool(true)}
	known := !slices.Contains(cur.nodes, "?")
	switch {
	case cur.engine == "memcached" && known && len(cur.nodes) > 1 && w.rng.IntN(2) == 0:
		last := cur.nodes[len(cur.nodes)-1]
		post.nodes = cur.nodes[:len(cur.nodes)-1]
		in.NumCacheNodes, in.CacheNodeIdsToRemove = aws.Int32(int32(len(post.nodes))), []string{last}
	case cur.engine == "memcached" && len(cur.nodes) < 3 && w.rng.IntN(2) == 0:
		post.nodes = append(slices.Clone(cur.nodes), "?")
		in.NumCacheNodes = aws.Int32(int32(len(post.nodes)))
	default:
		gid, gname := w.group()
		if slices.Equal(cur.groups, []string{gname}) {
			return nil
		}
		post.groups = []string{gname}
		in.SecurityGroupIds = []string{gid}
	}
	return &call{key: k, op: "ModifyCacheCluster " + nameOf(k), post: post, do: func(ctx context.Context) (state, error) {
		_, err := w.s.w.ec.ModifyCacheCluster(ctx, in)
		return post, err
	}}
}

func (w *worker) createGroup() *call {
	if len(w.present("sg")) >= maxGroups {
		return nil
	}
	name := w.name("crash-sg")
	post := groupState{tagged: true}
	return &call{key: "sg/" + name, op: "CreateSecurityGroup " + name, post: post, do: func(ctx context.Context) (state, error) {
		out, err := w.s.w.ec2.CreateSecurityGroup(ctx, &awsec2.CreateSecurityGroupInput{
			GroupName: aws.String(name), Description: aws.String("crash campaign"),
			TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeSecurityGroup,
				Tags: []ec2types.Tag{{Key: aws.String(tagKey), Value: aws.String(name)}}}},
		})
		if err != nil {
			return nil, err
		}
		post.id = aws.ToString(out.GroupId)
		return post, nil
	}}
}

// inUse reports whether a group is named by one of the worker's clusters
// or instances, or referenced by a rule of another of its groups.
func (w *worker) inUse(name string) bool {
	for _, k := range w.present("cluster") {
		if slices.Contains(w.m.get(k).(clusterState).groups, name) {
			return true
		}
	}
	for _, k := range w.present("instance") {
		if slices.Contains(w.m.get(k).(instanceState).groups, name) {
			return true
		}
	}
	for _, k := range w.present("sg") {
		if nameOf(k) == name {
			continue
		}
		for _, r := range w.m.get(k).(groupState).rules {
			if strings.HasSuffix(r, ":sg="+name) {
				return true
			}
		}
	}
	return false
}

func (w *worker) deleteGroup() *call {
	var free []string
	for _, k := range w.present("sg") {
		if !w.inUse(nameOf(k)) {
			free = append(free, k)
		}
	}
	if len(free) == 0 {
		return nil
	}
	k := w.any(free)
	id := w.m.get(k).(groupState).id
	return &call{key: k, op: "DeleteSecurityGroup " + nameOf(k), do: func(ctx context.Context) (state, error) {
		_, err := w.s.w.ec2.DeleteSecurityGroup(ctx, &awsec2.DeleteSecurityGroupInput{GroupId: aws.String(id)})
		return nil, err
	}}
}
