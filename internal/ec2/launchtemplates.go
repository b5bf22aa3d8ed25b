package ec2

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cachalot-dev/cachalot/internal/api/ec2api"
	"github.com/cachalot-dev/cachalot/internal/awserr"
)

// Launch templates: named, versioned RunInstances parameters. A version's
// data is kept as given (RequestLaunchTemplateData, JSON); RunInstances
// with LaunchTemplate takes the version's parameters where the request
// gives none (a parameter set in the request wins, as on AWS) and then
// validates the result as any launch. Version specifiers are a number,
// $Latest or $Default (the default when none is given).

// ltRec is a launch template with its versions.
type ltRec struct {
	tagged
	ID          string      `json:"id"`
	Name        string      `json:"name"`
	Created     time.Time   `json:"created"`
	CreatedBy   string      `json:"createdBy"`
	Default     int64       `json:"default"`
	Latest      int64       `json:"latest"`
	Versions    []ltVersion `json:"versions"`
	ClientToken string      `json:"clientToken,omitempty"`
}

func (r *ltRec) id() string { return r.ID }

type ltVersion struct {
	Number      int64           `json:"n"`
	Description string          `json:"desc,omitempty"`
	Created     time.Time       `json:"created"`
	Data        json.RawMessage `json:"data"`
	ClientToken string          `json:"clientToken,omitempty"`
}

var ltNameRe = regexp.MustCompile(`^[a-zA-Z0-9().\-/_]{3,128}$`)

// findTemplate resolves a template by id or name (exactly one).
func findTemplate(st *scopeTx, id, name *string) (*ltRec, error) {
	switch {
	case id != nil && name != nil:
		return nil, awserr.InvalidParameterCombination("Launch template ID and launch template name cannot be specified in the same request.")
	case id != nil:
		return lookup[*ltRec](st, "lt", *id)
	case name != nil:
		for _, r := range listT[*ltRec](st, "lt") {
			if r.Name == *name {
				return r, nil
			}
		}
		return nil, errInvalidLaunchTemplateNameNotFound(*name)
	}
	return nil, awserr.MissingParameter("LaunchTemplateId or LaunchTemplateName")
}

// version resolves a version specifier.
func (r *ltRec) version(spec string) (*ltVersion, error) {
	n := int64(0)
	switch spec {
	case "", "$Default":
		n = r.Default
	case "$Latest":
		n = r.Latest
	default:
		v, err := strconv.ParseInt(spec, 10, 64)
		if err != nil || v < 1 {
			return nil, awserr.InvalidParameterValue("Value (%s) for parameter version is invalid. Expecting a version number, $Latest or $Default.", spec)
		}
		n = v
	}
	for k := range r.Versions {
		if r.Versions[k].Number == n {
			return &r.Versions[k], nil
		}
	}
	return nil, errInvalidLaunchTemplateVersionNotFound(spec, r.ID)
}

// checkTemplateData refuses at creation what no launch could honour.
func checkTemplateData(d *ec2api.RequestLaunchTemplateData) error {
	if d == nil {
		return awserr.MissingParameter("LaunchTemplateData")
	}
	switch {
	case d.InstanceRequirements != nil:
		return errUnsupportedOperation("The parameter InstanceRequirements is not supported: Cachalot launches the instance type named.")
	case len(d.ElasticGpuSpecifications) > 0:
		return errUnsupportedOperation("The parameter ElasticGpuSpecification is not supported: Elastic Graphics is retired.")
	case d.RamDiskId != nil:
		return errUnsupportedOperation("The parameter RamDiskId is not supported: Ramdisks are for paravirtual images; Cachalot images are hvm.")
	case d.ImageId != nil && strings.HasPrefix(*d.ImageId, "resolve:ssm:"):
		return errUnsupportedOperation("Image ids resolved from Systems Manager parameters (%s) are not supported by Cachalot.", *d.ImageId)
	case d.InstanceType != nil:
		if err := validInstanceType(*d.InstanceType); err != nil {
			return err
		}
	}
	run, err := templateRun(d)
	if err != nil {
		return err
	}
	if err := refuseParams("RunInstances", run); err != nil {
		return err
	}
	if _, err := tagsForTypes(run.TagSpecifications, "instance", "volume", "network-interface", "spot-instances-request"); err != nil {
		return err
	}
	return nil
}

// templateRun converts template data to the RunInstances parameters it
// stands for (the shapes share their field names).
func templateRun(d *ec2api.RequestLaunchTemplateData) (*ec2api.RunInstancesRequest, error) {
	b, err := json.Marshal(d)
	if err != nil {
		return nil, fmt.Errorf("encode launch template data: %w", err)
	}
	run := new(ec2api.RunInstancesRequest)
	if err := json.Unmarshal(b, run); err != nil {
		return nil, fmt.Errorf("convert launch template data: %w", err)
	}
	return run, nil
}

// ltRef is the template a launch used.
type ltRef struct{ id, name, version string }

// withLaunchTemplate returns the request with its launch template's
// parameters where it gives none.
func withLaunchTemplate(st *scopeTx, in *ec2api.RunInstancesRequest) (*ec2api.RunInstancesRequest, ltRef, error) {
	spec := in.LaunchTemplate
	if spec == nil {
		return in, ltRef{}, nil
	}
	lt, err := findTemplate(st, spec.LaunchTemplateId, spec.LaunchTemplateName)
	if err != nil {
		return nil, ltRef{}, err
	}
	v, err := lt.version(str(spec.Version))
	if err != nil {
		return nil, ltRef{}, err
	}
	var d ec2api.RequestLaunchTemplateData
	if err := json.Unmarshal(v.Data, &d); err != nil {
		return nil, ltRef{}, fmt.Errorf("decode launch template %s version %d: %w", lt.ID, v.Number, err)
	}
	run, err := templateRun(&d)
	if err != nil {
		return nil, ltRef{}, err
	}
	// Explicit parameters win, field by field.
	dst, src := reflect.ValueOf(run).Elem(), reflect.ValueOf(in).Elem()
	for i := range src.NumField() {
		if f := src.Field(i); !f.IsZero() {
			dst.Field(i).Set(f)
		}
	}
	run.LaunchTemplate = nil
	return run, ltRef{id: lt.ID, name: lt.Name, version: strconv.FormatInt(v.Number, 10)}, nil
}

func (r *ltRec) out() *ec2api.LaunchTemplate {
	return &ec2api.LaunchTemplate{CreateTime: ptr(r.Created), CreatedBy: ptr(r.CreatedBy), DefaultVersionNumber: ptr(r.Default),
		LatestVersionNumber: ptr(r.Latest), LaunchTemplateId: ptr(r.ID), LaunchTemplateName: ptr(r.Name), Tags: tagList(r.Tags)}
}

func (r *ltRec) versionOut(v *ltVersion) (ec2api.LaunchTemplateVersion, error) {
	var d ec2api.ResponseLaunchTemplateData
	if err := json.Unmarshal(v.Data, &d); err != nil {
		return ec2api.LaunchTemplateVersion{}, fmt.Errorf("decode launch template %s version %d: %w", r.ID, v.Number, err)
	}
	return ec2api.LaunchTemplateVersion{CreateTime: ptr(v.Created), CreatedBy: ptr(r.CreatedBy), DefaultVersion: ptr(v.Number == r.Default),
		LaunchTemplateData: &d, LaunchTemplateId: ptr(r.ID), LaunchTemplateName: ptr(r.Name), VersionDescription: ptr(v.Description),
		VersionNumber: ptr(v.Number)}, nil
}

// CreateLaunchTemplate implements ec2api.Operations.
func (s *Service) CreateLaunchTemplate(ctx context.Context, in *ec2api.CreateLaunchTemplateRequest) (*ec2api.CreateLaunchTemplateResult, error) {
	name := str(in.LaunchTemplateName)
	switch {
	case in.Operator != nil:
		return nil, errUnsupportedOperation("The parameter Operator is not supported: managed launch templates are not supported by Cachalot.")
	case name == "":
		return nil, awserr.MissingParameter("LaunchTemplateName")
	case !ltNameRe.MatchString(name):
		return nil, errInvalidLaunchTemplateNameMalformed()
	}
	if err := checkTemplateData(in.LaunchTemplateData); err != nil {
		return nil, err
	}
	data, err := json.Marshal(in.LaunchTemplateData)
	if err != nil {
		return nil, fmt.Errorf("encode launch template data: %w", err)
	}
	tags, err := tagsFor(in.TagSpecifications, "launch-template")
	if err != nil {
		return nil, err
	}
	var out *ec2api.LaunchTemplate
	err = s.update(ctx, scopeOf(ctx), func(t *txn, st *scopeTx) error {
		for _, r := range listT[*ltRec](st, "lt") {
			if tok := str(in.ClientToken); tok != "" && r.ClientToken == tok {
				out = r.out()
				return nil
			}
			if r.Name == name {
				return errInvalidLaunchTemplateNameAlreadyExists(name)
			}
		}
		if err := dryRun(in.DryRun); err != nil {
			return err
		}
		r := &ltRec{ID: newID("lt-"), Name: name, Created: t.now, CreatedBy: "arn:aws:iam::" + st.sc.Account + ":root", Default: 1, Latest: 1,
			ClientToken: str(in.ClientToken), Versions: []ltVersion{{Number: 1, Description: str(in.VersionDescription), Created: t.now, Data: data}}}
		r.Tags = tags
		st.put(r)
		out = r.out()
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &ec2api.CreateLaunchTemplateResult{LaunchTemplate: out}, nil
}

// mergeData overlays the top-level parameters of next on base (JSON objects).
func mergeData(base, next json.RawMessage) (json.RawMessage, error) {
	var a, b map[string]json.RawMessage
	if err := json.Unmarshal(base, &a); err != nil {
		return nil, fmt.Errorf("decode launch template data: %w", err)
	}
	if err := json.Unmarshal(next, &b); err != nil {
		return nil, fmt.Errorf("decode launch template data: %w", err)
	}
	for k, v := range b {
		if string(v) != "null" {
			a[k] = v
		}
	}
	out, err := json.Marshal(a)
	if err != nil {
		return nil, fmt.Errorf("encode launch template data: %w", err)
	}
	return out, nil
}

// CreateLaunchTemplateVersion implements ec2api.Operations. With
// SourceVersion the new version takes the source's parameters, those
// given overriding them.
func (s *Service) CreateLaunchTemplateVersion(ctx context.Context, in *ec2api.CreateLaunchTemplateVersionRequest) (*ec2api.CreateLaunchTemplateVersionResult, error) {
	if err := checkTemplateData(in.LaunchTemplateData); err != nil {
		return nil, err
	}
	data, err := json.Marshal(in.LaunchTemplateData)
	if err != nil {
		return nil, fmt.Errorf("encode launch template data: %w", err)
	}
	var out ec2api.LaunchTemplateVersion
	err = s.update(ctx, scopeOf(ctx), func(t *txn, st *scopeTx) error {
		lt, err := findTemplate(st, in.LaunchTemplateId, in.LaunchTemplateName)
		if err != nil {
			return err
		}
		if tok := str(in.ClientToken); tok != "" {
			for k := range lt.Versions {
				if lt.Versions[k].ClientToken == tok {
					out, err = lt.versionOut(&lt.Versions[k])
					return err
				}
			}
		}
		if in.SourceVersion != nil {
			src, err := lt.version(*in.SourceVersion)
			if err != nil {
				return err
			}
			if data, err = mergeData(src.Data, data); err != nil {
				return err
			}
		}
		if err := dryRun(in.DryRun); err != nil {
			return err
		}
		lt = mut[*ltRec](st, lt.ID)
		lt.Latest++
		lt.Versions = append(lt.Versions, ltVersion{Number: lt.Latest, Description: str(in.VersionDescription), Created: t.now, Data: data,
			ClientToken: str(in.ClientToken)})
		out, err = lt.versionOut(&lt.Versions[len(lt.Versions)-1])
		return err
	})
	if err != nil {
		return nil, err
	}
	return &ec2api.CreateLaunchTemplateVersionResult{LaunchTemplateVersion: &out}, nil
}

// ModifyLaunchTemplate implements ec2api.Operations: the default version.
func (s *Service) ModifyLaunchTemplate(ctx context.Context, in *ec2api.ModifyLaunchTemplateRequest) (*ec2api.ModifyLaunchTemplateResult, error) {
	var out *ec2api.LaunchTemplate
	err := s.update(ctx, scopeOf(ctx), func(t *txn, st *scopeTx) error {
		lt, err := findTemplate(st, in.LaunchTemplateId, in.LaunchTemplateName)
		if err != nil {
			return err
		}
		if in.DefaultVersion != nil {
			v, err := lt.version(*in.DefaultVersion)
			if err != nil {
				return err
			}
			if err := dryRun(in.DryRun); err != nil {
				return err
			}
			lt = mut[*ltRec](st, lt.ID)
			lt.Default = v.Number
		} else if err := dryRun(in.DryRun); err != nil {
			return err
		}
		out = lt.out()
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &ec2api.ModifyLaunchTemplateResult{LaunchTemplate: out}, nil
}

// DeleteLaunchTemplate implements ec2api.Operations.
func (s *Service) DeleteLaunchTemplate(ctx context.Context, in *ec2api.DeleteLaunchTemplateRequest) (*ec2api.DeleteLaunchTemplateResult, error) {
	var out *ec2api.LaunchTemplate
	err := s.update(ctx, scopeOf(ctx), func(t *txn, st *scopeTx) error {
		lt, err := findTemplate(st, in.LaunchTemplateId, in.LaunchTemplateName)
		if err != nil {
			return err
		}
		if err := dryRun(in.DryRun); err != nil {
			return err
		}
		out = lt.out()
		st.del(lt.ID)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &ec2api.DeleteLaunchTemplateResult{LaunchTemplate: out}, nil
}

var ltFilters = filterSet[*ltRec]{
	fields: map[string]func(*ltRec) []string{
		"create-time":          func(r *ltRec) []string { return timeOf(r.Created, true) },
		"launch-template-name": func(r *ltRec) []string { return one(r.Name) },
	},
	tags: func(r *ltRec) map[string]string { return r.Tags },
}

// DescribeLaunchTemplates implements ec2api.Operations.
func (s *Service) DescribeLaunchTemplates(ctx context.Context, in *ec2api.DescribeLaunchTemplatesRequest) (*ec2api.DescribeLaunchTemplatesResult, error) {
	if err := dryRun(in.DryRun); err != nil {
		return nil, err
	}
	out := &ec2api.DescribeLaunchTemplatesResult{LaunchTemplates: []ec2api.LaunchTemplate{}}
	err := s.view(ctx, scopeOf(ctx), func(t *txn, st *scopeTx) error {
		recs := listT[*ltRec](st, "lt")
		for _, id := range in.LaunchTemplateIds {
			if _, err := lookup[*ltRec](st, "lt", id); err != nil {
				return err
			}
		}
		for _, n := range in.LaunchTemplateNames {
			if !slices.ContainsFunc(recs, func(r *ltRec) bool { return r.Name == n }) {
				return errInvalidLaunchTemplateNameNotFound(n)
			}
		}
		recs = slices.DeleteFunc(slices.Clone(recs), func(r *ltRec) bool {
			return (len(in.LaunchTemplateIds) > 0 && !slices.Contains(in.LaunchTemplateIds, r.ID)) ||
				(len(in.LaunchTemplateNames) > 0 && !slices.Contains(in.LaunchTemplateNames, r.Name))
		})
		recs, err := filterItems(ltFilters, in.Filters, recs)
		if err != nil {
			return err
		}
		page, next, err := paginate(recs, func(r *ltRec) string { return r.ID }, in.MaxResults, in.NextToken, 1, 200)
		if err != nil {
			return err
		}
		for _, r := range page {
			out.LaunchTemplates = append(out.LaunchTemplates, *r.out())
		}
		out.NextToken = next
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
