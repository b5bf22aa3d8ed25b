package elasticache

import (
	"maps"
	"slices"
	"testing"
)

// TestReshardPlan: AWS's even split after a scale-out, a scale-in and a
// rebalance, moving only the slots that must move, every slot owned once.
func TestReshardPlan(t *testing.T) {
	two := []Shard{{ID: "0001", Slots: "0-8191"}, {ID: "0002", Slots: "8192-16383"}}
	three := []Shard{{ID: "0001", Slots: "0-5461"}, {ID: "0002", Slots: "5462-10922"}, {ID: "0003", Slots: "10923-16383"}}
	for _, c := range []struct {
		name   string
		shards []Shard
		keep   []string
		want   map[string]string
		moved  int
	}{
		{"2 to 3", two, []string{"0001", "0002", "0003"},
			map[string]string{"0001": "0-5461", "0002": "8192-13652", "0003": "5462-8191,13653-16383"}, 5461},
		{"3 to 2 without 0002", three, []string{"0001", "0003"},
			map[string]string{"0001": "0-8191", "0003": "8192-16383"}, 5461},
		{"3 to 2 without 0003", three, []string{"0001", "0002"},
			map[string]string{"0001": "0-5461,10923-13652", "0002": "5462-10922,13653-16383"}, 5461},
		{"balanced", three, []string{"0001", "0002", "0003"},
			map[string]string{"0001": "0-5461", "0002": "5462-10922", "0003": "10923-16383"}, 0},
	} {
		got, moved := reshardPlan(c.shards, c.keep)
		if !maps.Equal(got, c.want) || moved != c.moved {
			t.Errorf("%s: reshardPlan = %v, %d; want %v, %d", c.name, got, moved, c.want, c.moved)
		}
		if err := checkSlotCover(slices.Collect(maps.Values(got))); err != nil {
			t.Errorf("%s: %v", c.name, err)
		}
	}
}
