package app_test

// The network plane proven through the product: security groups, instances,
// VPCs and peerings are made through the EC2 API (aws-sdk-go-v2 against an
// in-process Cachalot), and what the kernel then lets through — real TCP
// connects from inside an instance's namespace to a listener inside
// another's — is compared with the pure evaluator (internal/ec2/sgeval) on
// the same topology.
//
// Network rule: every packet these tests send starts inside a namespace of
// the installation under test (Plane().Dial / Listen, or nsenter) and goes
// to an address inside such namespaces, or to loopback (the API). Nothing is
// dialled from the host's own namespace towards a VPC address.
//
//	go test -race -count=1 -run 'Netplane' ./internal/app/
//	CACHALOT_DIFF_SEED=1234 CACHALOT_DIFF_CONFIGS=1 go test -run NetplaneDifferential -v ./internal/app/
//	go test -count=1 -run '^$' -bench Netplane -benchtime 100x ./internal/app/
//	CACHALOT_NETPLANE_KNOWN_BUGS=1 go test -run Netplane -v ./internal/app/   # shows known bug 1

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"
	"github.com/aws/smithy-go"

	"github.com/cachalot-dev/cachalot/internal/app"
	"github.com/cachalot-dev/cachalot/internal/app/apptest"
	cec2 "github.com/cachalot-dev/cachalot/internal/ec2"
	"github.com/cachalot-dev/cachalot/internal/ec2/sgeval"
	"github.com/cachalot-dev/cachalot/internal/netplane"
	"github.com/cachalot-dev/cachalot/internal/privtest"
)

// ---- helpers shared by the tests and benchmarks of this file ----

// npEnv is a running Cachalot with an EC2 client.
type npEnv struct {
	env *apptest.Env
	ec2 *ec2.Client
}

func startNP(t testing.TB) *npEnv {
	t.Helper()
	privtest.RequireRoot(t)
	env := apptest.Start(t)
	return &npEnv{env: env, ec2: ec2.NewFromConfig(env.Config())}
}

func npCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// waitIdle waits until the reconcilers have realised the store as of now.
func (n *npEnv) waitIdle(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := n.env.App.WaitIdle(ctx); err != nil {
		t.Fatalf("WaitIdle = %v (a reconcile keeps failing?)", err)
	}
}

// npInstance is a launched instance.
type npInstance struct {
	ID, ENI, IP, Subnet, VPC string
}

// runInstance launches one instance (subnet "" : the default VPC's default
// subnet; no groups: the VPC's default group).
func (n *npEnv) runInstance(t testing.TB, subnet string, groups ...string) npInstance {
	t.Helper()
	in := &ec2.RunInstancesInput{
		ImageId: aws.String("ami-12345678"), InstanceType: ec2types.InstanceTypeT3Micro,
		MinCount: aws.Int32(1), MaxCount: aws.Int32(1), SecurityGroupIds: groups,
	}
	if subnet != "" {
		in.SubnetId = aws.String(subnet)
	}
	out, err := n.ec2.RunInstances(context.Background(), in)
	if err != nil {
		t.Fatalf("RunInstances(subnet %q, groups %v) = %v", subnet, groups, err)
	}
	i := out.Instances[0]
	return npInstance{ID: aws.ToString(i.InstanceId), ENI: aws.ToString(i.NetworkInterfaces[0].NetworkInterfaceId),
		IP: aws.ToString(i.PrivateIpAddress), Subnet: aws.ToString(i.SubnetId), VPC: aws.ToString(i.VpcId)}
}

func (n *npEnv) createGroup(t testing.TB, name, vpc string) string {
	t.Helper()
	in := &ec2.CreateSecurityGroupInput{GroupName: aws.String(name), Description: aws.String("test group " + name)}
	if vpc != "" {
		in.VpcId = aws.String(vpc)
	}
	out, err := n.ec2.CreateSecurityGroup(context.Background(), in)
	if err != nil {
		t.Fatalf("CreateSecurityGroup(%s) = %v", name, err)
	}
	return aws.ToString(out.GroupId)
}

// tcpPerm is a TCP permission on one port from (or to) a CIDR or a group.
func tcpPerm(port int32, peer string) ec2types.IpPermission {
	p := ec2types.IpPermission{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(port), ToPort: aws.Int32(port)}
	if strings.HasPrefix(peer, "sg-") {
		p.UserIdGroupPairs = []ec2types.UserIdGroupPair{{GroupId: aws.String(peer)}}
	} else {
		p.IpRanges = []ec2types.IpRange{{CidrIp: aws.String(peer)}}
	}
	return p
}

// allowIn authorizes an ingress permission and returns the rule id.
func (n *npEnv) allowIn(t testing.TB, group string, p ec2types.IpPermission) string {
	t.Helper()
	out, err := n.ec2.AuthorizeSecurityGroupIngress(context.Background(), &ec2.AuthorizeSecurityGroupIngressInput{
		GroupId: aws.String(group), IpPermissions: []ec2types.IpPermission{p}})
	if err != nil {
		t.Fatalf("AuthorizeSecurityGroupIngress(%s) = %v", group, err)
	}
	return aws.ToString(out.SecurityGroupRules[0].SecurityGroupRuleId)
}

func (n *npEnv) revokeIn(t testing.TB, group, rule string) {
	t.Helper()
	if _, err := n.ec2.RevokeSecurityGroupIngress(context.Background(), &ec2.RevokeSecurityGroupIngressInput{
		GroupId: aws.String(group), SecurityGroupRuleIds: []string{rule}}); err != nil {
		t.Fatalf("RevokeSecurityGroupIngress(%s, %s) = %v", group, rule, err)
	}
}

// revokeAllEgress removes the "all traffic to 0.0.0.0/0" rule every new
// group starts with.
func (n *npEnv) revokeAllEgress(t testing.TB, group string) {
	t.Helper()
	if _, err := n.ec2.RevokeSecurityGroupEgress(context.Background(), &ec2.RevokeSecurityGroupEgressInput{
		GroupId: aws.String(group), IpPermissions: []ec2types.IpPermission{{IpProtocol: aws.String("-1"),
			IpRanges: []ec2types.IpRange{{CidrIp: aws.String("0.0.0.0/0")}}}}}); err != nil {
		t.Fatalf("RevokeSecurityGroupEgress(%s, all) = %v", group, err)
	}
}

// listen starts a TCP echo server on port inside the interface's namespace,
// closed (with its connections) at the end of the test.
func (n *npEnv) listen(t testing.TB, eni string, port int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	l, err := n.env.App.Plane().Listen(ctx, eni, "tcp4", "0.0.0.0:"+strconv.Itoa(port))
	if err != nil {
		t.Fatalf("Listen(%s, %d) = %v", eni, port, err)
	}
	t.Cleanup(serveEcho(l))
}

// serveEcho echoes on every connection of l; the returned func closes l
// and the connections and waits for the goroutines.
func serveEcho(l net.Listener) func() {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex // guards conns
		conns []net.Conn
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				io.Copy(c, c)
				c.Close()
			}()
		}
	}()
	return func() {
		l.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	}
}

// probe is the outcome of one TCP connect.
type probe struct {
	Passed bool   // the SYN reached the destination (connected, or refused by it)
	Detail string // connected, refused, timed out, unreachable
}

// connect opens a TCP connection from inside src's namespace to addr:port
// and classifies the outcome. An unexpected error (no namespace, …) is
// returned as err.
func connect(n *npEnv, src, addr string, port int, timeout time.Duration) (probe, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	c, err := n.env.App.Plane().Dial(ctx, src, "tcp4", net.JoinHostPort(addr, strconv.Itoa(port)))
	return classify(c, err)
}

func classify(c net.Conn, err error) (probe, error) {
	var ne net.Error
	switch {
	case err == nil:
		c.Close()
		return probe{true, "connected"}, nil
	case errors.Is(err, syscall.ECONNREFUSED):
		return probe{true, "refused by the destination"}, nil
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return probe{false, "unreachable"}, nil
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return probe{false, "timed out"}, nil
	}
	return probe{}, err
}

// expect asserts that a connect from src to dst:port passes (or not), and
// that the evaluator says the same on the current topology.
func (n *npEnv) expect(t testing.TB, what string, src, dst npInstance, port int, want bool) {
	t.Helper()
	v := n.verdict(t, src.ENI, dst.ENI, port)
	if v.Allowed != want {
		t.Errorf("%s: sgeval %s -> %s tcp/%d = %s; want allowed=%v", what, src.ID, dst.ID, port, v, want)
	}
	timeout := 400 * time.Millisecond
	if want {
		timeout = 5 * time.Second // an allowed connect is fast; allow for a loaded machine
	}
	p, err := connect(n, src.ENI, dst.IP, port, timeout)
	if err != nil {
		t.Fatalf("%s: connect %s -> %s:%d: %v", what, src.ID, dst.IP, port, err)
	}
	if p.Passed != want {
		t.Errorf("%s: connect %s (%s) -> %s (%s):%d = %s, want passed=%v; sgeval: %s", what, src.ID, src.IP, dst.ID, dst.IP, port, p.Detail, want, v)
	}
}

// verdict asks the evaluator about a TCP flow on the current topology.
func (n *npEnv) verdict(t testing.TB, src, dst string, port int) sgeval.Verdict {
	t.Helper()
	topo, err := n.env.App.EC2().Topology(context.Background(), cec2.TopologySelector{})
	if err != nil {
		t.Fatalf("Topology = %v", err)
	}
	return sgeval.New(topo).Check(sgeval.Flow{Src: sgeval.Endpoint{Interface: src}, Dst: sgeval.Endpoint{Interface: dst}, Protocol: "tcp", Port: int32(port)})
}

// mainRouteTable returns the main route table of a VPC.
func (n *npEnv) mainRouteTable(t testing.TB, vpc string) string {
	t.Helper()
	out, err := n.ec2.DescribeRouteTables(context.Background(), &ec2.DescribeRouteTablesInput{Filters: []ec2types.Filter{
		{Name: aws.String("vpc-id"), Values: []string{vpc}}, {Name: aws.String("association.main"), Values: []string{"true"}}}})
	if err != nil || len(out.RouteTables) != 1 {
		t.Fatalf("DescribeRouteTables(main of %s) = %v, %v", vpc, out, err)
	}
	return aws.ToString(out.RouteTables[0].RouteTableId)
}

// subnetRouteTable creates a route table in vpc associated with subnet.
func (n *npEnv) subnetRouteTable(t testing.TB, vpc, subnet string) string {
	t.Helper()
	ctx := context.Background()
	rt, err := n.ec2.CreateRouteTable(ctx, &ec2.CreateRouteTableInput{VpcId: aws.String(vpc)})
	if err != nil {
		t.Fatalf("CreateRouteTable(%s) = %v", vpc, err)
	}
	id := aws.ToString(rt.RouteTable.RouteTableId)
	if _, err := n.ec2.AssociateRouteTable(ctx, &ec2.AssociateRouteTableInput{RouteTableId: aws.String(id), SubnetId: aws.String(subnet)}); err != nil {
		t.Fatalf("AssociateRouteTable(%s, %s) = %v", id, subnet, err)
	}
	return id
}

// knownBugsEnv runs what known bugs would make fail: the focused tests
// that show them, and the generator's dimensions that find them.
const knownBugsEnv = "CACHALOT_NETPLANE_KNOWN_BUGS"

func (n *npEnv) defaultGroupOf(t testing.TB, vpc string) string {
	t.Helper()
	out, err := n.ec2.DescribeSecurityGroups(context.Background(), &ec2.DescribeSecurityGroupsInput{Filters: []ec2types.Filter{
		{Name: aws.String("vpc-id"), Values: []string{vpc}}, {Name: aws.String("group-name"), Values: []string{"default"}}}})
	if err != nil || len(out.SecurityGroups) != 1 {
		t.Fatalf("DescribeSecurityGroups(default of %s) = %v, %v", vpc, out, err)
	}
	return aws.ToString(out.SecurityGroups[0].GroupId)
}

// defaultVPC returns the default VPC and its subnets.
func (n *npEnv) defaultVPC(t testing.TB) (string, netip.Prefix, []ec2types.Subnet) {
	t.Helper()
	ctx := context.Background()
	vo, err := n.ec2.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{Filters: []ec2types.Filter{{Name: aws.String("isDefault"), Values: []string{"true"}}}})
	if err != nil || len(vo.Vpcs) != 1 {
		t.Fatalf("DescribeVpcs(default) = %v, %v", vo, err)
	}
	vpc := aws.ToString(vo.Vpcs[0].VpcId)
	so, err := n.ec2.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{Filters: []ec2types.Filter{{Name: aws.String("vpc-id"), Values: []string{vpc}}}})
	if err != nil || len(so.Subnets) == 0 {
		t.Fatalf("DescribeSubnets(%s) = %v, %v", vpc, so, err)
	}
	sort.Slice(so.Subnets, func(i, j int) bool {
		return aws.ToString(so.Subnets[i].CidrBlock) < aws.ToString(so.Subnets[j].CidrBlock)
	})
	return vpc, netip.MustParsePrefix(aws.ToString(vo.Vpcs[0].CidrBlock)), so.Subnets
}

func (n *npEnv) createVPC(t testing.TB, cidr string, subnets ...string) (string, []string) {
	t.Helper()
	ctx := context.Background()
	vo, err := n.ec2.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String(cidr)})
	if err != nil {
		t.Fatalf("CreateVpc(%s) = %v", cidr, err)
	}
	vpc := aws.ToString(vo.Vpc.VpcId)
	var ids []string
	for _, s := range subnets {
		so, err := n.ec2.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: aws.String(vpc), CidrBlock: aws.String(s)})
		if err != nil {
			t.Fatalf("CreateSubnet(%s, %s) = %v", vpc, s, err)
		}
		ids = append(ids, aws.ToString(so.Subnet.SubnetId))
	}
	return vpc, ids
}

// dumpTopology renders the network model for a failure message.
func dumpTopology(topo *cec2.Topology) string {
	var b strings.Builder
	fmt.Fprintf(&b, "topology at revision %d:\n", topo.Revision)
	for _, v := range topo.VPCs {
		fmt.Fprintf(&b, "  %s %s default=%v\n", v.ID, v.CIDR, v.IsDefault)
	}
	for _, s := range topo.Subnets {
		fmt.Fprintf(&b, "  %s %s in %s, route table %s\n", s.ID, s.CIDR, s.VpcID, s.RouteTableID)
	}
	for _, r := range topo.RouteTables {
		fmt.Fprintf(&b, "  %s of %s main=%v subnets=%v\n", r.ID, r.VpcID, r.Main, r.Subnets)
		for _, rt := range r.Routes {
			fmt.Fprintf(&b, "    %s -> %s active=%v\n", rt.Dest, rt.Target, rt.Active)
		}
	}
	for _, p := range topo.Peerings {
		fmt.Fprintf(&b, "  %s %s (%s) <-> %s (%s)\n", p.ID, p.RequesterVpcID, p.RequesterCIDR, p.AccepterVpcID, p.AccepterCIDR)
	}
	rule := func(dir string, r cec2.TopoRule) string {
		peer := r.CIDR.String()
		if r.Group != nil {
			peer = r.Group.GroupID
		}
		return fmt.Sprintf("    %s %s %s %d-%d %s\n", dir, r.ID, r.Protocol, r.FromPort, r.ToPort, peer)
	}
	for _, g := range topo.Groups {
		fmt.Fprintf(&b, "  %s %q in %s\n", g.ID, g.Name, g.VpcID)
		for _, r := range g.Ingress {
			b.WriteString(rule("in ", r))
		}
		for _, r := range g.Egress {
			b.WriteString(rule("out", r))
		}
	}
	for _, i := range topo.Interfaces {
		fmt.Fprintf(&b, "  %s %s (%s %s) in %s groups %v\n", i.ID, i.IP, i.InstanceID, i.InstanceState, i.SubnetID, i.Groups)
	}
	return b.String()
}

// routerRuleset lists the nft ruleset of a VPC's router.
func (n *npEnv) routerRuleset(vpc string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd, err := n.env.App.Plane().Command(ctx, vpc, "nft", "list", "ruleset")
	if err != nil {
		return err.Error()
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Sprintf("%s: %v", out, err)
	}
	return string(out)
}

// ---- 1. the differential test ----

// Differential-test sizes: configurations and samples per configuration.
// CI runs without -short: 60 x 16 = 960 samples, 55 to 62 s with -race on
// the shared 2-vCPU development machine (about 1 s per configuration: a
// fresh Cachalot, 3 to 7 instances, up to 3 VPCs, the connects).
const (
	diffConfigs      = 60
	diffConfigsShort = 8
	diffSamples      = 16
	diffConcurrency  = 16
	// diffTimeout bounds a first connect; a blocked connect costs all of it.
	// A connect the evaluator allows that times out is retried with
	// diffRetryTimeout before it counts as a disagreement, and logged: a
	// fresh interface's first ARP request sometimes goes unanswered and the
	// next one leaves a second later (see "Creating an interface" in
	// internal/netplane/BENCH.md).
	diffTimeout      = 400 * time.Millisecond
	diffRetryTimeout = 5 * time.Second
)

// diffStats counts what the samples covered.
type diffStats struct {
	configs, samples, allowed, viaPeering, denied, retried int
	missing                                                map[string]int // denied samples by kind of missing piece
	apiErrs                                                map[string]int // generator calls refused by the API, by code
	elapsed                                                time.Duration
}

// TestNetplaneDifferential drives random configurations through the EC2 API
// and compares, on sampled (source, destination, port) triples, a real TCP
// connect between instance namespaces with the evaluator's verdict on the
// same topology. Each configuration runs in a fresh Cachalot.
//
// CACHALOT_DIFF_SEED sets the seed of the first configuration (configuration
// i uses seed+i); CACHALOT_DIFF_CONFIGS the number of configurations. A
// failure prints the command reproducing its configuration alone.
func TestNetplaneDifferential(t *testing.T) {
	privtest.RequireRoot(t)
	base := time.Now().UnixNano() % 1_000_000_000
	if s := os.Getenv("CACHALOT_DIFF_SEED"); s != "" {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			t.Fatalf("CACHALOT_DIFF_SEED=%q: %v", s, err)
		}
		base = v
	}
	configs := diffConfigs
	if testing.Short() {
		configs = diffConfigsShort
	}
	if s := os.Getenv("CACHALOT_DIFF_CONFIGS"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1 {
			t.Fatalf("CACHALOT_DIFF_CONFIGS=%q: want a positive number", s)
		}
		configs = v
	}
	t.Logf("seed %d, %d configurations x %d samples (reproduce one: CACHALOT_DIFF_SEED=<its seed> CACHALOT_DIFF_CONFIGS=1)", base, configs, diffSamples)
	stats := &diffStats{missing: map[string]int{}, apiErrs: map[string]int{}}
	start := time.Now()
	for i := range configs {
		seed := base + int64(i)
		t.Run(fmt.Sprintf("seed%d", seed), func(t *testing.T) {
			runDiffConfig(t, seed, stats)
		})
	}
	stats.elapsed = time.Since(start)
	t.Logf("%d configurations, %d samples in %v: %d allowed (%d across a peering), %d denied %v; %d allowed connects needed a retry; API refusals %v",
		stats.configs, stats.samples, stats.elapsed.Round(time.Millisecond), stats.allowed, stats.viaPeering, stats.denied, stats.missing, stats.retried, stats.apiErrs)
	if configs >= 5 && (stats.allowed == 0 || stats.denied == 0) {
		t.Errorf("samples were all allowed or all denied: the generator does not exercise both sides")
	}
}

// diffVPC is a VPC of a generated configuration.
type diffVPC struct {
	id      string
	cidr    netip.Prefix
	subnets []netip.Prefix
	snIDs   []string
	groups  []string // [0] is the default group
	mainRtb string
}

// diffGen builds one random configuration through the API, logging every
// call so that a disagreement can be read.
type diffGen struct {
	t     *testing.T
	n     *npEnv
	rng   *rand.Rand
	stats *diffStats
	ops   []string

	vpcs    []*diffVPC
	peered  [2]int // indexes of the peered VPCs when active
	active  bool
	insts   []npInstance
	instVPC []int
	rules   []diffRule
}

type diffRule struct {
	group, id string
	egress    bool
}

var (
	diffPorts  = []int32{22, 80, 443, 3306, 5432, 6379, 8080, 11211}
	diffRanges = [][2]int32{{80, 443}, {1000, 9000}, {6000, 6999}, {8000, 8100}, {3000, 3306}, {11211, 11212}}
)

func (g *diffGen) logf(format string, args ...any) {
	g.ops = append(g.ops, fmt.Sprintf(format, args...))
}

// weighted picks an index with the given weights.
func (g *diffGen) weighted(w ...float64) int {
	var sum float64
	for _, x := range w {
		sum += x
	}
	r := g.rng.Float64() * sum
	for i, x := range w {
		if r < x {
			return i
		}
		r -= x
	}
	return len(w) - 1
}

func (g *diffGen) build() {
	t, n, ctx := g.t, g.n, context.Background()

	// The default VPC, and zero to two more with one or two /24 subnets.
	dv, dcidr, dsub := n.defaultVPC(t)
	def := &diffVPC{id: dv, cidr: dcidr, groups: []string{n.defaultGroupOf(t, dv)}, mainRtb: n.mainRouteTable(t, dv)}
	for _, s := range dsub[:min(3, len(dsub))] {
		def.subnets = append(def.subnets, netip.MustParsePrefix(aws.ToString(s.CidrBlock)))
		def.snIDs = append(def.snIDs, aws.ToString(s.SubnetId))
	}
	g.vpcs = append(g.vpcs, def)
	octets := g.rng.Perm(250)
	for k := range g.weighted(0.2, 0.55, 0.25) {
		o := octets[k] + 1
		cidr := fmt.Sprintf("10.%d.0.0/16", o)
		var subnets []string
		for _, s := range g.rng.Perm(256)[:1+g.rng.IntN(2)] {
			subnets = append(subnets, fmt.Sprintf("10.%d.%d.0/24", o, s))
		}
		id, snIDs := n.createVPC(t, cidr, subnets...)
		g.logf("CreateVpc %s = %s, subnets %v = %v", cidr, id, subnets, snIDs)
		v := &diffVPC{id: id, cidr: netip.MustParsePrefix(cidr), snIDs: snIDs, groups: []string{n.defaultGroupOf(t, id)}, mainRtb: n.mainRouteTable(t, id)}
		for _, s := range subnets {
			v.subnets = append(v.subnets, netip.MustParsePrefix(s))
		}
		g.vpcs = append(g.vpcs, v)
	}

	// Maybe a peering, maybe accepted, with routes on neither, one or both sides.
	if len(g.vpcs) >= 2 && g.rng.Float64() < 0.8 {
		p := g.rng.Perm(len(g.vpcs))[:2]
		a, b := g.vpcs[p[0]], g.vpcs[p[1]]
		out, err := n.ec2.CreateVpcPeeringConnection(ctx, &ec2.CreateVpcPeeringConnectionInput{VpcId: aws.String(a.id), PeerVpcId: aws.String(b.id)})
		if err != nil {
			t.Fatalf("CreateVpcPeeringConnection(%s, %s) = %v", a.id, b.id, err)
		}
		pcx := aws.ToString(out.VpcPeeringConnection.VpcPeeringConnectionId)
		g.logf("CreateVpcPeeringConnection %s -> %s = %s", a.id, b.id, pcx)
		if g.rng.Float64() < 0.85 {
			if _, err := n.ec2.AcceptVpcPeeringConnection(ctx, &ec2.AcceptVpcPeeringConnectionInput{VpcPeeringConnectionId: aws.String(pcx)}); err != nil {
				t.Fatalf("AcceptVpcPeeringConnection(%s) = %v", pcx, err)
			}
			g.logf("AcceptVpcPeeringConnection %s", pcx)
			g.active, g.peered = true, [2]int{p[0], p[1]}
			for _, side := range [][2]*diffVPC{{a, b}, {b, a}} {
				from, to := side[0], side[1]
				if g.rng.Float64() >= 0.85 {
					continue
				}
				dest := to.cidr.String()
				switch g.weighted(0.6, 0.3, 0.1) {
				case 1:
					dest = to.subnets[g.rng.IntN(len(to.subnets))].String()
				case 2:
					if !to.cidr.Overlaps(netip.MustParsePrefix("10.0.0.0/8")) || !from.cidr.Overlaps(netip.MustParsePrefix("10.0.0.0/8")) {
						dest = netip.PrefixFrom(to.cidr.Addr(), 8).Masked().String()
					}
				}
				rtb := from.mainRtb
				if g.rng.Float64() < 0.4 {
					// The route only in a table of one subnet (was known bug 1,
					// fixed: routers check the source subnet's routes).
					rtb = n.subnetRouteTable(t, from.id, from.snIDs[g.rng.IntN(len(from.snIDs))])
					g.logf("CreateRouteTable in %s = %s, associated with one subnet", from.id, rtb)
				}
				if _, err := n.ec2.CreateRoute(ctx, &ec2.CreateRouteInput{RouteTableId: aws.String(rtb),
					DestinationCidrBlock: aws.String(dest), VpcPeeringConnectionId: aws.String(pcx)}); err != nil {
					t.Fatalf("CreateRoute(%s, %s -> %s) = %v", rtb, dest, pcx, err)
				}
				g.logf("CreateRoute %s %s -> %s", rtb, dest, pcx)
			}
		}
	}

	// Groups: one to three per VPC besides the default group; some lose
	// their default egress rule, default groups sometimes lose theirs.
	for vi, v := range g.vpcs {
		for k := range 1 + g.rng.IntN(3) {
			id := n.createGroup(t, fmt.Sprintf("g%d-%d", vi, k), v.id)
			g.logf("CreateSecurityGroup g%d-%d in %s = %s", vi, k, v.id, id)
			v.groups = append(v.groups, id)
			if g.rng.Float64() < 0.45 {
				n.revokeAllEgress(t, id)
				g.logf("RevokeSecurityGroupEgress %s -1 0.0.0.0/0", id)
			}
		}
		dg := v.groups[0]
		if g.rng.Float64() < 0.2 {
			n.revokeAllEgress(t, dg)
			g.logf("RevokeSecurityGroupEgress %s -1 0.0.0.0/0", dg)
		}
		if g.rng.Float64() < 0.2 {
			if _, err := n.ec2.RevokeSecurityGroupIngress(ctx, &ec2.RevokeSecurityGroupIngressInput{GroupId: aws.String(dg),
				IpPermissions: []ec2types.IpPermission{{IpProtocol: aws.String("-1"), UserIdGroupPairs: []ec2types.UserIdGroupPair{{GroupId: aws.String(dg)}}}}}); err != nil {
				t.Fatalf("RevokeSecurityGroupIngress(%s, self) = %v", dg, err)
			}
			g.logf("RevokeSecurityGroupIngress %s -1 from itself", dg)
		}
	}

	// Rules before any instance exists.
	for vi, v := range g.vpcs {
		for _, gid := range v.groups {
			for range g.rng.IntN(4) {
				g.addRule(vi, gid, false)
			}
			for range g.rng.IntN(3) {
				g.addRule(vi, gid, true)
			}
		}
	}

	// Three to seven instances, each in one to five groups of its VPC.
	// While a peering is active, half of them go to its two VPCs.
	for range 3 + g.rng.IntN(5) {
		vi := g.rng.IntN(len(g.vpcs))
		if g.active && g.rng.Float64() < 0.5 {
			vi = g.peered[g.rng.IntN(2)]
		}
		v := g.vpcs[vi]
		sn := v.snIDs[g.rng.IntN(len(v.snIDs))]
		groups := g.pickGroups(v)
		inst := n.runInstance(t, sn, groups...)
		g.logf("RunInstances subnet %s groups %v = %s %s %s", sn, groups, inst.ID, inst.ENI, inst.IP)
		g.insts = append(g.insts, inst)
		g.instVPC = append(g.instVPC, vi)
	}

	// Rules after: now /32s and /28s of instances can be named.
	for range g.rng.IntN(5) {
		vi := g.rng.IntN(len(g.vpcs))
		v := g.vpcs[vi]
		g.addRule(vi, v.groups[g.rng.IntN(len(v.groups))], g.rng.Float64() < 0.3)
	}

	// Changes: group membership, a revoke.
	if g.rng.Float64() < 0.35 {
		k := g.rng.IntN(len(g.insts))
		groups := g.pickGroups(g.vpcs[g.instVPC[k]])
		if g.rng.Float64() < 0.5 {
			if _, err := n.ec2.ModifyInstanceAttribute(ctx, &ec2.ModifyInstanceAttributeInput{InstanceId: aws.String(g.insts[k].ID), Groups: groups}); err != nil {
				t.Fatalf("ModifyInstanceAttribute(%s, groups %v) = %v", g.insts[k].ID, groups, err)
			}
			g.logf("ModifyInstanceAttribute %s groups %v", g.insts[k].ID, groups)
		} else {
			if _, err := n.ec2.ModifyNetworkInterfaceAttribute(ctx, &ec2.ModifyNetworkInterfaceAttributeInput{NetworkInterfaceId: aws.String(g.insts[k].ENI), Groups: groups}); err != nil {
				t.Fatalf("ModifyNetworkInterfaceAttribute(%s, groups %v) = %v", g.insts[k].ENI, groups, err)
			}
			g.logf("ModifyNetworkInterfaceAttribute %s groups %v", g.insts[k].ENI, groups)
		}
	}
	if len(g.rules) > 0 && g.rng.Float64() < 0.35 {
		r := g.rules[g.rng.IntN(len(g.rules))]
		var err error
		if r.egress {
			_, err = n.ec2.RevokeSecurityGroupEgress(ctx, &ec2.RevokeSecurityGroupEgressInput{GroupId: aws.String(r.group), SecurityGroupRuleIds: []string{r.id}})
		} else {
			_, err = n.ec2.RevokeSecurityGroupIngress(ctx, &ec2.RevokeSecurityGroupIngressInput{GroupId: aws.String(r.group), SecurityGroupRuleIds: []string{r.id}})
		}
		if err != nil {
			t.Fatalf("revoke %s of %s (egress %v) = %v", r.id, r.group, r.egress, err)
		}
		g.logf("Revoke %s of %s (egress %v)", r.id, r.group, r.egress)
	}
}

// instIn returns a random instance of VPC vi, or -1.
func (g *diffGen) instIn(vi int) int {
	var in []int
	for k, v := range g.instVPC {
		if v == vi {
			in = append(in, k)
		}
	}
	if len(in) == 0 {
		return -1
	}
	return in[g.rng.IntN(len(in))]
}

// pickGroups picks one to five distinct groups of v.
func (g *diffGen) pickGroups(v *diffVPC) []string {
	k := 1 + g.rng.IntN(min(5, len(v.groups)))
	var out []string
	for _, i := range g.rng.Perm(len(v.groups))[:k] {
		out = append(out, v.groups[i])
	}
	return out
}

// addRule authorizes a random rule on group gid of VPC vi.
func (g *diffGen) addRule(vi int, gid string, egress bool) {
	t, n, ctx := g.t, g.n, context.Background()
	v := g.vpcs[vi]
	p := ec2types.IpPermission{}
	proto := []string{"tcp", "udp", "-1", "icmp", "6", "47"}[g.weighted(0.6, 0.12, 0.13, 0.05, 0.05, 0.05)]
	p.IpProtocol = aws.String(proto)
	switch proto {
	case "tcp", "udp", "6":
		var from, to int32
		switch g.weighted(0.55, 0.35, 0.1) {
		case 0:
			from = diffPorts[g.rng.IntN(len(diffPorts))]
			to = from
		case 1:
			r := diffRanges[g.rng.IntN(len(diffRanges))]
			from, to = r[0], r[1]
		case 2:
			from, to = 0, 65535
		}
		p.FromPort, p.ToPort = aws.Int32(from), aws.Int32(to)
	case "icmp":
		p.FromPort, p.ToPort = aws.Int32(-1), aws.Int32(-1)
	}
	peer := ""
	// Groups this group's rules may name: its VPC's, and the peer VPC's
	// while the peering is active.
	refs := slices.Clone(v.groups)
	if g.active && (vi == g.peered[0] || vi == g.peered[1]) {
		other := g.peered[0] + g.peered[1] - vi
		refs = append(refs, g.vpcs[other].groups...)
	}
	if g.rng.Float64() < 0.4 {
		peer = refs[g.rng.IntN(len(refs))]
		p.UserIdGroupPairs = []ec2types.UserIdGroupPair{{GroupId: aws.String(peer)}}
	} else {
		var cands []string
		cands = append(cands, "0.0.0.0/0", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", v.cidr.String())
		for _, o := range g.vpcs {
			cands = append(cands, o.cidr.String())
			for _, s := range o.subnets {
				cands = append(cands, s.String())
			}
		}
		for _, in := range g.insts {
			a := netip.MustParseAddr(in.IP)
			cands = append(cands, netip.PrefixFrom(a, 32).String(), netip.PrefixFrom(a, 32).String(), netip.PrefixFrom(a, 28).Masked().String())
		}
		peer = cands[g.rng.IntN(len(cands))]
		p.IpRanges = []ec2types.IpRange{{CidrIp: aws.String(peer)}}
	}
	var (
		rules []ec2types.SecurityGroupRule
		err   error
	)
	if egress {
		var out *ec2.AuthorizeSecurityGroupEgressOutput
		out, err = n.ec2.AuthorizeSecurityGroupEgress(ctx, &ec2.AuthorizeSecurityGroupEgressInput{GroupId: aws.String(gid), IpPermissions: []ec2types.IpPermission{p}})
		if err == nil {
			rules = out.SecurityGroupRules
		}
	} else {
		var out *ec2.AuthorizeSecurityGroupIngressOutput
		out, err = n.ec2.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: aws.String(gid), IpPermissions: []ec2types.IpPermission{p}})
		if err == nil {
			rules = out.SecurityGroupRules
		}
	}
	dir := "ingress from"
	if egress {
		dir = "egress to"
	}
	ports := "all ports"
	if p.FromPort != nil {
		ports = fmt.Sprintf("%d-%d", *p.FromPort, *p.ToPort)
	}
	desc := fmt.Sprintf("%s %s %s %s %s", gid, proto, ports, dir, peer)
	switch code := npCode(err); {
	case err == nil:
		id := aws.ToString(rules[0].SecurityGroupRuleId)
		g.rules = append(g.rules, diffRule{group: gid, id: id, egress: egress})
		g.logf("Authorize %s = %s", desc, id)
	case code == "InvalidPermission.Duplicate":
		g.stats.apiErrs[code]++
		g.logf("Authorize %s: duplicate", desc)
	default:
		t.Fatalf("Authorize %s = %v", desc, err)
	}
}

// diffSample is one sampled flow and what came of it.
type diffSample struct {
	src, dst int
	port     int
	verdict  sgeval.Verdict
	got      probe
	err      error
}

func runDiffConfig(t *testing.T, seed int64, stats *diffStats) {
	n := startNP(t)
	g := &diffGen{t: t, n: n, rng: rand.New(rand.NewPCG(uint64(seed), 0x5eed)), stats: stats}
	g.build()
	n.waitIdle(t)

	topo, err := n.env.App.EC2().Topology(context.Background(), cec2.TopologySelector{})
	if err != nil {
		t.Fatalf("Topology = %v", err)
	}
	ev := sgeval.New(topo)

	// Ports worth sampling: the common ones and the edges of every rule's range.
	ports := map[int]bool{}
	for _, p := range diffPorts {
		ports[int(p)] = true
	}
	for _, gr := range topo.Groups {
		for _, r := range slices.Concat(gr.Ingress, gr.Egress) {
			if r.Protocol == "tcp" || r.Protocol == "udp" {
				for _, p := range []int32{r.FromPort - 1, r.FromPort, r.ToPort, r.ToPort + 1} {
					if p >= 1 && p <= 65535 {
						ports[int(p)] = true
					}
				}
			}
		}
	}
	portList := make([]int, 0, len(ports))
	for p := range ports {
		portList = append(portList, p)
	}
	sort.Ints(portList)

	var samples []*diffSample
	seen := map[[3]int]bool{}
	for try := 0; len(samples) < diffSamples && try < 10*diffSamples; try++ {
		s, d := g.rng.IntN(len(g.insts)), g.rng.IntN(len(g.insts))
		if g.active && g.rng.Float64() < 0.4 {
			// Across the peering, when both sides have instances.
			s, d = g.instIn(g.peered[0]), g.instIn(g.peered[1])
			if g.rng.IntN(2) == 0 {
				s, d = d, s
			}
			if s < 0 || d < 0 {
				continue
			}
		}
		port := portList[g.rng.IntN(len(portList))]
		if s == d || seen[[3]int{s, d, port}] {
			continue
		}
		seen[[3]int{s, d, port}] = true
		v := ev.Check(sgeval.Flow{Src: sgeval.Endpoint{Interface: g.insts[s].ENI}, Dst: sgeval.Endpoint{Interface: g.insts[d].ENI}, Protocol: "tcp", Port: int32(port)})
		samples = append(samples, &diffSample{src: s, dst: d, port: port, verdict: v})
	}
	listening := map[[2]int]bool{}
	for _, s := range samples {
		if !listening[[2]int{s.dst, s.port}] {
			listening[[2]int{s.dst, s.port}] = true
			n.listen(t, g.insts[s.dst].ENI, s.port)
		}
	}

	probeAll := func(list []*diffSample, timeout time.Duration) {
		sem := make(chan struct{}, diffConcurrency)
		var wg sync.WaitGroup
		for _, s := range list {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				s.got, s.err = connect(n, g.insts[s.src].ENI, g.insts[s.dst].IP, s.port, timeout)
			}()
		}
		wg.Wait()
	}
	probeAll(samples, diffTimeout)
	var retry []*diffSample
	for _, s := range samples {
		if s.err == nil && s.verdict.Allowed && !s.got.Passed {
			retry = append(retry, s)
		}
	}
	if len(retry) > 0 {
		t0 := time.Now()
		probeAll(retry, diffRetryTimeout)
		for _, s := range retry {
			if s.got.Passed {
				stats.retried++
				t.Logf("retry of %s -> %s tcp/%d (instances #%d and #%d of %d in launch order) passed (%s) within %v",
					g.insts[s.src].ID, g.insts[s.dst].ID, s.port, s.src+1, s.dst+1, len(g.insts), s.got.Detail, time.Since(t0))
			}
		}
	}

	stats.configs++
	var bad []string
	for _, s := range samples {
		src, dst := g.insts[s.src], g.insts[s.dst]
		flow := fmt.Sprintf("%s %s (%s) -> %s %s (%s) tcp/%d", src.ID, src.IP, src.ENI, dst.ID, dst.IP, dst.ENI, s.port)
		if s.err != nil {
			t.Errorf("connect %s: %v", flow, s.err)
			continue
		}
		stats.samples++
		if s.verdict.Allowed {
			stats.allowed++
			if strings.HasPrefix(s.verdict.Path, "pcx-") {
				stats.viaPeering++
			}
		} else {
			stats.denied++
			kinds := map[string]bool{}
			for _, m := range s.verdict.Missing {
				kinds[m.Kind] = true
			}
			stats.missing[strings.Join(slices.Sorted(maps.Keys(kinds)), "+")]++
		}
		if s.got.Passed != s.verdict.Allowed {
			bad = append(bad, fmt.Sprintf("%s: kernel %s, sgeval %s", flow, s.got.Detail, s.verdict))
		}
	}
	if len(bad) > 0 {
		var routers strings.Builder
		for _, v := range g.vpcs {
			fmt.Fprintf(&routers, "--- router of %s:\n%s\n", v.id, n.routerRuleset(v.id))
		}
		t.Errorf("seed %d: %d of %d samples disagree (reproduce: CACHALOT_DIFF_SEED=%d CACHALOT_DIFF_CONFIGS=1 go test -run NetplaneDifferential -v ./internal/app/)\n%s\n\nAPI calls:\n  %s\n\n%s\n%s",
			seed, len(bad), len(samples), seed, strings.Join(bad, "\n"), strings.Join(g.ops, "\n  "), dumpTopology(topo), routers.String())
	}
}

// ---- 2. focused tests ----

// TestNetplaneStatefulReplies: the client's group may only send, the
// server's may only receive, and a connection still works both ways,
// because security groups are stateful; the server cannot open one back.
func TestNetplaneStatefulReplies(t *testing.T) {
	n := startNP(t)
	vpc, _, _ := n.defaultVPC(t)
	cli := n.createGroup(t, "egress-only", vpc) // keeps its default all-egress rule, no ingress
	srv := n.createGroup(t, "ingress-only", vpc)
	n.revokeAllEgress(t, srv)
	n.allowIn(t, srv, tcpPerm(8080, cli))
	c := n.runInstance(t, "", cli)
	s := n.runInstance(t, "", srv)
	n.waitIdle(t)
	n.listen(t, s.ENI, 8080)
	n.listen(t, c.ENI, 9000)

	n.expect(t, "client to server", c, s, 8080, true)
	n.expect(t, "server to client", s, c, 9000, false)
	if v := sgevalReply(t, n, s.ENI, c.ENI, 8080); !v.Allowed || !v.Reply {
		t.Errorf("sgeval reply %s -> %s = %s, want allowed as a reply", s.ID, c.ID, v)
	}
	// The reply carries data, not just the handshake.
	conn := dialEcho(t, n, c.ENI, s.IP, 8080)
	echo(t, conn, "hello through a stateful firewall")
}

func sgevalReply(t *testing.T, n *npEnv, src, dst string, port int) sgeval.Verdict {
	t.Helper()
	topo, err := n.env.App.EC2().Topology(context.Background(), cec2.TopologySelector{})
	if err != nil {
		t.Fatal(err)
	}
	return sgeval.New(topo).Check(sgeval.Flow{Src: sgeval.Endpoint{Interface: src}, Dst: sgeval.Endpoint{Interface: dst}, Protocol: "tcp", Port: int32(port), Reply: true})
}

// dialEcho connects from inside src's namespace (closed at the end of the test).
func dialEcho(t *testing.T, n *npEnv, src, addr string, port int) net.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := n.env.App.Plane().Dial(ctx, src, "tcp4", net.JoinHostPort(addr, strconv.Itoa(port)))
	if err != nil {
		t.Fatalf("Dial(%s -> %s:%d) = %v", src, addr, port, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// echo writes msg and wants it back within two seconds.
func echo(t *testing.T, c net.Conn, msg string) {
	t.Helper()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := io.WriteString(c, msg); err != nil {
		t.Fatalf("write on %v: %v", c.LocalAddr(), err)
	}
	buf := make([]byte, len(msg))
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != msg {
		t.Fatalf("echo on %v -> %v = %q, %v; want %q", c.LocalAddr(), c.RemoteAddr(), buf, err, msg)
	}
}

// TestNetplaneRevokeKeepsEstablished: a rule added through the API admits
// new connections; once revoked, new connections are refused while one
// opened before the revoke keeps working (AWS tracks established flows).
func TestNetplaneRevokeKeepsEstablished(t *testing.T) {
	n := startNP(t)
	vpc, _, _ := n.defaultVPC(t)
	cg, sg := n.createGroup(t, "client", vpc), n.createGroup(t, "server", vpc)
	c := n.runInstance(t, "", cg)
	s := n.runInstance(t, "", sg)
	n.waitIdle(t)
	n.listen(t, s.ENI, 7000)
	n.expect(t, "before the rule", c, s, 7000, false)

	rule := n.allowIn(t, sg, tcpPerm(7000, c.IP+"/32"))
	n.waitIdle(t)
	n.expect(t, "after authorize", c, s, 7000, true)
	established := dialEcho(t, n, c.ENI, s.IP, 7000)
	echo(t, established, "before the revoke")

	n.revokeIn(t, sg, rule)
	n.waitIdle(t)
	n.expect(t, "new connection after revoke", c, s, 7000, false)
	echo(t, established, "after the revoke, on the connection opened before")
	// Still alive a little later, after more rule changes.
	other := n.allowIn(t, sg, tcpPerm(7001, c.IP+"/32"))
	n.revokeIn(t, sg, other)
	n.waitIdle(t)
	echo(t, established, "after two more ruleset replacements")
	n.expect(t, "new connection after more changes", c, s, 7000, false)
}

// TestNetplaneGroupMembership: a rule admits members of a group; an
// instance joins it (ModifyInstanceAttribute, ModifyNetworkInterfaceAttribute)
// and can connect, leaves it and cannot.
func TestNetplaneGroupMembership(t *testing.T) {
	n := startNP(t)
	vpc, _, _ := n.defaultVPC(t)
	app, other, db := n.createGroup(t, "app", vpc), n.createGroup(t, "other", vpc), n.createGroup(t, "db", vpc)
	n.allowIn(t, db, tcpPerm(5432, app))
	a := n.runInstance(t, "", other)
	b := n.runInstance(t, "", other)
	s := n.runInstance(t, "", db)
	n.waitIdle(t)
	n.listen(t, s.ENI, 5432)
	n.expect(t, "a outside app", a, s, 5432, false)
	n.expect(t, "b outside app", b, s, 5432, false)

	ctx := context.Background()
	if _, err := n.ec2.ModifyInstanceAttribute(ctx, &ec2.ModifyInstanceAttributeInput{InstanceId: aws.String(a.ID), Groups: []string{other, app}}); err != nil {
		t.Fatalf("ModifyInstanceAttribute(%s, +app) = %v", a.ID, err)
	}
	if _, err := n.ec2.ModifyNetworkInterfaceAttribute(ctx, &ec2.ModifyNetworkInterfaceAttributeInput{NetworkInterfaceId: aws.String(b.ENI), Groups: []string{app}}); err != nil {
		t.Fatalf("ModifyNetworkInterfaceAttribute(%s, app) = %v", b.ENI, err)
	}
	n.waitIdle(t)
	n.expect(t, "a joined app (ModifyInstanceAttribute)", a, s, 5432, true)
	n.expect(t, "b joined app (ModifyNetworkInterfaceAttribute)", b, s, 5432, true)
	n.expect(t, "a on another port", a, s, 5433, false)

	if _, err := n.ec2.ModifyInstanceAttribute(ctx, &ec2.ModifyInstanceAttributeInput{InstanceId: aws.String(a.ID), Groups: []string{other}}); err != nil {
		t.Fatalf("ModifyInstanceAttribute(%s, -app) = %v", a.ID, err)
	}
	if _, err := n.ec2.ModifyNetworkInterfaceAttribute(ctx, &ec2.ModifyNetworkInterfaceAttributeInput{NetworkInterfaceId: aws.String(b.ENI), Groups: []string{other}}); err != nil {
		t.Fatalf("ModifyNetworkInterfaceAttribute(%s, other) = %v", b.ENI, err)
	}
	n.waitIdle(t)
	n.expect(t, "a left app", a, s, 5432, false)
	n.expect(t, "b left app", b, s, 5432, false)

	// A new instance launched into app is admitted at once.
	c := n.runInstance(t, "", app)
	n.waitIdle(t)
	n.expect(t, "new member c", c, s, 5432, true)
}

// TestNetplanePeering: an instance in VPC B reaches one in VPC A only once
// the peering is accepted, both sides route to each other and a rule admits
// it; not after the peering is deleted.
func TestNetplanePeering(t *testing.T) {
	n := startNP(t)
	ctx := context.Background()
	vpcA, cidrA, _ := n.defaultVPC(t)
	vpcB, subB := n.createVPC(t, "10.20.0.0/16", "10.20.1.0/24")
	ga, gb := n.createGroup(t, "a", vpcA), n.createGroup(t, "b", vpcB)
	a := n.runInstance(t, "", ga)
	b := n.runInstance(t, subB[0], gb)
	n.waitIdle(t)
	n.listen(t, a.ENI, 6379)
	n.listen(t, b.ENI, 6379)
	n.expect(t, "no peering", b, a, 6379, false)

	po, err := n.ec2.CreateVpcPeeringConnection(ctx, &ec2.CreateVpcPeeringConnectionInput{VpcId: aws.String(vpcB), PeerVpcId: aws.String(vpcA)})
	if err != nil {
		t.Fatalf("CreateVpcPeeringConnection = %v", err)
	}
	pcx := aws.ToString(po.VpcPeeringConnection.VpcPeeringConnectionId)
	rule := n.allowIn(t, ga, tcpPerm(6379, "10.20.0.0/16"))
	n.waitIdle(t)
	n.expect(t, "peering pending, rule present", b, a, 6379, false)
	n.revokeIn(t, ga, rule)

	if _, err := n.ec2.AcceptVpcPeeringConnection(ctx, &ec2.AcceptVpcPeeringConnectionInput{VpcPeeringConnectionId: aws.String(pcx)}); err != nil {
		t.Fatalf("AcceptVpcPeeringConnection = %v", err)
	}
	n.waitIdle(t)
	n.expect(t, "accepted, no routes", b, a, 6379, false)

	route := func(rtb, dest string) {
		t.Helper()
		if _, err := n.ec2.CreateRoute(ctx, &ec2.CreateRouteInput{RouteTableId: aws.String(rtb), DestinationCidrBlock: aws.String(dest), VpcPeeringConnectionId: aws.String(pcx)}); err != nil {
			t.Fatalf("CreateRoute(%s, %s) = %v", rtb, dest, err)
		}
	}
	route(n.mainRouteTable(t, vpcB), cidrA.String())
	n.allowIn(t, ga, tcpPerm(6379, "10.20.0.0/16"))
	n.waitIdle(t)
	n.expect(t, "route on B's side only, rule present", b, a, 6379, false)

	route(n.mainRouteTable(t, vpcA), "10.20.0.0/16")
	n.waitIdle(t)
	n.expect(t, "routes on both sides and a rule", b, a, 6379, true)
	n.expect(t, "reverse direction (B admits nothing)", a, b, 6379, false)

	// A rule naming the peer VPC's group instead of its CIDR.
	n.revokeIn(t, ga, findRule(t, n, ga, "10.20.0.0/16"))
	n.waitIdle(t)
	n.expect(t, "CIDR rule revoked", b, a, 6379, false)
	n.allowIn(t, ga, tcpPerm(6379, gb))
	n.waitIdle(t)
	n.expect(t, "rule naming the peer's group", b, a, 6379, true)

	if _, err := n.ec2.DeleteVpcPeeringConnection(ctx, &ec2.DeleteVpcPeeringConnectionInput{VpcPeeringConnectionId: aws.String(pcx)}); err != nil {
		t.Fatalf("DeleteVpcPeeringConnection = %v", err)
	}
	n.waitIdle(t)
	n.expect(t, "peering deleted", b, a, 6379, false)
}

// findRule returns the id of the ingress rule of group naming cidr.
func findRule(t *testing.T, n *npEnv, group, cidr string) string {
	t.Helper()
	out, err := n.ec2.DescribeSecurityGroupRules(context.Background(), &ec2.DescribeSecurityGroupRulesInput{
		Filters: []ec2types.Filter{{Name: aws.String("group-id"), Values: []string{group}}}})
	if err != nil {
		t.Fatalf("DescribeSecurityGroupRules(%s) = %v", group, err)
	}
	for _, r := range out.SecurityGroupRules {
		if !aws.ToBool(r.IsEgress) && aws.ToString(r.CidrIpv4) == cidr {
			return aws.ToString(r.SecurityGroupRuleId)
		}
	}
	t.Fatalf("group %s has no ingress rule from %s", group, cidr)
	return ""
}

// TestNetplanePeeringRouteTablePerSubnet: the route to a peer is in the
// route table of one subnet only; an instance of the other subnet must not
// reach the peer (AWS routes by the table of the sender's subnet).
//
// Known bug 1: the kernel lets it through. internal/app/network.go merges
// the peering routes of every route table of a VPC into one per-VPC list
// (netplane.PeeringSide.Routes), and the VPC router routes by destination
// only, so a route in any table serves every subnet.
func TestNetplanePeeringRouteTablePerSubnet(t *testing.T) {
	privtest.RequireRoot(t)
	n := startNP(t)
	ctx := context.Background()
	vpcA, subA := n.createVPC(t, "10.1.0.0/16", "10.1.1.0/24", "10.1.2.0/24")
	vpcB, subB := n.createVPC(t, "10.2.0.0/16", "10.2.1.0/24")
	ga, gb := n.createGroup(t, "a", vpcA), n.createGroup(t, "b", vpcB)
	n.allowIn(t, gb, tcpPerm(80, "10.1.0.0/16"))
	po, err := n.ec2.CreateVpcPeeringConnection(ctx, &ec2.CreateVpcPeeringConnectionInput{VpcId: aws.String(vpcA), PeerVpcId: aws.String(vpcB)})
	if err != nil {
		t.Fatalf("CreateVpcPeeringConnection = %v", err)
	}
	pcx := po.VpcPeeringConnection.VpcPeeringConnectionId
	if _, err := n.ec2.AcceptVpcPeeringConnection(ctx, &ec2.AcceptVpcPeeringConnectionInput{VpcPeeringConnectionId: pcx}); err != nil {
		t.Fatalf("AcceptVpcPeeringConnection = %v", err)
	}
	for _, r := range []struct{ rtb, dest string }{{n.subnetRouteTable(t, vpcA, subA[0]), "10.2.0.0/16"}, {n.mainRouteTable(t, vpcB), "10.1.0.0/16"}} {
		if _, err := n.ec2.CreateRoute(ctx, &ec2.CreateRouteInput{RouteTableId: aws.String(r.rtb), DestinationCidrBlock: aws.String(r.dest), VpcPeeringConnectionId: pcx}); err != nil {
			t.Fatalf("CreateRoute(%s, %s) = %v", r.rtb, r.dest, err)
		}
	}
	a1 := n.runInstance(t, subA[0], ga)
	a2 := n.runInstance(t, subA[1], ga)
	b := n.runInstance(t, subB[0], gb)
	n.waitIdle(t)
	n.listen(t, b.ENI, 80)
	n.expect(t, "a1 (its subnet's table routes to the peer)", a1, b, 80, true)
	n.expect(t, "a2 (its subnet's table, the main one, does not)", a2, b, 80, false)
}

// TestNetplaneStopStart: stopping an instance removes its interface from
// the kernel (nothing reaches it), starting it realises the interface again
// with the same address and groups.
func TestNetplaneStopStart(t *testing.T) {
	n := startNP(t)
	ctx := context.Background()
	vpc, _, _ := n.defaultVPC(t)
	g := n.createGroup(t, "web", vpc)
	n.allowIn(t, g, tcpPerm(80, "0.0.0.0/0"))
	a := n.runInstance(t, "", g)
	s := n.runInstance(t, "", g)
	n.waitIdle(t)
	n.listen(t, s.ENI, 80)
	n.expect(t, "running", a, s, 80, true)
	if _, err := n.ec2.StopInstances(ctx, &ec2.StopInstancesInput{InstanceIds: []string{s.ID}}); err != nil {
		t.Fatalf("StopInstances = %v", err)
	}
	n.waitIdle(t)
	if p, err := connect(n, a.ENI, s.IP, 80, 400*time.Millisecond); err != nil || p.Passed {
		t.Errorf("connect to the stopped instance = %v, %v; want blocked", p, err)
	}
	if _, err := n.env.App.Plane().Dial(ctx, s.ENI, "tcp4", a.IP+":80"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the stopped instance's namespace: Dial = %v, want no namespace", err)
	}
	if _, err := n.ec2.StartInstances(ctx, &ec2.StartInstancesInput{InstanceIds: []string{s.ID}}); err != nil {
		t.Fatalf("StartInstances = %v", err)
	}
	n.waitIdle(t)
	n.listen(t, s.ENI, 80)
	n.expect(t, "started again", a, s, 80, true)
	n.expect(t, "started again, other port", a, s, 81, false)
}

// TestNetplaneStoppedInstance: a stopped instance's interface is not
// realised, so nothing reaches it; the evaluator must say so too.
//
// Known bug 2: sgeval.Check ignores TopoInterface.InstanceState and answers
// "allowed via local" for a flow to (or from) a stopped instance, while
// internal/app/network.go leaves stopped instances out of the kernel.
func TestNetplaneStoppedInstance(t *testing.T) {
	privtest.RequireRoot(t)
	n := startNP(t)
	vpc, _, _ := n.defaultVPC(t)
	g := n.createGroup(t, "web", vpc)
	n.allowIn(t, g, tcpPerm(80, "0.0.0.0/0"))
	a := n.runInstance(t, "", g)
	s := n.runInstance(t, "", g)
	n.waitIdle(t)
	n.listen(t, s.ENI, 80)
	n.expect(t, "running", a, s, 80, true)
	if _, err := n.ec2.StopInstances(context.Background(), &ec2.StopInstancesInput{InstanceIds: []string{s.ID}}); err != nil {
		t.Fatalf("StopInstances = %v", err)
	}
	n.waitIdle(t)
	n.expect(t, "stopped", a, s, 80, false)
}

// ---- 3. crash convergence ----

// TestNetplaneCrashConvergence runs the real binary: VPC resources, an
// instance pair and (with redis-server installed) a Redis cluster are made
// through the API; the daemon is killed with SIGKILL; the namespaces, rules
// and the engine keep working without it; a second daemon adopts them and
// converges a new rule; teardown leaves nothing of the installation.
func TestNetplaneCrashConvergence(t *testing.T) {
	privtest.RequireRoot(t)
	ctx := context.Background()
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "cachalot")
	gomod, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil || len(bytes.TrimSpace(gomod)) == 0 {
		t.Fatalf("go env GOMOD = %q, %v", gomod, err)
	}
	build := exec.Command("go", "build", "-o", bin, "./cmd/cachalot")
	build.Dir = filepath.Dir(string(bytes.TrimSpace(gomod)))
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	dir := filepath.Join(tmp, "data")
	prefix := app.InstallPrefix(dir)
	logPath := filepath.Join(tmp, "serve.log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()

	var daemon *exec.Cmd
	stop := func(sig syscall.Signal) {
		if daemon == nil {
			return
		}
		daemon.Process.Signal(sig)
		done := make(chan error, 1)
		go func() { done <- daemon.Wait() }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			daemon.Process.Kill()
			<-done
		}
		daemon = nil
	}
	t.Cleanup(func() {
		stop(syscall.SIGKILL)
		tctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		exec.CommandContext(tctx, bin, "teardown", "--data-dir", dir).Run()
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("cachalot serve output:\n%s", b)
		}
	})
	var ec *elasticache.Client // of the current daemon
	start := func() *ec2.Client {
		t.Helper()
		os.Remove(filepath.Join(dir, app.EndpointFile))
		daemon = exec.Command(bin, "serve", "--listen", "127.0.0.1:0", "--data-dir", dir, "--log-level", "warn")
		daemon.Stdout, daemon.Stderr = logf, logf
		daemon.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // SIGKILL reaches the daemon alone
		if err := daemon.Start(); err != nil {
			t.Fatalf("start cachalot serve: %v", err)
		}
		var url string
		for deadline := time.Now().Add(30 * time.Second); url == "" && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			b, _ := os.ReadFile(filepath.Join(dir, app.EndpointFile))
			url = strings.TrimSpace(string(b))
		}
		if url == "" {
			t.Fatalf("cachalot serve wrote no endpoint file within 30s")
		}
		creds, err := app.ReadCredentials(dir)
		if err != nil {
			t.Fatal(err)
		}
		cfg := (&apptest.Env{URL: url, Root: creds}).Config()
		ec = elasticache.NewFromConfig(cfg)
		return ec2.NewFromConfig(cfg)
	}
	// The test's own plane handle with the installation's prefix: it only
	// enters the daemon's namespaces (Dial, Listen), never applies.
	plane, err := netplane.New(netplane.Config{Prefix: prefix, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	reach := func(what, src, addr string, port int, want bool) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			c, err := plane.Dial(ctx, src, "tcp4", net.JoinHostPort(addr, strconv.Itoa(port)))
			cancel()
			p, perr := classify(c, err)
			if perr == nil && p.Passed == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: connect %s -> %s:%d = %v %v for 30s, want passed=%v", what, src, addr, port, p.Detail, perr, want)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	ne := &npEnv{ec2: start()}
	vpc, _, _ := ne.defaultVPC(t)
	cli, srv := ne.createGroup(t, "cli", vpc), ne.createGroup(t, "srv", vpc)
	ne.allowIn(t, srv, tcpPerm(8080, cli))
	c := ne.runInstance(t, "", cli, ne.defaultGroupOf(t, vpc))
	s := ne.runInstance(t, "", srv)

	var redisAddr string
	if _, err := exec.LookPath("redis-server"); err == nil {
		if _, err := ec.CreateCacheCluster(ctx, &elasticache.CreateCacheClusterInput{CacheClusterId: aws.String("crash"),
			Engine: aws.String("redis"), CacheNodeType: aws.String("cache.t3.micro"), NumCacheNodes: aws.Int32(1)}); err != nil {
			t.Fatalf("CreateCacheCluster = %v", err)
		}
		redisAddr = waitCluster(t, ec, "crash")
	} else {
		t.Logf("redis-server not installed: the engine part is skipped")
	}

	// Listeners in the server's namespace, held by this process.
	for _, port := range []int{8080, 9090} {
		lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		l, err := plane.Listen(lctx, s.ENI, "tcp4", "0.0.0.0:"+strconv.Itoa(port))
		cancel()
		if err != nil {
			t.Fatalf("Listen(%s, %d) = %v", s.ENI, port, err)
		}
		closeL := serveEcho(l)
		t.Cleanup(closeL)
	}
	reach("first daemon", c.ENI, s.IP, 8080, true)
	reach("first daemon, no rule", c.ENI, s.IP, 9090, false)
	redisPing(t, plane, c.ENI, redisAddr)
	nsBefore := ownedNetns(t, prefix)
	enginesBefore := procsIn(t, dir, daemon.Process.Pid)
	if redisAddr != "" && len(enginesBefore) == 0 {
		t.Errorf("no engine process runs in %s", dir)
	}

	stop(syscall.SIGKILL)
	if got := ownedNetns(t, prefix); !slices.Equal(got, nsBefore) {
		t.Errorf("namespaces after kill -9 = %v, want %v", got, nsBefore)
	}
	if got := procsIn(t, dir, 0); !slices.Equal(got, enginesBefore) {
		t.Errorf("engine processes after kill -9 = %v, want %v", got, enginesBefore)
	}
	reach("daemon dead", c.ENI, s.IP, 8080, true)
	reach("daemon dead, no rule", c.ENI, s.IP, 9090, false)
	redisPing(t, plane, c.ENI, redisAddr)

	// A second daemon adopts everything and converges a change.
	ne.ec2 = start()
	t0 := time.Now()
	ne.allowIn(t, srv, tcpPerm(9090, cli))
	reach("second daemon, new rule", c.ENI, s.IP, 9090, true)
	t.Logf("a rule added right after the restart was enforced %v after the API call returned", time.Since(t0).Round(time.Millisecond))
	reach("second daemon, old rule", c.ENI, s.IP, 8080, true)
	reach("second daemon, other port", c.ENI, s.IP, 9091, false)
	redisPing(t, plane, c.ENI, redisAddr)
	if redisAddr != "" {
		waitCluster(t, ec, "crash")
		if got := procsIn(t, dir, daemon.Process.Pid); !slices.Equal(got, enginesBefore) {
			t.Errorf("engine processes after the restart = %v, want %v adopted", got, enginesBefore)
		}
	}

	// Teardown leaves nothing of this installation.
	stop(syscall.SIGTERM)
	tctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(tctx, bin, "teardown", "--data-dir", dir).CombinedOutput(); err != nil {
		t.Fatalf("cachalot teardown: %v\n%s", err, out)
	}
	if got := ownedNetns(t, prefix); len(got) != 0 {
		t.Errorf("namespaces after teardown = %v, want none", got)
	}
	for _, argv := range [][]string{{"ip", "-o", "link"}, {"nft", "list", "tables"}} {
		out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput()
		if err != nil {
			t.Fatalf("%v: %v\n%s", argv, err, out)
		}
		if strings.Contains(string(out), prefix) {
			t.Errorf("%v after teardown mentions %s:\n%s", argv, prefix, out)
		}
	}
	if got := pgrep(t, dir); len(got) != 0 {
		t.Errorf("pgrep -f %s after teardown = %v, want none", dir, got)
	}
	if got := procsIn(t, dir, 0); len(got) != 0 {
		t.Errorf("processes working in %s after teardown = %v, want none", dir, got)
	}
}

// waitCluster waits until a cache cluster is available and returns its
// node's address.
func waitCluster(t *testing.T, ec *elasticache.Client, id string) string {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		out, err := ec.DescribeCacheClusters(context.Background(), &elasticache.DescribeCacheClustersInput{CacheClusterId: aws.String(id), ShowCacheNodeInfo: aws.Bool(true)})
		if err != nil {
			t.Fatalf("DescribeCacheClusters(%s) = %v", id, err)
		}
		c := out.CacheClusters[0]
		if aws.ToString(c.CacheClusterStatus) == "available" && len(c.CacheNodes) > 0 && c.CacheNodes[0].Endpoint != nil {
			return aws.ToString(c.CacheNodes[0].Endpoint.Address)
		}
		if time.Now().After(deadline) {
			t.Fatalf("cluster %s is %s after 60s, want available", id, aws.ToString(c.CacheClusterStatus))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// redisPing sends PING to addr:6379 from inside src's namespace and wants
// +PONG (nothing to do when addr is empty).
func redisPing(t *testing.T, plane *netplane.Plane, src, addr string) {
	t.Helper()
	if addr == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := plane.Dial(ctx, src, "tcp4", net.JoinHostPort(addr, "6379"))
	if err != nil {
		t.Fatalf("dial redis %s from %s: %v", addr, src, err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 7)
	if _, err := io.WriteString(c, "PING\r\n"); err != nil {
		t.Fatalf("redis PING: %v", err)
	}
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "+PONG\r\n" {
		t.Fatalf("redis PING = %q, %v; want +PONG", buf, err)
	}
}

// ownedNetns lists the named namespaces carrying prefix.
func ownedNetns(t *testing.T, prefix string) []string {
	t.Helper()
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		t.Fatalf("ip netns list: %v", err)
	}
	var got []string
	for _, l := range strings.Split(string(out), "\n") {
		if name, _, _ := strings.Cut(l, " "); strings.HasPrefix(name, prefix+"-") {
			got = append(got, name)
		}
	}
	slices.Sort(got)
	return got
}

// procsIn lists the pids of processes other than skip whose working
// directory is under dir (engines run in their node's directory).
func procsIn(t *testing.T, dir string, skip int) []string {
	t.Helper()
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == skip {
			continue
		}
		if cwd, err := os.Readlink("/proc/" + e.Name() + "/cwd"); err == nil && (cwd == dir || strings.HasPrefix(cwd, dir+"/")) {
			got = append(got, e.Name())
		}
	}
	slices.Sort(got)
	return got
}

// pgrep lists the pids of processes whose command line mentions s.
func pgrep(t *testing.T, s string) []string {
	t.Helper()
	out, err := exec.Command("pgrep", "-f", s).Output()
	var ee *exec.ExitError
	if err != nil && !(errors.As(err, &ee) && ee.ExitCode() == 1) {
		t.Fatalf("pgrep -f %s: %v", s, err)
	}
	got := strings.Fields(string(out))
	slices.Sort(got)
	return got
}

// ---- 4. figures ----

// pct returns the p-th percentile of ds (sorted in place).
func pct(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	return ds[min(len(ds)-1, len(ds)*p/100)]
}

func reportPct(b *testing.B, name string, ds []time.Duration) {
	b.ReportMetric(float64(pct(ds, 50).Microseconds())/1000, name+"-p50-ms")
	b.ReportMetric(float64(pct(ds, 99).Microseconds())/1000, name+"-p99-ms")
	b.ReportMetric(float64(slices.Max(ds).Microseconds())/1000, name+"-max-ms")
}

// BenchmarkNetplaneRuleToEnforced measures, through the product, the time
// from AuthorizeSecurityGroupIngress returning to the first successful
// connect from the client's namespace (connects polled every ~1 ms with
// 2 ms timeouts), and from RevokeSecurityGroupIngress returning to the
// start of the first new connect that is refused (20 ms timeouts, so a slow
// but allowed connect is not mistaken for a refusal).
//
//	go test -count=1 -run '^$' -bench NetplaneRuleToEnforced -benchtime 100x ./internal/app/
func BenchmarkNetplaneRuleToEnforced(b *testing.B) {
	n := startNP(b)
	vpc, _, _ := n.defaultVPC(b)
	cg, sg := n.createGroup(b, "client", vpc), n.createGroup(b, "server", vpc)
	c := n.runInstance(b, "", cg)
	s := n.runInstance(b, "", sg)
	n.waitIdle(b)
	n.listen(b, s.ENI, 7000)
	// Warm the neighbour caches: the rule under test is not the first packet.
	warm := n.allowIn(b, sg, tcpPerm(7001, c.IP+"/32"))
	n.listen(b, s.ENI, 7001)
	n.waitIdle(b)
	if p, err := connect(n, c.ENI, s.IP, 7001, 5*time.Second); err != nil || !p.Passed {
		b.Fatalf("warm-up connect = %v, %v", p, err)
	}
	n.revokeIn(b, sg, warm)
	n.waitIdle(b)

	var grant, revoke []time.Duration
	b.ResetTimer()
	for range b.N {
		rule := n.allowIn(b, sg, tcpPerm(7000, c.IP+"/32"))
		t0 := time.Now()
		for {
			p, err := connect(n, c.ENI, s.IP, 7000, 2*time.Millisecond)
			if err != nil {
				b.Fatal(err)
			}
			if p.Passed {
				grant = append(grant, time.Since(t0))
				break
			}
			if time.Since(t0) > 10*time.Second {
				b.Fatalf("rule not enforced 10s after AuthorizeSecurityGroupIngress")
			}
			time.Sleep(time.Millisecond)
		}
		n.revokeIn(b, sg, rule)
		t0 = time.Now()
		for {
			start := time.Now()
			p, err := connect(n, c.ENI, s.IP, 7000, 20*time.Millisecond)
			if err != nil {
				b.Fatal(err)
			}
			if !p.Passed {
				revoke = append(revoke, start.Sub(t0))
				break
			}
			if time.Since(t0) > 10*time.Second {
				b.Fatalf("revoke not enforced 10s after RevokeSecurityGroupIngress")
			}
			time.Sleep(time.Millisecond)
		}
		n.waitIdle(b)
	}
	b.StopTimer()
	reportPct(b, "grant", grant)
	reportPct(b, "revoke", revoke)
}

// BenchmarkNetplaneRunInstanceToReachable measures the time from calling
// RunInstances to the instance's namespace existing, and to its first
// successful connect to a server admitting the instance's group (connects
// polled every ~1 ms with 5 ms timeouts). Each instance is terminated
// (untimed) before the next, so the VPC keeps three interfaces.
//
//	go test -count=1 -run '^$' -bench NetplaneRunInstanceToReachable -benchtime 100x ./internal/app/
func BenchmarkNetplaneRunInstanceToReachable(b *testing.B) {
	n := startNP(b)
	vpc, _, _ := n.defaultVPC(b)
	cg, sg := n.createGroup(b, "client", vpc), n.createGroup(b, "server", vpc)
	n.allowIn(b, sg, tcpPerm(7000, cg))
	s := n.runInstance(b, "", sg)
	n.runInstance(b, "", cg) // a neighbour, so the group set is never empty
	n.waitIdle(b)
	n.listen(b, s.ENI, 7000)
	ctx := context.Background()

	var exists, reachable []time.Duration
	slow := 0
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		in := n.runInstance(b, "", cg)
		seen := false
		for {
			cctx, cancel := context.WithTimeout(ctx, 5*time.Millisecond)
			c, err := n.env.App.Plane().Dial(cctx, in.ENI, "tcp4", net.JoinHostPort(s.IP, "7000"))
			cancel()
			if errors.Is(err, os.ErrNotExist) {
				if time.Since(t0) > 10*time.Second {
					b.Fatalf("no namespace for %s 10s after RunInstances", in.ENI)
				}
				time.Sleep(time.Millisecond)
				continue
			}
			if !seen {
				seen = true
				exists = append(exists, time.Since(t0))
			}
			p, err := classify(c, err)
			if err == nil && p.Passed {
				d := time.Since(t0)
				reachable = append(reachable, d)
				if d > 500*time.Millisecond {
					slow++
				}
				break
			}
			if time.Since(t0) > 10*time.Second {
				b.Fatalf("%s cannot connect 10s after RunInstances: %v %v", in.ID, p, err)
			}
			time.Sleep(time.Millisecond)
		}
		b.StopTimer()
		if _, err := n.ec2.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{in.ID}}); err != nil {
			b.Fatalf("TerminateInstances = %v", err)
		}
		n.waitIdle(b)
		b.StartTimer()
	}
	b.StopTimer()
	reportPct(b, "netns", exists)
	reportPct(b, "connect", reachable)
	b.ReportMetric(float64(slow), "connects-over-500ms")
}
