package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// The reference the issue asks for: the same scale-out done by the
// engine's own tool, `redis-cli --cluster rebalance --cluster-use-empty-masters`
// (redis-cli --cluster reshard's even form), on a Redis Cluster of three
// redis-server processes on loopback started here (two masters with the
// slots and the keys, one empty), outside Cachalot, in the same run.

// redisCLIReshard returns how long redis-cli took and the keys it moved.
func redisCLIReshard(ctx context.Context, n int) (time.Duration, int64, error) {
	dir, err := os.MkdirTemp("", "cmbench-rediscli-")
	if err != nil {
		return 0, 0, err
	}
	defer os.RemoveAll(dir)
	var ports []string
	var procs []*exec.Cmd
	defer func() {
		for _, p := range procs {
			p.Process.Kill()
			p.Wait()
		}
	}()
	for i := range 3 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, 0, err
		}
		port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
		l.Close()
		d := filepath.Join(dir, strconv.Itoa(i))
		if err := os.MkdirAll(d, 0o755); err != nil {
			return 0, 0, err
		}
		cmd := exec.CommandContext(ctx, "redis-server", "--port", port, "--bind", "127.0.0.1", "--cluster-enabled", "yes",
			"--save", "", "--appendonly", "no", "--dir", d, "--logfile", filepath.Join(d, "log"))
		if err := cmd.Start(); err != nil {
			return 0, 0, err
		}
		procs = append(procs, cmd)
		ports = append(ports, port)
	}
	cli := func(args ...string) (string, error) {
		out, err := exec.CommandContext(ctx, "redis-cli", args...).CombinedOutput()
		return string(out), err
	}
	for _, p := range ports {
		for i := 0; ; i++ {
			if out, _ := cli("-p", p, "ping"); strings.TrimSpace(out) == "PONG" {
				break
			}
			if i > 100 {
				return 0, 0, fmt.Errorf("redis-server on %s does not answer", p)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	for _, c := range [][]string{
		{"-p", ports[0], "cluster", "addslotsrange", "0", "8191"},
		{"-p", ports[1], "cluster", "addslotsrange", "8192", "16383"},
		{"-p", ports[0], "cluster", "meet", "127.0.0.1", ports[1]},
		{"-p", ports[0], "cluster", "meet", "127.0.0.1", ports[2]},
	} {
		if out, err := cli(c...); err != nil {
			return 0, 0, fmt.Errorf("redis-cli %v: %v %s", c, err, out)
		}
	}
	for i := 0; ; i++ {
		out, _ := cli("--cluster", "check", "127.0.0.1:"+ports[0])
		if strings.Contains(out, "[OK] All 16384 slots covered.") && strings.Contains(out, "[OK] All nodes agree") && !strings.Contains(out, "[ERR]") {
			break
		}
		if i > 300 {
			return 0, 0, fmt.Errorf("reference cluster not formed: %s", out)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, p := range ports {
		for i := 0; ; i++ {
			if out, _ := cli("-p", p, "cluster", "info"); strings.Contains(out, "cluster_state:ok") && strings.Contains(out, "cluster_known_nodes:3") {
				break
			}
			if i > 300 {
				return 0, 0, fmt.Errorf("reference node %s: cluster_state not ok", p)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	c := goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: []string{"127.0.0.1:" + ports[0]}})
	defer c.Close()
	for from := 1; from <= n; from += 1000 {
		p := c.Pipeline()
		for i := from; i < from+1000 && i <= n; i++ {
			p.Set(ctx, "key:"+strconv.Itoa(i), "value-"+strconv.Itoa(i), 0)
		}
		if _, err := p.Exec(ctx); err != nil {
			return 0, 0, fmt.Errorf("reference write: %w", err)
		}
	}
	t0 := time.Now()
	if out, err := cli("--cluster", "rebalance", "127.0.0.1:"+ports[0], "--cluster-use-empty-masters"); err != nil {
		return 0, 0, fmt.Errorf("redis-cli --cluster rebalance: %v %s", err, out)
	}
	took := time.Since(t0)
	out, err := cli("-p", ports[2], "dbsize")
	if err != nil {
		return 0, 0, err
	}
	moved, _ := strconv.ParseInt(strings.TrimSpace(out), 10, 64)
	return took, moved, nil
}
