package ec2

import (
	"context"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/cachalot-dev/cachalot/internal/api/ec2api"
	"github.com/cachalot-dev/cachalot/internal/awserr"
)

// VPC peering, within one region, between any accounts of the installation.
// A peering record is kept in both the requester's and the accepter's scope
// and every change writes both copies in the same transaction.

// savePcx stores p in both owners' scopes.
func (t *txn) savePcx(p *pcxRec) error {
	for _, owner := range []string{p.RequesterOwner, p.AccepterOwner} {
		st, err := t.scope(scope{Account: owner, Region: p.Region})
		if err != nil {
			return err
		}
		st.put(cloneRec(p))
		if p.RequesterOwner == p.AccepterOwner {
			break
		}
	}
	return nil
}

func pcxOut(p *pcxRec) ec2api.VpcPeeringConnection {
	info := func(owner, vpc, cidr string) *ec2api.VpcPeeringConnectionVpcInfo {
		return &ec2api.VpcPeeringConnectionVpcInfo{CidrBlock: ptr(cidr), CidrBlockSet: []ec2api.CidrBlock{{CidrBlock: ptr(cidr)}},
			OwnerId: ptr(owner), Region: ptr(p.Region), VpcId: ptr(vpc)}
	}
	out := ec2api.VpcPeeringConnection{
		VpcPeeringConnectionId: ptr(p.ID),
		RequesterVpcInfo:       info(p.RequesterOwner, p.RequesterVpc, p.RequesterCIDR),
		AccepterVpcInfo:        info(p.AccepterOwner, p.AccepterVpc, p.AccepterCIDR),
		Status:                 &ec2api.VpcPeeringConnectionStateReason{Code: ptr(p.Status), Message: ptr(p.Message)},
		Tags:                   tagList(p.Tags),
	}
	if p.Status != "active" {
		// AWS shows the accepter's CIDR only once the peering is active.
		out.AccepterVpcInfo.CidrBlock, out.AccepterVpcInfo.CidrBlockSet = nil, nil
	}
	if p.Status == "pending-acceptance" {
		out.ExpirationTime = ptr(p.Expiration)
	}
	return out
}

// CreateVpcPeeringConnection implements ec2api.Operations.
func (s *Service) CreateVpcPeeringConnection(ctx context.Context, in *ec2api.CreateVpcPeeringConnectionRequest) (*ec2api.CreateVpcPeeringConnectionResult, error) {
	sc := scopeOf(ctx)
	if r := str(in.PeerRegion); r != "" && r != sc.Region {
		return nil, awserr.InvalidParameterValue("Cachalot peers VPCs within one region only; PeerRegion %s differs from %s.", r, sc.Region)
	}
	if in.PeerVpcId == nil {
		return nil, awserr.MissingParameter("PeerVpcId")
	}
	peerOwner := str(in.PeerOwnerId)
	if peerOwner == "" {
		peerOwner = sc.Account
	}
	if !accountRe.MatchString(peerOwner) {
		return nil, awserr.InvalidParameterValue("Invalid value '%s' for peerOwnerId.", peerOwner)
	}
	tags, err := tagsFor(in.TagSpecifications, "vpc-peering-connection")
	if err != nil {
		return nil, err
	}
	var out ec2api.VpcPeeringConnection
	err = s.update(ctx, sc, func(t *txn, st *scopeTx) error {
		v, err := lookup[*vpcRec](st, "vpc", str(in.VpcId))
		if err != nil {
			return err
		}
		pst, err := t.scope(scope{Account: peerOwner, Region: sc.Region})
		if err != nil {
			return err
		}
		pv, err := lookup[*vpcRec](pst, "vpc", *in.PeerVpcId)
		if err != nil {
			return err
		}
		if pv.ID == v.ID {
			return awserr.InvalidParameterValue("A VPC cannot be peered with itself.")
		}
		for _, o := range listT[*pcxRec](st, "pcx") {
			same := (o.RequesterVpc == v.ID && o.AccepterVpc == pv.ID) || (o.RequesterVpc == pv.ID && o.AccepterVpc == v.ID)
			if same && (o.Status == "active" || o.Status == "pending-acceptance") {
				return errVpcPeeringConnectionAlreadyExists(v.ID, pv.ID, o.ID)
			}
		}
		if err := dryRun(in.DryRun); err != nil {
			return err
		}
		p := &pcxRec{ID: newID("pcx-"), Region: sc.Region, RequesterOwner: sc.Account, RequesterVpc: v.ID, RequesterCIDR: v.CIDR,
			AccepterOwner: peerOwner, AccepterVpc: pv.ID, AccepterCIDR: pv.CIDR, Status: "pending-acceptance",
			Message: "Pending Acceptance by " + peerOwner, Expiration: t.now.Add(7 * 24 * time.Hour)}
		if netip.MustParsePrefix(v.CIDR).Overlaps(netip.MustParsePrefix(pv.CIDR)) {
			p.Status, p.Message = "failed", "Overlapping CIDR range"
		}
		p.Tags = tags
		if err := t.savePcx(p); err != nil {
			return err
		}
		out = pcxOut(p)
		out.Status = &ec2api.VpcPeeringConnectionStateReason{Code: ptr("initiating-request"), Message: ptr("Initiating Request to " + peerOwner)}
		if p.Status == "failed" {
			out.Status = &ec2api.VpcPeeringConnectionStateReason{Code: ptr(p.Status), Message: ptr(p.Message)}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &ec2api.CreateVpcPeeringConnectionResult{VpcPeeringConnection: &out}, nil
}

func (s *Service) transitionPcx(ctx context.Context, id string, dry *bool, fn func(sc scope, p *pcxRec) error) (*pcxRec, error) {
	sc := scopeOf(ctx)
	var res *pcxRec
	err := s.update(ctx, sc, func(t *txn, st *scopeTx) error {
		p, err := lookup[*pcxRec](st, "pcx", id)
		if err != nil {
			return err
		}
		if err := dryRun(dry); err != nil {
			return err
		}
		p = cloneRec(p)
		if err := fn(sc, p); err != nil {
			return err
		}
		res = p
		return t.savePcx(p)
	})
	return res, err
}

func badTransition(p *pcxRec, to string) error {
	return errInvalidStateTransition(p.ID, p.Status, to)
}

// AcceptVpcPeeringConnection implements ec2api.Operations.
func (s *Service) AcceptVpcPeeringConnection(ctx context.Context, in *ec2api.AcceptVpcPeeringConnectionRequest) (*ec2api.AcceptVpcPeeringConnectionResult, error) {
	p, err := s.transitionPcx(ctx, str(in.VpcPeeringConnectionId), in.DryRun, func(sc scope, p *pcxRec) error {
		if p.AccepterOwner != sc.Account {
			return errOperationNotPermitted("User %s cannot accept peering %s", sc.Account, p.ID)
		}
		if p.Status != "pending-acceptance" {
			return badTransition(p, "active")
		}
		p.Status, p.Message = "active", "Active"
		return nil
	})
	if err != nil {
		return nil, err
	}
	o := pcxOut(p)
	return &ec2api.AcceptVpcPeeringConnectionResult{VpcPeeringConnection: &o}, nil
}

// RejectVpcPeeringConnection implements ec2api.Operations.
func (s *Service) RejectVpcPeeringConnection(ctx context.Context, in *ec2api.RejectVpcPeeringConnectionRequest) (*ec2api.RejectVpcPeeringConnectionResult, error) {
	_, err := s.transitionPcx(ctx, str(in.VpcPeeringConnectionId), in.DryRun, func(sc scope, p *pcxRec) error {
		if p.AccepterOwner != sc.Account {
			return errOperationNotPermitted("User %s cannot reject peering %s", sc.Account, p.ID)
		}
		if p.Status != "pending-acceptance" {
			return badTransition(p, "rejected")
		}
		p.Status, p.Message = "rejected", "Rejected by "+sc.Account
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &ec2api.RejectVpcPeeringConnectionResult{Return: ptr(true)}, nil
}

// DeleteVpcPeeringConnection implements ec2api.Operations.
func (s *Service) DeleteVpcPeeringConnection(ctx context.Context, in *ec2api.DeleteVpcPeeringConnectionRequest) (*ec2api.DeleteVpcPeeringConnectionResult, error) {
	_, err := s.transitionPcx(ctx, str(in.VpcPeeringConnectionId), in.DryRun, func(sc scope, p *pcxRec) error {
		switch {
		case p.Status == "active":
		case p.Status == "pending-acceptance" && p.RequesterOwner == sc.Account:
		default:
			return badTransition(p, "deleted")
		}
		p.Status, p.Message = "deleted", "Deleted by "+sc.Account
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &ec2api.DeleteVpcPeeringConnectionResult{Return: ptr(true)}, nil
}

var pcxFilters = filterSet[*pcxRec]{
	fields: map[string]func(*pcxRec) []string{
		"accepter-vpc-info.cidr-block":  func(p *pcxRec) []string { return one(p.AccepterCIDR) },
		"accepter-vpc-info.owner-id":    func(p *pcxRec) []string { return one(p.AccepterOwner) },
		"accepter-vpc-info.vpc-id":      func(p *pcxRec) []string { return one(p.AccepterVpc) },
		"requester-vpc-info.cidr-block": func(p *pcxRec) []string { return one(p.RequesterCIDR) },
		"requester-vpc-info.owner-id":   func(p *pcxRec) []string { return one(p.RequesterOwner) },
		"requester-vpc-info.vpc-id":     func(p *pcxRec) []string { return one(p.RequesterVpc) },
		"status-code":                   func(p *pcxRec) []string { return one(p.Status) },
		"status-message":                func(p *pcxRec) []string { return one(p.Message) },
		"vpc-peering-connection-id":     func(p *pcxRec) []string { return one(p.ID) },
		"expiration-time":               func(p *pcxRec) []string { return one(p.Expiration.Format("2006-01-02T15:04:05.000Z")) },
	},
	tags: func(p *pcxRec) map[string]string { return p.Tags },
}

// DescribeVpcPeeringConnections implements ec2api.Operations.
func (s *Service) DescribeVpcPeeringConnections(ctx context.Context, in *ec2api.DescribeVpcPeeringConnectionsRequest) (*ec2api.DescribeVpcPeeringConnectionsResult, error) {
	if err := dryRun(in.DryRun); err != nil {
		return nil, err
	}
	out := &ec2api.DescribeVpcPeeringConnectionsResult{VpcPeeringConnections: []ec2api.VpcPeeringConnection{}}
	err := s.view(ctx, scopeOf(ctx), func(t *txn, st *scopeTx) error {
		items, missing := selectIDs(listT[*pcxRec](st, "pcx"), in.VpcPeeringConnectionIds)
		if missing != "" {
			return notFound("pcx", missing)
		}
		items, err := filterItems(pcxFilters, in.Filters, items)
		if err != nil {
			return err
		}
		page, next, err := paginate(items, (*pcxRec).id, in.MaxResults, in.NextToken, 5, 1000)
		if err != nil {
			return err
		}
		for _, p := range page {
			out.VpcPeeringConnections = append(out.VpcPeeringConnections, pcxOut(p))
		}
		out.NextToken = next
		return nil
	})
	return out, err
}

// ---- Tags ----

type tagView struct {
	res, kind, key, value string
}

func (v tagView) sortKey() string { return v.res + "\x00" + v.key }

var tagFilters = filterSet[tagView]{fields: map[string]func(tagView) []string{
	"key":           func(v tagView) []string { return one(v.key) },
	"value":         func(v tagView) []string { return []string{v.value} },
	"resource-id":   func(v tagView) []string { return one(v.res) },
	"resource-type": func(v tagView) []string { return one(v.kind) },
}}

// taggable returns the tag map of a resource (a record or a rule) for
// writing, cloning what it touches.
func (t *txn) taggable(st *scopeTx, id string) (*map[string]string, func() error, error) {
	if strings.HasPrefix(id, "sgr-") {
		for _, g := range listT[*groupRec](st, "sg") {
			if !slices.ContainsFunc(append(slices.Clip(g.Ingress), g.Egress...), func(r *ruleRec) bool { return r.ID == id }) {
				continue
			}
			g = mut[*groupRec](st, g.ID)
			for _, r := range append(slices.Clip(g.Ingress), g.Egress...) {
				if r.ID == id {
					return &r.Tags, nil, nil
				}
			}
		}
		return nil, nil, errInvalidSecurityGroupRuleIdNotFound(id)
	}
	kind := kindOf(id)
	if kind == "" {
		return nil, nil, errInvalidID(id)
	}
	if _, err := lookup[record](st, kind, id); err != nil {
		return nil, nil, err
	}
	r := st.get(id)
	switch r.(type) {
	case *pcxRec:
		p := cloneRec(r.(*pcxRec))
		return p.tagMap(), func() error { return t.savePcx(p) }, nil
	}
	c := cloneRec(r)
	st.put(c)
	return c.tagMap(), nil, nil
}

// CreateTags implements ec2api.Operations.
func (s *Service) CreateTags(ctx context.Context, in *ec2api.CreateTagsRequest) error {
	if len(in.Resources) == 0 {
		return awserr.MissingParameter("ResourceId")
	}
	if len(in.Tags) == 0 {
		return awserr.MissingParameter("Tag")
	}
	for _, tg := range in.Tags {
		if err := validTag(tg); err != nil {
			return err
		}
	}
	return s.update(ctx, scopeOf(ctx), func(t *txn, st *scopeTx) error {
		for _, id := range in.Resources {
			m, save, err := t.taggable(st, id)
			if err != nil {
				return err
			}
			if *m == nil {
				*m = map[string]string{}
			}
			for _, tg := range in.Tags {
				(*m)[str(tg.Key)] = str(tg.Value)
			}
			if len(*m) > 50 {
				return errTagLimitExceeded()
			}
			if save != nil {
				if err := save(); err != nil {
					return err
				}
			}
		}
		return dryRun(in.DryRun)
	})
}

// DeleteTags implements ec2api.Operations.
func (s *Service) DeleteTags(ctx context.Context, in *ec2api.DeleteTagsRequest) error {
	if len(in.Resources) == 0 {
		return awserr.MissingParameter("ResourceId")
	}
	return s.update(ctx, scopeOf(ctx), func(t *txn, st *scopeTx) error {
		for _, id := range in.Resources {
			m, save, err := t.taggable(st, id)
			if err != nil {
				return err
			}
			if len(in.Tags) == 0 {
				*m = nil
			}
			for _, tg := range in.Tags {
				if v, ok := (*m)[str(tg.Key)]; ok && (tg.Value == nil || *tg.Value == v) {
					delete(*m, str(tg.Key))
				}
			}
			if save != nil {
				if err := save(); err != nil {
					return err
				}
			}
		}
		return dryRun(in.DryRun)
	})
}

// DescribeTags implements ec2api.Operations.
func (s *Service) DescribeTags(ctx context.Context, in *ec2api.DescribeTagsRequest) (*ec2api.DescribeTagsResult, error) {
	if err := dryRun(in.DryRun); err != nil {
		return nil, err
	}
	out := &ec2api.DescribeTagsResult{Tags: []ec2api.TagDescription{}}
	err := s.view(ctx, scopeOf(ctx), func(t *txn, st *scopeTx) error {
		var items []tagView
		add := func(id, kind string, m map[string]string) {
			for k, v := range m {
				items = append(items, tagView{id, kind, k, v})
			}
		}
		for _, k := range kinds {
			for _, r := range st.list(k.kind) {
				add(r.id(), resourceType(k.kind), *r.tagMap())
				if g, ok := r.(*groupRec); ok {
					for _, rr := range append(slices.Clip(g.Ingress), g.Egress...) {
						add(rr.ID, "security-group-rule", rr.Tags)
					}
				}
			}
		}
		slices.SortFunc(items, func(a, b tagView) int { return strings.Compare(a.sortKey(), b.sortKey()) })
		items, err := filterItems(tagFilters, in.Filters, items)
		if err != nil {
			return err
		}
		page, next, err := paginate(items, tagView.sortKey, in.MaxResults, in.NextToken, 5, 1000)
		if err != nil {
			return err
		}
		for _, v := range page {
			out.Tags = append(out.Tags, ec2api.TagDescription{Key: ptr(v.key), Value: ptr(v.value), ResourceId: ptr(v.res), ResourceType: ptr(v.kind)})
		}
		out.NextToken = next
		return nil
	})
	return out, err
}
