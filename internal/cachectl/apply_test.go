package cachectl

import (
	"context"
	"strings"
	"testing"

	"github.com/cachalot-dev/cachalot/internal/elasticache"
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

// A memcached cluster with a reader port (a serverless Memcached cache's
// one engine) starts its engine listening on both ports, each bound like
// a node's port: in the loopback mode, a host port of its own at the same
// host address; in the namespaces mode, the ports themselves.
func TestReaderPortBound(t *testing.T) {
	for _, loopback := range []bool{false, true} {
		w := newWorld(t, loopback)
		w.create("b", want{1, "cache.t3.micro", ""})
		ref := elasticache.ClusterRef{Account: "000000000000", Region: "us-east-1", ID: "b"}
		if _, err := w.svc.UpdateCluster(w.ctx, ref, func(cl *elasticache.Cluster) bool { cl.ReaderPort = 11212; return true }); err != nil {
			t.Fatal(err)
		}
		w.model["b"] = want{1, "cache.t3.micro", ""}
		w.converge([]string{"Cache cluster created"})
		p, ok := w.engines.snapshot()[EngineNodeID(ref, "0001")]
		if !ok {
			t.Fatalf("loopback %v: no engine for node 0001", loopback)
		}
		wantPort := 11212
		if loopback {
			var found bool
			if _, wantPort, found = w.net.HostAddr(p.iface, 11212); !found {
				t.Fatalf("loopback: no host port bound for 11212 on %s", p.iface)
			}
			if wantPort == p.spec.Port {
				t.Errorf("loopback: both ports bound at host port %d", wantPort)
			}
		}
		if p.spec.SecondPort != wantPort {
			t.Errorf("loopback %v: engine's second port = %d, want %d", loopback, p.spec.SecondPort, wantPort)
		}
	}
}
