package iam_test

import (
	"runtime"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/cachalot-dev/cachalot/internal/app/apptest"
)

// BenchmarkDescribeCacheClusters measures requests/s of an authorized
// DescribeCacheClusters through the whole in-process server (SigV4, key
// resolution, resources hook, authorization, operation, encoding) with 8
// concurrent clients, as root and as an IAM user holding
// AmazonElastiCacheFullAccess, in the same run.
func BenchmarkDescribeCacheClusters(b *testing.B) {
	env := apptest.Start(b)
	root := iam.NewFromConfig(env.Config())
	if _, err := root.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("bench")}); err != nil {
		b.Fatal(err)
	}
	if _, err := root.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: aws.String("bench"),
		PolicyArn: aws.String("arn:aws:iam::aws:policy/AmazonElastiCacheFullAccess")}); err != nil {
		b.Fatal(err)
	}
	k, err := root.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("bench")})
	if err != nil {
		b.Fatal(err)
	}
	user := aws.Credentials{AccessKeyID: *k.AccessKey.AccessKeyId, SecretAccessKey: *k.AccessKey.SecretAccessKey}
	rootCreds := aws.Credentials{AccessKeyID: env.Root.AccessKeyID, SecretAccessKey: env.Root.SecretAccessKey}
	for _, tc := range []struct {
		name  string
		creds aws.Credentials
	}{{"root", rootCreds}, {"iam-user", user}} {
		b.Run(tc.name, func(b *testing.B) {
			c := elasticache.NewFromConfig(env.Config(tc.creds))
			if _, err := c.DescribeCacheClusters(ctx, &elasticache.DescribeCacheClustersInput{}); err != nil {
				b.Fatal(err)
			}
			b.SetParallelism((8 + testingProcs() - 1) / testingProcs())
			start := time.Now()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := c.DescribeCacheClusters(ctx, &elasticache.DescribeCacheClustersInput{}); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
		})
	}
}

func testingProcs() int { return max(1, runtime.GOMAXPROCS(0)) }
