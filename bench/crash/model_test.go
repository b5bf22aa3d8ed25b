package main

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestModelCheck: the verdicts of a checkpoint, case by case.
func TestModelCheck(t *testing.T) {
	group := func(rules ...string) state { return groupState{rules: rules, tagged: true} }
	tests := []struct {
		name     string
		setup    func(m *model)
		observed map[string]state
		want     []string // violation classes and keys
		inFlight int
		applied  int
	}{
		{
			name:     "acked create present",
			setup:    func(m *model) { m.begin("sg/a", group(), "Create"); m.ack("sg/a", group()) },
			observed: map[string]state{"sg/a": group()},
		},
		{
			name:     "acked create lost",
			setup:    func(m *model) { m.begin("sg/a", group(), "Create"); m.ack("sg/a", group()) },
			observed: map[string]state{},
			want:     []string{"lost sg/a"},
		},
		{
			name: "acked delete resurrected",
			setup: func(m *model) {
				m.begin("sg/a", group(), "Create")
				m.ack("sg/a", group())
				m.begin("sg/a", nil, "Delete")
				m.ack("sg/a", nil)
			},
			observed: map[string]state{"sg/a": group()},
			want:     []string{"lost sg/a"},
		},
		{
			name:     "rejected create absent",
			setup:    func(m *model) { m.begin("sg/a", group(), "Create"); m.reject("sg/a") },
			observed: map[string]state{},
		},
		{
			name:     "in flight create applied",
			setup:    func(m *model) { m.begin("sg/a", group(), "Create") },
			observed: map[string]state{"sg/a": group()},
			inFlight: 1, applied: 1,
		},
		{
			name:     "in flight create not applied",
			setup:    func(m *model) { m.begin("sg/a", group(), "Create") },
			observed: map[string]state{},
			inFlight: 1,
		},
		{
			name:     "in flight create without its tag",
			setup:    func(m *model) { m.begin("sg/a", group(), "Create") },
			observed: map[string]state{"sg/a": groupState{}},
			want:     []string{"half-present sg/a"},
			inFlight: 1,
		},
		{
			name: "in flight two rules, one there",
			setup: func(m *model) {
				m.begin("sg/a", group(), "Create")
				m.ack("sg/a", group())
				m.begin("sg/a", group("tcp:1-1:10.0.0.0/24", "tcp:2-2:10.0.0.0/24"), "Authorize")
			},
			observed: map[string]state{"sg/a": group("tcp:1-1:10.0.0.0/24")},
			want:     []string{"half-present sg/a"},
			inFlight: 1,
		},
		{
			name:     "unrequested",
			setup:    func(m *model) {},
			observed: map[string]state{"instance/untagged-i-1": instanceState{}},
			want:     []string{"unrequested instance/untagged-i-1"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newModel()
			tt.setup(m)
			res := m.check(tt.observed)
			var got []string
			for _, v := range res.violations {
				got = append(got, v.class+" "+v.what)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("check violations (-want +got):\n%s", diff)
			}
			if res.inFlight != tt.inFlight || res.applied != tt.applied {
				t.Errorf("check = %d in flight, %d applied; want %d, %d", res.inFlight, res.applied, tt.inFlight, tt.applied)
			}
			// The observation becomes the acknowledged state: a second
			// check of the same observation finds nothing new to report
			// but the unrequested.
			res = m.check(tt.observed)
			for _, v := range res.violations {
				if v.class != classUnrequested {
					t.Errorf("second check: %v", v)
				}
			}
		})
	}
}
