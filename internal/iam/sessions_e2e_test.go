package iam_test

import (
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/cachalot-dev/cachalot/internal/app"
	"github.com/cachalot-dev/cachalot/internal/app/apptest"
)

func loopback(c *app.Config) { c.Network = app.NetworkLoopback }

// wantInvalidToken checks that creds are refused as AWS refuses a token
// whose principal is gone, in each protocol's words.
func wantInvalidToken(t *testing.T, env *apptest.Env, creds aws.Credentials) {
	t.Helper()
	_, err := sts.NewFromConfig(env.Config(creds)).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if msg := wantCode(t, err, "InvalidClientTokenId"); msg != "The security token included in the request is invalid." {
		t.Errorf("GetCallerIdentity message = %q", msg)
	}
	if _, status, _ := apiErr(t, err); status != http.StatusForbidden {
		t.Errorf("GetCallerIdentity status = %d, want 403", status)
	}
	wantCode(t, describeClusters(env, creds), "InvalidClientTokenId")
	_, err = ec2.NewFromConfig(env.Config(creds)).DescribeVpcs(ctx, &ec2.DescribeVpcsInput{})
	wantCode(t, err, "AuthFailure")
}

// Temporary credentials belong to the user they were issued to, by its
// unique id: once the user is deleted they are invalid, even when a new
// user takes its name (issue 21: they worked with the new user's rights).
func TestSessionOfDeletedUser(t *testing.T) {
	env := apptest.Start(t, loopback)
	root := iam.NewFromConfig(env.Config())
	alice := newUser(t, root, "alice")
	out := must[*sts.GetSessionTokenOutput](t)(sts.NewFromConfig(env.Config(alice)).GetSessionToken(ctx, &sts.GetSessionTokenInput{}))
	session := stsCreds(out.Credentials)
	first := must[*sts.GetCallerIdentityOutput](t)(sts.NewFromConfig(env.Config(session)).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}))
	wantCode(t, describeClusters(env, session), "AccessDenied")

	// alice leaves; another alice arrives, with rights.
	must[*iam.DeleteAccessKeyOutput](t)(root.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String("alice"), AccessKeyId: aws.String(alice.AccessKeyID)}))
	must[*iam.DeleteUserOutput](t)(root.DeleteUser(ctx, &iam.DeleteUserInput{UserName: aws.String("alice")}))
	must[*iam.CreateUserOutput](t)(root.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("alice")}))
	must[*iam.AttachUserPolicyOutput](t)(root.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: aws.String("alice"),
		PolicyArn: aws.String("arn:aws:iam::aws:policy/AdministratorAccess")}))
	second := newKey(t, root, "alice")
	now := must[*sts.GetCallerIdentityOutput](t)(sts.NewFromConfig(env.Config(second)).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}))
	if *now.UserId == *first.UserId {
		t.Fatalf("the new alice has the old one's id %s", *now.UserId)
	}
	if err := describeClusters(env, second); err != nil {
		t.Fatalf("DescribeCacheClusters as the new alice = %v", err)
	}

	wantInvalidToken(t, env, session)
}

// The same for a role: sessions of a deleted role do not act as a new role
// of the same name.
func TestSessionOfDeletedRole(t *testing.T) {
	env := apptest.Start(t, loopback)
	root := iam.NewFromConfig(env.Config())
	create := func() {
		must[*iam.CreateRoleOutput](t)(root.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("deployer"),
			AssumeRolePolicyDocument: aws.String(trust("000000000000", ""))}))
	}
	create()
	out := must[*sts.AssumeRoleOutput](t)(sts.NewFromConfig(env.Config()).AssumeRole(ctx, &sts.AssumeRoleInput{
		RoleArn: aws.String("arn:aws:iam::000000000000:role/deployer"), RoleSessionName: aws.String("job")}))
	session := stsCreds(out.Credentials)
	wantCode(t, describeClusters(env, session), "AccessDenied")

	must[*iam.DeleteRoleOutput](t)(root.DeleteRole(ctx, &iam.DeleteRoleInput{RoleName: aws.String("deployer")}))
	create()
	must[*iam.AttachRolePolicyOutput](t)(root.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String("deployer"),
		PolicyArn: aws.String("arn:aws:iam::aws:policy/AdministratorAccess")}))

	wantInvalidToken(t, env, session)
	// A session of the new role works.
	out = must[*sts.AssumeRoleOutput](t)(sts.NewFromConfig(env.Config()).AssumeRole(ctx, &sts.AssumeRoleInput{
		RoleArn: aws.String("arn:aws:iam::000000000000:role/deployer"), RoleSessionName: aws.String("job")}))
	if err := describeClusters(env, stsCreds(out.Credentials)); err != nil {
		t.Errorf("DescribeCacheClusters as the new role = %v", err)
	}
}

func newKey(t *testing.T, c *iam.Client, user string) aws.Credentials {
	t.Helper()
	k := must[*iam.CreateAccessKeyOutput](t)(c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(user)}))
	return aws.Credentials{AccessKeyID: *k.AccessKey.AccessKeyId, SecretAccessKey: *k.AccessKey.SecretAccessKey}
}
