// Package examples runs the walkthroughs of this directory (bash, the AWS
// CLI v2, cachalot exec and real cache clients) as part of the test suite,
// so that `make test` — CI — proves the documented access flows work.
package examples

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/cachalot-dev/cachalot/internal/privtest"
)

// walkthroughs are the scripts, each a test of its own.
var walkthroughs = []string{
	"grant-access-default.sh",   // SEEDS 001/002: default group, Custom TCP from 0.0.0.0/0
	"grant-access-dedicated.sh", // SEEDS 001/002: the recommended dedicated group
	"vpc-peering.sh",            // SEEDS 002: another VPC through peering
	"compute-connection.sh",     // SEEDS 000: cachalot connect-compute
	"ec2-classic.sh",            // SEEDS 001/002: EC2-Classic, cache security groups
	"nat-instance.sh",           // SEEDS 002: from outside AWS through a NAT instance
	"replication-group.sh",      // issue 12: a replication group, test-failover, writes resume
	"snapshots.sh",              // issue 16: backup, final backup, restore into a cluster, a group and 3 shards
	"tls.sh",                    // issue 14, SEEDS 003/004: TLS and AUTH tokens from the command line
	"tls-migrate.sh",            // issue 14: TLS enabled on an existing group, preferred then required
	"cluster-mode.sh",           // issue 13: cluster mode enabled, redis-cli -c, test-failover of a shard
	"resharding.sh",             // issue 13: modify-replication-group-shard-configuration 2 -> 3 -> 2, keys kept
	"cluster-mode-migrate.sh",   // issue 13: cluster mode disabled -> compatible -> enabled, then resharded
	"rbac.sh",                   // issue 14: RBAC users and user groups, redis-cli --tls --user
	"iam-auth.sh",               // issue 14: IAM authentication, a botocore token as the password
	"serverless.sh",             // issue 15, SEEDS 003/004: a serverless cache, TLS, 6379 and 6380
	"serverless-memcached.sh",   // issue 15, SEEDS 003/004: a serverless Memcached cache, TLS, 11211 and 11212
}

func TestWalkthroughs(t *testing.T) {
	privtest.RequireRoot(t)
	for _, tool := range []string{"/usr/bin/aws", "/usr/bin/redis-cli", "/usr/bin/memcstat", "/usr/bin/nsenter", "/usr/sbin/iptables"} {
		if _, err := os.Stat(tool); err != nil {
			t.Skipf("%s is not installed (make deps installs the Debian packages the walkthroughs use)", tool)
		}
	}
	bin := filepath.Join(t.TempDir(), "cachalot")
	build := exec.Command("go", "build", "-o", bin, "github.com/cachalot-dev/cachalot/cmd/cachalot")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	for _, script := range walkthroughs {
		t.Run(script, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, "bash", script)
			cmd.Env = append(os.Environ(), "CACHALOT="+bin)
			// The script's trap tears its Cachalot down; give it time on timeout.
			cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
			cmd.WaitDelay = 30 * time.Second
			out, err := cmd.CombinedOutput()
			t.Logf("%s output:\n%s", script, out)
			if err != nil {
				t.Fatalf("%s: %v", script, err)
			}
		})
	}
}
