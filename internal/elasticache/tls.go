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
// TransitEncryptionMode preferred (a Valkey or Redis OSS group, cluster
// mode too): plaintext and TLS on the same port, which a stock engine
// cannot serve; the cache controller puts a front on the port that hands
// each connection to the engine's plaintext or TLS listener
// (internal/cachectl/front.go). An existing group without TLS gets it in
// the two steps ElastiCache documents (modifyTransit): TransitEncryption
// Enabled with TransitEncryptionMode preferred, then required; and back,
// required to preferred, preferred to disabled. While a group that had
// no TLS is in preferred, its names without TLS resolve too (PlainNames),
// as ElastiCache keeps the old endpoints until required (with cluster
// mode, the configuration endpoint's and the nodes'). AUTH tokens:
// authtoken.go.

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
		if eng == catalog.Memcached {
			return "", preferredSupported(eng, version)
		}
		return TransitPreferred, nil // the version is checked once resolved (preferredSupported)
	default:
		return "", invalid("Invalid value for TransitEncryptionMode: %s. Valid values are preferred and required.", m)
	}
	return TransitRequired, nil
}

// preferredSupported: TransitEncryptionMode preferred, and so enabling
// in-transit encryption on an existing group, is for Redis OSS 7.0 and
// later and Valkey 7.2 and later, as on ElastiCache.
func preferredSupported(eng, version string) error {
	switch {
	case eng == catalog.Memcached:
		return combination("TransitEncryptionMode preferred is not supported for engine memcached.")
	case eng == catalog.Valkey && versionLess(version, "7.2"), eng != catalog.Valkey && versionLess(version, "7.0"):
		return combination("TransitEncryptionMode preferred (and enabling in-transit encryption on an existing cluster) needs Redis OSS 7.0 or later, or Valkey 7.2 or later; engine version %s.", version)
	}
	return nil
}

// TransitChange is a change of a group's in-transit encryption being
// realised: From is the mode before it (PendingModifiedValues shows the
// new one while the group is modifying).
type TransitChange struct {
	From string `json:",omitempty"`
}

// modifyTransit applies ModifyReplicationGroup's TransitEncryptionEnabled
// and TransitEncryptionMode with ElastiCache's rules: enabling on a group
// without TLS needs TransitEncryptionMode preferred in the same request
// (then required in a later one); disabling needs preferred first; a
// group with a user group keeps its mode. It returns whether the mode
// changed; the members follow (mode, names) and converge live.
func modifyTransit(g *ReplicationGroup, members []*Cluster, enabled *bool, mode *string) (bool, error) {
	g.TransitPending = nil // the group is available: any earlier change is done
	if enabled == nil && mode == nil {
		return false, nil
	}
	cur, m := g.TransitEncryptionMode, aws.ToString(mode)
	if mode != nil && m != TransitPreferred && m != TransitRequired {
		return false, invalid("Invalid value for TransitEncryptionMode: %s. Valid values are preferred and required.", m)
	}
	next := cur
	switch {
	case enabled != nil && !*enabled:
		if mode != nil {
			return false, combination("TransitEncryptionMode can only be set when TransitEncryptionEnabled is true.")
		}
		next = ""
	case cur == "" && enabled == nil:
		return false, combination("To modify transit encryption mode, set encryption-in-transit as enabled.")
	case cur == "" && mode == nil:
		return false, combination("To enable in-transit encryption on an existing replication group, set TransitEncryptionMode to preferred with TransitEncryptionEnabled.")
	case mode != nil:
		next = m
	}
	if next == cur {
		return false, nil
	}
	switch {
	case g.Serverless != nil:
		return false, invalid("In-transit encryption of a serverless cache is always enabled.")
	case g.UserGroupID != "":
		return false, combination("Modification of transit encryption is not supported for access control enabled clusters.")
	case cur == "" && next == TransitRequired:
		return false, combination("In-transit encryption of an existing replication group is enabled in two steps: set TransitEncryptionMode to preferred first, then to required.")
	case cur == TransitRequired && next == "":
		return false, combination("To disable in-transit encryption, set TransitEncryptionMode to preferred first.")
	case next == "" && len(g.AuthTokens) > 0:
		return false, invalid("The AUTH token is only supported when encryption-in-transit is enabled")
	}
	if err := preferredSupported(g.Engine, g.EngineVersion); err != nil {
		return false, err
	}
	g.TransitPending = &TransitChange{From: cur}
	// The names without TLS stay while a group that had none is in
	// preferred; required (or another step) drops them.
	g.PlainNames = cur == "" && next == TransitPreferred
	g.TransitEncryptionMode = next
	for _, c := range members {
		if c.Status == StatusDeleting {
			continue
		}
		c.TransitEncryptionMode, c.PlainNames = next, g.PlainNames
		if c.Status == StatusAvailable {
			c.Status = StatusModifying
		}
		c.Generation++
	}
	return true, nil
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
