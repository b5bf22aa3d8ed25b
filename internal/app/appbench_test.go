package app_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/cachalot-dev/cachalot/internal/app"
	"github.com/cachalot-dev/cachalot/internal/app/apptest"
)

// BenchmarkAppDescribeSecurityGroup measures one signed, authorized
// DescribeSecurityGroups of a 50-rule group through the whole application
// (the EC2 benchmark's small query), over HTTP on loopback.
func BenchmarkAppDescribeSecurityGroup(b *testing.B) {
	env := apptest.Start(b, func(c *app.Config) { c.Network = app.NetworkLoopback })
	ctx := context.Background()
	c := ec2.NewFromConfig(env.Config())
	g, err := c.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String("bench"), Description: aws.String("bench")})
	if err != nil {
		b.Fatal(err)
	}
	var perms []ec2types.IpPermission
	for i := 0; i < 50; i++ {
		perms = append(perms, ec2types.IpPermission{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(int32(1000 + i)), ToPort: aws.Int32(int32(1000 + i)),
			IpRanges: []ec2types.IpRange{{CidrIp: aws.String("10.0.0.0/24")}}})
	}
	if _, err := c.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: g.GroupId, IpPermissions: perms}); err != nil {
		b.Fatal(err)
	}
	for i := 0; i < 999; i++ { // the EC2 benchmark's 1,000 groups
		if _, err := c.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String(fmt.Sprintf("g%d", i)), Description: aws.String("x")}); err != nil {
			b.Fatal(err)
		}
	}
	body := "Action=DescribeSecurityGroups&Version=2016-11-15&GroupId.1=" + aws.ToString(g.GroupId)
	sum := sha256.Sum256([]byte(body))
	creds := aws.Credentials{AccessKeyID: env.Root.AccessKeyID, SecretAccessKey: env.Root.SecretAccessKey}
	signer := v4.NewSigner()
	hc := &http.Client{}
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest("POST", env.URL+"/", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
			signer.SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), "ec2", apptest.Region, time.Now())
			resp, err := hc.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Fatalf("status %d", resp.StatusCode)
			}
		}
	})
}
