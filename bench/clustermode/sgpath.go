package main

import (
	"context"
	"fmt"
	"log"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"

	"github.com/cachalot-dev/cachalot/bench/internal/cachalotproc"
	"github.com/cachalot-dev/cachalot/bench/internal/hostinfo"
)

// sgFigures: the throughput a client gets through security-group
// enforcement (an instance in the VPC: its namespace → veth → the VPC
// router's forward chain and the node's ingress chain → veth → the node)
// against the same engine reached directly (redis-benchmark inside the
// node's own network namespace, on the node's private address: no veth,
// no router, no chain). Per shard primary, and for the whole cluster with
// redis-benchmark --cluster (whose direct run is in shard 0001's primary's
// namespace, so only that shard's third of the traffic skips the router).
func sgFigures(ctx context.Context, s *cachalotproc.Server, o options) error {
	const id = "sgpath"
	if _, err := s.EC.CreateReplicationGroup(ctx, &elasticache.CreateReplicationGroupInput{ReplicationGroupId: aws.String(id),
		ReplicationGroupDescription: aws.String("bench"), CacheNodeType: aws.String("cache.t3.micro"),
		CacheParameterGroupName: aws.String("default.redis7.cluster.on"), NumNodeGroups: aws.Int32(3), ReplicasPerNodeGroup: aws.Int32(1),
		AutomaticFailoverEnabled: aws.Bool(true)}); err != nil {
		return fmt.Errorf("create %s: %w", id, err)
	}
	if err := waitAvailable(ctx, s, id, o.poll); err != nil {
		return err
	}
	inst, err := s.LaunchInstance(ctx)
	if err != nil {
		return err
	}
	g, err := s.EC.DescribeReplicationGroups(ctx, &elasticache.DescribeReplicationGroupsInput{ReplicationGroupId: aws.String(id)})
	if err != nil {
		return err
	}
	cfg := aws.ToString(g.ReplicationGroups[0].ConfigurationEndpoint.Address)
	loadBefore := hostinfo.LoadAvg()
	n := strconv.Itoa(o.sgRequests)
	type row struct {
		name                 string
		set, get, dset, dget []float64
	}
	var rows []*row
	bench := func(r *row, direct func(argv ...string) ([]byte, error), argvs ...[]string) error {
		for range o.sgRepeat {
			enf, dir := map[string]float64{}, map[string]float64{}
			for _, argv := range argvs {
				out, err := s.ExecIn(ctx, inst.ID, argv...)
				if err != nil {
					return err
				}
				if err := parseBenchmark(out, enf); err != nil {
					return err
				}
				if out, err = direct(argv...); err != nil {
					return err
				}
				if err := parseBenchmark(out, dir); err != nil {
					return err
				}
			}
			if len(enf) != 2 || len(dir) != 2 {
				return fmt.Errorf("%s: want SET and GET rates, got %v and %v", r.name, enf, dir)
			}
			r.set, r.get, r.dset, r.dget = append(r.set, enf["SET"]), append(r.get, enf["GET"]), append(r.dset, dir["SET"]), append(r.dget, dir["GET"])
			log.Printf("%s: enforced %v, direct %v", r.name, enf, dir)
		}
		return nil
	}
	var firstPID int
	var firstIP string
	for _, ng := range g.ReplicationGroups[0].NodeGroups {
		member := id + "-" + aws.ToString(ng.NodeGroupId) + "-001"
		var lo int
		fmt.Sscanf(aws.ToString(ng.Slots), "%d-", &lo)
		key := "bench{" + tagFor(lo) + "}" // a key of the shard's first slot: no MOVED
		pids := cachalotproc.NodePIDs(s.Account + "." + cachalotproc.Region + "." + member + ".0001")
		if len(pids) != 1 {
			return fmt.Errorf("engine of %s: %d processes", member, len(pids))
		}
		ip, err := nodeIP(ctx, pids[0])
		if err != nil {
			return err
		}
		if firstPID == 0 {
			firstPID, firstIP = pids[0], ip
		}
		direct := func(argv ...string) ([]byte, error) { return inNodeNS(ctx, pids[0], argv...) }
		r := &row{name: "shard " + aws.ToString(ng.NodeGroupId) + " primary " + ip}
		rows = append(rows, r)
		common := []string{"redis-benchmark", "-h", ip, "-p", "6379", "-c", "50", "-n", n, "-q", "-P", "1"}
		if err := bench(r, direct, append(slices.Clone(common), "SET", key, "value-of-16-bytes"), append(slices.Clone(common), "GET", key)); err != nil {
			return err
		}
	}
	r := &row{name: "whole cluster, redis-benchmark --cluster"}
	rows = append(rows, r)
	err = bench(r, func(argv ...string) ([]byte, error) {
		argv = slices.Clone(argv)
		argv[2] = firstIP // the node's own address, not the configuration endpoint's name
		return inNodeNS(ctx, firstPID, argv...)
	}, []string{"redis-benchmark", "-h", cfg, "-p", "6379", "--cluster", "-c", "50", "-n", n, "-t", "set,get", "-q", "-P", "1"})
	if err != nil {
		return err
	}

	fmt.Printf("## 4. Client throughput through security-group enforcement vs the same engines reached directly\n\n")
	fmt.Printf("A 3×(1 primary + 1 replica) group (`default.redis7.cluster.on`) and an instance in the default VPC's default "+
		"security group (which admits its members). Enforced: `redis-benchmark` run on the instance (`cachalot exec`), its "+
		"packets through the VPC router's forward chain and the node's ingress chain. Direct: the same command inside the "+
		"node's own network namespace (`nsenter --net=/proc/PID/ns/net`) on the node's private address — no veth, no router, "+
		"no chain. Per shard: `redis-benchmark -c 50 -n %s -q -P 1 SET bench{tag} value-of-16-bytes` then `… GET bench{tag}` "+
		"on the primary's private address (the tag picked to hash to the shard's first slot, so no MOVED); whole cluster: "+
		"`redis-benchmark --cluster -c 50 -n %[1]s -t set,get -q -P 1`; %d interleaved (enforced, direct) pairs, "+
		"medians; ratio = enforced / direct. The --cluster row's direct run is in shard 0001's primary's namespace, so only "+
		"the third of the keys that shard holds skips the router there. Load average before / after: %s / %s.\n\n",
		n, o.sgRepeat, loadBefore, hostinfo.LoadAvg())
	fmt.Printf("| target | SET enforced | SET direct | ratio | GET enforced | GET direct | ratio |\n|---|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range rows {
		fmt.Printf("| %s | %.0f/s | %.0f/s | %.2f | %.0f/s | %.0f/s | %.2f |\n", r.name, median(r.set), median(r.dset), median(r.set)/median(r.dset),
			median(r.get), median(r.dget), median(r.get)/median(r.dget))
	}
	fmt.Println()
	return deleteGroup(ctx, s, id, o.poll)
}

// inNodeNS runs argv in the network namespace of the engine process pid.
func inNodeNS(ctx context.Context, pid int, argv ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "nsenter", append([]string{"--net=/proc/" + strconv.Itoa(pid) + "/ns/net", "--"}, argv...)...)
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("nsenter %s: %w", strings.Join(argv, " "), err)
	}
	return out, nil
}

// nodeIP is the private address of the namespace of the engine pid.
func nodeIP(ctx context.Context, pid int) (string, error) {
	out, err := inNodeNS(ctx, pid, "ip", "-4", "-o", "addr", "show", "scope", "global")
	if err != nil {
		return "", err
	}
	m := regexp.MustCompile(`inet (\d+\.\d+\.\d+\.\d+)/`).FindSubmatch(out)
	if m == nil {
		return "", fmt.Errorf("no address in the namespace of %d: %s", pid, out)
	}
	return string(m[1]), nil
}

var benchLine = regexp.MustCompile(`(?:^|[\r\n])(SET|GET)[^:\r\n]*: ([0-9.]+) requests per second`)

// parseBenchmark adds redis-benchmark -q's SET and GET rates to rates.
func parseBenchmark(out []byte, rates map[string]float64) error {
	n := 0
	for _, m := range benchLine.FindAllSubmatch(out, -1) {
		v, _ := strconv.ParseFloat(string(m[2]), 64)
		rates[string(m[1])] = v
		n++
	}
	if n == 0 {
		return fmt.Errorf("redis-benchmark output: %q", out)
	}
	return nil
}

// tagFor is a hash tag whose key slot is slot (CRC16-XMODEM mod 16384).
func tagFor(slot int) string {
	for i := 0; ; i++ {
		t := strconv.Itoa(i)
		if int(crc16([]byte(t))%16384) == slot {
			return t
		}
	}
}

func crc16(b []byte) uint16 {
	var crc uint16
	for _, c := range b {
		crc ^= uint16(c) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	return s[len(s)/2]
}
