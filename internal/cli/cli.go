// Package cli implements the cachalot command: serve, env, version and the
// admin commands. It parses flags and environment, then drives the wiring
// package; main only calls Run.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/cachalot-dev/cachalot/internal/account"
	"github.com/cachalot-dev/cachalot/internal/app"
	"github.com/cachalot-dev/cachalot/internal/dnsname"
)

// Version is set at build time with -ldflags "-X …/cli.Version=…".
var Version = ""

const usage = `cachalot: a self-hosted, AWS-compatible Amazon ElastiCache

Usage:
  cachalot serve   [--listen ADDR] [--data-dir DIR] [--account-id ID] [--network MODE] [--regions LIST]
                   [--dns-domain DOMAIN] [--publish-all] [--hosts-file PATH] [--log-level LEVEL]
                   [--metrics-per-node]
  cachalot env     [--data-dir DIR] [--region REGION]
  cachalot ca      [--data-dir DIR]       print the installation's CA certificate (PEM) for TLS clients
  cachalot exec    [--data-dir DIR] --instance i-… -- COMMAND [ARGS…]
  cachalot exec    [--data-dir DIR] --outside ADDRESS -- COMMAND [ARGS…]
  cachalot teardown [--data-dir DIR | --prefix PREFIX]
  cachalot account create [--data-dir DIR] [--name N] [--email E] [--ec2-classic]
  cachalot account list   [--data-dir DIR]
  cachalot connect-compute    --cache ID --instance i-…
  cachalot disconnect-compute --cache ID --instance i-…
  cachalot connected-compute  --cache ID
  cachalot explain --from i-…|host --to CACHE_ID [--port N]
  cachalot publish   CACHE_ID
  cachalot unpublish CACHE_ID
  cachalot published [CACHE_ID]
  cachalot status [--data-dir DIR]        summarise the running service
  cachalot wait-ready [--timeout 5m]      wait until the service answers /ready
  cachalot logs CACHE [--node 0001] [-f]  print (and follow) the engine logs of a cache's nodes
  cachalot version

Run 'cachalot COMMAND -h' for a command's flags.
`

// Run runs the command line args (without the program name) and returns the
// process exit code.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "serve":
		err = serve(ctx, args[1:], stderr)
	case "env":
		err = env(args[1:], stdout, stderr)
	case "ca":
		err = printCA(args[1:], stdout, stderr)
	case "exec":
		code, err := execInstance(ctx, args[1:], stdout, stderr)
		if err != nil {
			fmt.Fprintln(stderr, "cachalot:", err)
		}
		return code
	case "teardown":
		err = teardown(ctx, args[1:], stderr)
	case "account":
		err = accountCmd(ctx, args[1:], stdout, stderr)
	case "connect-compute":
		err = connectCompute(ctx, args[1:], stdout, stderr)
	case "disconnect-compute":
		err = disconnectCompute(ctx, args[1:], stdout, stderr)
	case "connected-compute":
		err = connectedCompute(ctx, args[1:], stdout, stderr)
	case "publish":
		err = publishCmd(ctx, args[1:], stdout, stderr)
	case "unpublish":
		err = unpublishCmd(ctx, args[1:], stdout, stderr)
	case "published":
		err = publishedCmd(ctx, args[1:], stdout, stderr)
	case "explain":
		code, err := explainReachability(ctx, args[1:], stdout, stderr)
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		if err != nil {
			fmt.Fprintln(stderr, "cachalot:", err)
		}
		return code
	case "status":
		err = status(ctx, args[1:], stdout, stderr)
	case "wait-ready":
		err = waitReady(ctx, args[1:], stdout, stderr)
	case "logs":
		err = logs(ctx, args[1:], stdout, stderr)
	case "version", "--version", "-v":
		fmt.Fprintln(stdout, "cachalot", version())
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
	default:
		fmt.Fprintf(stderr, "cachalot: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "cachalot:", err)
		return 1
	}
	return 0
}

func version() string {
	if Version != "" {
		return Version
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				return "dev-" + s.Value[:12]
			}
		}
	}
	return "dev"
}

// parseRegions parses the --regions list: region names, each of AWS's form
// (area[-gov]-direction-number, so that cache endpoints can be named in
// it), or "aws" for every region AWS has.
func parseRegions(list string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, r := range strings.Split(list, ",") {
		r = strings.TrimSpace(r)
		names := []string{r}
		if r == "aws" {
			names = dnsname.Regions()
		} else if _, err := dnsname.RegionCode(r); err != nil {
			return nil, err
		}
		for _, n := range names {
			if !seen[n] {
				seen[n] = true
				out = append(out, n)
			}
		}
	}
	return out, nil
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// DefaultDataDir is /var/lib/cachalot for root, else $XDG_DATA_HOME/cachalot
// (~/.local/share/cachalot).
func DefaultDataDir() string {
	if os.Geteuid() == 0 {
		return "/var/lib/cachalot"
	}
	if x := os.Getenv("XDG_DATA_HOME"); x != "" {
		return filepath.Join(x, "cachalot")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return filepath.Join(os.TempDir(), "cachalot-"+fmt.Sprint(os.Getuid()))
	}
	return filepath.Join(home, ".local", "share", "cachalot")
}

// dataDirFlag is the --data-dir of the commands that talk to a running
// service: its default is the running service (runtime.go). args are the
// command's, to be parsed by fs.
func dataDirFlag(fs *flag.FlagSet, args []string) *string {
	return clientDataDirFlag(fs, os.Stderr, args)
}

func serve(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", envOr("CACHALOT_LISTEN", "127.0.0.1:4566"), "HTTP listen address (env CACHALOT_LISTEN)")
	dataDir := fs.String("data-dir", envOr("CACHALOT_DATA_DIR", DefaultDataDir()), "state directory (env CACHALOT_DATA_DIR)")
	accountID := fs.String("account-id", envOr("CACHALOT_ACCOUNT_ID", app.DefaultAccountID), "account id of the root credentials (env CACHALOT_ACCOUNT_ID)")
	logLevel := fs.String("log-level", envOr("CACHALOT_LOG_LEVEL", "info"), "debug, info, warn or error (env CACHALOT_LOG_LEVEL)")
	network := fs.String("network", envOr("CACHALOT_NETWORK", ""), "namespaces (default as root on Linux) or loopback (env CACHALOT_NETWORK)")
	dnsDomain := fs.String("dns-domain", envOr("CACHALOT_DNS_DOMAIN", dnsname.DefaultDomain), "domain of the endpoint names (<cluster>.<id>.0001.use1.DOMAIN), resolved inside every VPC (env CACHALOT_DNS_DOMAIN)")
	regionList := fs.String("regions", envOr("CACHALOT_REGIONS", "aws"), "comma-separated regions requests may be signed for; 'aws' stands for every commercial, China and GovCloud region (env CACHALOT_REGIONS)")
	publishAll := fs.Bool("publish-all", envOr("CACHALOT_PUBLISH_ALL", "") == "1", "publish every cache to this host, for local development (env CACHALOT_PUBLISH_ALL=1)")
	perNode := fs.Bool("metrics-per-node", envOr("CACHALOT_METRICS_PER_NODE", "") == "1", "add per-node engine series (labelled by cache cluster and node id) to /metrics, which is unauthenticated; default: totals by engine only (env CACHALOT_METRICS_PER_NODE=1)")
	noFastPath := fs.Bool("no-fast-path", envOr("CACHALOT_NO_FAST_PATH", "") == "1", "turn off the VPC routers' eBPF fast path for established TCP connections inside a subnet: every packet crosses the router's nftables (env CACHALOT_NO_FAST_PATH=1)")
	idleHzDefault, err := strconv.Atoi(envOr("CACHALOT_IDLE_ENGINE_HZ", "1"))
	if err != nil {
		return fmt.Errorf("CACHALOT_IDLE_ENGINE_HZ: %w", err)
	}
	idleHz := fs.Int("idle-engine-hz", idleHzDefault, "hz of Redis OSS/Valkey engines with no client (the timer of an idle engine is most of its CPU); 10, the engine default ElastiCache runs, again once a client connects, within the metrics interval (10 s); 0 keeps 10 always (env CACHALOT_IDLE_ENGINE_HZ)")
	hostsFile := fs.String("hosts-file", envOr("CACHALOT_HOSTS_FILE", defaultHostsFile()), "hosts file where the names of published caches are written, in a managed block; 'none' writes none (env CACHALOT_HOSTS_FILE; default /etc/hosts as root, else none)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *idleHz < 0 || *idleHz > 10 {
		return fmt.Errorf("--idle-engine-hz: %d is not between 0 (off) and 10", *idleHz)
	}
	if *hostsFile == "none" {
		*hostsFile = ""
	}
	regions, err := parseRegions(*regionList)
	if err != nil {
		return fmt.Errorf("--regions: %w", err)
	}
	if err := dnsname.ValidateDomain(*dnsDomain); err != nil {
		return fmt.Errorf("--dns-domain: %w", err)
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	cfg := app.Config{Listen: *listen, DataDir: *dataDir, AccountID: *accountID, Network: *network, Regions: regions,
		DNSDomain: *dnsDomain, PublishAll: *publishAll, HostsFile: *hostsFile, MetricsPerNode: *perNode, NoFastPath: *noFastPath, Logger: logger}
	if cfg.IdleEngineHz = *idleHz; *idleHz <= 0 {
		cfg.IdleEngineHz = -1
	}
	akid, secret := os.Getenv("CACHALOT_ROOT_ACCESS_KEY_ID"), os.Getenv("CACHALOT_ROOT_SECRET_ACCESS_KEY")
	if (akid == "") != (secret == "") {
		return errors.New("set both CACHALOT_ROOT_ACCESS_KEY_ID and CACHALOT_ROOT_SECRET_ACCESS_KEY, or neither")
	}
	if akid != "" {
		cfg.RootCredentials = &account.Credentials{AccessKeyID: akid, SecretAccessKey: secret}
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	start := time.Now()
	a := app.New(cfg)
	if err := a.Start(ctx); err != nil {
		a.Close()
		return err
	}
	if removeRuntime, err := writeRuntime(a, *dataDir); err != nil {
		logger.Warn("no runtime file: other commands find this service only by --data-dir", "err", err)
	} else {
		defer removeRuntime()
	}
	logger.Info("ready", "startup", time.Since(start).Round(time.Microsecond))
	<-ctx.Done()
	logger.Info("shutting down")
	return a.Close()
}

func env(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("env", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dataDir := dataDirFlag(fs, args)
	region := fs.String("region", envOr("AWS_DEFAULT_REGION", "us-east-1"), "region to export")
	if err := fs.Parse(args); err != nil {
		return err
	}
	creds, err := app.ReadCredentials(*dataDir)
	if err != nil {
		return fmt.Errorf("%w (no credentials: %v)", notRunning(*dataDir), err)
	}
	url, err := endpointOf(*dataDir)
	if err != nil {
		return err
	}
	if err := alive(*dataDir, url); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "export AWS_ACCESS_KEY_ID=%s\n", creds.AccessKeyID)
	fmt.Fprintf(stdout, "export AWS_SECRET_ACCESS_KEY=%s\n", shellQuote(creds.SecretAccessKey))
	fmt.Fprintln(stdout, "unset AWS_SESSION_TOKEN AWS_PROFILE")
	fmt.Fprintf(stdout, "export AWS_DEFAULT_REGION=%s\n", *region)
	fmt.Fprintf(stdout, "export AWS_REGION=%s\n", *region)
	fmt.Fprintf(stdout, "export AWS_ENDPOINT_URL=%s\n", url)
	fmt.Fprintf(stdout, "# web console: %s/console/ (sign in with the access key above, or as an IAM user with a password)\n", strings.TrimSuffix(url, "/"))
	return nil
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// teardown removes every engine process and kernel object of an
// installation; --prefix names an installation whose data dir is gone. It
// refuses while a serve of the data dir runs.
func teardown(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("teardown", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dataDir := dataDirFlag(fs, args)
	prefix := fs.String("prefix", "", "kernel-object prefix of an installation whose data dir is gone (e.g. cl1a2b3)")
	hostsFile := fs.String("hosts-file", app.DefaultHostsFile, "with --prefix: the hosts file whose block of that installation is removed")
	if err := fs.Parse(args); err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	if *prefix != "" {
		return errors.Join(app.TeardownPrefix(ctx, *prefix, logger), app.TeardownHostsFile(*hostsFile, *prefix))
	}
	err := app.Teardown(ctx, *dataDir, logger)
	if errors.Is(err, app.ErrServing) {
		// Removing engines and namespaces under a running serve would be
		// undone by its controllers, or leave it serving what is gone.
		return fmt.Errorf("teardown refused: %w; stop that serve first (Ctrl-C where it runs, or kill -TERM the pid), then run teardown again", err)
	}
	return err
}

// defaultHostsFile is /etc/hosts for root, else none (a user cannot write it).
func defaultHostsFile() string {
	if os.Geteuid() == 0 {
		return app.DefaultHostsFile
	}
	return "none"
}
