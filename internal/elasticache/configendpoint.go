package elasticache

import (
	"fmt"
	"strings"
)

// DiscoveryConfig renders a Memcached cluster's auto-discovery payload, the
// body of "config get cluster" on its configuration endpoint: the config
// version, then the current nodes as host|ip|port, host being the node's
// endpoint name (Names) as on ElastiCache — in the loopback network mode,
// where nothing resolves names, the host address. The cache controller
// serves it (internal/cachectl); the payload is the domain's.
func (s *Service) DiscoveryConfig(cl *Cluster) (string, error) {
	_, eps, err := s.endpoints(cl)
	if err != nil {
		return "", err
	}
	var nodes []string
	for _, n := range cl.Nodes {
		ep, ok := eps[n.ID]
		if !ok || n.Status == StatusDeleting {
			continue
		}
		nodes = append(nodes, fmt.Sprintf("%s|%s|%d", ep.host, ep.ip, ep.port))
	}
	return fmt.Sprintf("%d\n%s\n", cl.ConfigVersion, strings.Join(nodes, " ")), nil
}
