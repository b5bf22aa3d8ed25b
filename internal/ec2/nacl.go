package ec2

import (
	"cmp"
	"context"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/cachalot-dev/cachalot/internal/api/ec2api"
	"github.com/cachalot-dev/cachalot/internal/awserr"
	"github.com/cachalot-dev/cachalot/internal/iam/policy"
)

// ---- Network ACLs ----
//
// A network ACL is a stateless, numbered list of allow/deny entries per
// direction, evaluated lowest number first at the boundary of each subnet
// associated with it (internal/netplane renders them, sgeval explains
// them). Every VPC has a default ACL (entries 100 allow all, in and out);
// a new ACL has only the implicit "*" entries (32767, deny all). A subnet
// is associated with exactly one ACL of its VPC: the default one unless
// ReplaceNetworkAclAssociation moved it.

const (
	aclMaxRule  = 32766 // highest rule number a client may use
	aclStarRule = 32767 // the implicit "*" entry
	// AWS's default quotas: entries per direction of an ACL (the "*"
	// entries aside), ACLs per VPC.
	aclMaxEntries = 20
	aclMaxPerVPC  = 200
)

// defaultACLEntries are the entries of a VPC's default ACL: 100 allow all,
// both directions.
func defaultACLEntries() []aclEntryRec {
	return []aclEntryRec{
		{Number: 100, Egress: false, Protocol: "-1", Action: "allow", CIDR: "0.0.0.0/0"},
		{Number: 100, Egress: true, Protocol: "-1", Action: "allow", CIDR: "0.0.0.0/0"},
	}
}

// entries returns the ACL's numbered entries (without the "*" entries),
// sorted by direction (ingress first) and number.
func (r *aclRec) entries() []aclEntryRec {
	if !r.EntriesSet && r.IsDefault {
		return defaultACLEntries()
	}
	return r.Entries
}

func sortACLEntries(es []aclEntryRec) {
	slices.SortFunc(es, func(a, b aclEntryRec) int {
		if a.Egress != b.Egress {
			if a.Egress {
				return 1
			}
			return -1
		}
		return cmp.Compare(a.Number, b.Number)
	})
}

// aclImplicitAssoc is the association id of a subnet with its VPC's default
// ACL while no ACL names it explicitly.
func aclImplicitAssoc(subnet string) string {
	return "aclassoc-" + strings.TrimPrefix(subnet, "subnet-")
}

// aclAssoc is one subnet association as Describe shows it.
type aclAssoc struct{ ID, ACL, Subnet string }

// aclAssociations returns every subnet association of the scope's ACLs,
// implicit ones included, by ACL id.
func aclAssociations(st *scopeTx) map[string][]aclAssoc {
	out := map[string][]aclAssoc{}
	explicit := map[string]bool{}
	defaults := map[string]string{} // vpc -> default acl
	for _, a := range listT[*aclRec](st, "acl") {
		if a.IsDefault {
			defaults[a.VpcID] = a.ID
		}
		for _, as := range a.Assocs {
			explicit[as.SubnetID] = true
			out[a.ID] = append(out[a.ID], aclAssoc{ID: as.ID, ACL: a.ID, Subnet: as.SubnetID})
		}
	}
	for _, sn := range listT[*subnetRec](st, "subnet") {
		if d, ok := defaults[sn.VpcID]; ok && !explicit[sn.ID] {
			out[d] = append(out[d], aclAssoc{ID: aclImplicitAssoc(sn.ID), ACL: d, Subnet: sn.ID})
		}
	}
	for _, l := range out {
		slices.SortFunc(l, func(a, b aclAssoc) int { return strings.Compare(a.Subnet, b.Subnet) })
	}
	return out
}

// subnetACL returns the ACL in effect for a subnet, or nil.
func subnetACL(st *scopeTx, sn *subnetRec) *aclRec {
	var def *aclRec
	for _, a := range listT[*aclRec](st, "acl") {
		if a.VpcID != sn.VpcID {
			continue
		}
		if slices.ContainsFunc(a.Assocs, func(as aclAssocRec) bool { return as.SubnetID == sn.ID }) {
			return a
		}
		if a.IsDefault {
			def = a
		}
	}
	return def
}

func aclEntryOut(e aclEntryRec) ec2api.NetworkAclEntry {
	o := ec2api.NetworkAclEntry{Egress: ptr(e.Egress), Protocol: ptr(e.Protocol), RuleAction: ptr(e.Action), RuleNumber: ptr(e.Number)}
	if e.CIDR != "" {
		o.CidrBlock = ptr(e.CIDR)
	}
	if e.IPv6CIDR != "" {
		o.Ipv6CidrBlock = ptr(e.IPv6CIDR)
	}
	if e.HasPorts {
		o.PortRange = &ec2api.PortRange{From: ptr(e.FromPort), To: ptr(e.ToPort)}
	}
	if e.HasICMP {
		o.IcmpTypeCode = &ec2api.IcmpTypeCode{Type: ptr(e.IcmpType), Code: ptr(e.IcmpCode)}
	}
	return o
}

// aclAllEntries returns the entries as Describe lists them: the numbered
// ones and the "*" entries, egress first as AWS does.
func aclAllEntries(a *aclRec) []aclEntryRec {
	es := slices.Clone(a.entries())
	for _, eg := range []bool{false, true} {
		es = append(es, aclEntryRec{Number: aclStarRule, Egress: eg, Protocol: "-1", Action: "deny", CIDR: "0.0.0.0/0"})
	}
	slices.SortStableFunc(es, func(a, b aclEntryRec) int {
		if a.Egress != b.Egress {
			if a.Egress {
				return -1
			}
			return 1
		}
		return cmp.Compare(a.Number, b.Number)
	})
	return es
}

func aclOut(a *aclRec, assocs []aclAssoc) ec2api.NetworkAcl {
	out := ec2api.NetworkAcl{NetworkAclId: ptr(a.ID), OwnerId: ptr(a.Owner), VpcId: ptr(a.VpcID), IsDefault: ptr(a.IsDefault), Tags: tagList(a.Tags),
		Associations: []ec2api.NetworkAclAssociation{}, Entries: []ec2api.NetworkAclEntry{}}
	for _, e := range aclAllEntries(a) {
		out.Entries = append(out.Entries, aclEntryOut(e))
	}
	for _, as := range assocs {
		out.Associations = append(out.Associations, ec2api.NetworkAclAssociation{NetworkAclAssociationId: ptr(as.ID),
			NetworkAclId: ptr(a.ID), SubnetId: ptr(as.Subnet)})
	}
	return out
}

// aclView is an ACL with its associations, for the filters.
type aclView struct {
	*aclRec
	assocs []aclAssoc
}

func (v aclView) id() string { return v.ID }

func (v aclView) entryField(f func(aclEntryRec) string) []string {
	var out []string
	for _, e := range aclAllEntries(v.aclRec) {
		if s := f(e); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func (v aclView) assocField(f func(aclAssoc) string) []string {
	var out []string
	for _, a := range v.assocs {
		out = append(out, f(a))
	}
	return out
}

var aclFilters = filterSet[aclView]{
	fields: map[string]func(aclView) []string{
		"network-acl-id": func(v aclView) []string { return one(v.ID) },
		"vpc-id":         func(v aclView) []string { return one(v.VpcID) },
		"default":        func(v aclView) []string { return boolStr(v.IsDefault) },
		"owner-id":       func(v aclView) []string { return one(v.Owner) },
		"association.association-id": func(v aclView) []string {
			return v.assocField(func(a aclAssoc) string { return a.ID })
		},
		"association.network-acl-id": func(v aclView) []string {
			return v.assocField(func(a aclAssoc) string { return a.ACL })
		},
		"association.subnet-id": func(v aclView) []string {
			return v.assocField(func(a aclAssoc) string { return a.Subnet })
		},
		"entry.cidr":      func(v aclView) []string { return v.entryField(func(e aclEntryRec) string { return e.CIDR }) },
		"entry.ipv6-cidr": func(v aclView) []string { return v.entryField(func(e aclEntryRec) string { return e.IPv6CIDR }) },
		"entry.egress": func(v aclView) []string {
			return v.entryField(func(e aclEntryRec) string { return strconv.FormatBool(e.Egress) })
		},
		"entry.icmp.code": func(v aclView) []string {
			return v.entryField(func(e aclEntryRec) string {
				if !e.HasICMP {
					return ""
				}
				return itoa(e.IcmpCode)
			})
		},
		"entry.icmp.type": func(v aclView) []string {
			return v.entryField(func(e aclEntryRec) string {
				if !e.HasICMP {
					return ""
				}
				return itoa(e.IcmpType)
			})
		},
		"entry.port-range.from": func(v aclView) []string {
			return v.entryField(func(e aclEntryRec) string {
				if !e.HasPorts {
					return ""
				}
				return itoa(e.FromPort)
			})
		},
		"entry.port-range.to": func(v aclView) []string {
			return v.entryField(func(e aclEntryRec) string {
				if !e.HasPorts {
					return ""
				}
				return itoa(e.ToPort)
			})
		},
		"entry.protocol":    func(v aclView) []string { return v.entryField(func(e aclEntryRec) string { return e.Protocol }) },
		"entry.rule-action": func(v aclView) []string { return v.entryField(func(e aclEntryRec) string { return e.Action }) },
		"entry.rule-number": func(v aclView) []string {
			return v.entryField(func(e aclEntryRec) string { return itoa(e.Number) })
		},
	},
	tags: func(v aclView) map[string]string { return v.Tags },
}

// DescribeNetworkAcls implements ec2api.Operations.
func (s *Service) DescribeNetworkAcls(ctx context.Context, in *ec2api.DescribeNetworkAclsRequest) (*ec2api.DescribeNetworkAclsResult, error) {
	if err := dryRun(in.DryRun); err != nil {
		return nil, err
	}
	out := &ec2api.DescribeNetworkAclsResult{NetworkAcls: []ec2api.NetworkAcl{}}
	err := s.view(ctx, scopeOf(ctx), func(t *txn, st *scopeTx) error {
		recs, missing := selectIDs(listT[*aclRec](st, "acl"), in.NetworkAclIds)
		if missing != "" {
			return notFound("acl", missing)
		}
		assocs := aclAssociations(st)
		items := make([]aclView, len(recs))
		for i, r := range recs {
			items[i] = aclView{r, assocs[r.ID]}
		}
		items, err := filterItems(aclFilters, in.Filters, items)
		if err != nil {
			return err
		}
		page, next, err := paginate(items, aclView.id, in.MaxResults, in.NextToken, 5, 1000)
		if err != nil {
			return err
		}
		for _, v := range page {
			out.NetworkAcls = append(out.NetworkAcls, aclOut(v.aclRec, v.assocs))
		}
		out.NextToken = next
		return nil
	})
	return out, err
}

// CreateNetworkAcl implements ec2api.Operations: a new ACL of the VPC with
// only the "*" entries (everything denied), associated with no subnet.
func (s *Service) CreateNetworkAcl(ctx context.Context, in *ec2api.CreateNetworkAclRequest) (*ec2api.CreateNetworkAclResult, error) {
	tags, err := tagsFor(in.TagSpecifications, "network-acl")
	if err != nil {
		return nil, err
	}
	var out ec2api.NetworkAcl
	err = s.update(ctx, scopeOf(ctx), func(t *txn, st *scopeTx) error {
		v, err := lookup[*vpcRec](st, "vpc", str(in.VpcId))
		if err != nil {
			return err
		}
		n := 0
		for _, a := range listT[*aclRec](st, "acl") {
			if tok := str(in.ClientToken); tok != "" && a.ClientToken == tok {
				if a.VpcID != v.ID {
					return awserr.InvalidParameterValue("Client token %s was already used for a network acl of another VPC (%s).", tok, a.VpcID)
				}
				out = aclOut(a, aclAssociations(st)[a.ID])
				return nil
			}
			if a.VpcID == v.ID {
				n++
			}
		}
		if n >= aclMaxPerVPC {
			return errNetworkAclLimitExceeded()
		}
		if err := dryRun(in.DryRun); err != nil {
			return err
		}
		a := &aclRec{ID: newID("acl-"), Owner: st.sc.Account, VpcID: v.ID, EntriesSet: true, ClientToken: str(in.ClientToken)}
		a.Tags = tags
		st.put(a)
		out = aclOut(a, nil)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &ec2api.CreateNetworkAclResult{NetworkAcl: &out, ClientToken: in.ClientToken}, nil
}

// DeleteNetworkAcl implements ec2api.Operations: the default ACL and an
// ACL associated with a subnet cannot be deleted.
func (s *Service) DeleteNetworkAcl(ctx context.Context, in *ec2api.DeleteNetworkAclRequest) error {
	return s.update(ctx, scopeOf(ctx), func(t *txn, st *scopeTx) error {
		a, err := lookup[*aclRec](st, "acl", str(in.NetworkAclId))
		if err != nil {
			return err
		}
		if a.IsDefault {
			return awserr.InvalidParameterValue("cannot delete default network ACL %s", a.ID)
		}
		if len(a.Assocs) > 0 {
			return errDependencyViolation("The networkAcl '%s' has dependencies and cannot be deleted.", a.ID)
		}
		if err := dryRun(in.DryRun); err != nil {
			return err
		}
		st.del(a.ID)
		return nil
	})
}

// aclEntryInput is the common part of CreateNetworkAclEntry and
// ReplaceNetworkAclEntry.
type aclEntryInput struct {
	cidr, ipv6, protocol, action *string
	egress                       *bool
	number                       *int32
	ports                        *ec2api.PortRange
	icmp                         *ec2api.IcmpTypeCode
}

// aclRuleNumber validates a rule number a client names.
func aclRuleNumber(n *int32) (int32, error) {
	if n == nil {
		return 0, awserr.MissingParameter("ruleNumber")
	}
	if *n < 1 || *n > aclMaxRule {
		return 0, awserr.InvalidParameterValue("Value (%d) for parameter ruleNumber is invalid. Rule number must be between 1 and %d.", *n, aclMaxRule)
	}
	return *n, nil
}

// aclProtocol normalises a protocol to AWS's spelling in ACL entries: "-1"
// or the protocol number.
func aclProtocol(p string) (string, error) {
	switch strings.ToLower(strings.TrimSpace(p)) {
	case "-1", "all":
		return "-1", nil
	case "tcp":
		return "6", nil
	case "udp":
		return "17", nil
	case "icmp":
		return "1", nil
	case "icmpv6":
		return "58", nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(p))
	if err != nil || n < -1 || n > 255 {
		return "", awserr.InvalidParameterValue("Invalid value '%s' for protocol. Protocol must be -1, a protocol number between 0 and 255, or tcp, udp, icmp, icmpv6.", p)
	}
	return strconv.Itoa(n), nil
}

// parse validates an entry as AWS does and returns it.
func (in aclEntryInput) parse() (aclEntryRec, error) {
	var e aclEntryRec
	n, err := aclRuleNumber(in.number)
	if err != nil {
		return e, err
	}
	e.Number = n
	if in.egress == nil {
		return e, awserr.MissingParameter("egress")
	}
	e.Egress = *in.egress
	if in.protocol == nil {
		return e, awserr.MissingParameter("protocol")
	}
	if e.Protocol, err = aclProtocol(*in.protocol); err != nil {
		return e, err
	}
	if in.action == nil {
		return e, awserr.MissingParameter("ruleAction")
	}
	switch a := strings.ToLower(*in.action); a {
	case "allow", "deny":
		e.Action = a
	default:
		return e, awserr.InvalidParameterValue("Value (%s) for parameter ruleAction is invalid. Valid values: allow, deny", *in.action)
	}
	switch {
	case in.cidr != nil && in.ipv6 != nil:
		return e, awserr.InvalidParameterCombination("Only one of cidrBlock and ipv6CidrBlock may be specified.")
	case in.cidr != nil:
		p, err := netip.ParsePrefix(*in.cidr)
		if err != nil || !p.Addr().Is4() {
			return e, awserr.InvalidParameterValue("Value (%s) for parameter cidrBlock is invalid. This is not a valid CIDR block.", *in.cidr)
		}
		e.CIDR = p.Masked().String()
	case in.ipv6 != nil:
		p, err := netip.ParsePrefix(*in.ipv6)
		if err != nil || !p.Addr().Is6() || p.Addr().Is4In6() {
			return e, awserr.InvalidParameterValue("Value (%s) for parameter ipv6CidrBlock is invalid. This is not a valid IPv6 CIDR block.", *in.ipv6)
		}
		e.IPv6CIDR = p.Masked().String()
	default:
		return e, awserr.MissingParameter("cidrBlock or ipv6CidrBlock")
	}
	switch e.Protocol {
	case "6", "17":
		if in.ports == nil || in.ports.From == nil || in.ports.To == nil {
			return e, awserr.InvalidParameterValue("Invalid value for portRange. Must specify both from and to ports with TCP/UDP.")
		}
		from, to := *in.ports.From, *in.ports.To
		if from < 0 || to > 65535 || from > to {
			return e, awserr.InvalidParameterValue("Invalid value for portRange (%d-%d). Ports must be between 0 and 65535, from not above to.", from, to)
		}
		e.HasPorts, e.FromPort, e.ToPort = true, from, to
	case "1", "58":
		if e.Protocol == "58" && e.CIDR != "" {
			// AWS: ICMPv6 with an IPv4 block allows all types and codes.
			break
		}
		if in.icmp == nil || in.icmp.Type == nil || in.icmp.Code == nil {
			return e, awserr.InvalidParameterValue("Invalid value for icmpTypeCode. Must specify both ICMP type and code (-1: all) with ICMP.")
		}
		typ, code := *in.icmp.Type, *in.icmp.Code
		if typ < -1 || typ > 255 || code < -1 || code > 255 {
			return e, awserr.InvalidParameterValue("Invalid value for icmpTypeCode (type %d, code %d). Type and code must be between -1 and 255.", typ, code)
		}
		e.HasICMP, e.IcmpType, e.IcmpCode = true, typ, code
	}
	// Ports and ICMP type/code of other protocols allow all traffic of the
	// protocol, as AWS documents: read, validated above where they apply,
	// not stored.
	return e, nil
}

// updateACLEntry runs change on the entries of an ACL, in one transaction.
func (s *Service) updateACLEntry(ctx context.Context, aclID *string, dry *bool, change func(a *aclRec) error) error {
	return s.update(ctx, scopeOf(ctx), func(t *txn, st *scopeTx) error {
		a, err := lookup[*aclRec](st, "acl", str(aclID))
		if err != nil {
			return err
		}
		a = mut[*aclRec](st, a.ID)
		a.Entries, a.EntriesSet = slices.Clone(a.entries()), true
		if err := change(a); err != nil {
			return err
		}
		if err := dryRun(dry); err != nil {
			return err
		}
		sortACLEntries(a.Entries)
		return nil
	})
}

func errACLEntryNotFound(acl string, n int32, egress bool) *awserr.Error {
	dir := "ingress"
	if egress {
		dir = "egress"
	}
	return errInvalidNetworkAclEntryNotFound(acl, n, dir)
}

// CreateNetworkAclEntry implements ec2api.Operations.
func (s *Service) CreateNetworkAclEntry(ctx context.Context, in *ec2api.CreateNetworkAclEntryRequest) error {
	e, err := aclEntryInput{cidr: in.CidrBlock, ipv6: in.Ipv6CidrBlock, protocol: in.Protocol, action: in.RuleAction, egress: in.Egress,
		number: in.RuleNumber, ports: in.PortRange, icmp: in.IcmpTypeCode}.parse()
	if err != nil {
		return err
	}
	return s.updateACLEntry(ctx, in.NetworkAclId, in.DryRun, func(a *aclRec) error {
		if slices.ContainsFunc(a.Entries, func(x aclEntryRec) bool { return x.Number == e.Number && x.Egress == e.Egress }) {
			return errNetworkAclEntryAlreadyExists(e.Number)
		}
		if n := len(slices.DeleteFunc(slices.Clone(a.Entries), func(x aclEntryRec) bool { return x.Egress != e.Egress })); n >= aclMaxEntries {
			return errNetworkAclEntryLimitExceeded(a.ID)
		}
		a.Entries = append(a.Entries, e)
		return nil
	})
}

// ReplaceNetworkAclEntry implements ec2api.Operations.
func (s *Service) ReplaceNetworkAclEntry(ctx context.Context, in *ec2api.ReplaceNetworkAclEntryRequest) error {
	e, err := aclEntryInput{cidr: in.CidrBlock, ipv6: in.Ipv6CidrBlock, protocol: in.Protocol, action: in.RuleAction, egress: in.Egress,
		number: in.RuleNumber, ports: in.PortRange, icmp: in.IcmpTypeCode}.parse()
	if err != nil {
		return err
	}
	return s.updateACLEntry(ctx, in.NetworkAclId, in.DryRun, func(a *aclRec) error {
		i := slices.IndexFunc(a.Entries, func(x aclEntryRec) bool { return x.Number == e.Number && x.Egress == e.Egress })
		if i < 0 {
			return errACLEntryNotFound(a.ID, e.Number, e.Egress)
		}
		a.Entries[i] = e
		return nil
	})
}

// DeleteNetworkAclEntry implements ec2api.Operations.
func (s *Service) DeleteNetworkAclEntry(ctx context.Context, in *ec2api.DeleteNetworkAclEntryRequest) error {
	n, err := aclRuleNumber(in.RuleNumber)
	if err != nil {
		return err
	}
	if in.Egress == nil {
		return awserr.MissingParameter("egress")
	}
	egress := *in.Egress
	return s.updateACLEntry(ctx, in.NetworkAclId, in.DryRun, func(a *aclRec) error {
		i := slices.IndexFunc(a.Entries, func(x aclEntryRec) bool { return x.Number == n && x.Egress == egress })
		if i < 0 {
			return errACLEntryNotFound(a.ID, n, egress)
		}
		a.Entries = slices.Delete(a.Entries, i, i+1)
		return nil
	})
}

// ReplaceNetworkAclAssociation implements ec2api.Operations: it moves the
// subnet of an association to another ACL of its VPC, under a new
// association id.
func (s *Service) ReplaceNetworkAclAssociation(ctx context.Context, in *ec2api.ReplaceNetworkAclAssociationRequest) (*ec2api.ReplaceNetworkAclAssociationResult, error) {
	id := str(in.AssociationId)
	var newAssoc string
	err := s.update(ctx, scopeOf(ctx), func(t *txn, st *scopeTx) error {
		to, err := lookup[*aclRec](st, "acl", str(in.NetworkAclId))
		if err != nil {
			return err
		}
		var cur *aclAssoc
		for _, l := range aclAssociations(st) {
			for i := range l {
				if l[i].ID == id {
					cur = &l[i]
				}
			}
		}
		if cur == nil {
			return errInvalidAssociationIDNotFound("The association ID '%s' does not exist", id)
		}
		sn, ok := getT[*subnetRec](st, cur.Subnet)
		if !ok {
			return errInvalidAssociationIDNotFound("The association ID '%s' does not exist", id)
		}
		if sn.VpcID != to.VpcID {
			return awserr.InvalidParameterValue("Network ACL %s and subnet %s belong to different networks", to.ID, sn.ID)
		}
		if err := dryRun(in.DryRun); err != nil {
			return err
		}
		from := mut[*aclRec](st, cur.ACL)
		from.Assocs = slices.DeleteFunc(from.Assocs, func(a aclAssocRec) bool { return a.SubnetID == sn.ID })
		to = mut[*aclRec](st, to.ID)
		newAssoc = newID("aclassoc-")
		to.Assocs = append(to.Assocs, aclAssocRec{ID: newAssoc, SubnetID: sn.ID})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &ec2api.ReplaceNetworkAclAssociationResult{NewAssociationId: ptr(newAssoc)}, nil
}

// dropACLAssociations removes a deleted subnet's explicit association.
func dropACLAssociations(st *scopeTx, subnet string) {
	for _, a := range listT[*aclRec](st, "acl") {
		if slices.ContainsFunc(a.Assocs, func(as aclAssocRec) bool { return as.SubnetID == subnet }) {
			a = mut[*aclRec](st, a.ID)
			a.Assocs = slices.DeleteFunc(a.Assocs, func(as aclAssocRec) bool { return as.SubnetID == subnet })
		}
	}
}

// networkACLs adds the resources of the network ACL operations: the ACL,
// the VPC a new one is made in, and for an association both ACLs and the
// subnet; it reports whether in was one of them.
func (a *arnList) networkACLs(in any) bool {
	switch in := in.(type) {
	case *ec2api.CreateNetworkAclRequest:
		a.addp(policy.EC2VPC, in.VpcId)
	case *ec2api.DeleteNetworkAclRequest:
		a.addp(policy.EC2NetworkACL, in.NetworkAclId)
	case *ec2api.CreateNetworkAclEntryRequest:
		a.addp(policy.EC2NetworkACL, in.NetworkAclId)
	case *ec2api.ReplaceNetworkAclEntryRequest:
		a.addp(policy.EC2NetworkACL, in.NetworkAclId)
	case *ec2api.DeleteNetworkAclEntryRequest:
		a.addp(policy.EC2NetworkACL, in.NetworkAclId)
	case *ec2api.ReplaceNetworkAclAssociationRequest:
		a.addp(policy.EC2NetworkACL, in.NetworkAclId)
		for _, l := range aclAssociations(a.st) {
			for _, as := range l {
				if as.ID == str(in.AssociationId) {
					a.add(policy.EC2NetworkACL, as.ACL)
					a.add(policy.EC2Subnet, as.Subnet)
				}
			}
		}
	default:
		return false
	}
	return true
}
