// Package instancectl is the instance controller: it converges EC2
// instances to what runs for them. Nothing boots, so that is their user
// data: each running instance's script runs once, at launch, inside the
// instance's network namespace with the VPC's resolver configuration (so
// that endpoint names resolve), and its output becomes the instance's
// console (ec2.Service.GetConsoleOutput returns it).
//
// User data is code of the account's choosing running on the host, so it
// is confined (confine.go): each account's scripts run under an identity
// of their own (internal/engine/identity, UserData range, disjoint from
// every engine's), with no capabilities, no_new_privs and umask 077. It
// cannot signal nor read an engine or another account's user data.
//
// A second controller, Metadata (metadata.go), gives each running instance
// its instance metadata service: the address 169.254.169.254 in its
// network and a listener there, served by internal/imds.
//
// They are reconcile.Controllers. Only the wiring (internal/app) imports it.
// It reaches the EC2 domain through the console write API the domain
// exports (StartConsole, WriteConsoleOutput) and the network through a
// small interface (the VPC-network controller satisfies it).
package instancectl

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/cachalot-dev/cachalot/internal/ec2"
	"github.com/cachalot-dev/cachalot/internal/engine/identity"
)

// userDataTimeout is how long a script may run.
const userDataTimeout = 10 * time.Minute

// EC2 is what the controller needs of the EC2 domain: the instances (in
// the topology), their user data and the console write API.
type EC2 interface {
	Topology(ctx context.Context, sel ec2.TopologySelector) (*ec2.Topology, error)
	UserData(ctx context.Context, account, region, instance string) ([]byte, error)
	ConsoleStarted(ctx context.Context, account, region, instance string) (bool, error)
	StartConsole(ctx context.Context, account, region, instance string) error
	WriteConsoleOutput(ctx context.Context, account, region, instance string, out []byte) error
}

// Network runs programs in an interface's network.
type Network interface {
	// Loopback reports the loopback network mode: no instance networks.
	Loopback() bool
	// Sync realises the EC2 network model now.
	Sync(ctx context.Context) error
	// InstanceCommand runs argv as on the instance: inside the interface's
	// network namespace, with the VPC's resolv.conf (naming its DNS server)
	// as /etc/resolv.conf.
	InstanceCommand(ctx context.Context, interfaceID string, argv ...string) (*exec.Cmd, error)
}

// Controller runs each running instance's user data once, at launch,
// inside the instance's network namespace, and keeps its output as the
// instance's console. It watches ec2/ keys; an instance whose console
// exists has had its script started.
type Controller struct {
	ec2 EC2
	net Network
	cfg Config
	log *slog.Logger

	mu sync.Mutex // guards running and handled
	// running holds the scripts in progress, by instance, with what stops
	// one: an instance that stops or terminates takes its script down.
	running map[string]context.CancelFunc
	// handled remembers the instances whose console exists, so that an EC2
	// change does not cost one store read per running instance.
	handled map[string]bool
	wg      sync.WaitGroup
}

// Config configures a Controller.
type Config struct {
	// Identities allocates each account's user-data identity (one per
	// account, kept across restarts); required when the daemon runs as
	// root: identity.New(<its own registry directory>, identity.UserData()).
	Identities *identity.Allocator
	// Metadata, when set, is the instance metadata controller: a script
	// starts once its instance's metadata service answers. nil: scripts
	// start without waiting for it.
	Metadata *Metadata
	// Setpriv is the setpriv(1) binary scripts are confined with; default:
	// found in PATH. Running as root, a missing one fails the script.
	Setpriv string
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// New returns a controller; it has no side effects.
func New(e EC2, net Network, cfg Config) *Controller {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Controller{ec2: e, net: net, cfg: cfg, log: cfg.Logger}
}

func (u *Controller) isHandled(key string) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.handled[key]
}

func (u *Controller) markHandled(key string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.handled == nil {
		u.handled = map[string]bool{}
	}
	u.handled[key] = true
}

// Name implements reconcile.Controller.
func (u *Controller) Name() string { return "user-data" }

// Watches implements reconcile.Controller: the EC2 model.
func (u *Controller) Watches(key string) bool { return strings.HasPrefix(key, "ec2/") }

// Reconcile implements reconcile.Controller.
func (u *Controller) Reconcile(ctx context.Context, _ []string) error {
	if u.net.Loopback() {
		return nil // loopback mode: no instance networks to run in
	}
	topo, err := u.ec2.Topology(ctx, ec2.TopologySelector{})
	if err != nil {
		return err
	}
	u.stopGone(topo)
	for _, i := range topo.Interfaces {
		if i.InstanceID == "" || i.InstanceState != "running" {
			continue
		}
		key := i.Account + "/" + i.Region + "/" + i.InstanceID
		if u.isHandled(key) {
			continue
		}
		started, err := u.ec2.ConsoleStarted(ctx, i.Account, i.Region, i.InstanceID)
		if err != nil {
			return fmt.Errorf("console of %s: %w", i.InstanceID, err)
		}
		if started {
			u.markHandled(key) // started already (e.g. before a restart)
			continue
		}
		script, err := u.ec2.UserData(ctx, i.Account, i.Region, i.InstanceID)
		if err != nil {
			return fmt.Errorf("user data of %s: %w", i.InstanceID, err)
		}
		if err := u.ec2.StartConsole(ctx, i.Account, i.Region, i.InstanceID); err != nil {
			return err
		}
		u.markHandled(key)
		if len(script) == 0 {
			continue
		}
		if err := u.net.Sync(ctx); err != nil {
			return err
		}
		if u.cfg.Metadata != nil {
			if err := u.cfg.Metadata.Ensure(ctx, i); err != nil {
				u.log.Warn("user data starts without the instance metadata service", "instance", i.InstanceID, "err", err)
			}
		}
		u.start(i.Account, i.Region, i.InstanceID, i.ID, script)
	}
	return nil
}

// stopGone kills the scripts of instances that are no longer running
// (stopped, stopping, terminated or gone): on AWS a stopped instance's
// programs stop with it.
func (u *Controller) stopGone(topo *ec2.Topology) {
	up := map[string]bool{}
	for _, i := range topo.Interfaces {
		if i.InstanceID != "" && i.InstanceState == "running" {
			up[i.InstanceID] = true
		}
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	for instance, cancel := range u.running {
		if !up[instance] {
			u.log.Info("instance no longer running: stopping its user data", "instance", instance)
			cancel()
		}
	}
}

// start runs the script in the background; its output lands in the console.
func (u *Controller) start(account, region, instance, eni string, script []byte) {
	u.mu.Lock()
	if u.running == nil {
		u.running = map[string]context.CancelFunc{}
	}
	if u.running[instance] != nil {
		u.mu.Unlock()
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), userDataTimeout)
	u.running[instance] = cancel
	u.mu.Unlock()
	u.wg.Add(1)
	go func() {
		defer u.wg.Done()
		defer cancel()
		out := u.run(ctx, account, eni, instance, script)
		if err := u.ec2.WriteConsoleOutput(context.Background(), account, region, instance, out); err != nil {
			u.log.Warn("store console output", "instance", instance, "err", err)
		}
		u.mu.Lock()
		delete(u.running, instance)
		u.mu.Unlock()
	}()
}

// Wait waits for the scripts in progress to finish.
func (u *Controller) Wait() { u.wg.Wait() }

func (u *Controller) run(ctx context.Context, account, eni, instance string, script []byte) []byte {
	// The script goes in on stdin, to its #! interpreter (or /bin/sh):
	// nothing is written where its identity could not read it, or others
	// could.
	argv := []string{"/bin/sh", "-s"}
	if rest, ok := bytes.CutPrefix(script, []byte("#!")); ok {
		line, _, _ := bytes.Cut(rest, []byte("\n"))
		if f := strings.Fields(string(line)); len(f) > 0 {
			// Read the program from fd 0 itself (a pipe made by root cannot
			// be reopened through /dev/stdin once privileges are dropped):
			// shells take -s, the other interpreters "-".
			switch filepath.Base(f[len(f)-1]) {
			case "sh", "bash", "dash", "zsh", "ash", "ksh":
				argv = append(f, "-s")
			default:
				argv = append(f, "-")
			}
		}
	}
	argv, err := u.confine(account, argv)
	if err != nil {
		return []byte(fmt.Sprintf("cachalot: cannot confine the user data: %v\n", err))
	}
	cmd, err := u.net.InstanceCommand(ctx, eni, argv...)
	if err != nil {
		return []byte(fmt.Sprintf("cachalot: cannot enter the instance's network: %v\n", err))
	}
	killGroupOnCancel(cmd)
	cmd.Dir = "/"
	cmd.Stdin = bytes.NewReader(script)
	cmd.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/nonexistent", "INSTANCE_ID=" + instance}
	out, err := cmd.CombinedOutput()
	if err != nil {
		out = append(out, []byte(fmt.Sprintf("cachalot: user data exited: %v\n", err))...)
	}
	return out
}
