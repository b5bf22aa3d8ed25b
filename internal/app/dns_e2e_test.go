package app_test

import (
	"bytes"
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"

	"github.com/cachalot-dev/cachalot/internal/app/apptest/nettest"
)

// onInstance runs argv as on the instance owning eni (what cachalot exec
// runs: its network, its VPC's resolv.conf) and returns its output.
func onInstance(t *testing.T, n *nettest.Env, eni string, argv ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	cmd, err := n.App.InstanceCommand(ctx, eni, argv...)
	if err != nil {
		t.Fatalf("InstanceCommand = %v", err)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	return strings.TrimSpace(out.String()), err
}

// digStatus is the status of a dig answer (NOERROR, NXDOMAIN, REFUSED…).
var digStatus = regexp.MustCompile(`status: ([A-Z]+)`)

// dig asks the instance's resolver (the VPC's, from its resolv.conf) and
// returns the status, the answer's address (if any) and the server that
// answered; one try of one second, so that a silent server fails fast.
func dig(t *testing.T, n *nettest.Env, eni, name string, args ...string) (status, addr, server string) {
	t.Helper()
	out, err := onInstance(t, n, eni, append([]string{"dig", "+time=1", "+tries=1", name}, args...)...)
	if m := digStatus.FindStringSubmatch(out); m != nil {
		status = m[1]
	} else {
		return fmt.Sprintf("no answer (%v)", err), "", ""
	}
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		switch {
		case len(f) == 5 && f[0] == strings.TrimSuffix(name, ".")+"." && f[3] == "A":
			addr = f[4] + " ttl " + f[1]
		case strings.HasPrefix(l, ";; SERVER: "):
			server = strings.Fields(strings.TrimPrefix(l, ";; SERVER: "))[0]
		}
	}
	return status, addr, server
}

// TestDNSInVPCs: every VPC has the Amazon-provided DNS server at its base
// address + 2 and 169.254.169.253. From an instance, with no
// configuration, redis-cli reaches a cache by its endpoint name, dig shows
// the VPC's server answering (TTL 5 for cache names), instance names
// resolve in a VPC with enableDnsHostnames, unknown names are NXDOMAIN and
// names outside the served zones REFUSED (nothing is forwarded), whatever
// the instance's security groups. An instance of another VPC, without
// peering, gets the cache's name but cannot connect. enableDnsSupport=false
// silences the server of that VPC. A Memcached client doing auto discovery
// follows the names the configuration endpoint gives. Deleting a cache
// removes its name at once.
func TestDNSInVPCs(t *testing.T) {
	n := nettest.Start(t)
	ctx := context.Background()
	ec := elasticache.NewFromConfig(n.Config())
	for _, in := range []*elasticache.CreateCacheClusterInput{
		{CacheClusterId: aws.String("web"), Engine: aws.String("redis"), CacheNodeType: aws.String("cache.t3.micro"), NumCacheNodes: aws.Int32(1)},
		{CacheClusterId: aws.String("sessions"), Engine: aws.String("memcached"), CacheNodeType: aws.String("cache.t3.micro"), NumCacheNodes: aws.Int32(2)},
	} {
		if _, err := ec.CreateCacheCluster(ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	a := n.RunInstance(t, "") // the default group admits its members, the caches
	closed := n.CreateGroup(t, "closed", "")
	n.RevokeAllEgress(t, closed)
	c := n.RunInstance(t, "", closed) // no rule at all
	vpcB, subnetsB := n.CreateVPC(t, "10.9.0.0/16", "10.9.1.0/24")
	b := n.RunInstance(t, subnetsB[0])
	name := nettest.WaitCluster(t, ec, "web")
	nettest.WaitCluster(t, ec, "sessions")
	n.WaitIdle(t)

	if out, err := onInstance(t, n, a.ENI, "redis-cli", "-h", name, "ping"); err != nil || out != "PONG" {
		t.Errorf("redis-cli -h %s ping = %q, %v; want PONG", name, out, err)
	}
	ip := nettest.WaitResolve(t, n.App.Plane(), a.ENI, name)
	if out, err := onInstance(t, n, a.ENI, "getent", "hosts", name); err != nil || !strings.HasPrefix(out, ip+" ") {
		t.Errorf("getent hosts %s = %q, %v; want %s", name, out, err, ip)
	}
	self := "ip-" + strings.ReplaceAll(a.IP, ".", "-") + ".ec2.internal"
	tests := []struct {
		from, name, server               string
		wantStatus, wantAddr, wantServer string
	}{
		{"a", name, "", "NOERROR", ip + " ttl 5", "172.31.0.2#53(172.31.0.2)"},
		{"a", name, "@169.254.169.253", "NOERROR", ip + " ttl 5", "169.254.169.253#53(169.254.169.253)"},
		{"a", self, "", "NOERROR", a.IP + " ttl 60", "172.31.0.2#53(172.31.0.2)"},
		{"a", "nosuch.use1.cache.amazonaws.com", "", "NXDOMAIN", "", "172.31.0.2#53(172.31.0.2)"},
		{"a", "ip-10-9-9-9.ec2.internal", "", "NXDOMAIN", "", "172.31.0.2#53(172.31.0.2)"},
		{"a", "example.com", "", "REFUSED", "", "172.31.0.2#53(172.31.0.2)"},
		// Security groups do not apply to the DNS server.
		{"c", name, "", "NOERROR", ip + " ttl 5", "172.31.0.2#53(172.31.0.2)"},
		// Another VPC: its own server, the cache's name (a public name),
		// but not the default VPC's instance names, nor its own without
		// enableDnsHostnames.
		{"b", name, "", "NOERROR", ip + " ttl 5", "10.9.0.2#53(10.9.0.2)"},
		{"b", self, "", "NXDOMAIN", "", "10.9.0.2#53(10.9.0.2)"},
		{"b", "ip-" + strings.ReplaceAll(b.IP, ".", "-") + ".ec2.internal", "", "NXDOMAIN", "", "10.9.0.2#53(10.9.0.2)"},
	}
	enis := map[string]string{"a": a.ENI, "b": b.ENI, "c": c.ENI}
	for _, tt := range tests {
		var args []string
		if tt.server != "" {
			args = append(args, tt.server)
		}
		status, addr, server := dig(t, n, enis[tt.from], tt.name, args...)
		if status != tt.wantStatus || addr != tt.wantAddr || server != tt.wantServer {
			t.Errorf("from %s: dig %s %s = %s %q from %s; want %s %q from %s", tt.from, tt.name, tt.server, status, addr, server, tt.wantStatus, tt.wantAddr, tt.wantServer)
		}
	}
	if out, err := onInstance(t, n, b.ENI, "timeout", "2", "redis-cli", "-h", name, "ping"); err == nil {
		t.Errorf("from another VPC without peering: redis-cli -h %s ping = %q, want a failure", name, out)
	}

	t.Run("auto discovery", func(t *testing.T) {
		// A Memcached client doing auto discovery, in bash: ask the
		// configuration endpoint for the nodes, then reach each by the
		// name it gave (memcstat resolves it).
		out, err := ec.DescribeCacheClusters(ctx, &elasticache.DescribeCacheClustersInput{CacheClusterId: aws.String("sessions"), ShowCacheNodeInfo: aws.Bool(true)})
		if err != nil {
			t.Fatal(err)
		}
		cl := out.CacheClusters[0]
		cfg := aws.ToString(cl.ConfigurationEndpoint.Address)
		script := `exec 3<>/dev/tcp/$0/11211; printf 'config get cluster\r\n' >&3
read -r header <&3; read -r version <&3; read -r nodes <&3
for n in $nodes; do
  host=${n%%|*}; port=${n##*|}
  memcstat --servers=$host:$port | grep -q '^Server:' && echo "reached $host:$port"
done`
		got, err := onInstance(t, n, a.ENI, "bash", "-c", script, cfg)
		if err != nil {
			t.Fatalf("auto discovery client: %v: %s", err, got)
		}
		for _, node := range cl.CacheNodes {
			if want := "reached " + aws.ToString(node.Endpoint.Address) + ":11211"; !strings.Contains(got, want) {
				t.Errorf("auto discovery client = %q, want %q", got, want)
			}
		}
	})

	t.Run("attributes", func(t *testing.T) {
		ec2c := n.EC2
		modify := func(in *ec2.ModifyVpcAttributeInput) {
			t.Helper()
			in.VpcId = aws.String(vpcB)
			if _, err := ec2c.ModifyVpcAttribute(ctx, in); err != nil {
				t.Fatal(err)
			}
			n.WaitIdle(t)
		}
		bName := "ip-" + strings.ReplaceAll(b.IP, ".", "-") + ".ec2.internal"
		modify(&ec2.ModifyVpcAttributeInput{EnableDnsHostnames: &ec2types.AttributeBooleanValue{Value: aws.Bool(true)}})
		if status, addr, _ := dig(t, n, b.ENI, bName); status != "NOERROR" || addr != b.IP+" ttl 60" {
			t.Errorf("with enableDnsHostnames: dig %s = %s %q, want %s", bName, status, addr, b.IP)
		}
		modify(&ec2.ModifyVpcAttributeInput{EnableDnsHostnames: &ec2types.AttributeBooleanValue{Value: aws.Bool(false)}})
		modify(&ec2.ModifyVpcAttributeInput{EnableDnsSupport: &ec2types.AttributeBooleanValue{Value: aws.Bool(false)}})
		for _, server := range []string{"@10.9.0.2", "@169.254.169.253"} {
			if status, _, _ := dig(t, n, b.ENI, name, server); !strings.HasPrefix(status, "no answer") {
				t.Errorf("with enableDnsSupport=false: dig %s %s = %s, want no answer", name, server, status)
			}
		}
		modify(&ec2.ModifyVpcAttributeInput{EnableDnsSupport: &ec2types.AttributeBooleanValue{Value: aws.Bool(true)}})
		if status, addr, _ := dig(t, n, b.ENI, name); status != "NOERROR" || addr != ip+" ttl 5" {
			t.Errorf("enableDnsSupport back on: dig %s = %s %q, want %s", name, status, addr, ip)
		}
	})

	// Deleting the cache removes its name: the next query says so.
	if _, err := ec.DeleteCacheCluster(ctx, &elasticache.DeleteCacheClusterInput{CacheClusterId: aws.String("web")}); err != nil {
		t.Fatal(err)
	}
	waitGone(t, ec, "web")
	n.WaitIdle(t)
	if status, addr, _ := dig(t, n, a.ENI, name); status != "NXDOMAIN" {
		t.Errorf("after DeleteCacheCluster: dig %s = %s %q, want NXDOMAIN", name, status, addr)
	}
}

// waitGone waits until Describe no longer finds the cluster.
func waitGone(t *testing.T, ec *elasticache.Client, id string) {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		_, err := ec.DescribeCacheClusters(context.Background(), &elasticache.DescribeCacheClustersInput{CacheClusterId: aws.String(id)})
		if nettest.Code(err) == "CacheClusterNotFound" {
			return
		}
	}
	t.Fatalf("cluster %s still described after 60s", id)
}
