package cachalotproc

import (
	"context"
	"log"
	"os"
	"path/filepath"
)

// Bench is the prologue the TLS benchmarks (bench/iamauth, bench/tls,
// bench/rbac) share: a started serve, one running instance, and a work
// dir holding a copy of the installation's CA certificate that tools run
// inside the instance can read.
type Bench struct {
	*Server
	Inst Instance // the launched instance
	Work string   // a temporary dir, mode 0755, removed by Close
	CA   string   // the installation's CA certificate (PEM), in Work
	keep bool
}

// StartBench starts `cachalot serve` from bin (made absolute), launches
// one instance and copies the installation's CA certificate into a new
// work dir (o.DirPrefix + "files-"). Close undoes it all; keep keeps the
// data dir.
func StartBench(ctx context.Context, bin string, o Options, keep bool) (_ *Bench, err error) {
	bin, err = filepath.Abs(bin)
	if err != nil {
		return nil, err
	}
	srv, err := Start(ctx, bin, o)
	if err != nil {
		return nil, err
	}
	b := &Bench{Server: srv, keep: keep}
	defer func() {
		if err != nil {
			b.Close()
		}
	}()
	if b.Inst, err = srv.LaunchInstance(ctx); err != nil {
		return nil, err
	}
	if b.Work, err = os.MkdirTemp("", o.DirPrefix+"files-"); err != nil {
		return nil, err
	}
	if err := os.Chmod(b.Work, 0o755); err != nil {
		return nil, err
	}
	caPEM, err := os.ReadFile(filepath.Join(srv.Dir, "ca", "ca.pem"))
	if err != nil {
		return nil, err
	}
	b.CA = filepath.Join(b.Work, "cachalot-ca.pem")
	if err := os.WriteFile(b.CA, caPEM, 0o644); err != nil {
		return nil, err
	}
	return b, nil
}

// Close removes the work dir, then stops the server and tears the
// installation down (Server.Close), logging what it could not clean up.
func (b *Bench) Close() {
	if b.Work != "" {
		os.RemoveAll(b.Work)
	}
	if err := b.Server.Close(b.keep); err != nil {
		log.Printf("cleanup: %v", err)
	}
}
