package elasticache_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"
	ectypes "github.com/aws/aws-sdk-go-v2/service/elasticache/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/cachalot-dev/cachalot/internal/app"
	"github.com/cachalot-dev/cachalot/internal/app/apptest"
	"github.com/cachalot-dev/cachalot/internal/privtest"
)

// iamToken generates an ElastiCache IAM authentication token as AWS's
// examples do: a GET of http://<cache>/?Action=connect&User=<user>
// presigned with aws-sdk-go-v2's signer for elasticache, 15 minutes,
// without its scheme.
func iamToken(t *testing.T, cred aws.Credentials, cache, user string, serverless bool, at time.Time) string {
	t.Helper()
	q := url.Values{"Action": {"connect"}, "User": {user}}
	if serverless {
		q.Set("ResourceType", "ServerlessCache")
	}
	q.Set("X-Amz-Expires", "900")
	req, err := http.NewRequest(http.MethodGet, "http://"+cache+"/?"+q.Encode(), nil)
	if err != nil {
		t.Fatal(err)
	}
	empty := sha256.Sum256(nil)
	u, _, err := v4.NewSigner().PresignHTTP(context.Background(), cred, req, hex.EncodeToString(empty[:]), "elasticache", apptest.Region, at)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimPrefix(u, "http://")
}

// iamPrincipal creates an IAM user with an inline policy and returns its
// credentials.
func iamPrincipal(t *testing.T, c *iam.Client, name, policy string) aws.Credentials {
	t.Helper()
	ctx := context.Background()
	if _, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(name)}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String(name), PolicyName: aws.String("connect"), PolicyDocument: aws.String(policy)}); err != nil {
		t.Fatal(err)
	}
	k, err := c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	return aws.Credentials{AccessKeyID: aws.ToString(k.AccessKey.AccessKeyId), SecretAccessKey: aws.ToString(k.AccessKey.SecretAccessKey)}
}

// reauthScript authenticates with AUTH user token over TLS, PINGs, then
// waits for the server to close the connection: it prints the replies
// and "closed", or "open" if the connection outlives 8 s.
const reauthScript = `
import socket, ssl, sys
host, port, ca, user, tok = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
ctx = ssl.create_default_context(cafile=ca)
s = ctx.wrap_socket(socket.create_connection((host, port), timeout=8), server_hostname=host)
def cmd(*a):
    s.sendall(("*%d\r\n" % len(a) + "".join("$%d\r\n%s\r\n" % (len(x), x) for x in a)).encode())
    print(s.recv(4096).decode().strip())
cmd("AUTH", user, tok)
cmd("PING")
try:
    while True:
        if not s.recv(4096):
            print("closed")
            break
except socket.timeout:
    print("open")
except (ConnectionError, ssl.SSLError):
    print("closed")
`

// TestIAMAuth: IAM authentication on a TLS replication group, real
// engines in real namespaces, redis-cli --tls from an instance. An
// ElastiCache user with AuthenticationMode iam connects with the token
// aws-sdk-go-v2 presigns for an IAM user allowed elasticache:Connect, and
// its access string applies; an expired token, a token for another user
// or another cache, a forged one, and one of a principal denied Connect
// get WRONGPASS; the password user and the default user work as before;
// an IAM-authenticated connection is closed when its re-authentication
// period (shortened here) passes; the IAM front comes back after a
// service restart; after the primary's engine is killed the replica takes
// over (replication ran through the front) and the token works there; the
// group losing its last IAM user and gaining it again switches live.
func TestIAMAuth(t *testing.T) {
	privtest.RequireRoot(t)
	dir := t.TempDir()
	w := &rbacWorld{groupWorld: &groupWorld{world: newWorld(t, func(c *app.Config) {
		c.DataDir = dir
		c.IAMReauth = 2 * time.Second
	}), dir: dir, id: "iamrg"}}
	ctx := context.Background()
	_, w.eni = w.instance(t)
	w.ca = exportCA(t, dir)
	ic := iam.NewFromConfig(w.env.Config())
	const acct = "000000000000"
	allowed := iamPrincipal(t, ic, "alice", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"elasticache:Connect",
		"Resource":["arn:aws:elasticache:us-east-1:`+acct+`:replicationgroup:iamrg","arn:aws:elasticache:us-east-1:`+acct+`:user:iam-user"]}]}`)
	denied := iamPrincipal(t, ic, "bob", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"elasticache:*","Resource":"*"},
		{"Effect":"Deny","Action":"elasticache:Connect","Resource":"*"}]}`)

	for _, u := range []*elasticache.CreateUserInput{
		{UserId: aws.String("iam-default"), UserName: aws.String("default"), AccessString: aws.String("on ~* +@all"), NoPasswordRequired: aws.Bool(true)},
		{UserId: aws.String("iam-user"), UserName: aws.String("iam-user"), AccessString: aws.String("on ~app:* +@all"),
			AuthenticationMode: &ectypes.AuthenticationMode{Type: ectypes.InputAuthenticationTypeIam}},
		{UserId: aws.String("writer"), UserName: aws.String("writer"), AccessString: aws.String("on ~* +@all"), Passwords: []string{writerPass}},
	} {
		u.Engine = aws.String("redis")
		if _, err := w.ec.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	d, err := w.ec.DescribeUsers(ctx, &elasticache.DescribeUsersInput{UserId: aws.String("iam-user")})
	if err != nil || string(d.Users[0].Authentication.Type) != "iam" {
		t.Fatalf("DescribeUsers iam-user = %+v, %v; want Authentication.Type iam", d, err)
	}
	if _, err := w.ec.CreateUserGroup(ctx, &elasticache.CreateUserGroupInput{UserGroupId: aws.String("iamug"), Engine: aws.String("redis"),
		UserIds: []string{"iam-default", "iam-user", "writer"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.ec.CreateReplicationGroup(ctx, &elasticache.CreateReplicationGroupInput{ReplicationGroupId: aws.String("iamrg"),
		ReplicationGroupDescription: aws.String("iam"), Engine: aws.String("redis"), CacheNodeType: aws.String("cache.t3.micro"),
		NumCacheClusters: aws.Int32(2), AutomaticFailoverEnabled: aws.Bool(true), TransitEncryptionEnabled: aws.Bool(true),
		UserGroupIds: []string{"iamug"}}); err != nil {
		t.Fatal(err)
	}
	g := w.settle(t, "created")
	ng := g.NodeGroups[0]
	primary := aws.ToString(ng.PrimaryEndpoint.Address)
	var all []string
	for _, m := range ng.NodeGroupMembers {
		all = append(all, aws.ToString(m.ReadEndpoint.Address))
	}
	now := time.Now()
	good := iamToken(t, allowed, "iamrg", "iam-user", false, now)
	forged := []byte(good)
	if forged[len(forged)-1] == '0' {
		forged[len(forged)-1] = '1'
	} else {
		forged[len(forged)-1] = '0'
	}
	check := func(stage string) {
		t.Helper()
		w.expect(t, stage, []string{primary}, "iam-user", good, "OK", "SET", "app:k", "v")
		w.expect(t, stage, all, "iam-user", good, "PONG", "PING")
		w.expect(t, stage, []string{primary}, "iam-user", good, "NOPERM", "SET", "other", "v")
		for _, tc := range []struct{ name, token string }{
			{"expired", iamToken(t, allowed, "iamrg", "iam-user", false, now.Add(-16*time.Minute))},
			{"other-user", iamToken(t, allowed, "iamrg", "writer", false, now)},
			{"other-cache", iamToken(t, allowed, "otherrg", "iam-user", false, now)},
			{"serverless-type", iamToken(t, allowed, "iamrg", "iam-user", true, now)},
			{"forged", string(forged)},
			{"denied", iamToken(t, denied, "iamrg", "iam-user", false, now)},
			{"not-a-token", "some-password-0123456789"},
		} {
			w.expect(t, stage+" "+tc.name, []string{primary}, "iam-user", tc.token, "WRONGPASS", "PING")
		}
		// A token is no password of another user.
		w.expect(t, stage, []string{primary}, "writer", good, "WRONGPASS", "PING")
		w.expect(t, stage, []string{primary}, "writer", writerPass, "v", "GET", "app:k")
		w.expect(t, stage, all, "", "", "PONG", "PING")
	}
	check("created")

	// The front's re-authentication period (2 s here, 12 h by default)
	// closes an IAM-authenticated connection.
	out, _ := w.run(t, w.eni, "python3", "-c", reauthScript, primary, "6379", w.ca, "iam-user", good)
	if out != "+OK\n+PONG\nclosed" {
		t.Errorf("IAM connection past its re-authentication period: %q, want OK, PONG, closed", out)
	}
	// A password user's connection is not the front's to close.
	out, _ = w.run(t, w.eni, "python3", "-c", reauthScript, primary, "6379", w.ca, "writer", writerPass)
	if out != "+OK\n+PONG\nopen" {
		t.Errorf("password connection: %q, want OK, PONG, open", out)
	}

	// A service restart: the engines are re-adopted, the fronts come back.
	w.restartRBAC(t)
	check("restarted")

	// The primary's engine killed: the replica takes over, replicating
	// through the fronts; the token works on the new primary.
	deadline := time.Now().Add(20 * time.Second)
	for !allHave(t, w, all, good) {
		if time.Now().After(deadline) {
			t.Fatalf("app:k = v did not reach every member of %v within 20 s", all)
		}
	}
	before := primaryOf(w.describe(t))
	if err := syscall.Kill(nodePID(t, w.dir, "000000000000.us-east-1."+before+".0001"), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	w.waitGroup(t, "failover", func(g ectypes.ReplicationGroup) bool {
		if primaryOf(g) == before {
			return false
		}
		for _, m := range g.NodeGroups[0].NodeGroupMembers {
			if aws.ToString(m.CurrentRole) != "primary" && aws.ToString(m.CurrentRole) != "replica" {
				return false
			}
		}
		return true
	})
	w.settle(t, "failover")
	w.expect(t, "after failover", []string{primary}, "iam-user", good, "OK", "SET", "app:k", "v")
	w.expect(t, "after failover", all, "iam-user", good, "PONG", "PING")

	// The group's last IAM user leaves: the engine takes its port back
	// (TLS, required), live.
	if _, err := w.ec.ModifyUserGroup(ctx, &elasticache.ModifyUserGroupInput{UserGroupId: aws.String("iamug"), UserIdsToRemove: []string{"iam-user"}}); err != nil {
		t.Fatal(err)
	}
	w.settle(t, "iam user removed")
	w.expect(t, "iam user removed", []string{primary}, "iam-user", good, "WRONGPASS", "PING")
	w.expect(t, "iam user removed", all, "writer", writerPass, "v", "GET", "app:k")
	// And back.
	if _, err := w.ec.ModifyUserGroup(ctx, &elasticache.ModifyUserGroupInput{UserGroupId: aws.String("iamug"), UserIdsToAdd: []string{"iam-user"}}); err != nil {
		t.Fatal(err)
	}
	w.settle(t, "iam user added")
	w.expect(t, "iam user added", all, "iam-user", good, "v", "GET", "app:k")
}

// TestServerlessIAMAuth: a serverless cache whose user group has an IAM
// user accepts tokens with ResourceType=ServerlessCache on both ports,
// and refuses one without it.
func TestServerlessIAMAuth(t *testing.T) {
	privtest.RequireRoot(t)
	dir := t.TempDir()
	w := &serverlessWorld{world: newWorld(t, func(c *app.Config) { c.DataDir = dir }), dir: dir}
	ctx := context.Background()
	_, w.eni = w.instance(t)
	w.ca = exportCA(t, dir)
	ic := iam.NewFromConfig(w.env.Config())
	allowed := iamPrincipal(t, ic, "carol", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"elasticache:Connect",
		"Resource":["arn:aws:elasticache:us-east-1:000000000000:serverlesscache:slim","arn:aws:elasticache:us-east-1:000000000000:user:sl-iam"]}]}`)
	for _, u := range []*elasticache.CreateUserInput{
		{UserId: aws.String("sl-default"), UserName: aws.String("default"), AccessString: aws.String("off ~* +@all"), NoPasswordRequired: aws.Bool(true)},
		{UserId: aws.String("sl-iam"), UserName: aws.String("sl-iam"), AccessString: aws.String("on ~* +@all"),
			AuthenticationMode: &ectypes.AuthenticationMode{Type: ectypes.InputAuthenticationTypeIam}},
	} {
		u.Engine = aws.String("redis")
		if _, err := w.ec.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.ec.CreateUserGroup(ctx, &elasticache.CreateUserGroupInput{UserGroupId: aws.String("slug"), Engine: aws.String("redis"),
		UserIds: []string{"sl-default", "sl-iam"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.ec.CreateServerlessCache(ctx, &elasticache.CreateServerlessCacheInput{ServerlessCacheName: aws.String("slim"),
		Engine: aws.String("redis"), UserGroupId: aws.String("slug")}); err != nil {
		t.Fatal(err)
	}
	sc := w.wait(t, "slim", "available")
	host := aws.ToString(sc.Endpoint.Address)
	now := time.Now()
	good := iamToken(t, allowed, "slim", "sl-iam", true, now)
	as := func(tok string) []string { return []string{"--user", "sl-iam", "--pass", tok, "--no-auth-warning"} }
	if out, _ := w.cli(t, w.eni, host, 6379, append(as(good), "-c", "SET", "k", "v")...); out != "OK" {
		t.Errorf("SET with a serverless token on 6379 = %q, want OK", out)
	}
	if out, _ := w.cli(t, w.eni, host, 6380, append(as(good), "PING")...); out != "PONG" {
		t.Errorf("PING with a serverless token on 6380 = %q, want PONG", out)
	}
	if out, _ := w.cli(t, w.eni, host, 6379, append(as(iamToken(t, allowed, "slim", "sl-iam", false, now)), "PING")...); !strings.Contains(out, "WRONGPASS") {
		t.Errorf("token without ResourceType=ServerlessCache = %q, want WRONGPASS", out)
	}
	if out, _ := w.cli(t, w.eni, host, 6379, "PING"); !strings.Contains(out, "NOAUTH") {
		t.Errorf("PING without AUTH = %q, want NOAUTH", out)
	}
}

// TestIAMAuthClusterMode: IAM authentication on a cluster-mode TLS group
// (2 shards, a replica each): redis-cli -c through the configuration
// endpoint authenticates with one token on every node it is redirected
// to (each node's front checks it), keys spread over both shards, and
// every write reaches its replica (WAIT), replication going through the
// primaries' fronts.
func TestIAMAuthClusterMode(t *testing.T) {
	privtest.RequireRoot(t)
	dir := t.TempDir()
	w := &clusterWorld{groupWorld: &groupWorld{world: newWorld(t, func(c *app.Config) { c.DataDir = dir }), dir: dir, id: "iamcl"}}
	ctx := context.Background()
	_, w.eni = w.instance(t)
	ca := exportCA(t, dir)
	ic := iam.NewFromConfig(w.env.Config())
	allowed := iamPrincipal(t, ic, "dave", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"elasticache:Connect","Resource":"*"}]}`)
	for _, u := range []*elasticache.CreateUserInput{
		{UserId: aws.String("cl-default"), UserName: aws.String("default"), AccessString: aws.String("off ~* +@all"), NoPasswordRequired: aws.Bool(true)},
		{UserId: aws.String("cl-iam"), UserName: aws.String("cl-iam"), AccessString: aws.String("on ~* +@all"),
			AuthenticationMode: &ectypes.AuthenticationMode{Type: ectypes.InputAuthenticationTypeIam}},
	} {
		u.Engine = aws.String("redis")
		if _, err := w.ec.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.ec.CreateUserGroup(ctx, &elasticache.CreateUserGroupInput{UserGroupId: aws.String("clug"), Engine: aws.String("redis"),
		UserIds: []string{"cl-default", "cl-iam"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.ec.CreateReplicationGroup(ctx, &elasticache.CreateReplicationGroupInput{ReplicationGroupId: aws.String("iamcl"),
		ReplicationGroupDescription: aws.String("iam cluster"), Engine: aws.String("redis"), CacheNodeType: aws.String("cache.t3.micro"),
		NumNodeGroups: aws.Int32(2), ReplicasPerNodeGroup: aws.Int32(1), AutomaticFailoverEnabled: aws.Bool(true),
		CacheParameterGroupName: aws.String("default.redis7.cluster.on"), TransitEncryptionEnabled: aws.Bool(true),
		UserGroupIds: []string{"clug"}}); err != nil {
		t.Fatal(err)
	}
	g := w.waitGroup(t, "created", func(ectypes.ReplicationGroup) bool { return true })
	w.cfg = aws.ToString(g.ConfigurationEndpoint.Address)
	tok := iamToken(t, allowed, "iamcl", "cl-iam", false, time.Now())
	cli := "timeout 8 redis-cli --tls --cacert " + ca + " --no-auth-warning --user cl-iam --pass '" + tok + "' -c -h " + w.cfg
	const n = 100
	out := w.cli(t, fmt.Sprintf(`for i in $(seq 1 %d); do echo "SET key:$i v$i"; done | %s | grep -v Redirected | sort | uniq -c`, n, cli))
	if strings.TrimSpace(out) != fmt.Sprintf("%d OK", n) {
		t.Fatalf("writing %d keys with a token through redis-cli -c = %q", n, out)
	}
	out = w.cli(t, fmt.Sprintf(`for i in $(seq 1 %d); do echo "GET key:$i"; done | %s | grep -v Redirected | sort -u | wc -l`, n, cli))
	if strings.TrimSpace(out) != fmt.Sprint(n) {
		t.Errorf("reading %d keys back: %s distinct answers", n, out)
	}
	// Each shard's primary: a key of its slots, then WAIT for the replica.
	for _, key := range []string{"key:1", "key:2", "key:3"} {
		out = w.cli(t, fmt.Sprintf(`printf 'SET %s w\nWAIT 1 5000\n' | %s | grep -v Redirected`, key, cli))
		if out != "OK\n1" {
			t.Errorf("SET %s then WAIT 1 = %q, want OK and 1 replica", key, out)
		}
	}
	out = w.cli(t, "timeout 8 redis-cli --tls --cacert "+ca+" --no-auth-warning -c -h "+w.cfg+" GET key:1 || true")
	if !strings.Contains(out, "NOAUTH") {
		t.Errorf("GET without AUTH = %q, want NOAUTH", out)
	}
}

// allHave reports whether every host answers app:k = v to the IAM user.
func allHave(t *testing.T, w *rbacWorld, hosts []string, tok string) bool {
	t.Helper()
	for _, h := range hosts {
		if w.as(t, h, "iam-user", tok, "GET", "app:k") != "v" {
			return false
		}
	}
	return true
}
