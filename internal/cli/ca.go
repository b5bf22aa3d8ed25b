package cli

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/cachalot-dev/cachalot/internal/app"
	"github.com/cachalot-dev/cachalot/internal/pki"
)

// printCA prints the installation's CA certificate, PEM: what TLS
// clients trust (redis-cli --tls --cacert, a system trust store). It
// reads the certificate file `serve` made on its first start; the key
// beside it is never read here.
func printCA(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("ca", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dataDir := dataDirFlag(fs, args)
	if err := fs.Parse(args); err != nil {
		return err
	}
	b, err := os.ReadFile(filepath.Join(*dataDir, app.CADir, pki.CertFile))
	if err != nil {
		return fmt.Errorf("no CA certificate in %s (made by `cachalot serve` on its first start): %w", *dataDir, err)
	}
	_, err = stdout.Write(b)
	return err
}
