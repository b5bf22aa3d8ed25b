package ec2_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awsec2 "github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"

	"github.com/cachalot-dev/cachalot/internal/account"
	"github.com/cachalot-dev/cachalot/internal/api/ec2api"
	"github.com/cachalot-dev/cachalot/internal/auth"
	"github.com/cachalot-dev/cachalot/internal/ec2"
	"github.com/cachalot-dev/cachalot/internal/endpoint"
	"github.com/cachalot-dev/cachalot/internal/sdktest"
	"github.com/cachalot-dev/cachalot/internal/store"
)

// server is an EC2 endpoint under test: its URL and root credentials.
type server struct {
	url   string
	creds account.Credentials
}

type allowAll struct{}

func (allowAll) Authorize(context.Context, auth.Request) error { return nil }

// startWire serves this package's Service through the real wire layer
// (SigV4, ec2Query codec) on a loopback port.
func startWire(t *testing.T) server {
	t.Helper()
	st, err := store.OpenBolt(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	accts := account.New(st)
	creds, err := account.NewCredentials()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := accts.Ensure(context.Background(), "123456789012", creds); err != nil {
		t.Fatal(err)
	}
	h := endpoint.New(endpoint.Config{Keys: accts, Authorizer: allowAll{}, Services: []endpoint.Binding{
		{Service: ec2api.Metadata, Operations: ec2api.OperationTable(ec2.New(st, ec2.Config{Accounts: accts}))},
	}})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return server{url: srv.URL, creds: creds}
}

func (s server) client() *awsec2.Client {
	return awsec2.NewFromConfig(aws.Config{
		Region:           "us-east-1",
		BaseEndpoint:     aws.String(s.url),
		Credentials:      credentials.StaticCredentialsProvider{Value: aws.Credentials{AccessKeyID: s.creds.AccessKeyID, SecretAccessKey: s.creds.SecretAccessKey}},
		RetryMaxAttempts: 1,
		HTTPClient:       sdktest.HTTPClient(),
	})
}

const awsCLI = "/usr/bin/aws" // Debian's AWS CLI v2; the aws on PATH may be v1

func (s server) cli(t *testing.T, v any, args ...string) {
	t.Helper()
	if _, err := os.Stat(awsCLI); err != nil {
		t.Skipf("AWS CLI v2 not installed at %s", awsCLI)
	}
	cmd := exec.Command(awsCLI, append([]string{"--endpoint-url", s.url, "--output", "json"}, args...)...)
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") {
			env = append(env, kv)
		}
	}
	cmd.Env = append(env, "AWS_ACCESS_KEY_ID="+s.creds.AccessKeyID, "AWS_SECRET_ACCESS_KEY="+s.creds.SecretAccessKey,
		"AWS_DEFAULT_REGION=us-east-1", "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_MAX_ATTEMPTS=1", "AWS_PAGER=")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("aws %v: %v: %s", args, err, errb.String())
	}
	if v != nil && out.Len() > 0 {
		if err := json.Unmarshal(out.Bytes(), v); err != nil {
			t.Fatalf("aws %v: decode %q: %v", args, out.String(), err)
		}
	}
}

// seedScenario: "add Custom TCP 6379 from 0.0.0.0/0 to the default group",
// with the AWS CLI, checked with both the CLI and aws-sdk-go-v2.
func seedScenario(t *testing.T, s server) {
	ctx := context.Background()
	c := s.client()
	attrs, err := c.DescribeAccountAttributes(ctx, &awsec2.DescribeAccountAttributesInput{AttributeNames: []ec2types.AccountAttributeName{"supported-platforms"}})
	if err != nil {
		t.Fatalf("DescribeAccountAttributes: %v", err)
	}
	if v := attrs.AccountAttributes[0].AttributeValues; len(v) != 1 || *v[0].AttributeValue != "VPC" {
		t.Errorf("supported-platforms = %+v", v)
	}
	sgs, err := c.DescribeSecurityGroups(ctx, &awsec2.DescribeSecurityGroupsInput{GroupNames: []string{"default"}})
	if err != nil {
		t.Fatalf("DescribeSecurityGroups: %v", err)
	}
	group := *sgs.SecurityGroups[0].GroupId

	var auth struct {
		Return             bool
		SecurityGroupRules []struct{ SecurityGroupRuleId, IpProtocol, CidrIpv4 string }
	}
	s.cli(t, &auth, "ec2", "authorize-security-group-ingress", "--group-id", group, "--protocol", "tcp", "--port", "6379", "--cidr", "0.0.0.0/0")
	if !auth.Return || len(auth.SecurityGroupRules) != 1 || auth.SecurityGroupRules[0].CidrIpv4 != "0.0.0.0/0" {
		t.Fatalf("authorize-security-group-ingress = %+v", auth)
	}
	rule := auth.SecurityGroupRules[0].SecurityGroupRuleId

	var described struct {
		SecurityGroups []struct {
			GroupId       string
			IpPermissions []struct {
				IpProtocol       string
				FromPort, ToPort int
				IpRanges         []struct{ CidrIp string }
			}
		}
	}
	s.cli(t, &described, "ec2", "describe-security-groups", "--group-ids", group)
	found := false
	for _, p := range described.SecurityGroups[0].IpPermissions {
		if p.IpProtocol == "tcp" && p.FromPort == 6379 && p.ToPort == 6379 && len(p.IpRanges) == 1 && p.IpRanges[0].CidrIp == "0.0.0.0/0" {
			found = true
		}
	}
	if !found {
		t.Errorf("describe-security-groups does not show the rule: %+v", described)
	}
	var rules struct {
		SecurityGroupRules []struct {
			SecurityGroupRuleId string
			FromPort            int
			IsEgress            bool
		}
	}
	s.cli(t, &rules, "ec2", "describe-security-group-rules", "--filters", "Name=group-id,Values="+group)
	if len(rules.SecurityGroupRules) != 3 {
		t.Errorf("describe-security-group-rules: %d rules, want 3 (self, 6379, egress)", len(rules.SecurityGroupRules))
	}
	got, err := c.DescribeSecurityGroupRules(ctx, &awsec2.DescribeSecurityGroupRulesInput{SecurityGroupRuleIds: []string{rule}})
	if err != nil {
		t.Fatalf("DescribeSecurityGroupRules: %v", err)
	}
	if r := got.SecurityGroupRules[0]; *r.FromPort != 6379 || *r.IpProtocol != "tcp" || *r.IsEgress || *r.GroupId != group {
		t.Errorf("rule = %+v", r)
	}
	// The same rule again is a duplicate, as an SDK error.
	_, err = c.AuthorizeSecurityGroupIngress(ctx, &awsec2.AuthorizeSecurityGroupIngressInput{GroupId: &group,
		IpPermissions: []ec2types.IpPermission{{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(6379), ToPort: aws.Int32(6379), IpRanges: []ec2types.IpRange{{CidrIp: aws.String("0.0.0.0/0")}}}}})
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "InvalidPermission.Duplicate" {
		t.Errorf("duplicate authorize: %v", err)
	}
	// Launch, describe with a filter and paginate through the SDK.
	run, err := c.RunInstances(ctx, &awsec2.RunInstancesInput{ImageId: aws.String("ami-12345678"), MinCount: aws.Int32(7), MaxCount: aws.Int32(7), SecurityGroupIds: []string{group}})
	if err != nil {
		t.Fatalf("RunInstances: %v", err)
	}
	if len(run.Instances) != 7 {
		t.Fatalf("RunInstances launched %d", len(run.Instances))
	}
	p := awsec2.NewDescribeInstancesPaginator(c, &awsec2.DescribeInstancesInput{MaxResults: aws.Int32(5),
		Filters: []ec2types.Filter{{Name: aws.String("instance.group-id"), Values: []string{group}}}})
	n, pages := 0, 0
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatalf("DescribeInstances page: %v", err)
		}
		pages++
		for _, r := range page.Reservations {
			n += len(r.Instances)
		}
	}
	if n != 7 || pages != 2 {
		t.Errorf("paginated %d instances in %d pages, want 7 in 2", n, pages)
	}
	_, err = c.DeleteSecurityGroup(ctx, &awsec2.DeleteSecurityGroupInput{GroupId: &group})
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "CannotDelete" {
		t.Errorf("delete default group: %v", err)
	}
}

func TestEndToEndWire(t *testing.T) {
	seedScenario(t, startWire(t))
}
