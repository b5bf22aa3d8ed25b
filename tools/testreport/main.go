// Command testreport reads `go test -json` from stdin and prints a report a
// person can read in CI: each package's result, the output of every failed
// test, every skipped test with its reason, which privileged (root) tests
// ran, and a closing "N passed, N failed, N skipped" line. It exits non-zero
// if anything failed or if no test ran.
//
//	go test -json ./... | go run ./tools/testreport
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
)

type event struct {
	Action  string
	Package string
	Test    string
	Output  string
	Elapsed float64
}

const marker = "[privileged]"

func main() {
	outputs := map[string]*strings.Builder{}
	var passed, failed, skipped []string
	var privileged []string
	var pkgFailed []string
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 1024*1024), 16*1024*1024)
	for sc.Scan() {
		line := sc.Bytes()
		var e event
		if err := json.Unmarshal(line, &e); err != nil {
			fmt.Println(string(line)) // build errors and the like
			continue
		}
		key := e.Package + " " + e.Test
		switch e.Action {
		case "output":
			if outputs[key] == nil {
				outputs[key] = &strings.Builder{}
			}
			outputs[key].WriteString(e.Output)
			if e.Test == "" && (strings.HasPrefix(e.Output, "ok") || strings.HasPrefix(e.Output, "FAIL") || strings.HasPrefix(e.Output, "?")) {
				fmt.Print(e.Output)
			}
		case "pass", "fail", "skip":
			if e.Test == "" {
				if e.Action == "fail" {
					pkgFailed = append(pkgFailed, e.Package)
				}
				continue
			}
			out := ""
			if b := outputs[key]; b != nil {
				out = b.String()
			}
			if strings.Contains(out, marker) && e.Action == "pass" {
				privileged = append(privileged, key)
			}
			switch e.Action {
			case "pass":
				passed = append(passed, key)
			case "fail":
				failed = append(failed, key)
				fmt.Printf("\n--- FAIL %s\n%s", key, out)
			case "skip":
				skipped = append(skipped, key+": "+strings.TrimSpace(lastLines(out, 2)))
			}
		}
	}
	for _, p := range pkgFailed {
		if b := outputs[p+" "]; b != nil && !slices.ContainsFunc(failed, func(f string) bool { return strings.HasPrefix(f, p+" ") }) {
			fmt.Printf("\n--- FAIL package %s\n%s", p, b.String())
		}
	}
	if len(skipped) > 0 {
		fmt.Printf("\nSkipped tests (%d):\n", len(skipped))
		for _, s := range skipped {
			fmt.Println("  ", s)
		}
	}
	fmt.Printf("\nPrivileged (root) tests that ran: %d\n", len(privileged))
	for _, p := range privileged {
		fmt.Println("  ", p)
	}
	fmt.Printf("\n%d passed, %d failed, %d skipped\n", len(passed), len(failed), len(skipped))
	if len(failed) > 0 || len(pkgFailed) > 0 || len(passed) == 0 {
		os.Exit(1)
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	var keep []string
	for _, l := range lines {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "=== ") || strings.HasPrefix(l, "--- SKIP") {
			continue
		}
		keep = append(keep, l)
	}
	if len(keep) > n {
		keep = keep[len(keep)-n:]
	}
	return strings.Join(keep, " | ")
}
