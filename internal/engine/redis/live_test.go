package redis

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestLiveChanges(t *testing.T) {
	for _, tc := range []struct {
		name        string
		params      map[string]string // after the changes
		maxMemory   int64
		changes     map[string]string
		wantCmds    [][]string
		wantPending []string
	}{
		{"immediate", map[string]string{"timeout": "300"}, 0, map[string]string{"timeout": "300"},
			[][]string{{"CONFIG", "SET", "timeout", "300"}}, nil},
		{"reboot-pending", map[string]string{"databases": "32"}, 0, map[string]string{"databases": "32"},
			nil, []string{"databases"}},
		{"reserved-memory-folds-into-maxmemory", map[string]string{"reserved-memory-percent": "50"}, 1000,
			map[string]string{"reserved-memory-percent": "50"},
			[][]string{{"CONFIG", "SET", "maxmemory", "500"}}, nil},
		{"reserved-memory-without-limit", map[string]string{"reserved-memory-percent": "50"}, 0,
			map[string]string{"reserved-memory-percent": "50"}, nil, nil},
		{"buffer-limit-one-line-per-class", map[string]string{"client-output-buffer-limit-normal-hard-limit": "1048576"}, 0,
			map[string]string{"client-output-buffer-limit-normal-hard-limit": "1048576"},
			[][]string{{"CONFIG", "SET", "client-output-buffer-limit", "normal 1048576 0 0"}}, nil},
		{"elasticache-only-not-sent", map[string]string{"close-on-replica-write": "no"}, 0,
			map[string]string{"close-on-replica-write": "no"}, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmds, pending, err := LiveChanges("redis7", tc.params, tc.maxMemory, tc.changes)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.wantCmds, cmds); diff != "" {
				t.Errorf("LiveChanges commands mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantPending, pending); diff != "" {
				t.Errorf("LiveChanges pending mismatch (-want +got):\n%s", diff)
			}
		})
	}
	if _, _, err := LiveChanges("redis7", nil, 0, map[string]string{"nope": "1"}); err == nil {
		t.Error("LiveChanges(unknown parameter) = nil error, want error")
	}
}
