package elasticache_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"
	ectypes "github.com/aws/aws-sdk-go-v2/service/elasticache/types"
	"github.com/aws/smithy-go"
)

const (
	userPass1 = "reader-password-0001"
	userPass2 = "reader-password-0002"
)

func wantAPIError(t *testing.T, what string, err error, code, msg string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != code || !strings.Contains(ae.ErrorMessage(), msg) {
		t.Errorf("%s = %v, want %s containing %q", what, err, code, msg)
	}
}

// TestUsersAPI: users and user groups through the SDK: the built-in
// default user, create/describe/modify/delete with AWS's shapes (ARNs,
// statuses, PasswordCount, never a password), groups and their users,
// tags, and the rules a group and a deletion obey.
func TestUsersAPI(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()

	d, err := w.ec.DescribeUsers(ctx, &elasticache.DescribeUsersInput{UserId: aws.String("default")})
	if err != nil || len(d.Users) != 1 {
		t.Fatalf("DescribeUsers default = %v, %v; want the built-in default user", d, err)
	}
	if u := d.Users[0]; aws.ToString(u.AccessString) != "on ~* +@all" || u.Authentication.Type != ectypes.AuthenticationTypeNoPassword ||
		aws.ToString(u.Status) != "active" || !strings.HasSuffix(aws.ToString(u.ARN), ":user:default") {
		t.Errorf("default user = %+v", u)
	}

	u, err := w.ec.CreateUser(ctx, &elasticache.CreateUserInput{UserId: aws.String("reader"), UserName: aws.String("reader"),
		Engine: aws.String("REDIS"), AccessString: aws.String("on  ~app:* -@all +get"), Passwords: []string{userPass1, userPass2},
		Tags: []ectypes.Tag{{Key: aws.String("team"), Value: aws.String("a")}}})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(u.Engine) != "redis" || aws.ToString(u.AccessString) != "on ~app:* -@all +get" || aws.ToInt32(u.Authentication.PasswordCount) != 2 ||
		u.Authentication.Type != ectypes.AuthenticationTypePassword || aws.ToString(u.ARN) != "arn:aws:elasticache:us-east-1:"+accountOf(t, w)+":user:reader" {
		t.Errorf("CreateUser = %+v %+v", u, u.Authentication)
	}
	if _, err := w.ec.CreateUser(ctx, &elasticache.CreateUserInput{UserId: aws.String("newdefault"), UserName: aws.String("default"),
		Engine: aws.String("redis"), AccessString: aws.String("off"), NoPasswordRequired: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	g, err := w.ec.CreateUserGroup(ctx, &elasticache.CreateUserGroupInput{UserGroupId: aws.String("app"), Engine: aws.String("redis"),
		UserIds: []string{"newdefault", "reader"}})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(g.Status) != "creating" || !slices.Equal(g.UserIds, []string{"newdefault", "reader"}) || !strings.HasSuffix(aws.ToString(g.ARN), ":usergroup:app") {
		t.Errorf("CreateUserGroup = %+v", g)
	}
	dg, err := w.ec.DescribeUserGroups(ctx, &elasticache.DescribeUserGroupsInput{UserGroupId: aws.String("app")})
	if err != nil || aws.ToString(dg.UserGroups[0].Status) != "active" {
		t.Fatalf("DescribeUserGroups = %+v, %v; want active", dg, err)
	}
	d, err = w.ec.DescribeUsers(ctx, &elasticache.DescribeUsersInput{Filters: []ectypes.Filter{{Name: aws.String("user-id"), Values: []string{"reader"}}}})
	if err != nil || len(d.Users) != 1 || !slices.Equal(d.Users[0].UserGroupIds, []string{"app"}) {
		t.Fatalf("DescribeUsers filter = %+v, %v; want reader in app", d, err)
	}
	m, err := w.ec.ModifyUser(ctx, &elasticache.ModifyUserInput{UserId: aws.String("reader"), AppendAccessString: aws.String("+mget"),
		AuthenticationMode: &ectypes.AuthenticationMode{Type: ectypes.InputAuthenticationTypePassword, Passwords: []string{userPass1}}})
	if err != nil || aws.ToString(m.AccessString) != "on ~app:* -@all +get +mget" || aws.ToInt32(m.Authentication.PasswordCount) != 1 {
		t.Errorf("ModifyUser = %+v, %v", m, err)
	}
	tags, err := w.ec.ListTagsForResource(ctx, &elasticache.ListTagsForResourceInput{ResourceName: u.ARN})
	if err != nil || len(tags.TagList) != 1 {
		t.Errorf("ListTagsForResource user = %+v, %v", tags, err)
	}

	// Removing the default user from a group, two users with one name,
	// deleting the group's default user, the built-in one.
	_, err = w.ec.ModifyUserGroup(ctx, &elasticache.ModifyUserGroupInput{UserGroupId: aws.String("app"), UserIdsToRemove: []string{"newdefault"}})
	wantAPIError(t, "ModifyUserGroup without default", err, "DefaultUserRequired", "user name default")
	_, err = w.ec.ModifyUserGroup(ctx, &elasticache.ModifyUserGroupInput{UserGroupId: aws.String("app"), UserIdsToAdd: []string{"default"}})
	wantAPIError(t, "ModifyUserGroup two defaults", err, "DuplicateUserName", "default")
	_, err = w.ec.DeleteUser(ctx, &elasticache.DeleteUserInput{UserId: aws.String("newdefault")})
	wantAPIError(t, "DeleteUser default of a group", err, "DefaultUserAssociatedToUserGroup", "newdefault")
	_, err = w.ec.DeleteUser(ctx, &elasticache.DeleteUserInput{UserId: aws.String("default")})
	wantAPIError(t, "DeleteUser built-in", err, "InvalidParameterValue", "default user cannot be deleted")

	// Deleting a user in a group takes it out of the group.
	del, err := w.ec.DeleteUser(ctx, &elasticache.DeleteUserInput{UserId: aws.String("reader")})
	if err != nil || aws.ToString(del.Status) != "deleting" {
		t.Fatalf("DeleteUser = %+v, %v", del, err)
	}
	dg, err = w.ec.DescribeUserGroups(ctx, &elasticache.DescribeUserGroupsInput{UserGroupId: aws.String("app")})
	if err != nil || !slices.Equal(dg.UserGroups[0].UserIds, []string{"newdefault"}) {
		t.Errorf("group after the user's deletion = %+v, %v; want newdefault only", dg, err)
	}
	_, err = w.ec.DescribeUsers(ctx, &elasticache.DescribeUsersInput{UserId: aws.String("reader")})
	wantAPIError(t, "DescribeUsers deleted", err, "UserNotFound", "reader")
	if _, err := w.ec.DeleteUserGroup(ctx, &elasticache.DeleteUserGroupInput{UserGroupId: aws.String("app")}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.ec.DeleteUser(ctx, &elasticache.DeleteUserInput{UserId: aws.String("newdefault")}); err != nil {
		t.Errorf("DeleteUser once its group is gone: %v", err)
	}
}

func accountOf(t *testing.T, w *world) string {
	t.Helper()
	d, err := w.ec.DescribeUsers(context.Background(), &elasticache.DescribeUsersInput{UserId: aws.String("default")})
	if err != nil {
		t.Fatal(err)
	}
	arn := aws.ToString(d.Users[0].ARN)
	parts := strings.Split(arn, ":")
	return parts[4]
}

// TestUsersBadInput: what CreateUser, CreateUserGroup and
// CreateReplicationGroup refuse about users and groups, with AWS's codes;
// nothing is created.
func TestUsersBadInput(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	if _, err := w.ec.CreateUser(ctx, &elasticache.CreateUserInput{UserId: aws.String("u1"), UserName: aws.String("u1"),
		Engine: aws.String("redis"), AccessString: aws.String("on ~* +@all"), Passwords: []string{userPass1}}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.ec.CreateUserGroup(ctx, &elasticache.CreateUserGroupInput{UserGroupId: aws.String("g1"), Engine: aws.String("redis"),
		UserIds: []string{"default", "u1"}}); err != nil {
		t.Fatal(err)
	}
	user := func(mod func(*elasticache.CreateUserInput)) *elasticache.CreateUserInput {
		in := &elasticache.CreateUserInput{UserId: aws.String("u2"), UserName: aws.String("u2"), Engine: aws.String("redis"),
			AccessString: aws.String("on ~* +@all"), Passwords: []string{userPass1}}
		mod(in)
		return in
	}
	for _, tc := range []struct {
		name, code, msg string
		in              *elasticache.CreateUserInput
	}{
		{"duplicate-id", "UserAlreadyExists", "u1", user(func(in *elasticache.CreateUserInput) { in.UserId = aws.String("u1") })},
		{"password-short", "InvalidParameterValue", "16-128", user(func(in *elasticache.CreateUserInput) { in.Passwords = []string{"short"} })},
		{"password-long", "InvalidParameterValue", "16-128", user(func(in *elasticache.CreateUserInput) { in.Passwords = []string{strings.Repeat("p", 129)} })},
		{"three-passwords", "InvalidParameterValue", "at most two", user(func(in *elasticache.CreateUserInput) {
			in.Passwords = []string{userPass1, userPass2, userPass1 + "x"}
		})},
		{"two-password-sources", "InvalidParameterCombination", "NoPasswordRequired", user(func(in *elasticache.CreateUserInput) { in.NoPasswordRequired = aws.Bool(true) })},
		{"mode-and-passwords", "InvalidParameterCombination", "AuthenticationMode", user(func(in *elasticache.CreateUserInput) {
			in.AuthenticationMode = &ectypes.AuthenticationMode{Type: ectypes.InputAuthenticationTypeNoPassword}
		})},
		{"no-password-source", "InvalidParameterCombination", "No password source", user(func(in *elasticache.CreateUserInput) { in.Passwords = nil })},
		{"iam-name-not-id", "InvalidParameterValue", "identical", user(func(in *elasticache.CreateUserInput) {
			in.Passwords, in.AuthenticationMode = nil, &ectypes.AuthenticationMode{Type: ectypes.InputAuthenticationTypeIam}
			in.UserName = aws.String("other")
		})},
		{"iam-with-password", "InvalidParameterCombination", "iam", user(func(in *elasticache.CreateUserInput) {
			in.Passwords, in.AuthenticationMode = nil, &ectypes.AuthenticationMode{Type: ectypes.InputAuthenticationTypeIam, Passwords: []string{userPass1}}
		})},
		{"bad-id", "InvalidParameterValue", "UserId", user(func(in *elasticache.CreateUserInput) { in.UserId = aws.String("1-bad--id") })},
		{"bad-engine", "InvalidParameterValue", "Engine", user(func(in *elasticache.CreateUserInput) { in.Engine = aws.String("memcached") })},
		{"password-in-access-string", "InvalidParameterValue", "access string", user(func(in *elasticache.CreateUserInput) {
			in.AccessString = aws.String("on >secret ~* +@all")
		})},
		{"bad-access-rule", "InvalidParameterValue", "access rule", user(func(in *elasticache.CreateUserInput) { in.AccessString = aws.String("on everything") })},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := w.ec.CreateUser(ctx, tc.in)
			wantAPIError(t, "CreateUser", err, tc.code, tc.msg)
		})
	}
	for _, tc := range []struct {
		name, code, msg string
		in              *elasticache.CreateUserGroupInput
	}{
		{"without-default", "DefaultUserRequired", "user name default", &elasticache.CreateUserGroupInput{UserIds: []string{"u1"}}},
		{"unknown-user", "UserNotFound", "nobody", &elasticache.CreateUserGroupInput{UserIds: []string{"default", "nobody"}}},
		{"duplicate-id", "UserGroupAlreadyExists", "g1", &elasticache.CreateUserGroupInput{UserGroupId: aws.String("g1"), UserIds: []string{"default"}}},
	} {
		t.Run("group-"+tc.name, func(t *testing.T) {
			in := *tc.in
			if in.UserGroupId == nil {
				in.UserGroupId = aws.String("g2")
			}
			in.Engine = aws.String("redis")
			_, err := w.ec.CreateUserGroup(ctx, &in)
			wantAPIError(t, "CreateUserGroup", err, tc.code, tc.msg)
		})
	}
	for _, tc := range []struct {
		name, code, msg string
		in              elasticache.CreateReplicationGroupInput
	}{
		{"without-tls", "InvalidParameterValue", "Encryption in transit must be enabled", elasticache.CreateReplicationGroupInput{UserGroupIds: []string{"g1"}}},
		{"with-auth-token", "InvalidParameterCombination", "AuthToken", elasticache.CreateReplicationGroupInput{UserGroupIds: []string{"g1"},
			TransitEncryptionEnabled: aws.Bool(true), AuthToken: aws.String("0123456789abcdef0123")}},
		{"two-groups", "InvalidParameterValue", "at most one user group", elasticache.CreateReplicationGroupInput{UserGroupIds: []string{"g1", "g2"},
			TransitEncryptionEnabled: aws.Bool(true)}},
		{"redis-5", "InvalidParameterValue", "6.0 or later", elasticache.CreateReplicationGroupInput{UserGroupIds: []string{"g1"},
			TransitEncryptionEnabled: aws.Bool(true), EngineVersion: aws.String("5.0.6")}},
		{"unknown-group", "UserGroupNotFound", "nope", elasticache.CreateReplicationGroupInput{UserGroupIds: []string{"nope"},
			TransitEncryptionEnabled: aws.Bool(true)}},
	} {
		t.Run("rg-"+tc.name, func(t *testing.T) {
			in := tc.in
			in.ReplicationGroupId, in.ReplicationGroupDescription, in.CacheNodeType = aws.String("bad-"+tc.name), aws.String("x"), aws.String("cache.t3.micro")
			_, err := w.ec.CreateReplicationGroup(ctx, &in)
			wantAPIError(t, "CreateReplicationGroup", err, tc.code, tc.msg)
		})
	}
	rg, err := w.ec.DescribeReplicationGroups(ctx, &elasticache.DescribeReplicationGroupsInput{})
	if err != nil || len(rg.ReplicationGroups) != 0 {
		t.Errorf("groups after refused creates: %d, %v; want none", len(rg.ReplicationGroups), err)
	}
	d, err := w.ec.DescribeUsers(ctx, &elasticache.DescribeUsersInput{})
	if err != nil || len(d.Users) != 2 {
		t.Errorf("users after refused creates: %d, %v; want default and u1", len(d.Users), err)
	}
}
