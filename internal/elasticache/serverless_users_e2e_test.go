package elasticache_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"

	"github.com/cachalot-dev/cachalot/internal/app"
	"github.com/cachalot-dev/cachalot/internal/privtest"
)

// TestServerlessUserGroup: a serverless cache with a user group (RBAC):
// its engines on both ports enforce the group's users — the writer writes
// under app:*, is refused elsewhere (NOPERM), a client without AUTH is
// refused (NOAUTH, the group's default user is off); the user group names
// the cache, cannot be deleted while in use; RemoveUserGroup restores the
// open default user live, with the data kept.
func TestServerlessUserGroup(t *testing.T) {
	privtest.RequireRoot(t)
	dir := t.TempDir()
	w := &serverlessWorld{world: newWorld(t, func(c *app.Config) { c.DataDir = dir }), dir: dir}
	ctx := context.Background()
	_, w.eni = w.instance(t)
	w.ca = exportCA(t, dir)
	const writerPass = "writer-password-0123456789"
	for _, u := range []*elasticache.CreateUserInput{
		{UserId: aws.String("sl-default"), UserName: aws.String("default"), AccessString: aws.String("off ~* +@all"), NoPasswordRequired: aws.Bool(true)},
		{UserId: aws.String("sl-writer"), UserName: aws.String("writer"), AccessString: aws.String("on ~app:* +@all"), Passwords: []string{writerPass}},
	} {
		u.Engine = aws.String("redis")
		if _, err := w.ec.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.ec.CreateUserGroup(ctx, &elasticache.CreateUserGroupInput{UserGroupId: aws.String("slug"), Engine: aws.String("redis"),
		UserIds: []string{"sl-default", "sl-writer"}}); err != nil {
		t.Fatal(err)
	}
	created, err := w.ec.CreateServerlessCache(ctx, &elasticache.CreateServerlessCacheInput{ServerlessCacheName: aws.String("secure"),
		Engine: aws.String("redis"), UserGroupId: aws.String("slug")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(created.ServerlessCache.UserGroupId) != "slug" {
		t.Errorf("CreateServerlessCache UserGroupId = %q, want slug", aws.ToString(created.ServerlessCache.UserGroupId))
	}
	sc := w.wait(t, "secure", "available")
	host := aws.ToString(sc.Endpoint.Address)
	writer := []string{"--user", "writer", "--pass", writerPass, "--no-auth-warning"}
	cli := func(port int32, args ...string) string {
		out, _ := w.cli(t, w.eni, host, port, args...)
		return out
	}
	if out := cli(6379, append(writer, "-c", "SET", "app:k", "v")...); out != "OK" {
		t.Errorf("writer SET app:k = %q, want OK", out)
	}
	if out := cli(6379, append(writer, "-c", "SET", "other", "v")...); !strings.Contains(out, "NOPERM") {
		t.Errorf("writer SET other = %q, want NOPERM", out)
	}
	for _, port := range []int32{6379, 6380} {
		if out := cli(port, "GET", "app:k"); !strings.Contains(out, "NOAUTH") {
			t.Errorf("GET without AUTH on %d = %q, want NOAUTH", port, out)
		}
	}
	ug, err := w.ec.DescribeUserGroups(ctx, &elasticache.DescribeUserGroupsInput{UserGroupId: aws.String("slug")})
	if err != nil || !slices.Equal(ug.UserGroups[0].ServerlessCaches, []string{"secure"}) || len(ug.UserGroups[0].ReplicationGroups) != 0 {
		t.Errorf("user group = %+v, %v; want ServerlessCaches [secure] and no replication group", ug, err)
	}
	if _, err := w.ec.DeleteUserGroup(ctx, &elasticache.DeleteUserGroupInput{UserGroupId: aws.String("slug")}); code(err) != "InvalidUserGroupState" ||
		!strings.Contains(err.Error(), "serverless cache secure") {
		t.Errorf("DeleteUserGroup in use = %v, want InvalidUserGroupState naming the serverless cache", err)
	}
	if _, err := w.ec.ModifyServerlessCache(ctx, &elasticache.ModifyServerlessCacheInput{ServerlessCacheName: aws.String("secure"),
		UserGroupId: aws.String("slug"), RemoveUserGroup: aws.Bool(true)}); code(err) != "InvalidParameterCombination" {
		t.Errorf("UserGroupId with RemoveUserGroup = %v, want InvalidParameterCombination", err)
	}
	if _, err := w.ec.ModifyServerlessCache(ctx, &elasticache.ModifyServerlessCacheInput{ServerlessCacheName: aws.String("secure"),
		UserGroupId: aws.String("nope")}); code(err) != "UserGroupNotFound" {
		t.Errorf("unknown UserGroupId = %v, want UserGroupNotFound", err)
	}
	if _, err := w.ec.ModifyServerlessCache(ctx, &elasticache.ModifyServerlessCacheInput{ServerlessCacheName: aws.String("secure"),
		RemoveUserGroup: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	sc = w.wait(t, "secure", "available")
	if sc.UserGroupId != nil {
		t.Errorf("UserGroupId after RemoveUserGroup = %q, want none", aws.ToString(sc.UserGroupId))
	}
	if out := cli(6379, "-c", "GET", "app:k"); out != "v" {
		t.Errorf("GET app:k without AUTH after RemoveUserGroup = %q, want v (kept)", out)
	}
	if _, err := w.ec.DeleteServerlessCache(ctx, &elasticache.DeleteServerlessCacheInput{ServerlessCacheName: aws.String("secure")}); err != nil {
		t.Fatal(err)
	}
	w.wait(t, "secure", "deleted")
}
