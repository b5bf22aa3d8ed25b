package iam

import (
	"context"
	"reflect"
	"strings"

	"github.com/cachalot-dev/cachalot/internal/auth"
	"github.com/cachalot-dev/cachalot/internal/iam/policy"
	"github.com/cachalot-dev/cachalot/internal/store"
)

// Resource-level authorization: which ARNs an operation acts on, found
// generically in its input by field name. The tables say, per service, which
// input members name a resource and of which type.

type arnKind int

const (
	kindElastiCache arnKind = iota // arn:aws:elasticache:<region>:<acct>:<type>:<id>
	kindEC2                        // arn:aws:ec2:<region>:<acct>:<type>/<id>
	kindIAMName                    // arn:aws:iam::<acct>:<type><path><name>
	kindARN                        // the member is an ARN already
)

type resourceField struct {
	field string
	kind  arnKind
	typ   string
}

// resourceFields is a read-only table.
var resourceFields = map[string][]resourceField{
	"elasticache": {
		{"CacheClusterId", kindElastiCache, policy.ECCluster},
		{"CacheClusterIds", kindElastiCache, policy.ECCluster},
		{"ReplicationGroupId", kindElastiCache, policy.ECReplicationGroup},
		{"ReplicationGroupIds", kindElastiCache, policy.ECReplicationGroup},
		{"GlobalReplicationGroupId", kindElastiCache, policy.ECGlobalRG},
		{"CacheParameterGroupName", kindElastiCache, policy.ECParameterGroup},
		{"CacheSubnetGroupName", kindElastiCache, policy.ECSubnetGroup},
		{"CacheSecurityGroupName", kindElastiCache, policy.ECSecurityGroup},
		{"CacheSecurityGroupNames", kindElastiCache, policy.ECSecurityGroup},
		{"SnapshotName", kindElastiCache, policy.ECSnapshot},
		{"SourceSnapshotName", kindElastiCache, policy.ECSnapshot},
		{"TargetSnapshotName", kindElastiCache, policy.ECSnapshot},
		{"UserId", kindElastiCache, policy.ECUser},
		{"UserIds", kindElastiCache, policy.ECUser},
		{"UserGroupId", kindElastiCache, policy.ECUserGroup},
		{"UserGroupIds", kindElastiCache, policy.ECUserGroup},
		{"ServerlessCacheName", kindElastiCache, policy.ECServerlessCache},
		{"ServerlessCacheSnapshotName", kindElastiCache, policy.ECServerlessSnap},
		{"ReservedCacheNodeId", kindElastiCache, policy.ECReservedInstance},
		{"ResourceName", kindARN, ""},
	},
	"ec2": {
		{"GroupId", kindEC2, policy.EC2SecurityGroup},
		{"GroupIds", kindEC2, policy.EC2SecurityGroup},
		{"SecurityGroupIds", kindEC2, policy.EC2SecurityGroup},
		{"SecurityGroupRuleIds", kindEC2, policy.EC2SecurityGroupRule},
		{"InstanceId", kindEC2, policy.EC2Instance},
		{"InstanceIds", kindEC2, policy.EC2Instance},
		{"VpcId", kindEC2, policy.EC2VPC},
		{"SubnetId", kindEC2, policy.EC2Subnet},
		{"NetworkInterfaceId", kindEC2, policy.EC2NetworkInterface},
		{"AllocationId", kindEC2, policy.EC2ElasticIP},
		{"VpcPeeringConnectionId", kindEC2, policy.EC2VPCPeeringConnection},
		{"InternetGatewayId", kindEC2, policy.EC2InternetGateway},
		{"NatGatewayId", kindEC2, policy.EC2NatGateway},
		{"RouteTableId", kindEC2, policy.EC2RouteTable},
		{"NetworkAclId", kindEC2, policy.EC2NetworkACL},
		{"ImageId", kindEC2, policy.EC2Image},
		{"VolumeId", kindEC2, policy.EC2Volume},
		{"KeyName", kindEC2, policy.EC2KeyPair},
	},
	"iam": {
		{"UserName", kindIAMName, policy.IAMUser},
		{"GroupName", kindIAMName, policy.IAMGroup},
		{"RoleName", kindIAMName, policy.IAMRole},
		{"InstanceProfileName", kindIAMName, policy.IAMInstanceProfile},
		{"VirtualMFADeviceName", kindIAMName, policy.IAMMFA},
		{"PolicyArn", kindARN, ""},
		{"SerialNumber", kindARN, ""},
		{"AWSServiceName", kindIAMName, "service-linked-role"},
	},
	"sts": {
		{"RoleArn", kindARN, ""},
	},
}

type boundField struct {
	index []int
	resourceField
}

// Resources implements the endpoint's resources hook: the ARNs an operation
// acts on, from its input; nil (authorize on "*") when it names none. EC2
// Describe* actions do not support resource-level permissions, as in AWS.
func (s *Service) Resources(ctx context.Context, service, action string, in any) []string {
	if in == nil {
		return nil
	}
	if service == "ec2" && strings.HasPrefix(action, "Describe") {
		return nil
	}
	v := reflect.ValueOf(in)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return nil
	}
	v = v.Elem()
	fields := s.fieldsOf(service, v.Type())
	if len(fields) == 0 {
		return nil
	}
	scope := auth.ScopeFrom(ctx)
	var out []string
	add := func(f boundField, id string) {
		if id == "" {
			return
		}
		switch f.kind {
		case kindElastiCache:
			region := scope.Region
			if f.typ == policy.ECGlobalRG {
				region = ""
			}
			out = append(out, policy.ElastiCacheARN(region, scope.AccountID, f.typ, id))
		case kindEC2:
			out = append(out, policy.EC2ARN(scope.Region, scope.AccountID, f.typ, id))
		case kindARN:
			out = append(out, id)
		case kindIAMName:
			out = append(out, s.iamARN(ctx, scope.AccountID, action, f.typ, id, v))
		}
	}
	for _, f := range fields {
		fv := v.FieldByIndex(f.index)
		switch fv.Kind() {
		case reflect.Pointer:
			if !fv.IsNil() && fv.Elem().Kind() == reflect.String {
				add(f, fv.Elem().String())
			}
		case reflect.Slice:
			if fv.Type().Elem().Kind() == reflect.String {
				for i := range fv.Len() {
					add(f, fv.Index(i).String())
				}
			}
		}
	}
	if service == "iam" && len(out) == 0 {
		// Operations on "the calling user" when no UserName is given.
		if p, ok := auth.PrincipalFrom(ctx); ok && p.Type == auth.User {
			if _, has := v.Type().FieldByName("UserName"); has {
				out = append(out, p.ARN)
			}
		}
	}
	return out
}

// fieldsOf returns the resource members of an input type, cached per type.
func (s *Service) fieldsOf(service string, t reflect.Type) []boundField {
	if c, ok := s.fieldCache.Load(t); ok {
		return c.([]boundField)
	}
	var out []boundField
	for _, rf := range resourceFields[service] {
		if sf, ok := t.FieldByName(rf.field); ok {
			out = append(out, boundField{index: sf.Index, resourceField: rf})
		}
	}
	s.fieldCache.Store(t, out)
	return out
}

// iamARN builds the ARN of a named IAM entity, with its path: the input's
// Path for a Create, the stored one otherwise, "/" when unknown.
func (s *Service) iamARN(ctx context.Context, acct, action, typ, name string, in reflect.Value) string {
	if typ == "service-linked-role" {
		if ls, ok := linkedServices[name]; ok {
			return policy.IAMARN(acct, policy.IAMRole, ls.path, ls.role)
		}
		return policy.IAMARN(acct, policy.IAMRole, "/aws-service-role/"+name+"/", "*")
	}
	if strings.HasPrefix(action, "Create") {
		if f := in.FieldByName("Path"); f.IsValid() && f.Kind() == reflect.Pointer && !f.IsNil() {
			return policy.IAMARN(acct, typ, f.Elem().String(), name)
		}
	}
	path := "/"
	kind := map[string]string{policy.IAMUser: kindUser, policy.IAMGroup: kindGroup, policy.IAMRole: kindRole,
		policy.IAMInstanceProfile: kindProfile, policy.IAMMFA: kindMFA}[typ]
	if kind != "" {
		var rec struct {
			Name string `json:"name"`
			Path string `json:"path"`
		}
		if err := s.view(ctx, func(tx store.Tx) error { return store.GetJSON(tx, key(acct, kind, name), &rec) }); err == nil {
			path, name = rec.Path, rec.Name
		}
	}
	return policy.IAMARN(acct, typ, path, name)
}
