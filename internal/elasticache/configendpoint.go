package elasticache

import (
	"fmt"
	"strings"
)

// DiscoveryConfig renders a Memcached cluster's auto-discovery payload, the
// body of "config get cluster" on its configuration endpoint: the config
// version, then the current nodes as host|ip|port. The cache controller
// serves it (internal/cachectl); the payload is the domain's.
func (s *Service) DiscoveryConfig(cl *Cluster) string {
	var nodes []string
	for _, n := range cl.Nodes {
		if n.IP == "" || n.Status == StatusDeleting {
			continue
		}
		ip, port := s.endpoint(n.InterfaceID, n.IP, cl.Port)
		nodes = append(nodes, fmt.Sprintf("%s|%s|%d", ip, ip, port))
	}
	return fmt.Sprintf("%d\n%s\n", cl.ConfigVersion, strings.Join(nodes, " "))
}

// endpoint is where clients reach a server of an interface listening on ip
// and port: there, or in the loopback network mode the host address the
// realiser bound it to (Config.HostAddrs).
func (s *Service) endpoint(interfaceID, ip string, port int) (string, int) {
	if s.cfg.HostAddrs != nil {
		if hip, hport, ok := s.cfg.HostAddrs.HostAddr(interfaceID, port); ok {
			return hip, hport
		}
	}
	return ip, port
}
