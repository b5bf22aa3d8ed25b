package ec2

import (
	"strings"
	"time"
)

// The persisted model. Each record is stored as JSON at
// ec2/<account>/<region>/<kind>/<id>; the kind is derived from the id's
// prefix (see kindOf). Records are immutable once published in a snapshot:
// a transaction that changes one works on a clone (see scopeTx.mut).

// record is one stored resource.
type record interface {
	id() string
	tagMap() *map[string]string
}

// Tags are kept as a map; responses list them sorted by key.
type tagged struct {
	Tags map[string]string `json:"tags,omitempty"`
}

func (t *tagged) tagMap() *map[string]string { return &t.Tags }

// vpcRec is a VPC.
type vpcRec struct {
	tagged
	ID           string    `json:"id"`
	Owner        string    `json:"owner"`
	CIDR         string    `json:"cidr"`
	CIDRAssocID  string    `json:"cidrAssocId"`
	IsDefault    bool      `json:"isDefault,omitempty"`
	Tenancy      string    `json:"tenancy"`
	DNSSupport   bool      `json:"dnsSupport"`
	DNSHostnames bool      `json:"dnsHostnames"`
	Created      time.Time `json:"created"`
	// DhcpOptionsID is its DHCP options set, "default" for none (dhcp.go).
	DhcpOptionsID string `json:"dhcpOptionsId,omitempty"`
	// Secondary are its secondary IPv4 CIDR blocks (vpccidr.go).
	Secondary []vpcCIDR `json:"secondary,omitempty"`
	// IPv6 are its Amazon-provided IPv6 CIDR blocks (vpcipv6.go).
	IPv6 []vpcCIDR `json:"ipv6,omitempty"`
}

func (r *vpcRec) id() string { return r.ID }

// subnetRec is a subnet of a VPC in one availability zone.
type subnetRec struct {
	tagged
	ID           string `json:"id"`
	Owner        string `json:"owner"`
	VpcID        string `json:"vpcId"`
	CIDR         string `json:"cidr"`
	AZ           string `json:"az"`
	DefaultForAZ bool   `json:"defaultForAz,omitempty"`
	MapPublicIP  bool   `json:"mapPublicIp,omitempty"`
	// Dns64, HostnameType ("" is ip-name) and DnsA are the attributes
	// ModifySubnetAttribute records (subnetattrs.go).
	Dns64        bool   `json:"dns64,omitempty"`
	HostnameType string `json:"hostnameType,omitempty"`
	DnsA         bool   `json:"dnsA,omitempty"`
	// IPv6 is its IPv6 CIDR block, if any (vpcipv6.go).
	IPv6 *vpcCIDR `json:"ipv6,omitempty"`
}

func (r *subnetRec) id() string { return r.ID }

// groupRec is a security group. A group without VpcID is an EC2-Classic
// group (only in accounts whose Accounts setting says EC2-Classic).
type groupRec struct {
	tagged
	ID          string     `json:"id"`
	Owner       string     `json:"owner"`
	VpcID       string     `json:"vpcId,omitempty"`
	Name        string     `json:"name"`
	Description string     `json:"description"`
	Ingress     []*ruleRec `json:"ingress,omitempty"`
	Egress      []*ruleRec `json:"egress,omitempty"`
}

func (r *groupRec) id() string { return r.ID }

func (r *groupRec) rules(egress bool) *[]*ruleRec {
	if egress {
		return &r.Egress
	}
	return &r.Ingress
}

// ruleRec is one security group rule: exactly one source (or destination)
// among CIDRv4, CIDRv6, PrefixList and Group.
type ruleRec struct {
	ID          string            `json:"id"`
	Protocol    string            `json:"protocol"` // "-1", "tcp", "udp", "icmp", "icmpv6" or a number
	FromPort    int32             `json:"from"`     // -1 when the protocol has no ports
	ToPort      int32             `json:"to"`
	CIDRv4      string            `json:"cidr4,omitempty"`
	CIDRv6      string            `json:"cidr6,omitempty"`
	PrefixList  string            `json:"prefixList,omitempty"`
	Group       *groupRef         `json:"group,omitempty"`
	Description string            `json:"description,omitempty"`
	Tags        map[string]string `json:"tags,omitempty"`
}

// groupRef is a rule's reference to a security group, possibly of another
// account (and then possibly in a peered VPC).
type groupRef struct {
	Owner     string `json:"owner"`
	GroupID   string `json:"groupId"`
	GroupName string `json:"groupName,omitempty"`
	VpcID     string `json:"vpcId,omitempty"`
	PeeringID string `json:"peeringId,omitempty"`
}

// sameTarget reports whether two rules grant the same thing (protocol, ports
// and peer), which is what AWS calls a duplicate.
func (r *ruleRec) sameTarget(o *ruleRec) bool {
	if r.Protocol != o.Protocol || r.FromPort != o.FromPort || r.ToPort != o.ToPort ||
		r.CIDRv4 != o.CIDRv4 || r.CIDRv6 != o.CIDRv6 || r.PrefixList != o.PrefixList {
		return false
	}
	if (r.Group == nil) != (o.Group == nil) {
		return false
	}
	return r.Group == nil || (r.Group.GroupID == o.Group.GroupID && r.Group.Owner == o.Group.Owner)
}

// instanceRec is an instance. Its network identity lives in its primary
// network interface (PrimaryENI).
type instanceRec struct {
	tagged
	ID            string    `json:"id"`
	Owner         string    `json:"owner"`
	ReservationID string    `json:"reservationId"`
	ImageID       string    `json:"imageId"`
	InstanceType  string    `json:"instanceType"`
	KeyName       string    `json:"keyName,omitempty"`
	State         string    `json:"state"`
	TerminatedAt  time.Time `json:"terminatedAt,omitzero"`
	SubnetID      string    `json:"subnetId"`
	VpcID         string    `json:"vpcId"`
	AZ            string    `json:"az"`
	PrimaryENI    string    `json:"primaryEni"`
	ENIs          []string  `json:"enis"`
	PrivateIP     string    `json:"privateIp"`
	UserData      string    `json:"userData,omitempty"`
	LaunchIndex   int32     `json:"launchIndex"`
	LaunchTime    time.Time `json:"launchTime"`
	ClientToken   string    `json:"clientToken,omitempty"`
	// ReservationGroups are the groups named at launch, as the reservation shows them.
	ReservationGroups []string `json:"reservationGroups,omitempty"`
	// Classic: launched in EC2-Classic (no subnet, no VPC).
	Classic bool `json:"classic,omitempty"`
	// Attrs are the instance attributes (instanceattrs.go).
	Attrs instAttrs `json:"attrs"`
	// Vols are its block devices, root first (volumes.go).
	Vols []instVol `json:"vols,omitempty"`
	// Profile is its IAM instance profile association (profiles.go).
	Profile *profileAssoc `json:"profile,omitempty"`
}

func (r *instanceRec) id() string { return r.ID }

// eniRec is a network interface.
type eniRec struct {
	tagged
	ID               string    `json:"id"`
	Owner            string    `json:"owner"`
	SubnetID         string    `json:"subnetId"`
	VpcID            string    `json:"vpcId"`
	AZ               string    `json:"az"`
	PrivateIP        string    `json:"privateIp"`
	MAC              string    `json:"mac"`
	Description      string    `json:"description,omitempty"`
	Groups           []string  `json:"groups"`
	InterfaceType    string    `json:"interfaceType"`
	RequesterID      string    `json:"requesterId,omitempty"`
	RequesterManaged bool      `json:"requesterManaged,omitempty"`
	SourceDestCheck  bool      `json:"sourceDestCheck"`
	InstanceID       string    `json:"instanceId,omitempty"`
	AttachmentID     string    `json:"attachmentId,omitempty"`
	DeviceIndex      int32     `json:"deviceIndex,omitempty"`
	DeleteOnTerm     bool      `json:"deleteOnTermination,omitempty"`
	AttachTime       time.Time `json:"attachTime,omitzero"`
	AllocationID     string    `json:"allocationId,omitempty"` // associated Elastic IP
	// AutoPublic: the interface gets a public IPv4 address while its
	// instance runs (MapPublicIpOnLaunch, AssociatePublicIpAddress);
	// PublicIP is the one it has now (publicip.go).
	AutoPublic bool   `json:"autoPublic,omitempty"`
	PublicIP   string `json:"publicIp,omitempty"`
	// Classic: the interface is in the scope's EC2-Classic network (no
	// subnet, no VPC; see classic.go); Grants are its ingress grants.
	Classic bool       `json:"classic,omitempty"`
	Grants  []grantRec `json:"grants,omitempty"`
	// ServicePeering labels a requester-managed interface whose service
	// talks to the other interfaces of the same label past the security
	// groups (peering.go in this sense: servicepeering.go).
	ServicePeering string `json:"servicePeering,omitempty"`
}

func (r *eniRec) id() string { return r.ID }

func (r *eniRec) status() string {
	if r.InstanceID != "" || r.RequesterManaged {
		return "in-use"
	}
	return "available"
}

// addressRec is an Elastic IP (always domain "vpc").
type addressRec struct {
	tagged
	ID            string `json:"id"` // eipalloc-…
	Owner         string `json:"owner"`
	PublicIP      string `json:"publicIp"`
	AssociationID string `json:"associationId,omitempty"`
	ENIID         string `json:"eniId,omitempty"`
	InstanceID    string `json:"instanceId,omitempty"`
	PrivateIP     string `json:"privateIp,omitempty"`
}

func (r *addressRec) id() string { return r.ID }

// igwRec is an internet gateway, attached to at most one VPC.
type igwRec struct {
	tagged
	ID    string `json:"id"`
	Owner string `json:"owner"`
	VpcID string `json:"vpcId,omitempty"`
}

func (r *igwRec) id() string { return r.ID }

// rtbRec is a route table.
type rtbRec struct {
	tagged
	ID     string      `json:"id"`
	Owner  string      `json:"owner"`
	VpcID  string      `json:"vpcId"`
	Main   bool        `json:"main,omitempty"`
	MainID string      `json:"mainAssocId,omitempty"`
	Routes []routeRec  `json:"routes"`
	Assocs []rtbAssocR `json:"assocs,omitempty"`
}

func (r *rtbRec) id() string { return r.ID }

type routeRec struct {
	Dest       string `json:"dest"`              // canonical CIDR
	Gateway    string `json:"gateway,omitempty"` // "local" or igw-…
	PeeringID  string `json:"pcx,omitempty"`
	InstanceID string `json:"instance,omitempty"`
	ENIID      string `json:"eni,omitempty"`
	NatID      string `json:"nat,omitempty"` // nat-… (natgw.go)
	Origin     string `json:"origin"`        // CreateRouteTable, CreateRoute
}

type rtbAssocR struct {
	ID       string `json:"id"`
	SubnetID string `json:"subnetId"`
}

// aclRec is a network ACL. Entries are its numbered entries (1 to 32766)
// in both directions, sorted by (Egress, Number); the "*" entries (32767,
// deny all) are implicit. A record written before entries were stored
// (EntriesSet false) is a default ACL with AWS's default entries.
// Assocs are its explicit subnet associations; a subnet of the VPC that
// no ACL names is associated with the VPC's default ACL (aclImplicitAssoc).
type aclRec struct {
	tagged
	ID         string        `json:"id"`
	Owner      string        `json:"owner"`
	VpcID      string        `json:"vpcId"`
	IsDefault  bool          `json:"isDefault"`
	Entries    []aclEntryRec `json:"entries,omitempty"`
	EntriesSet bool          `json:"entriesSet,omitempty"`
	Assocs     []aclAssocRec `json:"assocs,omitempty"`
	// ClientToken is CreateNetworkAcl's idempotency token.
	ClientToken string `json:"clientToken,omitempty"`
}

// aclEntryRec is one numbered network ACL entry. Protocol is "-1" or a
// protocol number; exactly one of CIDR and IPv6CIDR is set (canonical).
// FromPort/ToPort are set for TCP and UDP (HasPorts), IcmpType/IcmpCode
// for ICMP and ICMPv6 (HasICMP; -1: all).
type aclEntryRec struct {
	Number   int32  `json:"number"`
	Egress   bool   `json:"egress,omitempty"`
	Protocol string `json:"protocol"`
	Action   string `json:"action"` // allow, deny
	CIDR     string `json:"cidr,omitempty"`
	IPv6CIDR string `json:"ipv6Cidr,omitempty"`
	HasPorts bool   `json:"hasPorts,omitempty"`
	FromPort int32  `json:"fromPort,omitempty"`
	ToPort   int32  `json:"toPort,omitempty"`
	HasICMP  bool   `json:"hasIcmp,omitempty"`
	IcmpType int32  `json:"icmpType,omitempty"`
	IcmpCode int32  `json:"icmpCode,omitempty"`
}

type aclAssocRec struct {
	ID       string `json:"id"`
	SubnetID string `json:"subnetId"`
}

func (r *aclRec) id() string { return r.ID }

// pcxRec is a VPC peering connection. It is stored in both the requester's
// and the accepter's scope (same region), written together.
type pcxRec struct {
	tagged
	ID             string    `json:"id"`
	Region         string    `json:"region"`
	RequesterOwner string    `json:"requesterOwner"`
	RequesterVpc   string    `json:"requesterVpc"`
	RequesterCIDR  string    `json:"requesterCidr"`
	AccepterOwner  string    `json:"accepterOwner"`
	AccepterVpc    string    `json:"accepterVpc"`
	AccepterCIDR   string    `json:"accepterCidr"`
	Status         string    `json:"status"` // pending-acceptance, active, rejected, deleted, failed
	Message        string    `json:"message"`
	Expiration     time.Time `json:"expiration"`
}

func (r *pcxRec) id() string { return r.ID }

// Kinds (the <kind> path element) and id prefixes.
var kinds = []struct{ kind, prefix string }{
	{"vpc", "vpc-"}, {"subnet", "subnet-"}, {"sg", "sg-"}, {"instance", "i-"}, {"eni", "eni-"},
	{"eip", "eipalloc-"}, {"igw", "igw-"}, {"rtb", "rtb-"}, {"acl", "acl-"}, {"pcx", "pcx-"},
	{"vol", "vol-"}, {"ami", "ami-"}, {"key", "key-"}, {"lt", "lt-"},
	{"pl", "pl-"}, {"dopt", "dopt-"}, {"vpce", "vpce-"},
	{"nat", "nat-"},
}

// kindOf returns the kind of an id, or "".
func kindOf(id string) string {
	for _, k := range kinds {
		if strings.HasPrefix(id, k.prefix) {
			return k.kind
		}
	}
	return ""
}

func newRecord(kind string) record {
	switch kind {
	case "vpc":
		return new(vpcRec)
	case "subnet":
		return new(subnetRec)
	case "sg":
		return new(groupRec)
	case "instance":
		return new(instanceRec)
	case "eni":
		return new(eniRec)
	case "eip":
		return new(addressRec)
	case "igw":
		return new(igwRec)
	case "rtb":
		return new(rtbRec)
	case "acl":
		return new(aclRec)
	case "pcx":
		return new(pcxRec)
	case "vol":
		return new(volRec)
	case "ami":
		return new(amiRec)
	case "key":
		return new(keyRec)
	case "lt":
		return new(ltRec)
	case "pl":
		return new(plRec)
	case "dopt":
		return new(doptRec)
	case "vpce":
		return new(vpceRec)
	case "nat":
		return new(natRec)
	}
	return nil
}

// resourceType is the TagDescription resource type of a kind.
func resourceType(kind string) string {
	switch kind {
	case "sg":
		return "security-group"
	case "eni":
		return "network-interface"
	case "eip":
		return "elastic-ip"
	case "igw":
		return "internet-gateway"
	case "rtb":
		return "route-table"
	case "acl":
		return "network-acl"
	case "pcx":
		return "vpc-peering-connection"
	case "vol":
		return "volume"
	case "ami":
		return "image"
	case "key":
		return "key-pair"
	case "lt":
		return "launch-template"
	case "pl":
		return "prefix-list"
	case "dopt":
		return "dhcp-options"
	case "vpce":
		return "vpc-endpoint"
	case "nat":
		return "natgateway"
	}
	return kind
}
