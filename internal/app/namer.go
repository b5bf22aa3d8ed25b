package app

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/cachalot-dev/cachalot/internal/dnsname"
)

// dnsSecretFile holds the installation secret endpoint names derive their
// six-character id from (dnsname.ScopeID): kept, so names survive restarts.
const dnsSecretFile = "dns-secret"

// endpointNamer returns the namer of the installation's endpoints: the
// default domain, under the secret kept in the data dir (made on first
// start).
func endpointNamer(dataDir string) (*dnsname.Namer, error) {
	path := filepath.Join(dataDir, dnsSecretFile)
	secret, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		secret = dnsname.NewSecret()
		tmp := path + ".tmp"
		if err := os.WriteFile(tmp, secret, 0o600); err != nil {
			return nil, fmt.Errorf("write endpoint name secret: %w", err)
		}
		if err := os.Rename(tmp, path); err != nil {
			return nil, fmt.Errorf("write endpoint name secret: %w", err)
		}
	} else if err != nil {
		return nil, fmt.Errorf("read endpoint name secret: %w", err)
	}
	n, err := dnsname.New(dnsname.DefaultDomain, secret)
	if err != nil {
		return nil, fmt.Errorf("endpoint names: %w", err)
	}
	return n, nil
}
