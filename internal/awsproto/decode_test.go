package awsproto_test

import (
	"net/url"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/google/go-cmp/cmp"

	"github.com/cachalot-dev/cachalot/internal/api/ec2api"
	"github.com/cachalot-dev/cachalot/internal/api/elasticacheapi"
	"github.com/cachalot-dev/cachalot/internal/api/iamapi"
	"github.com/cachalot-dev/cachalot/internal/awserr"
	"github.com/cachalot-dev/cachalot/internal/awsproto"
)

func TestDecodeTables(t *testing.T) {
	tests := []struct {
		name   string
		svc    awsproto.Service
		params string
		in     any
		want   any
	}{
		{"elasticache member lists and tags", elasticacheapi.Metadata,
			"CacheClusterId=c1&NumCacheNodes=3&SecurityGroupIds.SecurityGroupId.1=sg-1&SecurityGroupIds.SecurityGroupId.2=sg-2&Tags.Tag.1.Key=env&Tags.Tag.1.Value=dev&PreferredAvailabilityZones.PreferredAvailabilityZone.1=us-east-1a",
			&elasticacheapi.CreateCacheClusterMessage{},
			&elasticacheapi.CreateCacheClusterMessage{
				CacheClusterId: aws.String("c1"), NumCacheNodes: aws.Int32(3),
				SecurityGroupIds:           []string{"sg-1", "sg-2"},
				Tags:                       []elasticacheapi.Tag{{Key: aws.String("env"), Value: aws.String("dev")}},
				PreferredAvailabilityZones: []string{"us-east-1a"},
			}},
		{"elasticache empty list", elasticacheapi.Metadata, "CacheClusterId=c1&SecurityGroupIds=",
			&elasticacheapi.ModifyCacheClusterMessage{},
			&elasticacheapi.ModifyCacheClusterMessage{CacheClusterId: aws.String("c1"), SecurityGroupIds: []string{}}},
		{"elasticache list order by index not by text", elasticacheapi.Metadata,
			"CacheClusterId=c&CacheNodeIdsToReboot.CacheNodeId.10=j&CacheNodeIdsToReboot.CacheNodeId.2=b&CacheNodeIdsToReboot.CacheNodeId.1=a",
			&elasticacheapi.RebootCacheClusterMessage{},
			&elasticacheapi.RebootCacheClusterMessage{CacheClusterId: aws.String("c"), CacheNodeIdsToReboot: []string{"a", "b", "j"}}},
		{"ec2 flat lists and nested permissions", ec2api.Metadata,
			"GroupId=sg-1&IpPermissions.1.IpProtocol=tcp&IpPermissions.1.FromPort=6379&IpPermissions.1.ToPort=6379&IpPermissions.1.IpRanges.1.CidrIp=0.0.0.0/0&IpPermissions.1.Groups.1.GroupId=sg-2&IpPermissions.1.Groups.1.UserId=111122223333",
			&ec2api.AuthorizeSecurityGroupIngressRequest{},
			&ec2api.AuthorizeSecurityGroupIngressRequest{GroupId: aws.String("sg-1"), IpPermissions: []ec2api.IpPermission{{
				IpProtocol: aws.String("tcp"), FromPort: aws.Int32(6379), ToPort: aws.Int32(6379),
				IpRanges:         []ec2api.IpRange{{CidrIp: aws.String("0.0.0.0/0")}},
				UserIdGroupPairs: []ec2api.UserIdGroupPair{{GroupId: aws.String("sg-2"), UserId: aws.String("111122223333")}},
			}}}},
		{"ec2 filters", ec2api.Metadata, "Filter.1.Name=vpc-id&Filter.1.Value.1=vpc-a&Filter.1.Value.2=vpc-b&MaxResults=5",
			&ec2api.DescribeSecurityGroupsRequest{},
			&ec2api.DescribeSecurityGroupsRequest{MaxResults: aws.Int32(5), Filters: []ec2api.Filter{{Name: aws.String("vpc-id"), Values: []string{"vpc-a", "vpc-b"}}}}},
		{"ec2 booleans are case-insensitive", ec2api.Metadata, "DryRun=True&VpcId=vpc-1",
			&ec2api.DeleteVpcRequest{}, &ec2api.DeleteVpcRequest{DryRun: aws.Bool(true), VpcId: aws.String("vpc-1")}},
		{"iam blob and strings", iamapi.Metadata, "UserName=bob&PolicyName=p&PolicyDocument=%7B%7D",
			&iamapi.PutUserPolicyRequest{}, &iamapi.PutUserPolicyRequest{UserName: aws.String("bob"), PolicyName: aws.String("p"), PolicyDocument: aws.String("{}")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			params, err := url.ParseQuery(tt.params)
			if err != nil {
				t.Fatal(err)
			}
			if err := awsproto.Decode(tt.svc, params, tt.in); err != nil {
				t.Fatalf("Decode = %v", err)
			}
			if diff := cmp.Diff(tt.want, tt.in); diff != "" {
				t.Errorf("Decode mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name, params string
		svc          awsproto.Service
		in           any
		code         string
	}{
		{"missing required", "", elasticacheapi.Metadata, &elasticacheapi.DeleteCacheClusterMessage{}, "MissingParameter"},
		{"missing nested required", "IpPermissions.1.FromPort=1", ec2api.Metadata, &ec2api.UpdateSecurityGroupRuleDescriptionsIngressRequest{}, ""},
		{"bad integer", "MaxRecords=x", elasticacheapi.Metadata, &elasticacheapi.DescribeCacheClustersMessage{}, "InvalidParameterValue"},
		{"integer overflow", "MaxResults=99999999999", ec2api.Metadata, &ec2api.DescribeVpcsRequest{}, "InvalidParameterValue"},
		{"bad boolean", "DryRun=yes", ec2api.Metadata, &ec2api.DescribeVpcsRequest{}, "InvalidParameterValue"},
		{"bad timestamp", "CacheClusterId=c&StartTime=noon", elasticacheapi.Metadata, &elasticacheapi.DescribeEventsMessage{}, "InvalidParameterValue"},
		{"ec2 unknown", "Nope=1", ec2api.Metadata, &ec2api.DescribeVpcsRequest{}, "UnknownParameter"},
		{"ec2 bad index", "Filter.x.Name=a", ec2api.Metadata, &ec2api.DescribeVpcsRequest{}, "UnknownParameter"},
		{"iam validation", "", iamapi.Metadata, &iamapi.GetUserPolicyRequest{}, "ValidationError"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			params, _ := url.ParseQuery(tt.params)
			err := awsproto.Decode(tt.svc, params, tt.in)
			if tt.code == "" {
				return // only must not panic
			}
			e, ok := awserr.As(err)
			if !ok || e.Code != tt.code || e.HTTPStatus() != 400 {
				t.Errorf("Decode = %v, want a 400 %s", err, tt.code)
			}
		})
	}
}

func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		"IpPermissions.1.IpRanges.1.CidrIp=0.0.0.0/0&GroupId=sg-1",
		"Filter.1.Name=a&Filter.1.Value.1=b&Filter.2.Name=c",
		"IpPermissions.0.FromPort=1&IpPermissions.-1.ToPort=2",
		"IpPermissions.1=&IpPermissions.1.Groups=x",
		"TagSpecification.1.Tag.1.Key=k&TagSpecification.1.ResourceType=vpc",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		params, err := url.ParseQuery(q)
		if err != nil {
			return
		}
		for _, in := range []any{&ec2api.AuthorizeSecurityGroupIngressRequest{}, &ec2api.DescribeVpcsRequest{}, &ec2api.RunInstancesRequest{}} {
			err := awsproto.Decode(ec2api.Metadata, params, in)
			if err != nil {
				if _, ok := awserr.As(err); !ok {
					t.Fatalf("Decode(%q) = %v, not an AWS error", q, err)
				}
			}
		}
		for _, in := range []any{&elasticacheapi.CreateCacheClusterMessage{}, &iamapi.CreatePolicyRequest{}} {
			svc := elasticacheapi.Metadata
			if _, ok := in.(*iamapi.CreatePolicyRequest); ok {
				svc = iamapi.Metadata
			}
			if err := awsproto.Decode(svc, params, in); err != nil {
				if _, ok := awserr.As(err); !ok {
					t.Fatalf("Decode(%q) = %v, not an AWS error", q, err)
				}
			}
		}
	})
}
