package engine

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestBackoff(t *testing.T) {
	for _, tc := range []struct {
		n    int
		want time.Duration
	}{{0, 100 * time.Millisecond}, {1, 200 * time.Millisecond}, {3, 800 * time.Millisecond}, {9, 30 * time.Second}, {100, 30 * time.Second}} {
		if got := backoff(100*time.Millisecond, 30*time.Second, tc.n); got != tc.want {
			t.Errorf("backoff(100ms, 30s, %d) = %s, want %s", tc.n, got, tc.want)
		}
	}
}

// restartEvent is one thing the actor tells the tracker: the engine
// exited after running ranFor, or (failedStart) a start failed.
type restartEvent struct {
	failedStart bool
	ranFor      time.Duration
}

func exit(ranFor time.Duration) restartEvent { return restartEvent{ranFor: ranFor} }

func failed() restartEvent { return restartEvent{failedStart: true} }

func TestRestartTracker(t *testing.T) {
	const ms = time.Millisecond
	policy := restartPolicy{minBackoff: 100 * ms, maxBackoff: time.Second, stableAfter: time.Minute}
	for _, tc := range []struct {
		name   string
		events []restartEvent
		want   []time.Duration // the delay decided after each event
	}{
		{"first-crash", []restartEvent{exit(time.Second)}, []time.Duration{100 * ms}},
		{"crash-loop-doubles", []restartEvent{exit(ms), exit(ms), exit(ms), exit(ms)},
			[]time.Duration{100 * ms, 200 * ms, 400 * ms, 800 * ms}},
		{"capped", []restartEvent{exit(ms), exit(ms), exit(ms), exit(ms), exit(ms), exit(ms)},
			[]time.Duration{100 * ms, 200 * ms, 400 * ms, 800 * ms, time.Second, time.Second}},
		{"failed-starts-count", []restartEvent{exit(ms), failed(), failed(), exit(ms)},
			[]time.Duration{100 * ms, 200 * ms, 400 * ms, 800 * ms}},
		// A run longer than stableAfter was healthy: its exit starts over.
		{"stable-run-resets", []restartEvent{exit(ms), exit(ms), exit(2 * time.Minute), exit(ms)},
			[]time.Duration{100 * ms, 200 * ms, 100 * ms, 200 * ms}},
		{"exactly-stable-does-not-reset", []restartEvent{exit(ms), exit(time.Minute)},
			[]time.Duration{100 * ms, 200 * ms}},
		// A failed start (reboot, parameters) with no crash before it.
		{"failed-start-first", []restartEvent{failed(), failed()}, []time.Duration{100 * ms, 200 * ms}},
		// Never gives up: far past the cap the delay stays at the cap.
		{"never-gives-up", repeat(exit(ms), 64), append(
			[]time.Duration{100 * ms, 200 * ms, 400 * ms, 800 * ms}, repeatD(time.Second, 60)...)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := restartTracker{policy: policy}
			var got []time.Duration
			for _, e := range tc.events {
				if e.failedStart {
					got = append(got, tr.startFailed())
				} else {
					got = append(got, tr.exited(e.ranFor))
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("delays mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func repeat(e restartEvent, n int) []restartEvent {
	out := make([]restartEvent, n)
	for i := range out {
		out[i] = e
	}
	return out
}

func repeatD(d time.Duration, n int) []time.Duration {
	out := make([]time.Duration, n)
	for i := range out {
		out[i] = d
	}
	return out
}
