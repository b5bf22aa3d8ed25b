package policy

import (
	"errors"
	"fmt"
	"strings"
)

// ErrInvalidARN is returned (wrapped) by ParseARN.
var ErrInvalidARN = errors.New("invalid ARN")

// ARN is arn:partition:service:region:account-id:resource. Resource keeps
// everything after the fifth colon (it may contain colons and slashes).
type ARN struct {
	Partition string
	Service   string
	Region    string
	AccountID string
	Resource  string
}

// ParseARN splits s into its components. It checks the shape only.
func ParseARN(s string) (ARN, error) {
	parts := strings.SplitN(s, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" {
		return ARN{}, fmt.Errorf("parse %q: %w", s, ErrInvalidARN)
	}
	a := ARN{Partition: parts[1], Service: parts[2], Region: parts[3], AccountID: parts[4], Resource: parts[5]}
	if a.Partition == "" || a.Service == "" || a.Resource == "" {
		return ARN{}, fmt.Errorf("parse %q: %w", s, ErrInvalidARN)
	}
	return a, nil
}

func (a ARN) String() string {
	return "arn:" + a.Partition + ":" + a.Service + ":" + a.Region + ":" + a.AccountID + ":" + a.Resource
}

// ResourceType returns the resource type and the id after it: for
// "cluster:my-cache" ("cluster", "my-cache"), for "vpc/vpc-1" ("vpc",
// "vpc-1"), for "user/path/alice" ("user", "path/alice").
func (a ARN) ResourceType() (typ, id string) {
	i := strings.IndexAny(a.Resource, ":/")
	if i < 0 {
		return "", a.Resource
	}
	return a.Resource[:i], a.Resource[i+1:]
}

// Partition is the only partition Cachalot serves.
const Partition = "aws"

// ElastiCache resource types (arn:aws:elasticache:<region>:<account>:<type>:<id>).
const (
	ECCluster          = "cluster"
	ECReplicationGroup = "replicationgroup"
	ECParameterGroup   = "parametergroup"
	ECSubnetGroup      = "subnetgroup"
	ECSecurityGroup    = "securitygroup"
	ECSnapshot         = "snapshot"
	ECUser             = "user"
	ECUserGroup        = "usergroup"
	ECServerlessCache  = "serverlesscache"
	ECServerlessSnap   = "serverlesscachesnapshot"
	ECReservedInstance = "reserved-instance"
	ECGlobalRG         = "globalreplicationgroup"
)

// ElastiCacheARN returns arn:aws:elasticache:<region>:<account>:<typ>:<id>.
// Global replication groups have no region: pass "".
func ElastiCacheARN(region, account, typ, id string) string {
	return "arn:" + Partition + ":elasticache:" + region + ":" + account + ":" + typ + ":" + id
}

// EC2 resource types (arn:aws:ec2:<region>:<account>:<type>/<id>).
const (
	EC2VPC                  = "vpc"
	EC2Subnet               = "subnet"
	EC2SecurityGroup        = "security-group"
	EC2SecurityGroupRule    = "security-group-rule"
	EC2Instance             = "instance"
	EC2NetworkInterface     = "network-interface"
	EC2ElasticIP            = "elastic-ip"
	EC2VPCPeeringConnection = "vpc-peering-connection"
	EC2InternetGateway      = "internet-gateway"
	EC2NatGateway           = "natgateway"
	EC2RouteTable           = "route-table"
	EC2NetworkACL           = "network-acl"
	EC2VPCEndpoint          = "vpc-endpoint"
	EC2KeyPair              = "key-pair"
	EC2Image                = "image"
	EC2Volume               = "volume"
	EC2LaunchTemplate       = "launch-template"
	EC2DHCPOptions          = "dhcp-options"
	EC2PrefixList           = "prefix-list"
)

// EC2ARN returns arn:aws:ec2:<region>:<account>:<typ>/<id>. Images and
// snapshots owned by AWS have an empty account.
func EC2ARN(region, account, typ, id string) string {
	return "arn:" + Partition + ":ec2:" + region + ":" + account + ":" + typ + "/" + id
}

// IAM resource types (arn:aws:iam::<account>:<type>/<path><name>).
const (
	IAMUser            = "user"
	IAMGroup           = "group"
	IAMRole            = "role"
	IAMPolicy          = "policy"
	IAMMFA             = "mfa"
	IAMInstanceProfile = "instance-profile"
	IAMOIDCProvider    = "oidc-provider"
	IAMSAMLProvider    = "saml-provider"
	IAMServerCert      = "server-certificate"
)

// IAMARN returns arn:aws:iam::<account>:<typ><path><name>. path is an IAM
// path ("/" or "/division/team/"); empty means "/".
func IAMARN(account, typ, path, name string) string {
	return "arn:" + Partition + ":iam::" + account + ":" + typ + NormalizePath(path) + name
}

// NormalizePath returns an IAM path that starts and ends with "/".
func NormalizePath(path string) string {
	if path == "" {
		return "/"
	}
	if path[0] != '/' {
		path = "/" + path
	}
	if path[len(path)-1] != '/' {
		path += "/"
	}
	return path
}

// AccountRootARN returns arn:aws:iam::<account>:root.
func AccountRootARN(account string) string {
	return "arn:" + Partition + ":iam::" + account + ":root"
}

// AssumedRoleARN returns arn:aws:sts::<account>:assumed-role/<role>/<session>
// (the role name without its path, as STS does).
func AssumedRoleARN(account, role, session string) string {
	return "arn:" + Partition + ":sts::" + account + ":assumed-role/" + role + "/" + session
}

// FederatedUserARN returns arn:aws:sts::<account>:federated-user/<name>.
func FederatedUserARN(account, name string) string {
	return "arn:" + Partition + ":sts::" + account + ":federated-user/" + name
}

// IAMPathName splits an IAM resource ARN's resource part after the type into
// path and name: "user/division/alice" gives ("user", "/division/", "alice").
func IAMPathName(a ARN) (typ, path, name string) {
	typ, rest := a.ResourceType()
	i := strings.LastIndexByte(rest, '/')
	if i < 0 {
		return typ, "/", rest
	}
	return typ, "/" + rest[:i+1], rest[i+1:]
}
