package cli_test

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/cachalot-dev/cachalot/internal/app"
	"github.com/cachalot-dev/cachalot/internal/app/apptest"
	"github.com/cachalot-dev/cachalot/internal/cli"
)

// TestAccountCreate: `cachalot account create` makes a second account with
// its own root credentials; it sees nothing of the first one's, and an
// EC2-Classic account reports EC2 and VPC.
func TestAccountCreate(t *testing.T) {
	dir, err := os.MkdirTemp("", "cl-acct-") // short: the admin socket path is limited
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	env := apptest.Start(t, func(c *app.Config) { c.DataDir = dir; c.Network = app.NetworkLoopback })
	ctx := context.Background()
	if _, err := elasticache.NewFromConfig(env.Config()).CreateCacheSubnetGroup(ctx, &elasticache.CreateCacheSubnetGroupInput{
		CacheSubnetGroupName: aws.String("first-only"), CacheSubnetGroupDescription: aws.String("x"),
		SubnetIds: []string{defaultSubnet(t, env.Config())}}); err != nil {
		t.Fatal(err)
	}

	var out, errb bytes.Buffer
	if code := cli.Run(ctx, []string{"account", "create", "--data-dir", dir, "--name", "team-b", "--ec2-classic"}, &out, &errb); code != 0 {
		t.Fatalf("account create: exit %d: %s", code, errb.String())
	}
	var akid, secret string
	for _, line := range strings.Split(out.String(), "\n") {
		if v, ok := strings.CutPrefix(line, "export AWS_ACCESS_KEY_ID="); ok {
			akid = v
		}
		if v, ok := strings.CutPrefix(line, "export AWS_SECRET_ACCESS_KEY="); ok {
			secret = strings.Trim(v, "'")
		}
	}
	b := env.Config(aws.Credentials{AccessKeyID: akid, SecretAccessKey: secret})
	id, err := sts.NewFromConfig(b).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil || aws.ToString(id.Account) == "000000000000" || !strings.HasSuffix(aws.ToString(id.Arn), ":root") {
		t.Fatalf("new account's identity = %v, %v", id, err)
	}
	groups, err := elasticache.NewFromConfig(b).DescribeCacheSubnetGroups(ctx, &elasticache.DescribeCacheSubnetGroupsInput{})
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range groups.CacheSubnetGroups {
		if aws.ToString(g.CacheSubnetGroupName) == "first-only" {
			t.Errorf("the new account sees the first account's subnet group")
		}
	}
	attrs, err := ec2.NewFromConfig(b).DescribeAccountAttributes(ctx, &ec2.DescribeAccountAttributesInput{AttributeNames: []ec2types.AccountAttributeName{"supported-platforms"}})
	if err != nil {
		t.Fatal(err)
	}
	var platforms []string
	for _, a := range attrs.AccountAttributes {
		for _, v := range a.AttributeValues {
			platforms = append(platforms, aws.ToString(v.AttributeValue))
		}
	}
	if strings.Join(platforms, ",") != "EC2,VPC" {
		t.Errorf("supported-platforms = %v, want EC2,VPC", platforms)
	}
	out.Reset()
	if code := cli.Run(ctx, []string{"account", "list", "--data-dir", dir}, &out, &errb); code != 0 || !strings.Contains(out.String(), aws.ToString(id.Account)) || !strings.Contains(out.String(), "000000000000") {
		t.Errorf("account list = %q (exit %d)", out.String(), code)
	}
	if strings.Contains(out.String(), secret) {
		t.Errorf("account list shows a secret")
	}
}

func defaultSubnet(t *testing.T, cfg aws.Config) string {
	t.Helper()
	out, err := ec2.NewFromConfig(cfg).DescribeSubnets(context.Background(), &ec2.DescribeSubnetsInput{})
	if err != nil || len(out.Subnets) == 0 {
		t.Fatalf("DescribeSubnets = %v, %v", out, err)
	}
	return aws.ToString(out.Subnets[0].SubnetId)
}
