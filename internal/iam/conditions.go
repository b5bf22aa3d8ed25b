package iam

import (
	"reflect"
	"strconv"
)

// Service-specific condition keys: the values a request's input gives the
// keys AWS defines for the service (the Service Authorization Reference's
// "Condition keys" of ElastiCache), found by input member name like the
// resource table. A key is present only when the input sets its member,
// so a policy condition on an absent key behaves as on AWS (…IfExists,
// Null).

// conditionField maps an input member to a condition key; set, when
// true, gives the key "true" for any value of the member (AuthToken ->
// elasticache:AuthTokenEnabled).
type conditionField struct {
	field, key string
	set        bool
}

// conditionFields is a read-only table.
var conditionFields = map[string][]conditionField{
	"elasticache": {
		{field: "CacheNodeType", key: "elasticache:CacheNodeType"},
		{field: "Engine", key: "elasticache:EngineType"},
		{field: "EngineVersion", key: "elasticache:EngineVersion"},
		{field: "CacheParameterGroupName", key: "elasticache:CacheParameterGroupName"},
		{field: "AutomaticFailoverEnabled", key: "elasticache:AutomaticFailoverEnabled"},
		{field: "MultiAZEnabled", key: "elasticache:MultiAZEnabled"},
		{field: "NumNodeGroups", key: "elasticache:NumNodeGroups"},
		{field: "ReplicasPerNodeGroup", key: "elasticache:ReplicasPerNodeGroup"},
		{field: "SnapshotRetentionLimit", key: "elasticache:SnapshotRetentionLimit"},
		{field: "AtRestEncryptionEnabled", key: "elasticache:AtRestEncryptionEnabled"},
		{field: "TransitEncryptionEnabled", key: "elasticache:TransitEncryptionEnabled"},
		{field: "KmsKeyId", key: "elasticache:KmsKeyId"},
		{field: "AuthToken", key: "elasticache:AuthTokenEnabled", set: true},
	},
}

// ConditionKeys returns the service-specific condition keys of a request
// (endpoint.Config.Conditions): nil when the input sets none.
func ConditionKeys(service, _ string, in any) map[string][]string {
	fields := conditionFields[service]
	if len(fields) == 0 || in == nil {
		return nil
	}
	v := reflect.ValueOf(in)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return nil
	}
	v = v.Elem()
	var out map[string][]string
	for _, f := range fields {
		fv := v.FieldByName(f.field)
		if !fv.IsValid() || fv.Kind() != reflect.Pointer || fv.IsNil() {
			continue
		}
		var s string
		switch e := fv.Elem(); {
		case f.set:
			s = "true"
		case e.Kind() == reflect.String:
			s = e.String()
		case e.Kind() == reflect.Bool:
			s = strconv.FormatBool(e.Bool())
		case e.CanInt():
			s = strconv.FormatInt(e.Int(), 10)
		default:
			continue
		}
		if out == nil {
			out = map[string][]string{}
		}
		out[f.key] = []string{s}
	}
	return out
}
