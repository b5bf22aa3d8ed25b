package app_test

import (
	"bufio"
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"

	"github.com/cachalot-dev/cachalot/internal/app"
	"github.com/cachalot-dev/cachalot/internal/app/apptest"
	"github.com/cachalot-dev/cachalot/internal/app/apptest/nettest"
	"github.com/cachalot-dev/cachalot/internal/cli"
	"github.com/cachalot-dev/cachalot/internal/privtest"
)

// machineHosts stands for the machine's hosts file: the tests write a
// temporary one, never /etc/hosts.
const machineHosts = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost\n"

// requirePublishTools skips without the engine and the client the tests
// drive, and without unshare (the private mount namespace in which
// redis-cli sees the test's hosts file as /etc/hosts).
func requirePublishTools(t *testing.T) {
	t.Helper()
	privtest.RequireRoot(t)
	for _, bin := range []string{"redis-server", "redis-cli", "unshare", "mount"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("%s skipped: needs %s", privtest.Marker, bin)
		}
	}
}

// cachalot runs the cachalot command in-process against the data dir and
// returns its output and exit code.
func cachalot(t testing.TB, dataDir string, args ...string) (string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	argv := append([]string{args[0], "--data-dir", dataDir}, args[1:]...)
	code := cli.Run(ctx, argv, &out, &errb)
	return out.String() + errb.String(), code
}

// redisCLI runs redis-cli on the host with the test's hosts file as
// /etc/hosts (bind-mounted in a private mount namespace, so the machine's
// is untouched), and returns its output and whether it succeeded.
func redisCLI(hosts string, args ...string) (string, bool) {
	script := `mount --bind "$0" /etc/hosts && exec timeout 5 redis-cli "$@"`
	cmd := exec.Command("unshare", append([]string{"-m", "--propagation", "private", "sh", "-c", script, hosts}, args...)...)
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err == nil
}

// hostsBlock returns the lines of prefix's block in the hosts file.
func hostsBlock(t *testing.T, path, prefix string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	in := false
	for _, l := range strings.Split(string(b), "\n") {
		switch {
		case strings.HasPrefix(l, "# BEGIN cachalot "+prefix):
			in = true
		case l == "# END cachalot "+prefix:
			in = false
		case in:
			out = append(out, l)
		}
	}
	return out
}

// waitFor retries check until it reports true (or a minute passes).
func waitFor(t *testing.T, what string, check func() (string, bool)) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		got, ok := check()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still %q after a minute", what, got)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// hostObjects lists the host's kernel objects of the installation: its
// links and its nft table.
func hostObjects(t *testing.T, prefix string) string {
	t.Helper()
	var b strings.Builder
	links, _ := exec.Command("ip", "-o", "link").Output()
	for _, l := range strings.Split(string(links), "\n") {
		if strings.Contains(l, " "+prefix+"-") {
			b.WriteString(l + "\n")
		}
	}
	if exec.Command("nft", "list", "table", "inet", prefix).Run() == nil {
		b.WriteString("table inet " + prefix + "\n")
	}
	routes, _ := exec.Command("ip", "route", "show").Output()
	for _, l := range strings.Split(string(routes), "\n") {
		if strings.Contains(l, "dev "+prefix+"-") {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

// A published cache answers `redis-cli -h <its name>` on the host once its
// security group admits the host client, and refuses before; explain says
// why; bad input changes nothing; a restart keeps it; unpublishing and
// deleting the cache remove its names and the host's objects; teardown
// leaves the hosts file as it found it.
func TestPublishedCacheFromHost(t *testing.T) {
	requirePublishTools(t)
	hosts := filepath.Join(t.TempDir(), "hosts")
	if err := os.WriteFile(hosts, []byte(machineHosts), 0o644); err != nil {
		t.Fatal(err)
	}
	var prefix string
	// Registered first, so it runs after the harness's teardown.
	t.Cleanup(func() {
		if b, _ := os.ReadFile(hosts); string(b) != machineHosts {
			t.Errorf("hosts file after teardown = %q, want it as the test found it", b)
		}
		if got := hostObjects(t, prefix); got != "" {
			t.Errorf("host objects after teardown:\n%s", got)
		}
	})
	cfg := func(c *app.Config) { c.HostsFile = hosts; c.Network = app.NetworkNamespaces }
	env := apptest.Start(t, cfg)
	prefix = app.InstallPrefix(env.DataDir)
	ne := &nettest.Env{Env: env, EC2: ec2.NewFromConfig(env.Config())}
	ec := elasticache.NewFromConfig(env.Config())
	ctx := context.Background()

	vpc, _, _ := ne.DefaultVPC(t)
	sg := ne.CreateGroup(t, "pub-cache", vpc)
	for _, id := range []string{"pub", "gone"} {
		if _, err := ec.CreateCacheCluster(ctx, &elasticache.CreateCacheClusterInput{CacheClusterId: aws.String(id),
			Engine: aws.String("redis"), CacheNodeType: aws.String("cache.t3.micro"), NumCacheNodes: aws.Int32(1),
			SecurityGroupIds: []string{sg}}); err != nil {
			t.Fatalf("CreateCacheCluster(%s) = %v", id, err)
		}
	}
	nettest.WaitCluster(t, ec, "pub")
	nettest.WaitCluster(t, ec, "gone")

	out, code := cachalot(t, env.DataDir, "publish", "pub")
	if code != 0 || !strings.Contains(out, "169.254.64.1") || !strings.Contains(out, "127.64.") {
		t.Fatalf("cachalot publish pub = %d:\n%s", code, out)
	}
	ne.WaitIdle(t)
	block := hostsBlock(t, hosts, prefix)
	if len(block) != 1 || !strings.Contains(block[0], "pub.") || !strings.Contains(block[0], ".0001.use1.cache.amazonaws.com") {
		t.Fatalf("hosts block = %q, want pub's node name", block)
	}
	name := strings.Fields(block[0])[1]
	t.Logf("published: %s", block[0])

	// The group admits nobody: refused, and explain says what is missing.
	if got, ok := redisCLI(hosts, "-h", name, "ping"); ok && got == "PONG" {
		t.Errorf("redis-cli -h %s ping = %q before any rule admits the host", name, got)
	}
	out, code = cachalot(t, env.DataDir, "explain", "--from", "host", "--to", "pub")
	if code != 3 || !strings.Contains(out, "DENIED") || !strings.Contains(out, "169.254.64.1") {
		t.Errorf("cachalot explain --from host = %d:\n%s\nwant DENIED naming the host client", code, out)
	}

	// A rule admitting the host client opens it.
	ne.AllowIn(t, sg, nettest.TCPPerm(6379, "169.254.64.1/32"))
	ne.WaitIdle(t)
	waitFor(t, "redis-cli -h "+name+" ping", func() (string, bool) {
		got, ok := redisCLI(hosts, "-h", name, "ping")
		return got, ok && got == "PONG"
	})
	if got, _ := redisCLI(hosts, "-h", name, "set", "k", "v"); got != "OK" {
		t.Errorf("redis-cli set = %q", got)
	}
	out, code = cachalot(t, env.DataDir, "explain", "--from", "host", "--to", "pub")
	if code != 0 || !strings.Contains(out, "ALLOWED") {
		t.Errorf("cachalot explain --from host with the rule = %d:\n%s", code, out)
	}

	// Bad input: AWS-style errors, nothing changed.
	before, _ := os.ReadFile(hosts)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"publish", "pub"}, "CacheClusterAlreadyPublished"},
		{[]string{"publish", "nope"}, "CacheClusterNotFound"},
		{[]string{"unpublish", "nope"}, "CacheClusterNotFound"},
		{[]string{"unpublish", "gone"}, "CacheClusterNotPublished"},
	} {
		if out, code := cachalot(t, env.DataDir, tc.args...); code == 0 || !strings.Contains(out, tc.want) {
			t.Errorf("cachalot %v = %d %q, want %s", tc.args, code, out, tc.want)
		}
	}
	ne.WaitIdle(t)
	if after, _ := os.ReadFile(hosts); !bytes.Equal(before, after) {
		t.Errorf("bad input changed the hosts file:\n%s\nto\n%s", before, after)
	}

	// A restart of serve re-adopts the published endpoint.
	objects := hostObjects(t, prefix)
	if err := env.App.Close(); err != nil {
		t.Fatal(err)
	}
	if got, _ := redisCLI(hosts, "-h", name, "get", "k"); got != "v" {
		t.Errorf("redis-cli get while serve is stopped = %q, want v", got)
	}
	again := app.New(app.Config{Listen: "127.0.0.1:0", DataDir: env.DataDir, HostsFile: hosts, Network: app.NetworkNamespaces})
	if err := again.Start(ctx); err != nil {
		t.Fatalf("restart: %v", err)
	}
	// Closed before the harness's teardown (cleanups run last first).
	t.Cleanup(func() { again.Close() })
	ec = elasticache.NewFromConfig((&apptest.Env{URL: again.URL(), Root: env.Root}).Config())
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	if err := again.WaitIdle(wctx); err != nil {
		t.Fatal(err)
	}
	cancel()
	if got := hostObjects(t, prefix); got != objects {
		t.Errorf("host objects after the restart:\n%s\nwant\n%s", got, objects)
	}
	if got, _ := redisCLI(hosts, "-h", name, "get", "k"); got != "v" {
		t.Errorf("redis-cli get after the restart = %q, want v", got)
	}

	// Unpublishing removes its name and the host's objects.
	if out, code := cachalot(t, env.DataDir, "unpublish", "pub"); code != 0 {
		t.Fatalf("cachalot unpublish pub = %d:\n%s", code, out)
	}
	wctx, cancel = context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := again.WaitIdle(wctx); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(hosts); string(b) != machineHosts {
		t.Errorf("hosts file after unpublish = %q, want the machine's", b)
	}
	if got := hostObjects(t, prefix); got != "" {
		t.Errorf("host objects after unpublish:\n%s", got)
	}

	// Deleting a published cache does too; teardown (by the harness)
	// removes the block of one still published.
	for _, id := range []string{"gone", "pub"} {
		if out, code := cachalot(t, env.DataDir, "publish", id); code != 0 {
			t.Fatalf("cachalot publish %s = %d:\n%s", id, code, out)
		}
	}
	if _, err := ec.DeleteCacheCluster(ctx, &elasticache.DeleteCacheClusterInput{CacheClusterId: aws.String("gone")}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "hosts block after deleting gone", func() (string, bool) {
		b := hostsBlock(t, hosts, prefix)
		return strings.Join(b, "|"), len(b) == 1 && strings.Contains(b[0], name)
	})
}

// TestPublishedCrash runs the real binary with --publish-all: a cache is
// published without asking; kill -9 of serve leaves it answering by name;
// a new serve re-adopts it without touching the host's objects or the
// hosts file; teardown leaves the hosts file as it found it.
func TestPublishedCrash(t *testing.T) {
	requirePublishTools(t)
	d := apptest.BuildDaemon(t)
	// The hosts file beside the data dir: removed after the harness's teardown.
	dir, hosts := d.Dir, filepath.Join(filepath.Dir(d.Dir), "hosts")
	if err := os.WriteFile(hosts, []byte(machineHosts), 0o644); err != nil {
		t.Fatal(err)
	}
	prefix := app.InstallPrefix(dir)
	start := func() *apptest.Env { t.Helper(); return d.Start("--publish-all", "--hosts-file", hosts) }
	env := start()
	ne := &nettest.Env{Env: env, EC2: ec2.NewFromConfig(env.Config())}
	ec := elasticache.NewFromConfig(env.Config())
	vpc, _, _ := ne.DefaultVPC(t)
	sg := ne.CreateGroup(t, "crash-cache", vpc)
	ne.AllowIn(t, sg, nettest.TCPPerm(6379, "169.254.64.1/32"))
	if _, err := ec.CreateCacheCluster(context.Background(), &elasticache.CreateCacheClusterInput{CacheClusterId: aws.String("crashpub"),
		Engine: aws.String("redis"), CacheNodeType: aws.String("cache.t3.micro"), NumCacheNodes: aws.Int32(1),
		SecurityGroupIds: []string{sg}}); err != nil {
		t.Fatal(err)
	}
	nettest.WaitCluster(t, ec, "crashpub")
	var name string
	waitFor(t, "the hosts block", func() (string, bool) {
		b := hostsBlock(t, hosts, prefix)
		if len(b) == 1 {
			name = strings.Fields(b[0])[1]
		}
		return strings.Join(b, "|"), len(b) == 1
	})
	ping := func(what string) {
		t.Helper()
		waitFor(t, what+": redis-cli -h "+name+" ping", func() (string, bool) {
			got, ok := redisCLI(hosts, "-h", name, "ping")
			return got, ok && got == "PONG"
		})
	}
	ping("published by --publish-all")
	objects, block := hostObjects(t, prefix), hostsBlock(t, hosts, prefix)

	d.Stop(syscall.SIGKILL)
	if got, ok := redisCLI(hosts, "-h", name, "ping"); !ok || got != "PONG" {
		t.Errorf("redis-cli ping after kill -9 = %q, want PONG", got)
	}
	start()
	ping("after the restart")
	waitFor(t, "the restarted serve converged", func() (string, bool) {
		out, code := cachalot(t, dir, "published", "crashpub")
		return out, code == 0 && strings.Contains(out, "publish-all")
	})
	if got := hostObjects(t, prefix); got != objects {
		t.Errorf("host objects after the restart:\n%s\nwant\n%s", got, objects)
	}
	if got := hostsBlock(t, hosts, prefix); strings.Join(got, "\n") != strings.Join(block, "\n") {
		t.Errorf("hosts block after the restart = %q, want %q", got, block)
	}

	d.Stop(syscall.SIGTERM)
	if out, err := exec.Command(d.Bin, "teardown", "--data-dir", dir).CombinedOutput(); err != nil {
		t.Fatalf("teardown: %v\n%s", err, out)
	}
	if b, _ := os.ReadFile(hosts); string(b) != machineHosts {
		t.Errorf("hosts file after teardown = %q, want the machine's", b)
	}
	if got := hostObjects(t, prefix); got != "" {
		t.Errorf("host objects after teardown:\n%s", got)
	}
}

// In the loopback network mode a published cache's names resolve to
// 127.0.0.1, its node listens on the engine's port when that is free, and
// explain says that security groups are not enforced.
func TestPublishedLoopbackMode(t *testing.T) {
	requirePublishTools(t)
	hosts := filepath.Join(t.TempDir(), "hosts")
	if err := os.WriteFile(hosts, []byte(machineHosts), 0o644); err != nil {
		t.Fatal(err)
	}
	env := apptest.Start(t, func(c *app.Config) { c.HostsFile = hosts; c.Network = app.NetworkLoopback })
	prefix := app.InstallPrefix(env.DataDir)
	ec := elasticache.NewFromConfig(env.Config())
	if _, err := ec.CreateCacheCluster(context.Background(), &elasticache.CreateCacheClusterInput{CacheClusterId: aws.String("lo"),
		Engine: aws.String("redis"), CacheNodeType: aws.String("cache.t3.micro"), NumCacheNodes: aws.Int32(1)}); err != nil {
		t.Fatal(err)
	}
	nettest.WaitCluster(t, ec, "lo")
	out, code := cachalot(t, env.DataDir, "publish", "lo")
	if code != 0 || !strings.Contains(out, "127.0.0.1:") || !strings.Contains(out, "not enforced") {
		t.Fatalf("cachalot publish lo = %d:\n%s", code, out)
	}
	port := strings.TrimSpace(strings.Split(strings.Split(out, "127.0.0.1:")[1], "\t")[0])
	wctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := env.App.WaitIdle(wctx); err != nil {
		t.Fatal(err)
	}
	block := hostsBlock(t, hosts, prefix)
	if len(block) != 1 || !strings.HasPrefix(block[0], "127.0.0.1\tlo.") {
		t.Fatalf("hosts block = %q, want lo's name at 127.0.0.1", block)
	}
	name := strings.Fields(block[0])[1]
	if got, ok := redisCLI(hosts, "-h", name, "-p", port, "ping"); !ok || got != "PONG" {
		t.Errorf("redis-cli -h %s -p %s ping = %q", name, port, got)
	}
	out, code = cachalot(t, env.DataDir, "explain", "--from", "host", "--to", "lo")
	if code != 0 || !strings.Contains(out, "NOT enforced") {
		t.Errorf("cachalot explain --from host in the loopback mode = %d:\n%s", code, out)
	}
	t.Logf("loopback mode: %s at 127.0.0.1:%s", name, port)
}

// A published Memcached cluster: each node and the configuration endpoint
// get an address and a name of their own, reached at 11211 from the host.
func TestPublishedMemcached(t *testing.T) {
	requirePublishTools(t)
	if _, err := exec.LookPath("memcached"); err != nil {
		t.Skipf("%s skipped: needs memcached", privtest.Marker)
	}
	hosts := filepath.Join(t.TempDir(), "hosts")
	if err := os.WriteFile(hosts, []byte(machineHosts), 0o644); err != nil {
		t.Fatal(err)
	}
	env := apptest.Start(t, func(c *app.Config) { c.HostsFile = hosts; c.Network = app.NetworkNamespaces })
	prefix := app.InstallPrefix(env.DataDir)
	ne := &nettest.Env{Env: env, EC2: ec2.NewFromConfig(env.Config())}
	ec := elasticache.NewFromConfig(env.Config())
	vpc, _, _ := ne.DefaultVPC(t)
	sg := ne.CreateGroup(t, "mc-cache", vpc)
	ne.AllowIn(t, sg, nettest.TCPPerm(11211, "169.254.64.1/32"))
	if _, err := ec.CreateCacheCluster(context.Background(), &elasticache.CreateCacheClusterInput{CacheClusterId: aws.String("mc"),
		Engine: aws.String("memcached"), CacheNodeType: aws.String("cache.t3.micro"), NumCacheNodes: aws.Int32(2),
		SecurityGroupIds: []string{sg}}); err != nil {
		t.Fatal(err)
	}
	nettest.WaitCluster(t, ec, "mc")
	if out, code := cachalot(t, env.DataDir, "publish", "mc"); code != 0 {
		t.Fatalf("cachalot publish mc = %d:\n%s", code, out)
	}
	ne.WaitIdle(t)
	block := hostsBlock(t, hosts, prefix)
	if len(block) != 3 {
		t.Fatalf("hosts block = %q, want two nodes and the configuration endpoint", block)
	}
	for _, line := range block {
		f := strings.Fields(line)
		ask, want := "version\r\n", "VERSION "
		if strings.Contains(f[1], ".cfg.") {
			ask, want = "config get cluster\r\n", "CONFIG cluster"
		}
		var got string
		waitFor(t, f[1]+" from the host", func() (string, bool) {
			c, err := net.DialTimeout("tcp4", net.JoinHostPort(f[0], "11211"), 2*time.Second)
			if err != nil {
				return err.Error(), false
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(2 * time.Second))
			c.Write([]byte(ask))
			line, err := bufio.NewReader(c).ReadString('\n')
			got = line
			return line, err == nil && strings.HasPrefix(line, want)
		})
		t.Logf("%s (%s): %s", f[1], f[0], strings.TrimSpace(got))
	}
}
