package awsproto_test

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/google/go-cmp/cmp"

	"github.com/cachalot-dev/cachalot/internal/api/ec2api"
	"github.com/cachalot-dev/cachalot/internal/api/elasticacheapi"
	"github.com/cachalot-dev/cachalot/internal/api/stsapi"
	"github.com/cachalot-dev/cachalot/internal/awserr"
	"github.com/cachalot-dev/cachalot/internal/awsproto"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// TestGoldenResponses pins the exact bytes of representative responses and
// errors of both protocols; `go test ./internal/awsproto -run Golden -update`
// rewrites them after an intended change (review the diff).
func TestGoldenResponses(t *testing.T) {
	created := time.Date(2026, 11, 21, 10, 11, 12, 0, time.UTC)
	ec := elasticacheapi.OperationTable(elasticacheapi.Unimplemented{})
	e2 := ec2api.OperationTable(ec2api.Unimplemented{})
	st := stsapi.OperationTable(stsapi.Unimplemented{})
	tests := []struct {
		name string
		got  []byte
	}{
		{"sts-get-caller-identity.xml", awsproto.EncodeResult(stsapi.Metadata, st["GetCallerIdentity"], &stsapi.GetCallerIdentityResponse{
			Account: aws.String("000000000000"), Arn: aws.String("arn:aws:iam::000000000000:root"), UserId: aws.String("000000000000")}, "req-1")},
		{"elasticache-describe-cache-clusters.xml", awsproto.EncodeResult(elasticacheapi.Metadata, ec["DescribeCacheClusters"], &elasticacheapi.CacheClusterMessage{
			CacheClusters: []elasticacheapi.CacheCluster{{
				CacheClusterId: aws.String("web-cache"), CacheClusterStatus: aws.String("available"), Engine: aws.String("redis"),
				EngineVersion: aws.String("7.0"), NumCacheNodes: aws.Int32(1), CacheClusterCreateTime: &created,
				SecurityGroups: []elasticacheapi.SecurityGroupMembership{{SecurityGroupId: aws.String("sg-1"), Status: aws.String("active")}},
				CacheNodes: []elasticacheapi.CacheNode{{CacheNodeId: aws.String("0001"), CacheNodeStatus: aws.String("available"),
					Endpoint: &elasticacheapi.Endpoint{Address: aws.String("172.31.0.4"), Port: aws.Int32(6379)}}},
			}}}, "req-2")},
		{"elasticache-delete-subnet-group.xml", awsproto.EncodeResult(elasticacheapi.Metadata, ec["DeleteCacheSubnetGroup"], nil, "req-3")},
		{"ec2-describe-security-groups.xml", awsproto.EncodeResult(ec2api.Metadata, e2["DescribeSecurityGroups"], &ec2api.DescribeSecurityGroupsResult{
			SecurityGroups: []ec2api.SecurityGroup{{
				GroupId: aws.String("sg-1"), GroupName: aws.String("default"), Description: aws.String("default VPC security group"),
				OwnerId: aws.String("000000000000"), VpcId: aws.String("vpc-1"),
				IpPermissions: []ec2api.IpPermission{{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(6379), ToPort: aws.Int32(6379),
					IpRanges: []ec2api.IpRange{{CidrIp: aws.String("0.0.0.0/0"), Description: aws.String("cache <from> anywhere & more")}}}},
				IpPermissionsEgress: []ec2api.IpPermission{},
			}}}, "req-4")},
		{"ec2-delete-vpc.xml", awsproto.EncodeResult(ec2api.Metadata, e2["DeleteVpc"], nil, "req-5")},
		{"elasticache-error.xml", awsproto.EncodeError(elasticacheapi.Metadata, elasticacheapi.ErrCacheClusterNotFoundFault("CacheCluster not found: %s", "nope"), "req-6")},
		{"ec2-error.xml", awsproto.EncodeError(ec2api.Metadata, awserr.New("InvalidGroup.NotFound", "The security group 'sg-9' does not exist"), "req-7")},
		{"internal-error.xml", awsproto.EncodeError(stsapi.Metadata, awserr.Internal(), "req-8")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join("testdata", "golden", tt.name)
			if *update {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, append(tt.got, '\n'), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if diff := cmp.Diff(string(want), string(tt.got)+"\n"); diff != "" {
				t.Errorf("%s changed (-golden +got):\n%s", tt.name, diff)
			}
		})
	}
}
