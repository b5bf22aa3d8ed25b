package vpcnet

import (
	"testing"

	"github.com/cachalot-dev/cachalot/internal/ec2"
)

// An instance's namespace is its primary interface's (device index 0),
// whatever the order of the topology.
func TestPrimaryInterface(t *testing.T) {
	topo := &ec2.Topology{Interfaces: []ec2.TopoInterface{
		{ID: "eni-node"},
		{ID: "eni-second", InstanceID: "i-1", InstanceState: "running", DeviceIndex: 1},
		{ID: "eni-primary", InstanceID: "i-1", InstanceState: "running"},
		{ID: "eni-stopped", InstanceID: "i-2", InstanceState: "stopped"},
	}}
	for _, tc := range []struct{ id, eni, state string }{
		{"i-1", "eni-primary", "running"},
		{"i-2", "eni-stopped", "stopped"},
		{"i-3", "", ""},
	} {
		if eni, state := primaryInterface(topo, tc.id); eni != tc.eni || state != tc.state {
			t.Errorf("primaryInterface(%s) = %q, %q; want %q, %q", tc.id, eni, state, tc.eni, tc.state)
		}
	}
}
