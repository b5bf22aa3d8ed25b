package iam_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/smithy-go"

	"github.com/cachalot-dev/cachalot/internal/app/apptest"
)

// TestInstanceProfilePassRole: launching with an instance profile, or
// associating one, needs iam:PassRole on its role for EC2, as on AWS; a
// profile without a role needs none.
func TestInstanceProfilePassRole(t *testing.T) {
	env := apptest.Start(t)
	ic := iam.NewFromConfig(env.Config())
	must[*iam.CreateRoleOutput](t)(ic.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("app-role"),
		AssumeRolePolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}`)}))
	for _, p := range []string{"app-profile", "empty-profile"} {
		must[*iam.CreateInstanceProfileOutput](t)(ic.CreateInstanceProfile(ctx, &iam.CreateInstanceProfileInput{InstanceProfileName: aws.String(p)}))
	}
	must[*iam.AddRoleToInstanceProfileOutput](t)(ic.AddRoleToInstanceProfile(ctx, &iam.AddRoleToInstanceProfileInput{
		InstanceProfileName: aws.String("app-profile"), RoleName: aws.String("app-role")}))
	user := func(name, doc string) *ec2.Client {
		creds := newUser(t, ic, name)
		must[*iam.PutUserPolicyOutput](t)(ic.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String(name), PolicyName: aws.String("p"), PolicyDocument: aws.String(doc)}))
		return ec2.NewFromConfig(env.Config(creds))
	}
	ec2Only := user("ec2-only", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ec2:*","Resource":"*"}]}`)
	passer := user("passer", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ec2:*","Resource":"*"},
		{"Effect":"Allow","Action":"iam:PassRole","Resource":"arn:aws:iam::*:role/app-role","Condition":{"StringEquals":{"iam:PassedToService":"ec2.amazonaws.com"}}}]}`)
	runWith := func(c *ec2.Client, profile string) (*ec2.RunInstancesOutput, error) {
		return c.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String("ami-12345678"), MinCount: aws.Int32(1), MaxCount: aws.Int32(1),
			IamInstanceProfile: &ec2types.IamInstanceProfileSpecification{Name: aws.String(profile)}})
	}
	_, err := runWith(ec2Only, "app-profile")
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "UnauthorizedOperation" {
		t.Fatalf("RunInstances with a role and no iam:PassRole = %v, want UnauthorizedOperation", err)
	}
	if want := "is not authorized to perform: iam:PassRole on resource: arn:aws:iam::" + env.App.AccountID() + ":role/app-role"; !strings.Contains(ae.ErrorMessage(), want) {
		t.Errorf("denial = %q, want it to say %q", ae.ErrorMessage(), want)
	}
	if _, err := runWith(ec2Only, "empty-profile"); err != nil {
		t.Errorf("RunInstances with a profile without role = %v, want success", err)
	}
	out, err := runWith(passer, "app-profile")
	if err != nil {
		t.Fatalf("RunInstances with iam:PassRole = %v, want success", err)
	}
	id := out.Instances[0].InstanceId
	assocs := must[*ec2.DescribeIamInstanceProfileAssociationsOutput](t)(ec2Only.DescribeIamInstanceProfileAssociations(ctx, &ec2.DescribeIamInstanceProfileAssociationsInput{
		Filters: []ec2types.Filter{{Name: aws.String("instance-id"), Values: []string{*id}}}}))
	assoc := assocs.IamInstanceProfileAssociations[0].AssociationId
	must[*ec2.DisassociateIamInstanceProfileOutput](t)(ec2Only.DisassociateIamInstanceProfile(ctx, &ec2.DisassociateIamInstanceProfileInput{AssociationId: assoc}))
	_, err = ec2Only.AssociateIamInstanceProfile(ctx, &ec2.AssociateIamInstanceProfileInput{InstanceId: id,
		IamInstanceProfile: &ec2types.IamInstanceProfileSpecification{Name: aws.String("app-profile")}})
	if !errors.As(err, &ae) || ae.ErrorCode() != "UnauthorizedOperation" {
		t.Errorf("AssociateIamInstanceProfile without iam:PassRole = %v, want UnauthorizedOperation", err)
	}
	if _, err := passer.AssociateIamInstanceProfile(ctx, &ec2.AssociateIamInstanceProfileInput{InstanceId: id,
		IamInstanceProfile: &ec2types.IamInstanceProfileSpecification{Name: aws.String("app-profile")}}); err != nil {
		t.Errorf("AssociateIamInstanceProfile with iam:PassRole = %v, want success", err)
	}
}
