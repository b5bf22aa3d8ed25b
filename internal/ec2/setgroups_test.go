package ec2

import (
	"context"
	"slices"
	"testing"
)

// SetInterfaceGroups with the groups the interface has writes nothing (the
// store revision stays, so no controller is woken); other groups are
// written.
func TestSetInterfaceGroupsUnchangedWritesNothing(t *testing.T) {
	s, _ := newTestService(t)
	ctx := ctxFor(acctA)
	bg := context.Background()
	def := defaults(t, s, acctA)
	cache := createGroup(t, s, ctx, "cache", "")
	e, err := s.CreateManagedInterface(bg, InterfaceSpec{Account: acctA, Region: region, SubnetID: def.Subnets[0].ID, GroupIDs: []string{cache}, Description: "ElastiCache c1-0001"})
	ok(t, err)
	revision := func() uint64 {
		t.Helper()
		rev, err := s.Revision(bg)
		ok(t, err)
		return rev
	}
	before := revision()
	ok(t, s.SetInterfaceGroups(bg, acctA, region, e.ID, []string{cache}))
	if got := revision(); got != before {
		t.Errorf("SetInterfaceGroups(its own groups): revision %d -> %d, want unchanged", before, got)
	}
	ok(t, s.SetInterfaceGroups(bg, acctA, region, e.ID, []string{cache, def.DefaultGroupID}))
	if got := revision(); got == before {
		t.Errorf("SetInterfaceGroups(other groups): revision %d unchanged, want it to move", got)
	}
	got, err := s.GetInterface(bg, acctA, region, e.ID)
	ok(t, err)
	if want := []string{cache, def.DefaultGroupID}; !slices.Equal(got.Groups, want) {
		t.Errorf("groups = %v, want %v", got.Groups, want)
	}
}
