package ec2

import (
	"context"
	"net/netip"
	"slices"
	"testing"

	"github.com/cachalot-dev/cachalot/internal/api/ec2api"
	"github.com/google/go-cmp/cmp"
)

func createPL(t testing.TB, s *Service, ctx context.Context, name string, max int32, cidrs ...string) ec2api.ManagedPrefixList {
	t.Helper()
	in := &ec2api.CreateManagedPrefixListRequest{PrefixListName: ptr(name), AddressFamily: ptr("IPv4"), MaxEntries: ptr(max)}
	for _, c := range cidrs {
		in.Entries = append(in.Entries, ec2api.AddPrefixListEntry{Cidr: ptr(c)})
	}
	out, err := s.CreateManagedPrefixList(ctx, in)
	ok(t, err)
	return *out.PrefixList
}

func plEntries(t testing.TB, s *Service, ctx context.Context, id string, version *int64) []string {
	t.Helper()
	out, err := s.GetManagedPrefixListEntries(ctx, &ec2api.GetManagedPrefixListEntriesRequest{PrefixListId: ptr(id), TargetVersion: version})
	ok(t, err)
	var got []string
	for _, e := range out.Entries {
		got = append(got, *e.Cidr)
	}
	return got
}

func TestManagedPrefixLists(t *testing.T) {
	s, st := newTestService(t)
	ctx := ctxFor(acctA)
	pl := createPL(t, s, ctx, "office", 3, "10.20.1.7/24", "192.0.2.0/28")
	id := *pl.PrefixListId
	if *pl.State != "create-complete" || *pl.Version != 1 || *pl.OwnerId != acctA ||
		*pl.PrefixListArn != "arn:aws:ec2:us-east-1:"+acctA+":prefix-list/"+id {
		t.Errorf("CreateManagedPrefixList = %+v", pl)
	}
	if got, want := plEntries(t, s, ctx, id, nil), []string{"10.20.1.0/24", "192.0.2.0/28"}; !cmp.Equal(got, want) {
		t.Errorf("entries = %v, want %v (canonical)", got, want)
	}

	probe := createGroup(t, s, ctx, "probe", "")
	fails := []struct {
		name, code string
		call       func() error
	}{
		{"create no family", "MissingParameter", func() error {
			_, err := s.CreateManagedPrefixList(ctx, &ec2api.CreateManagedPrefixListRequest{PrefixListName: ptr("x"), MaxEntries: ptr(int32(1))})
			return err
		}},
		{"create bad family", "InvalidParameterValue", func() error {
			_, err := s.CreateManagedPrefixList(ctx, &ec2api.CreateManagedPrefixListRequest{PrefixListName: ptr("x"), AddressFamily: ptr("IPv5"), MaxEntries: ptr(int32(1))})
			return err
		}},
		{"create max entries 0", "InvalidParameterValue", func() error {
			_, err := s.CreateManagedPrefixList(ctx, &ec2api.CreateManagedPrefixListRequest{PrefixListName: ptr("x"), AddressFamily: ptr("IPv4"), MaxEntries: ptr(int32(0))})
			return err
		}},
		{"create reserved name", "InvalidParameterValue", func() error {
			_, err := s.CreateManagedPrefixList(ctx, &ec2api.CreateManagedPrefixListRequest{PrefixListName: ptr("com.amazonaws.mine"), AddressFamily: ptr("IPv4"), MaxEntries: ptr(int32(1))})
			return err
		}},
		{"create too many entries", "PrefixListMaxEntriesExceeded", func() error {
			_, err := s.CreateManagedPrefixList(ctx, &ec2api.CreateManagedPrefixListRequest{PrefixListName: ptr("x"), AddressFamily: ptr("IPv4"), MaxEntries: ptr(int32(1)),
				Entries: []ec2api.AddPrefixListEntry{{Cidr: ptr("10.0.0.0/8")}, {Cidr: ptr("11.0.0.0/8")}}})
			return err
		}},
		{"create v6 entry in v4 list", "InvalidParameterValue", func() error {
			_, err := s.CreateManagedPrefixList(ctx, &ec2api.CreateManagedPrefixListRequest{PrefixListName: ptr("x"), AddressFamily: ptr("IPv4"), MaxEntries: ptr(int32(1)),
				Entries: []ec2api.AddPrefixListEntry{{Cidr: ptr("2001:db8::/32")}}})
			return err
		}},
		{"create duplicate entry", "InvalidParameterValue", func() error {
			_, err := s.CreateManagedPrefixList(ctx, &ec2api.CreateManagedPrefixListRequest{PrefixListName: ptr("x"), AddressFamily: ptr("IPv4"), MaxEntries: ptr(int32(2)),
				Entries: []ec2api.AddPrefixListEntry{{Cidr: ptr("10.0.0.0/8")}, {Cidr: ptr("10.1.0.0/8")}}})
			return err
		}},
		{"modify wrong version", "PrefixListVersionMismatch", func() error {
			_, err := s.ModifyManagedPrefixList(ctx, &ec2api.ModifyManagedPrefixListRequest{PrefixListId: ptr(id), CurrentVersion: ptr(int64(7)),
				AddEntries: []ec2api.AddPrefixListEntry{{Cidr: ptr("10.30.0.0/16")}}})
			return err
		}},
		{"modify beyond max", "PrefixListMaxEntriesExceeded", func() error {
			_, err := s.ModifyManagedPrefixList(ctx, &ec2api.ModifyManagedPrefixListRequest{PrefixListId: ptr(id),
				AddEntries: []ec2api.AddPrefixListEntry{{Cidr: ptr("10.30.0.0/16")}, {Cidr: ptr("10.31.0.0/16")}}})
			return err
		}},
		{"modify entries and size", "InvalidPrefixListModification", func() error {
			_, err := s.ModifyManagedPrefixList(ctx, &ec2api.ModifyManagedPrefixListRequest{PrefixListId: ptr(id), MaxEntries: ptr(int32(10)),
				AddEntries: []ec2api.AddPrefixListEntry{{Cidr: ptr("10.30.0.0/16")}}})
			return err
		}},
		{"modify remove absent", "InvalidPrefixListModification", func() error {
			_, err := s.ModifyManagedPrefixList(ctx, &ec2api.ModifyManagedPrefixListRequest{PrefixListId: ptr(id),
				RemoveEntries: []ec2api.RemovePrefixListEntry{{Cidr: ptr("10.99.0.0/16")}}})
			return err
		}},
		{"modify size below entries", "InvalidPrefixListModification", func() error {
			_, err := s.ModifyManagedPrefixList(ctx, &ec2api.ModifyManagedPrefixListRequest{PrefixListId: ptr(id), MaxEntries: ptr(int32(1))})
			return err
		}},
		{"modify AWS list", "InvalidPrefixListModification", func() error {
			_, err := s.ModifyManagedPrefixList(ctx, &ec2api.ModifyManagedPrefixListRequest{PrefixListId: ptr("pl-63a5400a"), PrefixListName: ptr("mine")})
			return err
		}},
		{"modify unknown", "InvalidPrefixListID.NotFound", func() error {
			_, err := s.ModifyManagedPrefixList(ctx, &ec2api.ModifyManagedPrefixListRequest{PrefixListId: ptr("pl-0123456789abcdef0"), PrefixListName: ptr("x")})
			return err
		}},
		{"modify malformed", "InvalidPrefixListId.Malformed", func() error {
			_, err := s.ModifyManagedPrefixList(ctx, &ec2api.ModifyManagedPrefixListRequest{PrefixListId: ptr("sg-12345678"), PrefixListName: ptr("x")})
			return err
		}},
		{"restore unknown version", "InvalidParameterValue", func() error {
			_, err := s.RestoreManagedPrefixListVersion(ctx, &ec2api.RestoreManagedPrefixListVersionRequest{PrefixListId: ptr(id), CurrentVersion: ptr(int64(1)), PreviousVersion: ptr(int64(5))})
			return err
		}},
		{"entries of unknown version", "InvalidParameterValue", func() error {
			_, err := s.GetManagedPrefixListEntries(ctx, &ec2api.GetManagedPrefixListEntriesRequest{PrefixListId: ptr(id), TargetVersion: ptr(int64(9))})
			return err
		}},
		{"rule with unknown list", "InvalidPrefixListID.NotFound", func() error {
			_, err := s.AuthorizeSecurityGroupIngress(ctx, &ec2api.AuthorizeSecurityGroupIngressRequest{GroupId: ptr(probe), IpPermissions: []ec2api.IpPermission{{
				IpProtocol: ptr("tcp"), FromPort: ptr(int32(22)), ToPort: ptr(int32(22)), PrefixListIds: []ec2api.PrefixListId{{PrefixListId: ptr("pl-0123456789abcdef0")}}}}})
			return err
		}},
	}
	for _, f := range fails {
		t.Run(f.name, func(t *testing.T) { failsUnchanged(t, st, f.code, f.call) })
	}

	// Modify: add (and re-describe an entry), remove; each entry change is a version.
	m, err := s.ModifyManagedPrefixList(ctx, &ec2api.ModifyManagedPrefixListRequest{PrefixListId: ptr(id), CurrentVersion: ptr(int64(1)),
		AddEntries:    []ec2api.AddPrefixListEntry{{Cidr: ptr("10.30.0.0/16"), Description: ptr("vpn")}},
		RemoveEntries: []ec2api.RemovePrefixListEntry{{Cidr: ptr("192.0.2.0/28")}}})
	ok(t, err)
	if *m.PrefixList.Version != 2 || *m.PrefixList.State != "modify-complete" {
		t.Errorf("ModifyManagedPrefixList = version %d state %s, want 2 modify-complete", *m.PrefixList.Version, *m.PrefixList.State)
	}
	if got, want := plEntries(t, s, ctx, id, nil), []string{"10.20.1.0/24", "10.30.0.0/16"}; !cmp.Equal(got, want) {
		t.Errorf("entries v2 = %v, want %v", got, want)
	}
	if got, want := plEntries(t, s, ctx, id, ptr(int64(1))), []string{"10.20.1.0/24", "192.0.2.0/28"}; !cmp.Equal(got, want) {
		t.Errorf("entries v1 = %v, want %v", got, want)
	}
	m, err = s.ModifyManagedPrefixList(ctx, &ec2api.ModifyManagedPrefixListRequest{PrefixListId: ptr(id), PrefixListName: ptr("office-2"), MaxEntries: ptr(int32(4))})
	ok(t, err)
	if *m.PrefixList.Version != 2 || *m.PrefixList.PrefixListName != "office-2" || *m.PrefixList.MaxEntries != 4 {
		t.Errorf("rename/resize = %+v, want version 2 kept", m.PrefixList)
	}
	r, err := s.RestoreManagedPrefixListVersion(ctx, &ec2api.RestoreManagedPrefixListVersionRequest{PrefixListId: ptr(id), CurrentVersion: ptr(int64(2)), PreviousVersion: ptr(int64(1))})
	ok(t, err)
	if *r.PrefixList.Version != 3 || *r.PrefixList.State != "restore-complete" {
		t.Errorf("restore = %+v", r.PrefixList)
	}
	if got, want := plEntries(t, s, ctx, id, nil), []string{"10.20.1.0/24", "192.0.2.0/28"}; !cmp.Equal(got, want) {
		t.Errorf("entries v3 = %v, want %v", got, want)
	}

	// Describe: own and AWS's; every filter.
	d, err := s.DescribeManagedPrefixLists(ctx, &ec2api.DescribeManagedPrefixListsRequest{})
	ok(t, err)
	var names, ids []string
	for _, l := range d.PrefixLists {
		names, ids = append(names, *l.PrefixListName), append(ids, *l.PrefixListId)
	}
	if !slices.IsSorted(ids) {
		t.Errorf("DescribeManagedPrefixLists ids = %v, want them in id order", ids)
	}
	slices.Sort(names) // the own list's id is random: its place among AWS's varies
	if want := []string{"com.amazonaws.us-east-1.dynamodb", "com.amazonaws.us-east-1.s3", "office-2"}; !cmp.Equal(names, want) {
		t.Errorf("DescribeManagedPrefixLists names = %v, want %v", names, want)
	}
	for _, f := range []ec2api.Filter{filter("owner-id", acctA), filter("prefix-list-id", id), filter("prefix-list-name", "office-*")} {
		d, err := s.DescribeManagedPrefixLists(ctx, &ec2api.DescribeManagedPrefixListsRequest{Filters: []ec2api.Filter{f}})
		ok(t, err)
		if len(d.PrefixLists) != 1 || *d.PrefixLists[0].PrefixListId != id {
			t.Errorf("filter %s = %d lists", *f.Name, len(d.PrefixLists))
		}
	}
	d, err = s.DescribeManagedPrefixLists(ctx, &ec2api.DescribeManagedPrefixListsRequest{Filters: []ec2api.Filter{filter("owner-id", "AWS")}})
	ok(t, err)
	if len(d.PrefixLists) != 2 {
		t.Errorf("owner-id AWS = %d lists, want 2", len(d.PrefixLists))
	}
	pls, err := s.DescribePrefixLists(ctx, &ec2api.DescribePrefixListsRequest{Filters: []ec2api.Filter{filter("prefix-list-name", "com.amazonaws.us-east-1.s3")}})
	ok(t, err)
	if len(pls.PrefixLists) != 1 || *pls.PrefixLists[0].PrefixListId != "pl-63a5400a" || len(pls.PrefixLists[0].Cidrs) == 0 {
		t.Errorf("DescribePrefixLists s3 = %+v", pls.PrefixLists)
	}

	// Tags through CreateTags and DescribeTags.
	ok(t, s.CreateTags(ctx, &ec2api.CreateTagsRequest{Resources: []string{id}, Tags: []ec2api.Tag{{Key: ptr("team"), Value: ptr("net")}}}))
	tags, err := s.DescribeTags(ctx, &ec2api.DescribeTagsRequest{Filters: []ec2api.Filter{filter("resource-type", "prefix-list")}})
	ok(t, err)
	if len(tags.Tags) != 1 || *tags.Tags[0].ResourceId != id {
		t.Errorf("DescribeTags prefix-list = %+v", tags.Tags)
	}

	// A rule referencing the list: associations; the list cannot be deleted.
	g := createGroup(t, s, ctx, "db", "")
	_, err = s.AuthorizeSecurityGroupIngress(ctx, &ec2api.AuthorizeSecurityGroupIngressRequest{GroupId: ptr(g), IpPermissions: []ec2api.IpPermission{{
		IpProtocol: ptr("tcp"), FromPort: ptr(int32(6379)), ToPort: ptr(int32(6379)), PrefixListIds: []ec2api.PrefixListId{{PrefixListId: ptr(id)}}}}})
	ok(t, err)
	as, err := s.GetManagedPrefixListAssociations(ctx, &ec2api.GetManagedPrefixListAssociationsRequest{PrefixListId: ptr(id)})
	ok(t, err)
	if len(as.PrefixListAssociations) != 1 || *as.PrefixListAssociations[0].ResourceId != g {
		t.Errorf("associations = %+v, want %s", as.PrefixListAssociations, g)
	}
	failsUnchanged(t, st, "InvalidPrefixListModification", func() error {
		_, err := s.DeleteManagedPrefixList(ctx, &ec2api.DeleteManagedPrefixListRequest{PrefixListId: ptr(id)})
		return err
	})
	failsUnchanged(t, st, "InvalidPrefixListModification", func() error {
		_, err := s.DeleteManagedPrefixList(ctx, &ec2api.DeleteManagedPrefixListRequest{PrefixListId: ptr("pl-63a5400a")})
		return err
	})

	// The topology carries the list; the rule names it.
	topo, err := s.Topology(context.Background(), TopologySelector{Account: acctA})
	ok(t, err)
	i := slices.IndexFunc(topo.PrefixLists, func(p TopoPrefixList) bool { return p.ID == id })
	if i < 0 || !cmp.Equal(topo.PrefixLists[i].CIDRs, []netip.Prefix{netip.MustParsePrefix("10.20.1.0/24"), netip.MustParsePrefix("192.0.2.0/28")}, cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })) {
		t.Errorf("topology prefix lists = %+v", topo.PrefixLists)
	}

	// Another account sees neither the list nor can it use it.
	other := ctxFor(acctB)
	wantCode(t, func() error {
		_, err := s.GetManagedPrefixListEntries(other, &ec2api.GetManagedPrefixListEntriesRequest{PrefixListId: ptr(id)})
		return err
	}(), "InvalidPrefixListID.NotFound")

	_, err = s.RevokeSecurityGroupIngress(ctx, &ec2api.RevokeSecurityGroupIngressRequest{GroupId: ptr(g), IpPermissions: []ec2api.IpPermission{{
		IpProtocol: ptr("tcp"), FromPort: ptr(int32(6379)), ToPort: ptr(int32(6379)), PrefixListIds: []ec2api.PrefixListId{{PrefixListId: ptr(id)}}}}})
	ok(t, err)
	del, err := s.DeleteManagedPrefixList(ctx, &ec2api.DeleteManagedPrefixListRequest{PrefixListId: ptr(id)})
	ok(t, err)
	if *del.PrefixList.State != "delete-complete" {
		t.Errorf("DeleteManagedPrefixList state = %s", *del.PrefixList.State)
	}
	wantCode(t, func() error {
		_, err := s.GetManagedPrefixListEntries(ctx, &ec2api.GetManagedPrefixListEntriesRequest{PrefixListId: ptr(id)})
		return err
	}(), "InvalidPrefixListID.NotFound")
}
