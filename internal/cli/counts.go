package cli

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/cachalot-dev/cachalot/internal/api/ec2api"
	"github.com/cachalot-dev/cachalot/internal/api/elasticacheapi"
	"github.com/cachalot-dev/cachalot/internal/awsproto"
)

// countResources asks the service, with the credentials the access
// commands use (the data dir's root credentials unless AWS_* are set), how
// many caches of a region it holds by status and how many instances by
// state. Each is a line of "N status" items, or what went wrong asking.
func countResources(ctx context.Context, dataDir, region string) (caches, instances string) {
	c, err := newAPIClient(dataDir, region)
	if err != nil {
		return "unknown (" + err.Error() + ")", "unknown"
	}
	return countLine(countCaches(ctx, c)), countLine(countInstances(ctx, c))
}

// countCaches counts the cache clusters by status, page by page.
func countCaches(ctx context.Context, c awsproto.Caller) (map[string]int, error) {
	n := map[string]int{}
	in := &elasticacheapi.DescribeCacheClustersMessage{}
	op := awsproto.Operation{Name: "DescribeCacheClusters", ResultWrapper: "DescribeCacheClustersResult"}
	for {
		out := new(elasticacheapi.CacheClusterMessage)
		if err := c.Call(ctx, elasticacheapi.Metadata, op, in, out); err != nil {
			return nil, err
		}
		for _, cl := range out.CacheClusters {
			n[deref(cl.CacheClusterStatus)]++
		}
		if out.Marker == nil || *out.Marker == "" {
			return n, nil
		}
		in.Marker = out.Marker
	}
}

// countInstances counts the EC2 instances by state, page by page.
func countInstances(ctx context.Context, c awsproto.Caller) (map[string]int, error) {
	n := map[string]int{}
	in := &ec2api.DescribeInstancesRequest{}
	op := awsproto.Operation{Name: "DescribeInstances"}
	for {
		out := new(ec2api.DescribeInstancesResult)
		if err := c.Call(ctx, ec2api.Metadata, op, in, out); err != nil {
			return nil, err
		}
		for _, r := range out.Reservations {
			for _, i := range r.Instances {
				state := ""
				if i.State != nil {
					state = deref(i.State.Name)
				}
				n[state]++
			}
		}
		if out.NextToken == nil || *out.NextToken == "" {
			return n, nil
		}
		in.NextToken = out.NextToken
	}
}

// countLine renders counts as "2 available, 1 creating" (by name), "none",
// or the error.
func countLine(n map[string]int, err error) string {
	if err != nil {
		return "unknown (" + err.Error() + ")"
	}
	if len(n) == 0 {
		return "none"
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(n)) {
		name := k
		if name == "" {
			name = "unknown"
		}
		parts = append(parts, fmt.Sprintf("%d %s", n[k], name))
	}
	return strings.Join(parts, ", ")
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
