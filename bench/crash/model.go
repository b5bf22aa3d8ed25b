package main

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
)

// The model is what the campaign knows the service must hold: for every
// resource it asked for, the state its last acknowledged write left and,
// while a call on it has no answer (in flight when serve was killed), the
// state that call would leave. After a restart the observed state must be
// the acknowledged one, or, for a resource with a call in flight, exactly
// one of the two; anything observed that the campaign never asked for is
// a violation too.

// state is a resource's state as the checks compare it, by its String.
// A nil state is "absent" (never created, deleted, terminated).
type state interface{ String() string }

func stateString(s state) string {
	if s == nil {
		return "absent"
	}
	return s.String()
}

// resource is one resource the campaign asked for, keyed "kind/name".
type resource struct {
	key   string
	acked state // after the last acknowledged write (nil: absent)
	// inFlight is set while a call on the resource has no answer; alt is
	// the state that call would leave.
	inFlight bool
	alt      state
	op       string // the call in flight, for the report
}

// model is shared by the workers; each resource is only ever touched by
// the worker that created its name, so calls on one resource never overlap.
type model struct {
	mu  sync.Mutex // guards res
	res map[string]*resource
}

func newModel() *model { return &model{res: map[string]*resource{}} }

// begin records that a call leading key to post is about to be sent.
func (m *model) begin(key string, post state, op string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r := m.res[key]
	if r == nil {
		r = &resource{key: key}
		m.res[key] = r
	}
	r.inFlight, r.alt, r.op = true, post, op
}

// ack records that the call succeeded and left key in post (which may
// carry what the answer told, such as an id).
func (m *model) ack(key string, post state) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r := m.res[key]
	r.acked, r.inFlight, r.alt, r.op = post, false, nil, ""
}

// reject records that the service answered the call with an error: it did
// not happen.
func (m *model) reject(key string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r := m.res[key]
	r.inFlight, r.alt, r.op = false, nil, ""
}

// get returns key's acknowledged state; unknown keys are absent.
func (m *model) get(key string) state {
	m.mu.Lock()
	defer m.mu.Unlock()
	if r := m.res[key]; r != nil {
		return r.acked
	}
	return nil
}

// keys returns the model's keys with the prefix, sorted.
func (m *model) keys(prefix string) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for k := range m.res {
		if strings.HasPrefix(k, prefix) {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// violation is one broken promise.
type violation struct {
	class  string // lost, half-present, unrequested, kernel-missing, kernel-orphaned, …
	what   string
	detail string
}

func (v violation) String() string { return fmt.Sprintf("%s: %s: %s", v.class, v.what, v.detail) }

// Violation classes.
const (
	classLost        = "lost"         // an acknowledged write is not (or no longer) there
	classHalf        = "half-present" // an unacknowledged call left a state that is neither before nor after
	classUnrequested = "unrequested"  // a resource the campaign never asked for
)

// checkResult is what one check of the model against an observation found.
type checkResult struct {
	violations []violation
	inFlight   int // calls that were in flight
	applied    int // of which the observation shows applied
}

// check compares the observation (key -> state, absent keys omitted)
// with the model, then adopts the observation as the acknowledged state,
// so that the next run starts from what is there and one loss is reported
// once.
func (m *model) check(observed map[string]state) checkResult {
	m.mu.Lock()
	defer m.mu.Unlock()
	var res checkResult
	for _, k := range slices.Sorted(maps.Keys(m.res)) {
		r := m.res[k]
		o := observed[k]
		got, want := stateString(o), stateString(r.acked)
		switch {
		case !r.inFlight && got != want:
			res.violations = append(res.violations, violation{classLost, k, fmt.Sprintf("acknowledged %q, observed %q", want, got)})
		case r.inFlight:
			res.inFlight++
			alt := stateString(r.alt)
			switch got {
			case alt:
				if alt != want {
					res.applied++
				}
			case want:
			default:
				res.violations = append(res.violations, violation{classHalf, k,
					fmt.Sprintf("%s in flight: before %q, after %q, observed %q", r.op, want, alt, got)})
			}
		}
		r.acked, r.inFlight, r.alt, r.op = o, false, nil, ""
	}
	for _, k := range slices.Sorted(maps.Keys(observed)) {
		if _, ok := m.res[k]; !ok && observed[k] != nil {
			res.violations = append(res.violations, violation{classUnrequested, k, "observed " + stateString(observed[k])})
		}
	}
	return res
}

// The states of each kind of resource. Ids the service chose are kept
// (the workers need them to name the resource) but are not part of the
// compared String: a resource is known by the name the campaign gave it.

// clusterState is a cache cluster: engine, nodes and security groups (by
// name), and whether it carries the tag it was created with.
type clusterState struct {
	engine string
	nodes  []string // node ids; len is the node count
	groups []string // security group names, sorted
	tagged bool
}

func (c clusterState) String() string {
	return fmt.Sprintf("%s nodes=%d groups=%v tagged=%v", c.engine, len(c.nodes), c.groups, c.tagged)
}

// groupState is a security group: its ingress rules ("tcp:1000-1000:10.1.2.0/24",
// "tcp:2000-2000:sg=<name>"), sorted, and its tag.
type groupState struct {
	id     string
	rules  []string
	tagged bool
}

func (g groupState) String() string { return fmt.Sprintf("rules=%v tagged=%v", g.rules, g.tagged) }

// instanceState is a running instance, known by its Name tag.
type instanceState struct {
	id     string
	groups []string // names, sorted
}

func (i instanceState) String() string { return fmt.Sprintf("running groups=%v", i.groups) }

// userState is an IAM user: attached policies (names, sorted) and its tag.
type userState struct {
	policies []string
	tagged   bool
}

func (u userState) String() string { return fmt.Sprintf("policies=%v tagged=%v", u.policies, u.tagged) }

// policyState is a customer managed policy.
type policyState struct{ arn string }

func (policyState) String() string { return "present" }
