package ec2

import (
	"context"
	"encoding/json"
	"slices"
	"strconv"

	"github.com/cachalot-dev/cachalot/internal/api/ec2api"
	"github.com/cachalot-dev/cachalot/internal/awserr"
)

// ltVersionView is one version of a template, for filters.
type ltVersionView struct {
	lt *ltRec
	v  *ltVersion
	d  ec2api.RequestLaunchTemplateData
}

// meta returns one metadata option of the version's data, if set.
func (x ltVersionView) meta(f func(*ec2api.LaunchTemplateInstanceMetadataOptionsRequest) *string) []string {
	if x.d.MetadataOptions == nil {
		return nil
	}
	return one(str(f(x.d.MetadataOptions)))
}

var ltVersionFilters = filterSet[ltVersionView]{fields: map[string]func(ltVersionView) []string{
	"create-time":        func(x ltVersionView) []string { return timeOf(x.v.Created, true) },
	"ebs-optimized":      func(x ltVersionView) []string { return boolStr(isTrue(x.d.EbsOptimized)) },
	"image-id":           func(x ltVersionView) []string { return one(str(x.d.ImageId)) },
	"instance-type":      func(x ltVersionView) []string { return one(str(x.d.InstanceType)) },
	"is-default-version": func(x ltVersionView) []string { return boolStr(x.v.Number == x.lt.Default) },
	"kernel-id":          func(x ltVersionView) []string { return one(str(x.d.KernelId)) },
	"ram-disk-id":        func(x ltVersionView) []string { return nil },
	"iam-instance-profile": func(x ltVersionView) []string {
		if x.d.IamInstanceProfile == nil {
			return nil
		}
		return one(str(x.d.IamInstanceProfile.Name))
	},
	"license-configuration-arn": func(x ltVersionView) []string { return nil },
	"network-card-index":        func(x ltVersionView) []string { return nil },
	"host-resource-group-arn":   func(x ltVersionView) []string { return nil },
	"http-endpoint": func(x ltVersionView) []string {
		return x.meta(func(m *ec2api.LaunchTemplateInstanceMetadataOptionsRequest) *string { return m.HttpEndpoint })
	},
	"http-protocol-ipv6": func(x ltVersionView) []string {
		return x.meta(func(m *ec2api.LaunchTemplateInstanceMetadataOptionsRequest) *string { return m.HttpProtocolIpv6 })
	},
	"http-tokens": func(x ltVersionView) []string {
		return x.meta(func(m *ec2api.LaunchTemplateInstanceMetadataOptionsRequest) *string { return m.HttpTokens })
	},
	"instance-metadata-tags": func(x ltVersionView) []string {
		return x.meta(func(m *ec2api.LaunchTemplateInstanceMetadataOptionsRequest) *string { return m.InstanceMetadataTags })
	},
	"http-protocol-ipv4": func(x ltVersionView) []string { return one("enabled") },
	"http-put-response-hop-limit": func(x ltVersionView) []string {
		if x.d.MetadataOptions == nil || x.d.MetadataOptions.HttpPutResponseHopLimit == nil {
			return nil
		}
		return one(itoa(*x.d.MetadataOptions.HttpPutResponseHopLimit))
	},
}}

// DescribeLaunchTemplateVersions implements ec2api.Operations: the
// versions of one template (by id or name), or, without one, the $Latest
// or $Default versions of every template, as AWS allows.
func (s *Service) DescribeLaunchTemplateVersions(ctx context.Context, in *ec2api.DescribeLaunchTemplateVersionsRequest) (*ec2api.DescribeLaunchTemplateVersionsResult, error) {
	if err := dryRun(in.DryRun); err != nil {
		return nil, err
	}
	minV, maxV, err := versionBounds(in.MinVersion, in.MaxVersion)
	if err != nil {
		return nil, err
	}
	out := &ec2api.DescribeLaunchTemplateVersionsResult{LaunchTemplateVersions: []ec2api.LaunchTemplateVersion{}}
	err = s.view(ctx, scopeOf(ctx), func(t *txn, st *scopeTx) error {
		var lts []*ltRec
		if in.LaunchTemplateId == nil && in.LaunchTemplateName == nil {
			if len(in.Versions) == 0 || slices.ContainsFunc(in.Versions, func(v string) bool { return v != "$Latest" && v != "$Default" }) {
				return awserr.InvalidParameterCombination("Without a launch template ID or name, only the versions $Latest and $Default can be described.")
			}
			lts = listT[*ltRec](st, "lt")
		} else {
			lt, err := findTemplate(st, in.LaunchTemplateId, in.LaunchTemplateName)
			if err != nil {
				return err
			}
			lts = []*ltRec{lt}
		}
		var items []ltVersionView
		for _, lt := range lts {
			vs, err := selectVersions(lt, in.Versions, minV, maxV)
			if err != nil {
				return err
			}
			for _, v := range vs {
				x := ltVersionView{lt: lt, v: v}
				if err := json.Unmarshal(v.Data, &x.d); err != nil {
					return err
				}
				items = append(items, x)
			}
		}
		items, err := filterItems(ltVersionFilters, in.Filters, items)
		if err != nil {
			return err
		}
		key := func(x ltVersionView) string { return x.lt.ID + "/" + strconv.FormatInt(1e12+x.v.Number, 10) }
		page, next, err := paginate(items, key, in.MaxResults, in.NextToken, 1, 200)
		if err != nil {
			return err
		}
		for _, x := range page {
			o, err := x.lt.versionOut(x.v)
			if err != nil {
				return err
			}
			out.LaunchTemplateVersions = append(out.LaunchTemplateVersions, o)
		}
		out.NextToken = next
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func versionBounds(minV, maxV *string) (int64, int64, error) {
	parse := func(p *string, name string, def int64) (int64, error) {
		if p == nil {
			return def, nil
		}
		n, err := strconv.ParseInt(*p, 10, 64)
		if err != nil || n < 1 {
			return 0, awserr.InvalidParameterValue("Value (%s) for parameter %s is invalid. Expecting a version number.", *p, name)
		}
		return n, nil
	}
	lo, err := parse(minV, "MinVersion", 1)
	if err != nil {
		return 0, 0, err
	}
	hi, err := parse(maxV, "MaxVersion", 1<<62)
	return lo, hi, err
}

// selectVersions returns the versions of lt named (all when none are) in
// the bounds, by number.
func selectVersions(lt *ltRec, specs []string, lo, hi int64) ([]*ltVersion, error) {
	var out []*ltVersion
	if len(specs) == 0 {
		for k := range lt.Versions {
			out = append(out, &lt.Versions[k])
		}
	}
	for _, sp := range specs {
		v, err := lt.version(sp)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	out = slices.DeleteFunc(out, func(v *ltVersion) bool { return v.Number < lo || v.Number > hi })
	slices.SortFunc(out, func(a, b *ltVersion) int { return int(a.Number - b.Number) })
	return out, nil
}
