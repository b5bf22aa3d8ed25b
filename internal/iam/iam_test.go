package iam

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/google/go-cmp/cmp"

	"github.com/cachalot-dev/cachalot/internal/account"
	"github.com/cachalot-dev/cachalot/internal/api/ec2api"
	"github.com/cachalot-dev/cachalot/internal/api/elasticacheapi"
	"github.com/cachalot-dev/cachalot/internal/api/iamapi"
	"github.com/cachalot-dev/cachalot/internal/api/stsapi"
	"github.com/cachalot-dev/cachalot/internal/auth"
	"github.com/cachalot-dev/cachalot/internal/awserr"
	"github.com/cachalot-dev/cachalot/internal/endpoint"
	"github.com/cachalot-dev/cachalot/internal/store"
)

const acct = "111122223333"

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex // guards t
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type fixture struct {
	svc   *Service
	accts *account.Accounts
	clock *fakeClock
	root  auth.Principal
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	st, err := store.OpenBolt(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	accts := account.New(st)
	creds, _ := account.NewCredentials()
	if _, err := accts.Ensure(context.Background(), acct, creds); err != nil {
		t.Fatal(err)
	}
	clock := &fakeClock{t: time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)}
	svc, err := New(Config{Store: st, Accounts: accts, Now: clock.Now, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{svc: svc, accts: accts, clock: clock, root: account.RootPrincipal(acct, creds.AccessKeyID)}
}

// as returns a context carrying p and its scope.
func as(p auth.Principal) context.Context {
	ctx := auth.WithPrincipal(context.Background(), p)
	return auth.WithScope(ctx, auth.Scope{AccountID: p.AccountID, Region: "us-east-1"})
}

func (f *fixture) user(t testing.TB, name string, policies ...string) auth.Principal {
	t.Helper()
	ctx := as(f.root)
	if _, err := f.svc.CreateUser(ctx, &iamapi.CreateUserRequest{UserName: ptr(name)}); err != nil {
		t.Fatal(err)
	}
	for _, arn := range policies {
		if err := f.svc.AttachUserPolicy(ctx, &iamapi.AttachUserPolicyRequest{UserName: ptr(name), PolicyArn: ptr(arn)}); err != nil {
			t.Fatal(err)
		}
	}
	k, err := f.svc.CreateAccessKey(ctx, &iamapi.CreateAccessKeyRequest{UserName: ptr(name)})
	if err != nil {
		t.Fatal(err)
	}
	key, err := f.svc.ResolveKey(context.Background(), *k.AccessKey.AccessKeyId)
	if err != nil {
		t.Fatal(err)
	}
	return key.Principal
}

func code(err error) string {
	if err == nil {
		return ""
	}
	if e, ok := awserr.As(err); ok {
		return e.Code
	}
	return "non-AWS error: " + err.Error()
}

func TestAuthorize(t *testing.T) {
	f := newFixture(t)
	ctx := as(f.root)
	ecFull := "arn:aws:iam::aws:policy/AmazonElastiCacheFullAccess"
	full := f.user(t, "full", ecFull)
	none := f.user(t, "none")
	bounded := f.user(t, "bounded", "arn:aws:iam::aws:policy/AdministratorAccess")
	if err := f.svc.PutUserPermissionsBoundary(ctx, &iamapi.PutUserPermissionsBoundaryRequest{UserName: ptr("bounded"),
		PermissionsBoundary: ptr("arn:aws:iam::aws:policy/AmazonEC2ReadOnlyAccess")}); err != nil {
		t.Fatal(err)
	}
	ipOnly := f.user(t, "iponly")
	if err := f.svc.PutUserPolicy(ctx, &iamapi.PutUserPolicyRequest{UserName: ptr("iponly"), PolicyName: ptr("p"),
		PolicyDocument: ptr(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"elasticache:*","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"},"Bool":{"aws:SecureTransport":"true"},"StringEquals":{"aws:RequestedRegion":"us-east-1"}}},
		{"Effect":"Allow","Action":"iam:GetUser","Resource":"arn:aws:iam::*:user/${aws:username}"}]}`)}); err != nil {
		t.Fatal(err)
	}
	slrARN := "arn:aws:iam::" + acct + ":role/aws-service-role/elasticache.amazonaws.com/AWSServiceRoleForElastiCache"
	now := f.clock.Now()
	tests := []struct {
		name string
		r    auth.Request
		want string
	}{
		{"root", auth.Request{Principal: f.root, Service: "ec2", Action: "RunInstances"}, ""},
		{"no policy", auth.Request{Principal: none, Service: "elasticache", Action: "DescribeCacheClusters"}, "AccessDenied"},
		{"no policy ec2", auth.Request{Principal: none, Service: "ec2", Action: "DescribeVpcs"}, "UnauthorizedOperation"},
		{"caller identity needs nothing", auth.Request{Principal: none, Service: "sts", Action: "GetCallerIdentity"}, ""},
		{"session token allowed by default", auth.Request{Principal: none, Service: "sts", Action: "GetSessionToken"}, ""},
		{"managed allows", auth.Request{Principal: full, Service: "elasticache", Action: "CreateCacheCluster", Resources: []string{"arn:aws:elasticache:us-east-1:" + acct + ":cluster:c1"}}, ""},
		{"managed allows ec2 describe", auth.Request{Principal: full, Service: "ec2", Action: "DescribeVpcs"}, ""},
		{"managed does not allow iam", auth.Request{Principal: full, Service: "iam", Action: "ListUsers"}, "AccessDenied"},
		{"slr with service name", auth.Request{Principal: full, Service: "iam", Action: "CreateServiceLinkedRole", Resources: []string{slrARN}}, ""},
		{"slr other role", auth.Request{Principal: full, Service: "iam", Action: "CreateServiceLinkedRole", Resources: []string{"arn:aws:iam::" + acct + ":role/aws-service-role/ec2.amazonaws.com/X"}}, "AccessDenied"},
		{"boundary allows", auth.Request{Principal: bounded, Service: "ec2", Action: "DescribeInstances"}, ""},
		{"boundary denies", auth.Request{Principal: bounded, Service: "ec2", Action: "RunInstances"}, "UnauthorizedOperation"},
		{"conditions met", auth.Request{Principal: ipOnly, Service: "elasticache", Action: "DescribeCacheClusters", SourceIP: "10.1.2.3", SecureTransport: true, Region: "us-east-1", Time: now}, ""},
		{"wrong ip", auth.Request{Principal: ipOnly, Service: "elasticache", Action: "DescribeCacheClusters", SourceIP: "192.168.1.1", SecureTransport: true, Region: "us-east-1"}, "AccessDenied"},
		{"no tls", auth.Request{Principal: ipOnly, Service: "elasticache", Action: "DescribeCacheClusters", SourceIP: "10.1.2.3", Region: "us-east-1"}, "AccessDenied"},
		{"wrong region", auth.Request{Principal: ipOnly, Service: "elasticache", Action: "DescribeCacheClusters", SourceIP: "10.1.2.3", SecureTransport: true, Region: "eu-west-1"}, "AccessDenied"},
		{"username variable self", auth.Request{Principal: ipOnly, Service: "iam", Action: "GetUser", Resources: []string{"arn:aws:iam::" + acct + ":user/iponly"}}, ""},
		{"username variable other", auth.Request{Principal: ipOnly, Service: "iam", Action: "GetUser", Resources: []string{"arn:aws:iam::" + acct + ":user/full"}}, "AccessDenied"},
		{"every resource must be allowed", auth.Request{Principal: ipOnly, Service: "iam", Action: "GetUser", Resources: []string{"arn:aws:iam::" + acct + ":user/iponly", "arn:aws:iam::" + acct + ":user/full"}}, "AccessDenied"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := code(f.svc.Authorize(context.Background(), tt.r)); got != tt.want {
				t.Errorf("Authorize = %q, want %q", got, tt.want)
			}
		})
	}

	// Caches are invalidated by writes: detaching takes effect at once.
	r := auth.Request{Principal: full, Service: "elasticache", Action: "DescribeCacheClusters"}
	if err := f.svc.Authorize(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.DetachUserPolicy(ctx, &iamapi.DetachUserPolicyRequest{UserName: ptr("full"), PolicyArn: ptr(ecFull)}); err != nil {
		t.Fatal(err)
	}
	if got := code(f.svc.Authorize(context.Background(), r)); got != "AccessDenied" {
		t.Errorf("after detach: %q, want AccessDenied", got)
	}
}

func TestSessionTokenRestrictions(t *testing.T) {
	f := newFixture(t)
	admin := f.user(t, "admin", "arn:aws:iam::aws:policy/AdministratorAccess")
	bg := context.Background()
	for _, mfa := range []bool{false, true} {
		iss, err := f.svc.IssueSession(bg, SessionSpec{Kind: SessionToken, AccountID: acct, UserName: "admin", MFA: mfa, Duration: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		p := iss.Key.Principal
		if p.ARN != admin.ARN || !p.Temporary || p.MFAAuthenticated != mfa {
			t.Fatalf("session principal = %+v", p)
		}
		wantIAM := "AccessDenied"
		if mfa {
			wantIAM = ""
		}
		if got := code(f.svc.Authorize(bg, auth.Request{Principal: p, Service: "iam", Action: "ListUsers"})); got != wantIAM {
			t.Errorf("mfa=%v iam:ListUsers = %q, want %q", mfa, got, wantIAM)
		}
		if got := code(f.svc.Authorize(bg, auth.Request{Principal: p, Service: "sts", Action: "GetSessionToken"})); got != "AccessDenied" {
			t.Errorf("mfa=%v sts:GetSessionToken = %q", mfa, got)
		}
		if got := code(f.svc.Authorize(bg, auth.Request{Principal: p, Service: "elasticache", Action: "DescribeCacheClusters"})); got != "" {
			t.Errorf("mfa=%v elasticache = %q", mfa, got)
		}
	}
}

// TestTemporaryCredentialsExpire drives the resolver through the real wire
// edge with a fake clock: credentials work until their expiry, then the
// endpoint answers ExpiredToken.
func TestTemporaryCredentialsExpire(t *testing.T) {
	f := newFixture(t)
	ctx := as(f.root)
	if _, err := f.svc.CreateRole(ctx, &iamapi.CreateRoleRequest{RoleName: ptr("r"),
		AssumeRolePolicyDocument: ptr(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"` + acct + `"},"Action":"sts:AssumeRole"}]}`)}); err != nil {
		t.Fatal(err)
	}
	role, err := f.svc.AuthorizeAssumeRole(context.Background(), auth.Request{Principal: f.root, Resources: []string{"arn:aws:iam::" + acct + ":role/r"}, Time: f.clock.Now()}, false)
	if err != nil {
		t.Fatal(err)
	}
	if role.MaxSession != time.Hour {
		t.Errorf("MaxSession = %v", role.MaxSession)
	}
	iss, err := f.svc.IssueSession(context.Background(), SessionSpec{Kind: AssumedRoleSession, AccountID: acct, RoleName: "r", SessionName: "s", Duration: 900 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	k, err := f.svc.ResolveKey(context.Background(), iss.Key.AccessKeyID)
	if err != nil {
		t.Fatal(err)
	}
	if want := f.clock.Now().Add(900 * time.Second); !k.Expires.Equal(want) || k.SessionToken == "" {
		t.Errorf("Expires = %v, want %v", k.Expires, want)
	}
	if k.Principal.Type != auth.AssumedRole || k.Principal.ARN != "arn:aws:sts::"+acct+":assumed-role/r/s" || k.Principal.RoleARN != "arn:aws:iam::"+acct+":role/r" {
		t.Errorf("principal = %+v", k.Principal)
	}

	h := endpoint.New(endpoint.Config{Keys: f.svc, Authorizer: f.svc, Resources: f.svc.Resources, Now: f.clock.Now,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Services: []endpoint.Binding{
			{Service: stsapi.Metadata, Operations: stsapi.OperationTable(stsapi.Unimplemented{})},
			{Service: elasticacheapi.Metadata, Operations: elasticacheapi.OperationTable(elasticacheapi.Unimplemented{})},
			{Service: ec2api.Metadata, Operations: ec2api.OperationTable(ec2api.Unimplemented{})},
		}})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	call := func(creds aws.Credentials) (int, string) {
		body := "Action=GetCallerIdentity&Version=2011-06-15"
		req, _ := http.NewRequest("POST", srv.URL+"/", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		sum := sha256.Sum256([]byte(body))
		if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), "sts", "us-east-1", f.clock.Now()); err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	creds := aws.Credentials{AccessKeyID: k.AccessKeyID, SecretAccessKey: k.SecretAccessKey, SessionToken: k.SessionToken}
	// GetCallerIdentity is NotImplemented by the stub binding, which proves
	// authentication and authorization passed.
	if status, body := call(creds); !strings.Contains(body, "NotImplemented") {
		t.Fatalf("fresh session: %d %s", status, body)
	}
	f.clock.Add(899 * time.Second)
	if status, body := call(creds); !strings.Contains(body, "NotImplemented") {
		t.Fatalf("session at 899s: %d %s", status, body)
	}
	f.clock.Add(2 * time.Second)
	if status, body := call(creds); status != 403 || !strings.Contains(body, "<Code>ExpiredToken</Code>") {
		t.Fatalf("expired session: %d %s", status, body)
	}
	noToken := creds
	noToken.SessionToken = ""
	if status, body := call(noToken); status != 403 || !strings.Contains(body, "InvalidClientTokenId") {
		t.Fatalf("session without token: %d %s", status, body)
	}
}

func TestEnsureServiceLinkedRole(t *testing.T) {
	f := newFixture(t)
	bg := context.Background()
	none := f.user(t, "none")
	full := f.user(t, "full", "arn:aws:iam::aws:policy/AmazonElastiCacheFullAccess")

	err := f.svc.EnsureServiceLinkedRole(bg, none, acct)
	if e, ok := awserr.As(err); !ok || e.Code != "ServiceLinkedRoleNotFoundFault" || e.HTTPStatus() != 400 {
		t.Fatalf("EnsureServiceLinkedRole(no permission) = %v", err)
	}
	if err := f.svc.EnsureServiceLinkedRole(bg, full, acct); err != nil {
		t.Fatalf("EnsureServiceLinkedRole(AmazonElastiCacheFullAccess) = %v", err)
	}
	r, err := f.svc.GetRole(as(f.root), &iamapi.GetRoleRequest{RoleName: ptr("AWSServiceRoleForElastiCache")})
	if err != nil {
		t.Fatal(err)
	}
	if *r.Role.Path != "/aws-service-role/elasticache.amazonaws.com/" {
		t.Errorf("path = %s", *r.Role.Path)
	}
	// Once it exists, anyone's call succeeds.
	if err := f.svc.EnsureServiceLinkedRole(bg, none, acct); err != nil {
		t.Errorf("EnsureServiceLinkedRole(existing) = %v", err)
	}
	// Root of the account may create it.
	f2 := newFixture(t)
	if err := f2.svc.EnsureServiceLinkedRole(bg, f2.root, acct); err != nil {
		t.Errorf("EnsureServiceLinkedRole(root) = %v", err)
	}
}

func TestResources(t *testing.T) {
	f := newFixture(t)
	ctx := as(f.root)
	if _, err := f.svc.CreateUser(ctx, &iamapi.CreateUserRequest{UserName: ptr("Pathy"), Path: ptr("/eng/")}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, service, action string
		in                    any
		want                  []string
	}{
		{"cluster", "elasticache", "DescribeCacheClusters", &elasticacheapi.DescribeCacheClustersMessage{CacheClusterId: ptr("c1")},
			[]string{"arn:aws:elasticache:us-east-1:" + acct + ":cluster:c1"}},
		{"no id", "elasticache", "DescribeCacheClusters", &elasticacheapi.DescribeCacheClustersMessage{}, nil},
		{"replication group and subnet group", "elasticache", "CreateReplicationGroup",
			&elasticacheapi.CreateReplicationGroupMessage{ReplicationGroupId: ptr("rg"), CacheSubnetGroupName: ptr("sn"), SecurityGroupIds: []string{"sg-1"}},
			[]string{"arn:aws:elasticache:us-east-1:" + acct + ":replicationgroup:rg", "arn:aws:elasticache:us-east-1:" + acct + ":subnetgroup:sn"}},
		{"cluster id as ElastiCache stores it", "elasticache", "DeleteCacheCluster", &elasticacheapi.DeleteCacheClusterMessage{CacheClusterId: ptr("ViCtIm")},
			[]string{"arn:aws:elasticache:us-east-1:" + acct + ":cluster:victim"}},
		{"groups as ElastiCache stores them", "elasticache", "ModifyCacheCluster",
			&elasticacheapi.ModifyCacheClusterMessage{CacheClusterId: ptr("C"), CacheParameterGroupName: ptr("PG"), CacheSecurityGroupNames: []string{"CSG"}},
			[]string{"arn:aws:elasticache:us-east-1:" + acct + ":cluster:c", "arn:aws:elasticache:us-east-1:" + acct + ":parametergroup:pg",
				"arn:aws:elasticache:us-east-1:" + acct + ":securitygroup:csg"}},
		{"tagged ARN as ElastiCache stores it", "elasticache", "AddTagsToResource",
			&elasticacheapi.AddTagsToResourceMessage{ResourceName: ptr("arn:aws:elasticache:us-east-1:" + acct + ":subnetgroup:SN")},
			[]string{"arn:aws:elasticache:us-east-1:" + acct + ":subnetgroup:sn"}},
		// The service stores snapshot names lower-cased (snapshots.go), so
		// "Final" and "final" are one snapshot and one ARN.
		{"snapshot names folded as stored", "elasticache", "DeleteCacheCluster",
			&elasticacheapi.DeleteCacheClusterMessage{CacheClusterId: ptr("c"), FinalSnapshotIdentifier: ptr("Final")},
			[]string{"arn:aws:elasticache:us-east-1:" + acct + ":cluster:c", "arn:aws:elasticache:us-east-1:" + acct + ":snapshot:final"}},
		{"iam user with stored path", "iam", "GetUser", &iamapi.GetUserRequest{UserName: ptr("pathy")},
			[]string{"arn:aws:iam::" + acct + ":user/eng/Pathy"}},
		{"iam user ARN as stored", "iam", "SimulatePrincipalPolicy", &iamapi.SimulatePrincipalPolicyRequest{PolicySourceArn: ptr("arn:aws:iam::" + acct + ":user/PATHY")},
			[]string{"arn:aws:iam::" + acct + ":user/eng/Pathy"}},
		{"renamed user needs both names", "iam", "UpdateUser", &iamapi.UpdateUserRequest{UserName: ptr("pathy"), NewUserName: ptr("Other")},
			[]string{"arn:aws:iam::" + acct + ":user/eng/Pathy", "arn:aws:iam::" + acct + ":user/eng/Other"}},
		{"renamed user to a new path", "iam", "UpdateUser", &iamapi.UpdateUserRequest{UserName: ptr("pathy"), NewUserName: ptr("o"), NewPath: ptr("/x/")},
			[]string{"arn:aws:iam::" + acct + ":user/eng/Pathy", "arn:aws:iam::" + acct + ":user/x/o"}},
		{"new managed policy", "iam", "CreatePolicy", &iamapi.CreatePolicyRequest{PolicyName: ptr("p"), Path: ptr("/t/")},
			[]string{"arn:aws:iam::" + acct + ":policy/t/p"}},
		{"inline policy names no resource", "iam", "PutUserPolicy", &iamapi.PutUserPolicyRequest{UserName: ptr("pathy"), PolicyName: ptr("p")},
			[]string{"arn:aws:iam::" + acct + ":user/eng/Pathy"}},
		{"deletion task's role", "iam", "GetServiceLinkedRoleDeletionStatus",
			&iamapi.GetServiceLinkedRoleDeletionStatusRequest{DeletionTaskId: ptr("task/aws-service-role/elasticache.amazonaws.com/AWSServiceRoleForElastiCache/0a1b")},
			[]string{"arn:aws:iam::" + acct + ":role/aws-service-role/elasticache.amazonaws.com/AWSServiceRoleForElastiCache"}},
		{"iam new user path", "iam", "CreateUser", &iamapi.CreateUserRequest{UserName: ptr("n"), Path: ptr("/x/")},
			[]string{"arn:aws:iam::" + acct + ":user/x/n"}},
		{"iam unknown user", "iam", "DeleteUser", &iamapi.DeleteUserRequest{UserName: ptr("ghost")},
			[]string{"arn:aws:iam::" + acct + ":user/ghost"}},
		{"iam policy arn", "iam", "AttachRolePolicy", &iamapi.AttachRolePolicyRequest{RoleName: ptr("r"), PolicyArn: ptr("arn:aws:iam::aws:policy/ReadOnlyAccess")},
			[]string{"arn:aws:iam::" + acct + ":role/r", "arn:aws:iam::aws:policy/ReadOnlyAccess"}},
		{"service-linked role", "iam", "CreateServiceLinkedRole", &iamapi.CreateServiceLinkedRoleRequest{AWSServiceName: ptr("elasticache.amazonaws.com")},
			[]string{"arn:aws:iam::" + acct + ":role/aws-service-role/elasticache.amazonaws.com/AWSServiceRoleForElastiCache"}},
		{"assume role", "sts", "AssumeRole", &stsapi.AssumeRoleRequest{RoleArn: ptr("arn:aws:iam::999999999999:role/x")},
			[]string{"arn:aws:iam::999999999999:role/x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := f.svc.Resources(ctx, tt.service, tt.action, tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Resources(%s %s) (-want +got):\n%s", tt.service, tt.action, diff)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		in   any
		want string // message substring; "" for valid
	}{
		{"ok", &iamapi.CreateUserRequest{UserName: ptr("a.b+c=d,e@f-g_h"), Path: ptr("/a/b/")}, ""},
		{"space", &iamapi.CreateUserRequest{UserName: ptr("a b")}, `Value 'a b' at 'userName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\w+=,.@-]+`},
		{"empty", &iamapi.GetGroupRequest{GroupName: ptr("")}, "Member must have length greater than or equal to 1"},
		{"path", &iamapi.CreateRoleRequest{RoleName: ptr("r"), Path: ptr("/a")}, "at 'path'"},
		{"role name length", &iamapi.GetRoleRequest{RoleName: ptr(strings.Repeat("r", 65))}, "less than or equal to 64"},
		{"max items", &iamapi.ListUsersRequest{MaxItems: ptr(int32(0))}, "Member must have value greater than or equal to 1"},
		{"status", &iamapi.UpdateAccessKeyRequest{AccessKeyId: ptr("AKIAAAAAAAAAAAAAAAAA"), Status: ptr("On")}, "enum value set: [Active, Inactive]"},
		{"code", &iamapi.EnableMFADeviceRequest{UserName: ptr("u"), SerialNumber: ptr("arn:aws:iam::1:mfa/x"), AuthenticationCode1: ptr("12345a"), AuthenticationCode2: ptr("123456")}, "authenticationCode1"},
		{"service name", &iamapi.CreateServiceLinkedRoleRequest{AWSServiceName: ptr("bad name")}, "at 'aWSServiceName'"},
		{"session duration", &iamapi.CreateRoleRequest{RoleName: ptr("r"), MaxSessionDuration: ptr(int32(3599))}, "maxSessionDuration"},
		{"tag key", &iamapi.CreateUserRequest{UserName: ptr("u"), Tags: []iamapi.Tag{{Key: ptr("a#b"), Value: ptr("v")}}}, "Tag key 'a#b' is invalid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := validate(tt.in)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("validate = %v, want nil", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("validate = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestUpdateUserRenamesKeys(t *testing.T) {
	f := newFixture(t)
	p := f.user(t, "old")
	ctx := as(f.root)
	if err := f.svc.UpdateUser(ctx, &iamapi.UpdateUserRequest{UserName: ptr("old"), NewUserName: ptr("new"), NewPath: ptr("/p/")}); err != nil {
		t.Fatal(err)
	}
	k, err := f.svc.ResolveKey(context.Background(), p.AccessKeyID)
	if err != nil {
		t.Fatal(err)
	}
	if k.Principal.ARN != "arn:aws:iam::"+acct+":user/p/new" || k.Principal.Name != "new" {
		t.Errorf("renamed principal = %+v", k.Principal)
	}
	if _, err := f.svc.GetUser(ctx, &iamapi.GetUserRequest{UserName: ptr("old")}); code(err) != "NoSuchEntity" {
		t.Errorf("GetUser(old) = %v", err)
	}
}
