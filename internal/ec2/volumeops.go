package ec2

import (
	"context"
	"slices"
	"time"

	"github.com/cachalot-dev/cachalot/internal/api/ec2api"
	"github.com/cachalot-dev/cachalot/internal/awserr"
)

// CreateVolume implements ec2api.Operations. Snapshots, Outposts,
// multi-attach and operators are refused by name.
func (s *Service) CreateVolume(ctx context.Context, in *ec2api.CreateVolumeRequest) (*ec2api.Volume, error) {
	switch {
	case in.SnapshotId != nil:
		return nil, errInvalidSnapshotNotFound(*in.SnapshotId)
	case in.OutpostArn != nil:
		return nil, errUnsupportedOperation("The parameter OutpostArn is not supported: Outposts are not supported by Cachalot.")
	case isTrue(in.MultiAttachEnabled):
		return nil, errUnsupportedOperation("The parameter MultiAttachEnabled is not supported by Cachalot.")
	case in.Operator != nil:
		return nil, errUnsupportedOperation("The parameter Operator is not supported: managed volumes are not supported by Cachalot.")
	case in.VolumeInitializationRate != nil:
		return nil, errUnsupportedOperation("The parameter VolumeInitializationRate needs a snapshot; Cachalot has none.")
	}
	sc := scopeOf(ctx)
	az := str(in.AvailabilityZone)
	if in.AvailabilityZoneId != nil {
		if az != "" {
			return nil, awserr.InvalidParameterCombination("Only one of AvailabilityZone or AvailabilityZoneId may be specified.")
		}
		for _, z := range zones(sc.Region) {
			if zoneID(z) == *in.AvailabilityZoneId {
				az = z
			}
		}
		if az == "" {
			return nil, awserr.InvalidParameterValue("Value (%s) for parameter availabilityZoneId is invalid.", *in.AvailabilityZoneId)
		}
	}
	if az == "" {
		return nil, awserr.MissingParameter("AvailabilityZone")
	}
	if !slices.Contains(zones(sc.Region), az) {
		return nil, awserr.InvalidParameterValue("Invalid availability zone: [%s]", az)
	}
	v, err := parseVolume(in.Size, in.Iops, in.Throughput, in.VolumeType, in.Encrypted, in.KmsKeyId, 0)
	if err != nil {
		return nil, err
	}
	tags, err := tagsFor(in.TagSpecifications, "volume")
	if err != nil {
		return nil, err
	}
	var out ec2api.Volume
	err = s.update(ctx, sc, func(t *txn, st *scopeTx) error {
		if tok := str(in.ClientToken); tok != "" {
			for _, r := range listT[*volRec](st, "vol") {
				if r.ClientToken == tok {
					out = r.out()
					return nil
				}
			}
		}
		if err := dryRun(in.DryRun); err != nil {
			return err
		}
		r := t.newVolume(st, az, v, tags)
		r.ClientToken = str(in.ClientToken)
		out = r.out()
		out.State = ptr("creating")
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// AttachVolume implements ec2api.Operations.
func (s *Service) AttachVolume(ctx context.Context, in *ec2api.AttachVolumeRequest) (*ec2api.VolumeAttachment, error) {
	dev := str(in.Device)
	switch {
	case dev == "":
		return nil, awserr.MissingParameter("Device")
	case !deviceRe.MatchString(dev):
		return nil, awserr.InvalidParameterValue("Value (%s) for parameter device is invalid. %s is not a valid EBS device name.", dev, dev)
	case in.EbsCardIndex != nil:
		return nil, errUnsupportedOperation("The parameter EbsCardIndex is not supported by Cachalot's instance types.")
	}
	var out ec2api.VolumeAttachment
	err := s.update(ctx, scopeOf(ctx), func(t *txn, st *scopeTx) error {
		v, err := lookup[*volRec](st, "vol", str(in.VolumeId))
		if err != nil {
			return err
		}
		i, err := lookup[*instanceRec](st, "instance", str(in.InstanceId))
		if err != nil {
			return err
		}
		switch {
		case v.InstanceID != "":
			return errVolumeInUse("%s is already attached to an instance", v.ID)
		case i.State == "terminated" || i.State == "shutting-down":
			return errIncorrectInstanceState("Instance '%s' is not 'running' or 'stopped'.", i.ID)
		case v.AZ != i.AZ:
			return awserr.InvalidParameterValue("Volume '%s' is in availability zone %s, instance '%s' in %s: they must be in the same zone.", v.ID, v.AZ, i.ID, i.AZ)
		case slices.ContainsFunc(i.Vols, func(iv instVol) bool { return iv.Device == dev }):
			return awserr.InvalidParameterValue("Invalid value '%s' for unixDevice. Attachment point %s is already in use", dev, dev)
		}
		if err := dryRun(in.DryRun); err != nil {
			return err
		}
		v = mut[*volRec](st, v.ID)
		v.InstanceID, v.Device, v.AttachTime, v.DeleteOnTerm = i.ID, dev, t.now, false
		mi := mut[*instanceRec](st, i.ID)
		mi.Vols = append(mi.Vols, instVol{Device: dev, VolID: v.ID})
		out = v.attachment("attaching")
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// DetachVolume implements ec2api.Operations. A root volume detaches only
// from a stopped instance, as on AWS.
func (s *Service) DetachVolume(ctx context.Context, in *ec2api.DetachVolumeRequest) (*ec2api.VolumeAttachment, error) {
	var out ec2api.VolumeAttachment
	err := s.update(ctx, scopeOf(ctx), func(t *txn, st *scopeTx) error {
		v, err := lookup[*volRec](st, "vol", str(in.VolumeId))
		if err != nil {
			return err
		}
		switch {
		case v.InstanceID == "":
			return errIncorrectState("Volume '%s' is in the 'available' state.", v.ID)
		case in.InstanceId != nil && *in.InstanceId != v.InstanceID, in.Device != nil && *in.Device != v.Device:
			return errInvalidAttachmentNotFound(v.ID, str(in.InstanceId))
		}
		i, _ := getT[*instanceRec](st, v.InstanceID)
		if i != nil && v.Device == i.Attrs.rootDevice() && i.State != "stopped" {
			return errIncorrectState("Unable to detach root volume '%s' from instance '%s'", v.ID, i.ID)
		}
		if err := dryRun(in.DryRun); err != nil {
			return err
		}
		out = v.attachment("detaching")
		if i != nil {
			mi := mut[*instanceRec](st, i.ID)
			mi.Vols = slices.DeleteFunc(mi.Vols, func(iv instVol) bool { return iv.VolID == v.ID })
		}
		v = mut[*volRec](st, v.ID)
		v.InstanceID, v.Device, v.AttachTime, v.DeleteOnTerm = "", "", time.Time{}, false
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// DeleteVolume implements ec2api.Operations.
func (s *Service) DeleteVolume(ctx context.Context, in *ec2api.DeleteVolumeRequest) error {
	return s.update(ctx, scopeOf(ctx), func(t *txn, st *scopeTx) error {
		v, err := lookup[*volRec](st, "vol", str(in.VolumeId))
		if err != nil {
			return err
		}
		if v.InstanceID != "" {
			return errVolumeInUse("Volume %s is currently attached to %s", v.ID, v.InstanceID)
		}
		if err := dryRun(in.DryRun); err != nil {
			return err
		}
		st.del(v.ID)
		return nil
	})
}
