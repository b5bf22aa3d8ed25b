// Package nettest is the harness of the end-to-end tests of the network
// plane through the product (internal/app's netplane and internet tests):
// a running Cachalot with an EC2 client, helpers that make VPCs, groups,
// rules and instances through the EC2 API, and probes that open real TCP
// connections (and send UDP datagrams and ICMP echo requests, probe.go)
// between namespaces of the installation under test and compare them with
// the pure evaluator (internal/ec2/sgeval).
//
// Network rule: every packet these helpers send starts inside a namespace
// of the installation under test (Plane().Dial / Listen, or nsenter) and
// goes to an address inside such namespaces. Nothing is dialled from the
// host's own namespace towards a VPC address.
//
// Only tests import it.
package nettest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
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

	"github.com/cachalot-dev/cachalot/internal/app/apptest"
	cec2 "github.com/cachalot-dev/cachalot/internal/ec2"
	"github.com/cachalot-dev/cachalot/internal/ec2/sgeval"
	"github.com/cachalot-dev/cachalot/internal/netplane"
	"github.com/cachalot-dev/cachalot/internal/privtest"
)

// Env is a running Cachalot with an EC2 client.
type Env struct {
	*apptest.Env
	EC2 *ec2.Client
}

// Start starts Cachalot for the test (root only: the namespaces mode).
func Start(t testing.TB) *Env {
	t.Helper()
	privtest.RequireRoot(t)
	env := apptest.Start(t)
	return &Env{Env: env, EC2: ec2.NewFromConfig(env.Config())}
}

// Code is the AWS error code of err ("" if none).
func Code(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// WaitIdle waits until the reconcilers have realised the store as of now.
func (n *Env) WaitIdle(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := n.App.WaitIdle(ctx); err != nil {
		t.Fatalf("WaitIdle = %v (a reconcile keeps failing?)", err)
	}
}

// Instance is a launched instance.
type Instance struct {
	ID, ENI, IP, Subnet, VPC string
}

// RunInstance launches one instance (subnet "" : the default VPC's default
// subnet; no groups: the VPC's default group).
func (n *Env) RunInstance(t testing.TB, subnet string, groups ...string) Instance {
	t.Helper()
	in := &ec2.RunInstancesInput{
		ImageId: aws.String("ami-12345678"), InstanceType: ec2types.InstanceTypeT3Micro,
		MinCount: aws.Int32(1), MaxCount: aws.Int32(1), SecurityGroupIds: groups,
	}
	if subnet != "" {
		in.SubnetId = aws.String(subnet)
	}
	out, err := n.EC2.RunInstances(context.Background(), in)
	if err != nil {
		t.Fatalf("RunInstances(subnet %q, groups %v) = %v", subnet, groups, err)
	}
	i := out.Instances[0]
	return Instance{ID: aws.ToString(i.InstanceId), ENI: aws.ToString(i.NetworkInterfaces[0].NetworkInterfaceId),
		IP: aws.ToString(i.PrivateIpAddress), Subnet: aws.ToString(i.SubnetId), VPC: aws.ToString(i.VpcId)}
}

// CreateGroup creates a security group in vpc ("": the default VPC).
func (n *Env) CreateGroup(t testing.TB, name, vpc string) string {
	t.Helper()
	in := &ec2.CreateSecurityGroupInput{GroupName: aws.String(name), Description: aws.String("test group " + name)}
	if vpc != "" {
		in.VpcId = aws.String(vpc)
	}
	out, err := n.EC2.CreateSecurityGroup(context.Background(), in)
	if err != nil {
		t.Fatalf("CreateSecurityGroup(%s) = %v", name, err)
	}
	return aws.ToString(out.GroupId)
}

// TCPPerm is a TCP permission on one port from (or to) a CIDR or a group.
func TCPPerm(port int32, peer string) ec2types.IpPermission {
	p := ec2types.IpPermission{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(port), ToPort: aws.Int32(port)}
	if strings.HasPrefix(peer, "sg-") {
		p.UserIdGroupPairs = []ec2types.UserIdGroupPair{{GroupId: aws.String(peer)}}
	} else {
		p.IpRanges = []ec2types.IpRange{{CidrIp: aws.String(peer)}}
	}
	return p
}

// AllowIn authorizes an ingress permission and returns the rule id.
func (n *Env) AllowIn(t testing.TB, group string, p ec2types.IpPermission) string {
	t.Helper()
	out, err := n.EC2.AuthorizeSecurityGroupIngress(context.Background(), &ec2.AuthorizeSecurityGroupIngressInput{
		GroupId: aws.String(group), IpPermissions: []ec2types.IpPermission{p}})
	if err != nil {
		t.Fatalf("AuthorizeSecurityGroupIngress(%s) = %v", group, err)
	}
	return aws.ToString(out.SecurityGroupRules[0].SecurityGroupRuleId)
}

// RevokeIn revokes an ingress rule by id.
func (n *Env) RevokeIn(t testing.TB, group, rule string) {
	t.Helper()
	if _, err := n.EC2.RevokeSecurityGroupIngress(context.Background(), &ec2.RevokeSecurityGroupIngressInput{
		GroupId: aws.String(group), SecurityGroupRuleIds: []string{rule}}); err != nil {
		t.Fatalf("RevokeSecurityGroupIngress(%s, %s) = %v", group, rule, err)
	}
}

// RevokeAllEgress removes the "all traffic to 0.0.0.0/0" rule every new
// group starts with.
func (n *Env) RevokeAllEgress(t testing.TB, group string) {
	t.Helper()
	if _, err := n.EC2.RevokeSecurityGroupEgress(context.Background(), &ec2.RevokeSecurityGroupEgressInput{
		GroupId: aws.String(group), IpPermissions: []ec2types.IpPermission{{IpProtocol: aws.String("-1"),
			IpRanges: []ec2types.IpRange{{CidrIp: aws.String("0.0.0.0/0")}}}}}); err != nil {
		t.Fatalf("RevokeSecurityGroupEgress(%s, all) = %v", group, err)
	}
}

// Listen starts a TCP echo server on port inside the interface's namespace,
// closed (with its connections) at the end of the test.
func (n *Env) Listen(t testing.TB, eni string, port int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	l, err := n.App.Plane().Listen(ctx, eni, "tcp4", "0.0.0.0:"+strconv.Itoa(port))
	if err != nil {
		t.Fatalf("Listen(%s, %d) = %v", eni, port, err)
	}
	t.Cleanup(ServeEcho(l))
}

// ServeEcho echoes on every connection of l; the returned func closes l
// and the connections and waits for the goroutines.
func ServeEcho(l net.Listener) func() {
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

// Probe is the outcome of one TCP connect.
type Probe struct {
	Passed bool   // the SYN reached the destination (connected, or refused by it)
	Detail string // connected, refused, timed out, unreachable
}

// Connect opens a TCP connection from inside src's namespace to addr:port
// and classifies the outcome. An unexpected error (no namespace, …) is
// returned as err.
func Connect(n *Env, src, addr string, port int, timeout time.Duration) (Probe, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	c, err := n.App.Plane().Dial(ctx, src, "tcp4", net.JoinHostPort(addr, strconv.Itoa(port)))
	return Classify(c, err)
}

// Classify turns the outcome of a TCP dial into a Probe; an error that
// says nothing of the network is returned as err.
func Classify(c net.Conn, err error) (Probe, error) {
	var ne net.Error
	switch {
	case err == nil:
		c.Close()
		return Probe{true, "connected"}, nil
	case errors.Is(err, syscall.ECONNREFUSED):
		return Probe{true, "refused by the destination"}, nil
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return Probe{false, "unreachable"}, nil
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return Probe{false, "timed out"}, nil
	}
	return Probe{}, err
}

// Expect asserts that a connect from src to dst:port passes (or not), and
// that the evaluator says the same on the current topology.
func (n *Env) Expect(t testing.TB, what string, src, dst Instance, port int, want bool) {
	t.Helper()
	v := n.Verdict(t, src.ENI, dst.ENI, port)
	if v.Allowed != want {
		t.Errorf("%s: sgeval %s -> %s tcp/%d = %s; want allowed=%v", what, src.ID, dst.ID, port, v, want)
	}
	timeout := 400 * time.Millisecond
	if want {
		timeout = 5 * time.Second // an allowed connect is fast; allow for a loaded machine
	}
	p, err := Connect(n, src.ENI, dst.IP, port, timeout)
	if err != nil {
		t.Fatalf("%s: connect %s -> %s:%d: %v", what, src.ID, dst.IP, port, err)
	}
	if p.Passed != want {
		t.Errorf("%s: connect %s (%s) -> %s (%s):%d = %s, want passed=%v; sgeval: %s", what, src.ID, src.IP, dst.ID, dst.IP, port, p.Detail, want, v)
	}
}

// Verdict asks the evaluator about a TCP flow on the current topology.
func (n *Env) Verdict(t testing.TB, src, dst string, port int) sgeval.Verdict {
	t.Helper()
	topo, err := n.App.EC2().Topology(context.Background(), cec2.TopologySelector{})
	if err != nil {
		t.Fatalf("Topology = %v", err)
	}
	return sgeval.New(topo).Check(sgeval.Flow{Src: sgeval.Endpoint{Interface: src}, Dst: sgeval.Endpoint{Interface: dst}, Protocol: "tcp", Port: int32(port)})
}

// MainRouteTable returns the main route table of a VPC.
func (n *Env) MainRouteTable(t testing.TB, vpc string) string {
	t.Helper()
	out, err := n.EC2.DescribeRouteTables(context.Background(), &ec2.DescribeRouteTablesInput{Filters: []ec2types.Filter{
		{Name: aws.String("vpc-id"), Values: []string{vpc}}, {Name: aws.String("association.main"), Values: []string{"true"}}}})
	if err != nil || len(out.RouteTables) != 1 {
		t.Fatalf("DescribeRouteTables(main of %s) = %v, %v", vpc, out, err)
	}
	return aws.ToString(out.RouteTables[0].RouteTableId)
}

// SubnetRouteTable creates a route table in vpc associated with subnet.
func (n *Env) SubnetRouteTable(t testing.TB, vpc, subnet string) string {
	t.Helper()
	ctx := context.Background()
	rt, err := n.EC2.CreateRouteTable(ctx, &ec2.CreateRouteTableInput{VpcId: aws.String(vpc)})
	if err != nil {
		t.Fatalf("CreateRouteTable(%s) = %v", vpc, err)
	}
	id := aws.ToString(rt.RouteTable.RouteTableId)
	if _, err := n.EC2.AssociateRouteTable(ctx, &ec2.AssociateRouteTableInput{RouteTableId: aws.String(id), SubnetId: aws.String(subnet)}); err != nil {
		t.Fatalf("AssociateRouteTable(%s, %s) = %v", id, subnet, err)
	}
	return id
}

// DefaultGroupOf returns the default security group of a VPC.
func (n *Env) DefaultGroupOf(t testing.TB, vpc string) string {
	t.Helper()
	out, err := n.EC2.DescribeSecurityGroups(context.Background(), &ec2.DescribeSecurityGroupsInput{Filters: []ec2types.Filter{
		{Name: aws.String("vpc-id"), Values: []string{vpc}}, {Name: aws.String("group-name"), Values: []string{"default"}}}})
	if err != nil || len(out.SecurityGroups) != 1 {
		t.Fatalf("DescribeSecurityGroups(default of %s) = %v, %v", vpc, out, err)
	}
	return aws.ToString(out.SecurityGroups[0].GroupId)
}

// DefaultVPC returns the default VPC and its subnets.
func (n *Env) DefaultVPC(t testing.TB) (string, netip.Prefix, []ec2types.Subnet) {
	t.Helper()
	ctx := context.Background()
	vo, err := n.EC2.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{Filters: []ec2types.Filter{{Name: aws.String("isDefault"), Values: []string{"true"}}}})
	if err != nil || len(vo.Vpcs) != 1 {
		t.Fatalf("DescribeVpcs(default) = %v, %v", vo, err)
	}
	vpc := aws.ToString(vo.Vpcs[0].VpcId)
	so, err := n.EC2.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{Filters: []ec2types.Filter{{Name: aws.String("vpc-id"), Values: []string{vpc}}}})
	if err != nil || len(so.Subnets) == 0 {
		t.Fatalf("DescribeSubnets(%s) = %v, %v", vpc, so, err)
	}
	sort.Slice(so.Subnets, func(i, j int) bool {
		return aws.ToString(so.Subnets[i].CidrBlock) < aws.ToString(so.Subnets[j].CidrBlock)
	})
	return vpc, netip.MustParsePrefix(aws.ToString(vo.Vpcs[0].CidrBlock)), so.Subnets
}

// CreateVPC creates a VPC and subnets in it; it returns the ids.
func (n *Env) CreateVPC(t testing.TB, cidr string, subnets ...string) (string, []string) {
	t.Helper()
	ctx := context.Background()
	vo, err := n.EC2.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String(cidr)})
	if err != nil {
		t.Fatalf("CreateVpc(%s) = %v", cidr, err)
	}
	vpc := aws.ToString(vo.Vpc.VpcId)
	var ids []string
	for _, s := range subnets {
		so, err := n.EC2.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: aws.String(vpc), CidrBlock: aws.String(s)})
		if err != nil {
			t.Fatalf("CreateSubnet(%s, %s) = %v", vpc, s, err)
		}
		ids = append(ids, aws.ToString(so.Subnet.SubnetId))
	}
	return vpc, ids
}

// DumpTopology renders the network model for a failure message.
func DumpTopology(topo *cec2.Topology) string {
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

// RouterRuleset lists the nft ruleset of a VPC's router.
func (n *Env) RouterRuleset(vpc string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd, err := n.App.Plane().Command(ctx, vpc, "nft", "list", "ruleset")
	if err != nil {
		return err.Error()
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Sprintf("%s: %v", out, err)
	}
	return string(out)
}

// ReplyVerdict asks the evaluator about the reply direction of a TCP flow
// on the current topology.
func ReplyVerdict(t *testing.T, n *Env, src, dst string, port int) sgeval.Verdict {
	t.Helper()
	topo, err := n.App.EC2().Topology(context.Background(), cec2.TopologySelector{})
	if err != nil {
		t.Fatal(err)
	}
	return sgeval.New(topo).Check(sgeval.Flow{Src: sgeval.Endpoint{Interface: src}, Dst: sgeval.Endpoint{Interface: dst}, Protocol: "tcp", Port: int32(port), Reply: true})
}

// DialEcho connects from inside src's namespace (closed at the end of the test).
func DialEcho(t *testing.T, n *Env, src, addr string, port int) net.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := n.App.Plane().Dial(ctx, src, "tcp4", net.JoinHostPort(addr, strconv.Itoa(port)))
	if err != nil {
		t.Fatalf("Dial(%s -> %s:%d) = %v", src, addr, port, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// Echo writes msg and wants it back within two seconds.
func Echo(t *testing.T, c net.Conn, msg string) {
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

// FindRule returns the id of the ingress rule of group naming cidr.
func FindRule(t *testing.T, n *Env, group, cidr string) string {
	t.Helper()
	out, err := n.EC2.DescribeSecurityGroupRules(context.Background(), &ec2.DescribeSecurityGroupRulesInput{
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

// WaitCluster waits until a cache cluster is available and returns its
// node's endpoint (its name; Resolve gives its address).
func WaitCluster(t testing.TB, ec *elasticache.Client, id string) string {
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

// Resolve resolves host (an endpoint name, or an address returned as is)
// from inside src's namespace through the VPC's Amazon-provided DNS server
// (169.254.169.253), as a program on the instance does, and returns its
// first IPv4 address.
func Resolve(ctx context.Context, plane *netplane.Plane, src, host string) (string, error) {
	if _, err := netip.ParseAddr(host); err == nil {
		return host, nil
	}
	r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return plane.Dial(ctx, src, network, net.JoinHostPort(netplane.ResolverLinkLocal.String(), "53"))
	}}
	addrs, err := r.LookupNetIP(ctx, "ip4", strings.TrimSuffix(host, ".")+".")
	if err != nil {
		return "", fmt.Errorf("resolve %s from %s: %w", host, src, err)
	}
	return addrs[0].String(), nil
}

// WaitResolve is Resolve, retried for up to 30 s (the VPC's DNS server is
// the daemon's: it answers again once a restarted daemon has reconciled),
// failing the test if the name never resolves.
func WaitResolve(t testing.TB, plane *netplane.Plane, src, host string) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		a, err := Resolve(ctx, plane, src, host)
		cancel()
		if err == nil {
			return a
		}
		if time.Now().After(deadline) {
			t.Fatalf("%v (for 30 s)", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// RedisPing sends PING to addr:6379 (an endpoint name, resolved through
// the VPC's DNS server, or an address) from inside src's namespace and
// wants +PONG (nothing to do when addr is empty).
func RedisPing(t *testing.T, plane *netplane.Plane, src, addr string) {
	t.Helper()
	if addr == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ip, err := Resolve(ctx, plane, src, addr)
	if err != nil {
		t.Fatal(err)
	}
	c, err := plane.Dial(ctx, src, "tcp4", net.JoinHostPort(ip, "6379"))
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

// OwnedNetns lists the named namespaces carrying prefix.
func OwnedNetns(t *testing.T, prefix string) []string {
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

// ProcsIn lists the pids of processes other than skip whose working
// directory is under dir (engines run in their node's directory).
func ProcsIn(t *testing.T, dir string, skip int) []string {
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

// Pgrep lists the pids of processes whose command line mentions s.
func Pgrep(t *testing.T, s string) []string {
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

// Pct returns the p-th percentile of ds (sorted in place).
func Pct(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	return ds[min(len(ds)-1, len(ds)*p/100)]
}

// ReportPct reports the p50, p99 and maximum of ds as metrics of b.
func ReportPct(b *testing.B, name string, ds []time.Duration) {
	b.ReportMetric(float64(Pct(ds, 50).Microseconds())/1000, name+"-p50-ms")
	b.ReportMetric(float64(Pct(ds, 99).Microseconds())/1000, name+"-p99-ms")
	b.ReportMetric(float64(slices.Max(ds).Microseconds())/1000, name+"-max-ms")
}

// Outside makes the outside client addr and returns its namespace id.
func (n *Env) Outside(t testing.TB, addr string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	id, err := n.App.OutsideClient(ctx, netip.MustParseAddr(addr))
	if err != nil {
		t.Fatalf("OutsideClient(%s) = %v", addr, err)
	}
	return id
}

// ListenWho answers every connection to port inside namespace id with the
// source address it came from, one line, until the test ends.
func (n *Env) ListenWho(t testing.TB, id string, port int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	l, err := n.App.Plane().Listen(ctx, id, "tcp4", fmt.Sprintf("0.0.0.0:%d", port))
	if err != nil {
		t.Fatalf("Listen(%s, %d) = %v", id, port, err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			fmt.Fprintf(c, "%s\n", c.RemoteAddr().(*net.TCPAddr).IP)
			c.Close()
		}
	}()
	t.Cleanup(func() { l.Close(); <-done })
}

// AskWho connects from namespace id to addr:port; it returns the source
// address the listener saw and the address the reply came from, or the
// classified failure.
func (n *Env) AskWho(id, addr string, port int, timeout time.Duration) (seen, from string, p Probe, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	c, err := n.App.Plane().Dial(ctx, id, "tcp4", net.JoinHostPort(addr, fmt.Sprint(port)))
	if err != nil {
		p, err = Classify(nil, err)
		return "", "", p, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(timeout))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return "", "", Probe{}, fmt.Errorf("read from %s:%d: %w", addr, port, err)
	}
	return strings.TrimSpace(line), c.RemoteAddr().(*net.TCPAddr).IP.String(), Probe{true, "connected"}, nil
}

// Reaches asserts that id connects to addr:port and that the listener saw
// wantSeen and the replies came from addr.
func (n *Env) Reaches(t testing.TB, what, id, addr string, port int, wantSeen string) {
	t.Helper()
	seen, from, p, err := n.AskWho(id, addr, port, 5*time.Second)
	switch {
	case err != nil:
		t.Errorf("%s: %s -> %s:%d: %v", what, id, addr, port, err)
	case !p.Passed:
		t.Errorf("%s: %s -> %s:%d %s, want a connection", what, id, addr, port, p.Detail)
	case seen != wantSeen || from != addr:
		t.Errorf("%s: %s -> %s:%d: the listener saw %s and the replies came from %s; want %s and %s", what, id, addr, port, seen, from, wantSeen, addr)
	}
}

// Blocked asserts that id cannot connect to addr:port (dropped or
// unroutable; a listener is there).
func (n *Env) Blocked(t testing.TB, what, id, addr string, port int) {
	t.Helper()
	_, _, p, err := n.AskWho(id, addr, port, 400*time.Millisecond)
	if err != nil {
		t.Errorf("%s: %s -> %s:%d: %v, want it blocked", what, id, addr, port, err)
		return
	}
	if p.Passed {
		t.Errorf("%s: %s -> %s:%d %s, want it blocked", what, id, addr, port, p.Detail)
	}
}

// InternetLinks lists the links of the internet namespace with their
// aliases ("igw-… to vpc-…", "outside client …").
func (n *Env) InternetLinks(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd, err := n.App.Plane().Command(ctx, netplane.InternetID, "ip", "-o", "link", "show")
	if err != nil {
		t.Fatalf("command in the internet namespace: %v", err)
	}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ip link show in the internet namespace: %v", err)
	}
	return string(out)
}
