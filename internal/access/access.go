// Package access owns the access flows between compute instances and caches
// that ElastiCache documents, as API actions of Cachalot's own on the
// ElastiCache endpoint (see docs/api-extensions.md):
//
//   - ConnectCompute / DisconnectCompute: the console's "Set up compute
//     connection" — a pair of security groups managed by name
//     (elasticache-ec2-${cacheId}:${instanceId} on the cache,
//     ec2-elasticache-${instanceId}:${cacheId} on the instance), decided by
//     the documented decision table (decide.go, pure);
//   - DescribeConnectedComputeResources: the instances connected that way,
//     and only those;
//   - ExplainCacheReachability: may this instance (or the host, through
//     the cache's published endpoints) reach this cache, which rules allow
//     it or exactly what is missing (sgeval over ec2.Topology);
//   - PublishCache / UnpublishCache / DescribePublishedCaches: caches
//     published to the host (publish.go): the desired state, one record
//     per cache with a loopback address per endpoint; HostEndpoints and
//     Converge are what the controllers realising it call.
//
// It acts through the EC2 service's Go API with the caller's context, so EC2
// validates and records everything as if the caller had called it, and it
// checks the caller's ec2: permissions through the same authorizer as the
// endpoint, on the resources each action touches, named as the endpoint
// names them (authorize.go). Caches are reached through the
// small Caches interface (elasticache implements it): node-based clusters,
// replication groups and serverless caches.
// Imported by the wiring package and, for publishing, the controllers that
// realise it (vpcnet, publishctl).
package access

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/cachalot-dev/cachalot/internal/api/ec2api"
	"github.com/cachalot-dev/cachalot/internal/auth"
	"github.com/cachalot-dev/cachalot/internal/awserr"
	"github.com/cachalot-dev/cachalot/internal/ec2"
	"github.com/cachalot-dev/cachalot/internal/ec2/sgeval"
)

// Cache is what the access flows need of a cache: a node-based cluster, a
// replication group or a serverless cache.
type Cache struct {
	// Account and Region are set by CacheLister (Cache answers in the
	// caller's scope).
	Account, Region string
	ID              string
	// Kind is the kind of cache (KindCacheCluster, KindReplicationGroup,
	// KindServerlessCache); "" is KindCacheCluster.
	Kind string
	// Group is the replication group a cluster is a member of: serve
	// --publish-all publishes the group, not its members.
	Group string
	// CreatedAt tells a cache from a later one of the same id.
	CreatedAt time.Time
	Engine    string
	Status    string
	VpcID     string
	// Port is the port clients connect to; ToPort, when set, the last
	// of a range of them from Port (a serverless cache: 6379 for writes,
	// 6380 for reads from replicas).
	Port, ToPort int
	// SecurityGroups are the VPC security groups associated with the cache.
	SecurityGroups []string
	// Endpoints are the cache's network interfaces (nodes, and a Memcached
	// configuration endpoint).
	Endpoints []Endpoint
}

// Ports is a range of TCP ports.
type Ports struct{ From, To int }

// Ports is the range of ports clients connect to: the rules a compute
// connection writes open all of it.
func (c Cache) Ports() Ports { return Ports{c.Port, max(c.Port, c.ToPort)} }

// Endpoint is one network interface of a cache.
type Endpoint struct {
	// Name is the node id (0001, …) or "configuration"; for a replication
	// group, the member cluster's id, or "primary" and "reader" (Alias).
	Name        string
	InterfaceID string
	Address     string
	// Alias: the endpoint is another name of a member's interface that
	// the cache lists again under its own Name (a group's primary and
	// reader endpoints): explained, never given an address of its own.
	Alias bool
	// DNSNames are the names resolving to this endpoint inside the VPCs,
	// which the host resolves to its published address (a group member's
	// own name, and the group's primary, reader or configuration endpoint
	// name while the member answers for it). Empty: the node's own name
	// (Namer), as clusters are named.
	DNSNames []string
}

// kind is c's kind of cache.
func (c Cache) kind() string {
	if c.Kind == "" {
		return KindCacheCluster
	}
	return c.Kind
}

// Caches resolves the caches of the caller's scope (taken from ctx).
type Caches interface {
	// Cache returns a cache, or the service's not-found error.
	Cache(ctx context.Context, id string) (Cache, error)
	// EditSecurityGroups replaces the cache's groups with edit(current) in
	// one transaction and applies them to its interfaces. edit may return an
	// error to abort.
	EditSecurityGroups(ctx context.Context, id string, edit func(groups []string) ([]string, error)) error
}

// EC2 is what the access flows use of the EC2 service (ec2.Service). The
// operations take the caller's context (principal and scope).
type EC2 interface {
	Topology(ctx context.Context, sel ec2.TopologySelector) (*ec2.Topology, error)
	// Revision is the store revision; a Topology read at it is current.
	Revision(ctx context.Context) (uint64, error)
	CreateSecurityGroup(ctx context.Context, in *ec2api.CreateSecurityGroupRequest) (*ec2api.CreateSecurityGroupResult, error)
	DeleteSecurityGroup(ctx context.Context, in *ec2api.DeleteSecurityGroupRequest) (*ec2api.DeleteSecurityGroupResult, error)
	AuthorizeSecurityGroupIngress(ctx context.Context, in *ec2api.AuthorizeSecurityGroupIngressRequest) (*ec2api.AuthorizeSecurityGroupIngressResult, error)
	AuthorizeSecurityGroupEgress(ctx context.Context, in *ec2api.AuthorizeSecurityGroupEgressRequest) (*ec2api.AuthorizeSecurityGroupEgressResult, error)
	RevokeSecurityGroupIngress(ctx context.Context, in *ec2api.RevokeSecurityGroupIngressRequest) (*ec2api.RevokeSecurityGroupIngressResult, error)
	RevokeSecurityGroupEgress(ctx context.Context, in *ec2api.RevokeSecurityGroupEgressRequest) (*ec2api.RevokeSecurityGroupEgressResult, error)
	ModifyNetworkInterfaceAttribute(ctx context.Context, in *ec2api.ModifyNetworkInterfaceAttributeRequest) error
	// ResourceARNs names the resources an operation's input acts on, as
	// the endpoint names them for IAM (ec2.Service.ResourceARNs).
	ResourceARNs(ctx context.Context, in any) ([]string, error)
}

// Config configures a Service.
type Config struct {
	EC2    EC2    // required
	Caches Caches // required
	// Authorizer decides the caller's ec2: permissions; required (the
	// endpoint's authorizer).
	Authorizer auth.Authorizer
	Logger     *slog.Logger     // default slog.Default()
	Now        func() time.Time // default time.Now
	// MaxGroups is the per-interface (and per-cache) group limit; default 5.
	MaxGroups int
	// Publishing configures publishing caches to the host; the zero value
	// disables it.
	Publishing Publishing
}

// Service implements the access actions.
type Service struct {
	cfg Config
	// mu serialises ConnectCompute and DisconnectCompute: each reads the
	// groups, decides and writes, and two of them interleaving on the same
	// pair could create it twice.
	mu sync.Mutex

	// snaps keeps the last network model read per region, shared read-only
	// by the calls made while the store has not changed.
	snapsMu sync.Mutex
	snaps   map[string]*snapshot
}

// snapshot is a region's network model at one store revision, indexed. It is
// never modified once published.
type snapshot struct {
	topo   *ec2.Topology
	groups map[string]*ec2.TopoGroup
	evOnce sync.Once
	ev     *sgeval.Evaluator
}

func (sn *snapshot) evaluator() *sgeval.Evaluator {
	sn.evOnce.Do(func() { sn.ev = sgeval.New(sn.topo) })
	return sn.ev
}

// snapshot returns the region's network model, read again only when the
// store has changed since the last read.
func (s *Service) snapshot(ctx context.Context, region string) (*snapshot, error) {
	rev, err := s.cfg.EC2.Revision(ctx)
	if err != nil {
		return nil, err
	}
	s.snapsMu.Lock()
	sn := s.snaps[region]
	s.snapsMu.Unlock()
	if sn != nil && sn.topo.Revision == rev {
		return sn, nil
	}
	topo, err := s.cfg.EC2.Topology(ctx, ec2.TopologySelector{Region: region})
	if err != nil {
		return nil, err
	}
	sn = &snapshot{topo: topo, groups: make(map[string]*ec2.TopoGroup, len(topo.Groups))}
	for i := range topo.Groups {
		sn.groups[topo.Groups[i].ID] = &topo.Groups[i]
	}
	s.snapsMu.Lock()
	if old := s.snaps[region]; old == nil || old.topo.Revision < topo.Revision {
		s.snaps[region] = sn
	}
	s.snapsMu.Unlock()
	return sn, nil
}

// New returns the Service; it has no side effects.
func New(cfg Config) *Service {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MaxGroups == 0 {
		cfg.MaxGroups = 5
	}
	return &Service{cfg: cfg, snaps: map[string]*snapshot{}}
}

// The ec2: permissions each flow needs. ConnectCompute's are exactly the
// eight ElastiCache documents for "Set up compute connection".
// statusForbidden is AccessDenied's HTTP status (domain packages do not
// import net/http).
const statusForbidden = 403

var (
	ConnectActions = []string{
		"AuthorizeSecurityGroupEgress", "AuthorizeSecurityGroupIngress", "CreateSecurityGroup",
		"DescribeInstances", "DescribeNetworkInterfaces", "DescribeSecurityGroups",
		"ModifyNetworkInterfaceAttribute", "RevokeSecurityGroupEgress",
	}
	DisconnectActions = []string{
		"DeleteSecurityGroup", "DescribeInstances", "DescribeNetworkInterfaces", "DescribeSecurityGroups",
		"ModifyNetworkInterfaceAttribute", "RevokeSecurityGroupEgress", "RevokeSecurityGroupIngress",
	}
	DescribeActions = []string{"DescribeInstances", "DescribeNetworkInterfaces", "DescribeSecurityGroups"}
	ExplainActions  = []string{
		"DescribeInstances", "DescribeNetworkInterfaces", "DescribeRouteTables",
		"DescribeSecurityGroups", "DescribeVpcPeeringConnections",
	}
)

func invalid(format string, args ...any) error {
	return awserr.New("InvalidParameterValue", format, args...)
}

// world is the part of the network model one request reasons about.
// world is what one call works on. topo and groups belong to a shared
// snapshot: read them, never modify them.
type world struct {
	snap     *snapshot
	topo     *ec2.Topology
	cache    Cache
	instance *ec2.TopoInterface // the instance's primary interface
	groups   map[string]*ec2.TopoGroup
}

// load reads the cache, the scope's topology and the instance's primary
// interface (instanceID may be empty).
func (s *Service) load(ctx context.Context, cacheID, instanceID string) (*world, error) {
	if cacheID == "" {
		return nil, awserr.New("MissingParameter", "The request must contain the parameter CacheClusterId")
	}
	c, err := s.cfg.Caches.Cache(ctx, cacheID)
	if err != nil {
		return nil, err
	}
	scope := auth.ScopeFrom(ctx)
	// The whole region: a peered VPC may belong to another account, and the
	// evaluator needs its subnets and route tables to decide the path.
	sn, err := s.snapshot(ctx, scope.Region)
	if err != nil {
		return nil, fmt.Errorf("read network model: %w", err)
	}
	topo := sn.topo
	w := &world{snap: sn, topo: topo, cache: c, groups: sn.groups}
	if instanceID == "" {
		return w, nil
	}
	if !strings.HasPrefix(instanceID, "i-") {
		return nil, invalid("Invalid id: \"%s\" (expecting \"i-...\")", instanceID)
	}
	for i := range topo.Interfaces {
		ifc := &topo.Interfaces[i]
		if ifc.InstanceID == instanceID && ifc.Account == scope.AccountID && (w.instance == nil || ifc.ID < w.instance.ID) {
			w.instance = ifc
		}
	}
	if w.instance == nil {
		return nil, awserr.New("InvalidInstanceID.NotFound", "The instance ID '%s' does not exist", instanceID)
	}
	if st := w.instance.InstanceState; st == "terminated" || st == "shutting-down" {
		return nil, awserr.New("IncorrectInstanceState", "The instance '%s' is %s.", instanceID, st)
	}
	return w, nil
}
