package policy

import (
	"embed"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// managedFS holds the AWS managed policies: index.json (metadata) and one
// <PolicyName>.json per policy with its default version's document, verbatim.
// Read-only data; see README.md for where each document comes from.
//
//go:embed managed/*.json
var managedFS embed.FS

// Managed is an AWS managed policy as IAM's GetPolicy / GetPolicyVersion
// describe it.
type Managed struct {
	Name             string
	ARN              string
	Path             string
	DefaultVersionID string
	CreateDate       time.Time
	UpdateDate       time.Time
	Description      string
	// Document is the default version's JSON document.
	Document string
	// Subset is true when Document is a documented subset of AWS's (see
	// README.md: ReadOnlyAccess).
	Subset bool
}

// ElastiCache's service-linked role AWSServiceRoleForElastiCache, trusted by
// elasticache.amazonaws.com, with ElastiCacheServiceRolePolicy attached.
const (
	ElastiCacheServiceName     = "elasticache.amazonaws.com"
	ElastiCacheServiceRoleName = "AWSServiceRoleForElastiCache"
	// ElastiCacheServiceRolePath is the role's path; its ARN is
	// IAMARN(account, IAMRole, ElastiCacheServiceRolePath, ElastiCacheServiceRoleName).
	ElastiCacheServiceRolePath      = "/aws-service-role/elasticache.amazonaws.com/"
	ElastiCacheServiceRolePolicyARN = "arn:aws:iam::aws:policy/aws-service-role/ElastiCacheServiceRolePolicy"
)

// ElastiCacheServiceRoleTrust is the trust policy of AWSServiceRoleForElastiCache.
const ElastiCacheServiceRoleTrust = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"elasticache.amazonaws.com"},"Action":"sts:AssumeRole"}]}`

type managedIndex struct {
	PolicyName       string
	Arn              string
	Path             string
	DefaultVersionID string `json:"DefaultVersionId"`
	CreateDate       time.Time
	UpdateDate       time.Time
	Description      string
	Subset           bool
}

// ManagedPolicies returns every AWS managed policy Cachalot ships, in a fixed
// order. Each call reads the embedded data afresh; callers keep the result.
func ManagedPolicies() ([]Managed, error) {
	b, err := managedFS.ReadFile("managed/index.json")
	if err != nil {
		return nil, fmt.Errorf("read managed policy index: %w", err)
	}
	var idx []managedIndex
	if err := json.Unmarshal(b, &idx); err != nil {
		return nil, fmt.Errorf("decode managed policy index: %w", err)
	}
	out := make([]Managed, 0, len(idx))
	for _, m := range idx {
		doc, err := managedFS.ReadFile("managed/" + m.PolicyName + ".json")
		if err != nil {
			return nil, fmt.Errorf("read managed policy %s: %w", m.PolicyName, err)
		}
		out = append(out, Managed{
			Name: m.PolicyName, ARN: m.Arn, Path: m.Path, DefaultVersionID: m.DefaultVersionID,
			CreateDate: m.CreateDate, UpdateDate: m.UpdateDate, Description: m.Description,
			Document: string(doc), Subset: m.Subset,
		})
	}
	return out, nil
}

// ManagedPolicy returns the managed policy with the given name or ARN.
func ManagedPolicy(nameOrARN string) (Managed, bool) {
	all, err := ManagedPolicies()
	if err != nil {
		return Managed{}, false
	}
	for _, m := range all {
		if m.ARN == nameOrARN || (!strings.HasPrefix(nameOrARN, "arn:") && m.Name == nameOrARN) {
			return m, true
		}
	}
	return Managed{}, false
}

// Parse parses the managed policy's document as an identity policy.
func (m Managed) Parse() (*Policy, error) {
	return parseNamed(m.Name, m.Document, KindIdentity)
}

// Named returns the parsed policy named by its ARN, ready for a Set.
func (m Managed) Named() (Named, error) {
	p, err := m.Parse()
	if err != nil {
		return Named{}, err
	}
	return Named{Name: m.ARN, Policy: p}, nil
}
