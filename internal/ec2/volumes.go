package ec2

import (
	"context"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"time"

	"github.com/cachalot-dev/cachalot/internal/api/ec2api"
	"github.com/cachalot-dev/cachalot/internal/awserr"
)

// EBS volumes as records: no block storage is behind them (a cache needs
// none), but they are consistent across calls. RunInstances gives every
// instance a root volume from its image (resized by a BlockDeviceMapping of
// the root device) and one per EBS mapping; CreateVolume, AttachVolume,
// DetachVolume and DeleteVolume manage the rest; DeleteOnTermination is
// honoured by TerminateInstances.

// volRec is an EBS volume.
type volRec struct {
	tagged
	ID         string    `json:"id"`
	Owner      string    `json:"owner"`
	AZ         string    `json:"az"`
	Size       int32     `json:"size"`
	Type       string    `json:"type"`
	Iops       int32     `json:"iops,omitempty"`
	Throughput int32     `json:"throughput,omitempty"`
	Encrypted  bool      `json:"encrypted,omitempty"`
	KmsKeyID   string    `json:"kmsKeyId,omitempty"`
	SnapshotID string    `json:"snapshotId,omitempty"`
	Created    time.Time `json:"created"`
	// Attachment, when in use.
	InstanceID   string    `json:"instanceId,omitempty"`
	Device       string    `json:"device,omitempty"`
	AttachTime   time.Time `json:"attachTime,omitzero"`
	DeleteOnTerm bool      `json:"deleteOnTermination,omitempty"`
	ClientToken  string    `json:"clientToken,omitempty"`
}

func (r *volRec) id() string { return r.ID }

func (r *volRec) state() string {
	if r.InstanceID != "" {
		return "in-use"
	}
	return "available"
}

// instVol is one block device of an instance.
type instVol struct {
	Device string `json:"device"`
	VolID  string `json:"volId"`
}

var volumeTypes = []string{"standard", "io1", "io2", "gp2", "gp3", "sc1", "st1"}

// volumeSpec is a validated volume request (CreateVolume or an EBS block
// device mapping).
type volumeSpec struct {
	size, iops, throughput int32
	typ, kms, snapshot     string
	encrypted, deleteOnT   bool
}

// parseVolume validates size, type, IOPS and throughput as AWS does. min is
// the least size (the image's root snapshot size for a root mapping).
func parseVolume(size, iops, throughput *int32, typ *string, encrypted *bool, kms *string, minSize int32) (volumeSpec, error) {
	v := volumeSpec{typ: str(typ), kms: str(kms), encrypted: encrypted != nil && *encrypted}
	if v.typ == "" {
		v.typ = "gp2"
	}
	if !slices.Contains(volumeTypes, v.typ) {
		return v, awserr.InvalidParameterValue("Value (%s) for parameter volumeType is invalid. Valid values: standard, io1, io2, gp2, gp3, sc1, st1.", v.typ)
	}
	if size != nil {
		v.size = *size
	} else if minSize > 0 {
		v.size = minSize
	} else {
		return v, awserr.MissingParameter("size")
	}
	lo, hi := int32(1), int32(16384)
	switch v.typ {
	case "io1", "io2":
		lo = 4
	case "sc1", "st1":
		lo = 125
	case "standard":
		hi = 1024
	}
	if v.size < lo || v.size > hi {
		return v, awserr.InvalidParameterValue("Volume of %dGiB is invalid for a %s volume: the size must be between %d and %d GiB.", v.size, v.typ, lo, hi)
	}
	if minSize > 0 && v.size < minSize {
		return v, errInvalidBlockDeviceMapping("Volume of size %dGB is smaller than snapshot, expect size >= %dGB", v.size, minSize)
	}
	if iops != nil {
		if v.typ != "io1" && v.typ != "io2" && v.typ != "gp3" {
			return v, awserr.InvalidParameterCombination("The parameter iops is not supported for %s volumes.", v.typ)
		}
		v.iops = *iops
	}
	switch {
	case (v.typ == "io1" || v.typ == "io2") && v.iops == 0:
		return v, awserr.MissingParameter("iops")
	case v.typ == "gp3" && v.iops == 0:
		v.iops = 3000
	case v.typ == "gp2":
		v.iops = min(max(100, 3*v.size), 16000)
	}
	if v.typ == "gp3" && (v.iops < 3000 || v.iops > 16000) {
		return v, awserr.InvalidParameterValue("Value (%d) for parameter iops is invalid. Expecting a value between 3000 and 16000 for gp3.", v.iops)
	}
	if throughput != nil {
		if v.typ != "gp3" {
			return v, awserr.InvalidParameterCombination("The parameter throughput is not supported for %s volumes.", v.typ)
		}
		v.throughput = *throughput
	} else if v.typ == "gp3" {
		v.throughput = 125
	}
	if v.typ == "gp3" && (v.throughput < 125 || v.throughput > 1000) {
		return v, awserr.InvalidParameterValue("Value (%d) for parameter throughput is invalid. Expecting a value between 125 and 1000.", v.throughput)
	}
	if v.kms != "" && !v.encrypted {
		return v, errInvalidParameterDependency("The parameter KmsKeyId requires the parameter Encrypted to be set.")
	}
	return v, nil
}

func (t *txn) newVolume(st *scopeTx, az string, v volumeSpec, tags map[string]string) *volRec {
	r := &volRec{ID: newID("vol-"), Owner: st.sc.Account, AZ: az, Size: v.size, Type: v.typ, Iops: v.iops, Throughput: v.throughput,
		Encrypted: v.encrypted, KmsKeyID: v.kms, SnapshotID: v.snapshot, Created: t.now}
	if v.encrypted && r.KmsKeyID == "" {
		r.KmsKeyID = "arn:aws:kms:" + st.sc.Region + ":" + st.sc.Account + ":alias/aws/ebs"
	}
	if len(tags) > 0 {
		r.Tags = maps.Clone(tags)
	}
	st.put(r)
	return r
}

var deviceRe = regexp.MustCompile(`^/dev/(sd[a-z][0-9]*|xvd[a-z]{1,2}[0-9]*)$|^xvd[a-z]{1,2}$`)

// launchBDM is a RunInstances block device mapping, validated.
type launchBDM struct {
	device string
	vol    volumeSpec
}

// parseLaunchBDMs validates RunInstances' BlockDeviceMappings against the
// image: the root device's mapping resizes the root volume; NoDevice
// suppresses a mapping; ephemeral (VirtualName) mappings are accepted and,
// as on AWS for types without instance store, give no device.
func parseLaunchBDMs(in []ec2api.BlockDeviceMapping, img *image) (root volumeSpec, extra []launchBDM, err error) {
	root, err = parseVolume(nil, nil, nil, ptr(img.rootType), nil, nil, img.rootSize)
	if err != nil {
		return root, nil, err
	}
	root.deleteOnT = true
	var seen []string
	for _, m := range in {
		dev := str(m.DeviceName)
		if dev == "" {
			return root, nil, awserr.MissingParameter("BlockDeviceMapping.DeviceName")
		}
		if !deviceRe.MatchString(dev) {
			return root, nil, errInvalidBlockDeviceMapping("Invalid device name %s", dev)
		}
		if slices.Contains(seen, dev) {
			return root, nil, errInvalidBlockDeviceMapping("The device '%s' is used in more than one block-device mapping", dev)
		}
		seen = append(seen, dev)
		if m.NoDevice != nil || m.VirtualName != nil {
			if m.Ebs != nil {
				return root, nil, errInvalidBlockDeviceMapping("The device %s cannot have both an EBS volume and %s.", dev, cmpOr(str(m.VirtualName), "NoDevice"))
			}
			if dev == img.rootDevice && m.NoDevice != nil {
				return root, nil, errInvalidBlockDeviceMapping("The root device %s cannot be suppressed.", dev)
			}
			continue
		}
		if m.Ebs == nil {
			return root, nil, errInvalidBlockDeviceMapping("The device %s has no EBS, NoDevice or VirtualName.", dev)
		}
		e := m.Ebs
		if e.SnapshotId != nil || e.OutpostArn != nil || e.AvailabilityZone != nil || e.AvailabilityZoneId != nil || e.EbsCardIndex != nil || e.VolumeInitializationRate != nil {
			return root, nil, refusedEbsField(e)
		}
		minSize := int32(0)
		if dev == img.rootDevice {
			minSize = img.rootSize
		}
		v, err := parseVolume(e.VolumeSize, e.Iops, e.Throughput, cmpPtrS(e.VolumeType, img.rootType, dev == img.rootDevice), e.Encrypted, e.KmsKeyId, minSize)
		if err != nil {
			return root, nil, err
		}
		v.deleteOnT = e.DeleteOnTermination == nil || *e.DeleteOnTermination
		if dev != img.rootDevice && e.DeleteOnTermination == nil {
			v.deleteOnT = true
		}
		if dev == img.rootDevice {
			root = v
			continue
		}
		extra = append(extra, launchBDM{device: dev, vol: v})
	}
	return root, extra, nil
}

// refusedEbsField answers the EBS mapping parameters Cachalot refuses.
func refusedEbsField(e *ec2api.EbsBlockDevice) error {
	switch {
	case e.SnapshotId != nil:
		return errInvalidSnapshotNotFound(str(e.SnapshotId))
	case e.OutpostArn != nil:
		return errUnsupportedOperation("Outposts are not supported by Cachalot (parameter OutpostArn).")
	case e.EbsCardIndex != nil:
		return errUnsupportedOperation("The parameter EbsCardIndex is not supported by Cachalot's instance types.")
	case e.VolumeInitializationRate != nil:
		return errUnsupportedOperation("The parameter VolumeInitializationRate needs a snapshot; Cachalot has none.")
	}
	return awserr.InvalidParameterValue("The parameter AvailabilityZone of a block device mapping is the instance's; it cannot be given.")
}

func cmpPtrS(p *string, def string, useDef bool) *string {
	if p == nil && useDef {
		return &def
	}
	return p
}

// attachLaunchVolumes creates the root and mapped volumes of a new instance.
func (t *txn) attachLaunchVolumes(st *scopeTx, i *instanceRec, img *image, root volumeSpec, extra []launchBDM, tags map[string]string) {
	mk := func(dev string, v volumeSpec) {
		r := t.newVolume(st, i.AZ, v, tags)
		if dev == img.rootDevice && img.snapshot != "" {
			r.SnapshotID = img.snapshot
		}
		r.InstanceID, r.Device, r.AttachTime, r.DeleteOnTerm = i.ID, dev, t.now, v.deleteOnT
		i.Vols = append(i.Vols, instVol{Device: dev, VolID: r.ID})
	}
	mk(img.rootDevice, root)
	for _, b := range extra {
		mk(b.device, b.vol)
	}
}

// terminateVolumes deletes the volumes of i marked DeleteOnTermination and
// detaches the others.
func (t *txn) terminateVolumes(st *scopeTx, i *instanceRec) {
	for _, iv := range i.Vols {
		v := mut[*volRec](st, iv.VolID)
		if v == nil {
			continue
		}
		if v.DeleteOnTerm {
			st.del(v.ID)
			continue
		}
		v.InstanceID, v.Device, v.AttachTime, v.DeleteOnTerm = "", "", time.Time{}, false
	}
	i.Vols = nil
}

// instanceBDM lists an instance's block devices as describes show them.
func (st *scopeTx) instanceBDM(i *instanceRec) []ec2api.InstanceBlockDeviceMapping {
	out := []ec2api.InstanceBlockDeviceMapping{}
	for _, iv := range i.Vols {
		v, ok := getT[*volRec](st, iv.VolID)
		if !ok {
			continue
		}
		out = append(out, ec2api.InstanceBlockDeviceMapping{DeviceName: ptr(iv.Device), Ebs: &ec2api.EbsInstanceBlockDevice{
			AttachTime: ptr(v.AttachTime), DeleteOnTermination: ptr(v.DeleteOnTerm), Status: ptr("attached"), VolumeId: ptr(v.ID)}})
	}
	return out
}

// modifyInstanceBDM changes DeleteOnTermination of attached volumes.
func (t *txn) modifyInstanceBDM(st *scopeTx, i *instanceRec, in []ec2api.InstanceBlockDeviceMappingSpecification) error {
	for _, m := range in {
		dev := str(m.DeviceName)
		k := slices.IndexFunc(i.Vols, func(iv instVol) bool { return iv.Device == dev })
		switch {
		case k < 0:
			return errInvalidBlockDeviceMapping("The device '%s' is not attached to instance '%s'.", dev, i.ID)
		case m.NoDevice != nil || m.VirtualName != nil:
			return errInvalidBlockDeviceMapping("Only the DeleteOnTermination flag of an attached EBS volume can be modified (device %s).", dev)
		case m.Ebs == nil || m.Ebs.DeleteOnTermination == nil:
			return awserr.MissingParameter("BlockDeviceMapping.Ebs.DeleteOnTermination")
		case m.Ebs.VolumeId != nil && *m.Ebs.VolumeId != i.Vols[k].VolID:
			return errInvalidBlockDeviceMapping("The volume '%s' is not attached to device '%s'.", *m.Ebs.VolumeId, dev)
		}
		if v := mut[*volRec](st, i.Vols[k].VolID); v != nil {
			v.DeleteOnTerm = *m.Ebs.DeleteOnTermination
		}
	}
	return nil
}

func (v *volRec) out() ec2api.Volume {
	o := ec2api.Volume{AvailabilityZone: ptr(v.AZ), AvailabilityZoneId: ptr(zoneID(v.AZ)), CreateTime: ptr(v.Created), Encrypted: ptr(v.Encrypted),
		Size: ptr(v.Size), SnapshotId: ptr(v.SnapshotID), State: ptr(v.state()), VolumeId: ptr(v.ID), VolumeType: ptr(v.Type),
		MultiAttachEnabled: ptr(false), Tags: tagList(v.Tags), Attachments: []ec2api.VolumeAttachment{}}
	if v.Iops > 0 {
		o.Iops = ptr(v.Iops)
	}
	if v.Throughput > 0 {
		o.Throughput = ptr(v.Throughput)
	}
	if v.KmsKeyID != "" {
		o.KmsKeyId = ptr(v.KmsKeyID)
	}
	if v.InstanceID != "" {
		o.Attachments = append(o.Attachments, v.attachment("attached"))
	}
	return o
}

func (v *volRec) attachment(state string) ec2api.VolumeAttachment {
	return ec2api.VolumeAttachment{AttachTime: ptr(v.AttachTime), DeleteOnTermination: ptr(v.DeleteOnTerm), Device: ptr(v.Device),
		InstanceId: ptr(v.InstanceID), State: ptr(state), VolumeId: ptr(v.ID)}
}

var volumeFilters = filterSet[*volRec]{
	fields: map[string]func(*volRec) []string{
		"attachment.attach-time":           func(v *volRec) []string { return timeOf(v.AttachTime, v.InstanceID != "") },
		"attachment.delete-on-termination": func(v *volRec) []string { return boolIf(v.DeleteOnTerm, v.InstanceID != "") },
		"attachment.device":                func(v *volRec) []string { return one(v.Device) },
		"attachment.instance-id":           func(v *volRec) []string { return one(v.InstanceID) },
		"attachment.status": func(v *volRec) []string {
			if v.InstanceID == "" {
				return nil
			}
			return one("attached")
		},
		"availability-zone":    func(v *volRec) []string { return one(v.AZ) },
		"availability-zone-id": func(v *volRec) []string { return one(zoneID(v.AZ)) },
		"create-time":          func(v *volRec) []string { return timeOf(v.Created, true) },
		"encrypted":            func(v *volRec) []string { return boolStr(v.Encrypted) },
		"fast-restored":        func(v *volRec) []string { return boolStr(false) },
		"multi-attach-enabled": func(v *volRec) []string { return boolStr(false) },
		"size":                 func(v *volRec) []string { return one(strconv.Itoa(int(v.Size))) },
		"snapshot-id":          func(v *volRec) []string { return one(v.SnapshotID) },
		"status":               func(v *volRec) []string { return one(v.state()) },
		"volume-id":            func(v *volRec) []string { return one(v.ID) },
		"volume-type":          func(v *volRec) []string { return one(v.Type) },
	},
	tags: func(v *volRec) map[string]string { return v.Tags },
}

func timeOf(t time.Time, ok bool) []string {
	if !ok {
		return nil
	}
	return one(t.Format("2006-01-02T15:04:05.000Z"))
}

func boolIf(b, ok bool) []string {
	if !ok {
		return nil
	}
	return boolStr(b)
}

// DescribeVolumes implements ec2api.Operations.
func (s *Service) DescribeVolumes(ctx context.Context, in *ec2api.DescribeVolumesRequest) (*ec2api.DescribeVolumesResult, error) {
	if err := dryRun(in.DryRun); err != nil {
		return nil, err
	}
	if len(in.VolumeIds) > 0 && in.MaxResults != nil {
		return nil, awserr.InvalidParameterCombination("The parameter volumeSet cannot be used with the parameter maxResults")
	}
	out := &ec2api.DescribeVolumesResult{Volumes: []ec2api.Volume{}}
	err := s.view(ctx, scopeOf(ctx), func(t *txn, st *scopeTx) error {
		for _, id := range in.VolumeIds {
			if _, err := lookup[*volRec](st, "vol", id); err != nil {
				return err
			}
		}
		recs, _ := selectIDs(listT[*volRec](st, "vol"), in.VolumeIds)
		recs, err := filterItems(volumeFilters, in.Filters, recs)
		if err != nil {
			return err
		}
		page, next, err := paginate(recs, func(v *volRec) string { return v.ID }, in.MaxResults, in.NextToken, 5, 500)
		if err != nil {
			return err
		}
		for _, v := range page {
			out.Volumes = append(out.Volumes, v.out())
		}
		out.NextToken = next
		return nil
	})
	return out, err
}
