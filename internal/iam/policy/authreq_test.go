package policy

import (
	"testing"
	"time"

	"github.com/cachalot-dev/cachalot/internal/auth"
	"github.com/google/go-cmp/cmp"
)

func TestRequestsFromAuth(t *testing.T) {
	now := testTime()
	ar := auth.Request{
		Principal: auth.Principal{Type: auth.AssumedRole, AccountID: acct, ARN: AssumedRoleARN(acct, "deployer", "s"),
			UserID: "AROAX:s", Name: "deployer", Temporary: true, MFAAuthenticated: true, TokenIssued: now.Add(-time.Minute),
			RoleARN: IAMARN(acct, IAMRole, "/", "deployer")},
		Service: "elasticache", Action: "DeleteCacheCluster",
		Resources: []string{"arn:1", "arn:2"}, Region: "us-east-1", SourceIP: "192.0.2.1", SecureTransport: true, Time: now,
	}
	got := RequestsFromAuth(ar)
	c := Caller{Type: PrincipalAssumedRole, ARN: ar.Principal.ARN, PrincipalARN: ar.Principal.RoleARN, AccountID: acct,
		UserID: "AROAX:s", Temporary: true, MFA: true, MFAAuthTime: now.Add(-time.Minute), TokenIssued: now.Add(-time.Minute)}
	base := Request{Action: "elasticache:DeleteCacheCluster", Caller: c, Time: now, SourceIP: "192.0.2.1", SecureTransport: true, Region: "us-east-1"}
	r1, r2 := base, base
	r1.Resource, r2.Resource = "arn:1", "arn:2"
	if diff := cmp.Diff([]Request{r1, r2}, got); diff != "" {
		t.Errorf("RequestsFromAuth mismatch (-want +got):\n%s", diff)
	}

	user := CallerFromAuth(auth.Principal{Type: auth.User, AccountID: acct, ARN: aliceARN, Name: "alice"})
	if user.Type != PrincipalUser || user.Username != "alice" || user.Temporary {
		t.Errorf("CallerFromAuth(user) = %+v", user)
	}
	root := CallerFromAuth(auth.Principal{Type: auth.Root, AccountID: acct, Name: "root"})
	if root.Type != PrincipalAccount || root.ARN != AccountRootARN(acct) || root.Username != "" {
		t.Errorf("CallerFromAuth(root) = %+v", root)
	}
	if got := RequestsFromAuth(auth.Request{Service: "sts", Action: "GetCallerIdentity"}); len(got) != 1 || got[0].Resource != "*" {
		t.Errorf("RequestsFromAuth(no resources) = %+v", got)
	}
}
