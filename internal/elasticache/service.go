// Package elasticache owns the ElastiCache domain: node-based cache
// clusters, replication groups and their member clusters, without cluster
// mode (rgmodel.go) and with it (shards and slots, rgcluster.go),
// snapshots and restores (snapmodel.go), RBAC users and user groups
// (users.go), cache subnet groups, cache parameter groups, events and tags.
// The API (elasticacheapi.Operations) validates requests and writes desired
// state to the store in one transaction; the cache controller
// (internal/cachectl) converges network interfaces and engine processes to
// it and writes status and events back through the status write-back API
// (status.go); the snapshot controller (internal/snapctl) takes snapshots
// and writes them back through snapstatus.go. Imported by the wiring
// package and by controllers.
package elasticache

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/cachalot-dev/cachalot/internal/api/elasticacheapi"
	"github.com/cachalot-dev/cachalot/internal/auth"
	"github.com/cachalot-dev/cachalot/internal/catalog"
	"github.com/cachalot-dev/cachalot/internal/dnsname"
	"github.com/cachalot-dev/cachalot/internal/ec2"
	"github.com/cachalot-dev/cachalot/internal/store"
)

// Network is what ElastiCache needs of the EC2 model (ec2.Service).
type Network interface {
	DefaultVPC(ctx context.Context, account, region string) (ec2.VPCInfo, error)
	DefaultSecurityGroup(ctx context.Context, account, region, vpcID string) (string, error)
	Subnet(ctx context.Context, account, region, subnetID string) (ec2.SubnetInfo, error)
	ValidateGroups(ctx context.Context, account, region, vpcID string, ids []string) error
	CreateManagedInterface(ctx context.Context, spec ec2.InterfaceSpec) (ec2.Interface, error)
	DeleteManagedInterface(ctx context.Context, account, region, id string) error
	SetInterfaceGroups(ctx context.Context, account, region, id string, groups []string) error
	// EC2-Classic: the ingress grants of a node interface in the classic
	// network, and the lookup of an account's classic group by name.
	SetInterfaceIngressGrants(ctx context.Context, account, region, id string, grants []ec2.IngressGrant) error
	ClassicGroup(ctx context.Context, account, region, name string) (ec2.GroupInfo, error)
}

// Catalog is the set of installed engines (catalog.Catalog).
type Catalog interface {
	Find(engine, version string) (catalog.Installed, error)
}

// ServiceLinkedRoles ensures the ElastiCache service-linked role exists,
// creating it when the caller may (IAM); nil skips the check.
type ServiceLinkedRoles interface {
	EnsureServiceLinkedRole(ctx context.Context, caller auth.Principal, accountID string) error
}

// HostAddrs says where a server of an interface listening on a port is
// reached from the host in the loopback network mode (vpcnet's HostAddr):
// ok is false in the namespaces mode, or before the server was bound.
type HostAddrs interface {
	HostAddr(interfaceID string, port int) (ip string, hostPort int, ok bool)
}

// Config configures the Service.
type Config struct {
	Network Network // required
	Engines *catalog.Catalog
	Roles   ServiceLinkedRoles // optional
	// Names spells endpoint names (required for clusters to be described:
	// every endpoint is a DNS name; see names.go). The wiring builds it from
	// serve --dns-domain and the installation secret (LoadNamer).
	Names *dnsname.Namer
	// HostAddrs rewrites endpoints in the loopback network mode, where
	// nothing resolves the names; nil: the names are the endpoints.
	HostAddrs HostAddrs
	// DataStorageUnit is the bytes of a GB of a serverless cache's data
	// storage limits; default 1 GiB (tests scale it down, so that a
	// limit is reached with little data).
	DataStorageUnit int64
	// SnapshotQuota is the number of manual snapshots an account keeps
	// per region; default 1000.
	SnapshotQuota int
	Logger        *slog.Logger     // default slog.Default()
	Now           func() time.Time // default time.Now
}

// Service implements elasticacheapi.Operations.
type Service struct {
	elasticacheapi.Unimplemented
	st  store.Store
	cfg Config
	seq atomic.Uint64 // event key tiebreaker
}

// New returns the ElastiCache service; it has no side effects.
func New(st store.Store, cfg Config) *Service {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Engines == nil {
		cfg.Engines = &catalog.Catalog{}
	}
	return &Service{st: st, cfg: cfg}
}

func invalid(format string, args ...any) error {
	return elasticacheapi.ErrInvalidParameterValueException(format, args...)
}

func combination(format string, args ...any) error {
	return elasticacheapi.ErrInvalidParameterCombinationException(format, args...)
}

// putEvent records an event in tx.
func (s *Service) putEvent(tx store.Tx, account, region string, e Event) error {
	if hiddenID(e.SourceID) {
		var ok bool
		if e, ok = serverlessEvent(e); !ok {
			return nil
		}
	}
	if e.Time.IsZero() {
		e.Time = s.cfg.Now().UTC()
	}
	return store.PutJSON(tx, eventKey(account, region, e.Time, s.seq.Add(1)), &e)
}

// checkIdentifier validates a cluster, group or snapshot name.
func checkIdentifier(param, v string, maxLen int) error {
	if v == "" {
		return invalid("The parameter %s must be provided and must not be blank.", param)
	}
	if len(v) > maxLen || !identifierPattern.MatchString(v) {
		return invalid("The parameter %s is not a valid identifier. Identifiers must begin with a letter; must contain only ASCII letters, digits, and hyphens; and must not end with a hyphen or contain two consecutive hyphens.", param)
	}
	return nil
}

// page applies Marker/MaxRecords pagination to items sorted by key.
func page[T any](items []T, key func(T) string, marker *string, maxRecords *int32) ([]T, *string, error) {
	limit, err := pageLimit(maxRecords)
	if err != nil {
		return nil, nil, err
	}
	start := 0
	if m := aws.ToString(marker); m != "" {
		start = slices.IndexFunc(items, func(t T) bool { return key(t) >= m })
		if start < 0 {
			start = len(items)
		}
	}
	end := min(start+limit, len(items))
	var next *string
	if end < len(items) {
		next = aws.String(key(items[end]))
	}
	return items[start:end], next, nil
}

// pageLimit is MaxRecords checked as AWS checks it (20–100), 100 if unset.
func pageLimit(maxRecords *int32) (int, error) {
	if maxRecords == nil {
		return 100, nil
	}
	if *maxRecords < 20 || *maxRecords > 100 {
		return 0, invalid("Invalid value for MaxRecords: %d. Valid values are between 20 and 100.", *maxRecords)
	}
	return int(*maxRecords), nil
}

// pageScan is page over the JSON records under prefix whose key ends with
// their id (the order page gives): the records before the marker are
// skipped by key without decoding, those keep refuses are passed over, and
// the scan stops at the first record after the page (the next marker), so
// a page costs about MaxRecords decodes however many records there are.
func pageScan[T any](tx store.Tx, prefix string, id func(*T) string, keep func(*T) bool, marker *string, maxRecords *int32) ([]*T, *string, error) {
	limit, err := pageLimit(maxRecords)
	if err != nil {
		return nil, nil, err
	}
	m := aws.ToString(marker)
	items := []*T{}
	var next *string
	err = tx.Scan(prefix, func(key string, b []byte) error {
		if m != "" && strings.TrimPrefix(key, prefix) < m {
			return nil
		}
		t := new(T)
		if err := json.Unmarshal(b, t); err != nil {
			return fmt.Errorf("decode %s: %w", key, err)
		}
		if keep != nil && !keep(t) {
			return nil
		}
		if len(items) == limit {
			next = aws.String(id(t))
			return store.ErrStop
		}
		items = append(items, t)
		return nil
	})
	return items, next, err
}

func toAPITags(tags []Tag) []elasticacheapi.Tag {
	out := make([]elasticacheapi.Tag, 0, len(tags))
	for _, t := range tags {
		out = append(out, elasticacheapi.Tag{Key: aws.String(t.Key), Value: aws.String(t.Value)})
	}
	return out
}

func fromAPITags(tags []elasticacheapi.Tag) ([]Tag, error) {
	var out []Tag
	for _, t := range tags {
		k := aws.ToString(t.Key)
		if k == "" || len(k) > 128 || strings.HasPrefix(strings.ToLower(k), "aws:") {
			return nil, invalid("Invalid tag key %q: keys are 1 to 128 characters and may not begin with aws:", k)
		}
		if len(aws.ToString(t.Value)) > 256 {
			return nil, invalid("Invalid tag value for key %q: values are at most 256 characters", k)
		}
		out = mergeTags(out, []Tag{{Key: k, Value: aws.ToString(t.Value)}})
	}
	if len(out) > 50 {
		return nil, elasticacheapi.ErrTagQuotaPerResourceExceeded("The request cannot be processed because it would cause the resource to have more than the allowed number of tags. The maximum number of tags permitted on a resource is 50.")
	}
	return out, nil
}

func mergeTags(have, add []Tag) []Tag {
	for _, t := range add {
		if i := slices.IndexFunc(have, func(h Tag) bool { return h.Key == t.Key }); i >= 0 {
			have[i].Value = t.Value
		} else {
			have = append(have, t)
		}
	}
	return have
}

// getCluster reads a cluster or returns CacheClusterNotFound.
func getCluster(tx store.Tx, s auth.Scope, id string) (*Cluster, error) {
	var c Cluster
	err := store.GetJSON(tx, clusterKey(s.AccountID, s.Region, strings.ToLower(id)), &c)
	if errors.Is(err, store.ErrNotFound) || err == nil && c.ServerlessCache != "" {
		return nil, elasticacheapi.ErrCacheClusterNotFoundFault("CacheCluster not found: %s", id)
	}
	if err != nil {
		return nil, fmt.Errorf("read cluster %s: %w", id, err)
	}
	return &c, nil
}

func putCluster(tx store.Tx, c *Cluster) error {
	return store.PutJSON(tx, clusterKey(c.Account, c.Region, c.ID), c)
}
