package iam_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	ststypes "github.com/aws/aws-sdk-go-v2/service/sts/types"
	"github.com/aws/smithy-go"
	"github.com/pquerna/otp/totp"

	"github.com/cachalot-dev/cachalot/internal/account"
	"github.com/cachalot-dev/cachalot/internal/app/apptest"
)

var ctx = context.Background()

func apiErr(t *testing.T, err error) (code string, status int, msg string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("error %v is not an API error", err)
	}
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		status = re.HTTPStatusCode()
	}
	return ae.ErrorCode(), status, ae.ErrorMessage()
}

func wantCode(t *testing.T, err error, code string) string {
	t.Helper()
	if err == nil {
		t.Fatalf("err = nil, want %s", code)
	}
	got, _, msg := apiErr(t, err)
	if got != code {
		t.Fatalf("code = %s (%v), want %s", got, err, code)
	}
	return msg
}

func must[T any](t *testing.T) func(v T, err error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

// newUser creates a user with an access key and returns its credentials.
func newUser(t *testing.T, c *iam.Client, name string) aws.Credentials {
	t.Helper()
	if _, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(name)}); err != nil {
		t.Fatalf("CreateUser(%s) = %v", name, err)
	}
	k, err := c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(name)})
	if err != nil {
		t.Fatalf("CreateAccessKey(%s) = %v", name, err)
	}
	return aws.Credentials{AccessKeyID: *k.AccessKey.AccessKeyId, SecretAccessKey: *k.AccessKey.SecretAccessKey}
}

func describeClusters(env *apptest.Env, c aws.Credentials) error {
	_, err := elasticache.NewFromConfig(env.Config(c)).DescribeCacheClusters(ctx, &elasticache.DescribeCacheClustersInput{})
	return err
}

func stsCreds(c *ststypes.Credentials) aws.Credentials {
	return aws.Credentials{AccessKeyID: *c.AccessKeyId, SecretAccessKey: *c.SecretAccessKey, SessionToken: *c.SessionToken}
}

func TestUserPoliciesEndToEnd(t *testing.T) {
	env := apptest.Start(t)
	root := iam.NewFromConfig(env.Config())
	alice := newUser(t, root, "alice")

	// No policy: denied everywhere, in each service's words.
	msg := wantCode(t, describeClusters(env, alice), "AccessDenied")
	want := "User: arn:aws:iam::000000000000:user/alice is not authorized to perform: elasticache:DescribeCacheClusters because no identity-based policy allows the elasticache:DescribeCacheClusters action"
	if msg != want {
		t.Errorf("message = %q, want %q", msg, want)
	}
	_, err := ec2.NewFromConfig(env.Config(alice)).DescribeInstances(ctx, &ec2.DescribeInstancesInput{})
	msg = wantCode(t, err, "UnauthorizedOperation")
	if !strings.HasPrefix(msg, "You are not authorized to perform this operation. User: arn:aws:iam::000000000000:user/alice is not authorized to perform: ec2:DescribeInstances") {
		t.Errorf("ec2 message = %q", msg)
	}
	if _, status, _ := apiErr(t, err); status != http.StatusForbidden {
		t.Errorf("ec2 status = %d, want 403", status)
	}
	_, err = iam.NewFromConfig(env.Config(alice)).ListUsers(ctx, &iam.ListUsersInput{})
	wantCode(t, err, "AccessDenied")

	// GetCallerIdentity needs no permission.
	id := must[*sts.GetCallerIdentityOutput](t)(sts.NewFromConfig(env.Config(alice)).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}))
	if *id.Arn != "arn:aws:iam::000000000000:user/alice" || !strings.HasPrefix(*id.UserId, "AIDA") || len(*id.UserId) != 21 {
		t.Errorf("GetCallerIdentity = %s %s", *id.Arn, *id.UserId)
	}

	// The AWS managed policy allows.
	must[*iam.AttachUserPolicyOutput](t)(root.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: aws.String("alice"),
		PolicyArn: aws.String("arn:aws:iam::aws:policy/AmazonElastiCacheFullAccess")}))
	if err := describeClusters(env, alice); err != nil {
		t.Fatalf("DescribeCacheClusters with AmazonElastiCacheFullAccess = %v", err)
	}
	// An explicit deny wins.
	must[*iam.PutUserPolicyOutput](t)(root.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("alice"), PolicyName: aws.String("no-describe"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"elasticache:Describe*","Resource":"*"}]}`)}))
	msg = wantCode(t, describeClusters(env, alice), "AccessDenied")
	if !strings.Contains(msg, "with an explicit deny in an identity-based policy") {
		t.Errorf("explicit deny message = %q", msg)
	}
	must[*iam.DeleteUserPolicyOutput](t)(root.DeleteUserPolicy(ctx, &iam.DeleteUserPolicyInput{UserName: aws.String("alice"), PolicyName: aws.String("no-describe")}))

	// Groups: a group's policy applies to its members.
	bob := newUser(t, root, "bob")
	must[*iam.CreateGroupOutput](t)(root.CreateGroup(ctx, &iam.CreateGroupInput{GroupName: aws.String("readers")}))
	must[*iam.AttachGroupPolicyOutput](t)(root.AttachGroupPolicy(ctx, &iam.AttachGroupPolicyInput{GroupName: aws.String("readers"),
		PolicyArn: aws.String("arn:aws:iam::aws:policy/AmazonElastiCacheReadOnlyAccess")}))
	wantCode(t, describeClusters(env, bob), "AccessDenied")
	must[*iam.AddUserToGroupOutput](t)(root.AddUserToGroup(ctx, &iam.AddUserToGroupInput{GroupName: aws.String("readers"), UserName: aws.String("bob")}))
	if err := describeClusters(env, bob); err != nil {
		t.Fatalf("DescribeCacheClusters as group member = %v", err)
	}

	// Resource-level: a customer policy allowing one cluster only.
	carol := newUser(t, root, "carol")
	pol := must[*iam.CreatePolicyOutput](t)(root.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String("one-cluster"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"elasticache:DescribeCacheClusters","Resource":"arn:aws:elasticache:us-east-1:000000000000:cluster:mine"}]}`)}))
	must[*iam.AttachUserPolicyOutput](t)(root.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: aws.String("carol"), PolicyArn: pol.Policy.Arn}))
	ecc := elasticache.NewFromConfig(env.Config(carol))
	_, err = ecc.DescribeCacheClusters(ctx, &elasticache.DescribeCacheClustersInput{CacheClusterId: aws.String("theirs")})
	msg = wantCode(t, err, "AccessDenied")
	if !strings.Contains(msg, "on resource: arn:aws:elasticache:us-east-1:000000000000:cluster:theirs") {
		t.Errorf("message = %q", msg)
	}
	_, err = ecc.DescribeCacheClusters(ctx, &elasticache.DescribeCacheClustersInput{CacheClusterId: aws.String("mine")})
	if code, _, _ := apiErrOrNil(err); code == "AccessDenied" {
		t.Errorf("DescribeCacheClusters(mine) = %v, want authorized", err)
	}

	// Deactivated keys are unknown keys.
	keys := must[*iam.ListAccessKeysOutput](t)(root.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String("alice")}))
	must[*iam.UpdateAccessKeyOutput](t)(root.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String("alice"),
		AccessKeyId: keys.AccessKeyMetadata[0].AccessKeyId, Status: iamtypes.StatusTypeInactive}))
	wantCode(t, describeClusters(env, alice), "InvalidClientTokenId")
	lu := must[*iam.GetAccessKeyLastUsedOutput](t)(root.GetAccessKeyLastUsed(ctx, &iam.GetAccessKeyLastUsedInput{AccessKeyId: keys.AccessKeyMetadata[0].AccessKeyId}))
	if aws.ToString(lu.AccessKeyLastUsed.ServiceName) != "elasticache" || aws.ToString(lu.UserName) != "alice" {
		t.Errorf("GetAccessKeyLastUsed = %+v", lu.AccessKeyLastUsed)
	}
}

func apiErrOrNil(err error) (string, int, string) {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode(), 0, ae.ErrorMessage()
	}
	return "", 0, ""
}

// enableMFA creates a virtual MFA device and enables it for user (with
// codes of two consecutive time steps) and returns its serial and seed.
func enableMFA(t *testing.T, c *iam.Client, device, user string) (string, string) {
	t.Helper()
	d := must[*iam.CreateVirtualMFADeviceOutput](t)(c.CreateVirtualMFADevice(ctx, &iam.CreateVirtualMFADeviceInput{VirtualMFADeviceName: aws.String(device)}))
	seed := string(d.VirtualMFADevice.Base32StringSeed)
	if len(seed) != 64 || len(d.VirtualMFADevice.QRCodePNG) < 100 || string(d.VirtualMFADevice.QRCodePNG[1:4]) != "PNG" {
		t.Fatalf("CreateVirtualMFADevice: seed %d chars, QR %d bytes", len(seed), len(d.VirtualMFADevice.QRCodePNG))
	}
	now := time.Now()
	c1, _ := totp.GenerateCode(seed, now.Add(-30*time.Second))
	c2, _ := totp.GenerateCode(seed, now)
	_, err := c.EnableMFADevice(ctx, &iam.EnableMFADeviceInput{UserName: aws.String(user), SerialNumber: d.VirtualMFADevice.SerialNumber,
		AuthenticationCode1: aws.String(c2), AuthenticationCode2: aws.String(c1)})
	wantCode(t, err, "InvalidAuthenticationCode")
	if _, err := c.EnableMFADevice(ctx, &iam.EnableMFADeviceInput{UserName: aws.String(user), SerialNumber: d.VirtualMFADevice.SerialNumber,
		AuthenticationCode1: aws.String(c1), AuthenticationCode2: aws.String(c2)}); err != nil {
		t.Fatalf("EnableMFADevice = %v", err)
	}
	return *d.VirtualMFADevice.SerialNumber, seed
}

func TestMFARequiredPolicy(t *testing.T) {
	env := apptest.Start(t)
	root := iam.NewFromConfig(env.Config())
	dave := newUser(t, root, "dave")
	must[*iam.PutUserPolicyOutput](t)(root.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("dave"), PolicyName: aws.String("mfa-only"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"elasticache:Describe*","Resource":"*",
			"Condition":{"Bool":{"aws:MultiFactorAuthPresent":"true"},"NumericLessThan":{"aws:MultiFactorAuthAge":"3600"}}}]}`)}))
	serial, seed := enableMFA(t, root, "dave-phone", "dave")
	if serial != "arn:aws:iam::000000000000:mfa/dave-phone" {
		t.Errorf("serial = %s", serial)
	}
	devs := must[*iam.ListMFADevicesOutput](t)(root.ListMFADevices(ctx, &iam.ListMFADevicesInput{UserName: aws.String("dave")}))
	if len(devs.MFADevices) != 1 || *devs.MFADevices[0].SerialNumber != serial {
		t.Errorf("ListMFADevices = %+v", devs.MFADevices)
	}

	// Long-term keys: the MFA key is absent, so the policy does not allow.
	wantCode(t, describeClusters(env, dave), "AccessDenied")
	stsDave := sts.NewFromConfig(env.Config(dave))
	// Session credentials without MFA: still denied.
	plain := must[*sts.GetSessionTokenOutput](t)(stsDave.GetSessionToken(ctx, &sts.GetSessionTokenInput{DurationSeconds: aws.Int32(900)}))
	if !strings.HasPrefix(*plain.Credentials.AccessKeyId, "ASIA") {
		t.Errorf("session key id = %s", *plain.Credentials.AccessKeyId)
	}
	wantCode(t, describeClusters(env, stsCreds(plain.Credentials)), "AccessDenied")
	// A wrong code is refused.
	_, err := stsDave.GetSessionToken(ctx, &sts.GetSessionTokenInput{SerialNumber: aws.String(serial), TokenCode: aws.String("000000")})
	wantCode(t, err, "AccessDenied")
	// With a valid code: allowed.
	code, _ := totp.GenerateCode(seed, time.Now())
	mfa := must[*sts.GetSessionTokenOutput](t)(stsDave.GetSessionToken(ctx, &sts.GetSessionTokenInput{SerialNumber: aws.String(serial), TokenCode: aws.String(code)}))
	if d := time.Until(*mfa.Credentials.Expiration); d < 11*time.Hour || d > 12*time.Hour+time.Minute {
		t.Errorf("default session expires in %v, want 12h", d)
	}
	if err := describeClusters(env, stsCreds(mfa.Credentials)); err != nil {
		t.Fatalf("DescribeCacheClusters with MFA session = %v", err)
	}
	// The session is dave's.
	id := must[*sts.GetCallerIdentityOutput](t)(sts.NewFromConfig(env.Config(stsCreds(mfa.Credentials))).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}))
	if *id.Arn != "arn:aws:iam::000000000000:user/dave" {
		t.Errorf("caller = %s", *id.Arn)
	}
	// Session credentials cannot get more session credentials; a bad token is refused.
	_, err = sts.NewFromConfig(env.Config(stsCreds(mfa.Credentials))).GetSessionToken(ctx, &sts.GetSessionTokenInput{})
	wantCode(t, err, "AccessDenied")
	bad := stsCreds(mfa.Credentials)
	bad.SessionToken = "forged"
	wantCode(t, describeClusters(env, bad), "InvalidClientTokenId")
	_, err = stsDave.GetSessionToken(ctx, &sts.GetSessionTokenInput{DurationSeconds: aws.Int32(899)})
	wantCode(t, err, "ValidationError")

	// Deactivate and delete the device.
	must[*iam.DeactivateMFADeviceOutput](t)(root.DeactivateMFADevice(ctx, &iam.DeactivateMFADeviceInput{UserName: aws.String("dave"), SerialNumber: aws.String(serial)}))
	must[*iam.DeleteVirtualMFADeviceOutput](t)(root.DeleteVirtualMFADevice(ctx, &iam.DeleteVirtualMFADeviceInput{SerialNumber: aws.String(serial)}))
}

const trustAccount = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::%s:root"},"Action":"sts:AssumeRole"%s}]}`

func trust(acct, cond string) string {
	return strings.Replace(strings.Replace(trustAccount, "%s", acct, 1), "%s", cond, 1)
}

func TestAssumeRole(t *testing.T) {
	env := apptest.Start(t)
	root := iam.NewFromConfig(env.Config())
	erin := newUser(t, root, "erin")
	must[*iam.CreateRoleOutput](t)(root.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("reader"), Path: aws.String("/app/"),
		AssumeRolePolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:user/erin"},"Action":"sts:AssumeRole","Condition":{"StringEquals":{"sts:ExternalId":"xyz-123"}}}]}`)}))
	must[*iam.AttachRolePolicyOutput](t)(root.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String("reader"),
		PolicyArn: aws.String("arn:aws:iam::aws:policy/AmazonElastiCacheReadOnlyAccess")}))
	roleARN := "arn:aws:iam::000000000000:role/app/reader"
	c := sts.NewFromConfig(env.Config(erin))

	tests := []struct {
		name string
		in   sts.AssumeRoleInput
		want string
	}{
		{"no external id", sts.AssumeRoleInput{RoleArn: aws.String(roleARN), RoleSessionName: aws.String("s1")}, "AccessDenied"},
		{"wrong external id", sts.AssumeRoleInput{RoleArn: aws.String(roleARN), RoleSessionName: aws.String("s1"), ExternalId: aws.String("nope")}, "AccessDenied"},
		{"unknown role", sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::000000000000:role/ghost"), RoleSessionName: aws.String("s1"), ExternalId: aws.String("xyz-123")}, "AccessDenied"},
		{"bad session name", sts.AssumeRoleInput{RoleArn: aws.String(roleARN), RoleSessionName: aws.String("has space"), ExternalId: aws.String("xyz-123")}, "ValidationError"},
		{"over max session", sts.AssumeRoleInput{RoleArn: aws.String(roleARN), RoleSessionName: aws.String("s1"), ExternalId: aws.String("xyz-123"), DurationSeconds: aws.Int32(7200)}, "ValidationError"},
		{"too short", sts.AssumeRoleInput{RoleArn: aws.String(roleARN), RoleSessionName: aws.String("s1"), ExternalId: aws.String("xyz-123"), DurationSeconds: aws.Int32(899)}, "ValidationError"},
		{"bad session policy", sts.AssumeRoleInput{RoleArn: aws.String(roleARN), RoleSessionName: aws.String("s1"), ExternalId: aws.String("xyz-123"), Policy: aws.String(`{"Statement":[]`)}, "MalformedPolicyDocument"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.AssumeRole(ctx, &tt.in)
			wantCode(t, err, tt.want)
		})
	}

	out := must[*sts.AssumeRoleOutput](t)(c.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(roleARN), RoleSessionName: aws.String("job-1"),
		ExternalId: aws.String("xyz-123"), DurationSeconds: aws.Int32(900)}))
	if *out.AssumedRoleUser.Arn != "arn:aws:sts::000000000000:assumed-role/reader/job-1" || !strings.HasPrefix(*out.AssumedRoleUser.AssumedRoleId, "AROA") ||
		!strings.HasSuffix(*out.AssumedRoleUser.AssumedRoleId, ":job-1") {
		t.Errorf("AssumedRoleUser = %s %s", *out.AssumedRoleUser.Arn, *out.AssumedRoleUser.AssumedRoleId)
	}
	if d := time.Until(*out.Credentials.Expiration); d < 14*time.Minute || d > 15*time.Minute+5*time.Second {
		t.Errorf("expires in %v, want 15m", d)
	}
	session := stsCreds(out.Credentials)
	id := must[*sts.GetCallerIdentityOutput](t)(sts.NewFromConfig(env.Config(session)).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}))
	if *id.Arn != *out.AssumedRoleUser.Arn || *id.UserId != *out.AssumedRoleUser.AssumedRoleId {
		t.Errorf("GetCallerIdentity = %s %s", *id.Arn, *id.UserId)
	}
	if err := describeClusters(env, session); err != nil {
		t.Fatalf("DescribeCacheClusters as role = %v", err)
	}
	_, err := elasticache.NewFromConfig(env.Config(session)).CreateCacheCluster(ctx, &elasticache.CreateCacheClusterInput{CacheClusterId: aws.String("x")})
	msg := wantCode(t, err, "AccessDenied")
	if !strings.HasPrefix(msg, "User: arn:aws:sts::000000000000:assumed-role/reader/job-1 is not authorized to perform: elasticache:CreateCacheCluster") {
		t.Errorf("message = %q", msg)
	}

	// A session policy narrows the session.
	narrowed := must[*sts.AssumeRoleOutput](t)(c.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(roleARN), RoleSessionName: aws.String("job-2"),
		ExternalId: aws.String("xyz-123"), Policy: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"elasticache:DescribeReplicationGroups","Resource":"*"}]}`)}))
	if narrowed.PackedPolicySize == nil {
		t.Error("PackedPolicySize absent")
	}
	msg = wantCode(t, describeClusters(env, stsCreds(narrowed.Credentials)), "AccessDenied")
	if !strings.Contains(msg, "because no session policy allows") {
		t.Errorf("session policy message = %q", msg)
	}
	// Root may assume a role that trusts the account.
	must[*iam.CreateRoleOutput](t)(root.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("admin"), MaxSessionDuration: aws.Int32(7200),
		AssumeRolePolicyDocument: aws.String(trust("000000000000", ""))}))
	_, err = sts.NewFromConfig(env.Config()).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::000000000000:role/admin"),
		RoleSessionName: aws.String("root-session"), DurationSeconds: aws.Int32(7200)})
	if err != nil {
		t.Fatalf("root AssumeRole = %v", err)
	}
	// A user without sts:AssumeRole may not assume a role that trusts only the account.
	_, err = c.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::000000000000:role/admin"), RoleSessionName: aws.String("x1")})
	wantCode(t, err, "AccessDenied")
}

func TestCrossAccount(t *testing.T) {
	env := apptest.Start(t)
	b, err := env.App.Accounts().Create(ctx, "other", "", false)
	if err != nil {
		t.Fatal(err)
	}
	bRoot := aws.Credentials{AccessKeyID: b.RootAccessKeyID, SecretAccessKey: b.RootSecretAccessKey}
	rootA := iam.NewFromConfig(env.Config())
	rootB := iam.NewFromConfig(env.Config(bRoot))

	// Each account sees its own IAM only.
	newUser(t, rootA, "shared-name")
	newUser(t, rootB, "shared-name")
	us := must[*iam.ListUsersOutput](t)(rootB.ListUsers(ctx, &iam.ListUsersInput{}))
	if len(us.Users) != 1 || *us.Users[0].Arn != "arn:aws:iam::"+b.ID+":user/shared-name" {
		t.Errorf("B's users = %v", us.Users)
	}

	must[*iam.CreateRoleOutput](t)(rootA.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("local-only"), AssumeRolePolicyDocument: aws.String(trust("000000000000", ""))}))
	must[*iam.CreateRoleOutput](t)(rootA.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("for-b"), AssumeRolePolicyDocument: aws.String(trust(b.ID, ""))}))
	must[*iam.AttachRolePolicyOutput](t)(rootA.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String("for-b"),
		PolicyArn: aws.String("arn:aws:iam::aws:policy/AmazonElastiCacheReadOnlyAccess")}))

	stsB := sts.NewFromConfig(env.Config(bRoot))
	_, err = stsB.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::000000000000:role/local-only"), RoleSessionName: aws.String("xx")})
	msg := wantCode(t, err, "AccessDenied")
	if !strings.Contains(msg, "arn:aws:iam::"+b.ID+":root is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::000000000000:role/local-only") {
		t.Errorf("message = %q", msg)
	}
	out, err := stsB.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::000000000000:role/for-b"), RoleSessionName: aws.String("from-b")})
	if err != nil {
		t.Fatalf("cross-account AssumeRole = %v", err)
	}
	id := must[*sts.GetCallerIdentityOutput](t)(sts.NewFromConfig(env.Config(stsCreds(out.Credentials))).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}))
	if *id.Account != "000000000000" || *id.Arn != "arn:aws:sts::000000000000:assumed-role/for-b/from-b" {
		t.Errorf("caller = %s %s", *id.Account, *id.Arn)
	}
	if err := describeClusters(env, stsCreds(out.Credentials)); err != nil {
		t.Errorf("DescribeCacheClusters in A through the role = %v", err)
	}
	// A user of B needs its own account's permission too.
	bUser := newUser(t, rootB, "b-user")
	_, err = sts.NewFromConfig(env.Config(bUser)).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::000000000000:role/for-b"), RoleSessionName: aws.String("uu")})
	wantCode(t, err, "AccessDenied")
	must[*iam.PutUserPolicyOutput](t)(rootB.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("b-user"), PolicyName: aws.String("assume"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"arn:aws:iam::000000000000:role/for-b"}]}`)}))
	if _, err := sts.NewFromConfig(env.Config(bUser)).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::000000000000:role/for-b"), RoleSessionName: aws.String("uu")}); err != nil {
		t.Errorf("cross-account AssumeRole with both sides allowing = %v", err)
	}
	info := must[*sts.GetAccessKeyInfoOutput](t)(stsB.GetAccessKeyInfo(ctx, &sts.GetAccessKeyInfoInput{AccessKeyId: aws.String(env.Root.AccessKeyID)}))
	if *info.Account != "000000000000" {
		t.Errorf("GetAccessKeyInfo = %s", *info.Account)
	}
}

func TestIAMErrors(t *testing.T) {
	env := apptest.Start(t)
	c := iam.NewFromConfig(env.Config())
	newUser(t, c, "frank")
	must[*iam.CreateGroupOutput](t)(c.CreateGroup(ctx, &iam.CreateGroupInput{GroupName: aws.String("g")}))
	must[*iam.AddUserToGroupOutput](t)(c.AddUserToGroup(ctx, &iam.AddUserToGroupInput{GroupName: aws.String("g"), UserName: aws.String("frank")}))
	pol := must[*iam.CreatePolicyOutput](t)(c.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String("p"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ec2:Describe*","Resource":"*"}]}`)}))
	doc := aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ec2:*","Resource":"*"}]}`)
	for range 4 {
		must[*iam.CreatePolicyVersionOutput](t)(c.CreatePolicyVersion(ctx, &iam.CreatePolicyVersionInput{PolicyArn: pol.Policy.Arn, PolicyDocument: doc}))
	}

	tests := []struct {
		name   string
		call   func() error
		code   string
		status int
	}{
		{"user exists", func() error {
			_, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("FRANK")})
			return err
		}, "EntityAlreadyExists", 409},
		{"no such user", func() error { _, err := c.GetUser(ctx, &iam.GetUserInput{UserName: aws.String("ghost")}); return err }, "NoSuchEntity", 404},
		{"bad user name", func() error {
			_, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("bad name")})
			return err
		}, "ValidationError", 400},
		{"user name too long", func() error {
			_, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(strings.Repeat("a", 65))})
			return err
		}, "ValidationError", 400},
		{"bad path", func() error {
			_, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("x"), Path: aws.String("nopath")})
			return err
		}, "ValidationError", 400},
		{"third access key", func() error {
			if _, err := c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("frank")}); err != nil {
				return err
			}
			_, err := c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("frank")})
			return err
		}, "LimitExceeded", 409},
		{"delete user with keys", func() error {
			_, err := c.DeleteUser(ctx, &iam.DeleteUserInput{UserName: aws.String("frank")})
			return err
		}, "DeleteConflict", 409},
		{"delete group with users", func() error {
			_, err := c.DeleteGroup(ctx, &iam.DeleteGroupInput{GroupName: aws.String("g")})
			return err
		}, "DeleteConflict", 409},
		{"malformed policy", func() error {
			_, err := c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("frank"), PolicyName: aws.String("x"), PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ec2:*"}]}`)})
			return err
		}, "MalformedPolicyDocument", 400},
		{"principal in identity policy", func() error {
			_, err := c.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String("q"), PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"ec2:*","Resource":"*"}]}`)})
			return err
		}, "MalformedPolicyDocument", 400},
		{"sixth version", func() error {
			_, err := c.CreatePolicyVersion(ctx, &iam.CreatePolicyVersionInput{PolicyArn: pol.Policy.Arn, PolicyDocument: doc})
			return err
		}, "LimitExceeded", 409},
		{"delete default version", func() error {
			_, err := c.DeletePolicyVersion(ctx, &iam.DeletePolicyVersionInput{PolicyArn: pol.Policy.Arn, VersionId: aws.String("v1")})
			return err
		}, "DeleteConflict", 409},
		{"duplicate policy", func() error {
			_, err := c.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String("p"), PolicyDocument: doc})
			return err
		}, "EntityAlreadyExists", 409},
		{"attach unknown policy", func() error {
			_, err := c.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: aws.String("frank"), PolicyArn: aws.String("arn:aws:iam::aws:policy/NoSuchPolicy")})
			return err
		}, "NoSuchEntity", 404},
		{"trust policy with resource", func() error {
			_, err := c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("r"), AssumeRolePolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRole","Resource":"*"}]}`)})
			return err
		}, "MalformedPolicyDocument", 400},
		{"max session too long", func() error {
			_, err := c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("r"), MaxSessionDuration: aws.Int32(50000), AssumeRolePolicyDocument: aws.String(trust("000000000000", ""))})
			return err
		}, "ValidationError", 400},
		{"service role policy on customer role", func() error {
			if _, err := c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("cust"), AssumeRolePolicyDocument: aws.String(trust("000000000000", ""))}); err != nil {
				return err
			}
			_, err := c.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String("cust"), PolicyArn: aws.String("arn:aws:iam::aws:policy/aws-service-role/ElastiCacheServiceRolePolicy")})
			return err
		}, "PolicyNotAttachable", 400},
		{"inline too large", func() error {
			big := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ec2:*","Resource":["` + strings.Repeat("arn:aws:ec2:us-east-1:000000000000:instance/i-0123456789abcdef0\",\"", 40) + `*"]}]}`
			_, err := c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("frank"), PolicyName: aws.String("big"), PolicyDocument: aws.String(big)})
			return err
		}, "LimitExceeded", 409},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			wantCode(t, err, tt.code)
			if _, status, _ := apiErr(t, err); status != tt.status {
				t.Errorf("status = %d, want %d", status, tt.status)
			}
		})
	}
}

func TestPoliciesAndListing(t *testing.T) {
	env := apptest.Start(t)
	c := iam.NewFromConfig(env.Config())
	newUser(t, c, "gina")
	aws_ := must[*iam.ListPoliciesOutput](t)(c.ListPolicies(ctx, &iam.ListPoliciesInput{Scope: iamtypes.PolicyScopeTypeAws}))
	found := false
	for _, p := range aws_.Policies {
		found = found || *p.Arn == "arn:aws:iam::aws:policy/AmazonElastiCacheFullAccess"
	}
	if !found || len(aws_.Policies) < 10 {
		t.Errorf("ListPolicies(AWS) = %d policies, AmazonElastiCacheFullAccess found %v", len(aws_.Policies), found)
	}
	must[*iam.AttachUserPolicyOutput](t)(c.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: aws.String("gina"), PolicyArn: aws.String("arn:aws:iam::aws:policy/ReadOnlyAccess")}))
	ents := must[*iam.ListEntitiesForPolicyOutput](t)(c.ListEntitiesForPolicy(ctx, &iam.ListEntitiesForPolicyInput{PolicyArn: aws.String("arn:aws:iam::aws:policy/ReadOnlyAccess")}))
	if len(ents.PolicyUsers) != 1 || *ents.PolicyUsers[0].UserName != "gina" {
		t.Errorf("ListEntitiesForPolicy = %+v", ents.PolicyUsers)
	}
	att := must[*iam.ListAttachedUserPoliciesOutput](t)(c.ListAttachedUserPolicies(ctx, &iam.ListAttachedUserPoliciesInput{UserName: aws.String("gina")}))
	if len(att.AttachedPolicies) != 1 || *att.AttachedPolicies[0].PolicyName != "ReadOnlyAccess" {
		t.Errorf("ListAttachedUserPolicies = %+v", att.AttachedPolicies)
	}
	local := must[*iam.ListPoliciesOutput](t)(c.ListPolicies(ctx, &iam.ListPoliciesInput{OnlyAttached: true}))
	if len(local.Policies) != 1 || *local.Policies[0].AttachmentCount != 1 {
		t.Errorf("ListPolicies(OnlyAttached) = %d", len(local.Policies))
	}

	// Policy versions and documents come back URL-encoded, as IAM does.
	docText := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ec2:Describe*","Resource":"*"}]}`
	p := must[*iam.CreatePolicyOutput](t)(c.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String("mine"), Path: aws.String("/team/"), PolicyDocument: aws.String(docText)}))
	if *p.Policy.Arn != "arn:aws:iam::000000000000:policy/team/mine" {
		t.Errorf("arn = %s", *p.Policy.Arn)
	}
	must[*iam.CreatePolicyVersionOutput](t)(c.CreatePolicyVersion(ctx, &iam.CreatePolicyVersionInput{PolicyArn: p.Policy.Arn, PolicyDocument: aws.String(docText), SetAsDefault: true}))
	v := must[*iam.GetPolicyVersionOutput](t)(c.GetPolicyVersion(ctx, &iam.GetPolicyVersionInput{PolicyArn: p.Policy.Arn, VersionId: aws.String("v2")}))
	if d, _ := url.QueryUnescape(*v.PolicyVersion.Document); d != docText || !v.PolicyVersion.IsDefaultVersion {
		t.Errorf("GetPolicyVersion = %s default %v", *v.PolicyVersion.Document, v.PolicyVersion.IsDefaultVersion)
	}
	vs := must[*iam.ListPolicyVersionsOutput](t)(c.ListPolicyVersions(ctx, &iam.ListPolicyVersionsInput{PolicyArn: p.Policy.Arn}))
	if len(vs.Versions) != 2 {
		t.Errorf("ListPolicyVersions = %d", len(vs.Versions))
	}
	must[*iam.SetDefaultPolicyVersionOutput](t)(c.SetDefaultPolicyVersion(ctx, &iam.SetDefaultPolicyVersionInput{PolicyArn: p.Policy.Arn, VersionId: aws.String("v1")}))
	must[*iam.DeletePolicyVersionOutput](t)(c.DeletePolicyVersion(ctx, &iam.DeletePolicyVersionInput{PolicyArn: p.Policy.Arn, VersionId: aws.String("v2")}))
	must[*iam.DeletePolicyOutput](t)(c.DeletePolicy(ctx, &iam.DeletePolicyInput{PolicyArn: p.Policy.Arn}))

	// Paging.
	for _, n := range []string{"u1", "u2", "u3", "u4"} {
		must[*iam.CreateUserOutput](t)(c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(n), Path: aws.String("/paged/")}))
	}
	var names []string
	pg := iam.NewListUsersPaginator(c, &iam.ListUsersInput{PathPrefix: aws.String("/paged/"), MaxItems: aws.Int32(3)})
	for pg.HasMorePages() {
		out := must[*iam.ListUsersOutput](t)(pg.NextPage(ctx))
		for _, u := range out.Users {
			names = append(names, *u.UserName)
		}
	}
	if strings.Join(names, ",") != "u1,u2,u3,u4" {
		t.Errorf("paged users = %v", names)
	}

	// Service-linked role.
	slr := must[*iam.CreateServiceLinkedRoleOutput](t)(c.CreateServiceLinkedRole(ctx, &iam.CreateServiceLinkedRoleInput{AWSServiceName: aws.String("elasticache.amazonaws.com")}))
	if *slr.Role.Arn != "arn:aws:iam::000000000000:role/aws-service-role/elasticache.amazonaws.com/AWSServiceRoleForElastiCache" {
		t.Errorf("service-linked role = %s", *slr.Role.Arn)
	}
	_, err := c.DeleteRole(ctx, &iam.DeleteRoleInput{RoleName: aws.String("AWSServiceRoleForElastiCache")})
	wantCode(t, err, "UnmodifiableEntity")
	_, err = c.CreateServiceLinkedRole(ctx, &iam.CreateServiceLinkedRoleInput{AWSServiceName: aws.String("elasticache.amazonaws.com")})
	wantCode(t, err, "InvalidInput")
	ap := must[*iam.ListAttachedRolePoliciesOutput](t)(c.ListAttachedRolePolicies(ctx, &iam.ListAttachedRolePoliciesInput{RoleName: aws.String("AWSServiceRoleForElastiCache")}))
	if len(ap.AttachedPolicies) != 1 || *ap.AttachedPolicies[0].PolicyName != "ElastiCacheServiceRolePolicy" {
		t.Errorf("service role policies = %+v", ap.AttachedPolicies)
	}
	del := must[*iam.DeleteServiceLinkedRoleOutput](t)(c.DeleteServiceLinkedRole(ctx, &iam.DeleteServiceLinkedRoleInput{RoleName: aws.String("AWSServiceRoleForElastiCache")}))
	st := must[*iam.GetServiceLinkedRoleDeletionStatusOutput](t)(c.GetServiceLinkedRoleDeletionStatus(ctx, &iam.GetServiceLinkedRoleDeletionStatusInput{DeletionTaskId: del.DeletionTaskId}))
	if st.Status != iamtypes.DeletionTaskStatusTypeSucceeded {
		t.Errorf("deletion status = %s", st.Status)
	}

	// Account alias and summary.
	must[*iam.CreateAccountAliasOutput](t)(c.CreateAccountAlias(ctx, &iam.CreateAccountAliasInput{AccountAlias: aws.String("my-corp")}))
	al := must[*iam.ListAccountAliasesOutput](t)(c.ListAccountAliases(ctx, &iam.ListAccountAliasesInput{}))
	if len(al.AccountAliases) != 1 || al.AccountAliases[0] != "my-corp" {
		t.Errorf("aliases = %v", al.AccountAliases)
	}
	sum := must[*iam.GetAccountSummaryOutput](t)(c.GetAccountSummary(ctx, &iam.GetAccountSummaryInput{}))
	if sum.SummaryMap["Users"] != 5 || sum.SummaryMap["UsersQuota"] != 5000 {
		t.Errorf("summary Users = %d", sum.SummaryMap["Users"])
	}
}

// TestSeedFlowCLI is SEEDS 003/004 with the AWS CLI v2: the root user
// protects itself with MFA, creates an administrator with AdministratorAccess
// and works as that user from then on.
func TestSeedFlowCLI(t *testing.T) {
	env := apptest.Start(t)
	dir := t.TempDir()
	seedFile := filepath.Join(dir, "seed.txt")
	var dev struct {
		SerialNumber string `json:"SerialNumber"`
	}
	var out struct{ VirtualMFADevice struct{ SerialNumber string } }
	env.CLIJSON(t, &out, "iam", "create-virtual-mfa-device", "--virtual-mfa-device-name", "root-account-mfa-device",
		"--outfile", seedFile, "--bootstrap-method", "Base32StringSeed")
	dev.SerialNumber = out.VirtualMFADevice.SerialNumber
	seed, err := os.ReadFile(seedFile)
	if err != nil || len(seed) != 64 {
		t.Fatalf("seed file: %d bytes, %v", len(seed), err)
	}
	now := time.Now()
	c1, _ := totp.GenerateCode(string(seed), now.Add(-30*time.Second))
	c2, _ := totp.GenerateCode(string(seed), now)
	env.CLIJSON(t, nil, "iam", "enable-mfa-device", "--user-name", "root", "--serial-number", dev.SerialNumber,
		"--authentication-code1", c1, "--authentication-code2", c2)
	var sum struct{ SummaryMap map[string]int }
	env.CLIJSON(t, &sum, "iam", "get-account-summary")
	if sum.SummaryMap["AccountMFAEnabled"] != 1 {
		t.Errorf("AccountMFAEnabled = %d", sum.SummaryMap["AccountMFAEnabled"])
	}

	env.CLIJSON(t, nil, "iam", "create-user", "--user-name", "admin")
	env.CLIJSON(t, nil, "iam", "attach-user-policy", "--user-name", "admin", "--policy-arn", "arn:aws:iam::aws:policy/AdministratorAccess")
	var key struct {
		AccessKey struct{ AccessKeyId, SecretAccessKey string }
	}
	env.CLIJSON(t, &key, "iam", "create-access-key", "--user-name", "admin")
	admin := &account.Credentials{AccessKeyID: key.AccessKey.AccessKeyId, SecretAccessKey: key.AccessKey.SecretAccessKey}

	stdout, stderr, code := env.CLI(t, admin, "sts", "get-caller-identity")
	if code != 0 || !strings.Contains(stdout, `"arn:aws:iam::000000000000:user/admin"`) {
		t.Fatalf("admin get-caller-identity: exit %d %s %s", code, stdout, stderr)
	}
	for _, args := range [][]string{
		{"elasticache", "describe-cache-clusters"},
		{"iam", "list-users"},
		{"iam", "create-user", "--user-name", "dev"},
		{"iam", "create-group", "--group-name", "developers"},
		{"iam", "add-user-to-group", "--user-name", "dev", "--group-name", "developers"},
		{"iam", "attach-group-policy", "--group-name", "developers", "--policy-arn", "arn:aws:iam::aws:policy/AmazonElastiCacheFullAccess"},
		{"iam", "list-virtual-mfa-devices"},
	} {
		if stdout, stderr, code := env.CLI(t, admin, args...); code != 0 {
			t.Errorf("admin %v: exit %d %s %s", args, code, stdout, stderr)
		}
	}
	var vm struct {
		VirtualMFADevices []struct{ User struct{ Arn string } }
	}
	stdout, _, _ = env.CLI(t, admin, "iam", "list-virtual-mfa-devices", "--assignment-status", "Assigned")
	if err := json.Unmarshal([]byte(stdout), &vm); err != nil || len(vm.VirtualMFADevices) != 1 || vm.VirtualMFADevices[0].User.Arn != "arn:aws:iam::000000000000:root" {
		t.Errorf("list-virtual-mfa-devices = %s", stdout)
	}
	// A user without policies is refused by the CLI too.
	var devKey struct {
		AccessKey struct{ AccessKeyId, SecretAccessKey string }
	}
	env.CLIJSON(t, &devKey, "iam", "create-access-key", "--user-name", "dev")
	dev2 := &account.Credentials{AccessKeyID: devKey.AccessKey.AccessKeyId, SecretAccessKey: devKey.AccessKey.SecretAccessKey}
	if _, stderr, code := env.CLI(t, dev2, "iam", "list-users"); code == 0 || !strings.Contains(stderr, "AccessDenied") {
		t.Errorf("dev list-users: exit %d %s", code, stderr)
	}
	if _, stderr, code := env.CLI(t, dev2, "elasticache", "describe-cache-clusters"); code != 0 {
		t.Errorf("dev describe-cache-clusters: exit %d %s", code, stderr)
	}
	if _, stderr, code := env.CLI(t, dev2, "ec2", "describe-vpcs"); code == 0 || !strings.Contains(stderr, "UnauthorizedOperation") {
		// AmazonElastiCacheFullAccess allows ec2:DescribeVpcs; anything past authorization is fine.
		if strings.Contains(stderr, "UnauthorizedOperation") {
			t.Errorf("dev describe-vpcs: exit %d %s", code, stderr)
		}
	}
	if _, stderr, code := env.CLI(t, dev2, "ec2", "describe-instances"); code == 0 || !strings.Contains(stderr, "UnauthorizedOperation") {
		t.Errorf("dev describe-instances: exit %d %s", code, stderr)
	}
	_ = base64.StdEncoding
}

func TestSimulatePrincipalPolicy(t *testing.T) {
	env := apptest.Start(t)
	c := iam.NewFromConfig(env.Config())
	newUser(t, c, "sim")
	must[*iam.AttachUserPolicyOutput](t)(c.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: aws.String("sim"),
		PolicyArn: aws.String("arn:aws:iam::aws:policy/AmazonElastiCacheReadOnlyAccess")}))
	out := must[*iam.SimulatePrincipalPolicyOutput](t)(c.SimulatePrincipalPolicy(ctx, &iam.SimulatePrincipalPolicyInput{
		PolicySourceArn: aws.String("arn:aws:iam::000000000000:user/sim"),
		ActionNames:     []string{"elasticache:DescribeCacheClusters", "elasticache:CreateCacheCluster"},
		PolicyInputList: []string{`{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"elasticache:DescribeCacheClusters","Resource":"arn:aws:elasticache:*:*:cluster:secret"}]}`},
		ResourceArns:    []string{"arn:aws:elasticache:us-east-1:000000000000:cluster:open", "arn:aws:elasticache:us-east-1:000000000000:cluster:secret"},
	}))
	var got []string
	for _, r := range out.EvaluationResults {
		got = append(got, *r.EvalActionName+" "+(*r.EvalResourceName)[strings.LastIndexByte(*r.EvalResourceName, ':')+1:]+" "+string(r.EvalDecision))
	}
	want := "elasticache:DescribeCacheClusters open allowed,elasticache:DescribeCacheClusters secret explicitDeny,elasticache:CreateCacheCluster open implicitDeny,elasticache:CreateCacheCluster secret implicitDeny"
	if strings.Join(got, ",") != want {
		t.Errorf("SimulatePrincipalPolicy = %v", got)
	}
}

func TestInstanceProfilesAndRenames(t *testing.T) {
	env := apptest.Start(t)
	c := iam.NewFromConfig(env.Config())
	must[*iam.CreateRoleOutput](t)(c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("ec2-role"),
		AssumeRolePolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}`)}))
	must[*iam.CreateInstanceProfileOutput](t)(c.CreateInstanceProfile(ctx, &iam.CreateInstanceProfileInput{InstanceProfileName: aws.String("web")}))
	must[*iam.AddRoleToInstanceProfileOutput](t)(c.AddRoleToInstanceProfile(ctx, &iam.AddRoleToInstanceProfileInput{InstanceProfileName: aws.String("web"), RoleName: aws.String("ec2-role")}))
	_, err := c.AddRoleToInstanceProfile(ctx, &iam.AddRoleToInstanceProfileInput{InstanceProfileName: aws.String("web"), RoleName: aws.String("ec2-role")})
	wantCode(t, err, "LimitExceeded")
	ip := must[*iam.GetInstanceProfileOutput](t)(c.GetInstanceProfile(ctx, &iam.GetInstanceProfileInput{InstanceProfileName: aws.String("web")}))
	if len(ip.InstanceProfile.Roles) != 1 || *ip.InstanceProfile.Arn != "arn:aws:iam::000000000000:instance-profile/web" {
		t.Errorf("instance profile = %+v", ip.InstanceProfile)
	}
	_, err = c.DeleteRole(ctx, &iam.DeleteRoleInput{RoleName: aws.String("ec2-role")})
	wantCode(t, err, "DeleteConflict")
	must[*iam.RemoveRoleFromInstanceProfileOutput](t)(c.RemoveRoleFromInstanceProfile(ctx, &iam.RemoveRoleFromInstanceProfileInput{InstanceProfileName: aws.String("web"), RoleName: aws.String("ec2-role")}))
	must[*iam.DeleteInstanceProfileOutput](t)(c.DeleteInstanceProfile(ctx, &iam.DeleteInstanceProfileInput{InstanceProfileName: aws.String("web")}))
	must[*iam.DeleteRoleOutput](t)(c.DeleteRole(ctx, &iam.DeleteRoleInput{RoleName: aws.String("ec2-role")}))

	// Renaming a group keeps its members.
	newUser(t, c, "hank")
	must[*iam.CreateGroupOutput](t)(c.CreateGroup(ctx, &iam.CreateGroupInput{GroupName: aws.String("old")}))
	must[*iam.AddUserToGroupOutput](t)(c.AddUserToGroup(ctx, &iam.AddUserToGroupInput{GroupName: aws.String("old"), UserName: aws.String("hank")}))
	must[*iam.UpdateGroupOutput](t)(c.UpdateGroup(ctx, &iam.UpdateGroupInput{GroupName: aws.String("old"), NewGroupName: aws.String("new")}))
	g := must[*iam.GetGroupOutput](t)(c.GetGroup(ctx, &iam.GetGroupInput{GroupName: aws.String("new")}))
	if len(g.Users) != 1 || *g.Users[0].UserName != "hank" {
		t.Errorf("renamed group users = %+v", g.Users)
	}
	fg := must[*iam.ListGroupsForUserOutput](t)(c.ListGroupsForUser(ctx, &iam.ListGroupsForUserInput{UserName: aws.String("hank")}))
	if len(fg.Groups) != 1 || *fg.Groups[0].GroupName != "new" {
		t.Errorf("ListGroupsForUser = %+v", fg.Groups)
	}
	// Tags and login profiles.
	must[*iam.TagUserOutput](t)(c.TagUser(ctx, &iam.TagUserInput{UserName: aws.String("hank"), Tags: []iamtypes.Tag{{Key: aws.String("team"), Value: aws.String("cache")}}}))
	u := must[*iam.GetUserOutput](t)(c.GetUser(ctx, &iam.GetUserInput{UserName: aws.String("hank")}))
	if len(u.User.Tags) != 1 || *u.User.Tags[0].Value != "cache" {
		t.Errorf("tags = %+v", u.User.Tags)
	}
	must[*iam.CreateLoginProfileOutput](t)(c.CreateLoginProfile(ctx, &iam.CreateLoginProfileInput{UserName: aws.String("hank"), Password: aws.String("correct horse battery")}))
	_, err = c.CreateLoginProfile(ctx, &iam.CreateLoginProfileInput{UserName: aws.String("hank"), Password: aws.String("correct horse battery")})
	wantCode(t, err, "EntityAlreadyExists")
	must[*iam.RemoveUserFromGroupOutput](t)(c.RemoveUserFromGroup(ctx, &iam.RemoveUserFromGroupInput{GroupName: aws.String("new"), UserName: aws.String("hank")}))
	_, err = c.DeleteUser(ctx, &iam.DeleteUserInput{UserName: aws.String("hank")})
	wantCode(t, err, "DeleteConflict")
}
