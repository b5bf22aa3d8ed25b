package ec2

import (
	"context"
	"encoding/base64"
	"time"

	"github.com/cachalot-dev/cachalot/internal/dnsname"
)

// Metadata is what the instance metadata service tells an instance about
// itself: a copy, read in one transaction.
type Metadata struct {
	Account, Region, AZ   string
	AZID                  string // use1-az1
	InstanceID, State     string
	ImageID, InstanceType string
	Architecture          string
	ReservationID         string
	LaunchIndex           int32
	LaunchTime            time.Time
	KeyName               string
	PublicKey             string // the key pair's OpenSSH public key, if it still exists
	// The primary interface's.
	InterfaceID, MAC, PrivateIP, PublicIP string
	PublicHostname                        string // ec2-….compute-1.amazonaws.com, in a VPC with DNS hostnames
	SubnetID, VpcID                       string
	SubnetCIDR, VpcCIDR                   string
	Hostname                              string // ip-10-0-0-5.ec2.internal
	GroupNames, GroupIDs                  []string
	UserData                              []byte // decoded; nil when none
	// Tags are the instance's tags; nil unless InstanceMetadataTags is
	// enabled.
	Tags map[string]string
	// Options.
	Endpoint bool  // HttpEndpoint enabled
	Tokens   bool  // HttpTokens required
	HopLimit int32 // HttpPutResponseHopLimit, at least 1
	// Profile is the instance profile association; nil when none.
	Profile *MetadataProfile
}

// MetadataProfile is an instance's instance profile association.
type MetadataProfile struct {
	AssociationID, ARN, ID, Name string
}

// InstanceMetadata returns what the metadata service serves to instance.
func (s *Service) InstanceMetadata(ctx context.Context, account, region, instance string) (*Metadata, error) {
	var m *Metadata
	err := s.view(ctx, scope{account, region}, func(_ *txn, st *scopeTx) error {
		i, err := lookup[*instanceRec](st, "instance", instance)
		if err != nil {
			return err
		}
		a := &i.Attrs
		m = &Metadata{Account: account, Region: region, AZ: i.AZ, AZID: zoneID(i.AZ), InstanceID: i.ID, State: i.State, ImageID: i.ImageID,
			InstanceType: i.InstanceType, Architecture: a.arch(), ReservationID: i.ReservationID, LaunchIndex: i.LaunchIndex,
			LaunchTime: i.LaunchTime, KeyName: i.KeyName, PrivateIP: i.PrivateIP, SubnetID: i.SubnetID, VpcID: i.VpcID,
			Hostname: dnsname.PrivateDNSName(region, i.PrivateIP),
			Endpoint: a.Meta.Endpoint != "disabled", Tokens: a.Meta.Tokens == "required", HopLimit: max(a.Meta.HopLimit, 1)}
		if a.Meta.Tags == "enabled" {
			m.Tags = map[string]string{}
			for k, v := range i.Tags {
				m.Tags[k] = v
			}
		}
		if e, ok := getT[*eniRec](st, i.PrimaryENI); ok {
			v := eniView{e, st}
			m.InterfaceID, m.MAC, m.PublicIP = e.ID, e.MAC, v.publicIP()
			m.PublicHostname = st.publicDNSOf(e, m.PublicIP)
			m.GroupIDs, m.GroupNames = append([]string(nil), e.Groups...), v.groupNames()
		}
		if i.KeyName != "" {
			if k := findKey(st, i.KeyName); k != nil {
				m.PublicKey = k.PublicKey
			}
		}
		if sn, ok := getT[*subnetRec](st, i.SubnetID); ok {
			m.SubnetCIDR = sn.CIDR
		}
		if v, ok := getT[*vpcRec](st, i.VpcID); ok {
			m.VpcCIDR = v.CIDR
		}
		if p := i.Profile; p != nil {
			m.Profile = &MetadataProfile{AssociationID: p.ID, ARN: p.ARN, ID: p.ProfileID, Name: p.name()}
		}
		if i.UserData != "" {
			b, err := base64.StdEncoding.DecodeString(i.UserData)
			if err != nil {
				b = []byte(i.UserData)
			}
			m.UserData = b
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return m, nil
}
