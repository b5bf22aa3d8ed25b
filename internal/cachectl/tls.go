package cachectl

import (
	"context"
	"errors"
	"fmt"

	"github.com/cachalot-dev/cachalot/internal/elasticache"
	"github.com/cachalot-dev/cachalot/internal/engine"
	"github.com/cachalot-dev/cachalot/internal/pki"
)

// In-transit encryption. A cache with TLS gets its server certificate
// from the installation's CA (Config.Certificates, pki.Authority) for the
// names the domain gives it (elasticache.Service.CertificateNames): one
// per cluster, one per replication group (a wildcard its members share).
// Observing a TLS cluster asks the CA for it — the CA issues it when
// there is none, its names changed or it is due for renewal — and a
// running node given other certificate files is not converged: its plan
// renews it (actSetLive: Start with the new files, set live, no
// restart). AUTH tokens (the cluster's hashes) are set live the same way. The periodic resync of the reconcile manager notices a
// renewal coming due.

// Certificates is the installation's CA as the controller uses it
// (pki.Authority).
type Certificates interface {
	CertPEM() []byte
	Leaf(id string, names []string) (pki.Leaf, error)
	Forget(id string) error
}

// errNoCA: a TLS cache with no CA configured.
var errNoCA = errors.New("in-transit encryption needs the installation's certificate authority, which is not configured")

// certificateID names a cache's certificate in the CA: its replication
// group's when it has one (the members share it), else its own.
func certificateID(cl *elasticache.Cluster) string {
	if cl.ReplicationGroupID != "" {
		return cl.Account + "." + cl.Region + ".rg." + cl.ReplicationGroupID
	}
	return cl.Account + "." + cl.Region + ".cc." + cl.ID
}

// nodeTLS is what a TLS cluster's engines run with; nil without TLS.
func (c *Controller) nodeTLS(ctx context.Context, cl *elasticache.Cluster) (*engine.TLS, error) {
	if cl.TransitEncryptionMode == "" {
		return nil, nil
	}
	if c.cfg.Certificates == nil {
		return nil, errNoCA
	}
	names, err := c.cfg.Domain.CertificateNames(cl)
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("cluster %s: no names to certify", cl.ID)
	}
	leaf, err := c.cfg.Certificates.Leaf(certificateID(cl), names)
	if err != nil {
		return nil, fmt.Errorf("certificate of %s: %w", cl.ID, err)
	}
	return &engine.TLS{CertPEM: leaf.CertPEM, KeyPEM: leaf.KeyPEM, CAPEM: c.cfg.Certificates.CertPEM()}, nil
}

// forgetCertificate drops a removed standalone cluster's certificate; a
// group's stays while the group does (its members share it).
func (c *Controller) forgetCertificate(cl *elasticache.Cluster) error {
	if cl.TransitEncryptionMode == "" || cl.ReplicationGroupID != "" || c.cfg.Certificates == nil {
		return nil
	}
	return c.cfg.Certificates.Forget(certificateID(cl))
}
