package ec2

import (
	"context"
	"strings"
	"testing"

	"github.com/cachalot-dev/cachalot/internal/api/ec2api"
	"github.com/cachalot-dev/cachalot/internal/store"
	"github.com/google/go-cmp/cmp"
)

// dumpEC2 returns every EC2 key and value of the store.
func dumpEC2(t testing.TB, st store.Store) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := st.View(context.Background(), func(tx store.Tx) error {
		return tx.Scan("ec2/", func(k string, v []byte) error {
			out[k] = string(v)
			return nil
		})
	})
	ok(t, err)
	return out
}

// failsUnchanged checks that call fails with code and leaves the store as it was.
func failsUnchanged(t *testing.T, st store.Store, code string, call func() error) {
	t.Helper()
	before := dumpEC2(t, st)
	wantCode(t, call(), code)
	if diff := cmp.Diff(before, dumpEC2(t, st)); diff != "" {
		t.Errorf("failed call changed the store (-before +after):\n%s", diff)
	}
}

func attr(t testing.TB, s *Service, ctx context.Context, id, name string) *ec2api.InstanceAttribute {
	t.Helper()
	out, err := s.DescribeInstanceAttribute(ctx, &ec2api.DescribeInstanceAttributeRequest{InstanceId: ptr(id), Attribute: ptr(name)})
	ok(t, err)
	return out
}

func TestInstanceAttributes(t *testing.T) {
	s, st := newTestService(t)
	ctx := ctxFor(acctA)
	id := *run(t, s, ctx, &ec2api.RunInstancesRequest{InstanceType: ptr("t3.micro"), DisableApiTermination: ptr(true),
		DisableApiStop: ptr(true)}).Instances[0].InstanceId
	ids := []string{id}

	if got := *attr(t, s, ctx, id, "disableApiTermination").DisableApiTermination.Value; !got {
		t.Errorf("disableApiTermination = false, want true")
	}
	if got := *attr(t, s, ctx, id, "instanceInitiatedShutdownBehavior").InstanceInitiatedShutdownBehavior.Value; got != "stop" {
		t.Errorf("instanceInitiatedShutdownBehavior = %q, want stop", got)
	}
	if got := *attr(t, s, ctx, id, "rootDeviceName").RootDeviceName.Value; got != "/dev/xvda" {
		t.Errorf("rootDeviceName = %q, want /dev/xvda", got)
	}
	if got := attr(t, s, ctx, id, "blockDeviceMapping").BlockDeviceMappings; len(got) != 1 || *got[0].DeviceName != "/dev/xvda" {
		t.Errorf("blockDeviceMapping = %+v, want the root volume", got)
	}
	for _, a := range instanceAttrNames {
		attr(t, s, ctx, id, a) // every attribute AWS has answers
	}

	failsUnchanged(t, st, "OperationNotPermitted", func() error {
		_, err := s.TerminateInstances(ctx, &ec2api.TerminateInstancesRequest{InstanceIds: ids})
		return err
	})
	failsUnchanged(t, st, "OperationNotPermitted", func() error {
		_, err := s.StopInstances(ctx, &ec2api.StopInstancesRequest{InstanceIds: ids})
		return err
	})
	failsUnchanged(t, st, "IncorrectInstanceState", func() error {
		return s.ModifyInstanceAttribute(ctx, &ec2api.ModifyInstanceAttributeRequest{InstanceId: ptr(id), InstanceType: &ec2api.AttributeValue{Value: ptr("t3.small")}})
	})
	failsUnchanged(t, st, "InvalidParameterCombination", func() error {
		return s.ModifyInstanceAttribute(ctx, &ec2api.ModifyInstanceAttributeRequest{InstanceId: ptr(id),
			DisableApiStop: &ec2api.AttributeBooleanValue{Value: ptr(false)}, EbsOptimized: &ec2api.AttributeBooleanValue{Value: ptr(true)}})
	})
	failsUnchanged(t, st, "InvalidParameterValue", func() error {
		return s.ModifyInstanceAttribute(ctx, &ec2api.ModifyInstanceAttributeRequest{InstanceId: ptr(id), Attribute: ptr("colour"), Value: ptr("blue")})
	})
	failsUnchanged(t, st, "InvalidParameterValue", func() error {
		return s.ModifyInstanceAttribute(ctx, &ec2api.ModifyInstanceAttributeRequest{InstanceId: ptr(id), Attribute: ptr("instanceInitiatedShutdownBehavior"), Value: ptr("explode")})
	})
	_, err := s.DescribeInstanceAttribute(ctx, &ec2api.DescribeInstanceAttributeRequest{InstanceId: ptr(id), Attribute: ptr("colour")})
	wantCode(t, err, "InvalidParameterValue")

	ok(t, s.ModifyInstanceAttribute(ctx, &ec2api.ModifyInstanceAttributeRequest{InstanceId: ptr(id), DisableApiStop: &ec2api.AttributeBooleanValue{Value: ptr(false)}}))
	ok(t, s.ModifyInstanceAttribute(ctx, &ec2api.ModifyInstanceAttributeRequest{InstanceId: ptr(id), Attribute: ptr("instanceInitiatedShutdownBehavior"), Value: ptr("terminate")}))
	must[*ec2api.StopInstancesResult](t)(s.StopInstances(ctx, &ec2api.StopInstancesRequest{InstanceIds: ids}))
	ok(t, s.ModifyInstanceAttribute(ctx, &ec2api.ModifyInstanceAttributeRequest{InstanceId: ptr(id), InstanceType: &ec2api.AttributeValue{Value: ptr("t3.small")}}))
	ok(t, s.ModifyInstanceAttribute(ctx, &ec2api.ModifyInstanceAttributeRequest{InstanceId: ptr(id), UserData: &ec2api.BlobAttributeValue{Value: []byte("#!/bin/sh\n")}}))
	failsUnchanged(t, st, "InvalidParameterValue", func() error {
		return s.ModifyInstanceAttribute(ctx, &ec2api.ModifyInstanceAttributeRequest{InstanceId: ptr(id), InstanceType: &ec2api.AttributeValue{Value: ptr("t4g.small")}})
	})
	inst := describeOne(t, s, ctx, id)
	want := map[string]string{"type": "t3.small", "shutdown": "terminate", "reason": "User initiated (", "code": "Client.UserInitiatedShutdown"}
	got := map[string]string{"type": *inst.InstanceType, "shutdown": *attr(t, s, ctx, id, "instanceInitiatedShutdownBehavior").InstanceInitiatedShutdownBehavior.Value,
		"reason": (*inst.StateTransitionReason)[:len("User initiated (")], "code": *inst.StateReason.Code}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("stopped instance (-want +got):\n%s", diff)
	}
	if got := *attr(t, s, ctx, id, "userData").UserData.Value; got != "IyEvYmluL3NoCg==" {
		t.Errorf("userData = %q, want the base64 of the script", got)
	}

	ok(t, s.ModifyInstanceAttribute(ctx, &ec2api.ModifyInstanceAttributeRequest{InstanceId: ptr(id), Attribute: ptr("disableApiTermination"), Value: ptr("false")}))
	must[*ec2api.TerminateInstancesResult](t)(s.TerminateInstances(ctx, &ec2api.TerminateInstancesRequest{InstanceIds: ids}))
}

func describeOne(t testing.TB, s *Service, ctx context.Context, id string) ec2api.Instance {
	t.Helper()
	out := must[*ec2api.DescribeInstancesResult](t)(s.DescribeInstances(ctx, &ec2api.DescribeInstancesRequest{InstanceIds: []string{id}}))
	if len(out.Reservations) != 1 || len(out.Reservations[0].Instances) != 1 {
		t.Fatalf("DescribeInstances(%s) = %+v, want one instance", id, out)
	}
	return out.Reservations[0].Instances[0]
}

func TestTerminateInstancesErrors(t *testing.T) {
	s, st := newTestService(t)
	ctx := ctxFor(acctA)
	run(t, s, ctx, &ec2api.RunInstancesRequest{})
	failsUnchanged(t, st, "InvalidParameterCombination", func() error {
		_, err := s.TerminateInstances(ctx, &ec2api.TerminateInstancesRequest{})
		return err
	})
	before := dumpEC2(t, st)
	_, err := s.TerminateInstances(ctx, &ec2api.TerminateInstancesRequest{InstanceIds: []string{"i-0123456789abcdef0", "i-0123456789abcdef1"}})
	wantCode(t, err, "InvalidInstanceID.NotFound")
	if !strings.Contains(err.Error(), "i-0123456789abcdef0, i-0123456789abcdef1") {
		t.Errorf("error = %v, want both ids listed", err)
	}
	if diff := cmp.Diff(before, dumpEC2(t, st)); diff != "" {
		t.Errorf("failed call changed the store:\n%s", diff)
	}
}

func TestCreditsMetadataStatusReboot(t *testing.T) {
	s, st := newTestService(t)
	ctx := ctxFor(acctA)
	al2023 := amiID("al2023-ami-2023.6.20241212.0-kernel-6.1-x86_64")
	t3 := *run(t, s, ctx, &ec2api.RunInstancesRequest{InstanceType: ptr("t3.micro"), ImageId: ptr(al2023)}).Instances[0].InstanceId
	t2 := *run(t, s, ctx, &ec2api.RunInstancesRequest{InstanceType: ptr("t2.micro"), CreditSpecification: &ec2api.CreditSpecificationRequest{CpuCredits: ptr("unlimited")}}).Instances[0].InstanceId
	m5 := *run(t, s, ctx, &ec2api.RunInstancesRequest{InstanceType: ptr("m5.large"), MetadataOptions: &ec2api.InstanceMetadataOptionsRequest{HttpTokens: ptr("required")}}).Instances[0].InstanceId

	cs := must[*ec2api.DescribeInstanceCreditSpecificationsResult](t)(s.DescribeInstanceCreditSpecifications(ctx, &ec2api.DescribeInstanceCreditSpecificationsRequest{InstanceIds: []string{t3, t2}}))
	got := map[string]string{}
	for _, c := range cs.InstanceCreditSpecifications {
		got[*c.InstanceId] = *c.CpuCredits
	}
	if diff := cmp.Diff(map[string]string{t3: "unlimited", t2: "unlimited"}, got); diff != "" {
		t.Errorf("credit specifications (-want +got):\n%s", diff)
	}
	_, err := s.DescribeInstanceCreditSpecifications(ctx, &ec2api.DescribeInstanceCreditSpecificationsRequest{InstanceIds: []string{m5}})
	wantCode(t, err, "UnsupportedOperation")
	failsUnchanged(t, st, "InvalidParameterCombination", func() error {
		_, err := s.RunInstances(ctx, &ec2api.RunInstancesRequest{ImageId: ptr("ami-12345678"), MinCount: ptr(int32(1)), MaxCount: ptr(int32(1)),
			InstanceType: ptr("m5.large"), CreditSpecification: &ec2api.CreditSpecificationRequest{CpuCredits: ptr("standard")}})
		return err
	})
	mod := must[*ec2api.ModifyInstanceCreditSpecificationResult](t)(s.ModifyInstanceCreditSpecification(ctx, &ec2api.ModifyInstanceCreditSpecificationRequest{
		InstanceCreditSpecifications: []ec2api.InstanceCreditSpecificationRequest{{InstanceId: ptr(t3), CpuCredits: ptr("standard")}, {InstanceId: ptr(m5), CpuCredits: ptr("standard")}}}))
	if len(mod.SuccessfulInstanceCreditSpecifications) != 1 || len(mod.UnsuccessfulInstanceCreditSpecifications) != 1 {
		t.Errorf("ModifyInstanceCreditSpecification = %+v, want t3 succeeding and m5 failing", mod)
	}

	// Metadata options: AL2023 images ask for IMDSv2 and two hops.
	if m := describeOne(t, s, ctx, t3).MetadataOptions; *m.HttpTokens != "required" || *m.HttpPutResponseHopLimit != 2 || *m.State != "applied" {
		t.Errorf("metadata options of an AL2023 instance = %+v, want required, 2 hops, applied", m)
	}
	if m := describeOne(t, s, ctx, t2).MetadataOptions; *m.HttpTokens != "optional" {
		t.Errorf("metadata options = %+v, want optional", m)
	}
	mo := must[*ec2api.ModifyInstanceMetadataOptionsResult](t)(s.ModifyInstanceMetadataOptions(ctx, &ec2api.ModifyInstanceMetadataOptionsRequest{InstanceId: ptr(t2), HttpTokens: ptr("required"), HttpPutResponseHopLimit: ptr(int32(3))}))
	if *mo.InstanceMetadataOptions.State != "pending" || *mo.InstanceMetadataOptions.HttpTokens != "required" {
		t.Errorf("ModifyInstanceMetadataOptions = %+v", mo.InstanceMetadataOptions)
	}
	if m := describeOne(t, s, ctx, t2).MetadataOptions; *m.HttpTokens != "required" || *m.HttpPutResponseHopLimit != 3 {
		t.Errorf("metadata options after modify = %+v", m)
	}
	failsUnchanged(t, st, "InvalidParameterValue", func() error {
		_, err := s.ModifyInstanceMetadataOptions(ctx, &ec2api.ModifyInstanceMetadataOptionsRequest{InstanceId: ptr(t2), HttpPutResponseHopLimit: ptr(int32(65))})
		return err
	})

	// Status: running instances pass both checks; stopped ones show with IncludeAllInstances.
	failsUnchanged(t, st, "UnsupportedOperation", func() error {
		_, err := s.StopInstances(ctx, &ec2api.StopInstancesRequest{InstanceIds: []string{m5}, Hibernate: ptr(true)})
		return err
	})
	must[*ec2api.StopInstancesResult](t)(s.StopInstances(ctx, &ec2api.StopInstancesRequest{InstanceIds: []string{m5}}))
	status := must[*ec2api.DescribeInstanceStatusResult](t)(s.DescribeInstanceStatus(ctx, &ec2api.DescribeInstanceStatusRequest{}))
	if len(status.InstanceStatuses) != 2 || *status.InstanceStatuses[0].InstanceStatus.Status != "ok" || *status.InstanceStatuses[0].SystemStatus.Status != "ok" {
		t.Errorf("DescribeInstanceStatus = %+v, want two running instances, ok", status.InstanceStatuses)
	}
	all := must[*ec2api.DescribeInstanceStatusResult](t)(s.DescribeInstanceStatus(ctx, &ec2api.DescribeInstanceStatusRequest{IncludeAllInstances: ptr(true),
		Filters: []ec2api.Filter{filter("instance-state-name", "stopped")}}))
	if len(all.InstanceStatuses) != 1 || *all.InstanceStatuses[0].InstanceStatus.Status != "not-applicable" {
		t.Errorf("DescribeInstanceStatus(all, stopped) = %+v, want m5 not-applicable", all.InstanceStatuses)
	}

	ok(t, s.RebootInstances(ctx, &ec2api.RebootInstancesRequest{InstanceIds: []string{t3}}))
	failsUnchanged(t, st, "InvalidInstanceID.NotFound", func() error {
		return s.RebootInstances(ctx, &ec2api.RebootInstancesRequest{InstanceIds: []string{t3, "i-0123456789abcdef0"}})
	})
}

func TestDescribeInstanceTypes(t *testing.T) {
	s, _ := newTestService(t)
	ctx := ctxFor(acctA)
	out := must[*ec2api.DescribeInstanceTypesResult](t)(s.DescribeInstanceTypes(ctx, &ec2api.DescribeInstanceTypesRequest{InstanceTypes: []string{"t3.micro", "t4g.large", "m5.xlarge"}}))
	type row struct {
		Name      string
		VCPUs     int32
		MiB       int64
		Burstable bool
		Archs     string
	}
	var got []row
	for _, it := range out.InstanceTypes {
		got = append(got, row{*it.InstanceType, *it.VCpuInfo.DefaultVCpus, *it.MemoryInfo.SizeInMiB, *it.BurstablePerformanceSupported,
			strings.Join(it.ProcessorInfo.SupportedArchitectures, ",")})
	}
	want := []row{{"m5.xlarge", 4, 16384, false, "x86_64"}, {"t3.micro", 2, 1024, true, "x86_64"}, {"t4g.large", 2, 8192, true, "arm64"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("DescribeInstanceTypes (-want +got):\n%s", diff)
	}
	_, err := s.DescribeInstanceTypes(ctx, &ec2api.DescribeInstanceTypesRequest{InstanceTypes: []string{"t3.micro", "t3.huge"}})
	wantCode(t, err, "InvalidInstanceType")
	arm := must[*ec2api.DescribeInstanceTypesResult](t)(s.DescribeInstanceTypes(ctx, &ec2api.DescribeInstanceTypesRequest{
		Filters: []ec2api.Filter{filter("processor-info.supported-architecture", "arm64"), filter("instance-type", "t4g.*", "m7g.*")}}))
	if len(arm.InstanceTypes) != len(burstSizes)+8 {
		t.Errorf("arm64 t4g and m7g = %d types, want %d", len(arm.InstanceTypes), len(burstSizes)+8)
	}
	// Paging walks the whole catalogue once.
	var names []string
	var token *string
	for {
		page := must[*ec2api.DescribeInstanceTypesResult](t)(s.DescribeInstanceTypes(ctx, &ec2api.DescribeInstanceTypesRequest{MaxResults: ptr(int32(40)), NextToken: token}))
		for _, it := range page.InstanceTypes {
			names = append(names, *it.InstanceType)
		}
		if token = page.NextToken; token == nil {
			break
		}
	}
	if len(names) != len(catalogue) {
		t.Errorf("paged %d types, want %d", len(names), len(catalogue))
	}
	_, err = s.DescribeInstanceTypes(ctx, &ec2api.DescribeInstanceTypesRequest{MaxResults: ptr(int32(4))})
	wantCode(t, err, "InvalidParameterValue")
	off := must[*ec2api.DescribeInstanceTypeOfferingsResult](t)(s.DescribeInstanceTypeOfferings(ctx, &ec2api.DescribeInstanceTypeOfferingsRequest{
		LocationType: ptr("availability-zone"), Filters: []ec2api.Filter{filter("instance-type", "t3.micro")}}))
	if len(off.InstanceTypeOfferings) != 3 || *off.InstanceTypeOfferings[0].Location != "us-east-1a" {
		t.Errorf("offerings of t3.micro by zone = %+v, want one per zone", off.InstanceTypeOfferings)
	}
	failsUnchanged(t, s.st, "InvalidParameterValue", func() error {
		_, err := s.RunInstances(ctx, &ec2api.RunInstancesRequest{ImageId: ptr("ami-12345678"), MinCount: ptr(int32(1)), MaxCount: ptr(int32(1)), InstanceType: ptr("t3.huge")})
		return err
	})
}
