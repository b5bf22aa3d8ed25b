package iam

import (
	"context"
	"crypto/sha256"
	"encoding/base32"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/cachalot-dev/cachalot/internal/api/iamapi"
	"github.com/cachalot-dev/cachalot/internal/iam/policy"
	"github.com/cachalot-dev/cachalot/internal/store"
)

// entity is a user, group or role seen through what policies attach to.
type entity struct {
	kind, name string // name as written
	inline     *map[string]string
	attached   *[]string
	boundary   *string // nil for groups
	rec        any
	key        string
	serviceRol bool
}

func (e *entity) save(tx store.Tx) error { return store.PutJSON(tx, e.key, e.rec) }

func (s *Service) entity(tx store.Tx, acct, kind, name string) (*entity, error) {
	switch kind {
	case kindUser:
		u, err := s.getUser(tx, acct, name)
		if err != nil {
			return nil, err
		}
		return &entity{kind: kind, name: u.Name, inline: &u.Inline, attached: &u.Attached, boundary: &u.Boundary, rec: u, key: key(acct, kind, name)}, nil
	case kindGroup:
		g, err := s.getGroup(tx, acct, name)
		if err != nil {
			return nil, err
		}
		return &entity{kind: kind, name: g.Name, inline: &g.Inline, attached: &g.Attached, rec: g, key: key(acct, kind, name)}, nil
	default:
		r, err := s.getRole(tx, acct, name)
		if err != nil {
			return nil, err
		}
		return &entity{kind: kind, name: r.Name, inline: &r.Inline, attached: &r.Attached, boundary: &r.Boundary, rec: r, key: key(acct, kind, name), serviceRol: r.ServiceLinked != ""}, nil
	}
}

func noPolicy(arn string) error {
	return iamapi.ErrNoSuchEntityException("Policy %s does not exist or is not attachable.", arn)
}

// customerPolicy loads the customer managed policy with the given ARN in acct.
func (s *Service) customerPolicy(tx store.Tx, acct, arn string) (*policyRec, error) {
	a, err := policy.ParseARN(arn)
	if err != nil || a.Service != "iam" {
		return nil, iamapi.ErrInvalidInputException("ARN %s is not valid.", arn)
	}
	typ, path, name := policy.IAMPathName(a)
	if typ != policy.IAMPolicy || name == "" {
		return nil, iamapi.ErrInvalidInputException("ARN %s is not valid.", arn)
	}
	if a.AccountID != acct {
		return nil, noPolicy(arn)
	}
	var p policyRec
	err = store.GetJSON(tx, key(acct, kindPolicy, name), &p)
	if errors.Is(err, store.ErrNotFound) || (err == nil && (p.Path != path || p.Name != name)) {
		return nil, noPolicy(arn)
	}
	return &p, err
}

// checkPolicyExists reports NoSuchEntity unless arn names an AWS managed
// policy or a customer managed policy of acct.
func (s *Service) checkPolicyExists(tx store.Tx, acct, arn string) error {
	if _, ok := s.managedByID[arn]; ok {
		return nil
	}
	if strings.HasPrefix(arn, "arn:aws:iam::aws:") {
		return noPolicy(arn)
	}
	_, err := s.customerPolicy(tx, acct, arn)
	return err
}

func (p *policyRec) version(id string) *versionRec {
	for i := range p.Versions {
		if p.Versions[i].ID == id {
			return &p.Versions[i]
		}
	}
	return nil
}

func managedID(arn string) string {
	sum := sha256.Sum256([]byte(arn))
	return prefixPolicy + base32.StdEncoding.EncodeToString(sum[:])[:17]
}

func customerARN(acct string, p *policyRec) string {
	return policy.IAMARN(acct, policy.IAMPolicy, p.Path, p.Name)
}

func customerOut(acct string, p *policyRec, att *attachment) iamapi.Policy {
	return iamapi.Policy{Arn: ptr(customerARN(acct, p)), AttachmentCount: ptr(int32(att.count())), CreateDate: timePtr(p.Created),
		DefaultVersionId: ptr(p.Default), Description: optional(p.Description), IsAttachable: ptr(true), Path: ptr(p.Path),
		PermissionsBoundaryUsageCount: ptr(int32(att.boundaries)), PolicyId: ptr(p.ID), PolicyName: ptr(p.Name),
		UpdateDate: timePtr(p.Updated), Tags: tagsOut(p.Tags)}
}

func managedOut(m *managedPolicy, att *attachment) iamapi.Policy {
	return iamapi.Policy{Arn: ptr(m.meta.ARN), AttachmentCount: ptr(int32(att.count())), CreateDate: timePtr(m.meta.CreateDate),
		DefaultVersionId: ptr(m.meta.DefaultVersionID), Description: optional(m.meta.Description), IsAttachable: ptr(true),
		Path: ptr(m.meta.Path), PermissionsBoundaryUsageCount: ptr(int32(att.boundaries)), PolicyId: ptr(managedID(m.meta.ARN)),
		PolicyName: ptr(m.meta.Name), UpdateDate: timePtr(m.meta.UpdateDate)}
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// parseDoc validates an identity policy document, with IAM's error.
func parseDoc(doc string, kind policy.Kind) (*policy.Policy, error) {
	p, err := policy.Parse(doc, kind)
	var m *policy.MalformedError
	if errors.As(err, &m) {
		return nil, iamapi.ErrMalformedPolicyDocumentException("%s", m.Message)
	}
	if err != nil {
		return nil, iamapi.ErrMalformedPolicyDocumentException("%s", err.Error())
	}
	return p, nil
}

func docSize(doc string) int {
	n, err := policy.CanonicalSize(doc)
	if err != nil {
		return len(doc)
	}
	return n
}

func (s *Service) CreatePolicy(ctx context.Context, in *iamapi.CreatePolicyRequest) (*iamapi.CreatePolicyResponse, error) {
	if err := validate(in); err != nil {
		return nil, err
	}
	_, acct := caller(ctx)
	doc := str(in.PolicyDocument)
	if _, err := parseDoc(doc, policy.KindIdentity); err != nil {
		return nil, err
	}
	if docSize(doc) > maxManagedSize {
		return nil, iamapi.ErrLimitExceededException("Cannot exceed quota for PolicySize: %d", maxManagedSize)
	}
	id, err := newID(prefixPolicy)
	if err != nil {
		return nil, err
	}
	now := s.now().UTC()
	p := policyRec{Name: str(in.PolicyName), ID: id, Path: normPath(in.Path), Description: str(in.Description),
		Created: now, Updated: now, Default: "v1", Next: 2, Tags: mergeTags(nil, in.Tags),
		Versions: []versionRec{{ID: "v1", Document: doc, Created: now}}}
	err = s.update(ctx, func(tx store.Tx) error {
		if ok, err := exists(tx, key(acct, kindPolicy, p.Name)); err != nil || ok {
			if ok {
				return iamapi.ErrEntityAlreadyExistsException("A policy called %s already exists. Duplicate names are not allowed.", p.Name)
			}
			return err
		}
		if n, err := count(tx, prefix(acct, kindPolicy)); err != nil {
			return err
		} else if n >= maxPolicies {
			return iamapi.ErrLimitExceededException("Cannot exceed quota for PoliciesPerAccount: %d", maxPolicies)
		}
		return store.PutJSON(tx, key(acct, kindPolicy, p.Name), &p)
	})
	if err != nil {
		return nil, err
	}
	return &iamapi.CreatePolicyResponse{Policy: ptr(customerOut(acct, &p, &attachment{}))}, nil
}

func (s *Service) GetPolicy(ctx context.Context, in *iamapi.GetPolicyRequest) (*iamapi.GetPolicyResponse, error) {
	if err := validate(in); err != nil {
		return nil, err
	}
	_, acct := caller(ctx)
	arn := str(in.PolicyArn)
	var out iamapi.Policy
	err := s.view(ctx, func(tx store.Tx) error {
		att, err := s.attachments(tx, acct, arn)
		if err != nil {
			return err
		}
		if m, ok := s.managedByID[arn]; ok {
			out = managedOut(m, att)
			return nil
		}
		if strings.HasPrefix(arn, "arn:aws:iam::aws:") {
			return iamapi.ErrNoSuchEntityException("Policy %s was not found.", arn)
		}
		p, err := s.customerPolicy(tx, acct, arn)
		if err != nil {
			return err
		}
		out = customerOut(acct, p, att)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &iamapi.GetPolicyResponse{Policy: &out}, nil
}

func (s *Service) ListPolicies(ctx context.Context, in *iamapi.ListPoliciesRequest) (*iamapi.ListPoliciesResponse, error) {
	if err := validate(in); err != nil {
		return nil, err
	}
	_, acct := caller(ctx)
	scope := "All"
	if in.Scope != nil {
		scope = *in.Scope
	}
	onlyAttached := in.OnlyAttached != nil && *in.OnlyAttached
	var all []iamapi.Policy
	err := s.view(ctx, func(tx store.Tx) error {
		keep := func(p iamapi.Policy) bool {
			if !pathMatches(*p.Path, in.PathPrefix) {
				return false
			}
			if onlyAttached && *p.AttachmentCount == 0 && *p.PermissionsBoundaryUsageCount == 0 {
				return false
			}
			if in.PolicyUsageFilter != nil {
				if *in.PolicyUsageFilter == "PermissionsBoundary" && onlyAttached && *p.PermissionsBoundaryUsageCount == 0 {
					return false
				}
			}
			return true
		}
		if scope != "Local" {
			for _, m := range s.managed {
				mp := s.managedByID[m.ARN]
				att, err := s.attachments(tx, acct, m.ARN)
				if err != nil {
					return err
				}
				if p := managedOut(mp, att); keep(p) {
					p.Description = nil
					all = append(all, p)
				}
			}
		}
		if scope != "AWS" {
			ps, err := store.ListJSON[policyRec](tx, prefix(acct, kindPolicy))
			if err != nil {
				return err
			}
			for _, rec := range ps {
				att, err := s.attachments(tx, acct, customerARN(acct, rec))
				if err != nil {
					return err
				}
				if p := customerOut(acct, rec, att); keep(p) {
					p.Description, p.Tags = nil, nil
					all = append(all, p)
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	pg, trunc, marker, err := page(all, func(p iamapi.Policy) string { return *p.Arn }, in.Marker, in.MaxItems)
	if err != nil {
		return nil, err
	}
	if pg == nil {
		pg = []iamapi.Policy{}
	}
	return &iamapi.ListPoliciesResponse{Policies: pg, IsTruncated: trunc, Marker: marker}, nil
}

func (s *Service) DeletePolicy(ctx context.Context, in *iamapi.DeletePolicyRequest) error {
	if err := validate(in); err != nil {
		return err
	}
	_, acct := caller(ctx)
	arn := str(in.PolicyArn)
	if strings.HasPrefix(arn, "arn:aws:iam::aws:") {
		return iamapi.ErrUnmodifiableEntityException("Cannot delete an AWS managed policy.")
	}
	return s.update(ctx, func(tx store.Tx) error {
		p, err := s.customerPolicy(tx, acct, arn)
		if err != nil {
			return err
		}
		att, err := s.attachments(tx, acct, arn)
		if err != nil {
			return err
		}
		if att.count() > 0 || att.boundaries > 0 {
			return iamapi.ErrDeleteConflictException("Cannot delete a policy attached to entities.")
		}
		if len(p.Versions) > 1 {
			return iamapi.ErrDeleteConflictException("This policy has more than one version. Before you delete a policy, you must delete the policy's versions. The default version is deleted with the policy.")
		}
		return tx.Delete(key(acct, kindPolicy, p.Name))
	})
}

func (s *Service) CreatePolicyVersion(ctx context.Context, in *iamapi.CreatePolicyVersionRequest) (*iamapi.CreatePolicyVersionResponse, error) {
	if err := validate(in); err != nil {
		return nil, err
	}
	_, acct := caller(ctx)
	doc := str(in.PolicyDocument)
	if _, err := parseDoc(doc, policy.KindIdentity); err != nil {
		return nil, err
	}
	if docSize(doc) > maxManagedSize {
		return nil, iamapi.ErrLimitExceededException("Cannot exceed quota for PolicySize: %d", maxManagedSize)
	}
	arn := str(in.PolicyArn)
	if strings.HasPrefix(arn, "arn:aws:iam::aws:") {
		return nil, iamapi.ErrUnmodifiableEntityException("Cannot modify an AWS managed policy.")
	}
	var v versionRec
	setDefault := in.SetAsDefault != nil && *in.SetAsDefault
	err := s.update(ctx, func(tx store.Tx) error {
		p, err := s.customerPolicy(tx, acct, arn)
		if err != nil {
			return err
		}
		if len(p.Versions) >= maxVersions {
			return iamapi.ErrLimitExceededException("A managed policy can have up to %d versions. Before you create a new version, you must delete an existing version.", maxVersions)
		}
		v = versionRec{ID: "v" + strconv.Itoa(p.Next), Document: doc, Created: s.now().UTC()}
		p.Next++
		p.Versions = append(p.Versions, v)
		if setDefault {
			p.Default = v.ID
			p.Updated = v.Created
		}
		return store.PutJSON(tx, key(acct, kindPolicy, p.Name), p)
	})
	if err != nil {
		return nil, err
	}
	return &iamapi.CreatePolicyVersionResponse{PolicyVersion: &iamapi.PolicyVersion{
		CreateDate: timePtr(v.Created), IsDefaultVersion: ptr(setDefault), VersionId: ptr(v.ID)}}, nil
}

func (s *Service) GetPolicyVersion(ctx context.Context, in *iamapi.GetPolicyVersionRequest) (*iamapi.GetPolicyVersionResponse, error) {
	if err := validate(in); err != nil {
		return nil, err
	}
	_, acct := caller(ctx)
	arn, vid := str(in.PolicyArn), str(in.VersionId)
	notFound := iamapi.ErrNoSuchEntityException("Policy %s version %s does not exist or is not attachable.", arn, vid)
	if m, ok := s.managedByID[arn]; ok {
		if vid != m.meta.DefaultVersionID {
			return nil, notFound
		}
		return &iamapi.GetPolicyVersionResponse{PolicyVersion: &iamapi.PolicyVersion{CreateDate: timePtr(m.meta.UpdateDate),
			Document: ptr(encodeDoc(m.meta.Document)), IsDefaultVersion: ptr(true), VersionId: ptr(vid)}}, nil
	}
	var out *iamapi.PolicyVersion
	err := s.view(ctx, func(tx store.Tx) error {
		p, err := s.customerPolicy(tx, acct, arn)
		if err != nil {
			return err
		}
		v := p.version(vid)
		if v == nil {
			return notFound
		}
		out = &iamapi.PolicyVersion{CreateDate: timePtr(v.Created), Document: ptr(encodeDoc(v.Document)),
			IsDefaultVersion: ptr(v.ID == p.Default), VersionId: ptr(v.ID)}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &iamapi.GetPolicyVersionResponse{PolicyVersion: out}, nil
}

func (s *Service) ListPolicyVersions(ctx context.Context, in *iamapi.ListPolicyVersionsRequest) (*iamapi.ListPolicyVersionsResponse, error) {
	if err := validate(in); err != nil {
		return nil, err
	}
	_, acct := caller(ctx)
	arn := str(in.PolicyArn)
	var vs []iamapi.PolicyVersion
	if m, ok := s.managedByID[arn]; ok {
		vs = []iamapi.PolicyVersion{{CreateDate: timePtr(m.meta.UpdateDate), IsDefaultVersion: ptr(true), VersionId: ptr(m.meta.DefaultVersionID)}}
	} else {
		err := s.view(ctx, func(tx store.Tx) error {
			p, err := s.customerPolicy(tx, acct, arn)
			if err != nil {
				return err
			}
			for i := len(p.Versions) - 1; i >= 0; i-- {
				v := p.Versions[i]
				vs = append(vs, iamapi.PolicyVersion{CreateDate: timePtr(v.Created), IsDefaultVersion: ptr(v.ID == p.Default), VersionId: ptr(v.ID)})
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	pg, trunc, marker, err := page(vs, func(v iamapi.PolicyVersion) string { return fmt.Sprintf("%010d", -len(*v.VersionId)) + *v.VersionId }, in.Marker, in.MaxItems)
	if err != nil {
		return nil, err
	}
	return &iamapi.ListPolicyVersionsResponse{Versions: pg, IsTruncated: trunc, Marker: marker}, nil
}

func (s *Service) DeletePolicyVersion(ctx context.Context, in *iamapi.DeletePolicyVersionRequest) error {
	if err := validate(in); err != nil {
		return err
	}
	_, acct := caller(ctx)
	arn, vid := str(in.PolicyArn), str(in.VersionId)
	if strings.HasPrefix(arn, "arn:aws:iam::aws:") {
		return iamapi.ErrUnmodifiableEntityException("Cannot modify an AWS managed policy.")
	}
	return s.update(ctx, func(tx store.Tx) error {
		p, err := s.customerPolicy(tx, acct, arn)
		if err != nil {
			return err
		}
		if p.version(vid) == nil {
			return iamapi.ErrNoSuchEntityException("Policy %s version %s does not exist or is not attachable.", arn, vid)
		}
		if p.Default == vid {
			return iamapi.ErrDeleteConflictException("Cannot delete the default version of a policy.")
		}
		p.Versions = slices.DeleteFunc(p.Versions, func(v versionRec) bool { return v.ID == vid })
		return store.PutJSON(tx, key(acct, kindPolicy, p.Name), p)
	})
}

func (s *Service) SetDefaultPolicyVersion(ctx context.Context, in *iamapi.SetDefaultPolicyVersionRequest) error {
	if err := validate(in); err != nil {
		return err
	}
	_, acct := caller(ctx)
	arn, vid := str(in.PolicyArn), str(in.VersionId)
	if strings.HasPrefix(arn, "arn:aws:iam::aws:") {
		return iamapi.ErrUnmodifiableEntityException("Cannot modify an AWS managed policy.")
	}
	return s.update(ctx, func(tx store.Tx) error {
		p, err := s.customerPolicy(tx, acct, arn)
		if err != nil {
			return err
		}
		if p.version(vid) == nil {
			return iamapi.ErrNoSuchEntityException("Policy %s version %s does not exist or is not attachable.", arn, vid)
		}
		p.Default = vid
		p.Updated = s.now().UTC()
		return store.PutJSON(tx, key(acct, kindPolicy, p.Name), p)
	})
}

func (s *Service) TagPolicy(ctx context.Context, in *iamapi.TagPolicyRequest) error {
	if err := validate(in); err != nil {
		return err
	}
	_, acct := caller(ctx)
	return s.update(ctx, func(tx store.Tx) error {
		p, err := s.customerPolicy(tx, acct, str(in.PolicyArn))
		if err != nil {
			return err
		}
		p.Tags = mergeTags(p.Tags, in.Tags)
		return store.PutJSON(tx, key(acct, kindPolicy, p.Name), p)
	})
}

func (s *Service) UntagPolicy(ctx context.Context, in *iamapi.UntagPolicyRequest) error {
	if err := validate(in); err != nil {
		return err
	}
	_, acct := caller(ctx)
	return s.update(ctx, func(tx store.Tx) error {
		p, err := s.customerPolicy(tx, acct, str(in.PolicyArn))
		if err != nil {
			return err
		}
		p.Tags = untag(p.Tags, in.TagKeys)
		return store.PutJSON(tx, key(acct, kindPolicy, p.Name), p)
	})
}

func (s *Service) ListPolicyTags(ctx context.Context, in *iamapi.ListPolicyTagsRequest) (*iamapi.ListPolicyTagsResponse, error) {
	if err := validate(in); err != nil {
		return nil, err
	}
	_, acct := caller(ctx)
	var p *policyRec
	if err := s.view(ctx, func(tx store.Tx) (err error) { p, err = s.customerPolicy(tx, acct, str(in.PolicyArn)); return }); err != nil {
		return nil, err
	}
	tags := tagsOut(p.Tags)
	if tags == nil {
		tags = []iamapi.Tag{}
	}
	return &iamapi.ListPolicyTagsResponse{Tags: tags, IsTruncated: ptr(false)}, nil
}

// CheckPolicyARN reports NoSuchEntity unless arn names an AWS managed policy
// or a customer managed policy of acct (STS checks session PolicyArns).
func (s *Service) CheckPolicyARN(ctx context.Context, acct, arn string) error {
	return s.view(ctx, func(tx store.Tx) error { return s.checkPolicyExists(tx, acct, arn) })
}
