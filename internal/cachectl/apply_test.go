package cachectl

import (
	"context"
	"strings"
	"testing"
)

// A new cluster's interfaces (every node's and the configuration
// endpoint's) are created in one EC2 transaction: the network, which
// follows every change of the model, then realises all of them in one
// pass instead of racing the controller with a partial one.
func TestNewClusterInterfacesInOneChange(t *testing.T) {
	w := newWorld(t, false)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	changes := w.st.Watch(ctx)
	w.create("b", want{3, "cache.t3.micro", ""})
	w.model["b"] = want{3, "cache.t3.micro", ""}
	w.converge([]string{"Cache cluster created"})
	var withInterfaces [][]string
	for {
		select {
		case c := <-changes:
			if c.Overflow {
				t.Fatal("the watch overflowed")
			}
			var enis []string
			for _, k := range c.Keys {
				if strings.HasPrefix(k, "ec2/") && strings.Contains(k, "/eni/") {
					enis = append(enis, k)
				}
			}
			if len(enis) > 0 {
				withInterfaces = append(withInterfaces, enis)
			}
			continue
		default:
		}
		break
	}
	if len(withInterfaces) != 1 || len(withInterfaces[0]) != 4 {
		t.Errorf("changes of interfaces while creating a 3-node Memcached cluster = %v, want one with all 4 (3 nodes, configuration endpoint)", withInterfaces)
	}
}
