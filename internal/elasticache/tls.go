package elasticache

import (
	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/cachalot-dev/cachalot/internal/catalog"
	"github.com/cachalot-dev/cachalot/internal/dnsname"
)

// In-transit encryption. A cache created with TransitEncryptionEnabled
// records its mode (TransitRequired: TLS only on the cache port); the
// cache controller asks the installation's CA (internal/pki) for a
// certificate naming CertificateNames and starts the engines with it. A
// replication group with TLS has AWS's TLS name layout (master.,
// replica., <member>.<rg>.…; clustercfg.<rg>.… with cluster mode, whose
// nodes announce their <member>.<rg>.… names and run the cluster bus
// over TLS) and one wildcard certificate for all of it.
//
// A Memcached cluster with TLS (engine version 1.6.12 or later, as on
// ElastiCache) gets one certificate for its node names and its
// configuration endpoint's; memcached serves TLS only on its port, and
// so does the configuration endpoint (internal/cachectl).
//
// Not yet: TransitEncryptionMode preferred (plaintext and TLS on one
// port: a stock engine cannot, it needs a piece in the data path),
// enabling TLS on an existing cache; each is refused with a message
// saying so. AUTH tokens: authtoken.go.

// Transit encryption modes as ElastiCache spells them.
const (
	TransitRequired  = "required"
	TransitPreferred = "preferred"
)

// transitMode validates a create request's in-transit encryption and
// returns the mode the cache gets ("" for none).
func transitMode(eng, version string, enabled *bool, mode, authToken *string) (string, error) {
	on := aws.ToBool(enabled)
	m := aws.ToString(mode)
	switch {
	case authToken != nil && !on:
		return "", invalid("The AUTH token is only supported when encryption-in-transit is enabled")
	case mode != nil && !on:
		return "", combination("TransitEncryptionMode can only be set when TransitEncryptionEnabled is true.")
	case !on:
		return "", nil
	case eng == catalog.Memcached && versionLess(version, memcachedTLSVersion):
		return "", combination("Encryption in transit is not supported for memcached version %s. Use engine version %s or later.", version, memcachedTLSVersion)
	case eng == catalog.Memcached && authToken != nil:
		return "", invalid("The AUTH token is not supported for engine memcached.")
	case m == "" || m == TransitRequired:
	case m == TransitPreferred:
		return "", invalid("TransitEncryptionMode preferred (plaintext and TLS on one port) is not supported by Cachalot yet; use required.")
	default:
		return "", invalid("Invalid value for TransitEncryptionMode: %s. Valid values are preferred and required.", m)
	}
	return TransitRequired, nil
}

// memcachedTLSVersion is the first Memcached engine version ElastiCache
// offers in-transit encryption with.
const memcachedTLSVersion = "1.6.12"

// transitAPI is how Describe reports a transit mode: enabled, and the
// mode when enabled.
func transitAPI(mode string) (*bool, *string) {
	if mode == "" {
		return aws.Bool(false), nil
	}
	return aws.Bool(true), aws.String(mode)
}

// CertificateNames are the DNS names a TLS cache's server certificate
// carries: a replication group member's, the wildcard of its group (its
// primary, reader and member endpoints, as ElastiCache's certificates
// have); a cluster's, its node names. nil for a cache without TLS.
func (s *Service) CertificateNames(cl *Cluster) ([]string, error) {
	if cl.TransitEncryptionMode == "" {
		return nil, nil
	}
	sc, err := s.nameScope(cl.Account, cl.Region)
	if err != nil {
		return nil, err
	}
	if cl.ServerlessCache != "" {
		return []string{sc.Serverless(cl.ServerlessCache)}, nil
	}
	if cl.ReplicationGroupID != "" {
		return []string{sc.TLSWildcard(cl.ReplicationGroupID)}, nil
	}
	var out []string
	for _, n := range cl.Nodes {
		out = append(out, sc.Node(cl.ID, n.ID))
	}
	if cl.Engine == catalog.Memcached {
		out = append(out, sc.MemcachedConfig(cl.ID))
	}
	return out, nil
}

// nodeName is the DNS name of node n of cl: a TLS group member's in the
// TLS layout (<member>.<rg>.<id6>…), otherwise <cluster>.<id6>.<node>….
func nodeName(sc dnsname.Scope, cl *Cluster, node string) string {
	if cl.ReplicationGroupID != "" && cl.TransitEncryptionMode != "" {
		return sc.TLSNode(cl.ID, cl.ReplicationGroupID)
	}
	return sc.Node(cl.ID, node)
}

// groupEndpointNames are the names of g's primary and reader endpoints:
// master.<rg>… and replica.<rg>… with TLS, as ElastiCache names them.
func groupEndpointNames(sc dnsname.Scope, g *ReplicationGroup) (primary, reader string) {
	if g.TransitEncryptionMode != "" {
		return sc.TLSPrimary(g.ID), sc.TLSReader(g.ID)
	}
	return sc.Primary(g.ID), sc.Reader(g.ID)
}
