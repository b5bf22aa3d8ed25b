// Package cachalotproc starts and stops a `cachalot serve` for the programs
// under bench/: its own data dir, a random account id, static root
// credentials and SDK clients, and after the run a teardown that checks
// nothing of the installation is left. It also runs commands inside an
// instance's network namespace (`cachalot exec`) and launches instances.
//
// It drives the built binary only: it must import none of the product's
// packages (internal/...), so that the benchmarks measure what ships. Only
// programs under bench/ import it.
package cachalotproc

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
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

// Region is the region the SDK clients and `cachalot exec` use.
const Region = "us-east-1"

// Server is a `cachalot serve` started by a benchmark with its own data
// dir and a random account id, so that its engine processes
// (cachalot-node=<account>.…) are told apart from other installations'.
type Server struct {
	Bin     string // the cachalot binary
	Dir     string // the data dir
	URL     string // the endpoint, http://127.0.0.1:<port>
	Account string // the account id
	Key     string // the root access key id
	Secret  string // the root secret access key
	LogPath string // serve's standard output and error
	EC      *elasticache.Client
	// teardown bounds `cachalot teardown` in Close (Options.TeardownTimeout).
	teardown time.Duration
	EC2      *awsec2.Client
	cmd      *exec.Cmd
}

// Options are what differs between the benchmarks' servers.
type Options struct {
	DirPrefix string // os.MkdirTemp pattern of the data dir, e.g. "cachalot-ecbench-"
	Key       string // root access key id
	Secret    string // root secret access key
	LogLevel  string // serve --log-level
	// TeardownTimeout bounds `cachalot teardown` in Close; default 2 min.
	TeardownTimeout time.Duration
}

// Start starts `cachalot serve` from bin and waits until it answers a
// signed call.
func Start(ctx context.Context, bin string, o Options) (*Server, error) {
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("cachalot binary: %w (go build -o bin/cachalot ./cmd/cachalot)", err)
	}
	dir, err := os.MkdirTemp("", o.DirPrefix)
	if err != nil {
		return nil, err
	}
	port, err := load.FreePort()
	if err != nil {
		return nil, err
	}
	n, _ := rand.Int(rand.Reader, big.NewInt(9e11))
	s := &Server{
		Bin: bin, Dir: dir, URL: fmt.Sprintf("http://127.0.0.1:%d", port),
		Account: fmt.Sprintf("%012d", n.Int64()+1e11),
		Key:     o.Key, Secret: o.Secret,
		LogPath:  filepath.Join(dir, "serve.log"),
		teardown: o.TeardownTimeout,
	}
	if s.teardown <= 0 {
		s.teardown = 2 * time.Minute
	}
	logf, err := os.Create(s.LogPath)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	defer logf.Close()
	s.cmd = exec.Command(bin, "serve", "--listen", fmt.Sprintf("127.0.0.1:%d", port), "--data-dir", dir,
		"--account-id", s.Account, "--log-level", o.LogLevel)
	s.cmd.Env = append(os.Environ(), "CACHALOT_ROOT_ACCESS_KEY_ID="+s.Key, "CACHALOT_ROOT_SECRET_ACCESS_KEY="+s.Secret)
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	if err := s.cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	cfg := aws.Config{
		Region: Region, BaseEndpoint: aws.String(s.URL), RetryMaxAttempts: 1,
		Credentials: credentials.StaticCredentialsProvider{Value: aws.Credentials{AccessKeyID: s.Key, SecretAccessKey: s.Secret}},
	}
	s.EC, s.EC2 = elasticache.NewFromConfig(cfg), awsec2.NewFromConfig(cfg)
	if err := s.waitAnswering(ctx); err != nil {
		s.Close(true)
		return nil, err
	}
	return s, nil
}

// waitAnswering waits until serve answers a signed call.
func (s *Server) waitAnswering(ctx context.Context) error {
	deadline := time.Now().Add(15 * time.Second)
	for {
		_, err := s.EC.DescribeCacheClusters(ctx, &elasticache.DescribeCacheClustersInput{})
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("cachalot serve did not answer (log in %s): %w", s.LogPath, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Close stops the server, tears the installation down (engines and
// namespaces) and removes the data dir unless keep. It checks that nothing
// of the installation is left.
func (s *Server) Close(keep bool) error {
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
	ctx, cancel := context.WithTimeout(context.Background(), s.teardown)
	defer cancel()
	out, err := exec.CommandContext(ctx, s.Bin, "teardown", "--data-dir", s.Dir).CombinedOutput()
	if err != nil {
		errs = append(errs, fmt.Errorf("cachalot teardown: %w: %s", err, out))
	}
	if pids := NodePIDs(s.Account + "."); len(pids) > 0 {
		errs = append(errs, fmt.Errorf("after teardown, engine processes of account %s remain: %v", s.Account, pids))
	}
	if ns, _ := filepath.Glob("/run/netns/" + InstallPrefix(s.Dir) + "-*"); len(ns) > 0 {
		errs = append(errs, fmt.Errorf("after teardown, namespaces remain: %v", ns))
	}
	if keep {
		log.Printf("data dir kept: %s", s.Dir)
	} else if len(errs) == 0 {
		os.RemoveAll(s.Dir)
	} else {
		log.Printf("data dir kept for inspection: %s", s.Dir)
	}
	return errors.Join(errs...)
}

// Kill stops serve with SIGKILL, as a crash would.
func (s *Server) Kill() error {
	if s.cmd.Process == nil {
		return errors.New("serve not running")
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	return nil
}

// Restart starts serve again on the same data dir, listen address and
// account, and waits until it answers.
func (s *Server) Restart(ctx context.Context) error {
	logf, err := os.OpenFile(s.LogPath, os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(s.cmd.Path, s.cmd.Args[1:]...)
	cmd.Env, cmd.Stdout, cmd.Stderr = s.cmd.Env, logf, logf
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("restart serve: %w", err)
	}
	s.cmd = cmd
	return s.waitAnswering(ctx)
}

// PID is serve's process id.
func (s *Server) PID() int { return s.cmd.Process.Pid }

// InstallPrefix is app.InstallPrefix (internal/vpcnet), repeated here
// only to check after teardown that no namespace of the run is left (and
// to count a run's namespaces); the benchmarks do not import the product's packages so that it measures the
// built binary.
func InstallPrefix(dir string) string {
	abs, err := filepath.Abs(dir)
	if err != nil {
		abs = dir
	}
	sum := sha256.Sum256([]byte(abs))
	return "cl" + hex.EncodeToString(sum[:])[:5]
}

// ExecIn runs `cachalot exec --instance id -- argv…` (argv inside the
// instance's network namespace) and returns its standard output.
func (s *Server) ExecIn(ctx context.Context, instance string, argv ...string) ([]byte, error) {
	cmd := s.ExecCmd(ctx, instance, argv...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("cachalot exec %s: %w: %s", strings.Join(argv, " "), err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// ExecCmd is the command `cachalot exec --instance id -- argv…`, killed
// when the benchmark dies.
func (s *Server) ExecCmd(ctx context.Context, instance string, argv ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, s.Bin, append([]string{"exec", "--data-dir", s.Dir, "--instance", instance, "--"}, argv...)...)
	cmd.Env = append(os.Environ(), "AWS_DEFAULT_REGION="+Region)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	return cmd
}

// Instance is a launched instance: its id and private address.
type Instance struct{ ID, IP string }

// LaunchInstance runs one instance in the default VPC's default security
// group and waits until it is running.
func (s *Server) LaunchInstance(ctx context.Context) (Instance, error) {
	sgs, err := s.EC2.DescribeSecurityGroups(ctx, &awsec2.DescribeSecurityGroupsInput{
		Filters: []ec2types.Filter{{Name: aws.String("group-name"), Values: []string{"default"}}},
	})
	if err != nil {
		return Instance{}, fmt.Errorf("describe security groups: %w", err)
	}
	if len(sgs.SecurityGroups) != 1 {
		return Instance{}, fmt.Errorf("want one default security group, got %d", len(sgs.SecurityGroups))
	}
	out, err := s.EC2.RunInstances(ctx, &awsec2.RunInstancesInput{
		ImageId: aws.String("ami-12345678"), MinCount: aws.Int32(1), MaxCount: aws.Int32(1),
		SecurityGroupIds: []string{aws.ToString(sgs.SecurityGroups[0].GroupId)},
	})
	if err != nil {
		return Instance{}, fmt.Errorf("run instances: %w", err)
	}
	id := aws.ToString(out.Instances[0].InstanceId)
	deadline := time.Now().Add(30 * time.Second)
	for {
		d, err := s.EC2.DescribeInstances(ctx, &awsec2.DescribeInstancesInput{InstanceIds: []string{id}})
		if err == nil && len(d.Reservations) == 1 && len(d.Reservations[0].Instances) == 1 {
			i := d.Reservations[0].Instances[0]
			if i.State != nil && i.State.Name == ec2types.InstanceStateNameRunning {
				return Instance{ID: id, IP: aws.ToString(i.PrivateIpAddress)}, nil
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return Instance{}, fmt.Errorf("instance %s not running after 30 s: %v", id, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// NodePIDs lists processes whose command line (the engine's process
// title) holds "cachalot-node=" + prefix.
func NodePIDs(prefix string) []int {
	var pids []int
	procs, _ := filepath.Glob("/proc/[0-9]*")
	for _, p := range procs {
		b, err := os.ReadFile(p + "/cmdline")
		if err != nil || !strings.Contains(string(b), "cachalot-node="+prefix) {
			continue
		}
		if pid, err := strconv.Atoi(filepath.Base(p)); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}

// StartChild starts the benchmark's own binary self inside instance's
// network namespace as `self flag <host netns>` (the child checks it is in
// another namespace than host), with pipes to its standard input and
// output; its standard error is the benchmark's. It returns the started
// command, the pipes and the host's namespace ("net:[inode]").
func (s *Server) StartChild(ctx context.Context, instance, self, flag string) (cmd *exec.Cmd, in io.WriteCloser, out io.ReadCloser, host string, err error) {
	host, err = os.Readlink("/proc/self/ns/net")
	if err != nil {
		return nil, nil, nil, "", err
	}
	cmd = s.ExecCmd(ctx, instance, self, flag, host)
	cmd.Stderr = os.Stderr
	in, err = cmd.StdinPipe()
	if err != nil {
		return nil, nil, nil, "", err
	}
	out, err = cmd.StdoutPipe()
	if err != nil {
		return nil, nil, nil, "", err
	}
	if err := cmd.Start(); err != nil {
		return nil, nil, nil, "", err
	}
	return cmd, in, out, host, nil
}

// Main is the end of a benchmark's main, after its flags are parsed: it
// insists on root (cache nodes need network namespaces), runs run with a
// context cancelled on SIGINT or SIGTERM, and exits 1 if run fails.
func Main(run func(context.Context) error) {
	log.SetFlags(log.Ltime | log.Lmicroseconds)
	if os.Geteuid() != 0 {
		log.Fatal("run as root: cache nodes need network namespaces")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx)
	stop()
	if err != nil {
		log.Printf("FAILED: %v", err)
		os.Exit(1)
	}
}
