package ec2

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/cachalot-dev/cachalot/internal/api/ec2api"
	"github.com/cachalot-dev/cachalot/internal/awserr"
	"github.com/cachalot-dev/cachalot/internal/iam/policy"
)

// Managed prefix lists: named sets of CIDRs that security-group rules
// reference by id (PrefixListIds in IpPermissions). Customer-managed lists
// are records of the scope; every change of entries makes a new version,
// and earlier versions are kept for GetManagedPrefixListEntries
// TargetVersion and RestoreManagedPrefixListVersion. AWS-managed lists
// (com.amazonaws.<region>.s3 and .dynamodb) exist in every scope as fixed
// records, owner "AWS", and cannot be changed.
//
// A rule referencing a list admits exactly the list's current CIDRs: the
// Topology carries every list with its entries (TopoPrefixList), and the
// translation for the network plane (vpcnet) and the evaluator (sgeval)
// expand the reference there, so a ModifyManagedPrefixList changes what
// the kernel admits at the next reconcile like any other rule change.

// plRec is a customer-managed prefix list.
type plRec struct {
	tagged
	ID          string    `json:"id"`
	Owner       string    `json:"owner"`
	Name        string    `json:"name"`
	Family      string    `json:"family"` // IPv4, IPv6
	MaxEntries  int32     `json:"maxEntries"`
	Version     int64     `json:"version"`
	State       string    `json:"state"`
	Entries     []plEntry `json:"entries,omitempty"` // sorted by CIDR string
	ClientToken string    `json:"clientToken,omitempty"`
	Created     time.Time `json:"created"`
	// History holds the entries of every earlier version, by version.
	History map[int64][]plEntry `json:"history,omitempty"`
}

func (r *plRec) id() string { return r.ID }

type plEntry struct {
	CIDR        string `json:"cidr"`
	Description string `json:"description,omitempty"`
}

// maxPrefixListEntries is AWS's upper bound of MaxEntries; maxPrefixLists
// the quota of customer-managed lists per region.
const (
	maxPrefixListEntries = 1000
	maxPrefixLists       = 100
)

// awsPrefixList is an AWS-managed prefix list.
type awsPrefixList struct {
	service string
	cidrs   []string
}

// awsPrefixLists are the AWS-managed lists of every region, with the
// ranges AWS publishes for us-east-1 (the ranges of other regions differ on
// AWS; Cachalot's are the same everywhere, which no tool checks).
var awsPrefixLists = []awsPrefixList{
	{"dynamodb", []string{"3.218.180.0/22", "3.218.184.0/22", "52.94.0.0/22", "52.119.224.0/20"}},
	{"s3", []string{"3.5.0.0/19", "16.15.176.0/20", "16.182.0.0/16", "18.34.0.0/19", "18.34.232.0/21", "52.216.0.0/15", "54.231.0.0/16"}},
}

// awsPrefixListID returns the id of an AWS-managed list in a region: AWS's
// for us-east-1, a stable 8-digit one elsewhere.
func awsPrefixListID(region, service string) string {
	if region == "us-east-1" {
		switch service {
		case "s3":
			return "pl-63a5400a"
		case "dynamodb":
			return "pl-02cd2c6b"
		}
	}
	h := sha256.Sum256([]byte(region + "/" + service))
	return "pl-" + hex.EncodeToString(h[:4])
}

// awsManaged returns the AWS-managed lists of a region as records.
func awsManaged(region string) []*plRec {
	out := make([]*plRec, 0, len(awsPrefixLists))
	for _, l := range awsPrefixLists {
		r := &plRec{ID: awsPrefixListID(region, l.service), Owner: "AWS", Name: "com.amazonaws." + region + "." + l.service,
			Family: "IPv4", MaxEntries: int32(len(l.cidrs)), Version: 1, State: "create-complete"}
		for _, c := range l.cidrs {
			r.Entries = append(r.Entries, plEntry{CIDR: c})
		}
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b *plRec) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// prefixListsOf returns every prefix list of the scope, the caller's and
// AWS's, sorted by id.
func prefixListsOf(st *scopeTx) []*plRec {
	out := append(awsManaged(st.sc.Region), listT[*plRec](st, "pl")...)
	slices.SortFunc(out, func(a, b *plRec) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// findPrefixList returns the scope's (or AWS's) prefix list with id.
func findPrefixList(st *scopeTx, id string) (*plRec, error) {
	if !wellFormed(id, "pl-") {
		return nil, errInvalidPrefixListIdMalformed(id)
	}
	if r, ok := getT[*plRec](st, id); ok {
		return r, nil
	}
	for _, r := range awsManaged(st.sc.Region) {
		if r.ID == id {
			return r, nil
		}
	}
	return nil, errInvalidPrefixListIDNotFound(id)
}

// ownPrefixList returns, for update, a customer-managed list of the
// caller: AWS's lists cannot be changed.
func ownPrefixList(st *scopeTx, id string) (*plRec, error) {
	r, err := findPrefixList(st, id)
	if err != nil {
		return nil, err
	}
	if r.Owner == "AWS" {
		return nil, errInvalidPrefixListModification("The prefix list %s is managed by AWS and cannot be modified.", id)
	}
	return mut[*plRec](st, id), nil
}

func plARN(sc scope, r *plRec) string {
	owner := r.Owner
	if owner == "AWS" {
		owner = "aws"
	}
	return policy.EC2ARN(sc.Region, owner, policy.EC2PrefixList, r.ID)
}

func plOut(sc scope, r *plRec) ec2api.ManagedPrefixList {
	return ec2api.ManagedPrefixList{AddressFamily: ptr(r.Family), MaxEntries: ptr(r.MaxEntries), OwnerId: ptr(r.Owner),
		PrefixListArn: ptr(plARN(sc, r)), PrefixListId: ptr(r.ID), PrefixListName: ptr(r.Name), State: ptr(r.State),
		Tags: tagList(r.Tags), Version: ptr(r.Version)}
}

// plName checks a prefix list name: 1 to 255 characters, not starting
// with com.amazonaws (reserved for AWS's lists).
func plName(name string) error {
	if name == "" {
		return awserr.MissingParameter("PrefixListName")
	}
	if len(name) > 255 {
		return awserr.InvalidParameterValue("Value (%s) for parameter PrefixListName is invalid. Length exceeds maximum of 255.", name)
	}
	if strings.HasPrefix(strings.ToLower(name), "com.amazonaws") {
		return awserr.InvalidParameterValue("The prefix list name cannot start with com.amazonaws.")
	}
	return nil
}

// plCIDR parses an entry's CIDR of the list's family, canonical.
func plCIDR(s, family string) (string, error) {
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return "", awserr.InvalidParameterValue("The CIDR '%s' is invalid.", s)
	}
	if p.Addr().Is4() != (family == "IPv4") {
		return "", awserr.InvalidParameterValue("The CIDR '%s' does not match the address family %s of the prefix list.", s, family)
	}
	return p.Masked().String(), nil
}

// validMaxEntries checks a MaxEntries value: 1 to maxPrefixListEntries.
func validMaxEntries(m int32) error {
	if m < 1 || m > maxPrefixListEntries {
		return awserr.InvalidParameterValue("Value (%d) for parameter MaxEntries is invalid. Expecting a value between 1 and %d.", m, maxPrefixListEntries)
	}
	return nil
}

// entryIndex returns the index of the entry with cidr, -1 if none.
func entryIndex(entries []plEntry, cidr string) int {
	return slices.IndexFunc(entries, func(x plEntry) bool { return x.CIDR == cidr })
}

func validEntryDescription(d *string) error {
	if d != nil && len(*d) > 255 {
		return awserr.InvalidParameterValue("The entry description cannot be longer than 255 characters.")
	}
	return nil
}

// CreateManagedPrefixList implements ec2api.Operations.
func (s *Service) CreateManagedPrefixList(ctx context.Context, in *ec2api.CreateManagedPrefixListRequest) (*ec2api.CreateManagedPrefixListResult, error) {
	name := str(in.PrefixListName)
	if err := plName(name); err != nil {
		return nil, err
	}
	family := str(in.AddressFamily)
	switch family {
	case "":
		return nil, awserr.MissingParameter("AddressFamily")
	case "IPv4", "IPv6":
	default:
		return nil, awserr.InvalidParameterValue("Value (%s) for parameter AddressFamily is invalid. Valid values are IPv4, IPv6.", family)
	}
	if in.MaxEntries == nil {
		return nil, awserr.MissingParameter("MaxEntries")
	}
	if err := validMaxEntries(*in.MaxEntries); err != nil {
		return nil, err
	}
	if len(in.Entries) > int(*in.MaxEntries) {
		return nil, errPrefixListMaxEntriesExceeded("", *in.MaxEntries)
	}
	var entries []plEntry
	for _, e := range in.Entries {
		c, err := plCIDR(str(e.Cidr), family)
		if err != nil {
			return nil, err
		}
		if err := validEntryDescription(e.Description); err != nil {
			return nil, err
		}
		if entryIndex(entries, c) >= 0 {
			return nil, awserr.InvalidParameterValue("The CIDR %s is specified more than once.", c)
		}
		entries = append(entries, plEntry{CIDR: c, Description: str(e.Description)})
	}
	sortEntries(entries)
	tags, err := tagsFor(in.TagSpecifications, "prefix-list")
	if err != nil {
		return nil, err
	}
	sc := scopeOf(ctx)
	var out ec2api.ManagedPrefixList
	err = s.update(ctx, sc, func(t *txn, st *scopeTx) error {
		lists := listT[*plRec](st, "pl")
		if tok := str(in.ClientToken); tok != "" {
			if i := slices.IndexFunc(lists, func(r *plRec) bool { return r.ClientToken == tok }); i >= 0 {
				out = plOut(sc, lists[i])
				return nil
			}
		}
		if len(lists) >= maxPrefixLists {
			return errPrefixListResourceLimitExceeded()
		}
		if err := dryRun(in.DryRun); err != nil {
			return err
		}
		r := &plRec{ID: newID("pl-"), Owner: sc.Account, Name: name, Family: family, MaxEntries: *in.MaxEntries, Version: 1,
			State: "create-complete", Entries: entries, ClientToken: str(in.ClientToken), Created: t.now}
		r.Tags = tags
		st.put(r)
		out = plOut(sc, r)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &ec2api.CreateManagedPrefixListResult{PrefixList: &out}, nil
}

func sortEntries(e []plEntry) {
	slices.SortFunc(e, func(a, b plEntry) int { return strings.Compare(a.CIDR, b.CIDR) })
}

var plFilters = filterSet[*plRec]{
	fields: map[string]func(*plRec) []string{
		"owner-id":         func(r *plRec) []string { return one(r.Owner) },
		"prefix-list-id":   func(r *plRec) []string { return one(r.ID) },
		"prefix-list-name": func(r *plRec) []string { return one(r.Name) },
	},
	tags: func(r *plRec) map[string]string { return r.Tags },
}

// selectPrefixLists keeps the lists named by ids (all when empty); every
// id must exist.
func selectPrefixLists(st *scopeTx, ids []string) ([]*plRec, error) {
	all := prefixListsOf(st)
	if len(ids) == 0 {
		return all, nil
	}
	var out []*plRec
	for _, id := range ids {
		r, err := findPrefixList(st, id)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(out, r) && !slices.ContainsFunc(out, func(o *plRec) bool { return o.ID == r.ID }) {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b *plRec) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// DescribeManagedPrefixLists implements ec2api.Operations: the caller's
// lists and AWS's.
func (s *Service) DescribeManagedPrefixLists(ctx context.Context, in *ec2api.DescribeManagedPrefixListsRequest) (*ec2api.DescribeManagedPrefixListsResult, error) {
	if err := dryRun(in.DryRun); err != nil {
		return nil, err
	}
	out := &ec2api.DescribeManagedPrefixListsResult{PrefixLists: []ec2api.ManagedPrefixList{}}
	sc := scopeOf(ctx)
	err := s.view(ctx, sc, func(t *txn, st *scopeTx) error {
		items, err := selectPrefixLists(st, in.PrefixListIds)
		if err != nil {
			return err
		}
		if items, err = filterItems(plFilters, in.Filters, items); err != nil {
			return err
		}
		page, next, err := paginate(items, (*plRec).id, in.MaxResults, in.NextToken, 1, 100)
		if err != nil {
			return err
		}
		for _, r := range page {
			out.PrefixLists = append(out.PrefixLists, plOut(sc, r))
		}
		out.NextToken = next
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

var prefixListFilters = filterSet[*plRec]{
	fields: map[string]func(*plRec) []string{
		"prefix-list-id":   func(r *plRec) []string { return one(r.ID) },
		"prefix-list-name": func(r *plRec) []string { return one(r.Name) },
	},
}

// DescribePrefixLists implements ec2api.Operations: as on AWS, the
// AWS-managed lists (the ones gateway endpoints use).
func (s *Service) DescribePrefixLists(ctx context.Context, in *ec2api.DescribePrefixListsRequest) (*ec2api.DescribePrefixListsResult, error) {
	if err := dryRun(in.DryRun); err != nil {
		return nil, err
	}
	out := &ec2api.DescribePrefixListsResult{PrefixLists: []ec2api.PrefixList{}}
	err := s.view(ctx, scopeOf(ctx), func(t *txn, st *scopeTx) error {
		items := awsManaged(st.sc.Region)
		for _, id := range in.PrefixListIds {
			if !wellFormed(id, "pl-") {
				return errInvalidPrefixListIdMalformed(id)
			}
			if !slices.ContainsFunc(items, func(r *plRec) bool { return r.ID == id }) {
				return errInvalidPrefixListIDNotFound(id)
			}
		}
		if len(in.PrefixListIds) > 0 {
			items = slices.DeleteFunc(items, func(r *plRec) bool { return !slices.Contains(in.PrefixListIds, r.ID) })
		}
		items, err := filterItems(prefixListFilters, in.Filters, items)
		if err != nil {
			return err
		}
		page, next, err := paginate(items, (*plRec).id, in.MaxResults, in.NextToken, 5, 1000)
		if err != nil {
			return err
		}
		for _, r := range page {
			pl := ec2api.PrefixList{PrefixListId: ptr(r.ID), PrefixListName: ptr(r.Name), Cidrs: []string{}}
			for _, e := range r.Entries {
				pl.Cidrs = append(pl.Cidrs, e.CIDR)
			}
			out.PrefixLists = append(out.PrefixLists, pl)
		}
		out.NextToken = next
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// checkVersion answers PrefixListVersionMismatch when a CurrentVersion is
// given and is not the list's.
func checkVersion(r *plRec, current *int64) error {
	if current != nil && *current != r.Version {
		return errPrefixListVersionMismatch(r.ID, r.Version)
	}
	return nil
}

// newVersion records the current entries as history and makes entries the
// next version.
func (r *plRec) newVersion(entries []plEntry, state string) {
	if r.History == nil {
		r.History = map[int64][]plEntry{}
	}
	r.History[r.Version] = r.Entries
	r.Version++
	r.Entries = entries
	r.State = state
}

// ModifyManagedPrefixList implements ec2api.Operations. Adding an entry
// whose CIDR is already there changes its description; removing one that
// is not there is an error. Changing entries makes a new version; changing
// the name or MaxEntries does not.
func (s *Service) ModifyManagedPrefixList(ctx context.Context, in *ec2api.ModifyManagedPrefixListRequest) (*ec2api.ModifyManagedPrefixListResult, error) {
	if in.PrefixListId == nil {
		return nil, awserr.MissingParameter("PrefixListId")
	}
	if err := refuseParams("ModifyManagedPrefixList", in); err != nil {
		return nil, err
	}
	changesEntries := len(in.AddEntries) > 0 || len(in.RemoveEntries) > 0
	if in.MaxEntries != nil && changesEntries {
		return nil, errInvalidPrefixListModification("You cannot modify the entries of a prefix list and modify the size of a prefix list at the same time.")
	}
	if len(in.AddEntries) > 100 || len(in.RemoveEntries) > 100 {
		return nil, awserr.InvalidParameterValue("At most 100 entries may be added or removed in one request.")
	}
	if in.PrefixListName != nil {
		if err := plName(*in.PrefixListName); err != nil {
			return nil, err
		}
	}
	out, err := s.updateOwnPrefixList(ctx, *in.PrefixListId, in.CurrentVersion, func(st *scopeTx, r *plRec) error {
		if in.MaxEntries != nil {
			m := *in.MaxEntries
			if err := validMaxEntries(m); err != nil {
				return err
			}
			if int(m) < len(r.Entries) {
				return errInvalidPrefixListModification("The prefix list %s has %d entries; MaxEntries cannot be less.", r.ID, len(r.Entries))
			}
			r.MaxEntries = m
			r.State = "modify-complete"
		}
		if in.PrefixListName != nil {
			r.Name = *in.PrefixListName
		}
		if changesEntries {
			entries := slices.Clone(r.Entries)
			for _, e := range in.RemoveEntries {
				c, err := plCIDR(str(e.Cidr), r.Family)
				if err != nil {
					return err
				}
				i := entryIndex(entries, c)
				if i < 0 {
					return errInvalidPrefixListModification("The request cannot remove %s from the prefix list %s: it is not an entry.", c, r.ID)
				}
				entries = slices.Delete(entries, i, i+1)
			}
			for _, e := range in.AddEntries {
				c, err := plCIDR(str(e.Cidr), r.Family)
				if err != nil {
					return err
				}
				if err := validEntryDescription(e.Description); err != nil {
					return err
				}
				if i := entryIndex(entries, c); i >= 0 {
					entries[i].Description = str(e.Description)
					continue
				}
				entries = append(entries, plEntry{CIDR: c, Description: str(e.Description)})
			}
			if len(entries) > int(r.MaxEntries) {
				return errPrefixListMaxEntriesExceeded(r.ID, r.MaxEntries)
			}
			sortEntries(entries)
			r.newVersion(entries, "modify-complete")
		}
		return dryRun(in.DryRun)
	})
	if err != nil {
		return nil, err
	}
	return &ec2api.ModifyManagedPrefixListResult{PrefixList: out}, nil
}

// updateOwnPrefixList runs change on the caller's own list id (not AWS's)
// in one transaction, after checking current (when given) is its version,
// and returns the list as change leaves it.
func (s *Service) updateOwnPrefixList(ctx context.Context, id string, current *int64, change func(st *scopeTx, r *plRec) error) (*ec2api.ManagedPrefixList, error) {
	sc := scopeOf(ctx)
	var out ec2api.ManagedPrefixList
	err := s.update(ctx, sc, func(t *txn, st *scopeTx) error {
		r, err := ownPrefixList(st, id)
		if err != nil {
			return err
		}
		if err := checkVersion(r, current); err != nil {
			return err
		}
		if err := change(st, r); err != nil {
			return err
		}
		out = plOut(sc, r)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// RestoreManagedPrefixListVersion implements ec2api.Operations: the
// entries of an earlier version become a new version.
func (s *Service) RestoreManagedPrefixListVersion(ctx context.Context, in *ec2api.RestoreManagedPrefixListVersionRequest) (*ec2api.RestoreManagedPrefixListVersionResult, error) {
	switch {
	case in.PrefixListId == nil:
		return nil, awserr.MissingParameter("PrefixListId")
	case in.CurrentVersion == nil:
		return nil, awserr.MissingParameter("CurrentVersion")
	case in.PreviousVersion == nil:
		return nil, awserr.MissingParameter("PreviousVersion")
	}
	out, err := s.updateOwnPrefixList(ctx, *in.PrefixListId, in.CurrentVersion, func(st *scopeTx, r *plRec) error {
		prev, ok := r.History[*in.PreviousVersion]
		if !ok {
			return awserr.InvalidParameterValue("The prefix list %s has no version %d to restore.", r.ID, *in.PreviousVersion)
		}
		if len(prev) > int(r.MaxEntries) {
			return errPrefixListMaxEntriesExceeded(r.ID, r.MaxEntries)
		}
		if err := dryRun(in.DryRun); err != nil {
			return err
		}
		r.newVersion(slices.Clone(prev), "restore-complete")
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &ec2api.RestoreManagedPrefixListVersionResult{PrefixList: out}, nil
}

// prefixListUsers returns the groups with a rule referencing the list.
func prefixListUsers(st *scopeTx, id string) []*groupRec {
	var out []*groupRec
	for _, g := range listT[*groupRec](st, "sg") {
		if slices.ContainsFunc(append(slices.Clip(g.Ingress), g.Egress...), func(r *ruleRec) bool { return r.PrefixList == id }) {
			out = append(out, g)
		}
	}
	return out
}

// DeleteManagedPrefixList implements ec2api.Operations: a list a security
// group rule or a route references cannot be deleted.
func (s *Service) DeleteManagedPrefixList(ctx context.Context, in *ec2api.DeleteManagedPrefixListRequest) (*ec2api.DeleteManagedPrefixListResult, error) {
	if in.PrefixListId == nil {
		return nil, awserr.MissingParameter("PrefixListId")
	}
	out, err := s.updateOwnPrefixList(ctx, *in.PrefixListId, nil, func(st *scopeTx, r *plRec) error {
		if users := prefixListUsers(st, r.ID); len(users) > 0 {
			return errInvalidPrefixListModification("The prefix list %s is referenced by the security group %s and cannot be deleted.", r.ID, users[0].ID)
		}
		if err := dryRun(in.DryRun); err != nil {
			return err
		}
		st.del(r.ID)
		return nil
	})
	if err != nil {
		return nil, err
	}
	out.State = ptr("delete-complete")
	return &ec2api.DeleteManagedPrefixListResult{PrefixList: out}, nil
}

// GetManagedPrefixListEntries implements ec2api.Operations.
func (s *Service) GetManagedPrefixListEntries(ctx context.Context, in *ec2api.GetManagedPrefixListEntriesRequest) (*ec2api.GetManagedPrefixListEntriesResult, error) {
	out := &ec2api.GetManagedPrefixListEntriesResult{Entries: []ec2api.PrefixListEntry{}}
	err := s.viewPrefixList(ctx, in.PrefixListId, in.DryRun, func(st *scopeTx, r *plRec) error {
		entries := r.Entries
		if v := in.TargetVersion; v != nil && *v != r.Version {
			var ok bool
			if entries, ok = r.History[*v]; !ok {
				return awserr.InvalidParameterValue("The prefix list %s has no version %d.", r.ID, *v)
			}
		}
		page, next, err := paginate(entries, func(e plEntry) string { return e.CIDR }, in.MaxResults, in.NextToken, 1, 100)
		if err != nil {
			return err
		}
		for _, e := range page {
			pe := ec2api.PrefixListEntry{Cidr: ptr(e.CIDR)}
			if e.Description != "" {
				pe.Description = ptr(e.Description)
			}
			out.Entries = append(out.Entries, pe)
		}
		out.NextToken = next
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// GetManagedPrefixListAssociations implements ec2api.Operations: the
// security groups whose rules reference the list.
func (s *Service) GetManagedPrefixListAssociations(ctx context.Context, in *ec2api.GetManagedPrefixListAssociationsRequest) (*ec2api.GetManagedPrefixListAssociationsResult, error) {
	out := &ec2api.GetManagedPrefixListAssociationsResult{PrefixListAssociations: []ec2api.PrefixListAssociation{}}
	err := s.viewPrefixList(ctx, in.PrefixListId, in.DryRun, func(st *scopeTx, r *plRec) error {
		page, next, err := paginate(prefixListUsers(st, r.ID), (*groupRec).id, in.MaxResults, in.NextToken, 5, 255)
		if err != nil {
			return err
		}
		for _, g := range page {
			out.PrefixListAssociations = append(out.PrefixListAssociations, ec2api.PrefixListAssociation{ResourceId: ptr(g.ID), ResourceOwner: ptr(g.Owner)})
		}
		out.NextToken = next
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// viewPrefixList runs read on the prefix list id (the caller's or AWS's)
// in a view, after the checks of the Get… operations: id given, DryRun.
func (s *Service) viewPrefixList(ctx context.Context, id *string, dry *bool, read func(st *scopeTx, r *plRec) error) error {
	if id == nil {
		return awserr.MissingParameter("PrefixListId")
	}
	if err := dryRun(dry); err != nil {
		return err
	}
	return s.view(ctx, scopeOf(ctx), func(t *txn, st *scopeTx) error {
		r, err := findPrefixList(st, *id)
		if err != nil {
			return err
		}
		return read(st, r)
	})
}
