package ec2

import (
	"strings"
)

// Default VPC layout, as AWS creates it.
const (
	defaultVpcCIDR = "172.31.0.0/16"
)

var defaultSubnetCIDRs = []string{"172.31.0.0/20", "172.31.16.0/20", "172.31.32.0/20"}

// zones returns the availability zones of a region: <region>a, b, c.
func zones(region string) []string {
	return []string{region + "a", region + "b", region + "c"}
}

// zoneID returns an AZ id like AWS's (us-east-1a -> use1-az1).
func zoneID(az string) string {
	if az == "" {
		return ""
	}
	region, letter := az[:len(az)-1], az[len(az)-1]
	short := map[string]string{"north": "n", "south": "s", "east": "e", "west": "w", "central": "c",
		"northeast": "ne", "northwest": "nw", "southeast": "se", "southwest": "sw"}
	var b strings.Builder
	for i, p := range strings.Split(region, "-") {
		if i > 0 {
			if s, ok := short[p]; ok {
				p = s
			}
		}
		b.WriteString(p)
	}
	return b.String() + "-az" + string(rune('1'+int(letter-'a')))
}

// initScope creates a scope's defaults: for a VPC-only account the default
// VPC with everything AWS puts in it. Runs inside the caller's transaction,
// so two first requests racing create it once.
func (t *txn) initScope(st *scopeTx, classic bool) error {
	m := st.meta
	m.Initialized = true
	m.Classic = classic
	st.setMeta(m)
	createDefaultDopt(st)
	if classic {
		t.ensureClassicDefault(st) // EC2-Classic accounts have no default VPC
		return nil
	}
	_, err := t.createDefaultVPC(st)
	return err
}

// createDefaultVPC builds the default VPC: 172.31.0.0/16, a default subnet
// per zone, its default group, main route table with a route to an attached
// internet gateway, and the default network ACL.
func (t *txn) createDefaultVPC(st *scopeTx) (*vpcRec, error) {
	if st.meta.DefaultVpcID != "" {
		if _, ok := st.get(st.meta.DefaultVpcID).(*vpcRec); ok {
			return nil, errDefaultVpcAlreadyExists()
		}
	}
	v, err := t.createVPC(st, defaultVpcCIDR, true, nil)
	if err != nil {
		return nil, err
	}
	igw := &igwRec{ID: newID("igw-"), Owner: st.sc.Account, VpcID: v.ID}
	st.put(igw)
	for _, r := range listT[*rtbRec](st, "rtb") {
		if r.VpcID == v.ID && r.Main {
			r = mut[*rtbRec](st, r.ID)
			r.Routes = append(r.Routes, routeRec{Dest: "0.0.0.0/0", Gateway: igw.ID, Origin: "CreateRoute"})
		}
	}
	for i, az := range zones(st.sc.Region) {
		sn := &subnetRec{ID: newID("subnet-"), Owner: st.sc.Account, VpcID: v.ID, CIDR: defaultSubnetCIDRs[i], AZ: az,
			DefaultForAZ: true, MapPublicIP: true}
		st.put(sn)
	}
	m := st.meta
	m.DefaultVpcID = v.ID
	st.setMeta(m)
	return v, nil
}

// createVPC creates a VPC with its default security group, main route table
// (local route) and default network ACL.
func (t *txn) createVPC(st *scopeTx, cidr string, isDefault bool, tags map[string]string) (*vpcRec, error) {
	if n := len(st.list("vpc")); n >= t.s.cfg.MaxVPCs {
		return nil, errVpcLimitExceeded()
	}
	v := &vpcRec{ID: newID("vpc-"), Owner: st.sc.Account, CIDR: cidr, CIDRAssocID: newID("vpc-cidr-assoc-"),
		IsDefault: isDefault, Tenancy: "default", DNSSupport: true, DNSHostnames: isDefault, Created: t.now, DhcpOptionsID: newVPCDopt(st)}
	v.Tags = tags
	st.put(v)
	g := &groupRec{ID: newID("sg-"), Owner: st.sc.Account, VpcID: v.ID, Name: "default",
		Description: "default VPC security group"}
	g.Ingress = []*ruleRec{{ID: newID("sgr-"), Protocol: "-1", FromPort: -1, ToPort: -1,
		Group: &groupRef{Owner: st.sc.Account, GroupID: g.ID, GroupName: "default", VpcID: v.ID}}}
	g.Egress = []*ruleRec{allowAllEgress()}
	st.put(g)
	st.put(&rtbRec{ID: newID("rtb-"), Owner: st.sc.Account, VpcID: v.ID, Main: true, MainID: newID("rtbassoc-"),
		Routes: []routeRec{{Dest: cidr, Gateway: "local", Origin: "CreateRouteTable"}}})
	st.put(&aclRec{ID: newID("acl-"), Owner: st.sc.Account, VpcID: v.ID, IsDefault: true, Entries: defaultACLEntries(), EntriesSet: true})
	return v, nil
}

func allowAllEgress() *ruleRec {
	return &ruleRec{ID: newID("sgr-"), Protocol: "-1", FromPort: -1, ToPort: -1, CIDRv4: "0.0.0.0/0"}
}
