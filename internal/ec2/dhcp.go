package ec2

import (
	"context"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/cachalot-dev/cachalot/internal/api/ec2api"
	"github.com/cachalot-dev/cachalot/internal/awserr"
)

// DHCP options sets. Each scope gets, with its defaults, the set AWS
// creates per region (domain-name <region>.compute.internal, ec2.internal
// in us-east-1, and domain-name-servers AmazonProvidedDNS), and every new
// VPC is associated with it while it exists, as on AWS. A VPC associated
// with "default" has no DHCP options. The Topology carries each VPC's
// domain names and DNS servers (TopoDHCP), which become the resolv.conf of
// its instances (internal/vpcnet); the other options are records.

// doptRec is a DHCP options set; Options are in the order given, each key
// once.
type doptRec struct {
	tagged
	ID      string       `json:"id"`
	Owner   string       `json:"owner"`
	Options []doptOption `json:"options"`
}

func (r *doptRec) id() string { return r.ID }

type doptOption struct {
	Key    string   `json:"key"`
	Values []string `json:"values"`
}

// noDhcpOptions is the DhcpOptionsId of a VPC without DHCP options.
const noDhcpOptions = "default"

// defaultDomainName is the domain name of a region's default options set.
func defaultDomainName(region string) string {
	if region == "us-east-1" {
		return "ec2.internal"
	}
	return region + ".compute.internal"
}

// createDefaultDopt creates the scope's default DHCP options set and
// records it in the scope's meta (defaults.go).
func createDefaultDopt(st *scopeTx) *doptRec {
	d := &doptRec{ID: newID("dopt-"), Owner: st.sc.Account, Options: []doptOption{
		{Key: "domain-name", Values: []string{defaultDomainName(st.sc.Region)}},
		{Key: "domain-name-servers", Values: []string{"AmazonProvidedDNS"}},
	}}
	st.put(d)
	m := st.meta
	m.DefaultDoptID = d.ID
	st.setMeta(m)
	return d
}

// newVPCDopt is the options set a new VPC is associated with: the scope's
// default set while it exists.
func newVPCDopt(st *scopeTx) string {
	if _, ok := getT[*doptRec](st, st.meta.DefaultDoptID); ok {
		return st.meta.DefaultDoptID
	}
	return noDhcpOptions
}

// vpcDopt is the DhcpOptionsId DescribeVpcs shows ("" in VPCs stored
// before DHCP options sets: default).
func vpcDopt(v *vpcRec) string {
	if v.DhcpOptionsID == "" {
		return noDhcpOptions
	}
	return v.DhcpOptionsID
}

// topoDHCP returns the DHCP options of a VPC for the Topology: a VPC
// stored before DHCP options sets has the region's default set.
func topoDHCP(st *scopeTx, v *vpcRec) *TopoDHCP {
	var opts []doptOption
	switch v.DhcpOptionsID {
	case "":
		opts = []doptOption{{Key: "domain-name", Values: []string{defaultDomainName(st.sc.Region)}},
			{Key: "domain-name-servers", Values: []string{"AmazonProvidedDNS"}}}
	case noDhcpOptions:
		return nil
	default:
		d, ok := getT[*doptRec](st, v.DhcpOptionsID)
		if !ok {
			return nil
		}
		opts = d.Options
	}
	out := &TopoDHCP{}
	for _, o := range opts {
		switch o.Key {
		case "domain-name":
			for _, val := range o.Values {
				out.DomainNames = append(out.DomainNames, strings.Fields(val)...)
			}
		case "domain-name-servers":
			out.DomainNameServers = slices.Clone(o.Values)
		}
	}
	return out
}

// parseDhcpConfig validates the configurations as AWS does.
func parseDhcpConfig(in []ec2api.NewDhcpConfiguration) ([]doptOption, error) {
	if len(in) == 0 {
		return nil, awserr.MissingParameter("DhcpConfiguration")
	}
	var out []doptOption
	for _, c := range in {
		key := str(c.Key)
		if slices.ContainsFunc(out, func(o doptOption) bool { return o.Key == key }) {
			return nil, awserr.InvalidParameterValue("The DHCP option %s is specified more than once.", key)
		}
		if len(c.Values) == 0 {
			return nil, awserr.InvalidParameterValue("Value for parameter %s is missing.", key)
		}
		bad := func(v string) error {
			return awserr.InvalidParameterValue("Value (%s) for parameter %s is invalid.", v, key)
		}
		ips := func(max int, amazon bool) error {
			if len(c.Values) > max {
				return awserr.InvalidParameterValue("Too many values for parameter %s: at most %d.", key, max)
			}
			for _, v := range c.Values {
				if amazon && v == "AmazonProvidedDNS" {
					continue
				}
				if a, err := netip.ParseAddr(v); err != nil || a.Zone() != "" {
					return bad(v)
				}
			}
			return nil
		}
		switch key {
		case "domain-name-servers":
			if err := ips(4, true); err != nil {
				return nil, err
			}
		case "ntp-servers", "netbios-name-servers":
			if err := ips(4, false); err != nil {
				return nil, err
			}
		case "domain-name":
			// Several domain names are one value, separated by spaces.
			for _, val := range c.Values {
				for _, v := range strings.Fields(val) {
					if len(v) > 255 || !validDomainName(v) {
						return nil, bad(v)
					}
				}
			}
		case "netbios-node-type":
			if len(c.Values) > 1 || !slices.Contains([]string{"1", "2", "4", "8"}, c.Values[0]) {
				return nil, bad(strings.Join(c.Values, ","))
			}
		case "ipv6-address-preferred-lease-time":
			n, err := strconv.ParseInt(c.Values[0], 10, 64)
			if len(c.Values) > 1 || err != nil || n < 140 || n > 2147483647 {
				return nil, bad(strings.Join(c.Values, ","))
			}
		default:
			return nil, awserr.InvalidParameterValue("The DHCP option %s is not valid. Valid options are domain-name, domain-name-servers, ntp-servers, netbios-name-servers, netbios-node-type, ipv6-address-preferred-lease-time.", key)
		}
		out = append(out, doptOption{Key: key, Values: slices.Clone(c.Values)})
	}
	return out, nil
}

func validDomainName(s string) bool {
	for _, l := range strings.Split(strings.TrimSuffix(s, "."), ".") {
		if l == "" || len(l) > 63 {
			return false
		}
		for _, c := range l {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

func doptOut(r *doptRec) ec2api.DhcpOptions {
	out := ec2api.DhcpOptions{DhcpOptionsId: ptr(r.ID), OwnerId: ptr(r.Owner), Tags: tagList(r.Tags), DhcpConfigurations: []ec2api.DhcpConfiguration{}}
	for _, o := range r.Options {
		c := ec2api.DhcpConfiguration{Key: ptr(o.Key)}
		for _, v := range o.Values {
			c.Values = append(c.Values, ec2api.AttributeValue{Value: ptr(v)})
		}
		out.DhcpConfigurations = append(out.DhcpConfigurations, c)
	}
	return out
}

// CreateDhcpOptions implements ec2api.Operations.
func (s *Service) CreateDhcpOptions(ctx context.Context, in *ec2api.CreateDhcpOptionsRequest) (*ec2api.CreateDhcpOptionsResult, error) {
	opts, err := parseDhcpConfig(in.DhcpConfigurations)
	if err != nil {
		return nil, err
	}
	tags, err := tagsFor(in.TagSpecifications, "dhcp-options")
	if err != nil {
		return nil, err
	}
	if err := dryRun(in.DryRun); err != nil {
		return nil, err
	}
	sc := scopeOf(ctx)
	var out ec2api.DhcpOptions
	err = s.update(ctx, sc, func(t *txn, st *scopeTx) error {
		r := &doptRec{ID: newID("dopt-"), Owner: sc.Account, Options: opts}
		r.Tags = tags
		st.put(r)
		out = doptOut(r)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &ec2api.CreateDhcpOptionsResult{DhcpOptions: &out}, nil
}

var doptFilters = filterSet[*doptRec]{
	fields: map[string]func(*doptRec) []string{
		"dhcp-options-id": func(r *doptRec) []string { return one(r.ID) },
		"key": func(r *doptRec) []string {
			out := make([]string, 0, len(r.Options))
			for _, o := range r.Options {
				out = append(out, o.Key)
			}
			return out
		},
		"value": func(r *doptRec) []string {
			var out []string
			for _, o := range r.Options {
				out = append(out, o.Values...)
			}
			return out
		},
		"owner-id": func(r *doptRec) []string { return one(r.Owner) },
	},
	tags: func(r *doptRec) map[string]string { return r.Tags },
}

// DescribeDhcpOptions implements ec2api.Operations.
func (s *Service) DescribeDhcpOptions(ctx context.Context, in *ec2api.DescribeDhcpOptionsRequest) (*ec2api.DescribeDhcpOptionsResult, error) {
	if err := dryRun(in.DryRun); err != nil {
		return nil, err
	}
	out := &ec2api.DescribeDhcpOptionsResult{DhcpOptions: []ec2api.DhcpOptions{}}
	err := s.view(ctx, scopeOf(ctx), func(t *txn, st *scopeTx) error {
		for _, id := range in.DhcpOptionsIds {
			if _, err := lookup[*doptRec](st, "dopt", id); err != nil {
				return err
			}
		}
		items, _ := selectIDs(listT[*doptRec](st, "dopt"), in.DhcpOptionsIds)
		items, err := filterItems(doptFilters, in.Filters, items)
		if err != nil {
			return err
		}
		page, next, err := paginate(items, (*doptRec).id, in.MaxResults, in.NextToken, 5, 1000)
		if err != nil {
			return err
		}
		for _, r := range page {
			out.DhcpOptions = append(out.DhcpOptions, doptOut(r))
		}
		out.NextToken = next
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DeleteDhcpOptions implements ec2api.Operations: a set associated with a
// VPC cannot be deleted.
func (s *Service) DeleteDhcpOptions(ctx context.Context, in *ec2api.DeleteDhcpOptionsRequest) error {
	if in.DhcpOptionsId == nil {
		return awserr.MissingParameter("DhcpOptionsId")
	}
	return s.update(ctx, scopeOf(ctx), func(t *txn, st *scopeTx) error {
		r, err := lookup[*doptRec](st, "dopt", *in.DhcpOptionsId)
		if err != nil {
			return err
		}
		for _, v := range listT[*vpcRec](st, "vpc") {
			if v.DhcpOptionsID == r.ID {
				return errDependencyViolation("The dhcpOptions '%s' has dependencies and cannot be deleted.", r.ID)
			}
		}
		if err := dryRun(in.DryRun); err != nil {
			return err
		}
		st.del(r.ID)
		return nil
	})
}

// AssociateDhcpOptions implements ec2api.Operations; "default" leaves the
// VPC without DHCP options.
func (s *Service) AssociateDhcpOptions(ctx context.Context, in *ec2api.AssociateDhcpOptionsRequest) error {
	if in.DhcpOptionsId == nil {
		return awserr.MissingParameter("DhcpOptionsId")
	}
	if in.VpcId == nil {
		return awserr.MissingParameter("VpcId")
	}
	return s.update(ctx, scopeOf(ctx), func(t *txn, st *scopeTx) error {
		id := *in.DhcpOptionsId
		if id != noDhcpOptions {
			if _, err := lookup[*doptRec](st, "dopt", id); err != nil {
				return err
			}
		}
		v, err := lookup[*vpcRec](st, "vpc", *in.VpcId)
		if err != nil {
			return err
		}
		if err := dryRun(in.DryRun); err != nil {
			return err
		}
		if vpcDopt(v) != id {
			mut[*vpcRec](st, v.ID).DhcpOptionsID = id
		}
		return nil
	})
}
