package policy

import (
	"strings"
	"testing"
)

func TestManagedPoliciesParse(t *testing.T) {
	all, err := ManagedPolicies()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"AdministratorAccess", "PowerUserAccess", "ReadOnlyAccess", "IAMFullAccess",
		"AmazonElastiCacheFullAccess", "AmazonElastiCacheReadOnlyAccess", "AmazonEC2FullAccess",
		"AmazonEC2ReadOnlyAccess", "AmazonVPCFullAccess", "ElastiCacheServiceRolePolicy"}
	got := map[string]Managed{}
	for _, m := range all {
		got[m.Name] = m
		if _, err := m.Parse(); err != nil {
			t.Errorf("%s: Parse = %v", m.Name, err)
		}
		if wantARN := "arn:aws:iam::aws:policy" + m.Path + m.Name; m.ARN != wantARN {
			t.Errorf("%s: ARN %s, want %s (path %s)", m.Name, m.ARN, wantARN, m.Path)
		}
		if !strings.HasPrefix(m.DefaultVersionID, "v") || m.CreateDate.IsZero() || m.Description == "" {
			t.Errorf("%s: incomplete metadata %+v", m.Name, m)
		}
	}
	for _, n := range want {
		if _, ok := got[n]; !ok {
			t.Errorf("managed policy %s missing", n)
		}
	}
	if m, ok := ManagedPolicy(ElastiCacheServiceRolePolicyARN); !ok || m.Name != "ElastiCacheServiceRolePolicy" {
		t.Errorf("ManagedPolicy(%s) = %+v, %v", ElastiCacheServiceRolePolicyARN, m, ok)
	}
	if _, ok := ManagedPolicy("NoSuchPolicy"); ok {
		t.Errorf("ManagedPolicy(NoSuchPolicy) found")
	}
}

func managedSet(t *testing.T, names ...string) Set {
	t.Helper()
	var s Set
	for _, n := range names {
		m, ok := ManagedPolicy(n)
		if !ok {
			t.Fatalf("ManagedPolicy(%s) missing", n)
		}
		np, err := m.Named()
		if err != nil {
			t.Fatal(err)
		}
		s.Identity = append(s.Identity, np)
	}
	return s
}

func TestManagedPolicyBehaviour(t *testing.T) {
	cluster := ElastiCacheARN("us-east-1", acct, ECCluster, "c1")
	slr := IAMARN(acct, IAMRole, ElastiCacheServiceRolePath, ElastiCacheServiceRoleName)
	tests := []struct {
		policy string
		req    Request
		want   bool
	}{
		{"AdministratorAccess", aliceReq("iam:CreateUser", "*"), true},
		{"PowerUserAccess", aliceReq("elasticache:CreateCacheCluster", cluster), true},
		{"PowerUserAccess", aliceReq("iam:CreateUser", "*"), false},
		{"PowerUserAccess", aliceReq("iam:CreateServiceLinkedRole", slr), true},
		{"ReadOnlyAccess", aliceReq("ec2:DescribeSecurityGroups", "*"), true},
		{"ReadOnlyAccess", aliceReq("elasticache:ListTagsForResource", cluster), true},
		{"ReadOnlyAccess", aliceReq("iam:GetUser", aliceARN), true},
		{"ReadOnlyAccess", aliceReq("sts:GetCallerIdentity", "*"), true},
		{"ReadOnlyAccess", aliceReq("elasticache:CreateCacheCluster", cluster), false},
		{"IAMFullAccess", aliceReq("iam:AttachUserPolicy", aliceARN), true},
		{"IAMFullAccess", aliceReq("ec2:DescribeVpcs", "*"), false},
		{"AmazonElastiCacheFullAccess", aliceReq("elasticache:DeleteReplicationGroup", ElastiCacheARN("us-east-1", acct, ECReplicationGroup, "rg")), true},
		{"AmazonElastiCacheFullAccess", aliceReq("ec2:DescribeSubnets", "*"), true},
		{"AmazonElastiCacheFullAccess", aliceReq("ec2:RunInstances", "*"), false},
		{"AmazonElastiCacheFullAccess", withContext(aliceReq("iam:CreateServiceLinkedRole", slr), "iam:AWSServiceName", ElastiCacheServiceName), true},
		{"AmazonElastiCacheFullAccess", withContext(aliceReq("iam:CreateServiceLinkedRole", slr), "iam:AWSServiceName", "ec2.amazonaws.com"), false},
		{"AmazonElastiCacheFullAccess", aliceReq("iam:CreateServiceLinkedRole", IAMARN(acct, IAMRole, "/", "other")), false},
		{"AmazonElastiCacheReadOnlyAccess", aliceReq("elasticache:DescribeCacheClusters", "*"), true},
		{"AmazonElastiCacheReadOnlyAccess", aliceReq("elasticache:ModifyCacheCluster", cluster), false},
		{"AmazonEC2FullAccess", aliceReq("ec2:AuthorizeSecurityGroupIngress", EC2ARN("us-east-1", acct, EC2SecurityGroup, "sg-1")), true},
		{"AmazonEC2FullAccess", aliceReq("elasticache:DescribeCacheClusters", "*"), false},
		{"AmazonEC2ReadOnlyAccess", aliceReq("ec2:DescribeInstances", "*"), true},
		{"AmazonEC2ReadOnlyAccess", aliceReq("ec2:GetConsoleOutput", "*"), true},
		{"AmazonEC2ReadOnlyAccess", aliceReq("ec2:CreateSecurityGroup", "*"), false},
		{"AmazonVPCFullAccess", aliceReq("ec2:CreateVpcPeeringConnection", "*"), true},
		{"AmazonVPCFullAccess", aliceReq("ec2:RunInstances", "*"), false},
		{"ElastiCacheServiceRolePolicy", aliceReq("ec2:CreateNetworkInterface", "*"), true},
		{"ElastiCacheServiceRolePolicy", aliceReq("ec2:DeleteVpc", "*"), false},
		// NotResource: CreateVpcEndpoint on the subnet etc. (not the endpoint) is allowed.
		{"ElastiCacheServiceRolePolicy", aliceReq("ec2:CreateVpcEndpoint", EC2ARN("us-east-1", acct, EC2Subnet, "subnet-1")), true},
		{"ElastiCacheServiceRolePolicy", aliceReq("ec2:CreateVpcEndpoint", EC2ARN("us-east-1", acct, EC2VPCEndpoint, "vpce-1")), false},
		{"ElastiCacheServiceRolePolicy", withContext(aliceReq("ec2:CreateVpcEndpoint", EC2ARN("us-east-1", acct, EC2VPCEndpoint, "vpce-1")),
			"ec2:VpceServiceName", "com.amazonaws.elasticache.serverless.us-east-1.vpce-svc-1"), true},
	}
	for _, tt := range tests {
		t.Run(tt.policy+"/"+tt.req.Action, func(t *testing.T) {
			set := managedSet(t, tt.policy)
			if got := Evaluate(&tt.req, set).Allowed; got != tt.want {
				t.Errorf("%s: Evaluate(%s on %s).Allowed = %v, want %v", tt.policy, tt.req.Action, tt.req.Resource, got, tt.want)
			}
		})
	}
}
