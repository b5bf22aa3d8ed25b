package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awsec2 "github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"

	"github.com/cachalot-dev/cachalot/bench/internal/load"
)

const region = "us-east-1"

// This file repeats bench/elasticache's server.go (the benchmarks are
// separate programs and import none of the product's packages, so that
// they measure the built binary).

// server is a `cachalot serve` started by the benchmark with its own data
// dir and a random account id, so that its engine processes
// (cachalot-node=<account>.…) are told apart from other installations'.
type server struct {
	bin, dir, url, account string
	key, secret            string
	cmd                    *exec.Cmd
	logPath                string
	ec                     *elasticache.Client
	ec2                    *awsec2.Client
}

func startServer(ctx context.Context, bin string) (*server, error) {
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("cachalot binary: %w (go build -o bin/cachalot ./cmd/cachalot)", err)
	}
	dir, err := os.MkdirTemp("", "cachalot-rgbench-")
	if err != nil {
		return nil, err
	}
	port, err := load.FreePort()
	if err != nil {
		return nil, err
	}
	n, _ := rand.Int(rand.Reader, big.NewInt(9e11))
	s := &server{
		bin: bin, dir: dir, url: fmt.Sprintf("http://127.0.0.1:%d", port),
		account: fmt.Sprintf("%012d", n.Int64()+1e11),
		key:     "AKIARGBENCHBENCHBNCH", secret: "rgbench-secret",
		logPath: filepath.Join(dir, "serve.log"),
	}
	logf, err := os.Create(s.logPath)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	defer logf.Close()
	s.cmd = exec.Command(bin, "serve", "--listen", fmt.Sprintf("127.0.0.1:%d", port), "--data-dir", dir,
		"--account-id", s.account, "--log-level", "warn")
	s.cmd.Env = append(os.Environ(), "CACHALOT_ROOT_ACCESS_KEY_ID="+s.key, "CACHALOT_ROOT_SECRET_ACCESS_KEY="+s.secret)
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	if err := s.cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	cfg := aws.Config{
		Region: region, BaseEndpoint: aws.String(s.url), RetryMaxAttempts: 1,
		Credentials: credentials.StaticCredentialsProvider{Value: aws.Credentials{AccessKeyID: s.key, SecretAccessKey: s.secret}},
	}
	s.ec, s.ec2 = elasticache.NewFromConfig(cfg), awsec2.NewFromConfig(cfg)
	if err := s.waitAnswering(ctx); err != nil {
		s.close(true)
		return nil, err
	}
	return s, nil
}

// waitAnswering waits until serve answers a signed call.
func (s *server) waitAnswering(ctx context.Context) error {
	deadline := time.Now().Add(15 * time.Second)
	for {
		_, err := s.ec.DescribeCacheClusters(ctx, &elasticache.DescribeCacheClustersInput{})
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("cachalot serve did not answer (log in %s): %w", s.logPath, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// close stops the server, tears the installation down (engines and
// namespaces) and removes the data dir unless keep. It checks that nothing
// of the installation is left.
func (s *server) close(keep bool) error {
	var errs []error
	if s.cmd.Process != nil {
		_ = s.cmd.Process.Signal(os.Interrupt)
		done := make(chan error, 1)
		go func() { done <- s.cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = s.cmd.Process.Kill()
			<-done
			errs = append(errs, errors.New("cachalot serve did not stop in 30 s; killed"))
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, s.bin, "teardown", "--data-dir", s.dir).CombinedOutput()
	if err != nil {
		errs = append(errs, fmt.Errorf("cachalot teardown: %w: %s", err, out))
	}
	if pids := nodePIDs(s.account + "."); len(pids) > 0 {
		errs = append(errs, fmt.Errorf("after teardown, engine processes of account %s remain: %v", s.account, pids))
	}
	if ns, _ := filepath.Glob("/run/netns/" + installPrefix(s.dir) + "-*"); len(ns) > 0 {
		errs = append(errs, fmt.Errorf("after teardown, namespaces remain: %v", ns))
	}
	if keep {
		log.Printf("data dir kept: %s", s.dir)
	} else if len(errs) == 0 {
		os.RemoveAll(s.dir)
	} else {
		log.Printf("data dir kept for inspection: %s", s.dir)
	}
	return errors.Join(errs...)
}

// installPrefix is app.InstallPrefix (internal/vpcnet), repeated here
// only to check after teardown that no namespace of the run is left; the
// benchmark does not import the product's packages so that it measures the
// built binary.
func installPrefix(dir string) string {
	abs, err := filepath.Abs(dir)
	if err != nil {
		abs = dir
	}
	sum := sha256.Sum256([]byte(abs))
	return "cl" + hex.EncodeToString(sum[:])[:5]
}

// execIn runs `cachalot exec --instance id -- argv…` (argv inside the
// instance's network namespace) and returns its standard output.
func (s *server) execIn(ctx context.Context, instance string, argv ...string) ([]byte, error) {
	cmd := s.execCmd(ctx, instance, argv...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("cachalot exec %s: %w: %s", strings.Join(argv, " "), err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

func (s *server) execCmd(ctx context.Context, instance string, argv ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, s.bin, append([]string{"exec", "--data-dir", s.dir, "--instance", instance, "--"}, argv...)...)
	cmd.Env = append(os.Environ(), "AWS_DEFAULT_REGION="+region)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	return cmd
}

type instance struct{ id, ip string }

// launchInstance runs one instance in the default VPC's default security
// group and waits until it is running.
func launchInstance(ctx context.Context, s *server) (instance, error) {
	sgs, err := s.ec2.DescribeSecurityGroups(ctx, &awsec2.DescribeSecurityGroupsInput{
		Filters: []ec2types.Filter{{Name: aws.String("group-name"), Values: []string{"default"}}},
	})
	if err != nil {
		return instance{}, fmt.Errorf("describe security groups: %w", err)
	}
	if len(sgs.SecurityGroups) != 1 {
		return instance{}, fmt.Errorf("want one default security group, got %d", len(sgs.SecurityGroups))
	}
	out, err := s.ec2.RunInstances(ctx, &awsec2.RunInstancesInput{
		ImageId: aws.String("ami-1"), MinCount: aws.Int32(1), MaxCount: aws.Int32(1),
		SecurityGroupIds: []string{aws.ToString(sgs.SecurityGroups[0].GroupId)},
	})
	if err != nil {
		return instance{}, fmt.Errorf("run instances: %w", err)
	}
	id := aws.ToString(out.Instances[0].InstanceId)
	deadline := time.Now().Add(30 * time.Second)
	for {
		d, err := s.ec2.DescribeInstances(ctx, &awsec2.DescribeInstancesInput{InstanceIds: []string{id}})
		if err == nil && len(d.Reservations) == 1 && len(d.Reservations[0].Instances) == 1 {
			i := d.Reservations[0].Instances[0]
			if i.State != nil && i.State.Name == ec2types.InstanceStateNameRunning {
				return instance{id: id, ip: aws.ToString(i.PrivateIpAddress)}, nil
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return instance{}, fmt.Errorf("instance %s not running after 30 s: %v", id, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
