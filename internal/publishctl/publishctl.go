// Package publishctl is the publish controller: it keeps the caches
// published to the host (internal/access, PublishCache) in line with the
// caches themselves — the records of deleted caches forgotten, new nodes
// given an address, every cache published under serve --publish-all —
// and writes their names into the host's hosts file (internal/hostsfile),
// so that programs on the host resolve a published cache's DNS names to its
// published addresses (split horizon: inside a VPC the same names resolve
// to the private addresses). The kernel side of publishing is the network
// controller's (internal/vpcnet, netplane's host links), which reads the
// same published endpoints.
//
// It is a reconcile.Controller. Only the wiring (internal/app) imports it.
package publishctl

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"

	"github.com/cachalot-dev/cachalot/internal/access"
	"github.com/cachalot-dev/cachalot/internal/hostsfile"
)

// Domain is what the controller needs of the access domain
// (access.Service).
type Domain interface {
	// Converge brings the published records in line with the caches; an
	// error may carry caches left out for their names after everything
	// else is written.
	Converge(ctx context.Context) error
	// HostEndpoints lists every published endpoint.
	HostEndpoints(ctx context.Context) ([]access.HostEndpoint, error)
}

// Config configures a Controller.
type Config struct {
	Domain Domain // required
	// HostsFile is the hosts file the names are written to; "" writes none.
	HostsFile string
	// Prefix names the installation's block in the hosts file (required
	// with HostsFile).
	Prefix string
	Logger *slog.Logger // default slog.Default()
}

// Controller converges published caches; it implements
// reconcile.Controller.
type Controller struct {
	cfg Config
	log *slog.Logger
	// lastConflicts is the last run's conflict report, logged when it
	// changes (only Reconcile touches it; the manager runs one at a time).
	lastConflicts string
}

// New returns a Controller; it has no side effects.
func New(cfg Config) *Controller {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Controller{cfg: cfg, log: cfg.Logger.With("component", "publish")}
}

// Name implements reconcile.Controller.
func (c *Controller) Name() string { return "publish" }

// Watches implements reconcile.Controller: published caches, clusters and
// replication groups — a group's record changes when its roles do (a
// failover), and the host's names follow them as the VPCs' DNS servers'
// do (internal/dnsctl watches the same keys).
func (c *Controller) Watches(key string) bool {
	return access.PublishedKey(key) || (strings.HasPrefix(key, "elasticache/") &&
		(strings.Contains(key, "/cluster/") || strings.Contains(key, "/replicationgroup/")))
}

// Reconcile implements reconcile.Controller.
func (c *Controller) Reconcile(ctx context.Context, _ []string) error {
	if err := c.cfg.Domain.Converge(ctx); err != nil {
		if !errors.Is(err, access.ErrNameConflict) {
			return err
		}
		// Permanent until a cache is deleted or unpublished: say it once.
		if err.Error() != c.lastConflicts {
			c.log.Warn("caches left unpublished", "err", err)
			c.lastConflicts = err.Error()
		}
	}
	if c.cfg.HostsFile == "" {
		return nil
	}
	eps, err := c.cfg.Domain.HostEndpoints(ctx)
	if err != nil {
		return err
	}
	changed, err := hostsfile.Write(c.cfg.HostsFile, c.cfg.Prefix, Entries(eps))
	if err != nil {
		return fmt.Errorf("hosts file: %w", err)
	}
	if changed {
		c.log.Info("hosts file written", "path", c.cfg.HostsFile, "endpoints", len(eps))
	}
	return nil
}

// Entries are the hosts file lines of the published endpoints: each DNS
// name at the address the host reaches it at — a name several endpoints
// answer for (a group's reader endpoint) on each of their lines, as the
// VPCs' DNS servers give every address.
func Entries(eps []access.HostEndpoint) []hostsfile.Entry {
	by := map[netip.Addr][]string{}
	for _, e := range eps {
		a, err := netip.ParseAddr(e.Address)
		if err != nil {
			continue
		}
		names := e.DNSNames
		if len(names) == 0 && e.DNSName != "" {
			names = []string{e.DNSName}
		}
		for _, n := range names {
			if n != "" && !slices.Contains(by[a], n) {
				by[a] = append(by[a], n)
			}
		}
	}
	out := make([]hostsfile.Entry, 0, len(by))
	for a, names := range by {
		out = append(out, hostsfile.Entry{Addr: a, Names: names})
	}
	return out
}
