package catalog

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
)

// ErrUnknownNodeType is returned for a cache node type without a memory figure.
var ErrUnknownNodeType = errors.New("unknown cache node type")

// nodeTypeMaxMemory is ElastiCache's node-type specific maxmemory, in bytes
// (Redis OSS "node-type specific parameters"). Memcached nodes get the same
// figure, in MiB, as -m.
func nodeTypeMaxMemory() map[string]int64 {
	return map[string]int64{
		"cache.t2.micro":    581959680,
		"cache.t2.small":    1665138688,
		"cache.t2.medium":   3461349376,
		"cache.t3.micro":    536870912,
		"cache.t3.small":    1471026299,
		"cache.t3.medium":   3317862236,
		"cache.t4g.micro":   536870912,
		"cache.t4g.small":   1471026299,
		"cache.t4g.medium":  3317862236,
		"cache.m5.large":    6854542746,
		"cache.m5.xlarge":   13891921715,
		"cache.m5.2xlarge":  27966669210,
		"cache.m5.4xlarge":  56116178125,
		"cache.m6g.large":   6854542746,
		"cache.m6g.xlarge":  13891921715,
		"cache.m6g.2xlarge": 27966669210,
		"cache.m7g.large":   6854542746,
		"cache.m7g.xlarge":  13891921715,
		"cache.r5.large":    14037181030,
		"cache.r5.xlarge":   28261849702,
		"cache.r5.2xlarge":  56711183565,
		"cache.r6g.large":   14037181030,
		"cache.r6g.xlarge":  28261849702,
		"cache.r6g.2xlarge": 56711183565,
		"cache.r7g.large":   14037181030,
		"cache.r7g.xlarge":  28261849702,
	}
}

// NodeTypeMemory returns the maxmemory, in bytes, of a cache node type.
func NodeTypeMemory(nodeType string) (int64, error) {
	b, ok := nodeTypeMaxMemory()[nodeType]
	if !ok {
		return 0, fmt.Errorf("%w: %q", ErrUnknownNodeType, nodeType)
	}
	return b, nil
}

// NodeTypes returns the node types NodeTypeMemory knows, sorted.
func NodeTypes() []string {
	return slices.Sorted(maps.Keys(nodeTypeMaxMemory()))
}

// EffectiveMaxMemory returns maxmemory as rendered: the node type's memory
// less the reserved share (reserved-memory-percent, or reserved-memory in
// bytes when that is set), which ElastiCache keeps for non-data use.
func EffectiveMaxMemory(nodeMemory int64, params map[string]string) int64 {
	if nodeMemory <= 0 {
		return 0
	}
	if rb, err := strconv.ParseInt(params["reserved-memory"], 10, 64); err == nil && rb > 0 {
		return max(nodeMemory-rb, 0)
	}
	pct, err := strconv.ParseInt(params["reserved-memory-percent"], 10, 64)
	if err != nil || pct <= 0 {
		return nodeMemory
	}
	return nodeMemory - nodeMemory*min(pct, 100)/100
}
