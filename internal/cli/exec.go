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
	"net/url"
	"os"
	"os/exec"
	"strings"

	"github.com/cachalot-dev/cachalot/internal/admin"
	"github.com/cachalot-dev/cachalot/internal/app"
)

// execUsage is the synopsis of cachalot exec.
const execUsage = "usage: cachalot exec --instance i-… -- COMMAND [ARGS…]\n       cachalot exec --outside ADDRESS -- COMMAND [ARGS…]"

// execInstance runs a program inside an instance's network, as if on the
// instance, resolving names through the VPC's DNS server: `cachalot exec
// --instance i-… -- redis-cli -h my-cache.km2jzi.0001.use1.cache.amazonaws.com
// ping`;
// or, with --outside, on a simulated client on the internet holding that
// public address: `cachalot exec --outside 198.51.100.27 -- redis-cli -h
// 100.64.3.4 ping`. The program runs as the caller (root: it may change the
// instance's network, e.g. iptables, as on the instance).
func execInstance(ctx context.Context, args []string, stdout, stderr io.Writer) (int, error) {
	fs := flag.NewFlagSet("exec", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dataDir := dataDirFlag(fs, args)
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
			return 1, needsNamespaces(err)
		}
		return runIn(ctx, ns, argv, stdout, stderr)
	}
	enter, err := instanceEnter(ctx, *dataDir, *region, *instance)
	if err != nil {
		return 1, needsNamespaces(err)
	}
	return run(ctx, append(enter, argv...), stdout, stderr)
}

// instanceEnter asks the running service of dataDir how to run a program
// as on a running instance (in its primary interface's namespace, realised
// before the answer, with its VPC's resolv.conf) and returns the argv
// prefix to run it with.
func instanceEnter(ctx context.Context, dataDir, region, instance string) ([]string, error) {
	q := url.Values{"region": {region}}
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://cachalot/v1/instances/"+url.PathEscape(instance)+"/netns?"+q.Encode(), nil)
	var out admin.NamespaceResponse
	if err := adminDo(app.AdminClient(dataDir), req, &out); err != nil {
		return nil, fmt.Errorf("network of %s: %w", instance, err)
	}
	if len(out.Enter) == 0 {
		return []string{"nsenter", "--net=" + out.Netns, "--"}, nil
	}
	return out.Enter, nil
}

// outsideNetns asks the running service of dataDir for the outside client
// addr and returns the path of its namespace.
func outsideNetns(ctx context.Context, dataDir, addr string) (string, error) {
	body, _ := json.Marshal(admin.OutsideClientRequest{Address: addr})
	req, _ := http.NewRequestWithContext(ctx, "POST", "http://cachalot/v1/outside-clients", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	var out admin.OutsideClientResponse
	if err := adminDo(app.AdminClient(dataDir), req, &out); err != nil {
		return "", fmt.Errorf("outside client %s: %w", addr, err)
	}
	return out.Netns, nil
}

// runIn runs argv inside the network namespace at ns, with the caller's
// standard input, and returns its exit code.
func runIn(ctx context.Context, ns string, argv []string, stdout, stderr io.Writer) (int, error) {
	return run(ctx, append([]string{"nsenter", "--net=" + ns, "--"}, argv...), stdout, stderr)
}

// run runs argv with the caller's standard input and returns its exit code.
func run(ctx context.Context, argv []string, stdout, stderr io.Writer) (int, error) {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
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

// needsNamespaces says what exec needs when the service answers that it
// runs in the loopback network mode, where no instance or outside client
// has a network of its own.
func needsNamespaces(err error) error {
	if !strings.Contains(err.Error(), "needs the namespaces network mode") {
		return err
	}
	return errors.New("exec runs programs in an instance's (or an outside client's) network, which exists only in the namespaces " +
		"network mode: start 'cachalot serve' as root on Linux (with nftables and iproute2 installed). This service runs in the " +
		"loopback mode: reach its caches from the host at their 127.0.0.1 endpoints instead")
}
