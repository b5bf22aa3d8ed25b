package cli_test

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/cachalot-dev/cachalot/internal/app"
	"github.com/cachalot-dev/cachalot/internal/app/apptest"
	"github.com/cachalot-dev/cachalot/internal/cli"
	"github.com/cachalot-dev/cachalot/internal/privtest"
)

// TestExecOutside: `cachalot exec --outside ADDR -- CMD` runs CMD in a
// namespace holding ADDR (made on demand through the admin socket), and
// refuses addresses of the Elastic IP pool or of a VPC with a clear message.
func TestExecOutside(t *testing.T) {
	privtest.RequireRoot(t)
	dir, err := os.MkdirTemp("", "cl-out-") // short: the admin socket path is limited
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	env := apptest.Start(t, func(c *app.Config) { c.DataDir = dir; c.Network = app.NetworkNamespaces })
	ctx := context.Background()
	// The region's default VPC (172.31.0.0/16) exists from its first use.
	if _, err := ec2.NewFromConfig(env.Config()).DescribeVpcs(ctx, &ec2.DescribeVpcsInput{}); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (string, string, int) {
		var out, errb bytes.Buffer
		code := cli.Run(ctx, append([]string{"exec", "--data-dir", dir}, args...), &out, &errb)
		return out.String(), errb.String(), code
	}

	out, errOut, code := run("--outside", "198.51.100.27", "--", "ip", "-4", "-o", "addr", "show", "dev", "eth0")
	if code != 0 || !strings.Contains(out, "inet 198.51.100.27/32") {
		t.Errorf("exec --outside 198.51.100.27 ip addr = exit %d, %q, %q; want the address on eth0", code, out, errOut)
	}
	// Made once, reused: a second run finds the same namespace.
	if _, errOut, code := run("--outside", "198.51.100.27", "--", "true"); code != 0 {
		t.Errorf("second exec --outside = exit %d: %s", code, errOut)
	}
	// The exit code of the command is passed on.
	if _, _, code := run("--outside", "203.0.113.5", "--", "sh", "-c", "exit 7"); code != 7 {
		t.Errorf("exec --outside … sh -c 'exit 7' = exit %d, want 7", code)
	}

	for addr, want := range map[string]string{
		"100.64.3.4":  "inside the Elastic IP pool 100.64.0.0/10",
		"172.31.9.9":  "inside 172.31.0.0/16 of vpc-", // the default VPC
		"not-an-addr": "is not an IP address",
	} {
		_, errOut, code := run("--outside", addr, "--", "true")
		if code != 1 || !strings.Contains(errOut, want) {
			t.Errorf("exec --outside %s = exit %d, %q; want exit 1 mentioning %q", addr, code, errOut, want)
		}
	}
	for _, args := range [][]string{
		{"--outside", "198.51.100.27", "--instance", "i-0123", "--", "true"},
		{"--outside", "198.51.100.27"},
		{"--", "true"},
	} {
		if _, errOut, code := run(args...); code != 2 || !strings.Contains(errOut, "--outside ADDRESS") {
			t.Errorf("exec %v = exit %d, %q; want the usage (exit 2)", args, code, errOut)
		}
	}
}

// TestExecInstance: `cachalot exec --instance i-… -- CMD` runs CMD in the
// network of the instance's primary interface, found through the admin
// socket whatever the account, and refuses instances that are unknown (in
// the region) or not running.
func TestExecInstance(t *testing.T) {
	privtest.RequireRoot(t)
	dir, err := os.MkdirTemp("", "cl-ins-") // short: the admin socket path is limited
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	env := apptest.Start(t, func(c *app.Config) { c.DataDir = dir; c.Network = app.NetworkNamespaces })
	ctx := context.Background()
	c := ec2.NewFromConfig(env.Config())
	run := func(args ...string) (string, string, int) {
		var out, errb bytes.Buffer
		code := cli.Run(ctx, append([]string{"exec", "--data-dir", dir}, args...), &out, &errb)
		return out.String(), errb.String(), code
	}
	launch := func() (id, ip string) {
		r, err := c.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String("ami-12345678"), MinCount: aws.Int32(1), MaxCount: aws.Int32(1)})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(r.Instances[0].InstanceId), aws.ToString(r.Instances[0].PrivateIpAddress)
	}
	id, ip := launch()
	// At once: the answer comes after the network is realised.
	out, errOut, code := run("--instance", id, "--", "ip", "-4", "-o", "addr", "show", "dev", "eth0")
	if code != 0 || !strings.Contains(out, "inet "+ip+"/") {
		t.Errorf("exec --instance %s ip addr = exit %d, %q, %q; want %s on eth0", id, code, out, errOut, ip)
	}
	if _, _, code := run("--instance", id, "--", "sh", "-c", "exit 7"); code != 7 {
		t.Errorf("exec --instance … sh -c 'exit 7' = exit %d, want 7", code)
	}

	stopped, _ := launch()
	if _, err := c.StopInstances(ctx, &ec2.StopInstancesInput{InstanceIds: []string{stopped}}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--instance", stopped}, "is stopp"},
		{[]string{"--instance", "i-0123456789abcdef0"}, "no such instance"},
		{[]string{"--instance", id, "--region", "eu-west-1"}, "no such instance"},
	} {
		_, errOut, code := run(append(tc.args, "--", "true")...)
		if code != 1 || !strings.Contains(errOut, tc.want) {
			t.Errorf("exec %v = exit %d, %q; want exit 1 mentioning %q", tc.args, code, errOut, tc.want)
		}
	}
}
