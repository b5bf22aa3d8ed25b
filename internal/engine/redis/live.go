package redis

import (
	"maps"
	"slices"
	"strconv"

	"github.com/cachalot-dev/cachalot/internal/catalog"
)

// LiveChanges returns the CONFIG SET commands that apply the immediate
// changes to a running Redis/Valkey, and the names of the changes that
// wait for a reboot. params are the node's parameter values after the
// changes (missing ones take the family default) and maxMemory its node
// type's memory in bytes (0: no limit), from which maxmemory follows.
func LiveChanges(family string, params map[string]string, maxMemory int64, changes map[string]string) (cmds [][]string, pending []string, err error) {
	merged, err := catalog.MergeDefaults(family, params)
	if err != nil {
		return nil, nil, err
	}
	classes := map[string]bool{}
	memory := false
	for _, name := range slices.Sorted(maps.Keys(changes)) {
		p, err := catalog.LookupParameter(family, name)
		if err != nil {
			return nil, nil, err
		}
		if p.ChangeType != catalog.Immediate {
			pending = append(pending, name)
			continue
		}
		switch {
		case name == "reserved-memory" || name == "reserved-memory-percent":
			memory = true
		case name == "client-output-buffer-limit-normal-hard-limit", name == "client-output-buffer-limit-normal-soft-limit",
			name == "client-output-buffer-limit-normal-soft-seconds":
			classes["normal"] = true
		case name == "client-output-buffer-limit-pubsub-hard-limit", name == "client-output-buffer-limit-pubsub-soft-limit",
			name == "client-output-buffer-limit-pubsub-soft-seconds":
			classes["pubsub"] = true
		default:
			if d := directive(name); d != "" {
				cmds = append(cmds, []string{"CONFIG", "SET", d, merged[name]})
			}
		}
	}
	if memory && maxMemory > 0 {
		cmds = append(cmds, []string{"CONFIG", "SET", "maxmemory", strconv.FormatInt(catalog.EffectiveMaxMemory(maxMemory, merged), 10)})
	}
	for _, class := range slices.Sorted(maps.Keys(classes)) {
		pre := "client-output-buffer-limit-" + class + "-"
		cmds = append(cmds, []string{"CONFIG", "SET", "client-output-buffer-limit",
			class + " " + merged[pre+"hard-limit"] + " " + merged[pre+"soft-limit"] + " " + merged[pre+"soft-seconds"]})
	}
	return cmds, pending, nil
}
