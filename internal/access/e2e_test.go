package access_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/cachalot-dev/cachalot/internal/access"
	"github.com/cachalot-dev/cachalot/internal/app/apptest"
	"github.com/cachalot-dev/cachalot/internal/app/apptest/nettest"
	"github.com/cachalot-dev/cachalot/internal/cli"
	"github.com/cachalot-dev/cachalot/internal/privtest"
)

// world is a running Cachalot with a Redis cluster "web" in the default VPC
// (default group only) and an instance "app" in the default VPC whose only
// group, "app", has no rule about the cache.
type world struct {
	env      *apptest.Env
	ec       *elasticache.Client
	ec2      *ec2.Client
	addr     string // the cache node's address
	port     int
	inst     string // instance id
	eni      string // its primary interface
	appGroup string
	defGroup string
}

func newWorld(t *testing.T) *world {
	t.Helper()
	privtest.RequireRoot(t)
	env := apptest.Start(t)
	w := &world{env: env, ec: elasticache.NewFromConfig(env.Config()), ec2: ec2.NewFromConfig(env.Config()), port: 6379}
	ctx := context.Background()
	if _, err := w.ec.CreateCacheCluster(ctx, &elasticache.CreateCacheClusterInput{CacheClusterId: aws.String("web"),
		Engine: aws.String("redis"), CacheNodeType: aws.String("cache.t3.micro"), NumCacheNodes: aws.Int32(1)}); err != nil {
		t.Fatalf("CreateCacheCluster = %v", err)
	}
	sg, err := w.ec2.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String("app"), Description: aws.String("app servers")})
	if err != nil {
		t.Fatal(err)
	}
	w.appGroup = aws.ToString(sg.GroupId)
	w.inst, w.eni = w.launch(t, "", w.appGroup)
	c := w.waitAvailable(t)
	w.addr = nettest.WaitResolve(t, env.App.Plane(), w.eni, c.Addr)
	w.defGroup = c.SecurityGroups[0]
	return w
}

func (w *world) launch(t *testing.T, subnet string, groups ...string) (string, string) {
	t.Helper()
	in := &ec2.RunInstancesInput{ImageId: aws.String("ami-12345678"), InstanceType: ec2types.InstanceTypeT3Micro,
		MinCount: aws.Int32(1), MaxCount: aws.Int32(1), SecurityGroupIds: groups}
	if subnet != "" {
		in.SubnetId = aws.String(subnet)
	}
	out, err := w.ec2.RunInstances(context.Background(), in)
	if err != nil {
		t.Fatalf("RunInstances = %v", err)
	}
	i := out.Instances[0]
	return aws.ToString(i.InstanceId), aws.ToString(i.NetworkInterfaces[0].NetworkInterfaceId)
}

type cacheState struct {
	SecurityGroups []string
	Addr           string // the first node's endpoint (a DNS name)
}

func (w *world) waitAvailable(t *testing.T) cacheState {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		out, err := w.ec.DescribeCacheClusters(context.Background(), &elasticache.DescribeCacheClustersInput{CacheClusterId: aws.String("web"), ShowCacheNodeInfo: aws.Bool(true)})
		if err != nil {
			t.Fatalf("DescribeCacheClusters = %v", err)
		}
		c := out.CacheClusters[0]
		if aws.ToString(c.CacheClusterStatus) == "available" {
			st := cacheState{Addr: aws.ToString(c.CacheNodes[0].Endpoint.Address)}
			for _, g := range c.SecurityGroups {
				st.SecurityGroups = append(st.SecurityGroups, aws.ToString(g.SecurityGroupId))
			}
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("cluster web is %s after 60s", aws.ToString(c.CacheClusterStatus))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ping opens a TCP connection from inside the interface's namespace to the
// cache and speaks RESP: PING must answer +PONG.
func (w *world) ping(eni string, port int, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	conn, err := w.env.App.Plane().Dial(ctx, eni, "tcp", net.JoinHostPort(w.addr, strconv.Itoa(port)))
	if err != nil {
		return err
	}
	defer conn.Close()
	return (&respConn{Conn: conn, r: bufio.NewReader(conn)}).ping(timeout)
}

func (w *world) idle(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := w.env.App.WaitIdle(ctx); err != nil {
		t.Fatalf("WaitIdle = %v", err)
	}
}

// reachable reports whether the instance reaches the cache once the
// reconcilers have converged.
func (w *world) reachable(t *testing.T, eni string, port int) bool {
	t.Helper()
	w.idle(t)
	return w.ping(eni, port, 1500*time.Millisecond) == nil
}

func (w *world) wantReachable(t *testing.T, eni string, want bool, when string) {
	t.Helper()
	if got := w.reachable(t, eni, w.port); got != want {
		t.Fatalf("%s: instance reaches the cache = %v, want %v", when, got, want)
	}
}

// call signs an action of Cachalot's own on the ElastiCache endpoint.
func (w *world) call(t *testing.T, action string, params url.Values, out any) error {
	t.Helper()
	params.Set("Action", action)
	params.Set("Version", "2015-02-02")
	body := params.Encode()
	req, _ := http.NewRequest(http.MethodPost, w.env.URL, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	sum := sha256.Sum256([]byte(body))
	creds := aws.Credentials{AccessKeyID: w.env.Root.AccessKeyID, SecretAccessKey: w.env.Root.SecretAccessKey}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), "elasticache", apptest.Region, time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		var e struct {
			Code    string `xml:"Error>Code"`
			Message string `xml:"Error>Message"`
		}
		xml.Unmarshal(b, &e)
		return fmt.Errorf("%s: %s", e.Code, e.Message)
	}
	if err := xml.Unmarshal(b, out); err != nil {
		t.Fatalf("%s: decode %s: %v", action, b, err)
	}
	return nil
}

type connectOut struct {
	Action      string `xml:"ConnectComputeResult>Action"`
	Row         int    `xml:"ConnectComputeResult>DecisionRow"`
	Reason      string `xml:"ConnectComputeResult>Reason"`
	CacheSide   string `xml:"ConnectComputeResult>Connection>CacheSecurityGroupId"`
	CacheName   string `xml:"ConnectComputeResult>Connection>CacheSecurityGroupName"`
	InstSide    string `xml:"ConnectComputeResult>Connection>InstanceSecurityGroupId"`
	InstName    string `xml:"ConnectComputeResult>Connection>InstanceSecurityGroupName"`
	Interface   string `xml:"ConnectComputeResult>Connection>NetworkInterfaceId"`
	ConnectPort int    `xml:"ConnectComputeResult>Connection>Port"`
}

func (w *world) connect(t *testing.T, inst string) (connectOut, error) {
	t.Helper()
	var out connectOut
	err := w.call(t, "ConnectCompute", url.Values{"CacheClusterId": {"web"}, "InstanceId": {inst}}, &out)
	return out, err
}

func (w *world) mustConnect(t *testing.T, inst, action string, row int) connectOut {
	t.Helper()
	out, err := w.connect(t, inst)
	if err != nil {
		t.Fatalf("ConnectCompute = %v", err)
	}
	if out.Action != action || out.Row != row {
		t.Fatalf("ConnectCompute = %s row %d (%s), want %s row %d", out.Action, out.Row, out.Reason, action, row)
	}
	return out
}

func (w *world) connected(t *testing.T) []string {
	t.Helper()
	var out struct {
		IDs []string `xml:"DescribeConnectedComputeResourcesResult>ConnectedComputeResources>member>InstanceId"`
	}
	if err := w.call(t, "DescribeConnectedComputeResources", url.Values{"CacheClusterId": {"web"}}, &out); err != nil {
		t.Fatalf("DescribeConnectedComputeResources = %v", err)
	}
	return out.IDs
}

type explainOut struct {
	Allowed     bool     `xml:"ExplainCacheReachabilityResult>Allowed"`
	Explanation string   `xml:"ExplainCacheReachabilityResult>Explanation"`
	Missing     []string `xml:"ExplainCacheReachabilityResult>Nodes>member>Missing>member>Kind"`
}

func (w *world) explain(t *testing.T, inst string, port int) explainOut {
	t.Helper()
	var out explainOut
	p := url.Values{"CacheClusterId": {"web"}, "InstanceId": {inst}}
	if port != 0 {
		p.Set("Port", strconv.Itoa(port))
	}
	if err := w.call(t, "ExplainCacheReachability", p, &out); err != nil {
		t.Fatalf("ExplainCacheReachability = %v", err)
	}
	return out
}

// agree checks explain's verdict against a real connection attempt.
func (w *world) agree(t *testing.T, inst, eni string, port int, when string) bool {
	t.Helper()
	e := w.explain(t, inst, port)
	real := w.reachable(t, eni, port)
	if e.Allowed != real {
		t.Errorf("%s: explain says allowed=%v, a real connection says %v:\n%s", when, e.Allowed, real, e.Explanation)
	}
	return real
}

// pattern returns the ids of the groups whose names start with the cache
// side or instance side pattern of the world's pair.
func (w *world) managedGroups(t *testing.T, inst string) []string {
	t.Helper()
	out, err := w.ec2.DescribeSecurityGroups(context.Background(), &ec2.DescribeSecurityGroupsInput{})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, g := range out.SecurityGroups {
		n := aws.ToString(g.GroupName)
		if strings.HasPrefix(n, access.CacheSideName("web", inst)) || strings.HasPrefix(n, access.InstanceSideName(inst, "web")) {
			ids = append(ids, aws.ToString(g.GroupId))
		}
	}
	sort.Strings(ids)
	return ids
}

func (w *world) setInstanceGroups(t *testing.T, eni string, groups ...string) {
	t.Helper()
	if _, err := w.ec2.ModifyNetworkInterfaceAttribute(context.Background(), &ec2.ModifyNetworkInterfaceAttributeInput{
		NetworkInterfaceId: aws.String(eni), Groups: groups}); err != nil {
		t.Fatalf("ModifyNetworkInterfaceAttribute = %v", err)
	}
}

func (w *world) instanceGroups(t *testing.T, eni string) []string {
	t.Helper()
	out, err := w.ec2.DescribeNetworkInterfaces(context.Background(), &ec2.DescribeNetworkInterfacesInput{NetworkInterfaceIds: []string{eni}})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, g := range out.NetworkInterfaces[0].Groups {
		ids = append(ids, aws.ToString(g.GroupId))
	}
	return ids
}

// Row 1: a valid pair associated on both sides: nothing changes.
func TestConnectRow1AlreadyConnected(t *testing.T) {
	w := newWorld(t)
	first := w.mustConnect(t, w.inst, access.ActionCreate, 2)
	w.waitAvailable(t)
	w.wantReachable(t, w.eni, true, "after the first connect")
	groups := w.managedGroups(t, w.inst)
	again := w.mustConnect(t, w.inst, access.ActionNone, 1)
	if again.CacheSide != first.CacheSide || again.InstSide != first.InstSide {
		t.Errorf("second connect names %s/%s, want the first pair %s/%s", again.CacheSide, again.InstSide, first.CacheSide, first.InstSide)
	}
	if got := w.managedGroups(t, w.inst); !slices.Equal(got, groups) {
		t.Errorf("groups after re-running = %v, want %v (no pile-up)", got, groups)
	}
	w.wantReachable(t, w.eni, true, "after re-running")
}

// Row 2: nothing valid on either side: a new pair is created.
func TestConnectRow2CreatesPair(t *testing.T) {
	w := newWorld(t)
	w.agree(t, w.inst, w.eni, w.port, "before")
	w.wantReachable(t, w.eni, false, "before connecting")
	out := w.mustConnect(t, w.inst, access.ActionCreate, 2)
	if out.CacheName != "elasticache-ec2-web:"+w.inst || out.InstName != "ec2-elasticache-"+w.inst+":web" {
		t.Errorf("names = %q, %q", out.CacheName, out.InstName)
	}
	c := w.waitAvailable(t)
	if !slices.Equal(c.SecurityGroups, []string{w.defGroup, out.CacheSide}) {
		t.Errorf("cache groups = %v, want [%s %s]", c.SecurityGroups, w.defGroup, out.CacheSide)
	}
	if got := w.instanceGroups(t, w.eni); !slices.Equal(got, []string{w.appGroup, out.InstSide}) {
		t.Errorf("instance groups = %v, want [%s %s]", got, w.appGroup, out.InstSide)
	}
	if !w.agree(t, w.inst, w.eni, w.port, "after connecting") {
		t.Fatal("the instance does not reach the cache after ConnectCompute")
	}
	// The instance-side group allows only the cache's port out.
	if w.agree(t, w.inst, w.eni, 6380, "another port") {
		t.Error("port 6380 is reachable")
	}
	if got := w.connected(t); !slices.Equal(got, []string{w.inst}) {
		t.Errorf("connected = %v, want [%s]", got, w.inst)
	}
}

// Row 3: the cache side is valid and associated, the instance side was
// modified (and taken off the instance): a new pair is created, the
// modified group is left alone.
func TestConnectRow3InstanceSideModified(t *testing.T) {
	w := newWorld(t)
	first := w.mustConnect(t, w.inst, access.ActionCreate, 2)
	w.waitAvailable(t)
	// Someone moves the instance side's rule to another port.
	ctx := context.Background()
	if _, err := w.ec2.RevokeSecurityGroupEgress(ctx, &ec2.RevokeSecurityGroupEgressInput{GroupId: aws.String(first.InstSide),
		IpPermissions: []ec2types.IpPermission{{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(6379), ToPort: aws.Int32(6379),
			UserIdGroupPairs: []ec2types.UserIdGroupPair{{GroupId: aws.String(first.CacheSide)}}}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.ec2.AuthorizeSecurityGroupEgress(ctx, &ec2.AuthorizeSecurityGroupEgressInput{GroupId: aws.String(first.InstSide),
		IpPermissions: []ec2types.IpPermission{{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(6380), ToPort: aws.Int32(6380),
			UserIdGroupPairs: []ec2types.UserIdGroupPair{{GroupId: aws.String(first.CacheSide)}}}}}); err != nil {
		t.Fatal(err)
	}
	// Its default egress being the app group's, the instance still reaches
	// the cache through the unchanged cache side…
	w.agree(t, w.inst, w.eni, w.port, "instance side modified")
	// …until the modified group is also taken off the instance.
	w.setInstanceGroups(t, w.eni, w.appGroup)
	w.agree(t, w.inst, w.eni, w.port, "instance side modified and dissociated")
	w.wantReachable(t, w.eni, false, "instance side modified and dissociated")
	out := w.mustConnect(t, w.inst, access.ActionCreate, 3)
	if out.InstSide == first.InstSide || out.InstName != "ec2-elasticache-"+w.inst+":web:2" {
		t.Errorf("new instance side = %s (%s), want a new group named …:web:2", out.InstSide, out.InstName)
	}
	w.waitAvailable(t)
	if !w.agree(t, w.inst, w.eni, w.port, "after connecting") {
		t.Fatal("not reachable after row 3's new pair")
	}
	if got := w.managedGroups(t, w.inst); len(got) != 4 {
		t.Errorf("managed groups = %v, want the 2 old (one modified, kept) and 2 new", got)
	}
}

// Row 4: a valid pair whose instance side is not associated: it is
// associated again, nothing is created.
func TestConnectRow4AssociatesInstanceSide(t *testing.T) {
	w := newWorld(t)
	first := w.mustConnect(t, w.inst, access.ActionCreate, 2)
	w.waitAvailable(t)
	w.setInstanceGroups(t, w.eni, w.appGroup)
	w.agree(t, w.inst, w.eni, w.port, "instance side dissociated")
	w.wantReachable(t, w.eni, false, "instance side dissociated")
	groups := w.managedGroups(t, w.inst)
	out := w.mustConnect(t, w.inst, access.ActionAssociate, 4)
	if out.InstSide != first.InstSide {
		t.Errorf("associated %s, want %s", out.InstSide, first.InstSide)
	}
	if got := w.managedGroups(t, w.inst); !slices.Equal(got, groups) {
		t.Errorf("groups = %v, want unchanged %v", got, groups)
	}
	if !w.agree(t, w.inst, w.eni, w.port, "after associating") {
		t.Fatal("not reachable after row 4")
	}
}

// Row 5: the instance side is valid and associated, the cache side is not
// associated any more: a new pair is created.
func TestConnectRow5CacheSideDissociated(t *testing.T) {
	w := newWorld(t)
	first := w.mustConnect(t, w.inst, access.ActionCreate, 2)
	w.waitAvailable(t)
	if _, err := w.ec.ModifyCacheCluster(context.Background(), &elasticache.ModifyCacheClusterInput{CacheClusterId: aws.String("web"),
		SecurityGroupIds: []string{w.defGroup}, ApplyImmediately: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	w.waitAvailable(t)
	w.agree(t, w.inst, w.eni, w.port, "cache side dissociated")
	w.wantReachable(t, w.eni, false, "cache side dissociated")
	out := w.mustConnect(t, w.inst, access.ActionCreate, 5)
	if out.CacheSide == first.CacheSide || out.CacheName != "elasticache-ec2-web:"+w.inst+":2" {
		t.Errorf("new cache side = %s (%s), want a new group named …:2", out.CacheSide, out.CacheName)
	}
	w.waitAvailable(t)
	if !w.agree(t, w.inst, w.eni, w.port, "after connecting") {
		t.Fatal("not reachable after row 5's new pair")
	}
}

// Disconnect removes exactly what connect created; a hand-written rule makes
// an instance reachable but not listed.
func TestDisconnectAndHandWrittenRules(t *testing.T) {
	w := newWorld(t)
	out := w.mustConnect(t, w.inst, access.ActionCreate, 2)
	w.waitAvailable(t)
	w.wantReachable(t, w.eni, true, "connected")

	// A second instance allowed by a hand-written rule on the default group.
	other, otherENI := w.launch(t, "", w.appGroup)
	if w.agree(t, other, otherENI, w.port, "other instance before the rule") {
		t.Fatal("the other instance reaches the cache without a rule")
	}
	if _, err := w.ec2.AuthorizeSecurityGroupIngress(context.Background(), &ec2.AuthorizeSecurityGroupIngressInput{GroupId: aws.String(w.defGroup),
		IpPermissions: []ec2types.IpPermission{{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(6379), ToPort: aws.Int32(6379),
			UserIdGroupPairs: []ec2types.UserIdGroupPair{{GroupId: aws.String(w.appGroup)}}}}}); err != nil {
		t.Fatal(err)
	}
	if !w.agree(t, other, otherENI, w.port, "other instance with the hand-written rule") {
		t.Fatal("the hand-written rule does not let the other instance in")
	}
	if got := w.connected(t); !slices.Equal(got, []string{w.inst}) {
		t.Errorf("connected = %v, want only %s (hand-written access is not listed)", got, w.inst)
	}
	// Remove the hand-written rule, then disconnect.
	if _, err := w.ec2.RevokeSecurityGroupIngress(context.Background(), &ec2.RevokeSecurityGroupIngressInput{GroupId: aws.String(w.defGroup),
		IpPermissions: []ec2types.IpPermission{{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(6379), ToPort: aws.Int32(6379),
			UserIdGroupPairs: []ec2types.UserIdGroupPair{{GroupId: aws.String(w.appGroup)}}}}}); err != nil {
		t.Fatal(err)
	}
	var dis struct {
		Removed []string `xml:"DisconnectComputeResult>RemovedSecurityGroupIds>SecurityGroupId"`
	}
	if err := w.call(t, "DisconnectCompute", url.Values{"CacheClusterId": {"web"}, "InstanceId": {w.inst}}, &dis); err != nil {
		t.Fatalf("DisconnectCompute = %v", err)
	}
	sort.Strings(dis.Removed)
	want := []string{out.CacheSide, out.InstSide}
	sort.Strings(want)
	if !slices.Equal(dis.Removed, want) {
		t.Errorf("removed %v, want %v", dis.Removed, want)
	}
	if got := w.managedGroups(t, w.inst); len(got) != 0 {
		t.Errorf("groups left = %v", got)
	}
	c := w.waitAvailable(t)
	if !slices.Equal(c.SecurityGroups, []string{w.defGroup}) {
		t.Errorf("cache groups = %v, want [%s]", c.SecurityGroups, w.defGroup)
	}
	if got := w.instanceGroups(t, w.eni); !slices.Equal(got, []string{w.appGroup}) {
		t.Errorf("instance groups = %v, want [%s]", got, w.appGroup)
	}
	if w.agree(t, w.inst, w.eni, w.port, "after disconnecting") {
		t.Error("still reachable after DisconnectCompute")
	}
	if got := w.connected(t); len(got) != 0 {
		t.Errorf("connected after disconnect = %v", got)
	}
}

// An instance in another VPC is refused, and explain says why.
func TestConnectOtherVPCRefused(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	vpc, err := w.ec2.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.1.0.0/16")})
	if err != nil {
		t.Fatal(err)
	}
	sn, err := w.ec2.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: vpc.Vpc.VpcId, CidrBlock: aws.String("10.1.1.0/24")})
	if err != nil {
		t.Fatal(err)
	}
	inst, eni := w.launch(t, aws.ToString(sn.Subnet.SubnetId))
	_, err = w.connect(t, inst)
	if err == nil || !strings.Contains(err.Error(), "same VPC") || !strings.Contains(err.Error(), "Create an instance in") {
		t.Fatalf("ConnectCompute across VPCs = %v, want a refusal pointing to creating an instance in the cache's VPC", err)
	}
	e := w.explain(t, inst, 0)
	if e.Allowed || !slices.Contains(e.Missing, "peering") {
		t.Errorf("explain across VPCs = %+v, want denied for lack of peering", e)
	}
	if w.reachable(t, eni, w.port) {
		t.Error("an instance of another VPC reaches the cache")
	}
}

// A full instance gets a clear error and nothing is created.
func TestConnectInstanceFull(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	groups := []string{w.appGroup}
	for i := 0; i < 4; i++ {
		g, err := w.ec2.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String(fmt.Sprintf("extra%d", i)), Description: aws.String("x")})
		if err != nil {
			t.Fatal(err)
		}
		groups = append(groups, aws.ToString(g.GroupId))
	}
	w.setInstanceGroups(t, w.eni, groups...)
	_, err := w.connect(t, w.inst)
	if err == nil || !strings.Contains(err.Error(), "SecurityGroupsPerInterfaceLimitExceeded") {
		t.Fatalf("ConnectCompute with 5 groups = %v, want SecurityGroupsPerInterfaceLimitExceeded", err)
	}
	if got := w.managedGroups(t, w.inst); len(got) != 0 {
		t.Errorf("groups created anyway: %v", got)
	}
}

// The CLI drives the same actions.
func TestCLI(t *testing.T) {
	w := newWorld(t)
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"} {
		t.Setenv(k, "")
	}
	run := func(want int, args ...string) string {
		t.Helper()
		var out, errb bytes.Buffer
		args = append([]string{args[0], "--data-dir", w.env.DataDir}, args[1:]...)
		if code := cli.Run(context.Background(), args, &out, &errb); code != want {
			t.Fatalf("cachalot %v = exit %d (%s%s), want %d", args, code, out.String(), errb.String(), want)
		}
		return out.String()
	}
	if out := run(3, "explain", "--from", w.inst, "--to", "web"); !strings.Contains(out, "DENIED") || !strings.Contains(out, "missing") {
		t.Errorf("explain before = %q", out)
	}
	if out := run(0, "connect-compute", "--cache", "web", "--instance", w.inst); !strings.Contains(out, "created a new pair") {
		t.Errorf("connect-compute = %q", out)
	}
	w.waitAvailable(t)
	if out := run(0, "connect-compute", "--cache", "web", "--instance", w.inst); !strings.Contains(out, "already connected") {
		t.Errorf("connect-compute again = %q", out)
	}
	if out := run(0, "connected-compute", "--cache", "web"); !strings.HasPrefix(out, w.inst+"\t") {
		t.Errorf("connected-compute = %q", out)
	}
	if out := run(0, "explain", "--from", w.inst, "--to", "web"); !strings.Contains(out, "ALLOWED") || !strings.Contains(out, "elasticache-ec2-web:") {
		t.Errorf("explain after = %q", out)
	}
	w.wantReachable(t, w.eni, true, "after the CLI connected")
	if out := run(0, "disconnect-compute", "--cache", "web", "--instance", w.inst); !strings.Contains(out, "removed") {
		t.Errorf("disconnect-compute = %q", out)
	}
	w.wantReachable(t, w.eni, false, "after the CLI disconnected")
}

// TestConnectLatency measures ConnectCompute → first successful PING from
// the instance, over 10 runs (connect, measure, disconnect). It prints the
// p50 for docs/access-flows.md; CACHALOT_FIGURES=1 runs it.
func TestConnectLatency(t *testing.T) {
	if os.Getenv("CACHALOT_FIGURES") == "" {
		t.Skip("set CACHALOT_FIGURES=1 to measure connect-compute latency")
	}
	w := newWorld(t)
	var runs, calls []time.Duration
	for i := 0; i < 10; i++ {
		w.wantReachable(t, w.eni, false, fmt.Sprintf("run %d before", i))
		start := time.Now()
		w.mustConnect(t, w.inst, access.ActionCreate, 2)
		calls = append(calls, time.Since(start))
		deadline := start.Add(20 * time.Second)
		// Short attempts: a SYN dropped before the rules land is not
		// retransmitted for 1s, so each attempt is a fresh connection.
		for w.ping(w.eni, w.port, 10*time.Millisecond) != nil {
			if time.Now().After(deadline) {
				t.Fatalf("run %d: not reachable 20s after ConnectCompute", i)
			}
			time.Sleep(2 * time.Millisecond)
		}
		runs = append(runs, time.Since(start))
		w.waitAvailable(t)
		var dis struct{}
		if err := w.call(t, "DisconnectCompute", url.Values{"CacheClusterId": {"web"}, "InstanceId": {w.inst}}, &dis); err != nil {
			t.Fatal(err)
		}
		w.waitAvailable(t)
	}
	slices.Sort(runs)
	slices.Sort(calls)
	t.Logf("connect-compute latency over %d runs: min %v p50 %v max %v (the ConnectCompute call itself: p50 %v)", len(runs), runs[0].Round(time.Millisecond),
		runs[len(runs)/2].Round(time.Millisecond), runs[len(runs)-1].Round(time.Millisecond), calls[len(calls)/2].Round(time.Millisecond))
}

// Through the endpoint, with IAM policies: the eight ec2: permissions are
// needed besides elasticache:ConnectCompute, on the resources the
// connection acts on, so a Deny scoped to the instance (or to its
// interface) holds, and another instance still connects.
func TestConnectIAMPermissions(t *testing.T) {
	w := newWorld(t)
	other, _ := w.launch(t, "", w.appGroup)
	ctx := context.Background()
	ic := iam.NewFromConfig(w.env.Config())
	if _, err := ic.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("dev")}); err != nil {
		t.Fatal(err)
	}
	key, err := ic.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("dev")})
	if err != nil {
		t.Fatal(err)
	}
	put := func(name, doc string) {
		t.Helper()
		if _, err := ic.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("dev"), PolicyName: aws.String(name), PolicyDocument: aws.String(doc)}); err != nil {
			t.Fatal(err)
		}
	}
	put("cache", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["elasticache:*","ec2:Describe*"],"Resource":"*"}]}`)
	w.env.Root.AccessKeyID, w.env.Root.SecretAccessKey = aws.ToString(key.AccessKey.AccessKeyId), aws.ToString(key.AccessKey.SecretAccessKey)
	_, err = w.connect(t, w.inst)
	denied, _, _ := strings.Cut(fmt.Sprint(err), " (ConnectCompute needs")
	if err == nil || !strings.HasPrefix(denied, "AccessDenied") || !strings.Contains(denied, "ec2:CreateSecurityGroup") ||
		!strings.Contains(denied, "ec2:RevokeSecurityGroupEgress") || strings.Contains(denied, "ec2:DescribeInstances") {
		t.Fatalf("ConnectCompute without the ec2 write permissions = %v, want AccessDenied naming them", err)
	}
	if n := len(w.managedGroups(t, w.inst)); n != 0 {
		t.Errorf("a refused ConnectCompute left %d groups", n)
	}
	put("connect", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["ec2:AuthorizeSecurityGroupEgress","ec2:AuthorizeSecurityGroupIngress",
		"ec2:CreateSecurityGroup","ec2:ModifyNetworkInterfaceAttribute","ec2:RevokeSecurityGroupEgress"],"Resource":"*"}]}`)
	for _, deny := range []string{
		"arn:aws:ec2:" + apptest.Region + ":*:instance/" + w.inst,
		"arn:aws:ec2:*:*:network-interface/" + w.eni,
	} {
		put("deny", `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"ec2:*","Resource":"`+deny+`"}]}`)
		_, err = w.connect(t, w.inst)
		if err == nil || !strings.HasPrefix(err.Error(), "AccessDenied") || !strings.Contains(err.Error(), "ec2:ModifyNetworkInterfaceAttribute") {
			t.Errorf("ConnectCompute with a Deny on %s = %v, want AccessDenied naming ec2:ModifyNetworkInterfaceAttribute", deny, err)
		}
		if n := len(w.managedGroups(t, w.inst)); n != 0 {
			t.Errorf("a refused ConnectCompute (Deny on %s) left %d groups", deny, n)
		}
	}
	w.mustConnect(t, other, access.ActionCreate, 2)
	if _, err := ic.DeleteUserPolicy(ctx, &iam.DeleteUserPolicyInput{UserName: aws.String("dev"), PolicyName: aws.String("deny")}); err != nil {
		t.Fatal(err)
	}
	w.mustConnect(t, w.inst, access.ActionCreate, 2)
}

// A Memcached cluster: every node and the configuration endpoint are
// connected, explained and reachable.
func TestConnectMemcached(t *testing.T) {
	privtest.RequireRoot(t)
	env := apptest.Start(t)
	w := &world{env: env, ec: elasticache.NewFromConfig(env.Config()), ec2: ec2.NewFromConfig(env.Config())}
	ctx := context.Background()
	if _, err := w.ec.CreateCacheCluster(ctx, &elasticache.CreateCacheClusterInput{CacheClusterId: aws.String("web"),
		Engine: aws.String("memcached"), CacheNodeType: aws.String("cache.t3.micro"), NumCacheNodes: aws.Int32(2)}); err != nil {
		t.Fatal(err)
	}
	sg, err := w.ec2.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String("app"), Description: aws.String("app")})
	if err != nil {
		t.Fatal(err)
	}
	inst, eni := w.launch(t, "", aws.ToString(sg.GroupId))
	w.waitAvailable(t)
	out, err := w.ec.DescribeCacheClusters(ctx, &elasticache.DescribeCacheClustersInput{CacheClusterId: aws.String("web"), ShowCacheNodeInfo: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	c := out.CacheClusters[0]
	addrs := []string{nettest.WaitResolve(t, env.App.Plane(), eni, aws.ToString(c.ConfigurationEndpoint.Address))}
	for _, n := range c.CacheNodes {
		addrs = append(addrs, nettest.WaitResolve(t, env.App.Plane(), eni, aws.ToString(n.Endpoint.Address)))
	}
	version := func(addr string) error {
		ctx, cancel := context.WithTimeout(ctx, 1500*time.Millisecond)
		defer cancel()
		conn, err := env.App.Plane().Dial(ctx, eni, "tcp", net.JoinHostPort(addr, "11211"))
		if err != nil {
			return err
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(1500 * time.Millisecond))
		fmt.Fprintf(conn, "version\r\n")
		line, err := bufio.NewReader(conn).ReadString('\n')
		if err == nil && !strings.HasPrefix(line, "VERSION") {
			err = fmt.Errorf("version answered %q", line)
		}
		return err
	}
	w.idle(t)
	for _, a := range addrs {
		if version(a) == nil {
			t.Fatalf("%s reachable before connecting", a)
		}
	}
	if e := w.explain(t, inst, 0); e.Allowed || !strings.Contains(e.Explanation, "configuration") {
		t.Errorf("explain before = %s", e.Explanation)
	}
	w.mustConnect(t, inst, access.ActionCreate, 2)
	w.idle(t)
	for _, a := range addrs {
		if err := version(a); err != nil {
			t.Errorf("%s after connecting: %v", a, err)
		}
	}
	if e := w.explain(t, inst, 0); !e.Allowed {
		t.Errorf("explain after = %s", e.Explanation)
	}
}

// Preview (the console's review step): ConnectCompute with Preview says
// what it would do — the row, the names of the groups it would create —
// and changes nothing; after the connection it says "already connected".
func TestConnectPreview(t *testing.T) {
	w := newWorld(t)
	var before connectOut
	if err := w.call(t, "ConnectCompute", url.Values{"CacheClusterId": {"web"}, "InstanceId": {w.inst}, "Preview": {"true"}}, &before); err != nil {
		t.Fatalf("ConnectCompute(Preview) = %v", err)
	}
	if before.Action != access.ActionCreate || before.Row != 2 || before.CacheSide != "" ||
		before.CacheName != access.CacheSideName("web", w.inst) || before.InstName != access.InstanceSideName(w.inst, "web") {
		t.Errorf("preview = %+v, want create row 2 naming the pair, without ids", before)
	}
	if got := w.managedGroups(t, w.inst); len(got) != 0 {
		t.Errorf("groups after a preview = %v, want none", got)
	}
	w.wantReachable(t, w.eni, false, "after a preview")
	done := w.mustConnect(t, w.inst, access.ActionCreate, 2)
	var after connectOut
	if err := w.call(t, "ConnectCompute", url.Values{"CacheClusterId": {"web"}, "InstanceId": {w.inst}, "Preview": {"true"}}, &after); err != nil {
		t.Fatalf("ConnectCompute(Preview) = %v", err)
	}
	if after.Action != access.ActionNone || after.Row != 1 || after.CacheSide != done.CacheSide || after.InstSide != done.InstSide {
		t.Errorf("preview once connected = %+v, want none row 1 naming %s/%s", after, done.CacheSide, done.InstSide)
	}
	if err := w.call(t, "DisconnectCompute", url.Values{"CacheClusterId": {"web"}, "InstanceId": {w.inst}, "Preview": {"true"}}, &struct{}{}); err == nil || !strings.HasPrefix(err.Error(), "InvalidParameterCombination") {
		t.Errorf("DisconnectCompute(Preview) = %v, want InvalidParameterCombination", err)
	}
}
