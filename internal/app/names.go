package app

import (
	"context"
	"errors"
	"fmt"

	"github.com/cachalot-dev/cachalot/internal/dnsname"
	"github.com/cachalot-dev/cachalot/internal/store"
)

// dnsSecretKey holds the installation secret the endpoint names' <id6> is
// derived from (dnsname.ScopeID): drawn on first start and kept, so that
// every endpoint name survives restarts.
const dnsSecretKey = "installation/dns-secret"

type dnsSecret struct {
	Secret []byte // base64 in the JSON
}

// loadNamer returns the endpoint namer of the installation for domain
// (already validated by the caller, or refused here), drawing and keeping
// the installation secret on first use.
func loadNamer(ctx context.Context, st store.Store, domain string) (*dnsname.Namer, error) {
	var rec dnsSecret
	err := st.Update(ctx, func(tx store.Tx) error {
		err := store.GetJSON(tx, dnsSecretKey, &rec)
		switch {
		case err == nil:
			return nil
		case !errors.Is(err, store.ErrNotFound):
			return err
		}
		rec.Secret = dnsname.NewSecret()
		return store.PutJSON(tx, dnsSecretKey, &rec)
	})
	if err != nil {
		return nil, fmt.Errorf("endpoint names: installation secret: %w", err)
	}
	n, err := dnsname.New(domain, rec.Secret)
	if err != nil {
		return nil, fmt.Errorf("endpoint names: %w", err)
	}
	return n, nil
}
