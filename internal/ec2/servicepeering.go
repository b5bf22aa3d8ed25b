package ec2

import (
	"context"
	"crypto/sha256"
	"encoding/hex"

	"github.com/cachalot-dev/cachalot/internal/awserr"
)

// Service peering: the nodes of an ElastiCache replication group replicate
// from each other whatever the customer's security groups say, as on AWS,
// where that traffic does not cross them. A requester-managed interface
// carries a label (its replication group); Topology exports, per label of
// a scope, a synthetic security group admitting TCP between the
// interfaces of that label and attaches it to them, so the network plane
// and the security-group evaluator need no special case. Like the classic
// grants' groups, the synthetic groups are not visible through the EC2
// API; their ids (sg-peering…) cannot be those of a real group.

// SetInterfaceServicePeering sets the service-peering label of a
// requester-managed interface ("" none). Nothing is written when it is
// unchanged.
func (s *Service) SetInterfaceServicePeering(ctx context.Context, account, region, id, label string) error {
	return s.update(ctx, scope{account, region}, func(t *txn, st *scopeTx) error {
		e, err := lookup[*eniRec](st, "eni", id)
		if err != nil {
			return err
		}
		if e.ServicePeering == label {
			return nil
		}
		if !e.RequesterManaged {
			return awserr.InvalidParameterValue("The network interface %s is not managed by a service.", id)
		}
		mut[*eniRec](st, id).ServicePeering = label
		return nil
	})
}

// servicePeeringGroupID is the synthetic group of a label in a scope.
func servicePeeringGroupID(sc scope, label string) string {
	sum := sha256.Sum256([]byte(sc.Account + "/" + sc.Region + "/" + label))
	return "sg-peering" + hex.EncodeToString(sum[:])[:17]
}

// appendServicePeering adds a scope's service-peering groups to topo and
// attaches them to the labelled interfaces among topo.Interfaces[first:].
func appendServicePeering(topo *Topology, st *scopeTx, first int) {
	sc := st.sc
	made := map[string]bool{}
	for i := first; i < len(topo.Interfaces); i++ {
		ti := &topo.Interfaces[i]
		e, ok := getT[*eniRec](st, ti.ID)
		if !ok || e.ServicePeering == "" {
			continue
		}
		gid := servicePeeringGroupID(sc, e.ServicePeering)
		ti.Groups = append(ti.Groups, gid)
		if made[gid] {
			continue
		}
		made[gid] = true
		self := &TopoGroupRef{Account: sc.Account, GroupID: gid, VpcID: e.VpcID}
		rule := func(id string) TopoRule {
			return TopoRule{ID: id, Protocol: "tcp", FromPort: 0, ToPort: 65535, Group: self,
				Description: "service traffic within " + e.ServicePeering}
		}
		topo.Groups = append(topo.Groups, TopoGroup{Account: sc.Account, Region: sc.Region, ID: gid, VpcID: e.VpcID,
			Name:    "service-peering " + e.ServicePeering,
			Ingress: []TopoRule{rule("sgr-peering-in")}, Egress: []TopoRule{rule("sgr-peering-out")}})
	}
}
