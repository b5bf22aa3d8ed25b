// Package hostinfo describes the machine a benchmark runs on (load
// average, CPU count, distribution and kernel), for the headers and
// footers of the programs under bench/, which alone import it.
package hostinfo

import (
	"os"
	"strings"
)

// LoadAvg is the 1, 5 and 15 minute load average, "unknown" if
// /proc/loadavg cannot be read.
func LoadAvg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// CPUs is the number of processors in /proc/cpuinfo.
func CPUs() int {
	b, _ := os.ReadFile("/proc/cpuinfo")
	return strings.Count(string(b), "processor\t:")
}

// Describe is "Debian <version>, Linux <kernel release>".
func Describe() string {
	b, _ := os.ReadFile("/etc/debian_version")
	k, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	return "Debian " + strings.TrimSpace(string(b)) + ", Linux " + strings.TrimSpace(string(k))
}
