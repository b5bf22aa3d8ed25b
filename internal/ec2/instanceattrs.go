package ec2

import (
	"context"
	"encoding/base64"
	"slices"
	"strings"
	"time"

	"github.com/cachalot-dev/cachalot/internal/api/ec2api"
	"github.com/cachalot-dev/cachalot/internal/awserr"
)

// Instance attributes: DescribeInstanceAttribute / ModifyInstanceAttribute
// for every attribute AWS has, credit specifications of burstable types and
// the instance metadata options. They are records: disableApiTermination
// and disableApiStop are enforced by TerminateInstances and StopInstances;
// the rest is reported as set.

// instAttrs are the attributes of an instance beyond its network identity.
type instAttrs struct {
	DisableTerm  bool   `json:"disableTerm,omitempty"`
	DisableStop  bool   `json:"disableStop,omitempty"`
	Shutdown     string `json:"shutdown,omitempty"` // "stop" (default) or "terminate"
	EbsOptimized bool   `json:"ebsOptimized,omitempty"`
	NoEna        bool   `json:"noEna,omitempty"`
	Sriov        string `json:"sriov,omitempty"`
	Kernel       string `json:"kernel,omitempty"`
	Ramdisk      string `json:"ramdisk,omitempty"`
	// Credits is the CPU credit option of a burstable type; "" the
	// family's default (creditDefault).
	Credits    string    `json:"credits,omitempty"`
	Meta       metaOpts  `json:"meta"`
	Arch       string    `json:"arch,omitempty"` // default x86_64
	Monitoring bool      `json:"monitoring,omitempty"`
	Hibernate  bool      `json:"hibernate,omitempty"`
	Platform   string    `json:"platform,omitempty"`
	RootDevice string    `json:"rootDevice,omitempty"` // default /dev/xvda
	StoppedAt  time.Time `json:"stoppedAt,omitzero"`
	Reboots    int       `json:"reboots,omitempty"`
	// LaunchTemplate is the template (id, version) the instance was launched from.
	LaunchTemplate   string `json:"lt,omitempty"`
	LaunchTemplateV  string `json:"ltv,omitempty"`
	LaunchTemplateNm string `json:"ltn,omitempty"`
}

// metaOpts are the instance metadata options.
type metaOpts struct {
	Tokens   string `json:"tokens,omitempty"`   // optional, required
	Endpoint string `json:"endpoint,omitempty"` // enabled, disabled
	HopLimit int32  `json:"hops,omitempty"`
	IPv6     string `json:"ipv6,omitempty"` // enabled, disabled
	Tags     string `json:"tags,omitempty"` // enabled, disabled
}

// creditDefault is the CPU credit option a burstable family starts with.
func creditDefault(itype string) string {
	if strings.HasPrefix(itype, "t2.") {
		return "standard"
	}
	return "unlimited"
}

func burstable(itype string) bool {
	t := findType(itype)
	return t != nil && t.burstable
}

func (a *instAttrs) credits(itype string) string {
	if a.Credits != "" {
		return a.Credits
	}
	return creditDefault(itype)
}

func (a *instAttrs) arch() string       { return cmpOr(a.Arch, "x86_64") }
func (a *instAttrs) rootDevice() string { return cmpOr(a.RootDevice, "/dev/xvda") }

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// applyMeta validates a metadata options request and applies it to m.
func applyMeta(m *metaOpts, tokens, endpoint, ipv6, tags *string, hops *int32) error {
	oneOf := func(p *string, name string, vals ...string) error {
		if p != nil && !slices.Contains(vals, *p) {
			return awserr.InvalidParameterValue("Value (%s) for parameter %s is invalid. Valid values are %s.", *p, name, strings.Join(vals, ", "))
		}
		return nil
	}
	for _, err := range []error{oneOf(tokens, "HttpTokens", "optional", "required"), oneOf(endpoint, "HttpEndpoint", "enabled", "disabled"),
		oneOf(ipv6, "HttpProtocolIpv6", "enabled", "disabled"), oneOf(tags, "InstanceMetadataTags", "enabled", "disabled")} {
		if err != nil {
			return err
		}
	}
	if hops != nil && (*hops < 1 || *hops > 64) {
		return awserr.InvalidParameterValue("Value (%d) for parameter HttpPutResponseHopLimit is invalid. Valid values are 1 to 64.", *hops)
	}
	set := func(dst *string, p *string) {
		if p != nil {
			*dst = *p
		}
	}
	set(&m.Tokens, tokens)
	set(&m.Endpoint, endpoint)
	set(&m.IPv6, ipv6)
	set(&m.Tags, tags)
	if hops != nil {
		m.HopLimit = *hops
	}
	return nil
}

// imdsSupport is the ImdsSupport an image made from the instance gets.
func (m metaOpts) imdsSupport() string {
	if m.Tokens == "required" {
		return "v2.0"
	}
	return ""
}

func (m metaOpts) out(state string) *ec2api.InstanceMetadataOptionsResponse {
	return &ec2api.InstanceMetadataOptionsResponse{HttpTokens: ptr(cmpOr(m.Tokens, "optional")), HttpEndpoint: ptr(cmpOr(m.Endpoint, "enabled")),
		HttpPutResponseHopLimit: ptr(max(m.HopLimit, 1)), HttpProtocolIpv6: ptr(cmpOr(m.IPv6, "disabled")),
		InstanceMetadataTags: ptr(cmpOr(m.Tags, "disabled")), State: ptr(state)}
}

// instanceAttrNames are the attributes DescribeInstanceAttribute and
// ModifyInstanceAttribute know (the InstanceAttributeName enum).
var instanceAttrNames = []string{"instanceType", "kernel", "ramdisk", "userData", "disableApiTermination", "instanceInitiatedShutdownBehavior",
	"rootDeviceName", "blockDeviceMapping", "productCodes", "sourceDestCheck", "groupSet", "ebsOptimized", "sriovNetSupport", "enaSupport",
	"enclaveOptions", "disableApiStop"}

// modifyAttr names the one attribute a ModifyInstanceAttribute request
// changes, from its typed fields or its Attribute/Value pair.
func modifyAttr(in *ec2api.ModifyInstanceAttributeRequest) (string, error) {
	var set []string
	add := func(ok bool, name string) {
		if ok {
			set = append(set, name)
		}
	}
	add(len(in.BlockDeviceMappings) > 0, "blockDeviceMapping")
	add(in.DisableApiStop != nil, "disableApiStop")
	add(in.DisableApiTermination != nil, "disableApiTermination")
	add(in.EbsOptimized != nil, "ebsOptimized")
	add(in.EnaSupport != nil, "enaSupport")
	add(len(in.Groups) > 0, "groupSet")
	add(in.InstanceInitiatedShutdownBehavior != nil, "instanceInitiatedShutdownBehavior")
	add(in.InstanceType != nil, "instanceType")
	add(in.Kernel != nil, "kernel")
	add(in.Ramdisk != nil, "ramdisk")
	add(in.SourceDestCheck != nil, "sourceDestCheck")
	add(in.SriovNetSupport != nil, "sriovNetSupport")
	add(in.UserData != nil, "userData")
	if a := str(in.Attribute); a != "" {
		if !slices.Contains(instanceAttrNames, a) {
			return "", awserr.InvalidParameterValue("Value (%s) for parameter attribute is invalid. Unknown attribute.", a)
		}
		if in.Value == nil && len(set) == 0 && a != "groupSet" {
			return "", awserr.MissingParameter("Value")
		}
		if !slices.Contains(set, a) {
			set = append(set, a)
		}
	}
	switch len(set) {
	case 0:
		return "", awserr.MissingParameter("Attribute")
	case 1:
		return set[0], nil
	}
	return "", awserr.InvalidParameterCombination("Fields for multiple attribute types specified: %s", strings.Join(set, ", "))
}

// attrString is the value of a string attribute: its typed field or Value.
func attrString(typed *ec2api.AttributeValue, value *string) string {
	if typed != nil {
		return str(typed.Value)
	}
	return str(value)
}

// attrBool is the value of a boolean attribute: its typed field or Value.
func attrBool(typed *ec2api.AttributeBooleanValue, value *string, name string) (bool, error) {
	if typed != nil {
		return typed.Value != nil && *typed.Value, nil
	}
	switch strings.ToLower(str(value)) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, awserr.InvalidParameterValue("Value (%s) for parameter %s is invalid. Expecting true or false.", str(value), name)
}

// stoppedOnly are the attributes AWS changes only on a stopped instance.
var stoppedOnly = []string{"instanceType", "kernel", "ramdisk", "userData", "ebsOptimized", "enaSupport", "sriovNetSupport"}

// ModifyInstanceAttribute implements ec2api.Operations: one attribute per
// call, as AWS; instanceType, kernel, ramdisk, userData, ebsOptimized,
// enaSupport and sriovNetSupport only while the instance is stopped.
func (s *Service) ModifyInstanceAttribute(ctx context.Context, in *ec2api.ModifyInstanceAttributeRequest) error {
	attr, err := modifyAttr(in)
	if err != nil {
		return err
	}
	return s.update(ctx, scopeOf(ctx), func(t *txn, st *scopeTx) error {
		i, err := lookup[*instanceRec](st, "instance", str(in.InstanceId))
		if err != nil {
			return err
		}
		if i.State == "terminated" || i.State == "shutting-down" {
			return errIncorrectInstanceState("The instance '%s' is not in a state from which it can be modified.", i.ID)
		}
		if slices.Contains(stoppedOnly, attr) && i.State != "stopped" {
			return errIncorrectInstanceState("The instance '%s' is not in the 'stopped' state.", i.ID)
		}
		if err := s.modifyAttr(t, st, i, attr, in); err != nil {
			return err
		}
		return dryRun(in.DryRun)
	})
}

// modifyAttr applies one attribute change to i in the transaction.
func (s *Service) modifyAttr(t *txn, st *scopeTx, i *instanceRec, attr string, in *ec2api.ModifyInstanceAttributeRequest) error {
	val := in.Value
	var b bool
	var err error
	switch attr {
	case "disableApiTermination":
		b, err = attrBool(in.DisableApiTermination, val, attr)
	case "disableApiStop":
		b, err = attrBool(in.DisableApiStop, val, attr)
	case "ebsOptimized":
		b, err = attrBool(in.EbsOptimized, val, attr)
	case "enaSupport":
		b, err = attrBool(in.EnaSupport, val, attr)
	case "sourceDestCheck":
		b, err = attrBool(in.SourceDestCheck, val, attr)
	}
	if err != nil {
		return err
	}
	m := func() *instanceRec { return mut[*instanceRec](st, i.ID) }
	switch attr {
	case "groupSet":
		return s.modifyGroups(st, i, in)
	case "sourceDestCheck":
		if e := mut[*eniRec](st, i.PrimaryENI); e != nil {
			e.SourceDestCheck = b
		}
	case "disableApiTermination":
		m().Attrs.DisableTerm = b
	case "disableApiStop":
		m().Attrs.DisableStop = b
	case "ebsOptimized":
		m().Attrs.EbsOptimized = b
	case "enaSupport":
		m().Attrs.NoEna = !b
	case "instanceType":
		v := attrString(in.InstanceType, val)
		if err := validInstanceType(v); err != nil {
			return err
		}
		if t := findType(v); !slices.Contains(t.archs, i.Attrs.arch()) {
			return awserr.InvalidParameterValue("The instance type '%s' does not support the architecture '%s' of instance '%s'.", v, i.Attrs.arch(), i.ID)
		}
		m().InstanceType = v
	case "instanceInitiatedShutdownBehavior":
		v := attrString(in.InstanceInitiatedShutdownBehavior, val)
		if v != "stop" && v != "terminate" {
			return awserr.InvalidParameterValue("Value (%s) for parameter instanceInitiatedShutdownBehavior is invalid. Valid values are stop, terminate.", v)
		}
		m().Attrs.Shutdown = v
	case "kernel", "ramdisk":
		return modifyKernel(m, attr, in, val)
	case "sriovNetSupport":
		if v := attrString(in.SriovNetSupport, val); v != "simple" {
			return awserr.InvalidParameterValue("Value (%s) for parameter sriovNetSupport is invalid. The only valid value is simple.", v)
		}
		m().Attrs.Sriov = "simple"
	case "userData":
		return modifyUserData(m, in)
	case "blockDeviceMapping":
		return t.modifyInstanceBDM(st, i, in.BlockDeviceMappings)
	case "rootDeviceName", "productCodes":
		return awserr.InvalidParameterValue("The attribute '%s' of an instance cannot be modified.", attr)
	case "enclaveOptions":
		return errUnsupportedOperation("Nitro Enclaves are not supported by Cachalot instances (attribute enclaveOptions).")
	}
	return nil
}

func modifyKernel(m func() *instanceRec, attr string, in *ec2api.ModifyInstanceAttributeRequest, val *string) error {
	typed, prefix := in.Kernel, "aki-"
	if attr == "ramdisk" {
		typed, prefix = in.Ramdisk, "ari-"
	}
	v := attrString(typed, val)
	if v != "" && !wellFormed(v, prefix) {
		return awserr.InvalidParameterValue("Value (%s) for parameter %s is invalid. Expecting an id %s...", v, attr, prefix)
	}
	if attr == "kernel" {
		m().Attrs.Kernel = v
	} else {
		m().Attrs.Ramdisk = v
	}
	return nil
}

func modifyUserData(m func() *instanceRec, in *ec2api.ModifyInstanceAttributeRequest) error {
	var raw []byte
	if in.UserData != nil {
		raw = in.UserData.Value
	} else {
		b, err := base64.StdEncoding.DecodeString(str(in.Value))
		if err != nil {
			return awserr.InvalidParameterValue("Invalid BASE64 encoding of user data.")
		}
		raw = b
	}
	if len(raw) > 16384 {
		return awserr.InvalidParameterValue("User data is limited to 16384 bytes.")
	}
	m().UserData = base64.StdEncoding.EncodeToString(raw)
	return nil
}

// modifyGroups replaces the groups of the instance's primary interface.
func (s *Service) modifyGroups(st *scopeTx, i *instanceRec, in *ec2api.ModifyInstanceAttributeRequest) error {
	ids := in.Groups
	if len(ids) == 0 && str(in.Value) != "" {
		ids = []string{str(in.Value)}
	}
	if len(ids) == 0 {
		return awserr.MissingParameter("GroupId")
	}
	groups, err := resolveGroups(st, i.VpcID, ids, nil, s.cfg.GroupsPerInterface)
	if err != nil {
		return err
	}
	e := mut[*eniRec](st, i.PrimaryENI)
	if e == nil {
		return errIncorrectInstanceState("The instance '%s' has no network interface.", i.ID)
	}
	e.Groups = groups
	return nil
}

// DescribeInstanceAttribute implements ec2api.Operations for every attribute.
func (s *Service) DescribeInstanceAttribute(ctx context.Context, in *ec2api.DescribeInstanceAttributeRequest) (*ec2api.InstanceAttribute, error) {
	attr := str(in.Attribute)
	if attr == "" {
		return nil, awserr.MissingParameter("Attribute")
	}
	if !slices.Contains(instanceAttrNames, attr) {
		return nil, awserr.InvalidParameterValue("Value (%s) for parameter attribute is invalid. Unknown attribute.", attr)
	}
	if err := dryRun(in.DryRun); err != nil {
		return nil, err
	}
	out := &ec2api.InstanceAttribute{InstanceId: in.InstanceId}
	err := s.view(ctx, scopeOf(ctx), func(t *txn, st *scopeTx) error {
		i, err := lookup[*instanceRec](st, "instance", str(in.InstanceId))
		if err != nil {
			return err
		}
		describeAttr(st, i, attr, out)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func describeAttr(st *scopeTx, i *instanceRec, attr string, out *ec2api.InstanceAttribute) {
	a := &i.Attrs
	bv := func(b bool) *ec2api.AttributeBooleanValue { return &ec2api.AttributeBooleanValue{Value: ptr(b)} }
	sv := func(s string) *ec2api.AttributeValue {
		if s == "" {
			return &ec2api.AttributeValue{}
		}
		return &ec2api.AttributeValue{Value: ptr(s)}
	}
	e, _ := getT[*eniRec](st, i.PrimaryENI)
	switch attr {
	case "groupSet":
		out.Groups = []ec2api.GroupIdentifier{}
		if e != nil {
			out.Groups = st.groupIdents(e.Groups)
		}
	case "instanceType":
		out.InstanceType = sv(i.InstanceType)
	case "userData":
		out.UserData = sv(i.UserData)
	case "sourceDestCheck":
		out.SourceDestCheck = bv(e == nil || e.SourceDestCheck)
	case "disableApiTermination":
		out.DisableApiTermination = bv(a.DisableTerm)
	case "disableApiStop":
		out.DisableApiStop = bv(a.DisableStop)
	case "instanceInitiatedShutdownBehavior":
		out.InstanceInitiatedShutdownBehavior = sv(cmpOr(a.Shutdown, "stop"))
	case "kernel":
		out.KernelId = sv(a.Kernel)
	case "ramdisk":
		out.RamdiskId = sv(a.Ramdisk)
	case "rootDeviceName":
		out.RootDeviceName = sv(a.rootDevice())
	case "blockDeviceMapping":
		out.BlockDeviceMappings = st.instanceBDM(i)
	case "productCodes":
		out.ProductCodes = []ec2api.ProductCode{}
	case "ebsOptimized":
		out.EbsOptimized = bv(a.EbsOptimized)
	case "sriovNetSupport":
		out.SriovNetSupport = sv(a.Sriov)
	case "enaSupport":
		out.EnaSupport = bv(!a.NoEna)
	case "enclaveOptions":
		out.EnclaveOptions = &ec2api.EnclaveOptions{Enabled: ptr(false)}
	}
}

var creditFilters = filterSet[*instanceRec]{fields: map[string]func(*instanceRec) []string{
	"instance-id": func(i *instanceRec) []string { return one(i.ID) },
}}

// DescribeInstanceCreditSpecifications implements ec2api.Operations: the
// CPU credit option of burstable instances (t2, t3, t3a, t4g), which is
// what AWS lists; named instances of other types are an error.
func (s *Service) DescribeInstanceCreditSpecifications(ctx context.Context, in *ec2api.DescribeInstanceCreditSpecificationsRequest) (*ec2api.DescribeInstanceCreditSpecificationsResult, error) {
	if err := dryRun(in.DryRun); err != nil {
		return nil, err
	}
	if len(in.InstanceIds) > 0 && in.MaxResults != nil {
		return nil, awserr.InvalidParameterCombination("The parameter instancesSet cannot be used with the parameter maxResults")
	}
	out := &ec2api.DescribeInstanceCreditSpecificationsResult{InstanceCreditSpecifications: []ec2api.InstanceCreditSpecification{}}
	err := s.view(ctx, scopeOf(ctx), func(t *txn, st *scopeTx) error {
		recs, err := instancesByIDs(st, in.InstanceIds)
		if err != nil {
			return err
		}
		var items []*instanceRec
		for _, i := range recs {
			switch {
			case burstable(i.InstanceType) && i.State != "terminated":
				items = append(items, i)
			case len(in.InstanceIds) > 0 && i.State != "terminated":
				return errUnsupportedOperation("The functionality you requested is not available for this instance type: %s (instance %s).", i.InstanceType, i.ID)
			}
		}
		items, err = filterItems(creditFilters, in.Filters, items)
		if err != nil {
			return err
		}
		page, next, err := paginate(items, func(i *instanceRec) string { return i.ID }, in.MaxResults, in.NextToken, 5, 1000)
		if err != nil {
			return err
		}
		for _, i := range page {
			out.InstanceCreditSpecifications = append(out.InstanceCreditSpecifications,
				ec2api.InstanceCreditSpecification{InstanceId: ptr(i.ID), CpuCredits: ptr(i.Attrs.credits(i.InstanceType))})
		}
		out.NextToken = next
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// instancesByIDs returns the named instances (all when ids is empty),
// sorted by id, or InvalidInstanceID.NotFound naming every missing one.
func instancesByIDs(st *scopeTx, ids []string) ([]*instanceRec, error) {
	var missing []string
	for _, id := range ids {
		if !wellFormed(id, "i-") {
			return nil, errInvalidInstanceIDMalformed(id)
		}
		if _, ok := getT[*instanceRec](st, id); !ok && !slices.Contains(missing, id) {
			missing = append(missing, id)
		}
	}
	switch len(missing) {
	case 0:
	case 1:
		return nil, errInvalidInstanceIDNotFound(missing[0])
	default:
		return nil, errInvalidInstanceIDsNotFound(strings.Join(missing, ", "))
	}
	recs, _ := selectIDs(listT[*instanceRec](st, "instance"), ids)
	return recs, nil
}

// ModifyInstanceCreditSpecification implements ec2api.Operations: each
// instance succeeds or fails on its own, as AWS answers.
func (s *Service) ModifyInstanceCreditSpecification(ctx context.Context, in *ec2api.ModifyInstanceCreditSpecificationRequest) (*ec2api.ModifyInstanceCreditSpecificationResult, error) {
	if len(in.InstanceCreditSpecifications) == 0 {
		return nil, awserr.MissingParameter("InstanceCreditSpecification")
	}
	out := &ec2api.ModifyInstanceCreditSpecificationResult{SuccessfulInstanceCreditSpecifications: []ec2api.SuccessfulInstanceCreditSpecificationItem{},
		UnsuccessfulInstanceCreditSpecifications: []ec2api.UnsuccessfulInstanceCreditSpecificationItem{}}
	err := s.update(ctx, scopeOf(ctx), func(t *txn, st *scopeTx) error {
		for _, spec := range in.InstanceCreditSpecifications {
			id, credits := str(spec.InstanceId), str(spec.CpuCredits)
			if credits != "standard" && credits != "unlimited" {
				return awserr.InvalidParameterValue("Value (%s) for parameter CpuCredits is invalid. Valid values are standard, unlimited.", credits)
			}
			fail := func(err error) {
				e, _ := awserr.As(err)
				out.UnsuccessfulInstanceCreditSpecifications = append(out.UnsuccessfulInstanceCreditSpecifications,
					ec2api.UnsuccessfulInstanceCreditSpecificationItem{InstanceId: ptr(id),
						Error: &ec2api.UnsuccessfulInstanceCreditSpecificationItemError{Code: ptr(e.Code), Message: ptr(e.Message)}})
			}
			i, err := lookup[*instanceRec](st, "instance", id)
			switch {
			case err != nil:
				fail(err)
			case !burstable(i.InstanceType):
				fail(errUnsupportedOperation("The functionality you requested is not available for this instance type: %s.", i.InstanceType))
			case i.State == "terminated" || i.State == "shutting-down":
				fail(errIncorrectInstanceState("The instance '%s' is not in a state from which it can be modified.", id))
			default:
				mut[*instanceRec](st, id).Attrs.Credits = credits
				out.SuccessfulInstanceCreditSpecifications = append(out.SuccessfulInstanceCreditSpecifications,
					ec2api.SuccessfulInstanceCreditSpecificationItem{InstanceId: ptr(id)})
			}
		}
		return dryRun(in.DryRun)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ModifyInstanceMetadataOptions implements ec2api.Operations. AWS answers
// the new options in state "pending"; describes show them "applied".
func (s *Service) ModifyInstanceMetadataOptions(ctx context.Context, in *ec2api.ModifyInstanceMetadataOptionsRequest) (*ec2api.ModifyInstanceMetadataOptionsResult, error) {
	var opts metaOpts
	err := s.update(ctx, scopeOf(ctx), func(t *txn, st *scopeTx) error {
		i, err := lookup[*instanceRec](st, "instance", str(in.InstanceId))
		if err != nil {
			return err
		}
		if i.State == "terminated" || i.State == "shutting-down" {
			return errIncorrectInstanceState("The instance '%s' is not in a state from which it can be modified.", i.ID)
		}
		opts = i.Attrs.Meta
		if err := applyMeta(&opts, in.HttpTokens, in.HttpEndpoint, in.HttpProtocolIpv6, in.InstanceMetadataTags, in.HttpPutResponseHopLimit); err != nil {
			return err
		}
		if err := dryRun(in.DryRun); err != nil {
			return err
		}
		mut[*instanceRec](st, i.ID).Attrs.Meta = opts
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &ec2api.ModifyInstanceMetadataOptionsResult{InstanceId: in.InstanceId, InstanceMetadataOptions: opts.out("pending")}, nil
}

// userStopReason is the StateTransitionReason AWS words for a stop or
// termination the user asked for.
func userStopReason(at time.Time) string {
	return "User initiated (" + at.UTC().Format("2006-01-02 15:04:05") + " GMT)"
}

// instanceOptionsOut fills the options and state reasons of an instance
// as DescribeInstances shows them.
func instanceOptionsOut(i *instanceRec, out *ec2api.Instance) {
	a := &i.Attrs
	out.MetadataOptions = a.Meta.out("applied")
	out.HibernationOptions = &ec2api.HibernationOptions{Configured: ptr(a.Hibernate)}
	out.MaintenanceOptions = &ec2api.InstanceMaintenanceOptions{AutoRecovery: ptr("default")}
	out.EnclaveOptions = &ec2api.EnclaveOptions{Enabled: ptr(false)}
	out.CapacityReservationSpecification = &ec2api.CapacityReservationSpecificationResponse{CapacityReservationPreference: ptr("open")}
	out.PrivateDnsNameOptions = &ec2api.PrivateDnsNameOptionsResponse{HostnameType: ptr("ip-name"),
		EnableResourceNameDnsARecord: ptr(false), EnableResourceNameDnsAAAARecord: ptr(false)}
	out.PlatformDetails, out.UsageOperation = ptr("Linux/UNIX"), ptr("RunInstances")
	out.UsageOperationUpdateTime = ptr(i.LaunchTime)
	if t := findType(i.InstanceType); t != nil {
		out.CpuOptions = &ec2api.CpuOptions{CoreCount: ptr(t.vcpus / t.threads()), ThreadsPerCore: ptr(t.threads())}
	}
	if a.Kernel != "" {
		out.KernelId = ptr(a.Kernel)
	}
	if a.Ramdisk != "" {
		out.RamdiskId = ptr(a.Ramdisk)
	}
	if a.Sriov != "" {
		out.SriovNetSupport = ptr(a.Sriov)
	}
	switch i.State {
	case "stopped":
		out.StateTransitionReason = ptr(userStopReason(a.StoppedAt))
		out.StateReason = &ec2api.StateReason{Code: ptr("Client.UserInitiatedShutdown"), Message: ptr("Client.UserInitiatedShutdown: User initiated shutdown")}
	case "terminated":
		out.StateTransitionReason = ptr(userStopReason(i.TerminatedAt))
		out.StateReason = &ec2api.StateReason{Code: ptr("Client.UserInitiatedShutdown"), Message: ptr("Client.UserInitiatedShutdown: User initiated shutdown")}
	}
}
