package elasticache

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/cachalot-dev/cachalot/internal/api/elasticacheapi"
	"github.com/cachalot-dev/cachalot/internal/auth"
	"github.com/cachalot-dev/cachalot/internal/awserr"
	"github.com/cachalot-dev/cachalot/internal/dnsname"
	"github.com/cachalot-dev/cachalot/internal/ec2"
	"github.com/cachalot-dev/cachalot/internal/store"
)

// TestTestFailoverRollingLimit: an account tests at most 15 node groups in
// any rolling 24 hours, across its groups in the region; the oldest call
// leaving the window makes room for one more.
func TestTestFailoverRollingLimit(t *testing.T) {
	st, err := store.OpenBolt(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	names, err := dnsname.New(dnsname.DefaultDomain, dnsname.NewSecret())
	if err != nil {
		t.Fatal(err)
	}
	svc := New(st, Config{Network: ec2.New(st, ec2.Config{}), Names: names, Now: func() time.Time { return now }})
	ctx := auth.WithScope(context.Background(), auth.Scope{AccountID: "000000000000", Region: "us-east-1"})
	group := func(id string, tests []time.Time) *ReplicationGroup {
		return &ReplicationGroup{Account: "000000000000", Region: "us-east-1", ID: id, Members: []string{id + "-001", id + "-002"},
			Primary: id + "-001", AutomaticFailover: FailoverEnabled, Status: GroupAvailable, TestFailovers: tests}
	}
	var tests []time.Time
	for i := range testFailoverLimit {
		tests = append(tests, now.Add(-23*time.Hour+time.Duration(i)*time.Minute))
	}
	if err := st.Update(ctx, func(tx store.Tx) error {
		if err := putGroup(tx, group("busy", tests)); err != nil {
			return err
		}
		return putGroup(tx, group("next", nil))
	}); err != nil {
		t.Fatal(err)
	}
	in := &elasticacheapi.TestFailoverMessage{ReplicationGroupId: aws.String("next"), NodeGroupId: aws.String(NodeGroupID)}
	_, err = svc.TestFailover(ctx, in)
	if e, ok := awserr.As(err); !ok || e.Code != "APICallRateForCustomerExceeded" {
		t.Fatalf("TestFailover past the limit = %v, want APICallRateForCustomerExceeded", err)
	}
	now = now.Add(time.Hour) // the oldest call leaves the window
	out, err := svc.TestFailover(ctx, in)
	if err != nil {
		t.Fatalf("TestFailover once a call left the window = %v", err)
	}
	if got := aws.ToString(out.ReplicationGroup.Status); got != GroupModifying {
		t.Errorf("TestFailover status = %s, want modifying", got)
	}
}
