package engine

import "time"

// The restart policy, kept apart from the processes it governs so it is
// tested without any (the shape of nomad's taskrunner restarts.go): the
// node's actor tells the tracker what happened (the engine exited after
// running so long; a start failed) and the tracker says how long to wait
// before the next start.
//
// It never gives up: ElastiCache replaces a failed node for as long as
// the cluster exists, and so does Cachalot. A decision to stop retrying,
// or to fail over to a replica instead of waiting for the primary, is a
// controller's, made from the events this package reports.

// restartPolicy configures a restartTracker.
type restartPolicy struct {
	// minBackoff is the delay after the first failure; it doubles with
	// each consecutive failure up to maxBackoff (Config.MinBackoff and
	// MaxBackoff: 100ms and 30s).
	minBackoff, maxBackoff time.Duration
	// stableAfter: an engine that ran longer than this before it exited
	// was healthy, and its exit starts a new series of failures (1 minute).
	stableAfter time.Duration
}

// defaultStableAfter is restartPolicy.stableAfter of a Supervisor.
const defaultStableAfter = time.Minute

// restartTracker counts consecutive failures of one node and decides the
// delay before each restart. It is not safe for concurrent use; the
// node's actor owns it.
type restartTracker struct {
	policy   restartPolicy
	failures int // consecutive failures (exits and failed starts) so far
}

// exited records that the engine exited unasked after running for ranFor,
// and returns the delay before starting it again.
func (t *restartTracker) exited(ranFor time.Duration) time.Duration {
	if ranFor > t.policy.stableAfter {
		t.failures = 0
	}
	return t.next()
}

// startFailed records that starting the engine failed (after a crash, a
// reboot or a parameter change), and returns the delay before trying
// again.
func (t *restartTracker) startFailed() time.Duration {
	return t.next()
}

func (t *restartTracker) next() time.Duration {
	d := backoff(t.policy.minBackoff, t.policy.maxBackoff, t.failures)
	t.failures++
	return d
}

// backoff is the delay before restart attempt n+1 (n from 0): minimum
// doubled per consecutive failure, capped at maximum.
func backoff(minimum, maximum time.Duration, n int) time.Duration {
	return min(minimum<<min(n, 30), maximum)
}
