package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awsec2 "github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"
	"github.com/aws/aws-sdk-go-v2/service/iam"
)

const region = "us-east-1"

// server is the `cachalot serve` under test: a child process on a fresh
// data dir and a loopback port, with fixed root credentials and a random
// account id, killed and restarted by the campaign.
type server struct {
	bin, dir, listen, account string
	key, secret               string
	logPath                   string
	cmd                       *exec.Cmd
	exited                    chan struct{} // closed when cmd has been waited for
	// ec, ec2 and iam retry (reads, and the campaign's own setup); the
	// workers' writes go through w, which never retries: a retried write
	// would blur which calls were acknowledged.
	ec  *elasticache.Client
	ec2 *awsec2.Client
	iam *iam.Client
	w   struct {
		ec  *elasticache.Client
		ec2 *awsec2.Client
		iam *iam.Client
	}
}

func newServer(bin, dir, account string) (*server, error) {
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("cachalot binary: %w (make build)", err)
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	s := &server{
		bin: bin, dir: dir, listen: fmt.Sprintf("127.0.0.1:%d", port), account: account,
		key: "AKIACRASHCAMPAIGN001", secret: "crash-campaign-secret",
		logPath: filepath.Join(filepath.Dir(dir), "serve.log"),
	}
	cfg := aws.Config{
		Region: region, BaseEndpoint: aws.String("http://" + s.listen),
		// Reads retry: the SDK's transport now and then loses a response
		// on a closed keep-alive connection (aws-sdk-go-v2 issue 2737).
		RetryMaxAttempts: 5,
		Credentials:      credentials.StaticCredentialsProvider{Value: aws.Credentials{AccessKeyID: s.key, SecretAccessKey: s.secret}},
	}
	s.ec, s.ec2, s.iam = elasticache.NewFromConfig(cfg), awsec2.NewFromConfig(cfg), iam.NewFromConfig(cfg)
	cfg.RetryMaxAttempts = 1
	s.w.ec, s.w.ec2, s.w.iam = elasticache.NewFromConfig(cfg), awsec2.NewFromConfig(cfg), iam.NewFromConfig(cfg)
	return s, nil
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// start runs serve and waits until it answers a signed call.
func (s *server) start(ctx context.Context) error {
	logf, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(s.bin, "serve", "--listen", s.listen, "--data-dir", s.dir,
		"--account-id", s.account, "--network", "namespaces", "--log-level", "warn")
	cmd.Env = append(os.Environ(), "CACHALOT_ROOT_ACCESS_KEY_ID="+s.key, "CACHALOT_ROOT_SECRET_ACCESS_KEY="+s.secret)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start serve: %w", err)
	}
	s.cmd, s.exited = cmd, make(chan struct{})
	go func() { _ = cmd.Wait(); close(s.exited) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := s.w.ec.DescribeCacheClusters(ctx, &elasticache.DescribeCacheClustersInput{})
		if err == nil {
			return nil
		}
		select {
		case <-s.exited:
			return fmt.Errorf("serve exited at start (log in %s): %w", s.logPath, err)
		default:
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("serve did not answer in 30 s (log in %s): %w", s.logPath, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// kill stops serve with SIGKILL, as a crash would, and reaps it.
func (s *server) kill() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.exited
	s.cmd = nil
}

// stop stops serve with SIGTERM (SIGKILL after 30 s).
func (s *server) stop() error {
	if s.cmd == nil {
		return nil
	}
	defer func() { s.cmd = nil }()
	_ = s.cmd.Process.Signal(os.Interrupt)
	select {
	case <-s.exited:
		return nil
	case <-time.After(30 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
		return errors.New("serve did not stop in 30 s; killed")
	}
}

// teardown runs `cachalot teardown --data-dir`; its combined output and
// error are returned as they are.
func (s *server) teardown(ctx context.Context) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	return exec.CommandContext(ctx, s.bin, "teardown", "--data-dir", s.dir).CombinedOutput()
}

// installPrefix repeats app.InstallPrefix (internal/vpcnet): the campaign
// reads the kernel by the names the product gives its objects, and imports
// none of its packages, so that it tests the built binary.
func installPrefix(dir string) string {
	abs, err := filepath.Abs(dir)
	if err != nil {
		abs = dir
	}
	sum := sha256.Sum256([]byte(abs))
	return "cl" + hex.EncodeToString(sum[:])[:5]
}
