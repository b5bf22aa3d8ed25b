package iam

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/cachalot-dev/cachalot/internal/auth"
	"github.com/cachalot-dev/cachalot/internal/iam/policy"
	"github.com/cachalot-dev/cachalot/internal/store"
)

// Resource-level authorization: which ARNs an ElastiCache, IAM or STS
// operation acts on, found generically in its input by member name. The
// tables say, per service, which input members name a resource and of which
// type. Every ARN is the canonical one the operation will act on, whatever
// way the input names it: ElastiCache ids lower-cased as ElastiCache stores
// them, IAM names (case-insensitive) and IAM entity ARNs resolved to the
// stored name and path. EC2 names its resources itself, through its model
// (ec2.Service.ResourceARNs); the wiring routes each service to its namer.

type arnKind int

const (
	kindElastiCache  arnKind = iota // arn:aws:elasticache:<region>:<acct>:<type>:<id>
	kindEC2                         // arn:aws:ec2:<region>:<acct>:<type>/<id>
	kindIAMName                     // arn:aws:iam::<acct>:<type><path><name>
	kindIAMNewName                  // the new name of a renamed user or group
	kindARN                         // the member is an ARN already
	kindAccessKey                   // an access key id: its user's ARN
	kindDeletionTask                // a service-linked role deletion task: the role's ARN
)

type resourceField struct {
	field string
	kind  arnKind
	typ   string
	// action, when set, limits the member to that action (PolicyName names
	// a managed policy only in CreatePolicy; elsewhere an inline policy).
	action string
}

// resourceFields is a read-only table.
var resourceFields = map[string][]resourceField{
	"elasticache": {
		{field: "CacheClusterId", kind: kindElastiCache, typ: policy.ECCluster},
		{field: "CacheClusterIds", kind: kindElastiCache, typ: policy.ECCluster},
		// A replication group's member clusters: the primary a group is
		// created around or promoted to, replicas removed, the one
		// snapshots are taken from.
		{field: "PrimaryClusterId", kind: kindElastiCache, typ: policy.ECCluster},
		{field: "ReplicasToRemove", kind: kindElastiCache, typ: policy.ECCluster},
		{field: "SnapshottingClusterId", kind: kindElastiCache, typ: policy.ECCluster},
		{field: "ReplicationGroupId", kind: kindElastiCache, typ: policy.ECReplicationGroup},
		{field: "ReplicationGroupIds", kind: kindElastiCache, typ: policy.ECReplicationGroup},
		{field: "GlobalReplicationGroupId", kind: kindElastiCache, typ: policy.ECGlobalRG},
		{field: "CacheParameterGroupName", kind: kindElastiCache, typ: policy.ECParameterGroup},
		{field: "CacheSubnetGroupName", kind: kindElastiCache, typ: policy.ECSubnetGroup},
		{field: "CacheSecurityGroupName", kind: kindElastiCache, typ: policy.ECSecurityGroup},
		{field: "CacheSecurityGroupNames", kind: kindElastiCache, typ: policy.ECSecurityGroup},
		{field: "SnapshotName", kind: kindElastiCache, typ: policy.ECSnapshot},
		{field: "SourceSnapshotName", kind: kindElastiCache, typ: policy.ECSnapshot},
		{field: "TargetSnapshotName", kind: kindElastiCache, typ: policy.ECSnapshot},
		{field: "FinalSnapshotIdentifier", kind: kindElastiCache, typ: policy.ECSnapshot},
		{field: "UserId", kind: kindElastiCache, typ: policy.ECUser},
		{field: "UserIds", kind: kindElastiCache, typ: policy.ECUser},
		{field: "UserGroupId", kind: kindElastiCache, typ: policy.ECUserGroup},
		{field: "UserGroupIds", kind: kindElastiCache, typ: policy.ECUserGroup},
		{field: "UserIdsToAdd", kind: kindElastiCache, typ: policy.ECUser},
		{field: "UserIdsToRemove", kind: kindElastiCache, typ: policy.ECUser},
		{field: "UserGroupIdsToAdd", kind: kindElastiCache, typ: policy.ECUserGroup},
		{field: "UserGroupIdsToRemove", kind: kindElastiCache, typ: policy.ECUserGroup},
		{field: "ServerlessCacheName", kind: kindElastiCache, typ: policy.ECServerlessCache},
		{field: "ServerlessCacheSnapshotName", kind: kindElastiCache, typ: policy.ECServerlessSnap},
		{field: "SourceServerlessCacheSnapshotName", kind: kindElastiCache, typ: policy.ECServerlessSnap},
		{field: "TargetServerlessCacheSnapshotName", kind: kindElastiCache, typ: policy.ECServerlessSnap},
		// DeleteServerlessCache's final snapshot; the snapshot a new
		// serverless cache restores, by ARN.
		{field: "FinalSnapshotName", kind: kindElastiCache, typ: policy.ECServerlessSnap},
		{field: "SnapshotArnsToRestore", kind: kindARN},
		{field: "ReservedCacheNodeId", kind: kindElastiCache, typ: policy.ECReservedInstance},
		{field: "ResourceName", kind: kindARN},
		// Cachalot's compute-connection actions name an EC2 instance.
		{field: "InstanceId", kind: kindEC2, typ: policy.EC2Instance},
	},
	"iam": {
		{field: "UserName", kind: kindIAMName, typ: policy.IAMUser},
		{field: "GroupName", kind: kindIAMName, typ: policy.IAMGroup},
		{field: "RoleName", kind: kindIAMName, typ: policy.IAMRole},
		{field: "InstanceProfileName", kind: kindIAMName, typ: policy.IAMInstanceProfile},
		{field: "VirtualMFADeviceName", kind: kindIAMName, typ: policy.IAMMFA},
		{field: "PolicyName", kind: kindIAMName, typ: policy.IAMPolicy, action: "CreatePolicy"},
		{field: "NewUserName", kind: kindIAMNewName, typ: policy.IAMUser},
		{field: "NewGroupName", kind: kindIAMNewName, typ: policy.IAMGroup},
		{field: "PolicyArn", kind: kindARN},
		{field: "SerialNumber", kind: kindARN},
		{field: "PolicySourceArn", kind: kindARN},
		{field: "AccessKeyId", kind: kindAccessKey, action: "GetAccessKeyLastUsed"},
		{field: "DeletionTaskId", kind: kindDeletionTask},
		{field: "AWSServiceName", kind: kindIAMName, typ: "service-linked-role"},
	},
	"sts": {
		{field: "RoleArn", kind: kindARN},
	},
}

// foldedElastiCache are the ElastiCache resource types whose ids the
// service stores lower-cased (as ElastiCache does): "VICTIM" and "victim"
// are the same cluster, so the ARN is built from the lower-cased id.
var foldedElastiCache = map[string]bool{
	policy.ECCluster: true, policy.ECReplicationGroup: true, policy.ECParameterGroup: true,
	policy.ECSubnetGroup: true, policy.ECSecurityGroup: true, policy.ECSnapshot: true, policy.ECServerlessCache: true,
	policy.ECServerlessSnap: true,
}

type boundField struct {
	index []int
	resourceField
}

// Resources implements the endpoint's resources hook for ElastiCache, IAM
// and STS: the canonical ARNs an operation acts on, from its input; nil
// (authorize on "*") when it names none.
func (s *Service) Resources(ctx context.Context, service, action string, in any) ([]string, error) {
	if in == nil {
		return nil, nil
	}
	v := reflect.ValueOf(in)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return nil, nil
	}
	v = v.Elem()
	fields := s.fieldsOf(service, v.Type())
	if len(fields) == 0 {
		return nil, nil
	}
	n := namer{s: s, scope: auth.ScopeFrom(ctx), action: action, in: v}
	for _, f := range fields {
		if f.action != "" && f.action != action {
			continue
		}
		fv := v.FieldByIndex(f.index)
		switch fv.Kind() {
		case reflect.Pointer:
			if !fv.IsNil() && fv.Elem().Kind() == reflect.String {
				n.add(ctx, f, fv.Elem().String())
			}
		case reflect.Slice:
			if fv.Type().Elem().Kind() == reflect.String {
				for i := range fv.Len() {
					n.add(ctx, f, fv.Index(i).String())
				}
			}
		}
	}
	if n.err != nil {
		return nil, n.err
	}
	if service == "iam" && len(n.out) == 0 {
		// Operations on "the calling user" when no UserName is given.
		if p, ok := auth.PrincipalFrom(ctx); ok && p.Type == auth.User {
			if _, has := v.Type().FieldByName("UserName"); has {
				n.out = append(n.out, p.ARN)
			}
		}
	}
	return n.out, nil
}

// namer collects the ARNs of one input.
type namer struct {
	s      *Service
	scope  auth.Scope
	action string
	in     reflect.Value
	out    []string
	err    error
}

func (n *namer) add(ctx context.Context, f boundField, id string) {
	if id == "" || n.err != nil {
		return
	}
	acct := n.scope.AccountID
	var arn string
	var err error
	switch f.kind {
	case kindElastiCache:
		region := n.scope.Region
		if f.typ == policy.ECGlobalRG {
			region = ""
		}
		if foldedElastiCache[f.typ] {
			id = strings.ToLower(id)
		}
		arn = policy.ElastiCacheARN(region, acct, f.typ, id)
	case kindEC2:
		arn = policy.EC2ARN(n.scope.Region, acct, f.typ, id)
	case kindARN:
		arn, err = n.s.canonicalARN(ctx, id)
	case kindIAMName:
		arn, err = n.s.iamARN(ctx, acct, n.action, f.typ, id, n.in)
	case kindIAMNewName:
		arn, err = n.s.renamedARN(ctx, acct, f.typ, id, n.in)
	case kindAccessKey:
		arn, err = n.s.accessKeyUserARN(ctx, id)
	case kindDeletionTask:
		arn = deletionTaskRoleARN(acct, id)
	}
	if err != nil {
		n.err = err
		return
	}
	if arn != "" {
		n.out = append(n.out, arn)
	}
}

// fieldsOf returns the resource members of an input type, cached per type.
func (s *Service) fieldsOf(service string, t reflect.Type) []boundField {
	type cacheKey struct {
		service string
		t       reflect.Type
	}
	if c, ok := s.fieldCache.Load(cacheKey{service, t}); ok {
		return c.([]boundField)
	}
	var out []boundField
	for _, rf := range resourceFields[service] {
		if sf, ok := t.FieldByName(rf.field); ok {
			out = append(out, boundField{index: sf.Index, resourceField: rf})
		}
	}
	s.fieldCache.Store(cacheKey{service, t}, out)
	return out
}

// storedKinds maps the IAM ARN types whose entities are stored by name to
// their store kinds.
var storedKinds = map[string]string{policy.IAMUser: kindUser, policy.IAMGroup: kindGroup, policy.IAMRole: kindRole,
	policy.IAMInstanceProfile: kindProfile, policy.IAMMFA: kindMFA}

// stored returns the name and path an IAM entity is stored under (names
// are case-insensitive); ok is false when there is no such entity.
func (s *Service) stored(ctx context.Context, acct, typ, name string) (storedName, path string, ok bool, err error) {
	kind := storedKinds[typ]
	if kind == "" || acct == "" {
		return "", "", false, nil
	}
	var rec struct {
		Name string `json:"name"`
		Path string `json:"path"`
	}
	err = s.view(ctx, func(tx store.Tx) error { return store.GetJSON(tx, key(acct, kind, name), &rec) })
	if errors.Is(err, store.ErrNotFound) {
		return "", "", false, nil
	}
	if err != nil {
		return "", "", false, fmt.Errorf("look up %s %s: %w", typ, name, err)
	}
	return rec.Name, rec.Path, true, nil
}

// iamARN builds the ARN of a named IAM entity, with its path: the input's
// Path for a Create, the stored one otherwise, "/" when unknown.
func (s *Service) iamARN(ctx context.Context, acct, action, typ, name string, in reflect.Value) (string, error) {
	if typ == "service-linked-role" {
		if ls, ok := linkedServices[name]; ok {
			return policy.IAMARN(acct, policy.IAMRole, ls.path, ls.role), nil
		}
		return policy.IAMARN(acct, policy.IAMRole, "/aws-service-role/"+name+"/", "*"), nil
	}
	if strings.HasPrefix(action, "Create") {
		if f := in.FieldByName("Path"); f.IsValid() && f.Kind() == reflect.Pointer && !f.IsNil() {
			return policy.IAMARN(acct, typ, f.Elem().String(), name), nil
		}
	}
	stored, path, ok, err := s.stored(ctx, acct, typ, name)
	if err != nil || !ok {
		return policy.IAMARN(acct, typ, "/", name), err
	}
	return policy.IAMARN(acct, typ, path, stored), nil
}

// renamedARN is the ARN a user or group will have after UpdateUser or
// UpdateGroup renames it: renaming needs permission on both names, as on
// AWS. The path is the new one when given, the current one otherwise.
func (s *Service) renamedARN(ctx context.Context, acct, typ, newName string, in reflect.Value) (string, error) {
	if f := in.FieldByName("NewPath"); f.IsValid() && f.Kind() == reflect.Pointer && !f.IsNil() {
		return policy.IAMARN(acct, typ, f.Elem().String(), newName), nil
	}
	old := in.FieldByName(map[string]string{policy.IAMUser: "UserName", policy.IAMGroup: "GroupName"}[typ])
	path := "/"
	if old.IsValid() && old.Kind() == reflect.Pointer && !old.IsNil() {
		_, p, ok, err := s.stored(ctx, acct, typ, old.Elem().String())
		if err != nil {
			return "", err
		}
		if ok {
			path = p
		}
	}
	return policy.IAMARN(acct, typ, path, newName), nil
}

// canonicalARN returns the ARN an operation given arn will act on:
// ElastiCache ids lower-cased where ElastiCache folds them, IAM users,
// groups, roles, instance profiles and MFA devices with their stored name
// and path (IAM finds them by name, whatever the case). Anything else is
// returned as given.
func (s *Service) canonicalARN(ctx context.Context, arn string) (string, error) {
	a, err := policy.ParseARN(arn)
	if err != nil {
		return arn, nil
	}
	switch a.Service {
	case "elasticache":
		typ, id := a.ResourceType()
		if foldedElastiCache[typ] && strings.HasPrefix(a.Resource, typ+":") {
			a.Resource = typ + ":" + strings.ToLower(id)
			return a.String(), nil
		}
	case "iam":
		typ, _, name := policy.IAMPathName(a)
		if storedKinds[typ] == "" || name == "" {
			return arn, nil
		}
		stored, path, ok, err := s.stored(ctx, a.AccountID, typ, name)
		if err != nil || !ok {
			return arn, err
		}
		return policy.IAMARN(a.AccountID, typ, path, stored), nil
	}
	return arn, nil
}

// accessKeyUserARN is the ARN of the user an access key belongs to
// (GetAccessKeyLastUsed acts on it); "" for an unknown key.
func (s *Service) accessKeyUserARN(ctx context.Context, akid string) (string, error) {
	var k accessKeyRec
	err := s.view(ctx, func(tx store.Tx) error { return store.GetJSON(tx, accessKeyKey(akid), &k) })
	if errors.Is(err, store.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("look up access key %s: %w", akid, err)
	}
	stored, path, ok, err := s.stored(ctx, k.Account, policy.IAMUser, k.User)
	if err != nil || !ok {
		return "", err
	}
	return policy.IAMARN(k.Account, policy.IAMUser, path, stored), nil
}

// deletionTaskRoleARN is the ARN of the service-linked role a deletion task
// (task/<path><name>/<uuid>, see DeleteServiceLinkedRole) deleted.
func deletionTaskRoleARN(acct, task string) string {
	rest, ok := strings.CutPrefix(task, "task/")
	i := strings.LastIndexByte(rest, '/')
	if !ok || i < 0 {
		return ""
	}
	rest = rest[:i]
	j := strings.LastIndexByte(rest, '/')
	return policy.IAMARN(acct, policy.IAMRole, "/"+rest[:j+1], rest[j+1:])
}
