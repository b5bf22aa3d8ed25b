// Package privtest gates tests that need root (network namespaces,
// nftables, engines inside namespaces). A gated test is never silent: it
// logs that it ran privileged, or skips saying why, and tools/testreport
// lists both in CI's output. Imported by tests only.
package privtest

import (
	"os"
	"runtime"
	"testing"
)

// Marker starts the log line of every privileged test; tools/testreport
// looks for it.
const Marker = "[privileged]"

// RequireRoot skips t unless it runs as root on Linux, and logs the marker.
func RequireRoot(t testing.TB) {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skipf("%s skipped: needs Linux, this is %s", Marker, runtime.GOOS)
	}
	if os.Geteuid() != 0 {
		t.Skipf("%s skipped: needs root (run the suite as root, as CI does)", Marker)
	}
	t.Logf("%s running as root", Marker)
}
