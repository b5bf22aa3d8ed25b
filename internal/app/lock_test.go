package app_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cachalot-dev/cachalot/internal/app"
)

// startLoopback starts an App on dir in the loopback network mode.
func startLoopback(dir string) (*app.App, error) {
	a := app.New(app.Config{Listen: "127.0.0.1:0", DataDir: dir, Network: app.NetworkLoopback, Logger: slog.New(slog.DiscardHandler)})
	if err := a.Start(context.Background()); err != nil {
		a.Close()
		return nil, err
	}
	return a, nil
}

// TestDataDirLock: while an App serves a data dir, a second App on it and
// Teardown of it are refused with ErrServing naming the holder's pid; after
// Close both work.
func TestDataDirLock(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	a, err := startLoopback(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })

	if b, err := startLoopback(dir); !errors.Is(err, app.ErrServing) {
		if b != nil {
			b.Close()
		}
		t.Fatalf("second Start on a served data dir = %v, want ErrServing", err)
	} else if want := fmt.Sprintf("pid %d", os.Getpid()); !strings.Contains(err.Error(), want) {
		t.Errorf("second Start = %q, want it to name %q", err, want)
	}
	if err := app.Teardown(ctx, dir, slog.New(slog.DiscardHandler)); !errors.Is(err, app.ErrServing) {
		t.Fatalf("Teardown of a served data dir = %v, want ErrServing", err)
	}
	// The refused teardown removed nothing: the app still answers.
	if _, err := os.Stat(filepath.Join(dir, app.EndpointFile)); err != nil {
		t.Errorf("endpoint file after a refused teardown: %v", err)
	}

	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if err := app.Teardown(ctx, dir, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatalf("Teardown after Close = %v", err)
	}
	b, err := startLoopback(dir)
	if err != nil {
		t.Fatalf("Start after Close = %v", err)
	}
	b.Close()
}

// TestDataDirLockKill9: the lock of a serve killed with SIGKILL is gone with
// it (the kernel drops the flock), so Teardown and a new serve proceed.
func TestDataDirLockKill9(t *testing.T) {
	if dir := os.Getenv("CACHALOT_TEST_HOLD_LOCK"); dir != "" {
		holdLock(dir)
		return
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestDataDirLockKill9$")
	cmd.Env = append(os.Environ(), "CACHALOT_TEST_HOLD_LOCK="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if strings.TrimSpace(line) != "serving" {
		t.Fatalf("child: %q, %v", line, err)
	}
	ctx := context.Background()
	err = app.Teardown(ctx, dir, slog.New(slog.DiscardHandler))
	if want := fmt.Sprintf("pid %d", cmd.Process.Pid); !errors.Is(err, app.ErrServing) || !strings.Contains(err.Error(), want) {
		t.Fatalf("Teardown while the child serves = %v, want ErrServing naming %s", err, want)
	}
	cmd.Process.Kill()
	cmd.Wait()
	if err := app.Teardown(ctx, dir, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatalf("Teardown after kill -9 = %v", err)
	}
	a, err := startLoopback(dir)
	if err != nil {
		t.Fatalf("Start after kill -9 = %v", err)
	}
	a.Close()
}

// holdLock is the child of TestDataDirLockKill9: it serves dir until killed.
func holdLock(dir string) {
	if _, err := startLoopback(dir); err != nil {
		fmt.Println("start:", err)
		os.Exit(1)
	}
	fmt.Println("serving")
	select {}
}
