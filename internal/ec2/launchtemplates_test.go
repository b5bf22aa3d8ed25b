package ec2

import (
	"reflect"
	"strings"
	"testing"

	"github.com/cachalot-dev/cachalot/internal/api/ec2api"
	"github.com/cachalot-dev/cachalot/internal/awserr"
)

func TestLaunchTemplates(t *testing.T) {
	s, st := newTestService(t)
	ctx := ctxFor(acctA)
	web := createGroup(t, s, ctx, "web", "")
	lt := must[*ec2api.CreateLaunchTemplateResult](t)(s.CreateLaunchTemplate(ctx, &ec2api.CreateLaunchTemplateRequest{LaunchTemplateName: ptr("app"),
		LaunchTemplateData: &ec2api.RequestLaunchTemplateData{ImageId: ptr("ami-12345678"), InstanceType: ptr("t3.micro"), SecurityGroupIds: []string{web},
			DisableApiTermination: ptr(true), TagSpecifications: []ec2api.LaunchTemplateTagSpecificationRequest{{ResourceType: ptr("instance"),
				Tags: []ec2api.Tag{{Key: ptr("Name"), Value: ptr("from-template")}}}}}})).LaunchTemplate
	id := *lt.LaunchTemplateId
	failsUnchanged(t, st, "InvalidLaunchTemplateName.AlreadyExistsException", func() error {
		_, err := s.CreateLaunchTemplate(ctx, &ec2api.CreateLaunchTemplateRequest{LaunchTemplateName: ptr("app"), LaunchTemplateData: &ec2api.RequestLaunchTemplateData{}})
		return err
	})
	failsUnchanged(t, st, "UnsupportedOperation", func() error {
		_, err := s.CreateLaunchTemplate(ctx, &ec2api.CreateLaunchTemplateRequest{LaunchTemplateName: ptr("spot"),
			LaunchTemplateData: &ec2api.RequestLaunchTemplateData{InstanceMarketOptions: &ec2api.LaunchTemplateInstanceMarketOptionsRequest{MarketType: ptr("spot")}}})
		return err
	})

	// Version 2 from version 1, with another type; default stays 1.
	v2 := must[*ec2api.CreateLaunchTemplateVersionResult](t)(s.CreateLaunchTemplateVersion(ctx, &ec2api.CreateLaunchTemplateVersionRequest{LaunchTemplateId: ptr(id),
		SourceVersion: ptr("1"), LaunchTemplateData: &ec2api.RequestLaunchTemplateData{InstanceType: ptr("t3.small")}})).LaunchTemplateVersion
	if *v2.VersionNumber != 2 || *v2.LaunchTemplateData.InstanceType != "t3.small" || *v2.LaunchTemplateData.ImageId != "ami-12345678" || *v2.DefaultVersion {
		t.Errorf("version 2 = %+v, want t3.small with version 1's image, not default", v2.LaunchTemplateData)
	}

	// Not run(): it fills ImageId, and the template's applies only where the request has none.
	runLT := func(spec *ec2api.LaunchTemplateSpecification, itype *string) ec2api.Instance {
		t.Helper()
		r, err := s.RunInstances(ctx, &ec2api.RunInstancesRequest{MinCount: ptr(int32(1)), MaxCount: ptr(int32(1)), LaunchTemplate: spec, InstanceType: itype})
		ok(t, err)
		return r.Instances[0]
	}
	i1 := runLT(&ec2api.LaunchTemplateSpecification{LaunchTemplateName: ptr("app")}, nil)
	i2 := runLT(&ec2api.LaunchTemplateSpecification{LaunchTemplateId: ptr(id), Version: ptr("$Latest")}, nil)
	i3 := runLT(&ec2api.LaunchTemplateSpecification{LaunchTemplateId: ptr(id), Version: ptr("$Latest")}, ptr("m5.large"))
	got := []string{*i1.InstanceType, *i2.InstanceType, *i3.InstanceType, *i1.SecurityGroups[0].GroupId, *i1.Tags[0].Value}
	want := []string{"t3.micro", "t3.small", "m5.large", web, "from-template"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("launches from the template = %v, want %v", got, want)
	}
	if !*attr(t, s, ctx, *i1.InstanceId, "disableApiTermination").DisableApiTermination.Value {
		t.Errorf("disableApiTermination from the template not applied")
	}
	failsUnchanged(t, st, "InvalidLaunchTemplateId.VersionNotFound", func() error {
		_, err := s.RunInstances(ctx, &ec2api.RunInstancesRequest{MinCount: ptr(int32(1)), MaxCount: ptr(int32(1)),
			LaunchTemplate: &ec2api.LaunchTemplateSpecification{LaunchTemplateId: ptr(id), Version: ptr("7")}})
		return err
	})

	mod := must[*ec2api.ModifyLaunchTemplateResult](t)(s.ModifyLaunchTemplate(ctx, &ec2api.ModifyLaunchTemplateRequest{LaunchTemplateId: ptr(id), DefaultVersion: ptr("2")}))
	if *mod.LaunchTemplate.DefaultVersionNumber != 2 || *mod.LaunchTemplate.LatestVersionNumber != 2 {
		t.Errorf("ModifyLaunchTemplate = %+v, want default 2 of 2", mod.LaunchTemplate)
	}
	vs := must[*ec2api.DescribeLaunchTemplateVersionsResult](t)(s.DescribeLaunchTemplateVersions(ctx, &ec2api.DescribeLaunchTemplateVersionsRequest{
		LaunchTemplateName: ptr("app"), Versions: []string{"$Default", "1"}}))
	if len(vs.LaunchTemplateVersions) != 2 || *vs.LaunchTemplateVersions[1].VersionNumber != 2 || !*vs.LaunchTemplateVersions[1].DefaultVersion {
		t.Errorf("versions $Default and 1 = %+v", vs.LaunchTemplateVersions)
	}
	none := must[*ec2api.DescribeLaunchTemplateVersionsResult](t)(s.DescribeLaunchTemplateVersions(ctx, &ec2api.DescribeLaunchTemplateVersionsRequest{
		LaunchTemplateId: ptr(id), Filters: []ec2api.Filter{filter("http-tokens", "required")}}))
	if len(none.LaunchTemplateVersions) != 0 {
		t.Errorf("versions with http-tokens=required = %d, want none (no metadata options)", len(none.LaunchTemplateVersions))
	}
	lts := must[*ec2api.DescribeLaunchTemplatesResult](t)(s.DescribeLaunchTemplates(ctx, &ec2api.DescribeLaunchTemplatesRequest{
		Filters: []ec2api.Filter{filter("launch-template-name", "ap*")}}))
	if len(lts.LaunchTemplates) != 1 {
		t.Errorf("DescribeLaunchTemplates = %+v", lts.LaunchTemplates)
	}
	_, err := s.DescribeLaunchTemplates(ctx, &ec2api.DescribeLaunchTemplatesRequest{LaunchTemplateNames: []string{"nope"}})
	wantCode(t, err, "InvalidLaunchTemplateName.NotFoundException")
	must[*ec2api.DeleteLaunchTemplateResult](t)(s.DeleteLaunchTemplate(ctx, &ec2api.DeleteLaunchTemplateRequest{LaunchTemplateName: ptr("app")}))
	_, err = s.DescribeLaunchTemplates(ctx, &ec2api.DescribeLaunchTemplatesRequest{LaunchTemplateIds: []string{id}})
	wantCode(t, err, "InvalidLaunchTemplateId.NotFound")
}

func TestVolumes(t *testing.T) {
	s, st := newTestService(t)
	ctx := ctxFor(acctA)
	launch := func(bdm ...ec2api.BlockDeviceMapping) func() error {
		return func() error {
			_, err := s.RunInstances(ctx, &ec2api.RunInstancesRequest{ImageId: ptr("ami-12345678"), MinCount: ptr(int32(1)), MaxCount: ptr(int32(1)), BlockDeviceMappings: bdm})
			return err
		}
	}
	ebs := func(dev string, e ec2api.EbsBlockDevice) ec2api.BlockDeviceMapping {
		return ec2api.BlockDeviceMapping{DeviceName: ptr(dev), Ebs: &e}
	}
	failsUnchanged(t, st, "InvalidBlockDeviceMapping", launch(ebs("/dev/xvda", ec2api.EbsBlockDevice{VolumeSize: ptr(int32(4))})))
	failsUnchanged(t, st, "InvalidBlockDeviceMapping", launch(ebs("sdq0", ec2api.EbsBlockDevice{VolumeSize: ptr(int32(4))})))
	failsUnchanged(t, st, "InvalidParameterCombination", launch(ebs("/dev/sdf", ec2api.EbsBlockDevice{VolumeSize: ptr(int32(10)), Iops: ptr(int32(500))})))
	failsUnchanged(t, st, "InvalidSnapshot.NotFound", launch(ebs("/dev/sdf", ec2api.EbsBlockDevice{SnapshotId: ptr("snap-0123456789abcdef0")})))

	r := run(t, s, ctx, &ec2api.RunInstancesRequest{BlockDeviceMappings: []ec2api.BlockDeviceMapping{
		ebs("/dev/xvda", ec2api.EbsBlockDevice{VolumeSize: ptr(int32(20)), VolumeType: ptr("gp3")}),
		ebs("/dev/sdf", ec2api.EbsBlockDevice{VolumeSize: ptr(int32(50)), DeleteOnTermination: ptr(false)})},
		TagSpecifications: []ec2api.TagSpecification{{ResourceType: ptr("volume"), Tags: []ec2api.Tag{{Key: ptr("app"), Value: ptr("db")}}}}})
	id := *r.Instances[0].InstanceId
	vols := must[*ec2api.DescribeVolumesResult](t)(s.DescribeVolumes(ctx, &ec2api.DescribeVolumesRequest{Filters: []ec2api.Filter{filter("attachment.instance-id", id)}}))
	sizes := map[string]int32{}
	var data string
	for _, v := range vols.Volumes {
		sizes[*v.Attachments[0].Device] = *v.Size
		if *v.Attachments[0].Device == "/dev/sdf" {
			data = *v.VolumeId
		}
		if len(v.Tags) != 1 {
			t.Errorf("volume %s tags = %v, want app=db", *v.VolumeId, v.Tags)
		}
	}
	if !reflect.DeepEqual(sizes, map[string]int32{"/dev/xvda": 20, "/dev/sdf": 50}) {
		t.Errorf("volume sizes = %v", sizes)
	}
	must[*ec2api.TerminateInstancesResult](t)(s.TerminateInstances(ctx, &ec2api.TerminateInstancesRequest{InstanceIds: []string{id}}))
	left := must[*ec2api.DescribeVolumesResult](t)(s.DescribeVolumes(ctx, &ec2api.DescribeVolumesRequest{}))
	if len(left.Volumes) != 1 || *left.Volumes[0].VolumeId != data || *left.Volumes[0].State != "available" {
		t.Errorf("after terminate = %+v, want only the data volume, available", left.Volumes)
	}

	// Create, attach, detach, delete.
	other := *run(t, s, ctx, &ec2api.RunInstancesRequest{Placement: &ec2api.Placement{AvailabilityZone: ptr("us-east-1a")}}).Instances[0].InstanceId
	v := must[*ec2api.Volume](t)(s.CreateVolume(ctx, &ec2api.CreateVolumeRequest{AvailabilityZone: ptr("us-east-1a"), Size: ptr(int32(10)), VolumeType: ptr("gp3")}))
	if *v.Iops != 3000 || *v.Throughput != 125 {
		t.Errorf("gp3 defaults = %d IOPS %d MiB/s, want 3000 and 125", *v.Iops, *v.Throughput)
	}
	must[*ec2api.VolumeAttachment](t)(s.AttachVolume(ctx, &ec2api.AttachVolumeRequest{VolumeId: v.VolumeId, InstanceId: ptr(other), Device: ptr("/dev/sdh")}))
	failsUnchanged(t, st, "VolumeInUse", func() error { return s.DeleteVolume(ctx, &ec2api.DeleteVolumeRequest{VolumeId: v.VolumeId}) })
	failsUnchanged(t, st, "IncorrectState", func() error {
		root := describeOne(t, s, ctx, other).BlockDeviceMappings[0].Ebs.VolumeId
		_, err := s.DetachVolume(ctx, &ec2api.DetachVolumeRequest{VolumeId: root})
		return err
	})
	if n := len(describeOne(t, s, ctx, other).BlockDeviceMappings); n != 2 {
		t.Errorf("instance has %d block devices, want 2", n)
	}
	must[*ec2api.VolumeAttachment](t)(s.DetachVolume(ctx, &ec2api.DetachVolumeRequest{VolumeId: v.VolumeId}))
	ok(t, s.DeleteVolume(ctx, &ec2api.DeleteVolumeRequest{VolumeId: v.VolumeId}))
	_, err := s.DescribeVolumes(ctx, &ec2api.DescribeVolumesRequest{VolumeIds: []string{*v.VolumeId}})
	wantCode(t, err, "InvalidVolume.NotFound")
}

// TestParamTables is the "no silent parameter" check: every field of the
// input shapes of the operations in paramTables is placed, the tables name
// no field the shapes lack, and each refused field is refused by the
// operation, naming it, with nothing changed.
func TestParamTables(t *testing.T) {
	shapes := map[string]any{"RunInstances": ec2api.RunInstancesRequest{}, "CreateVpc": ec2api.CreateVpcRequest{},
		"CreateSubnet": ec2api.CreateSubnetRequest{}, "CreateSecurityGroup": ec2api.CreateSecurityGroupRequest{},
		"AuthorizeSecurityGroupIngress": ec2api.AuthorizeSecurityGroupIngressRequest{}, "AuthorizeSecurityGroupEgress": ec2api.AuthorizeSecurityGroupEgressRequest{},
		"ModifySubnetAttribute": ec2api.ModifySubnetAttributeRequest{}}
	for op, tab := range paramTables {
		shape, found := shapes[op]
		if !found {
			t.Errorf("%s: no input shape registered in the test", op)
			continue
		}
		typ := reflect.TypeOf(shape)
		fields := map[string]bool{}
		for i := range typ.NumField() {
			name := typ.Field(i).Name
			fields[name] = true
			_, refused := tab.refused[name]
			handled := false
			for _, h := range tab.handled {
				handled = handled || h == name
			}
			if handled == refused {
				t.Errorf("%s.%s: handled %v, refused %v: place it in exactly one", op, name, handled, refused)
			}
		}
		for _, h := range tab.handled {
			if !fields[h] {
				t.Errorf("%s: handled field %s is not in the shape", op, h)
			}
		}
		for r := range tab.refused {
			if !fields[r] {
				t.Errorf("%s: refused field %s is not in the shape", op, r)
			}
		}
	}
	s, st := newTestService(t)
	ctx := ctxFor(acctA)
	vpc := defaults(t, s, acctA).ID
	calls := map[string]func(in any) error{
		"RunInstances": func(in any) error { _, err := s.RunInstances(ctx, in.(*ec2api.RunInstancesRequest)); return err },
		"CreateVpc":    func(in any) error { _, err := s.CreateVpc(ctx, in.(*ec2api.CreateVpcRequest)); return err },
		"CreateSubnet": func(in any) error { _, err := s.CreateSubnet(ctx, in.(*ec2api.CreateSubnetRequest)); return err },
	}
	valid := map[string]func() any{
		"RunInstances": func() any {
			return &ec2api.RunInstancesRequest{ImageId: ptr("ami-12345678"), MinCount: ptr(int32(1)), MaxCount: ptr(int32(1))}
		},
		"CreateVpc":    func() any { return &ec2api.CreateVpcRequest{CidrBlock: ptr("10.9.0.0/16")} },
		"CreateSubnet": func() any { return &ec2api.CreateSubnetRequest{VpcId: ptr(vpc), CidrBlock: ptr("172.31.200.0/24")} },
	}
	for op, tab := range paramTables {
		for name := range tab.refused {
			t.Run(op+"/"+name, func(t *testing.T) {
				in := valid[op]()
				f := reflect.ValueOf(in).Elem().FieldByName(name)
				switch {
				case f.Kind() == reflect.Slice:
					f.Set(reflect.MakeSlice(f.Type(), 1, 1))
				case f.Type().Elem().Kind() == reflect.Bool:
					f.Set(reflect.ValueOf(ptr(true)))
				default:
					f.Set(reflect.New(f.Type().Elem()))
				}
				failsUnchanged(t, st, "UnsupportedOperation", func() error {
					err := calls[op](in)
					if e, isAWS := awserr.As(err); isAWS && !strings.Contains(e.Message, name) {
						t.Errorf("error %q does not name %s", e.Message, name)
					}
					return err
				})
			})
		}
		if len(tab.refused) > 0 {
			// False, the default, is not a refusal: Terraform sends it.
			in := valid[op]()
			v := reflect.ValueOf(in).Elem()
			for name := range tab.refused {
				if f := v.FieldByName(name); f.Kind() == reflect.Pointer && f.Type().Elem().Kind() == reflect.Bool {
					f.Set(reflect.ValueOf(ptr(false)))
				}
			}
			ok(t, calls[op](in))
		}
	}
}
