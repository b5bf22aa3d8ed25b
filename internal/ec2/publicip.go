package ec2

import (
	"strings"

	"github.com/cachalot-dev/cachalot/internal/api/ec2api"
)

// Public IPv4 addresses assigned at launch. An instance launched in a
// subnet with MapPublicIpOnLaunch (true on default subnets), or with
// AssociatePublicIpAddress on its network interface specification, gets a
// public address on its primary interface, drawn from the Elastic IP pool
// (ElasticIPPool, unique through the same index) but owned by "amazon"
// rather than by the account: it is released when the instance stops or
// terminates and a new one is assigned when it starts again, as on AWS.
// An Elastic IP associated with the interface replaces it (the public
// address is released) and, disassociated, gives way to a new one. The
// network plane realises it exactly as an Elastic IP (Topology sets
// TopoInterface.PublicIP): reachable from the simulated internet only while
// the VPC has an internet gateway and the subnet routes to it.

// assignPublicIP gives e a new public address if it asks for one (AutoPublic)
// and has neither one nor an Elastic IP.
func (t *txn) assignPublicIP(st *scopeTx, e *eniRec) error {
	if !e.AutoPublic || e.PublicIP != "" || e.AllocationID != "" {
		return nil
	}
	ip, err := t.pickEIP("")
	if err != nil {
		return err
	}
	e.PublicIP = ip
	t.extra[eipIndexPrefix+ip] = []byte(`"` + st.sc.Account + "/" + st.sc.Region + "/" + e.ID + `"`)
	return nil
}

// releasePublicIP returns e's public address, if any, to the pool.
func (t *txn) releasePublicIP(e *eniRec) {
	if e.PublicIP == "" {
		return
	}
	t.extra[eipIndexPrefix+e.PublicIP] = nil
	e.PublicIP = ""
}

// publicDNSName is AWS's public DNS name of a public IPv4 address:
// ec2-203-0-113-25.compute-1.amazonaws.com in us-east-1,
// ec2-203-0-113-25.<region>.compute.amazonaws.com elsewhere.
func publicDNSName(region, ip string) string {
	host := "ec2-" + strings.ReplaceAll(ip, ".", "-")
	if region == "us-east-1" {
		return host + ".compute-1.amazonaws.com"
	}
	return host + "." + region + ".compute.amazonaws.com"
}

// publicDNSOf is the public DNS name AWS shows for ip on e: only in a VPC
// with DNS hostnames enabled.
func (st *scopeTx) publicDNSOf(e *eniRec, ip string) string {
	if ip == "" || e.Classic {
		return ""
	}
	if v, ok := getT[*vpcRec](st, e.VpcID); ok && v.DNSHostnames {
		return publicDNSName(st.sc.Region, ip)
	}
	return ""
}

// publicAssociation is the Association AWS shows for e's public address
// (an Elastic IP's is made by eniOut), nil without one.
func (st *scopeTx) publicAssociation(e *eniRec) *ec2api.NetworkInterfaceAssociation {
	if e.PublicIP == "" || e.AllocationID != "" {
		return nil
	}
	return &ec2api.NetworkInterfaceAssociation{IpOwnerId: ptr("amazon"), PublicIp: ptr(e.PublicIP), PublicDnsName: ptr(st.publicDNSOf(e, e.PublicIP))}
}

// assignPublicIPIfRunning gives e a public address again when the Elastic
// IP that replaced it leaves, if its instance runs.
func (t *txn) assignPublicIPIfRunning(st *scopeTx, e *eniRec) error {
	if i, ok := getT[*instanceRec](st, e.InstanceID); !ok || i.State != "running" {
		return nil
	}
	return t.assignPublicIP(st, e)
}
