package netplane

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// TestRedisFastPath measures redis-benchmark from one interface to a
// redis-server in another of the same subnet, in interleaved rounds: on
// loopback in the server's namespace, through the router as the plane makes
// it, and through the router with the fast path (fastpath_linux.go)
// attached to both router-side links (the plane's own is off), and, as
// the ceiling of any design with a namespace per
// interface, from a namespace linked to the server's by one veth pair,
// without a router. Medians of the rounds; the load average and each
// program's cost per packet (BPF_STATS_RUN_TIME) are logged. Opt-in (NETPLANE_REDIS_BENCH=1), needs redis-server
// and redis-benchmark. An experiment, not a test of the plane.
//
//	NETPLANE_REDIS_BENCH=1 go test -count=1 -timeout 30m -run '^TestRedisFastPath$' -v ./internal/netplane/
func TestRedisFastPath(t *testing.T) {
	requireRedisBench(t, "redis-server", "redis-benchmark")
	p, _ := newTestPlane(t)
	p.noFastPath = true // "routed" is the path without it; the rounds attach their own
	st := benchVPC()
	server, client := benchIface(0), benchIface(1)
	st.Interfaces = []Interface{server, client}
	apply(t, p, st)
	plan, err := p.Plan(st)
	if err != nil {
		t.Fatal(err)
	}
	var router string
	var links []fpLink
	for r, ls := range fastPathLinks(plan) {
		router, links = r, ls
	}
	if len(links) != 2 {
		t.Fatalf("fast path links: %v", links)
	}
	routerPath := filepath.Join(netnsDir, router)
	fp, err := newFastPath()
	if err != nil {
		t.Fatal(err)
	}
	defer fp.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	startRedisServer(t, ctx, p, server, client)

	direct := directNamespace(t, p, server)
	if stats, err := ebpf.EnableStats(uint32(unix.BPF_STATS_RUN_TIME)); err == nil {
		defer stats.Close()
	}

	n, repeat := redisBenchRuns("200000", 5)
	bench := func(eni, host string, pipeline int) (set, get float64) {
		t.Helper()
		argv := pinned(1, "redis-benchmark", "-h", host, "-p", "6379", "-c", "50", "-n", n, "-t", "set,get", "-q", "-P", fmt.Sprint(pipeline))
		out, err := benchCommand(t, ctx, p, eni, argv...).CombinedOutput()
		if err != nil {
			t.Fatalf("%v: %v\n%s", argv, err, out)
		}
		return parseRedisBenchmark(t, out)
	}
	// routerTx: packets the router sent on its interface links (the slow
	// path's share: the fast path hands packets to the peer directly).
	routerTx := func() uint64 {
		t.Helper()
		var tx uint64
		err := inNamespace(routerPath, func() error {
			for _, l := range links {
				nl, err := netlink.LinkByName(l.name)
				if err != nil {
					return err
				}
				tx += nl.Attrs().Statistics.TxPackets
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return tx
	}
	t.Logf("load average at start: %s", loadavg())
	modes := []string{"loopback", "routed", "routed+fp", "veth"}
	for _, pipeline := range []int{1, 16} {
		type figs struct{ set, get, setRatio, getRatio []float64 }
		res := make([]figs, len(modes))
		var slowTx []uint64
		benchMode := func(mode string) (set, get float64) {
			switch mode {
			case "loopback":
				return bench(server.ID, "127.0.0.1", pipeline)
			case "routed":
				return bench(client.ID, server.PrivateIP.String(), pipeline)
			case "veth":
				return bench(direct, "10.99.0.1", pipeline)
			}
			// routed+fp
			if err := attachFastPath(routerPath, fp, links); err != nil {
				t.Fatal(err)
			}
			tx := routerTx()
			set, get = bench(client.ID, server.PrivateIP.String(), pipeline)
			slowTx = append(slowTx, routerTx()-tx)
			if err := detachFastPath(routerPath, fp, links); err != nil {
				t.Fatal(err)
			}
			return set, get
		}
		for round := range repeat {
			// The modes take turns going first; ratios are to the same
			// round's loopback.
			set, get := make([]float64, len(modes)), make([]float64, len(modes))
			arms := make([]func(), len(modes))
			for i, mode := range modes {
				arms[i] = func() { set[i], get[i] = benchMode(mode) }
			}
			inTurns(round, arms...)
			ls, lg := set[0], get[0]
			for i := range modes {
				res[i].set, res[i].get = append(res[i].set, set[i]), append(res[i].get, get[i])
				res[i].setRatio, res[i].getRatio = append(res[i].setRatio, set[i]/ls), append(res[i].getRatio, get[i]/lg)
			}
			t.Logf("-P %2d round %d: routed SET %.2f GET %.2f, routed+fp SET %.2f GET %.2f, veth SET %.2f GET %.2f (of loopback %.0f / %.0f); load %s", pipeline, round+1,
				res[1].setRatio[round], res[1].getRatio[round], res[2].setRatio[round], res[2].getRatio[round],
				res[3].setRatio[round], res[3].getRatio[round], ls, lg, loadavg())
		}
		for i, mode := range modes {
			t.Logf("-P %2d %-10s SET %8.0f/s (ratio %.2f %s)  GET %8.0f/s (ratio %.2f %s)   medians of %d rounds",
				pipeline, mode, median(res[i].set), median(res[i].setRatio), medianCI(res[i].setRatio), median(res[i].get), median(res[i].getRatio), medianCI(res[i].getRatio), repeat)
		}
		t.Logf("-P %2d packets the router forwarded on its own during the fast-path runs: %v", pipeline, slowTx)
	}
	if st, err := fp.prog.Stats(); err == nil && st.RunCount > 0 {
		t.Logf("fast-path program: %d runs, %.0f ns per run (BPF_STATS_RUN_TIME)", st.RunCount, float64(st.Runtime.Nanoseconds())/float64(st.RunCount))
	}
	t.Logf("load average at end: %s", loadavg())
}
