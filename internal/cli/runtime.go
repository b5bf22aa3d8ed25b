package cli

// How the CLI finds its server. 'cachalot serve' writes a runtime file
// naming the running instance (endpoint, data dir, network mode, pid) in a
// well-known directory — /run/cachalot as root, else
// $XDG_RUNTIME_DIR/cachalot or the temp dir — and removes it when it
// stops. The other commands use --data-dir / CACHALOT_DATA_DIR when given;
// otherwise the default data dir when a service runs there; otherwise the
// one running service the runtime files name, saying so on stderr when
// several run.

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/cachalot-dev/cachalot/internal/app"
)

// runtimeInfo is the content of a runtime file.
type runtimeInfo struct {
	Endpoint string `json:"endpoint"`
	DataDir  string `json:"data_dir"`
	Network  string `json:"network"`
	PID      int    `json:"pid"`
	Version  string `json:"version"`
}

// runtimeDir is where runtime files live.
func runtimeDir() string {
	if os.Geteuid() == 0 {
		return "/run/cachalot"
	}
	if x := os.Getenv("XDG_RUNTIME_DIR"); x != "" {
		return filepath.Join(x, "cachalot")
	}
	return filepath.Join(os.TempDir(), fmt.Sprintf("cachalot-%d", os.Getuid()))
}

// runtimeFile is the runtime file of the service of an absolute data dir.
func runtimeFile(absDataDir string) string {
	return filepath.Join(runtimeDir(), app.InstallPrefix(absDataDir)+".json")
}

// writeRuntime records a started service; the returned function removes
// the record.
func writeRuntime(a *app.App, dataDir string) (func(), error) {
	dir := runtimeDir()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return func() {}, fmt.Errorf("runtime dir: %w", err)
	}
	abs, err := filepath.Abs(dataDir)
	if err != nil {
		return func() {}, err
	}
	info := runtimeInfo{Endpoint: a.URL(), DataDir: abs, Network: a.NetworkMode(), PID: os.Getpid(), Version: version()}
	b, _ := json.MarshalIndent(info, "", "  ")
	path := runtimeFile(abs)
	if err := os.WriteFile(path, append(b, '\n'), 0o600); err != nil {
		return func() {}, fmt.Errorf("write runtime file: %w", err)
	}
	return func() { os.Remove(path) }, nil
}

// runningServices reads the runtime files of live services, by data dir.
func runningServices() []runtimeInfo {
	files, _ := filepath.Glob(filepath.Join(runtimeDir(), "*.json"))
	var out []runtimeInfo
	for _, f := range files {
		b, err := os.ReadFile(f)
		var info runtimeInfo
		if err != nil || json.Unmarshal(b, &info) != nil {
			continue
		}
		if info.PID <= 0 {
			continue
		}
		if err := syscall.Kill(info.PID, 0); err != nil && !errors.Is(err, syscall.EPERM) {
			continue // its serve is gone (killed without cleaning up)
		}
		out = append(out, info)
	}
	slices.SortFunc(out, func(a, b runtimeInfo) int { return strings.Compare(a.DataDir, b.DataDir) })
	return out
}

// clientDataDir is the data dir a client command talks to when neither
// --data-dir nor CACHALOT_DATA_DIR is given (see the file comment).
func clientDataDir(stderr io.Writer, args []string) string {
	def := DefaultDataDir()
	if v := os.Getenv("CACHALOT_DATA_DIR"); v != "" {
		return v
	}
	running := runningServices()
	for _, r := range running {
		if r.DataDir == def {
			return def
		}
	}
	switch len(running) {
	case 0:
		return def
	case 1:
		return running[0].DataDir
	}
	if dataDirGiven(args) {
		// The flag's default is computed before the command line is parsed;
		// a --data-dir given there wins and needs no note, nor does -h.
		return running[0].DataDir
	}
	var dirs []string
	for _, r := range running {
		dirs = append(dirs, r.DataDir+" ("+r.Endpoint+")")
	}
	fmt.Fprintf(stderr, "cachalot: several services run: %s; talking to %s (choose with --data-dir)\n", strings.Join(dirs, ", "), running[0].DataDir)
	return running[0].DataDir
}

// clientDataDirFlag is dataDirFlag for commands that talk to a running
// service.
func clientDataDirFlag(fs *flag.FlagSet, stderr io.Writer, args []string) *string {
	return fs.String("data-dir", clientDataDir(stderr, args), "state directory of the service to talk to (env CACHALOT_DATA_DIR; default: the running service)")
}

// notRunning is the one line a client says when no service runs for dir.
func notRunning(dir string) error {
	return fmt.Errorf("no Cachalot service is running for data dir %s; start one with 'cachalot serve --data-dir %s' (or 'make run')", dir, dir)
}

// endpointOf reads the endpoint of the service running for dir.
func endpointOf(dir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dir, app.EndpointFile))
	if err != nil {
		return "", notRunning(dir)
	}
	return strings.TrimSpace(string(b)), nil
}

// alive checks that the service named by a data dir's endpoint file still
// runs: a serve killed without cleaning up leaves that file (and its
// runtime file) behind. Its runtime file, when there is one, must name a
// live pid, and the endpoint must answer /health.
func alive(dir, endpoint string) error {
	if abs, err := filepath.Abs(dir); err == nil {
		b, err := os.ReadFile(runtimeFile(abs))
		var info runtimeInfo
		if err == nil && json.Unmarshal(b, &info) == nil && info.PID > 0 {
			if err := syscall.Kill(info.PID, 0); err != nil && !errors.Is(err, syscall.EPERM) {
				return fmt.Errorf("%w (its serve, pid %d, is gone)", notRunning(dir), info.PID)
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := probe(ctx, endpoint, "/health"); err != nil {
		return fmt.Errorf("%w (%s does not answer)", notRunning(dir), endpoint)
	}
	return nil
}

// probe GETs an operator path (/health, /ready) of an endpoint.
func probe(ctx context.Context, endpoint, path string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint+path, nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// waitReady waits until the service of a data dir answers /ready: it
// tolerates a service not started yet (a first 'make run' compiles).
func waitReady(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("wait-ready", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dataDir := clientDataDirFlag(fs, stderr, args)
	timeout := fs.Duration("timeout", 5*time.Minute, "give up after this long")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	for {
		if ep, err := endpointOf(*dataDir); err == nil {
			if code, err := probe(ctx, ep, "/ready"); err == nil && code == http.StatusOK {
				fmt.Fprintln(stdout, "ready:", ep)
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("not ready after %s: %w", *timeout, notRunning(*dataDir))
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// status summarises the running service of a data dir.
func status(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dataDir := clientDataDirFlag(fs, stderr, args)
	region := fs.String("region", envOr("AWS_DEFAULT_REGION", "us-east-1"), "region whose caches and instances are counted")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ep, err := endpointOf(*dataDir)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	health := "down"
	if code, err := probe(ctx, ep, "/health"); err != nil {
		return fmt.Errorf("%w (%s does not answer: %v)", notRunning(*dataDir), ep, err)
	} else if code == http.StatusOK {
		health = "ok"
		if code, err := probe(ctx, ep, "/ready"); err == nil && code != http.StatusOK {
			health = "converging"
		}
	}
	fmt.Fprintf(stdout, "endpoint:  %s\ndata dir:  %s\nhealth:    %s\n", ep, *dataDir, health)
	abs, _ := filepath.Abs(*dataDir)
	for _, r := range runningServices() {
		if r.DataDir == abs {
			fmt.Fprintf(stdout, "network:   %s\nversion:   %s\npid:       %d\n", r.Network, r.Version, r.PID)
		}
	}
	caches, instances := countResources(ctx, *dataDir, *region)
	fmt.Fprintf(stdout, "caches:    %s\ninstances: %s\n", caches, instances)
	fmt.Fprintf(stdout, "metrics:   %s/metrics\n", ep)
	return nil
}

// dataDirGiven reports whether a command line sets --data-dir (or only
// asks for help, where the note is noise).
func dataDirGiven(args []string) bool {
	for _, a := range args {
		if a == "--" {
			return false
		}
		name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if strings.HasPrefix(a, "-") && (name == "data-dir" || name == "h" || name == "help") {
			return true
		}
	}
	return false
}
