// Package hostinfo describes the machine a benchmark runs on (load
// average, CPU count, distribution and kernel), for the headers and
// footers of the programs under bench/, which alone import it.
package hostinfo

import (
	"fmt"
	"os"
	"strings"
	"time"
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

// PrintGenerated writes the line a RESULTS file opens with: when, where
// (the machine, its CPUs, its load) and by which command, the benchmark's
// own `go run ./bench/<name>` with its arguments.
func PrintGenerated(name string) {
	fmt.Printf("Generated %s on %s, %d CPUs shared with other work, load %s, by:\n\n", time.Now().UTC().Format(time.RFC3339), Describe(), CPUs(), LoadAvg())
	fmt.Printf("    go run ./bench/%s %s\n\n", name, strings.Join(os.Args[1:], " "))
}
