package netplane

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestRedisRouterKnobs measures cheap kernel settings of the VPC path
// against the path as the plane makes it and against loopback, in
// interleaved rounds (medians): redis-benchmark in one interface's
// namespace against redis-server in another's, through the router. Each
// knob is set by hand on every link of the path (ethtool) for its rounds,
// then reset. Opt-in (NETPLANE_REDIS_BENCH=1), needs redis-server,
// redis-benchmark and ethtool. An experiment, not a test of the plane.
//
//	NETPLANE_REDIS_BENCH=1 go test -count=1 -run '^TestRedisRouterKnobs$' -v ./internal/netplane/
func TestRedisRouterKnobs(t *testing.T) {
	requireRedisBench(t, "redis-server", "redis-benchmark", "ethtool")
	p, _ := newTestPlane(t)
	st := benchVPC()
	server, client := benchIface(0), benchIface(1)
	st.Interfaces = []Interface{server, client}
	apply(t, p, st)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	startRedisServer(t, ctx, p, server, client)

	plan, err := p.Plan(st)
	if err != nil {
		t.Fatal(err)
	}
	ethtool := func(args ...string) {
		t.Helper()
		for _, ns := range plan.Namespaces {
			for _, l := range ns.Links {
				if l.Name == LoopbackLink {
					continue
				}
				argv := append([]string{"nsenter", "--net=" + filepath.Join(netnsDir, ns.Name), "--", "ethtool", "-K", l.Name}, args...)
				if out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput(); err != nil {
					t.Fatalf("%v: %v: %s", argv, err, out)
				}
			}
		}
	}
	knobs := []struct {
		name    string
		on, off []string
	}{
		{"as made", nil, nil},
		{"gro on", []string{"gro", "on"}, []string{"gro", "off"}},
	}
	n, repeat := redisBenchRuns("100000", 5)
	run := func(eni, host string, pipeline int) (set, get float64) {
		t.Helper()
		cmd, err := p.Command(ctx, eni, "redis-benchmark", "-h", host, "-p", "6379", "-c", "50", "-n", n, "-t", "set,get", "-q", "-P", fmt.Sprint(pipeline))
		if err != nil {
			t.Fatal(err)
		}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("redis-benchmark: %v\n%s", err, out)
		}
		return parseRedisBenchmark(t, out)
	}
	load, _ := os.ReadFile("/proc/loadavg")
	t.Logf("load average at start: %s", load)
	for _, pipeline := range []int{1, 16} {
		ratios := make([][2][]float64, len(knobs))
		for range repeat {
			for i, k := range knobs {
				if k.on != nil {
					ethtool(k.on...)
				}
				ls, lg := run(server.ID, "127.0.0.1", pipeline)
				es, eg := run(client.ID, server.PrivateIP.String(), pipeline)
				if k.off != nil {
					ethtool(k.off...)
				}
				ratios[i][0] = append(ratios[i][0], es/ls)
				ratios[i][1] = append(ratios[i][1], eg/lg)
			}
		}
		for i, k := range knobs {
			t.Logf("-P %2d %-8s SET ratio %.2f  GET ratio %.2f (medians of %d interleaved pairs, routed / loopback)",
				pipeline, k.name, median(ratios[i][0]), median(ratios[i][1]), repeat)
		}
	}
	load, _ = os.ReadFile("/proc/loadavg")
	t.Logf("load average at end: %s", load)
}
