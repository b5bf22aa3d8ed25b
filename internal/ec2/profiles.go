package ec2

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/cachalot-dev/cachalot/internal/api/ec2api"
	"github.com/cachalot-dev/cachalot/internal/awserr"
)

// IAM instance profiles of instances: IamInstanceProfile on RunInstances
// (or from a launch template), Associate/Describe/Disassociate/Replace
// IamInstanceProfileAssociation(s), and the profile in DescribeInstances.
// An instance has at most one association; what its role may do is IAM's,
// and the credentials reach the instance through the instance metadata
// service (Metadata; the wiring serves it).

// InstanceProfiles resolves the IAM instance profiles a request names. It
// is consumed here and implemented by the wiring over IAM; it is called
// outside any store transaction.
type InstanceProfiles interface {
	// FindInstanceProfile returns the profile of account named by arn (a
	// full ARN) or name: its ARN and unique id (AIPA…). ok is false when
	// there is none. It fails (UnauthorizedOperation) when the caller of
	// ctx may not pass the profile's role (iam:PassRole).
	FindInstanceProfile(ctx context.Context, account, arn, name string) (profileARN, profileID string, ok bool, err error)
}

// profileAssoc is an instance's association with an instance profile.
type profileAssoc struct {
	ID        string    `json:"id"` // iip-assoc-…
	ARN       string    `json:"arn"`
	ProfileID string    `json:"profileId"`
	Since     time.Time `json:"since"`
}

// name returns the profile's name, the last element of its ARN.
func (a *profileAssoc) name() string { return a.ARN[strings.LastIndexByte(a.ARN, '/')+1:] }

// resolveProfile validates an IamInstanceProfile specification and finds
// the profile, with AWS's errors.
func (s *Service) resolveProfile(ctx context.Context, sp *ec2api.IamInstanceProfileSpecification) (*profileAssoc, error) {
	arn, name := str(sp.Arn), str(sp.Name)
	switch {
	case arn != "" && name != "":
		return nil, awserr.InvalidParameterCombination("The parameter 'iamInstanceProfile.name' may not be used in combination with 'iamInstanceProfile.arn'")
	case arn == "" && name == "":
		return nil, awserr.MissingParameter("iamInstanceProfile")
	}
	bad := func() error {
		if arn != "" {
			return awserr.InvalidParameterValue("Value (%s) for parameter iamInstanceProfile.arn is invalid. Invalid IAM Instance Profile ARN", arn)
		}
		return awserr.InvalidParameterValue("Value (%s) for parameter iamInstanceProfile.name is invalid. Invalid IAM Instance Profile name", name)
	}
	sc := scopeOf(ctx)
	if s.cfg.Profiles == nil || validScope(sc) != nil {
		return nil, bad()
	}
	pa, pid, ok, err := s.cfg.Profiles.FindInstanceProfile(ctx, sc.Account, arn, name)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, bad()
	}
	return &profileAssoc{ARN: pa, ProfileID: pid}, nil
}

// launchProfile resolves the instance profile a RunInstances request
// names, itself or through its launch template (read in a view first: IAM
// is not consulted inside a store transaction). nil when none.
func (s *Service) launchProfile(ctx context.Context, in *ec2api.RunInstancesRequest) (*ec2api.IamInstanceProfileSpecification, *profileAssoc, error) {
	sp := in.IamInstanceProfile
	if sp == nil && in.LaunchTemplate != nil {
		err := s.view(ctx, scopeOf(ctx), func(t *txn, st *scopeTx) error {
			merged, _, err := withLaunchTemplate(st, in)
			if err == nil {
				sp = merged.IamInstanceProfile
			}
			return nil // the launch reports the template's errors
		})
		if err != nil {
			return nil, nil, err
		}
	}
	if sp == nil {
		return nil, nil, nil
	}
	a, err := s.resolveProfile(ctx, sp)
	return sp, a, err
}

// sameProfileSpec reports whether two specifications name the same way.
func sameProfileSpec(a, b *ec2api.IamInstanceProfileSpecification) bool {
	if a == nil || b == nil {
		return a == b
	}
	return str(a.Arn) == str(b.Arn) && str(a.Name) == str(b.Name)
}

func (a *profileAssoc) out(instance, state string) *ec2api.IamInstanceProfileAssociation {
	return &ec2api.IamInstanceProfileAssociation{AssociationId: ptr(a.ID), InstanceId: ptr(instance), State: ptr(state),
		IamInstanceProfile: &ec2api.IamInstanceProfile{Arn: ptr(a.ARN), Id: ptr(a.ProfileID)}, Timestamp: ptr(a.Since)}
}

// instanceForProfile returns the instance an association may be made on:
// one that is not shutting down or terminated.
func instanceForProfile(st *scopeTx, id string) (*instanceRec, error) {
	i, err := lookup[*instanceRec](st, "instance", id)
	if err != nil {
		return nil, err
	}
	if i.State == "terminated" || i.State == "shutting-down" {
		return nil, errIncorrectInstanceState("The instance '%s' is not in a valid state for this operation.", i.ID)
	}
	return i, nil
}

// AssociateIamInstanceProfile implements ec2api.Operations.
func (s *Service) AssociateIamInstanceProfile(ctx context.Context, in *ec2api.AssociateIamInstanceProfileRequest) (*ec2api.AssociateIamInstanceProfileResult, error) {
	if in.InstanceId == nil {
		return nil, awserr.MissingParameter("instanceId")
	}
	out, err := s.associateProfile(ctx, in.IamInstanceProfile, func(st *scopeTx) (*instanceRec, error) {
		i, err := instanceForProfile(st, str(in.InstanceId))
		if err == nil && i.Profile != nil {
			return nil, errIncorrectState("There is an existing association for instance %s", i.ID)
		}
		return i, err
	})
	if err != nil {
		return nil, err
	}
	return &ec2api.AssociateIamInstanceProfileResult{IamInstanceProfileAssociation: out}, nil
}

// associateProfile resolves the profile spec names and, in one
// transaction, gives the instance find returns a new association with it.
func (s *Service) associateProfile(ctx context.Context, spec *ec2api.IamInstanceProfileSpecification, find func(*scopeTx) (*instanceRec, error)) (*ec2api.IamInstanceProfileAssociation, error) {
	if spec == nil {
		return nil, awserr.MissingParameter("iamInstanceProfile")
	}
	a, err := s.resolveProfile(ctx, spec)
	if err != nil {
		return nil, err
	}
	var out *ec2api.IamInstanceProfileAssociation
	err = s.update(ctx, scopeOf(ctx), func(t *txn, st *scopeTx) error {
		i, err := find(st)
		if err != nil {
			return err
		}
		a.ID, a.Since = newID("iip-assoc-"), t.now
		mut[*instanceRec](st, i.ID).Profile = a
		out = a.out(i.ID, "associating")
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ReplaceIamInstanceProfileAssociation implements ec2api.Operations: the
// instance gets a new association with the profile named.
func (s *Service) ReplaceIamInstanceProfileAssociation(ctx context.Context, in *ec2api.ReplaceIamInstanceProfileAssociationRequest) (*ec2api.ReplaceIamInstanceProfileAssociationResult, error) {
	if in.AssociationId == nil {
		return nil, awserr.MissingParameter("associationId")
	}
	out, err := s.associateProfile(ctx, in.IamInstanceProfile, func(st *scopeTx) (*instanceRec, error) {
		return instanceOfAssociation(st, str(in.AssociationId))
	})
	if err != nil {
		return nil, err
	}
	return &ec2api.ReplaceIamInstanceProfileAssociationResult{IamInstanceProfileAssociation: out}, nil
}

// DisassociateIamInstanceProfile implements ec2api.Operations.
func (s *Service) DisassociateIamInstanceProfile(ctx context.Context, in *ec2api.DisassociateIamInstanceProfileRequest) (*ec2api.DisassociateIamInstanceProfileResult, error) {
	if in.AssociationId == nil {
		return nil, awserr.MissingParameter("associationId")
	}
	var out *ec2api.IamInstanceProfileAssociation
	err := s.update(ctx, scopeOf(ctx), func(t *txn, st *scopeTx) error {
		i, err := instanceOfAssociation(st, str(in.AssociationId))
		if err != nil {
			return err
		}
		out = i.Profile.out(i.ID, "disassociating")
		mut[*instanceRec](st, i.ID).Profile = nil
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &ec2api.DisassociateIamInstanceProfileResult{IamInstanceProfileAssociation: out}, nil
}

// instanceOfAssociation returns the instance with association id.
func instanceOfAssociation(st *scopeTx, id string) (*instanceRec, error) {
	for _, i := range listT[*instanceRec](st, "instance") {
		if i.Profile != nil && i.Profile.ID == id && i.State != "terminated" {
			return i, nil
		}
	}
	return nil, errInvalidAssociationIDNotFound("The association ID '%s' does not exist", id)
}

type assocView struct{ i *instanceRec }

func (v assocView) id() string { return v.i.Profile.ID }

var profileAssocFilters = filterSet[assocView]{fields: map[string]func(assocView) []string{
	"instance-id": func(v assocView) []string { return one(v.i.ID) },
	"state":       func(v assocView) []string { return one("associated") },
}}

// DescribeIamInstanceProfileAssociations implements ec2api.Operations.
// Associations are "associated" once made (the change is immediate), and
// those of terminated instances are gone.
func (s *Service) DescribeIamInstanceProfileAssociations(ctx context.Context, in *ec2api.DescribeIamInstanceProfileAssociationsRequest) (*ec2api.DescribeIamInstanceProfileAssociationsResult, error) {
	if len(in.AssociationIds) > 0 && in.MaxResults != nil {
		return nil, awserr.InvalidParameterCombination("The parameter associationIdSet cannot be used with the parameter maxResults")
	}
	out := &ec2api.DescribeIamInstanceProfileAssociationsResult{IamInstanceProfileAssociations: []ec2api.IamInstanceProfileAssociation{}}
	err := s.view(ctx, scopeOf(ctx), func(t *txn, st *scopeTx) error {
		var items []assocView
		for _, i := range listT[*instanceRec](st, "instance") {
			if i.Profile != nil && i.State != "terminated" {
				items = append(items, assocView{i})
			}
		}
		slices.SortFunc(items, func(a, b assocView) int { return strings.Compare(a.id(), b.id()) })
		if len(in.AssociationIds) > 0 {
			var sel []assocView
			for _, id := range in.AssociationIds {
				k := slices.IndexFunc(items, func(v assocView) bool { return v.id() == id })
				if k < 0 {
					return errInvalidAssociationIDNotFound("The association ID '%s' does not exist", id)
				}
				sel = append(sel, items[k])
			}
			items = sel
		}
		items, err := filterItems(profileAssocFilters, in.Filters, items)
		if err != nil {
			return err
		}
		page, next, err := paginate(items, assocView.id, in.MaxResults, in.NextToken, 5, 1000)
		if err != nil {
			return err
		}
		for _, v := range page {
			out.IamInstanceProfileAssociations = append(out.IamInstanceProfileAssociations, *v.i.Profile.out(v.i.ID, "associated"))
		}
		out.NextToken = next
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
