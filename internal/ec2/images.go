package ec2

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cachalot-dev/cachalot/internal/api/ec2api"
	"github.com/cachalot-dev/cachalot/internal/awserr"
)

// Images: a small built-in catalogue of the public images tutorials and
// tools look up (Amazon Linux 2023 and 2, Ubuntu 22.04 and 24.04, Debian
// 12, each for x86_64 and arm64, two releases of some so that "most
// recent" means something), found by owner, name pattern and architecture
// the way `data "aws_ami"` filters them, and the images an account
// registers (RegisterImage, CreateImage), stored per scope as records.
// Every instance runs the host's Linux in its namespace whatever its
// image says; the image fixes its architecture, root device and volume.
//
// ami-12345678, "cachalot-host-x86_64", stands for that host system; the
// examples and tests launch it.

// Owners of the catalogue.
const (
	ownerAmazon    = "137112412989"
	ownerCanonical = "099720109477"
	ownerDebian    = "136693071363"
)

// image is an image as describes and launches see it: one of the
// catalogue or a registered one (amiRec.image).
type image struct {
	id, name, desc, owner, alias string
	arch, created                string
	rootDevice, rootType         string
	rootSize                     int32
	snapshot                     string
	imds                         string // "" or "v2.0"
	public                       bool
	platformDetails              string
	bootMode                     string
	sourceInstance               string
	extra                        []imgBDM // non-root EBS mappings
	tags                         map[string]string
}

// imgBDM is an EBS mapping of a registered image.
type imgBDM struct {
	Device   string `json:"device"`
	Snapshot string `json:"snapshot"`
	Size     int32  `json:"size"`
	Type     string `json:"type"`
	DelOnT   bool   `json:"deleteOnTermination"`
}

// amiID is the catalogue's deterministic id of an image name.
func amiID(name string) string {
	h := sha256.Sum256([]byte("cachalot-ami/" + name))
	return "ami-" + hex.EncodeToString(h[:])[:17]
}

func snapID(name string) string {
	h := sha256.Sum256([]byte("cachalot-snap/" + name))
	return "snap-" + hex.EncodeToString(h[:])[:17]
}

// images is the catalogue, sorted by id.
var images = buildImages()

func buildImages() []*image {
	var out []*image
	add := func(name, desc, owner, alias, arch, created, rootDev, rootType, imds string) {
		out = append(out, &image{id: amiID(name), name: name, desc: desc, owner: owner, alias: alias, arch: arch, created: created,
			rootDevice: rootDev, rootType: rootType, rootSize: 8, snapshot: snapID(name), imds: imds, public: true,
			platformDetails: "Linux/UNIX", bootMode: "uefi-preferred"})
	}
	for _, a := range []struct{ arch, deb string }{{"x86_64", "amd64"}, {"arm64", "arm64"}} {
		for _, r := range []struct{ ver, created string }{{"2023.6.20241212.0", "2024-12-13T18:21:09.000Z"}, {"2023.5.20240722.0", "2024-07-23T20:05:41.000Z"}} {
			add("al2023-ami-"+r.ver+"-kernel-6.1-"+a.arch, "Amazon Linux 2023 AMI "+r.ver+" "+a.arch+" HVM kernel-6.1",
				ownerAmazon, "amazon", a.arch, r.created, "/dev/xvda", "gp3", "v2.0")
		}
		add("amzn2-ami-kernel-5.10-hvm-2.0.20241217.0-"+a.arch+"-gp2", "Amazon Linux 2 Kernel 5.10 AMI 2.0.20241217.0 "+a.arch+" HVM gp2",
			ownerAmazon, "amazon", a.arch, "2024-12-18T00:12:31.000Z", "/dev/xvda", "gp2", "")
		for _, r := range []struct{ date, created string }{{"20241206", "2024-12-07T03:10:18.000Z"}, {"20240927", "2024-09-28T02:37:04.000Z"}} {
			add("ubuntu/images/hvm-ssd/ubuntu-jammy-22.04-"+a.deb+"-server-"+r.date, "Canonical, Ubuntu, 22.04 LTS, "+a.deb+" jammy image build on "+r.date[:4]+"-"+r.date[4:6]+"-"+r.date[6:],
				ownerCanonical, "", a.arch, r.created, "/dev/sda1", "gp2", "")
			add("ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-"+a.deb+"-server-"+r.date, "Canonical, Ubuntu, 24.04, "+a.deb+" noble image",
				ownerCanonical, "", a.arch, r.created, "/dev/sda1", "gp3", "")
		}
		add("debian-12-"+a.deb+"-20241201-1949", "Debian 12 (20241201-1949)", ownerDebian, "", a.arch, "2024-12-01T20:53:02.000Z", "/dev/xvda", "gp2", "")
	}
	host := &image{id: "ami-12345678", name: "cachalot-host-x86_64", desc: "The host's Linux, which every Cachalot instance runs",
		owner: ownerAmazon, alias: "amazon", arch: "x86_64", created: "2024-01-01T00:00:00.000Z", rootDevice: "/dev/xvda", rootType: "gp2",
		rootSize: 8, snapshot: snapID("cachalot-host-x86_64"), public: true, platformDetails: "Linux/UNIX", bootMode: "uefi-preferred"}
	out = append(out, host)
	slices.SortFunc(out, func(a, b *image) int { return strings.Compare(a.id, b.id) })
	return out
}

// amiRec is an image the account registered or created.
type amiRec struct {
	tagged
	ID             string    `json:"id"`
	Owner          string    `json:"owner"`
	Name           string    `json:"name"`
	Description    string    `json:"description,omitempty"`
	Arch           string    `json:"arch"`
	RootDevice     string    `json:"rootDevice"`
	BDMs           []imgBDM  `json:"bdms"`
	Created        time.Time `json:"created"`
	IMDS           string    `json:"imds,omitempty"`
	BootMode       string    `json:"bootMode,omitempty"`
	SourceInstance string    `json:"sourceInstance,omitempty"`
}

func (r *amiRec) id() string { return r.ID }

func (r *amiRec) image() *image {
	img := &image{id: r.ID, name: r.Name, desc: r.Description, owner: r.Owner, arch: r.Arch, created: r.Created.Format("2006-01-02T15:04:05.000Z"),
		rootDevice: r.RootDevice, rootType: "gp2", rootSize: 8, imds: r.IMDS, platformDetails: "Linux/UNIX", bootMode: r.BootMode,
		sourceInstance: r.SourceInstance, tags: r.Tags}
	for _, b := range r.BDMs {
		if b.Device == r.RootDevice {
			img.rootType, img.rootSize, img.snapshot = b.Type, b.Size, b.Snapshot
			continue
		}
		img.extra = append(img.extra, b)
	}
	return img
}

// findImage returns the image id names for the caller: a catalogue image
// or one of the scope's own.
func findImage(st *scopeTx, id string) (*image, error) {
	if !wellFormed(id, "ami-") {
		return nil, errInvalidAMIIDMalformed(id)
	}
	if i, ok := slices.BinarySearchFunc(images, id, func(img *image, id string) int { return strings.Compare(img.id, id) }); ok {
		return images[i], nil
	}
	if r, ok := getT[*amiRec](st, id); ok {
		return r.image(), nil
	}
	return nil, errInvalidAMIIDNotFound(id)
}

func (img *image) out() ec2api.Image {
	bdms := []ec2api.BlockDeviceMapping{{DeviceName: ptr(img.rootDevice), Ebs: &ec2api.EbsBlockDevice{DeleteOnTermination: ptr(true),
		Encrypted: ptr(false), SnapshotId: ptr(img.snapshot), VolumeSize: ptr(img.rootSize), VolumeType: ptr(img.rootType)}}}
	if img.rootType == "gp3" {
		bdms[0].Ebs.Iops, bdms[0].Ebs.Throughput = ptr(int32(3000)), ptr(int32(125))
	}
	for _, b := range img.extra {
		bdms = append(bdms, ec2api.BlockDeviceMapping{DeviceName: ptr(b.Device), Ebs: &ec2api.EbsBlockDevice{DeleteOnTermination: ptr(b.DelOnT),
			Encrypted: ptr(false), SnapshotId: ptr(b.Snapshot), VolumeSize: ptr(b.Size), VolumeType: ptr(b.Type)}})
	}
	o := ec2api.Image{Architecture: ptr(img.arch), BlockDeviceMappings: bdms, CreationDate: ptr(img.created), Description: ptr(img.desc),
		EnaSupport: ptr(true), Hypervisor: ptr("xen"), ImageId: ptr(img.id), ImageType: ptr("machine"), Name: ptr(img.name),
		OwnerId: ptr(img.owner), PlatformDetails: ptr(img.platformDetails), Public: ptr(img.public), RootDeviceName: ptr(img.rootDevice),
		RootDeviceType: ptr("ebs"), SriovNetSupport: ptr("simple"), State: ptr("available"), UsageOperation: ptr("RunInstances"),
		VirtualizationType: ptr("hvm"), ImageLocation: ptr(img.location()), Tags: tagList(img.tags), ProductCodes: []ec2api.ProductCode{}}
	if img.alias != "" {
		o.ImageOwnerAlias = ptr(img.alias)
	}
	if img.imds != "" {
		o.ImdsSupport = ptr(img.imds)
	}
	if img.bootMode != "" {
		o.BootMode = ptr(img.bootMode)
	}
	if img.sourceInstance != "" {
		o.SourceInstanceId = ptr(img.sourceInstance)
	}
	if img.public {
		o.DeprecationTime = ptr(deprecation(img.created))
	}
	return o
}

// location is the ImageLocation AWS shows: <alias or owner>/<name>.
func (img *image) location() string { return cmpOr(img.alias, img.owner) + "/" + img.name }

// deprecation is two years after creation, as AWS sets for public images.
func deprecation(created string) string {
	t, err := time.Parse("2006-01-02T15:04:05.000Z", created)
	if err != nil {
		return created
	}
	return t.AddDate(2, 0, 0).Format("2006-01-02T15:04:05.000Z")
}

func (img *image) bdmField(f func(b ec2api.BlockDeviceMapping) string) []string {
	var out []string
	for _, b := range img.out().BlockDeviceMappings {
		if v := f(b); v != "" {
			out = append(out, v)
		}
	}
	return out
}

var imageFilters = filterSet[*image]{
	fields: map[string]func(*image) []string{
		"architecture": func(i *image) []string { return one(i.arch) },
		"block-device-mapping.delete-on-termination": func(i *image) []string {
			return i.bdmField(func(b ec2api.BlockDeviceMapping) string { return strconv.FormatBool(*b.Ebs.DeleteOnTermination) })
		},
		"block-device-mapping.device-name": func(i *image) []string {
			return i.bdmField(func(b ec2api.BlockDeviceMapping) string { return *b.DeviceName })
		},
		"block-device-mapping.snapshot-id": func(i *image) []string {
			return i.bdmField(func(b ec2api.BlockDeviceMapping) string { return *b.Ebs.SnapshotId })
		},
		"block-device-mapping.volume-size": func(i *image) []string {
			return i.bdmField(func(b ec2api.BlockDeviceMapping) string { return itoa(*b.Ebs.VolumeSize) })
		},
		"block-device-mapping.volume-type": func(i *image) []string {
			return i.bdmField(func(b ec2api.BlockDeviceMapping) string { return *b.Ebs.VolumeType })
		},
		"block-device-mapping.encrypted": func(i *image) []string { return boolStr(false) },
		"creation-date":                  func(i *image) []string { return one(i.created) },
		"deprecation-time": func(i *image) []string {
			if !i.public {
				return nil
			}
			return one(deprecation(i.created))
		},
		"description":          func(i *image) []string { return one(i.desc) },
		"ena-support":          func(i *image) []string { return boolStr(true) },
		"hypervisor":           func(i *image) []string { return one("xen") },
		"image-id":             func(i *image) []string { return one(i.id) },
		"image-type":           func(i *image) []string { return one("machine") },
		"imds-support":         func(i *image) []string { return one(i.imds) },
		"is-public":            func(i *image) []string { return boolStr(i.public) },
		"kernel-id":            func(i *image) []string { return nil },
		"manifest-location":    func(i *image) []string { return one(i.location()) },
		"name":                 func(i *image) []string { return one(i.name) },
		"owner-alias":          func(i *image) []string { return one(i.alias) },
		"owner-id":             func(i *image) []string { return one(i.owner) },
		"platform":             func(i *image) []string { return nil },
		"platform-details":     func(i *image) []string { return one(i.platformDetails) },
		"product-code":         func(i *image) []string { return nil },
		"product-code.type":    func(i *image) []string { return nil },
		"ramdisk-id":           func(i *image) []string { return nil },
		"root-device-name":     func(i *image) []string { return one(i.rootDevice) },
		"root-device-type":     func(i *image) []string { return one("ebs") },
		"source-image-id":      func(i *image) []string { return nil },
		"source-image-region":  func(i *image) []string { return nil },
		"source-instance-id":   func(i *image) []string { return one(i.sourceInstance) },
		"sriov-net-support":    func(i *image) []string { return one("simple") },
		"state":                func(i *image) []string { return one("available") },
		"state-reason-code":    func(i *image) []string { return nil },
		"state-reason-message": func(i *image) []string { return nil },
		"usage-operation":      func(i *image) []string { return one("RunInstances") },
		"virtualization-type":  func(i *image) []string { return one("hvm") },
	},
	tags: func(i *image) map[string]string { return i.tags },
}

// visibleImages returns the catalogue and the scope's own images, sorted by id.
func visibleImages(st *scopeTx) []*image {
	own := listT[*amiRec](st, "ami")
	if len(own) == 0 {
		return images
	}
	out := slices.Clone(images)
	for _, r := range own {
		out = append(out, r.image())
	}
	slices.SortFunc(out, func(a, b *image) int { return strings.Compare(a.id, b.id) })
	return out
}

// ownerMatch returns a predicate for DescribeImages' Owners: account ids,
// "self", and the aliases amazon and aws-marketplace.
func ownerMatch(account string, owners []string) (func(*image) bool, error) {
	ids := map[string]bool{}
	aliases := map[string]bool{}
	for _, o := range owners {
		switch {
		case o == "self":
			ids[account] = true
		case o == "amazon" || o == "aws-marketplace" || o == "aws-backup-vault":
			aliases[o] = true
		case accountRe.MatchString(o):
			ids[o] = true
		default:
			return nil, errInvalidUserIDMalformed(o)
		}
	}
	return func(img *image) bool {
		return len(owners) == 0 || ids[img.owner] || (img.alias != "" && aliases[img.alias])
	}, nil
}

// executableMatch returns a predicate for DescribeImages' ExecutableUsers.
func executableMatch(account string, users []string) (func(*image) bool, error) {
	for _, u := range users {
		if u != "self" && u != "all" && !accountRe.MatchString(u) {
			return nil, errInvalidUserIDMalformed(u)
		}
	}
	return func(img *image) bool {
		if len(users) == 0 || img.public {
			return true
		}
		return slices.Contains(users, "self") || slices.Contains(users, account) && img.owner == account
	}, nil
}

// DescribeImages implements ec2api.Operations.
func (s *Service) DescribeImages(ctx context.Context, in *ec2api.DescribeImagesRequest) (*ec2api.DescribeImagesResult, error) {
	if err := dryRun(in.DryRun); err != nil {
		return nil, err
	}
	if len(in.ImageIds) > 0 && in.MaxResults != nil {
		return nil, awserr.InvalidParameterCombination("The parameter ImageIds cannot be used with the parameter maxResults")
	}
	sc := scopeOf(ctx)
	owned, err := ownerMatch(sc.Account, in.Owners)
	if err != nil {
		return nil, err
	}
	exec, err := executableMatch(sc.Account, in.ExecutableUsers)
	if err != nil {
		return nil, err
	}
	out := &ec2api.DescribeImagesResult{Images: []ec2api.Image{}}
	err = s.view(ctx, sc, func(t *txn, st *scopeTx) error {
		var items []*image
		if len(in.ImageIds) > 0 {
			for _, id := range in.ImageIds {
				img, err := findImage(st, id)
				if err != nil {
					return err
				}
				if !slices.ContainsFunc(items, func(i *image) bool { return i.id == img.id }) {
					items = append(items, img)
				}
			}
			slices.SortFunc(items, func(a, b *image) int { return strings.Compare(a.id, b.id) })
		} else {
			items = visibleImages(st)
		}
		items = slices.DeleteFunc(slices.Clone(items), func(i *image) bool { return !owned(i) || !exec(i) })
		items, err := filterItems(imageFilters, in.Filters, items)
		if err != nil {
			return err
		}
		page, next, err := paginate(items, func(i *image) string { return i.id }, in.MaxResults, in.NextToken, 5, 1000)
		if err != nil {
			return err
		}
		for _, img := range page {
			out.Images = append(out.Images, img.out())
		}
		out.NextToken = next
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

var amiNameRe = regexp.MustCompile(`^[a-zA-Z0-9()\[\]./\-'@_ ]{3,128}$`)

// checkImageName validates a new image's name and its uniqueness among
// the account's images.
func checkImageName(st *scopeTx, name string) error {
	if name == "" {
		return awserr.MissingParameter("Name")
	}
	if !amiNameRe.MatchString(name) {
		return errInvalidAMINameMalformed(name)
	}
	for _, r := range listT[*amiRec](st, "ami") {
		if r.Name == name {
			return errInvalidAMINameDuplicate(name, r.ID)
		}
	}
	return nil
}

// RegisterImage implements ec2api.Operations for EBS-backed images whose
// snapshots are the account's (those CreateImage made); instance-store
// images (ImageLocation), billing products and UEFI data are refused.
func (s *Service) RegisterImage(ctx context.Context, in *ec2api.RegisterImageRequest) (*ec2api.RegisterImageResult, error) {
	switch {
	case in.ImageLocation != nil:
		return nil, errUnsupportedOperation("Instance store-backed images (parameter ImageLocation) are not supported by Cachalot.")
	case len(in.BillingProducts) > 0:
		return nil, errUnsupportedOperation("The parameter BillingProduct is not supported by Cachalot.")
	case in.UefiData != nil:
		return nil, errUnsupportedOperation("The parameter UefiData is not supported by Cachalot.")
	case in.KernelId != nil || in.RamdiskId != nil:
		return nil, awserr.InvalidParameterCombination("Kernel and ramdisk ids are for paravirtual images; Cachalot images are hvm.")
	case in.VirtualizationType != nil && *in.VirtualizationType != "hvm":
		return nil, awserr.InvalidParameterValue("Value (%s) for parameter virtualizationType is invalid. Cachalot images are hvm.", *in.VirtualizationType)
	case in.SriovNetSupport != nil && *in.SriovNetSupport != "simple":
		return nil, awserr.InvalidParameterValue("Value (%s) for parameter sriovNetSupport is invalid. The only valid value is simple.", *in.SriovNetSupport)
	case in.EnaSupport != nil && !*in.EnaSupport:
		return nil, errUnsupportedOperation("Cachalot images all support ENA (EnaSupport false).")
	case in.TpmSupport != nil:
		return nil, errUnsupportedOperation("The parameter TpmSupport is not supported by Cachalot.")
	case in.ImdsSupport != nil && *in.ImdsSupport != "v2.0":
		return nil, awserr.InvalidParameterValue("Value (%s) for parameter ImdsSupport is invalid. The only valid value is v2.0.", *in.ImdsSupport)
	case in.BootMode != nil && !slices.Contains([]string{"legacy-bios", "uefi", "uefi-preferred"}, *in.BootMode):
		return nil, awserr.InvalidParameterValue("Value (%s) for parameter BootMode is invalid.", *in.BootMode)
	}
	arch := cmpOr(str(in.Architecture), "x86_64")
	if !slices.Contains([]string{"i386", "x86_64", "arm64", "x86_64_mac", "arm64_mac"}, arch) {
		return nil, awserr.InvalidParameterValue("Value (%s) for parameter architecture is invalid.", arch)
	}
	tags, err := tagsFor(in.TagSpecifications, "image")
	if err != nil {
		return nil, err
	}
	var id string
	err = s.update(ctx, scopeOf(ctx), func(t *txn, st *scopeTx) error {
		if err := checkImageName(st, str(in.Name)); err != nil {
			return err
		}
		root := cmpOr(str(in.RootDeviceName), "/dev/xvda")
		bdms, err := registerBDMs(st, in.BlockDeviceMappings, root)
		if err != nil {
			return err
		}
		if err := dryRun(in.DryRun); err != nil {
			return err
		}
		r := &amiRec{ID: newID("ami-"), Owner: st.sc.Account, Name: str(in.Name), Description: str(in.Description), Arch: arch,
			RootDevice: root, BDMs: bdms, Created: t.now, IMDS: str(in.ImdsSupport), BootMode: str(in.BootMode)}
		r.Tags = tags
		st.put(r)
		id = r.ID
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &ec2api.RegisterImageResult{ImageId: ptr(id)}, nil
}

// snapshots returns the snapshots of the scope's images, by id.
func snapshots(st *scopeTx) map[string]imgBDM {
	out := map[string]imgBDM{}
	for _, r := range listT[*amiRec](st, "ami") {
		for _, b := range r.BDMs {
			out[b.Snapshot] = b
		}
	}
	return out
}

// registerBDMs validates RegisterImage's mappings: the root device must be
// mapped to a snapshot of the account's.
func registerBDMs(st *scopeTx, in []ec2api.BlockDeviceMapping, root string) ([]imgBDM, error) {
	snaps := snapshots(st)
	var out []imgBDM
	for _, m := range in {
		dev := str(m.DeviceName)
		if m.NoDevice != nil || m.VirtualName != nil {
			continue
		}
		if m.Ebs == nil || m.Ebs.SnapshotId == nil {
			if dev == root {
				return nil, errInvalidBlockDeviceMapping("The root device %s must be mapped to a snapshot.", dev)
			}
			return nil, errUnsupportedOperation("Image mappings without a snapshot (device %s) are not supported by Cachalot.", dev)
		}
		snap, ok := snaps[*m.Ebs.SnapshotId]
		if !ok {
			return nil, errInvalidSnapshotNotFound(*m.Ebs.SnapshotId)
		}
		b := imgBDM{Device: dev, Snapshot: snap.Snapshot, Size: snap.Size, Type: cmpOr(str(m.Ebs.VolumeType), snap.Type), DelOnT: true}
		if m.Ebs.VolumeSize != nil {
			if *m.Ebs.VolumeSize < snap.Size {
				return nil, errInvalidBlockDeviceMapping("Volume of size %dGB is smaller than snapshot '%s', expect size >= %dGB", *m.Ebs.VolumeSize, snap.Snapshot, snap.Size)
			}
			b.Size = *m.Ebs.VolumeSize
		}
		if m.Ebs.DeleteOnTermination != nil {
			b.DelOnT = *m.Ebs.DeleteOnTermination
		}
		out = append(out, b)
	}
	if !slices.ContainsFunc(out, func(b imgBDM) bool { return b.Device == root }) {
		return nil, errInvalidBlockDeviceMapping("The root device %s must be mapped to a snapshot.", root)
	}
	return out, nil
}

// CreateImage implements ec2api.Operations: an image of an instance, its
// volumes recorded as snapshots. Without NoReboot the instance is
// rebooted, as AWS does. Mappings may only suppress devices (NoDevice).
func (s *Service) CreateImage(ctx context.Context, in *ec2api.CreateImageRequest) (*ec2api.CreateImageResult, error) {
	if in.SnapshotLocation != nil && *in.SnapshotLocation != "regional" {
		return nil, errUnsupportedOperation("Outposts are not supported by Cachalot (SnapshotLocation %s).", *in.SnapshotLocation)
	}
	var skip []string
	for _, m := range in.BlockDeviceMappings {
		if m.NoDevice == nil {
			return nil, errUnsupportedOperation("CreateImage mappings may only suppress a device (NoDevice) on Cachalot (device %s).", str(m.DeviceName))
		}
		skip = append(skip, str(m.DeviceName))
	}
	tags, err := tagsForTypes(in.TagSpecifications, "image", "snapshot")
	if err != nil {
		return nil, err
	}
	var id string
	err = s.update(ctx, scopeOf(ctx), func(t *txn, st *scopeTx) error {
		i, err := lookup[*instanceRec](st, "instance", str(in.InstanceId))
		if err != nil {
			return err
		}
		if i.State != "running" && i.State != "stopped" {
			return errIncorrectInstanceState("Instance '%s' is not in a state from which an image can be created.", i.ID)
		}
		if err := checkImageName(st, str(in.Name)); err != nil {
			return err
		}
		if slices.Contains(skip, i.Attrs.rootDevice()) {
			return errInvalidBlockDeviceMapping("The root device %s cannot be suppressed.", i.Attrs.rootDevice())
		}
		if err := dryRun(in.DryRun); err != nil {
			return err
		}
		r := &amiRec{ID: newID("ami-"), Owner: st.sc.Account, Name: str(in.Name), Description: str(in.Description), Arch: i.Attrs.arch(),
			RootDevice: i.Attrs.rootDevice(), Created: t.now, SourceInstance: i.ID, IMDS: i.Attrs.Meta.imdsSupport()}
		for _, iv := range i.Vols {
			v, ok := getT[*volRec](st, iv.VolID)
			if !ok || slices.Contains(skip, iv.Device) {
				continue
			}
			r.BDMs = append(r.BDMs, imgBDM{Device: iv.Device, Snapshot: newID("snap-"), Size: v.Size, Type: v.Type, DelOnT: v.DeleteOnTerm})
		}
		r.Tags = tags["image"]
		st.put(r)
		if in.NoReboot == nil || !*in.NoReboot {
			if i.State == "running" {
				mut[*instanceRec](st, i.ID).Attrs.Reboots++
			}
		}
		id = r.ID
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &ec2api.CreateImageResult{ImageId: ptr(id)}, nil
}

// DeregisterImage implements ec2api.Operations for the account's images.
func (s *Service) DeregisterImage(ctx context.Context, in *ec2api.DeregisterImageRequest) (*ec2api.DeregisterImageResult, error) {
	out := &ec2api.DeregisterImageResult{Return: ptr(true)}
	err := s.update(ctx, scopeOf(ctx), func(t *txn, st *scopeTx) error {
		img, err := findImage(st, str(in.ImageId))
		if err != nil {
			return err
		}
		if img.owner != st.sc.Account {
			return errAuthFailureImage(img.id)
		}
		if err := dryRun(in.DryRun); err != nil {
			return err
		}
		r, _ := getT[*amiRec](st, img.id)
		if in.DeleteAssociatedSnapshots != nil && *in.DeleteAssociatedSnapshots {
			for _, b := range r.BDMs {
				out.DeleteSnapshotResults = append(out.DeleteSnapshotResults, ec2api.DeleteSnapshotReturnCode{SnapshotId: ptr(b.Snapshot), ReturnCode: ptr("success")})
			}
		}
		st.del(img.id)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
