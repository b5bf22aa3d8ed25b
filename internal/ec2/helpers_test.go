package ec2

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/cachalot-dev/cachalot/internal/api/ec2api"
	"github.com/cachalot-dev/cachalot/internal/auth"
	"github.com/cachalot-dev/cachalot/internal/awserr"
	"github.com/cachalot-dev/cachalot/internal/store"
)

const (
	acctA  = "111111111111"
	acctB  = "222222222222"
	region = "us-east-1"
)

func openStore(t testing.TB) store.Store {
	t.Helper()
	st, err := store.OpenBolt(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func newTestService(t testing.TB) (*Service, store.Store) {
	st := openStore(t)
	return New(st, Config{}), st
}

func ctxFor(account string) context.Context {
	return auth.WithScope(context.Background(), auth.Scope{AccountID: account, Region: region})
}

func must[T any](t testing.TB) func(v T, err error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return v
	}
}

func ok(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
}

func wantCode(t testing.TB, err error, code string) {
	t.Helper()
	if err == nil {
		t.Fatalf("error = nil, want %s", code)
	}
	e, isAWS := awserr.As(err)
	if !isAWS {
		t.Fatalf("error = %v (not an awserr), want %s", err, code)
	}
	if e.Code != code {
		t.Fatalf("error = %v, want code %s", err, code)
	}
}

func filter(name string, values ...string) ec2api.Filter {
	return ec2api.Filter{Name: ptr(name), Values: values}
}

func tcpFrom(port int32, cidr string) ec2api.IpPermission {
	return ec2api.IpPermission{IpProtocol: ptr("tcp"), FromPort: ptr(port), ToPort: ptr(port), IpRanges: []ec2api.IpRange{{CidrIp: ptr(cidr)}}}
}

func tcpFromGroup(port int32, group string) ec2api.IpPermission {
	return ec2api.IpPermission{IpProtocol: ptr("tcp"), FromPort: ptr(port), ToPort: ptr(port), UserIdGroupPairs: []ec2api.UserIdGroupPair{{GroupId: ptr(group)}}}
}

// defaults returns the caller's default VPC info.
func defaults(t testing.TB, s *Service, account string) VPCInfo {
	t.Helper()
	v, err := s.DefaultVPC(context.Background(), account, region)
	ok(t, err)
	return v
}

func createGroup(t testing.TB, s *Service, ctx context.Context, name, vpc string) string {
	t.Helper()
	in := &ec2api.CreateSecurityGroupRequest{GroupName: ptr(name), Description: ptr(name + " group")}
	if vpc != "" {
		in.VpcId = ptr(vpc)
	}
	out, err := s.CreateSecurityGroup(ctx, in)
	ok(t, err)
	return *out.GroupId
}

func describeGroup(t testing.TB, s *Service, ctx context.Context, id string) ec2api.SecurityGroup {
	t.Helper()
	out, err := s.DescribeSecurityGroups(ctx, &ec2api.DescribeSecurityGroupsRequest{GroupIds: []string{id}})
	ok(t, err)
	if len(out.SecurityGroups) != 1 {
		t.Fatalf("DescribeSecurityGroups(%s) returned %d groups", id, len(out.SecurityGroups))
	}
	return out.SecurityGroups[0]
}
