package ec2

import (
	"context"
	"testing"

	"github.com/cachalot-dev/cachalot/internal/api/ec2api"
)

// fakeProfiles knows the profiles of acctA, by name.
type fakeProfiles map[string]string // name → id

func (f fakeProfiles) FindInstanceProfile(_ context.Context, account, arn, name string) (string, string, bool, error) {
	for n, id := range f {
		a := "arn:aws:iam::" + account + ":instance-profile/" + n
		if account == acctA && (arn == a || (arn == "" && name == n)) {
			return a, id, true, nil
		}
	}
	return "", "", false, nil
}

func profileSpec(name string) *ec2api.IamInstanceProfileSpecification {
	return &ec2api.IamInstanceProfileSpecification{Name: ptr(name)}
}

func TestInstanceProfileAssociations(t *testing.T) {
	st := openStore(t)
	s := New(st, Config{Profiles: fakeProfiles{"web": "AIPAWEB", "batch": "AIPABATCH"}})
	ctx := ctxFor(acctA)
	webARN := "arn:aws:iam::" + acctA + ":instance-profile/web"

	// RunInstances names a profile by name or ARN; unknown ones and both
	// at once are refused as AWS refuses them, changing nothing.
	for _, c := range []struct {
		name string
		sp   *ec2api.IamInstanceProfileSpecification
		code string
	}{
		{"unknown name", profileSpec("nosuch"), "InvalidParameterValue"},
		{"unknown ARN", &ec2api.IamInstanceProfileSpecification{Arn: ptr("arn:aws:iam::" + acctA + ":instance-profile/nosuch")}, "InvalidParameterValue"},
		{"other account's ARN", &ec2api.IamInstanceProfileSpecification{Arn: ptr("arn:aws:iam::" + acctB + ":instance-profile/web")}, "InvalidParameterValue"},
		{"name and ARN", &ec2api.IamInstanceProfileSpecification{Arn: ptr(webARN), Name: ptr("web")}, "InvalidParameterCombination"},
		{"neither", &ec2api.IamInstanceProfileSpecification{}, "MissingParameter"},
	} {
		t.Run(c.name, func(t *testing.T) {
			failsUnchanged(t, st, c.code, func() error {
				_, err := s.RunInstances(ctx, &ec2api.RunInstancesRequest{ImageId: ptr("ami-12345678"), MinCount: ptr(int32(1)), MaxCount: ptr(int32(1)),
					IamInstanceProfile: c.sp})
				return err
			})
		})
	}

	r := run(t, s, ctx, &ec2api.RunInstancesRequest{IamInstanceProfile: &ec2api.IamInstanceProfileSpecification{Arn: ptr(webARN)}})
	withProfile := *r.Instances[0].InstanceId
	if p := r.Instances[0].IamInstanceProfile; p == nil || *p.Arn != webARN || *p.Id != "AIPAWEB" {
		t.Errorf("RunInstances IamInstanceProfile = %+v, want %s AIPAWEB", p, webARN)
	}
	bare := *run(t, s, ctx, &ec2api.RunInstancesRequest{}).Instances[0].InstanceId

	d := must[*ec2api.DescribeInstancesResult](t)(s.DescribeInstances(ctx, &ec2api.DescribeInstancesRequest{
		Filters: []ec2api.Filter{filter("iam-instance-profile.arn", webARN)}}))
	if len(d.Reservations) != 1 || *d.Reservations[0].Instances[0].InstanceId != withProfile {
		t.Fatalf("DescribeInstances iam-instance-profile.arn = %+v, want %s only", d.Reservations, withProfile)
	}
	for f, v := range map[string]string{"iam-instance-profile.id": "AIPAWEB", "iam-instance-profile.name": "web"} {
		d := must[*ec2api.DescribeInstancesResult](t)(s.DescribeInstances(ctx, &ec2api.DescribeInstancesRequest{Filters: []ec2api.Filter{filter(f, v)}}))
		if len(d.Reservations) != 1 {
			t.Errorf("DescribeInstances %s=%s = %d reservations, want 1", f, v, len(d.Reservations))
		}
	}

	assocs := func(in *ec2api.DescribeIamInstanceProfileAssociationsRequest) []ec2api.IamInstanceProfileAssociation {
		t.Helper()
		return must[*ec2api.DescribeIamInstanceProfileAssociationsResult](t)(s.DescribeIamInstanceProfileAssociations(ctx, in)).IamInstanceProfileAssociations
	}
	all := assocs(&ec2api.DescribeIamInstanceProfileAssociationsRequest{})
	if len(all) != 1 || *all[0].InstanceId != withProfile || *all[0].State != "associated" || *all[0].IamInstanceProfile.Arn != webARN {
		t.Fatalf("DescribeIamInstanceProfileAssociations = %+v, want the launch's association", all)
	}
	launchAssoc := *all[0].AssociationId

	// One association per instance.
	failsUnchanged(t, st, "IncorrectState", func() error {
		_, err := s.AssociateIamInstanceProfile(ctx, &ec2api.AssociateIamInstanceProfileRequest{InstanceId: ptr(withProfile), IamInstanceProfile: profileSpec("batch")})
		return err
	})
	failsUnchanged(t, st, "InvalidParameterValue", func() error {
		_, err := s.AssociateIamInstanceProfile(ctx, &ec2api.AssociateIamInstanceProfileRequest{InstanceId: ptr(bare), IamInstanceProfile: profileSpec("nosuch")})
		return err
	})
	failsUnchanged(t, st, "InvalidInstanceID.NotFound", func() error {
		_, err := s.AssociateIamInstanceProfile(ctx, &ec2api.AssociateIamInstanceProfileRequest{InstanceId: ptr("i-0123456789abcdef0"), IamInstanceProfile: profileSpec("web")})
		return err
	})
	a := must[*ec2api.AssociateIamInstanceProfileResult](t)(s.AssociateIamInstanceProfile(ctx,
		&ec2api.AssociateIamInstanceProfileRequest{InstanceId: ptr(bare), IamInstanceProfile: profileSpec("batch")})).IamInstanceProfileAssociation
	if *a.State != "associating" || *a.InstanceId != bare || *a.IamInstanceProfile.Id != "AIPABATCH" {
		t.Errorf("AssociateIamInstanceProfile = %+v, want batch associating on %s", a, bare)
	}

	// Filters, ids and paging.
	if got := assocs(&ec2api.DescribeIamInstanceProfileAssociationsRequest{Filters: []ec2api.Filter{filter("instance-id", bare)}}); len(got) != 1 || *got[0].AssociationId != *a.AssociationId {
		t.Errorf("filter instance-id = %+v, want %s", got, *a.AssociationId)
	}
	if got := assocs(&ec2api.DescribeIamInstanceProfileAssociationsRequest{Filters: []ec2api.Filter{filter("state", "disassociated")}}); len(got) != 0 {
		t.Errorf("filter state=disassociated = %+v, want none", got)
	}
	if got := assocs(&ec2api.DescribeIamInstanceProfileAssociationsRequest{AssociationIds: []string{launchAssoc}}); len(got) != 1 || *got[0].InstanceId != withProfile {
		t.Errorf("AssociationIds = %+v, want %s", got, withProfile)
	}
	_, err := s.DescribeIamInstanceProfileAssociations(ctx, &ec2api.DescribeIamInstanceProfileAssociationsRequest{AssociationIds: []string{"iip-assoc-0123456789abcdef0"}})
	wantCode(t, err, "InvalidAssociationID.NotFound")
	_, err = s.DescribeIamInstanceProfileAssociations(ctx, &ec2api.DescribeIamInstanceProfileAssociationsRequest{MaxResults: ptr(int32(4))})
	wantCode(t, err, "InvalidParameterValue")
	var paged []string
	req := &ec2api.DescribeIamInstanceProfileAssociationsRequest{MaxResults: ptr(int32(5))}
	for i := 0; i < 5; i++ {
		run(t, s, ctx, &ec2api.RunInstancesRequest{IamInstanceProfile: profileSpec("web")})
	}
	for {
		out := must[*ec2api.DescribeIamInstanceProfileAssociationsResult](t)(s.DescribeIamInstanceProfileAssociations(ctx, req))
		for _, x := range out.IamInstanceProfileAssociations {
			paged = append(paged, *x.AssociationId)
		}
		if out.NextToken == nil {
			break
		}
		req.NextToken = out.NextToken
	}
	if len(paged) != 7 {
		t.Errorf("paged associations = %d, want 7", len(paged))
	}

	// Replace gives a new association; disassociate ends it.
	failsUnchanged(t, st, "InvalidAssociationID.NotFound", func() error {
		_, err := s.ReplaceIamInstanceProfileAssociation(ctx, &ec2api.ReplaceIamInstanceProfileAssociationRequest{AssociationId: ptr("iip-assoc-0123456789abcdef0"), IamInstanceProfile: profileSpec("web")})
		return err
	})
	rep := must[*ec2api.ReplaceIamInstanceProfileAssociationResult](t)(s.ReplaceIamInstanceProfileAssociation(ctx,
		&ec2api.ReplaceIamInstanceProfileAssociationRequest{AssociationId: ptr(launchAssoc), IamInstanceProfile: profileSpec("batch")})).IamInstanceProfileAssociation
	if *rep.AssociationId == launchAssoc || *rep.InstanceId != withProfile || *rep.IamInstanceProfile.Id != "AIPABATCH" {
		t.Errorf("ReplaceIamInstanceProfileAssociation = %+v, want a new association of batch on %s", rep, withProfile)
	}
	failsUnchanged(t, st, "InvalidAssociationID.NotFound", func() error {
		_, err := s.DisassociateIamInstanceProfile(ctx, &ec2api.DisassociateIamInstanceProfileRequest{AssociationId: ptr(launchAssoc)})
		return err
	})
	dis := must[*ec2api.DisassociateIamInstanceProfileResult](t)(s.DisassociateIamInstanceProfile(ctx,
		&ec2api.DisassociateIamInstanceProfileRequest{AssociationId: rep.AssociationId})).IamInstanceProfileAssociation
	if *dis.State != "disassociating" {
		t.Errorf("DisassociateIamInstanceProfile state = %s, want disassociating", *dis.State)
	}
	m := must[*Metadata](t)(s.InstanceMetadata(context.Background(), acctA, region, withProfile))
	if m.Profile != nil {
		t.Errorf("metadata profile after disassociation = %+v, want none", m.Profile)
	}
	if m2 := must[*Metadata](t)(s.InstanceMetadata(context.Background(), acctA, region, bare)); m2.Profile == nil || m2.Profile.Name != "batch" {
		t.Errorf("metadata profile of %s = %+v, want batch", bare, m2.Profile)
	}

	// Terminated instances lose their association.
	must[*ec2api.TerminateInstancesResult](t)(s.TerminateInstances(ctx, &ec2api.TerminateInstancesRequest{InstanceIds: []string{bare}}))
	if got := assocs(&ec2api.DescribeIamInstanceProfileAssociationsRequest{Filters: []ec2api.Filter{filter("instance-id", bare)}}); len(got) != 0 {
		t.Errorf("associations of a terminated instance = %+v, want none", got)
	}
}

// TestLaunchTemplateProfile: a launch template's instance profile applies
// at launch, checked then; the request's own wins.
func TestLaunchTemplateProfile(t *testing.T) {
	st := openStore(t)
	s := New(st, Config{Profiles: fakeProfiles{"web": "AIPAWEB", "batch": "AIPABATCH"}})
	ctx := ctxFor(acctA)
	for name, profile := range map[string]string{"lt-web": "web", "lt-gone": "nosuch"} {
		must[*ec2api.CreateLaunchTemplateResult](t)(s.CreateLaunchTemplate(ctx, &ec2api.CreateLaunchTemplateRequest{LaunchTemplateName: ptr(name),
			LaunchTemplateData: &ec2api.RequestLaunchTemplateData{ImageId: ptr("ami-12345678"),
				IamInstanceProfile: &ec2api.LaunchTemplateIamInstanceProfileSpecificationRequest{Name: ptr(profile)}}}))
	}
	launch := func(lt string, sp *ec2api.IamInstanceProfileSpecification) (*ec2api.Reservation, error) {
		return s.RunInstances(ctx, &ec2api.RunInstancesRequest{MinCount: ptr(int32(1)), MaxCount: ptr(int32(1)),
			LaunchTemplate: &ec2api.LaunchTemplateSpecification{LaunchTemplateName: ptr(lt)}, IamInstanceProfile: sp})
	}
	r, err := launch("lt-web", nil)
	ok(t, err)
	if p := r.Instances[0].IamInstanceProfile; p == nil || *p.Id != "AIPAWEB" {
		t.Errorf("profile from the template = %+v, want web", p)
	}
	r, err = launch("lt-web", profileSpec("batch"))
	ok(t, err)
	if p := r.Instances[0].IamInstanceProfile; p == nil || *p.Id != "AIPABATCH" {
		t.Errorf("profile of the request over the template's = %+v, want batch", p)
	}
	failsUnchanged(t, st, "InvalidParameterValue", func() error {
		_, err := launch("lt-gone", nil)
		return err
	})
}
