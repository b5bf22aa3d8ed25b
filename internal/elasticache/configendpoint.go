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
		ip, port := n.IP, cl.Port
		if n.HostPort != 0 {
			ip, port = "127.0.0.1", n.HostPort
		}
		nodes = append(nodes, fmt.Sprintf("%s|%s|%d", ip, ip, port))
	}
	return fmt.Sprintf("%d\n%s\n", cl.ConfigVersion, strings.Join(nodes, " "))
}
