package vpcnet

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/cachalot-dev/cachalot/internal/ec2"
	"github.com/cachalot-dev/cachalot/internal/netplane"
	"github.com/cachalot-dev/cachalot/internal/resolver"
)

// What runs as on an instance sees the VPC's resolver configuration: the
// file <ResolvDir>/<vpc-id>.conf (what an Amazon Linux instance has in
// /etc/resolv.conf with the VPC's DHCP options set: with the default set,
// the VPC's Amazon-provided DNS server at its base address + 2 and the
// region's EC2 search domain), bind-mounted over /etc/resolv.conf in the
// program's own mount namespace, as ip netns exec does with
// /etc/netns/NAME/resolv.conf. Sync keeps one file per VPC and removes the
// others. A file changes only when the VPC's DHCP options do, and is
// replaced (renamed over), so a running program keeps the view it started
// with, as an instance keeps its lease until it renews it; programs started
// afterwards see the new options.

const resolvSuffix = ".conf"

// resolvPath is the resolv.conf file of a VPC.
func (n *Controller) resolvPath(vpcID string) string {
	return filepath.Join(n.resolvDir, vpcID+resolvSuffix)
}

// writeResolvConfs makes the resolv.conf file of every VPC of t and removes
// those of VPCs gone. Without a ResolvDir it does nothing.
func (n *Controller) writeResolvConfs(t *ec2.Topology) error {
	if n.resolvDir == "" {
		return nil
	}
	if err := os.MkdirAll(n.resolvDir, 0o755); err != nil {
		return fmt.Errorf("resolv.conf directory: %w", err)
	}
	var errs []error
	want := map[string]bool{}
	for _, v := range t.VPCs {
		name := v.ID + resolvSuffix
		want[name] = true
		rc, err := resolvConf(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("resolv.conf of %s: %w", v.ID, err))
			continue
		}
		errs = append(errs, writeIfChanged(filepath.Join(n.resolvDir, name), rc.Render()))
	}
	ents, err := os.ReadDir(n.resolvDir)
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	for _, e := range ents {
		if !want[e.Name()] && strings.HasSuffix(e.Name(), resolvSuffix) {
			errs = append(errs, os.Remove(filepath.Join(n.resolvDir, e.Name())))
		}
	}
	return errors.Join(errs...)
}

// resolvConf is the resolver configuration of the VPC's DHCP options: the
// domain names to search, the DNS servers (AmazonProvidedDNS is the VPC's
// Amazon-provided one); none of either without the option (or options).
func resolvConf(v ec2.TopoVPC) (resolver.ResolvConf, error) {
	rc, err := resolver.ResolvConfFor(v.Region, v.CIDR)
	if err != nil {
		return rc, err
	}
	amazon := rc.Nameservers[0]
	rc.Search, rc.Nameservers = nil, nil
	if v.DHCP == nil {
		return rc, nil
	}
	rc.Search = v.DHCP.DomainNames
	for _, s := range v.DHCP.DomainNameServers {
		if s == "AmazonProvidedDNS" {
			rc.Nameservers = append(rc.Nameservers, amazon)
		} else if a, err := netip.ParseAddr(s); err == nil {
			rc.Nameservers = append(rc.Nameservers, a)
		}
	}
	return rc, nil
}

// writeIfChanged writes b to path (mode 0644: every program of an instance
// reads it) unless it holds b already; atomically, so a reader never sees
// half a file.
func writeIfChanged(path string, b []byte) error {
	if have, err := os.ReadFile(path); err == nil && bytes.Equal(have, b) {
		return nil
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// EnterArgs returns the argv prefix that runs a program, appended to it, as
// on the instance (or node) the interface belongs to: in its network
// namespace, with its VPC's resolv.conf as /etc/resolv.conf
// (netplane.Plane.EnterArgs). The network is realised before it returns;
// an error in the loopback mode.
func (n *Controller) EnterArgs(ctx context.Context, interfaceID string) ([]string, error) {
	if n.plane == nil {
		return nil, ErrNoNamespaces
	}
	if err := n.Sync(ctx); err != nil {
		return nil, err
	}
	opt, err := n.enterOptions(ctx, interfaceID)
	if err != nil {
		return nil, err
	}
	return n.plane.EnterArgs(interfaceID, opt)
}

// InstanceCommand returns a command that runs argv as on the instance the
// interface belongs to (see EnterArgs); an error in the loopback mode. The
// network must be realised (Sync).
func (n *Controller) InstanceCommand(ctx context.Context, interfaceID string, argv ...string) (*exec.Cmd, error) {
	if n.plane == nil {
		return nil, ErrNoNamespaces
	}
	opt, err := n.enterOptions(ctx, interfaceID)
	if err != nil {
		return nil, err
	}
	return n.plane.CommandWith(ctx, interfaceID, opt, argv...)
}

// enterOptions finds the interface's VPC and its resolv.conf.
func (n *Controller) enterOptions(ctx context.Context, interfaceID string) (netplane.EnterOptions, error) {
	if n.resolvDir == "" {
		return netplane.EnterOptions{}, nil
	}
	topo, err := n.ec2.Topology(ctx, ec2.TopologySelector{})
	if err != nil {
		return netplane.EnterOptions{}, fmt.Errorf("read topology: %w", err)
	}
	for _, i := range topo.Interfaces {
		if i.ID == interfaceID {
			path := n.resolvPath(i.VpcID)
			if _, err := os.Stat(path); err != nil {
				return netplane.EnterOptions{}, fmt.Errorf("resolver configuration of %s: %w", i.VpcID, err)
			}
			return netplane.EnterOptions{ResolvConf: path}, nil
		}
	}
	return netplane.EnterOptions{}, fmt.Errorf("interface %s: no such interface", interfaceID)
}
