package ec2

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"regexp"
	"sync/atomic"
	"time"

	"github.com/cachalot-dev/cachalot/internal/api/ec2api"
	"github.com/cachalot-dev/cachalot/internal/auth"
	"github.com/cachalot-dev/cachalot/internal/awserr"
	"github.com/cachalot-dev/cachalot/internal/store"
)

// Accounts tells whether an account also has EC2-Classic. It is consumed
// here and implemented by whoever owns account settings.
type Accounts interface {
	EC2Classic(ctx context.Context, accountID string) (bool, error)
}

// Config configures the Service. Zero values take the defaults written next
// to each field.
type Config struct {
	// Accounts says which accounts have EC2-Classic; nil: every account is VPC-only.
	Accounts Accounts
	// Regions served by DescribeRegions; default us-east-1, us-east-2, us-west-1,
	// us-west-2, eu-west-1, eu-central-1, ap-northeast-1, ap-southeast-1.
	Regions []string
	// MaxVPCs per account and region (default 5, the default VPC included).
	MaxVPCs int
	// MaxSubnetsPerVPC (default 200).
	MaxSubnetsPerVPC int
	// MaxGroupsPerVPC (default 2500).
	MaxGroupsPerVPC int
	// RulesPerGroup is the limit on inbound and, separately, outbound rules (default 60).
	RulesPerGroup int
	// GroupsPerInterface (default 5).
	GroupsPerInterface int
	// MaxInstances per account and region, reported as max-instances (default 10000:
	// generous, Cachalot instances are records, not machines).
	MaxInstances int
	// MaxElasticIPs per account and region (default 5).
	MaxElasticIPs int
	// MaxInternetGateways per account and region (default 5).
	MaxInternetGateways int
	// Profiles resolves IAM instance profiles (IamInstanceProfile); nil:
	// every profile named is unknown.
	Profiles InstanceProfiles
	// Logger for unexpected conditions; default slog.Default().
	Logger *slog.Logger
	// Now is the clock; default time.Now.
	Now func() time.Time
}

func (c *Config) defaults() {
	if len(c.Regions) == 0 {
		c.Regions = []string{"us-east-1", "us-east-2", "us-west-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-northeast-1", "ap-southeast-1"}
	}
	def := func(p *int, v int) {
		if *p <= 0 {
			*p = v
		}
	}
	def(&c.MaxVPCs, 5)
	def(&c.MaxSubnetsPerVPC, 200)
	def(&c.MaxGroupsPerVPC, 2500)
	def(&c.RulesPerGroup, 60)
	def(&c.GroupsPerInterface, 5)
	def(&c.MaxInstances, 10000)
	def(&c.MaxElasticIPs, 5)
	def(&c.MaxInternetGateways, 5)
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Service implements ec2api.Operations over the store. It is safe for
// concurrent use.
type Service struct {
	ec2api.Unimplemented
	st    store.Store
	cfg   Config
	cache cache
	// decoded counts the scopes decoded from the store (cache misses).
	decoded atomic.Int64
}

var _ ec2api.Operations = (*Service)(nil)

// New returns the EC2 service over st. It has no side effects: scopes are
// created on first use.
func New(st store.Store, cfg Config) *Service {
	cfg.defaults()
	return &Service{st: st, cfg: cfg, cache: newCache()}
}

func (s *Service) now() time.Time { return s.cfg.Now().UTC().Truncate(time.Millisecond) }

var accountRe = regexp.MustCompile(`^[0-9]{12}$`)
var regionRe = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`)

func validScope(sc scope) error {
	if !accountRe.MatchString(sc.Account) {
		return errAuthFailure()
	}
	if !regionRe.MatchString(sc.Region) {
		return awserr.InvalidParameterValue("Invalid region: %s", sc.Region)
	}
	return nil
}

func scopeOf(ctx context.Context) scope {
	s := auth.ScopeFrom(ctx)
	return scope{Account: s.AccountID, Region: s.Region}
}

// newID returns prefix + 17 random hex digits, as AWS's long ids.
func newID(prefix string) string {
	var b [9]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err)) // never fails on Linux
	}
	return prefix + hex.EncodeToString(b[:])[:17]
}

func newMAC() string {
	var b [5]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("02:%02x:%02x:%02x:%02x:%02x", b[0], b[1], b[2], b[3], b[4])
}

// dryRun answers DryRunOperation when the flag is set (the caller was
// authorised by the wire layer before reaching us).
func dryRun(p *bool) error {
	if p != nil && *p {
		return errDryRunOperation()
	}
	return nil
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func ptr[T any](v T) *T { return &v }

var idRe = regexp.MustCompile(`^[a-z]+-[0-9a-f]{8}([0-9a-f]{9})?$`)

func wellFormed(id, prefix string) bool {
	return len(id) > len(prefix) && id[:len(prefix)] == prefix && idRe.MatchString(id)
}

// notFound builds the error for a missing id of a kind.
func notFound(kind, id string) error {
	switch kind {
	case "vpc":
		return errInvalidVpcIDNotFound(id)
	case "subnet":
		return errInvalidSubnetIDNotFound(id)
	case "sg":
		return errInvalidGroupNotFound("The security group '%s' does not exist", id)
	case "instance":
		return errInvalidInstanceIDNotFound(id)
	case "eni":
		return errInvalidNetworkInterfaceIDNotFound(id)
	case "eip":
		return errInvalidAllocationIDNotFound(id)
	case "igw":
		return errInvalidInternetGatewayIDNotFound(id)
	case "rtb":
		return errInvalidRouteTableIDNotFound(id)
	case "acl":
		return errInvalidNetworkAclIDNotFound(id)
	case "pcx":
		return errInvalidVpcPeeringConnectionIDNotFound(id)
	case "vol":
		return errInvalidVolumeNotFound(id)
	case "ami":
		return errInvalidAMIIDNotFound(id)
	case "key":
		return errInvalidKeyPairNotFound(id)
	case "lt":
		return errInvalidLaunchTemplateIDNotFound(id)
	case "pl":
		return errInvalidPrefixListIDNotFound(id)
	case "dopt":
		return errInvalidDhcpOptionIDNotFound(id)
	case "vpce":
		return errInvalidVpcEndpointIdNotFound(id)
	case "nat":
		return errNatGatewayNotFound(id)
	}
	return errInvalidID(id)
}

// malformed builds the error for an id that cannot be one of its kind.
func malformed(kind, id string) error {
	switch kind {
	case "vpc":
		return errInvalidVpcIDMalformed(id)
	case "subnet":
		return errInvalidSubnetIDMalformed(id)
	case "sg":
		return errInvalidGroupIdMalformed(id)
	case "instance":
		return errInvalidInstanceIDMalformed(id)
	case "eni":
		return errInvalidNetworkInterfaceIDMalformed(id)
	case "eip":
		return errInvalidAllocationIDMalformed(id)
	case "igw":
		return errInvalidInternetGatewayIdMalformed(id)
	case "rtb":
		return errInvalidRouteTableIdMalformed(id)
	case "pcx":
		return errInvalidVpcPeeringConnectionIdMalformed(id)
	case "vol":
		return errInvalidVolumeIDMalformed(id)
	case "ami":
		return errInvalidAMIIDMalformed(id)
	case "lt":
		return errInvalidLaunchTemplateIDMalformed(id)
	case "pl":
		return errInvalidPrefixListIdMalformed(id)
	case "dopt":
		return errInvalidDhcpOptionsIdMalformed(id)
	case "vpce":
		return errInvalidVpcEndpointIdMalformed(id)
	case "nat":
		return errNatGatewayMalformed(id)
	}
	return errInvalidID(id)
}

// lookup returns the record of kind with id in st, or the AWS error.
func lookup[T record](st *scopeTx, kind, id string) (T, error) {
	var zero T
	prefix := ""
	for _, k := range kinds {
		if k.kind == kind {
			prefix = k.prefix
		}
	}
	if !wellFormed(id, prefix) {
		return zero, malformed(kind, id)
	}
	r, ok := getT[T](st, id)
	if !ok {
		return zero, notFound(kind, id)
	}
	return r, nil
}

// tagsFor returns the tags of the TagSpecifications addressed to rtype.
func tagsFor(specs []ec2api.TagSpecification, rtype string) (map[string]string, error) {
	var m map[string]string
	for _, sp := range specs {
		rt := str(sp.ResourceType)
		if rt == "" {
			return nil, awserr.MissingParameter("TagSpecification.ResourceType")
		}
		if rt != rtype {
			return nil, awserr.InvalidParameterValue("'%s' is not a valid taggable resource type for this operation.", rt)
		}
		for _, tg := range sp.Tags {
			if err := validTag(tg); err != nil {
				return nil, err
			}
			if m == nil {
				m = map[string]string{}
			}
			m[str(tg.Key)] = str(tg.Value)
		}
	}
	if len(m) > 50 {
		return nil, errTagLimitExceeded()
	}
	return m, nil
}

func validTag(tg ec2api.Tag) error {
	k := str(tg.Key)
	if k == "" {
		return awserr.InvalidParameterValue("Tag key cannot be empty")
	}
	if len(k) > 127 || len(str(tg.Value)) > 255 {
		return awserr.InvalidParameterValue("Tag key or value too long")
	}
	if len(k) >= 4 && k[:4] == "aws:" {
		return awserr.InvalidParameterValue("Tag keys starting with 'aws:' are reserved for internal use")
	}
	return nil
}

func tagList(m map[string]string) []ec2api.Tag {
	if len(m) == 0 {
		return nil
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sortStrings(keys)
	out := make([]ec2api.Tag, len(keys))
	for i, k := range keys {
		out[i] = ec2api.Tag{Key: ptr(k), Value: ptr(m[k])}
	}
	return out
}
