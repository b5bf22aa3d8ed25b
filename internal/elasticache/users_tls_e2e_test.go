package elasticache_test

import (
	"context"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"
	ectypes "github.com/aws/aws-sdk-go-v2/service/elasticache/types"

	"github.com/cachalot-dev/cachalot/internal/app"
	"github.com/cachalot-dev/cachalot/internal/privtest"
)

// rbacWorld is a TLS replication group with a user group, reached with
// redis-cli --tls from an instance.
type rbacWorld struct {
	*groupWorld
	ca string
}

// as runs redis-cli on host as user (user "": no AUTH) and returns its
// output (the engine's error text included).
func (w *rbacWorld) as(t *testing.T, host, user, pass string, args ...string) string {
	t.Helper()
	argv := []string{"timeout", "5", "redis-cli", "-h", host, "--tls", "--cacert", w.ca, "--no-auth-warning"}
	if user != "" {
		argv = append(argv, "--user", user, "--pass", pass)
	}
	out, _ := w.run(t, w.eni, append(argv, args...)...)
	return out
}

// expect checks that redis-cli as user answers want (a prefix) on every
// host.
func (w *rbacWorld) expect(t *testing.T, stage string, hosts []string, user, pass, want string, args ...string) {
	t.Helper()
	for _, h := range hosts {
		// redis-cli reports a refused AUTH as "AUTH failed: <error>".
		if out := w.as(t, h, user, pass, args...); !strings.HasPrefix(out, want) && !strings.HasPrefix(out, "AUTH failed: "+want) {
			t.Errorf("%s: %s on %s: %v = %q, want %q", stage, orNone(user), h, args, out, want)
		}
	}
}

func orNone(u string) string {
	if u == "" {
		return "(no AUTH)"
	}
	return u
}

// settle waits until the group and every member are available and the
// user groups active: every member's engine has the users.
func (w *rbacWorld) settle(t *testing.T, what string) ectypes.ReplicationGroup {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		g := w.waitGroup(t, what, func(ectypes.ReplicationGroup) bool { return true })
		for _, m := range g.MemberClusters {
			w.waitStatus(t, m, "available")
		}
		ug, err := w.ec.DescribeUserGroups(context.Background(), &elasticache.DescribeUserGroupsInput{})
		if err != nil {
			t.Fatal(err)
		}
		active := true
		for _, x := range ug.UserGroups {
			active = active && aws.ToString(x.Status) == "active"
		}
		if active {
			return g
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: user groups not active: %+v", what, ug.UserGroups)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// restartRBAC restarts Cachalot: the members are re-adopted (same
// processes) and keep their users.
func (w *rbacWorld) restartRBAC(t *testing.T) {
	t.Helper()
	g := w.describe(t)
	pids := map[string]int{}
	for _, m := range g.MemberClusters {
		pids[m] = nodePID(t, w.dir, "000000000000.us-east-1."+m+".0001")
	}
	if err := w.env.App.Close(); err != nil {
		t.Fatal(err)
	}
	a := app.New(app.Config{Listen: "127.0.0.1:0", DataDir: w.dir})
	if err := a.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	w.env.App, w.env.URL = a, a.URL()
	w.ec = elasticache.NewFromConfig(w.env.Config())
	w.settle(t, "restart")
	for m, pid := range pids {
		if now := nodePID(t, w.dir, "000000000000.us-east-1."+m+".0001"); now != pid {
			t.Errorf("after a service restart %s runs pid %d, want %d re-adopted", m, now, pid)
		}
	}
}

const (
	readerPass  = "reader-password-0001"
	readerPass2 = "reader-password-0002"
	writerPass  = "writer-password-0001"
)

// TestRBAC: a TLS replication group with a user group, real engines in
// real namespaces, redis-cli --tls from an instance. A read-only user can
// GET but not SET (NOPERM), a wrong password is refused (WRONGPASS), the
// group's default user is off (NOAUTH without AUTH), on every member;
// ModifyUser (access string, password) takes effect on every member
// without restarting it, ModifyUserGroup removing a user revokes it;
// removing the user group opens the default user again; moving from an
// AUTH token to RBAC needs AuthTokenUpdateStrategy DELETE.
func TestRBAC(t *testing.T) {
	privtest.RequireRoot(t)
	dir := t.TempDir()
	w := &rbacWorld{groupWorld: &groupWorld{world: newWorld(t, func(c *app.Config) { c.DataDir = dir }), dir: dir, id: "rbac"}}
	ctx := context.Background()
	_, w.eni = w.instance(t)
	w.ca = exportCA(t, dir)

	for _, u := range []*elasticache.CreateUserInput{
		{UserId: aws.String("app-default"), UserName: aws.String("default"), AccessString: aws.String("off ~* +@all"), NoPasswordRequired: aws.Bool(true)},
		{UserId: aws.String("reader"), UserName: aws.String("reader"), AccessString: aws.String("on ~* -@all +get +ping"), Passwords: []string{readerPass}},
		{UserId: aws.String("writer"), UserName: aws.String("writer"), AccessString: aws.String("on ~app:* +@all"), Passwords: []string{writerPass}},
	} {
		u.Engine = aws.String("redis")
		if _, err := w.ec.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.ec.CreateUserGroup(ctx, &elasticache.CreateUserGroupInput{UserGroupId: aws.String("app"), Engine: aws.String("redis"),
		UserIds: []string{"app-default", "reader", "writer"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.ec.CreateReplicationGroup(ctx, &elasticache.CreateReplicationGroupInput{ReplicationGroupId: aws.String("rbac"),
		ReplicationGroupDescription: aws.String("rbac"), Engine: aws.String("redis"), CacheNodeType: aws.String("cache.t3.micro"),
		NumCacheClusters: aws.Int32(2), AutomaticFailoverEnabled: aws.Bool(true), TransitEncryptionEnabled: aws.Bool(true),
		UserGroupIds: []string{"app"}}); err != nil {
		t.Fatal(err)
	}
	g := w.settle(t, "created")
	if !slices.Equal(g.UserGroupIds, []string{"app"}) {
		t.Errorf("group UserGroupIds = %v, want [app]", g.UserGroupIds)
	}
	ug, err := w.ec.DescribeUserGroups(ctx, &elasticache.DescribeUserGroupsInput{UserGroupId: aws.String("app")})
	if err != nil || !slices.Equal(ug.UserGroups[0].ReplicationGroups, []string{"rbac"}) {
		t.Errorf("user group ReplicationGroups = %+v, %v; want [rbac]", ug, err)
	}
	ng := g.NodeGroups[0]
	primary := aws.ToString(ng.PrimaryEndpoint.Address)
	var all []string // every member's own endpoint
	for _, m := range ng.NodeGroupMembers {
		all = append(all, aws.ToString(m.ReadEndpoint.Address))
	}

	w.expect(t, "created", []string{primary}, "writer", writerPass, "OK", "SET", "app:k", "v")
	w.expect(t, "created", []string{primary}, "writer", writerPass, "NOPERM", "SET", "other", "v")
	w.expect(t, "created", all, "", "", "NOAUTH", "GET", "app:k")
	w.expect(t, "created", all, "reader", "wrong-password-0000", "WRONGPASS", "PING")
	w.expect(t, "created", all, "reader", readerPass, "PONG", "PING")
	w.expect(t, "created", []string{primary}, "reader", readerPass, "NOPERM", "SET", "app:k", "w")
	w.expect(t, "created", []string{primary}, "reader", readerPass, "v", "GET", "app:k")

	for _, tc := range []struct {
		name, code string
		in         elasticache.ModifyReplicationGroupInput
	}{
		{"second-group", "InvalidParameterValue", elasticache.ModifyReplicationGroupInput{UserGroupIdsToAdd: []string{"other"}}},
		{"two-groups", "InvalidParameterValue", elasticache.ModifyReplicationGroupInput{UserGroupIdsToAdd: []string{"app", "other"}}},
		{"remove-unattached", "InvalidParameterValue", elasticache.ModifyReplicationGroupInput{UserGroupIdsToRemove: []string{"other"}}},
		{"auth-token", "InvalidParameterCombination", elasticache.ModifyReplicationGroupInput{AuthToken: aws.String(token1),
			AuthTokenUpdateStrategy: ectypes.AuthTokenUpdateStrategyTypeRotate}},
	} {
		in := tc.in
		in.ReplicationGroupId, in.ApplyImmediately = aws.String("rbac"), aws.Bool(true)
		if _, err := w.ec.ModifyReplicationGroup(ctx, &in); code(err) != tc.code {
			t.Errorf("ModifyReplicationGroup %s = %v, want %s", tc.name, err, tc.code)
		}
	}
	_, err = w.ec.DeleteUserGroup(ctx, &elasticache.DeleteUserGroupInput{UserGroupId: aws.String("app")})
	if code(err) != "InvalidUserGroupState" {
		t.Errorf("DeleteUserGroup in use = %v, want InvalidUserGroupState", err)
	}

	// A new password and a wider access string, on every member, live.
	if _, err := w.ec.ModifyUser(ctx, &elasticache.ModifyUserInput{UserId: aws.String("reader"), AppendAccessString: aws.String("+set"),
		Passwords: []string{readerPass2}}); err != nil {
		t.Fatal(err)
	}
	w.settle(t, "reader modified")
	w.expect(t, "modified", all, "reader", readerPass, "WRONGPASS", "PING")
	w.expect(t, "modified", all, "reader", readerPass2, "PONG", "PING")
	w.expect(t, "modified", []string{primary}, "reader", readerPass2, "OK", "SET", "app:k", "w")
	w.expect(t, "modified", []string{primary}, "writer", writerPass, "w", "GET", "app:k") // the data survived

	// Removing a user from the group revokes it.
	mug, err := w.ec.ModifyUserGroup(ctx, &elasticache.ModifyUserGroupInput{UserGroupId: aws.String("app"), UserIdsToRemove: []string{"writer"}})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(mug.Status) != "modifying" || mug.PendingChanges == nil || !slices.Equal(mug.PendingChanges.UserIdsToRemove, []string{"writer"}) {
		t.Errorf("ModifyUserGroup = status %s, pending %+v; want modifying, writer to remove", aws.ToString(mug.Status), mug.PendingChanges)
	}
	w.settle(t, "writer removed")
	w.expect(t, "writer removed", all, "writer", writerPass, "WRONGPASS", "PING")

	// A service restart re-adopts the engines with their users, and a
	// change made after it reaches them; a failover (the old primary's
	// engine killed, then recovered as a replica from its configuration)
	// keeps the users on every member.
	w.restartRBAC(t)
	if _, err := w.ec.ModifyUser(ctx, &elasticache.ModifyUserInput{UserId: aws.String("reader"), Passwords: []string{readerPass}}); err != nil {
		t.Fatal(err)
	}
	w.settle(t, "modified after restart")
	w.expect(t, "modified after restart", all, "reader", readerPass, "PONG", "PING")
	w.expect(t, "modified after restart", all, "reader", readerPass2, "WRONGPASS", "PING")
	// Replication is asynchronous, on ElastiCache too: a write the replica
	// has not received yet is lost with its primary. The failover below
	// checks the replica's data, so it waits until every member has it.
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		synced := true
		for _, h := range all {
			synced = synced && w.as(t, h, "reader", readerPass, "GET", "app:k") == "w"
		}
		if synced {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("app:k = w did not reach every member of %v within 20 s", all)
		}
	}
	before := primaryOf(w.describe(t))
	if err := syscall.Kill(nodePID(t, w.dir, "000000000000.us-east-1."+before+".0001"), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	g = w.waitGroup(t, "failover", func(g ectypes.ReplicationGroup) bool {
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
	w.expect(t, "after failover", all, "", "", "NOAUTH", "PING")
	w.expect(t, "after failover", all, "reader", readerPass, "PONG", "PING")
	w.expect(t, "after failover", all, "writer", writerPass, "WRONGPASS", "PING")
	w.expect(t, "after failover", []string{aws.ToString(g.NodeGroups[0].PrimaryEndpoint.Address)}, "reader", readerPass, "w", "GET", "app:k")

	// Without a user group, the default user is open again; then an AUTH
	// token, and back to RBAC only with DELETE.
	mrg, err := w.ec.ModifyReplicationGroup(ctx, &elasticache.ModifyReplicationGroupInput{ReplicationGroupId: aws.String("rbac"),
		ApplyImmediately: aws.Bool(true), UserGroupIdsToRemove: []string{"app"}})
	if err != nil {
		t.Fatal(err)
	}
	if p := mrg.ReplicationGroup.PendingModifiedValues.UserGroups; p == nil || !slices.Equal(p.UserGroupIdsToRemove, []string{"app"}) {
		t.Errorf("ModifyReplicationGroup pending user groups = %+v, want app to remove", p)
	}
	g = w.settle(t, "user group removed")
	if len(g.UserGroupIds) != 0 {
		t.Errorf("UserGroupIds after removal = %v", g.UserGroupIds)
	}
	w.expect(t, "user group removed", all, "", "", "PONG", "PING")
	w.expect(t, "user group removed", all, "reader", readerPass2, "WRONGPASS", "PING")
	if _, err := w.ec.ModifyReplicationGroup(ctx, &elasticache.ModifyReplicationGroupInput{ReplicationGroupId: aws.String("rbac"),
		ApplyImmediately: aws.Bool(true), AuthToken: aws.String(token1), AuthTokenUpdateStrategy: ectypes.AuthTokenUpdateStrategyTypeRotate}); err != nil {
		t.Fatal(err)
	}
	w.settle(t, "token")
	_, err = w.ec.ModifyReplicationGroup(ctx, &elasticache.ModifyReplicationGroupInput{ReplicationGroupId: aws.String("rbac"),
		ApplyImmediately: aws.Bool(true), UserGroupIdsToAdd: []string{"app"}})
	if code(err) != "InvalidParameterCombination" {
		t.Errorf("UserGroupIdsToAdd over an AUTH token without DELETE = %v, want InvalidParameterCombination", err)
	}
	if _, err := w.ec.ModifyReplicationGroup(ctx, &elasticache.ModifyReplicationGroupInput{ReplicationGroupId: aws.String("rbac"),
		ApplyImmediately: aws.Bool(true), UserGroupIdsToAdd: []string{"app"}, AuthTokenUpdateStrategy: ectypes.AuthTokenUpdateStrategyTypeDelete}); err != nil {
		t.Fatal(err)
	}
	g = w.settle(t, "back to RBAC")
	if aws.ToBool(g.AuthTokenEnabled) || !slices.Equal(g.UserGroupIds, []string{"app"}) {
		t.Errorf("after DELETE: AuthTokenEnabled %v, UserGroupIds %v; want false, [app]", aws.ToBool(g.AuthTokenEnabled), g.UserGroupIds)
	}
	w.expect(t, "back to RBAC", all, "", "", "NOAUTH", "PING")
	w.expect(t, "back to RBAC", all, "default", token1, "WRONGPASS", "PING")
	w.expect(t, "back to RBAC", all, "reader", readerPass, "PONG", "PING")

	if _, err := w.ec.DeleteReplicationGroup(ctx, &elasticache.DeleteReplicationGroupInput{ReplicationGroupId: aws.String("rbac")}); err != nil {
		t.Fatal(err)
	}
}
