package dnsname

import (
	"fmt"
	"strings"
)

// Namer names endpoints for one installation: its domain and its secret.
type Namer struct {
	domain string
	secret []byte
}

// New returns a Namer for domain (validated by ValidateDomain) and the
// installation secret (at least MinSecretSize bytes; see NewSecret).
func New(domain string, secret []byte) (*Namer, error) {
	if err := ValidateDomain(domain); err != nil {
		return nil, err
	}
	if len(secret) < MinSecretSize {
		return nil, fmt.Errorf("%w: %d bytes, want at least %d", errShortSecret, len(secret), MinSecretSize)
	}
	return &Namer{domain: domain, secret: append([]byte(nil), secret...)}, nil
}

// Domain returns the endpoint domain.
func (n *Namer) Domain() string { return n.domain }

// Scope returns the naming scope of one account in one region.
func (n *Namer) Scope(account, region string) (Scope, error) {
	rc, err := RegionCode(region)
	if err != nil {
		return Scope{}, err
	}
	return Scope{Domain: n.domain, Region: region, RegionCode: rc, ID: ScopeID(n.secret, account, region)}, nil
}

// Scope names the endpoints of one account in one region. Its methods take
// ElastiCache identifiers (cluster, replication group, member cluster and
// serverless cache ids: letters, digits and hyphens, which the API has
// already validated) and lowercase them, as ElastiCache stores them.
type Scope struct {
	Domain     string // endpoint domain, e.g. cache.amazonaws.com
	Region     string // e.g. us-east-1
	RegionCode string // e.g. use1
	ID         string // the six-character id, e.g. km2jzi
}

// Zone returns the zone every endpoint name of the scope lies in:
// <rc>.<domain>, e.g. use1.cache.amazonaws.com.
func (s Scope) Zone() string { return s.RegionCode + "." + s.Domain }

func (s Scope) name(labels ...string) string {
	return strings.ToLower(strings.Join(labels, ".")) + "." + s.Zone()
}

// NodeID returns ElastiCache's id of the n-th node of a cluster (1 -> 0001).
func NodeID(n int) string { return fmt.Sprintf("%04d", n) }

// Node returns a cache node's endpoint: <cluster>.<id6>.<node>.<rc>.<domain>,
// e.g. my-cache.km2jzi.0001.use1.cache.amazonaws.com. node is the node's id
// (0001, 0002, …). A member cluster of a replication group without in-transit
// encryption is named the same way (my-rg-001.km2jzi.0001.use1…).
func (s Scope) Node(cluster, node string) string {
	return s.name(cluster, s.ID, node)
}

// MemcachedConfig returns a Memcached cluster's configuration endpoint:
// <cluster>.<id6>.cfg.<rc>.<domain>.
func (s Scope) MemcachedConfig(cluster string) string {
	return s.name(cluster, s.ID, "cfg")
}

// Primary returns a replication group's primary endpoint without in-transit
// encryption: <rg>.<id6>.ng.0001.<rc>.<domain>. On AWS it is a CNAME to the
// current primary node's endpoint; a failover moves it.
func (s Scope) Primary(rg string) string {
	return s.name(rg, s.ID, "ng", "0001")
}

// Reader returns a replication group's reader endpoint without in-transit
// encryption: <rg>-ro.<id6>.ng.0001.<rc>.<domain>.
func (s Scope) Reader(rg string) string {
	return s.name(rg+"-ro", s.ID, "ng", "0001")
}

// TLSPrimary returns a replication group's primary endpoint with in-transit
// encryption: master.<rg>.<id6>.<rc>.<domain>.
func (s Scope) TLSPrimary(rg string) string {
	return s.name("master", rg, s.ID)
}

// TLSReader returns a replication group's reader endpoint with in-transit
// encryption: replica.<rg>.<id6>.<rc>.<domain>.
func (s Scope) TLSReader(rg string) string {
	return s.name("replica", rg, s.ID)
}

// TLSNode returns a member node's endpoint in a replication group with
// in-transit encryption: <member>.<rg>.<id6>.<rc>.<domain>, e.g.
// my-rg-0001-001.my-rg.km2jzi.use1.cache.amazonaws.com.
func (s Scope) TLSNode(member, rg string) string {
	return s.name(member, rg, s.ID)
}

// TLSWildcard returns the wildcard name of a replication group's TLS
// certificate: *.<rg>.<id6>.<rc>.<domain>, covering its primary, reader,
// member and cluster configuration endpoints, as ElastiCache's do.
func (s Scope) TLSWildcard(rg string) string {
	return s.name("*", rg, s.ID)
}

// ClusterConfig returns a cluster-mode replication group's configuration
// endpoint: clustercfg.<rg>.<id6>.<rc>.<domain> with in-transit encryption,
// and <rg>.<id6>.clustercfg.<rc>.<domain> without, as ElastiCache spells
// them.
func (s Scope) ClusterConfig(rg string, tls bool) string {
	if tls {
		return s.name("clustercfg", rg, s.ID)
	}
	return s.name(rg, s.ID, "clustercfg")
}

// Serverless returns a serverless cache's endpoint:
// <name>-<id6>.serverless.<rc>.<domain>. Its reader endpoint has the same
// name on another port.
func (s Scope) Serverless(name string) string {
	return s.name(name+"-"+s.ID, "serverless")
}
