package ec2_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsec2 "github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// authorizedKey returns a fresh ED25519 public key as an authorized_keys line.
func authorizedKey(t *testing.T) string {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	var blob []byte
	for _, s := range [][]byte{[]byte("ssh-ed25519"), pub} {
		blob = binary.BigEndian.AppendUint32(blob, uint32(len(s)))
		blob = append(blob, s...)
	}
	return "ssh-ed25519 " + base64.StdEncoding.EncodeToString(blob) + " deployer@example"
}

// TestTerraformInstanceSequence replays, with aws-sdk-go-v2 through the
// wire layer, the calls Terraform's AWS provider makes for
// `data "aws_ami"`, `aws_key_pair`, `aws_launch_template` and
// `aws_instance` on create, read (refresh) and delete, and checks each is
// answered as AWS answers it.
func TestTerraformInstanceSequence(t *testing.T) {
	c := startWire(t).client()
	ctx := context.Background()

	// data "aws_ami" { most_recent = true, owners = ["amazon"], filter name/architecture }
	imgs, err := c.DescribeImages(ctx, &awsec2.DescribeImagesInput{Owners: []string{"amazon"}, IncludeDeprecated: aws.Bool(false), Filters: []ec2types.Filter{
		{Name: aws.String("name"), Values: []string{"al2023-ami-2023.*-x86_64"}},
		{Name: aws.String("architecture"), Values: []string{"x86_64"}},
		{Name: aws.String("virtualization-type"), Values: []string{"hvm"}}}})
	if err != nil {
		t.Fatalf("DescribeImages: %v", err)
	}
	if len(imgs.Images) < 2 {
		t.Fatalf("DescribeImages found %d images, want the two AL2023 releases", len(imgs.Images))
	}
	latest := slices.MaxFunc(imgs.Images, func(a, b ec2types.Image) int {
		ta, _ := time.Parse(time.RFC3339, aws.ToString(a.CreationDate))
		tb, _ := time.Parse(time.RFC3339, aws.ToString(b.CreationDate))
		return ta.Compare(tb)
	})
	if *latest.Name != "al2023-ami-2023.6.20241212.0-kernel-6.1-x86_64" {
		t.Errorf("most recent AL2023 = %s", *latest.Name)
	}

	// aws_key_pair: import, read, later delete.
	kp, err := c.ImportKeyPair(ctx, &awsec2.ImportKeyPairInput{KeyName: aws.String("deployer"), PublicKeyMaterial: []byte(authorizedKey(t)),
		TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeKeyPair, Tags: []ec2types.Tag{{Key: aws.String("Name"), Value: aws.String("deployer")}}}}})
	if err != nil {
		t.Fatalf("ImportKeyPair: %v", err)
	}
	kps, err := c.DescribeKeyPairs(ctx, &awsec2.DescribeKeyPairsInput{KeyNames: []string{"deployer"}, IncludePublicKey: aws.Bool(true)})
	if err != nil || len(kps.KeyPairs) != 1 || aws.ToString(kps.KeyPairs[0].KeyFingerprint) != aws.ToString(kp.KeyFingerprint) || kps.KeyPairs[0].KeyType != ec2types.KeyTypeEd25519 {
		t.Fatalf("DescribeKeyPairs = %+v, %v", kps, err)
	}

	// aws_launch_template: create, read (template, then its default version).
	lt, err := c.CreateLaunchTemplate(ctx, &awsec2.CreateLaunchTemplateInput{LaunchTemplateName: aws.String("web"), LaunchTemplateData: &ec2types.RequestLaunchTemplateData{
		ImageId: latest.ImageId, InstanceType: ec2types.InstanceTypeT3Micro, KeyName: aws.String("deployer"),
		MetadataOptions: &ec2types.LaunchTemplateInstanceMetadataOptionsRequest{HttpTokens: ec2types.LaunchTemplateHttpTokensStateRequired, HttpEndpoint: ec2types.LaunchTemplateInstanceMetadataEndpointStateEnabled}}})
	if err != nil {
		t.Fatalf("CreateLaunchTemplate: %v", err)
	}
	ltID := lt.LaunchTemplate.LaunchTemplateId
	if _, err := c.DescribeLaunchTemplates(ctx, &awsec2.DescribeLaunchTemplatesInput{LaunchTemplateIds: []string{*ltID}}); err != nil {
		t.Fatalf("DescribeLaunchTemplates: %v", err)
	}
	ver, err := c.DescribeLaunchTemplateVersions(ctx, &awsec2.DescribeLaunchTemplateVersionsInput{LaunchTemplateId: ltID, Versions: []string{"$Default"}})
	if err != nil || len(ver.LaunchTemplateVersions) != 1 || ver.LaunchTemplateVersions[0].LaunchTemplateData.InstanceType != ec2types.InstanceTypeT3Micro {
		t.Fatalf("DescribeLaunchTemplateVersions = %+v, %v", ver, err)
	}

	// aws_instance create: the type's burstability, RunInstances, wait running.
	types, err := c.DescribeInstanceTypes(ctx, &awsec2.DescribeInstanceTypesInput{InstanceTypes: []ec2types.InstanceType{ec2types.InstanceTypeT3Micro}})
	if err != nil || len(types.InstanceTypes) != 1 || !aws.ToBool(types.InstanceTypes[0].BurstablePerformanceSupported) {
		t.Fatalf("DescribeInstanceTypes = %+v, %v", types, err)
	}
	run, err := c.RunInstances(ctx, &awsec2.RunInstancesInput{ImageId: latest.ImageId, InstanceType: ec2types.InstanceTypeT3Micro, KeyName: aws.String("deployer"),
		MinCount: aws.Int32(1), MaxCount: aws.Int32(1), CreditSpecification: &ec2types.CreditSpecificationRequest{CpuCredits: aws.String("unlimited")},
		MetadataOptions:     &ec2types.InstanceMetadataOptionsRequest{HttpTokens: ec2types.HttpTokensStateRequired, HttpPutResponseHopLimit: aws.Int32(1)},
		BlockDeviceMappings: []ec2types.BlockDeviceMapping{{DeviceName: aws.String("/dev/xvda"), Ebs: &ec2types.EbsBlockDevice{VolumeSize: aws.Int32(16), VolumeType: ec2types.VolumeTypeGp3, DeleteOnTermination: aws.Bool(true)}}},
		TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeInstance, Tags: []ec2types.Tag{{Key: aws.String("Name"), Value: aws.String("web")}}},
			{ResourceType: ec2types.ResourceTypeVolume, Tags: []ec2types.Tag{{Key: aws.String("Name"), Value: aws.String("web-root")}}}}})
	if err != nil {
		t.Fatalf("RunInstances: %v", err)
	}
	id := run.Instances[0].InstanceId
	if err := awsec2.NewInstanceRunningWaiter(c).Wait(ctx, &awsec2.DescribeInstancesInput{InstanceIds: []string{*id}}, time.Minute); err != nil {
		t.Fatalf("wait instance-running: %v", err)
	}
	if err := awsec2.NewInstanceStatusOkWaiter(c).Wait(ctx, &awsec2.DescribeInstanceStatusInput{InstanceIds: []string{*id}}, time.Minute); err != nil {
		t.Fatalf("wait instance-status-ok: %v", err)
	}

	// aws_instance read.
	desc, err := c.DescribeInstances(ctx, &awsec2.DescribeInstancesInput{InstanceIds: []string{*id}})
	if err != nil {
		t.Fatalf("DescribeInstances: %v", err)
	}
	inst := desc.Reservations[0].Instances[0]
	if inst.MetadataOptions == nil || inst.MetadataOptions.HttpTokens != ec2types.HttpTokensStateRequired || inst.Monitoring.State != ec2types.MonitoringStateDisabled ||
		inst.HibernationOptions == nil || len(inst.BlockDeviceMappings) != 1 || inst.CpuOptions == nil || aws.ToString(inst.KeyName) != "deployer" {
		t.Errorf("DescribeInstances: instance %+v lacks what aws_instance reads", inst)
	}
	if _, err := c.DescribeInstanceTypes(ctx, &awsec2.DescribeInstanceTypesInput{InstanceTypes: []ec2types.InstanceType{inst.InstanceType}}); err != nil {
		t.Fatalf("DescribeInstanceTypes: %v", err)
	}
	for _, a := range []ec2types.InstanceAttributeName{ec2types.InstanceAttributeNameDisableApiTermination, ec2types.InstanceAttributeNameDisableApiStop,
		ec2types.InstanceAttributeNameInstanceInitiatedShutdownBehavior, ec2types.InstanceAttributeNameUserData, ec2types.InstanceAttributeNameSourceDestCheck} {
		if _, err := c.DescribeInstanceAttribute(ctx, &awsec2.DescribeInstanceAttributeInput{InstanceId: id, Attribute: a}); err != nil {
			t.Errorf("DescribeInstanceAttribute(%s): %v", a, err)
		}
	}
	cs, err := c.DescribeInstanceCreditSpecifications(ctx, &awsec2.DescribeInstanceCreditSpecificationsInput{InstanceIds: []string{*id}})
	if err != nil || len(cs.InstanceCreditSpecifications) != 1 || aws.ToString(cs.InstanceCreditSpecifications[0].CpuCredits) != "unlimited" {
		t.Errorf("DescribeInstanceCreditSpecifications = %+v, %v", cs, err)
	}
	vols, err := c.DescribeVolumes(ctx, &awsec2.DescribeVolumesInput{Filters: []ec2types.Filter{{Name: aws.String("attachment.instance-id"), Values: []string{*id}}}})
	if err != nil || len(vols.Volumes) != 1 || aws.ToInt32(vols.Volumes[0].Size) != 16 || vols.Volumes[0].VolumeType != ec2types.VolumeTypeGp3 {
		t.Errorf("DescribeVolumes = %+v, %v", vols, err)
	}
	tags, err := c.DescribeTags(ctx, &awsec2.DescribeTagsInput{Filters: []ec2types.Filter{{Name: aws.String("resource-id"), Values: []string{*vols.Volumes[0].VolumeId}}}})
	if err != nil || len(tags.Tags) != 1 || aws.ToString(tags.Tags[0].Value) != "web-root" {
		t.Errorf("DescribeTags(volume) = %+v, %v", tags, err)
	}

	// A second instance from the launch template, the type overridden.
	fromLT, err := c.RunInstances(ctx, &awsec2.RunInstancesInput{MinCount: aws.Int32(1), MaxCount: aws.Int32(1), InstanceType: ec2types.InstanceTypeT3Small,
		LaunchTemplate: &ec2types.LaunchTemplateSpecification{LaunchTemplateId: ltID, Version: aws.String("$Latest")}})
	if err != nil || fromLT.Instances[0].InstanceType != ec2types.InstanceTypeT3Small || aws.ToString(fromLT.Instances[0].KeyName) != "deployer" {
		t.Fatalf("RunInstances(launch template) = %+v, %v", fromLT, err)
	}

	// aws_instance delete; aws_launch_template and aws_key_pair delete.
	if _, err := c.TerminateInstances(ctx, &awsec2.TerminateInstancesInput{InstanceIds: []string{*id, *fromLT.Instances[0].InstanceId}}); err != nil {
		t.Fatalf("TerminateInstances: %v", err)
	}
	if err := awsec2.NewInstanceTerminatedWaiter(c).Wait(ctx, &awsec2.DescribeInstancesInput{InstanceIds: []string{*id}}, time.Minute); err != nil {
		t.Fatalf("wait instance-terminated: %v", err)
	}
	left, err := c.DescribeVolumes(ctx, &awsec2.DescribeVolumesInput{})
	if err != nil || len(left.Volumes) != 0 {
		t.Errorf("volumes after terminate = %+v, %v; want none (DeleteOnTermination)", left, err)
	}
	if _, err := c.DeleteLaunchTemplate(ctx, &awsec2.DeleteLaunchTemplateInput{LaunchTemplateId: ltID}); err != nil {
		t.Fatalf("DeleteLaunchTemplate: %v", err)
	}
	if _, err := c.DeleteKeyPair(ctx, &awsec2.DeleteKeyPairInput{KeyPairId: kp.KeyPairId}); err != nil {
		t.Fatalf("DeleteKeyPair: %v", err)
	}
}
