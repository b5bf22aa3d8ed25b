package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/cachalot-dev/cachalot/internal/access"
	"github.com/cachalot-dev/cachalot/internal/auth"
	"github.com/cachalot-dev/cachalot/internal/dnsname"
	"github.com/cachalot-dev/cachalot/internal/elasticache"
	"github.com/cachalot-dev/cachalot/internal/hostsfile"
	"github.com/cachalot-dev/cachalot/internal/netplane"
	"github.com/cachalot-dev/cachalot/internal/store"
)

// HostsFileRecord is the file in the data dir naming the hosts file serve
// writes published names to, so that teardown finds the block to remove.
const HostsFileRecord = "hostsfile"

// DefaultHostsFile is where serve writes published names when it may.
const DefaultHostsFile = "/etc/hosts"

// accessService builds the access domain: the access flows and publishing
// to the host.
// names is the namer the API's endpoints come from, so the hosts file holds
// exactly the names DescribeCacheClusters returns.
func (a *App) accessService(st store.Store, names *dnsname.Namer, authz auth.Authorizer, ec *elasticache.Service) (*access.Service, error) {
	return access.New(access.Config{EC2: a.ec2, Caches: ec.ComputeTargets(), Authorizer: authz, Logger: a.log,
		Publishing: a.publishing(st, names, ec)}), nil
}

// publishing configures the access domain's publishing to the host.
func (a *App) publishing(st store.Store, names *dnsname.Namer, ec *elasticache.Service) access.Publishing {
	p := access.Publishing{
		Store: st, Names: names, Lister: ec.CacheLister(),
		LoopbackAddr: netplane.PublishedAddr, Offsets: 1 << (32 - netplane.PublishedRange.Bits()),
		All: a.cfg.PublishAll,
	}
	if a.plane != nil {
		p.HostClient = netplane.HostClientAddr
	} else {
		p.HostAddrs = a.net
	}
	return p
}

// publishedEndpoints maps the published endpoints to the network plane's
// (in the loopback mode nothing is realised, and vpcnet does not ask).
func publishedEndpoints(ctx context.Context, list func(context.Context) ([]access.HostEndpoint, error)) ([]netplane.PublishedEndpoint, error) {
	if list == nil {
		return nil, nil
	}
	eps, err := list(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]netplane.PublishedEndpoint, 0, len(eps))
	for _, e := range eps {
		if e.InterfaceID == "" || !e.Loopback.IsValid() {
			continue
		}
		out = append(out, netplane.PublishedEndpoint{Interface: e.InterfaceID, Port: e.Port, Loopback: e.Loopback,
			Comment: e.CacheID + " " + e.Name})
	}
	return out, nil
}

// keepHostsFile records in the data dir which hosts file this serve
// writes, for teardown. The block an earlier serve wrote to another hosts
// file (or to one this serve no longer writes) is removed first.
func (a *App) keepHostsFile() error {
	rec := filepath.Join(a.cfg.DataDir, HostsFileRecord)
	abs := ""
	if a.cfg.HostsFile != "" {
		var err error
		if abs, err = filepath.Abs(a.cfg.HostsFile); err != nil {
			return err
		}
	}
	if b, err := os.ReadFile(rec); err == nil {
		if old := strings.TrimSpace(string(b)); old != abs {
			if err := TeardownHostsFile(old, InstallPrefix(a.cfg.DataDir)); err != nil {
				a.log.Warn("the block of an earlier serve stays in its hosts file", "path", old, "err", err)
			}
		}
	}
	if abs == "" {
		if err := os.Remove(rec); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		return nil
	}
	return os.WriteFile(rec, []byte(abs+"\n"), 0o600)
}

// removeHostsBlock removes the installation's block from the hosts file
// its serve wrote (recorded in the data dir), if any.
func removeHostsBlock(dir, prefix string) error {
	b, err := os.ReadFile(filepath.Join(dir, HostsFileRecord))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return TeardownHostsFile(strings.TrimSpace(string(b)), prefix)
}

// TeardownHostsFile removes the block of the installation with prefix from
// the hosts file at path.
func TeardownHostsFile(path, prefix string) error {
	if err := hostsfile.Remove(path, prefix); err != nil {
		return fmt.Errorf("hosts file: %w", err)
	}
	return nil
}
