package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/cachalot-dev/cachalot/internal/app"
	"github.com/cachalot-dev/cachalot/internal/netplane"
)

// serviceConfig is an SDK configuration for the running service of dataDir,
// signed with AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY when set (another
// account's instances, e.g. an EC2-Classic account's), else its root
// credentials.
func serviceConfig(dataDir, region string) (aws.Config, error) {
	creds, err := app.ReadCredentials(dataDir)
	if ak, sk := os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY"); ak != "" && sk != "" {
		creds.AccessKeyID, creds.SecretAccessKey, err = ak, sk, nil
	}
	if err != nil {
		return aws.Config{}, fmt.Errorf("no credentials in %s (has 'cachalot serve' run with this --data-dir?): %w", dataDir, err)
	}
	url, err := os.ReadFile(filepath.Join(dataDir, app.EndpointFile))
	if err != nil {
		return aws.Config{}, fmt.Errorf("no running service for %s: %w", dataDir, err)
	}
	return aws.Config{
		Region:       region,
		BaseEndpoint: aws.String(strings.TrimSpace(string(url))),
		Credentials:  credentials.StaticCredentialsProvider{Value: aws.Credentials{AccessKeyID: creds.AccessKeyID, SecretAccessKey: creds.SecretAccessKey}},
	}, nil
}

// execUsage is the synopsis of cachalot exec.
const execUsage = "usage: cachalot exec --instance i-… -- COMMAND [ARGS…]\n       cachalot exec --outside ADDRESS -- COMMAND [ARGS…]"

// execInstance runs a program inside an instance's network, as if on the
// instance: `cachalot exec --instance i-… -- redis-cli -h 172.31.0.4 ping`;
// or, with --outside, on a simulated client on the internet holding that
// public address: `cachalot exec --outside 198.51.100.27 -- redis-cli -h
// 100.64.3.4 ping`. The program runs as the caller (root: it may change the
// instance's network, e.g. iptables, as on the instance).
func execInstance(ctx context.Context, args []string, stdout, stderr io.Writer) (int, error) {
	fs := flag.NewFlagSet("exec", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dataDir := dataDirFlag(fs)
	instance := fs.String("instance", "", "instance id (i-…)")
	outside := fs.String("outside", "", "public IPv4 address of a client on the internet, outside AWS (e.g. 198.51.100.27): reaches Elastic IPs through internet gateways")
	region := fs.String("region", envOr("AWS_DEFAULT_REGION", "us-east-1"), "region of the instance")
	if err := fs.Parse(args); err != nil {
		return 2, err
	}
	argv := fs.Args()
	if (*instance == "") == (*outside == "") || len(argv) == 0 {
		return 2, errors.New(execUsage)
	}
	if *outside != "" {
		ns, err := outsideNetns(ctx, *dataDir, *outside)
		if err != nil {
			return 1, err
		}
		return runIn(ctx, ns, argv, stdout, stderr)
	}
	cfg, err := serviceConfig(*dataDir, *region)
	if err != nil {
		return 1, err
	}
	out, err := ec2.NewFromConfig(cfg).DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{*instance}})
	if err != nil {
		return 1, fmt.Errorf("describe %s: %w", *instance, err)
	}
	eni := ""
	for _, r := range out.Reservations {
		for _, i := range r.Instances {
			if i.State != nil && i.State.Name != "running" {
				return 1, fmt.Errorf("instance %s is %s", *instance, i.State.Name)
			}
			for _, n := range i.NetworkInterfaces {
				if n.Attachment != nil && aws.ToInt32(n.Attachment.DeviceIndex) == 0 {
					eni = aws.ToString(n.NetworkInterfaceId)
				}
			}
		}
	}
	if eni == "" {
		return 1, fmt.Errorf("instance %s has no primary network interface", *instance)
	}
	ns := "/run/netns/" + netplane.NamespaceName(app.InstallPrefix(*dataDir), eni)
	// A just-launched instance's network is realised within milliseconds
	// of RunInstances returning; wait for it a little.
	var err2 error
	for deadline := time.Now().Add(3 * time.Second); ; {
		if _, err2 = os.Stat(ns); err2 == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err2 != nil {
		return 1, fmt.Errorf("the network of %s is not realised (is cachalot serve running as root, in the namespaces network mode?): %w", *instance, err2)
	}
	return runIn(ctx, ns, argv, stdout, stderr)
}

// outsideNetns asks the running service of dataDir for the outside client
// addr and returns the path of its namespace.
func outsideNetns(ctx context.Context, dataDir, addr string) (string, error) {
	body, _ := json.Marshal(app.OutsideClientRequest{Address: addr})
	req, _ := http.NewRequestWithContext(ctx, "POST", "http://cachalot/v1/outside-clients", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	var out app.OutsideClientResponse
	if err := adminDo(app.AdminClient(dataDir), req, &out); err != nil {
		return "", fmt.Errorf("outside client %s: %w", addr, err)
	}
	return out.Netns, nil
}

// runIn runs argv inside the network namespace at ns, with the caller's
// standard input, and returns its exit code.
func runIn(ctx context.Context, ns string, argv []string, stdout, stderr io.Writer) (int, error) {
	cmd := exec.CommandContext(ctx, "nsenter", append([]string{"--net=" + ns, "--"}, argv...)...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, stdout, stderr
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode(), nil
		}
		return 1, err
	}
	return 0, nil
}
