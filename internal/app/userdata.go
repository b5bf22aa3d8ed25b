package app

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/cachalot-dev/cachalot/internal/api/ec2api"
	"github.com/cachalot-dev/cachalot/internal/auth"
	"github.com/cachalot-dev/cachalot/internal/ec2"
	"github.com/cachalot-dev/cachalot/internal/store"
)

// User data limits: how long a script may run and how much of its output
// the console keeps (EC2 keeps the last 64 KiB).
const (
	userDataTimeout  = 10 * time.Minute
	consoleOutputMax = 64 << 10
	// userDataUID runs scripts as nobody: instances share the host's
	// filesystem, so user data never runs as root.
	userDataUID = "65534"
)

// consoleRecord is an instance's console output, kept under
// console/<account>/<region>/<instance>.
type consoleRecord struct {
	Output    string    // raw bytes of the script's stdout and stderr (tail)
	Timestamp time.Time // when the script finished
	Started   bool
}

func consoleKey(account, region, instance string) string {
	return store.Key("console", account, region, instance)
}

// userDataController runs each running instance's user data once, at launch,
// inside the instance's network namespace, and keeps its output for
// GetConsoleOutput. It watches ec2/ keys; an instance whose console record
// exists has had its script started.
type userDataController struct {
	st  store.Store
	ec2 *ec2.Service
	net *networkController
	log *slog.Logger

	mu      sync.Mutex      // guards running and handled
	running map[string]bool // scripts in progress
	// handled remembers the instances whose console record exists, so that
	// an EC2 change does not cost one store read per running instance.
	handled map[string]bool
	wg      sync.WaitGroup
}

func (u *userDataController) isHandled(key string) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.handled[key]
}

func (u *userDataController) markHandled(key string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.handled == nil {
		u.handled = map[string]bool{}
	}
	u.handled[key] = true
}

func (u *userDataController) Name() string { return "user-data" }

func (u *userDataController) Watches(key string) bool { return strings.HasPrefix(key, "ec2/") }

func (u *userDataController) Reconcile(ctx context.Context, _ []string) error {
	if u.net.plane == nil {
		return nil // loopback mode: no instance networks to run in
	}
	topo, err := u.ec2.Topology(ctx, ec2.TopologySelector{})
	if err != nil {
		return err
	}
	for _, i := range topo.Interfaces {
		if i.InstanceID == "" || i.InstanceState != "running" {
			continue
		}
		key := consoleKey(i.Account, i.Region, i.InstanceID)
		if u.isHandled(key) {
			continue
		}
		var rec consoleRecord
		err := u.st.View(ctx, func(tx store.Tx) error { return store.GetJSON(tx, key, &rec) })
		if err == nil {
			u.markHandled(key) // started already (e.g. before a restart)
			continue
		}
		if !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("console of %s: %w", i.InstanceID, err)
		}
		sctx := auth.WithScope(ctx, auth.Scope{AccountID: i.Account, Region: i.Region})
		attr, err := u.ec2.DescribeInstanceAttribute(sctx, &ec2api.DescribeInstanceAttributeRequest{InstanceId: aws.String(i.InstanceID), Attribute: aws.String("userData")})
		if err != nil {
			return fmt.Errorf("user data of %s: %w", i.InstanceID, err)
		}
		var script []byte
		if attr.UserData != nil && attr.UserData.Value != nil && *attr.UserData.Value != "" {
			if script, err = base64.StdEncoding.DecodeString(*attr.UserData.Value); err != nil {
				script = []byte(*attr.UserData.Value)
			}
		}
		if err := u.st.Update(ctx, func(tx store.Tx) error {
			return store.PutJSON(tx, key, &consoleRecord{Started: true, Timestamp: time.Now().UTC()})
		}); err != nil {
			return err
		}
		u.markHandled(key)
		if len(script) == 0 {
			continue
		}
		if err := u.net.Sync(ctx); err != nil {
			return err
		}
		u.start(i.Account, i.Region, i.InstanceID, i.ID, script)
	}
	return nil
}

// start runs the script in the background; its output lands in the console.
func (u *userDataController) start(account, region, instance, eni string, script []byte) {
	u.mu.Lock()
	if u.running == nil {
		u.running = map[string]bool{}
	}
	if u.running[instance] {
		u.mu.Unlock()
		return
	}
	u.running[instance] = true
	u.mu.Unlock()
	u.wg.Add(1)
	go func() {
		defer u.wg.Done()
		out := u.run(eni, instance, script)
		if len(out) > consoleOutputMax {
			out = out[len(out)-consoleOutputMax:]
		}
		err := u.st.Update(context.Background(), func(tx store.Tx) error {
			return store.PutJSON(tx, consoleKey(account, region, instance), &consoleRecord{Started: true, Output: string(out), Timestamp: time.Now().UTC()})
		})
		if err != nil {
			u.log.Warn("store console output", "instance", instance, "err", err)
		}
		u.mu.Lock()
		delete(u.running, instance)
		u.mu.Unlock()
	}()
}

func (u *userDataController) run(eni, instance string, script []byte) []byte {
	// The script goes in on stdin, to its #! interpreter (or /bin/sh):
	// nothing is written where nobody could not read it, or others could.
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
	ctx, cancel := context.WithTimeout(context.Background(), userDataTimeout)
	defer cancel()
	cmd, err := u.net.plane.Command(ctx, eni, append([]string{"setpriv", "--reuid=" + userDataUID, "--regid=" + userDataUID, "--clear-groups", "--"}, argv...)...)
	if err != nil {
		return []byte(fmt.Sprintf("cachalot: cannot enter the instance's network: %v\n", err))
	}
	cmd.Dir = "/"
	cmd.Stdin = bytes.NewReader(script)
	cmd.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/nonexistent", "INSTANCE_ID=" + instance}
	out, err := cmd.CombinedOutput()
	if err != nil {
		out = append(out, []byte(fmt.Sprintf("cachalot: user data exited: %v\n", err))...)
	}
	return out
}

// ec2Operations adds GetConsoleOutput, backed by the user data runner's
// console records, to the EC2 service.
type ec2Operations struct {
	*ec2.Service
	st store.Store
}

// GetConsoleOutput returns what the instance's user data printed (base64),
// as EC2 returns the console.
func (o ec2Operations) GetConsoleOutput(ctx context.Context, in *ec2api.GetConsoleOutputRequest) (*ec2api.GetConsoleOutputResult, error) {
	s := auth.ScopeFrom(ctx)
	id := aws.ToString(in.InstanceId)
	if _, err := o.Service.DescribeInstanceAttribute(ctx, &ec2api.DescribeInstanceAttributeRequest{InstanceId: in.InstanceId, Attribute: aws.String("instanceType")}); err != nil {
		return nil, err
	}
	var rec consoleRecord
	err := o.st.View(ctx, func(tx store.Tx) error { return store.GetJSON(tx, consoleKey(s.AccountID, s.Region, id), &rec) })
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	out := &ec2api.GetConsoleOutputResult{InstanceId: aws.String(id)}
	if !rec.Timestamp.IsZero() {
		t := rec.Timestamp
		out.Timestamp = &t
		out.Output = aws.String(base64.StdEncoding.EncodeToString([]byte(rec.Output)))
	}
	return out, nil
}
