package policy

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestARNFormats(t *testing.T) {
	tests := []struct {
		got, want string
	}{
		{ElastiCacheARN("us-east-1", acct, ECCluster, "my-cache"), "arn:aws:elasticache:us-east-1:111122223333:cluster:my-cache"},
		{ElastiCacheARN("us-east-1", acct, ECReplicationGroup, "rg"), "arn:aws:elasticache:us-east-1:111122223333:replicationgroup:rg"},
		{ElastiCacheARN("us-east-1", acct, ECParameterGroup, "default.redis7"), "arn:aws:elasticache:us-east-1:111122223333:parametergroup:default.redis7"},
		{ElastiCacheARN("us-east-1", acct, ECSubnetGroup, "sg"), "arn:aws:elasticache:us-east-1:111122223333:subnetgroup:sg"},
		{ElastiCacheARN("us-east-1", acct, ECSecurityGroup, "default"), "arn:aws:elasticache:us-east-1:111122223333:securitygroup:default"},
		{ElastiCacheARN("us-east-1", acct, ECSnapshot, "s1"), "arn:aws:elasticache:us-east-1:111122223333:snapshot:s1"},
		{ElastiCacheARN("us-east-1", acct, ECUser, "default"), "arn:aws:elasticache:us-east-1:111122223333:user:default"},
		{ElastiCacheARN("us-east-1", acct, ECUserGroup, "ug"), "arn:aws:elasticache:us-east-1:111122223333:usergroup:ug"},
		{ElastiCacheARN("us-east-1", acct, ECServerlessCache, "sc"), "arn:aws:elasticache:us-east-1:111122223333:serverlesscache:sc"},
		{ElastiCacheARN("us-east-1", acct, ECReservedInstance, "ri"), "arn:aws:elasticache:us-east-1:111122223333:reserved-instance:ri"},
		{EC2ARN("us-east-1", acct, EC2VPC, "vpc-1"), "arn:aws:ec2:us-east-1:111122223333:vpc/vpc-1"},
		{EC2ARN("us-east-1", acct, EC2Subnet, "subnet-1"), "arn:aws:ec2:us-east-1:111122223333:subnet/subnet-1"},
		{EC2ARN("us-east-1", acct, EC2SecurityGroup, "sg-1"), "arn:aws:ec2:us-east-1:111122223333:security-group/sg-1"},
		{EC2ARN("us-east-1", acct, EC2SecurityGroupRule, "sgr-1"), "arn:aws:ec2:us-east-1:111122223333:security-group-rule/sgr-1"},
		{EC2ARN("us-east-1", acct, EC2Instance, "i-1"), "arn:aws:ec2:us-east-1:111122223333:instance/i-1"},
		{EC2ARN("us-east-1", acct, EC2NetworkInterface, "eni-1"), "arn:aws:ec2:us-east-1:111122223333:network-interface/eni-1"},
		{EC2ARN("us-east-1", acct, EC2ElasticIP, "eipalloc-1"), "arn:aws:ec2:us-east-1:111122223333:elastic-ip/eipalloc-1"},
		{EC2ARN("us-east-1", acct, EC2VPCPeeringConnection, "pcx-1"), "arn:aws:ec2:us-east-1:111122223333:vpc-peering-connection/pcx-1"},
		{IAMARN(acct, IAMUser, "", "alice"), "arn:aws:iam::111122223333:user/alice"},
		{IAMARN(acct, IAMUser, "/division/team/", "alice"), "arn:aws:iam::111122223333:user/division/team/alice"},
		{IAMARN(acct, IAMGroup, "admins", "ops"), "arn:aws:iam::111122223333:group/admins/ops"},
		{IAMARN(acct, IAMRole, ElastiCacheServiceRolePath, ElastiCacheServiceRoleName), "arn:aws:iam::111122223333:role/aws-service-role/elasticache.amazonaws.com/AWSServiceRoleForElastiCache"},
		{IAMARN(acct, IAMPolicy, "/", "p"), "arn:aws:iam::111122223333:policy/p"},
		{IAMARN(acct, IAMMFA, "/", "alice"), "arn:aws:iam::111122223333:mfa/alice"},
		{IAMARN(acct, IAMInstanceProfile, "/", "web"), "arn:aws:iam::111122223333:instance-profile/web"},
		{AssumedRoleARN(acct, "deployer", "build-42"), "arn:aws:sts::111122223333:assumed-role/deployer/build-42"},
		{FederatedUserARN(acct, "bob"), "arn:aws:sts::111122223333:federated-user/bob"},
		{AccountRootARN(acct), "arn:aws:iam::111122223333:root"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %s, want %s", tt.got, tt.want)
		}
		a, err := ParseARN(tt.want)
		if err != nil {
			t.Errorf("ParseARN(%s) = %v", tt.want, err)
			continue
		}
		if s := a.String(); s != tt.want {
			t.Errorf("ParseARN(%s).String() = %s", tt.want, s)
		}
	}
}

func TestParseARN(t *testing.T) {
	a, err := ParseARN("arn:aws:elasticache:us-east-1:111122223333:cluster:my:odd")
	if err != nil {
		t.Fatal(err)
	}
	want := ARN{Partition: "aws", Service: "elasticache", Region: "us-east-1", AccountID: acct, Resource: "cluster:my:odd"}
	if diff := cmp.Diff(want, a); diff != "" {
		t.Errorf("ParseARN mismatch (-want +got):\n%s", diff)
	}
	if typ, id := a.ResourceType(); typ != "cluster" || id != "my:odd" {
		t.Errorf("ResourceType() = %q, %q", typ, id)
	}
	u, _ := ParseARN("arn:aws:iam::111122223333:user/division/team/alice")
	if typ, path, name := IAMPathName(u); typ != "user" || path != "/division/team/" || name != "alice" {
		t.Errorf("IAMPathName = %q %q %q", typ, path, name)
	}
	r, _ := ParseARN("arn:aws:iam::111122223333:role/deployer")
	if typ, path, name := IAMPathName(r); typ != "role" || path != "/" || name != "deployer" {
		t.Errorf("IAMPathName = %q %q %q", typ, path, name)
	}
	for _, bad := range []string{"", "arn", "arn:aws:iam::1", "aws:iam::1:user/x", "arn::iam::1:user/x", "arn:aws:iam::1:"} {
		if _, err := ParseARN(bad); !errors.Is(err, ErrInvalidARN) {
			t.Errorf("ParseARN(%q) error = %v, want ErrInvalidARN", bad, err)
		}
	}
}
