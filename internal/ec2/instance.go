package ec2

import (
	"context"
	"encoding/base64"
	"slices"
	"time"

	"github.com/cachalot-dev/cachalot/internal/api/ec2api"
	"github.com/cachalot-dev/cachalot/internal/awserr"
	"github.com/cachalot-dev/cachalot/internal/dnsname"
)

// Instance states. Transitions complete at once: RunInstances answers
// "pending" and the instance is "running" from then on; Stop answers
// "stopping" and leaves it "stopped"; Terminate answers "shutting-down" and
// leaves it "terminated". Terminated instances stay visible for an hour, as
// on AWS, and are purged by the next write that launches or terminates.
var stateCodes = map[string]int32{"pending": 0, "running": 16, "shutting-down": 32, "terminated": 48, "stopping": 64, "stopped": 80}

const terminatedTTL = time.Hour

func stateOf(name string) *ec2api.InstanceState {
	return &ec2api.InstanceState{Code: ptr(stateCodes[name]), Name: ptr(name)}
}

func tagsForTypes(specs []ec2api.TagSpecification, allowed ...string) (map[string]map[string]string, error) {
	out := map[string]map[string]string{}
	for _, sp := range specs {
		rt := str(sp.ResourceType)
		if !slices.Contains(allowed, rt) {
			return nil, awserr.InvalidParameterValue("'%s' is not a valid taggable resource type for this operation.", rt)
		}
		m, err := tagsFor([]ec2api.TagSpecification{sp}, rt)
		if err != nil {
			return nil, err
		}
		if out[rt] == nil {
			out[rt] = map[string]string{}
		}
		for k, v := range m {
			out[rt][k] = v
		}
	}
	return out, nil
}

// RunInstances implements ec2api.Operations. A launch template's
// parameters apply where the request gives none (launchtemplates.go).
func (s *Service) RunInstances(ctx context.Context, in *ec2api.RunInstancesRequest) (*ec2api.Reservation, error) {
	sc := scopeOf(ctx)
	profSpec, prof, err := s.launchProfile(ctx, in)
	if err != nil {
		return nil, err
	}
	var out *ec2api.Reservation
	err = s.update(ctx, sc, func(t *txn, st *scopeTx) error {
		if prior := clientTokenInstances(st, str(in.ClientToken)); len(prior) > 0 {
			out = st.reservationOut(prior[0].ReservationID, prior)
			return nil
		}
		in, lt, err := withLaunchTemplate(st, in)
		if err != nil {
			return err
		}
		if err := refuseParams("RunInstances", in); err != nil {
			return err
		}
		spec, err := parseRunInstances(in)
		if err != nil {
			return err
		}
		opts, err := parseLaunchOpts(st, in, spec)
		if err != nil {
			return err
		}
		opts.attrs.LaunchTemplate, opts.attrs.LaunchTemplateNm, opts.attrs.LaunchTemplateV = lt.id, lt.name, lt.version
		if !sameProfileSpec(profSpec, in.IamInstanceProfile) {
			return errIncorrectState("The launch template changed while the instance profile it names was resolved; try again.")
		}
		opts.profile = prof
		t.purgeTerminated(st)
		classic := spec.subnetID == "" && st.meta.Classic
		if classic {
			t.ensureClassicDefault(st)
		}
		sn, err := launchSubnet(st, in, spec.subnetID)
		if err != nil {
			return err
		}
		groups, err := resolveGroups(st, sn.VpcID, spec.groupIDs, in.SecurityGroups, s.cfg.GroupsPerInterface)
		if err != nil {
			return err
		}
		n, err := s.launchCount(st, sn, spec.minC, spec.maxC)
		if err != nil {
			return err
		}
		if err := dryRun(in.DryRun); err != nil {
			return err
		}
		resID := newID("r-")
		made, err := t.launch(st, in, spec, opts, sn, groups, classic, resID, n)
		if err != nil {
			return err
		}
		out = st.reservationOut(resID, made)
		for k := range out.Instances {
			o := &out.Instances[k]
			o.State = stateOf("pending")
			o.StateReason = &ec2api.StateReason{Code: ptr("pending"), Message: ptr("pending")}
			o.MetadataOptions.State = ptr("pending")
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// runSpec is a RunInstances request validated before the transaction.
type runSpec struct {
	minC, maxC int32
	// subnetID, ip and groupIDs come from the request or from its one
	// network interface specification.
	subnetID, ip string
	groupIDs     []string
	itype        string                       // default m1.small
	tags         map[string]map[string]string // by resource type
}

// parseRunInstances validates what RunInstances can check without the
// store.
func parseRunInstances(in *ec2api.RunInstancesRequest) (*runSpec, error) {
	minC, maxC := int32(0), int32(0)
	if in.MinCount != nil {
		minC = *in.MinCount
	}
	if in.MaxCount != nil {
		maxC = *in.MaxCount
	}
	switch {
	case minC < 1:
		return nil, awserr.InvalidParameterValue("Invalid value '%d' for minCount. Must be greater than zero.", minC)
	case maxC < minC:
		return nil, awserr.InvalidParameterValue("Invalid value '%d' for maxCount. Must be greater than or equal to minCount.", maxC)
	case in.ImageId == nil || *in.ImageId == "":
		return nil, awserr.MissingParameter("ImageId")
	}
	subnetID := str(in.SubnetId)
	ip := str(in.PrivateIpAddress)
	groupIDs := in.SecurityGroupIds
	if len(in.NetworkInterfaces) > 1 {
		return nil, awserr.InvalidParameterValue("Cachalot instances have one network interface.")
	}
	if len(in.NetworkInterfaces) == 1 {
		ni := in.NetworkInterfaces[0]
		if ni.NetworkInterfaceId != nil {
			return nil, awserr.InvalidParameterValue("Attaching an existing network interface at launch is not supported by Cachalot.")
		}
		if subnetID != "" || ip != "" || len(groupIDs) > 0 || len(in.SecurityGroups) > 0 {
			return nil, awserr.InvalidParameterCombination("Network interfaces and an instance-level subnet, security groups or private IP address cannot be specified on the same request")
		}
		subnetID, ip, groupIDs = str(ni.SubnetId), str(ni.PrivateIpAddress), ni.Groups
		if ip == "" && len(ni.PrivateIpAddresses) == 1 {
			ip = str(ni.PrivateIpAddresses[0].PrivateIpAddress)
		}
	}
	if ip != "" && maxC > 1 {
		return nil, awserr.InvalidParameterCombination("Cannot specify a private IP address when launching more than one instance.")
	}
	if in.UserData != nil {
		if _, err := base64.StdEncoding.DecodeString(*in.UserData); err != nil {
			return nil, awserr.InvalidParameterValue("Invalid BASE64 encoding of user data.")
		}
		if len(*in.UserData) > 16384*4/3+4 {
			return nil, awserr.InvalidParameterValue("User data is limited to 16384 bytes.")
		}
	}
	tags, err := tagsForTypes(in.TagSpecifications, "instance", "network-interface", "volume")
	if err != nil {
		return nil, err
	}
	itype := str(in.InstanceType)
	if itype == "" {
		itype = "m1.small"
	}
	return &runSpec{minC: minC, maxC: maxC, subnetID: subnetID, ip: ip, groupIDs: groupIDs, itype: itype, tags: tags}, nil
}

// clientTokenInstances returns the instances an earlier RunInstances with
// the same client token launched; none for an empty token.
func clientTokenInstances(st *scopeTx, tok string) []*instanceRec {
	if tok == "" {
		return nil
	}
	var prior []*instanceRec
	for _, i := range listT[*instanceRec](st, "instance") {
		if i.ClientToken == tok {
			prior = append(prior, i)
		}
	}
	return prior
}

// launchSubnet returns the subnet RunInstances launches into: subnetID
// (the instance's or its network interface's), else the EC2-Classic network
// of a Classic account, else the default VPC's default subnet (in the
// Placement zone when one is given). Group names (SecurityGroups) are
// resolved in its VPC, which must then be the default VPC.
func launchSubnet(st *scopeTx, in *ec2api.RunInstancesRequest, subnetID string) (*subnetRec, error) {
	az := ""
	if in.Placement != nil {
		az = str(in.Placement.AvailabilityZone)
	}
	switch {
	case subnetID == "" && st.meta.Classic:
		az, err := classicAZ(st.sc.Region, az)
		if err != nil {
			return nil, err
		}
		return classicSubnet(az), nil
	case subnetID != "":
		sn, err := lookup[*subnetRec](st, "subnet", subnetID)
		if err != nil {
			return nil, err
		}
		if len(in.SecurityGroups) > 0 && sn.VpcID != st.meta.DefaultVpcID {
			return nil, awserr.InvalidParameterCombination("The parameter groupName cannot be used with the parameter subnet")
		}
		return sn, nil
	}
	for _, o := range listT[*subnetRec](st, "subnet") {
		if o.VpcID == st.meta.DefaultVpcID && o.DefaultForAZ && (az == "" || o.AZ == az) {
			return o, nil
		}
	}
	return nil, errVPCIdNotSpecified()
}

// launchCount returns how many instances, between minC and maxC, the
// instance limit and the free addresses of sn allow.
func (s *Service) launchCount(st *scopeTx, sn *subnetRec, minC, maxC int32) (int32, error) {
	live := 0
	for _, i := range listT[*instanceRec](st, "instance") {
		if i.State != "terminated" {
			live++
		}
	}
	n := min(maxC, int32(s.cfg.MaxInstances-live))
	if n < minC {
		return 0, errInstanceLimitExceeded(minC, s.cfg.MaxInstances)
	}
	free := subnetSize(sn.CIDR) - int32(len(st.usedIPs(sn.ID)))
	if free < minC {
		return 0, errInsufficientFreeAddressesInSubnet(sn.ID)
	}
	return min(n, free), nil
}

// launch writes n instances of reservation resID, each with its primary
// network interface in sn.
func (t *txn) launch(st *scopeTx, in *ec2api.RunInstancesRequest, spec *runSpec, opts *launchOpts, sn *subnetRec, groups []string, classic bool, resID string, n int32) ([]*instanceRec, error) {
	var made []*instanceRec
	for k := range n {
		e, err := t.newENI(st, sn, groups, spec.ip, opts.eniDesc)
		if err != nil {
			return nil, err
		}
		e.Classic = classic
		i := &instanceRec{ID: newID("i-"), Owner: st.sc.Account, ReservationID: resID, ImageID: *in.ImageId, InstanceType: spec.itype,
			KeyName: str(in.KeyName), State: "running", SubnetID: sn.ID, VpcID: sn.VpcID, AZ: sn.AZ, PrimaryENI: e.ID,
			ENIs: []string{e.ID}, PrivateIP: e.PrivateIP, UserData: str(in.UserData), LaunchIndex: k, LaunchTime: t.now,
			ClientToken: str(in.ClientToken), ReservationGroups: in.SecurityGroups, Classic: classic}
		i.Tags = spec.tags["instance"]
		i.Attrs = opts.attrs
		if p := opts.profile; p != nil {
			i.Profile = &profileAssoc{ID: newID("iip-assoc-"), ARN: p.ARN, ProfileID: p.ProfileID, Since: t.now}
		}
		t.attachLaunchVolumes(st, i, opts.img, opts.root, opts.extra, spec.tags["volume"])
		e.InstanceID, e.AttachmentID, e.DeviceIndex, e.DeleteOnTerm, e.AttachTime = i.ID, newID("eni-attach-"), 0, opts.eniDelete, t.now
		e.Tags = spec.tags["network-interface"]
		e.AutoPublic = !classic && sn.MapPublicIP
		if opts.publicIP != nil && !classic {
			e.AutoPublic = *opts.publicIP
		}
		if err := t.assignPublicIP(st, e); err != nil {
			return nil, err
		}
		st.put(i)
		made = append(made, i)
	}
	return made, nil
}

// purgeTerminated forgets instances terminated more than an hour ago.
func (t *txn) purgeTerminated(st *scopeTx) {
	for _, i := range listT[*instanceRec](st, "instance") {
		if i.State == "terminated" && t.now.Sub(i.TerminatedAt) > terminatedTTL {
			st.del(i.ID)
		}
	}
}

func (st *scopeTx) reservationOut(resID string, insts []*instanceRec) *ec2api.Reservation {
	r := &ec2api.Reservation{ReservationId: ptr(resID), Groups: []ec2api.GroupIdentifier{}, Instances: []ec2api.Instance{}}
	for _, i := range insts {
		r.OwnerId = ptr(i.Owner)
		r.Instances = append(r.Instances, st.instanceOut(i))
	}
	return r
}

// instanceOut converts an instance, memoised per snapshot in read transactions.
func (st *scopeTx) instanceOut(i *instanceRec) ec2api.Instance {
	if !st.owned {
		if v, ok := st.base.memo.Load(i); ok {
			return v.(ec2api.Instance)
		}
	}
	out := ec2api.Instance{
		AmiLaunchIndex:        ptr(i.LaunchIndex),
		Architecture:          ptr(i.Attrs.arch()),
		BlockDeviceMappings:   st.instanceBDM(i),
		ClientToken:           ptr(i.ClientToken),
		EbsOptimized:          ptr(i.Attrs.EbsOptimized),
		EnaSupport:            ptr(!i.Attrs.NoEna),
		Hypervisor:            ptr("xen"),
		ImageId:               ptr(i.ImageID),
		InstanceId:            ptr(i.ID),
		InstanceType:          ptr(i.InstanceType),
		LaunchTime:            ptr(i.LaunchTime),
		Monitoring:            &ec2api.Monitoring{State: ptr(map[bool]string{false: "disabled", true: "enabled"}[i.Attrs.Monitoring])},
		Placement:             &ec2api.Placement{AvailabilityZone: ptr(i.AZ), GroupName: ptr(""), Tenancy: ptr("default")},
		ProductCodes:          []ec2api.ProductCode{},
		RootDeviceName:        ptr(i.Attrs.rootDevice()),
		RootDeviceType:        ptr("ebs"),
		State:                 stateOf(i.State),
		StateTransitionReason: ptr(""),
		Tags:                  tagList(i.Tags),
		VirtualizationType:    ptr("hvm"),
		SecurityGroups:        []ec2api.GroupIdentifier{},
		NetworkInterfaces:     []ec2api.InstanceNetworkInterface{},
	}
	if i.KeyName != "" {
		out.KeyName = ptr(i.KeyName)
	}
	instanceOptionsOut(i, &out)
	if i.State != "terminated" {
		if p := i.Profile; p != nil {
			out.IamInstanceProfile = &ec2api.IamInstanceProfile{Arn: ptr(p.ARN), Id: ptr(p.ProfileID)}
		}
		if !i.Classic {
			out.SubnetId, out.VpcId = ptr(i.SubnetID), ptr(i.VpcID)
		}
		out.PrivateIpAddress = ptr(i.PrivateIP)
		out.PrivateDnsName = ptr(dnsname.PrivateDNSName(st.sc.Region, i.PrivateIP))
		out.PublicDnsName = ptr("")
		out.SourceDestCheck = ptr(true)
	} else {
		out.PrivateDnsName = ptr("")
		out.PublicDnsName = ptr("")
	}
	for _, eid := range i.ENIs {
		e, ok := getT[*eniRec](st, eid)
		if !ok {
			continue
		}
		ne := st.eniOut(e)
		ie := ec2api.InstanceNetworkInterface{
			Description: ne.Description, Groups: ne.Groups, InterfaceType: ne.InterfaceType, Ipv6Addresses: []ec2api.InstanceIpv6Address{},
			MacAddress: ne.MacAddress, NetworkInterfaceId: ne.NetworkInterfaceId, OwnerId: ne.OwnerId, PrivateDnsName: ne.PrivateDnsName,
			PrivateIpAddress: ne.PrivateIpAddress, SourceDestCheck: ne.SourceDestCheck, Status: ne.Status, SubnetId: ne.SubnetId, VpcId: ne.VpcId,
			Attachment: &ec2api.InstanceNetworkInterfaceAttachment{AttachTime: ptr(e.AttachTime), AttachmentId: ptr(e.AttachmentID),
				DeleteOnTermination: ptr(e.DeleteOnTerm), DeviceIndex: ptr(e.DeviceIndex), NetworkCardIndex: ptr(int32(0)), Status: ptr("attached")},
		}
		pip := ec2api.InstancePrivateIpAddress{Primary: ptr(true), PrivateDnsName: ne.PrivateDnsName, PrivateIpAddress: ne.PrivateIpAddress}
		if ne.Association != nil {
			a := &ec2api.InstanceNetworkInterfaceAssociation{IpOwnerId: ne.Association.IpOwnerId, PublicDnsName: ne.Association.PublicDnsName, PublicIp: ne.Association.PublicIp}
			ie.Association, pip.Association = a, a
			if eid == i.PrimaryENI {
				out.PublicIpAddress = ne.Association.PublicIp
				out.PublicDnsName = ne.Association.PublicDnsName
			}
		}
		ie.PrivateIpAddresses = []ec2api.InstancePrivateIpAddress{pip}
		out.NetworkInterfaces = append(out.NetworkInterfaces, ie)
		if eid == i.PrimaryENI {
			out.SecurityGroups = ne.Groups
		}
	}
	if !st.owned {
		st.base.memo.Store(i, out)
	}
	return out
}

type instView struct {
	*instanceRec
	st *scopeTx
}

func (v instView) id() string { return v.ID }

func (v instView) enis() []*eniRec {
	var out []*eniRec
	for _, id := range v.ENIs {
		if e, ok := getT[*eniRec](v.st, id); ok {
			out = append(out, e)
		}
	}
	return out
}

func (v instView) eniField(f func(e *eniRec) []string) []string {
	var out []string
	for _, e := range v.enis() {
		out = append(out, f(e)...)
	}
	return out
}

func (v instView) groupNames() []string {
	return v.eniField(func(e *eniRec) []string { return eniView{e, v.st}.groupNames() })
}

func (v instView) primaryGroups() []string {
	if e, ok := getT[*eniRec](v.st, v.PrimaryENI); ok {
		return e.Groups
	}
	return nil
}

var instanceFilters = filterSet[instView]{
	fields: map[string]func(instView) []string{
		"availability-zone":   func(v instView) []string { return one(v.AZ) },
		"client-token":        func(v instView) []string { return one(v.ClientToken) },
		"image-id":            func(v instView) []string { return one(v.ImageID) },
		"instance-id":         func(v instView) []string { return one(v.ID) },
		"instance-state-name": func(v instView) []string { return one(v.State) },
		"instance-state-code": func(v instView) []string { return one(itoa(stateCodes[v.State])) },
		"instance-type":       func(v instView) []string { return one(v.InstanceType) },
		"key-name":            func(v instView) []string { return one(v.KeyName) },
		"launch-index":        func(v instView) []string { return one(itoa(v.LaunchIndex)) },
		"launch-time":         func(v instView) []string { return one(v.LaunchTime.Format("2006-01-02T15:04:05.000Z")) },
		"owner-id":            func(v instView) []string { return one(v.Owner) },
		"reservation-id":      func(v instView) []string { return one(v.ReservationID) },
		"private-ip-address":  func(v instView) []string { return one(v.PrivateIP) },
		"private-dns-name":    func(v instView) []string { return one(dnsname.PrivateDNSName(v.st.sc.Region, v.PrivateIP)) },
		"dns-name": func(v instView) []string {
			return v.eniField(func(e *eniRec) []string {
				if e.ID != v.PrimaryENI {
					return nil
				}
				return one(v.st.publicDNSOf(e, eniView{e, v.st}.publicIP()))
			})
		},
		"ip-address": func(v instView) []string {
			return v.eniField(func(e *eniRec) []string { return one(eniView{e, v.st}.publicIP()) })
		},
		"subnet-id": func(v instView) []string { return one(v.SubnetID) },
		"iam-instance-profile.arn": func(v instView) []string {
			if v.Profile == nil {
				return nil
			}
			return one(v.Profile.ARN)
		},
		"iam-instance-profile.id": func(v instView) []string {
			if v.Profile == nil {
				return nil
			}
			return one(v.Profile.ProfileID)
		},
		"iam-instance-profile.name": func(v instView) []string {
			if v.Profile == nil {
				return nil
			}
			return one(v.Profile.name())
		},
		"vpc-id":                                 func(v instView) []string { return one(v.VpcID) },
		"architecture":                           func(v instView) []string { return one("x86_64") },
		"root-device-type":                       func(v instView) []string { return one("ebs") },
		"tenancy":                                func(v instView) []string { return one("default") },
		"placement-group-name":                   func(v instView) []string { return nil },
		"instance.group-id":                      func(v instView) []string { return v.primaryGroups() },
		"instance.group-name":                    func(v instView) []string { return v.groupNames() },
		"group-id":                               func(v instView) []string { return v.primaryGroups() },
		"group-name":                             func(v instView) []string { return v.groupNames() },
		"network-interface.network-interface-id": func(v instView) []string { return v.ENIs },
		"network-interface.subnet-id":            func(v instView) []string { return v.eniField(func(e *eniRec) []string { return one(e.SubnetID) }) },
		"network-interface.vpc-id":               func(v instView) []string { return v.eniField(func(e *eniRec) []string { return one(e.VpcID) }) },
		"network-interface.private-ip-address":   func(v instView) []string { return v.eniField(func(e *eniRec) []string { return one(e.PrivateIP) }) },
		"network-interface.addresses.private-ip-address": func(v instView) []string {
			return v.eniField(func(e *eniRec) []string { return one(e.PrivateIP) })
		},
		"network-interface.group-id":    func(v instView) []string { return v.eniField(func(e *eniRec) []string { return e.Groups }) },
		"network-interface.group-name":  func(v instView) []string { return v.groupNames() },
		"network-interface.mac-address": func(v instView) []string { return v.eniField(func(e *eniRec) []string { return one(e.MAC) }) },
		"network-interface.status":      func(v instView) []string { return v.eniField(func(e *eniRec) []string { return one(e.status()) }) },
		"network-interface.attachment.attachment-id": func(v instView) []string {
			return v.eniField(func(e *eniRec) []string { return one(e.AttachmentID) })
		},
		"network-interface.association.public-ip": func(v instView) []string {
			return v.eniField(func(e *eniRec) []string { return one(eniView{e, v.st}.publicIP()) })
		},
	},
	tags: func(v instView) map[string]string { return v.Tags },
}

// DescribeInstances implements ec2api.Operations.
func (s *Service) DescribeInstances(ctx context.Context, in *ec2api.DescribeInstancesRequest) (*ec2api.DescribeInstancesResult, error) {
	if err := dryRun(in.DryRun); err != nil {
		return nil, err
	}
	if len(in.InstanceIds) > 0 && in.MaxResults != nil {
		return nil, awserr.InvalidParameterCombination("The parameter instancesSet cannot be used with the parameter maxResults")
	}
	out := &ec2api.DescribeInstancesResult{Reservations: []ec2api.Reservation{}}
	err := s.view(ctx, scopeOf(ctx), func(t *txn, st *scopeTx) error {
		for _, id := range in.InstanceIds {
			if _, err := lookup[*instanceRec](st, "instance", id); err != nil {
				return err
			}
		}
		recs, _ := selectIDs(listT[*instanceRec](st, "instance"), in.InstanceIds)
		recs = narrow(st, "instance", instanceFilters, in.Filters, recs, func(r *instanceRec) instView { return instView{r, st} })
		items := make([]instView, len(recs))
		for i, r := range recs {
			items[i] = instView{r, st}
		}
		items, err := filterItems(instanceFilters, in.Filters, items)
		if err != nil {
			return err
		}
		page, next, err := paginate(items, instView.id, in.MaxResults, in.NextToken, 5, 1000)
		if err != nil {
			return err
		}
		idx := map[string]int{}
		for _, v := range page {
			k, ok := idx[v.ReservationID]
			if !ok {
				out.Reservations = append(out.Reservations, ec2api.Reservation{ReservationId: ptr(v.ReservationID), OwnerId: ptr(v.Owner),
					Groups: []ec2api.GroupIdentifier{}})
				k = len(out.Reservations) - 1
				idx[v.ReservationID] = k
			}
			out.Reservations[k].Instances = append(out.Reservations[k].Instances, st.instanceOut(v.instanceRec))
		}
		out.NextToken = next
		return nil
	})
	return out, err
}
