package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"
)

// report writes the campaign's Markdown report.
func (c *campaign) report(out io.Writer, elapsed time.Duration) {
	count := map[string]int{}
	for _, v := range c.violations {
		count[v.class]++
	}
	inFlight, applied, refused := 0, 0, 0
	var conv []time.Duration
	for _, r := range c.runs {
		inFlight += r.inFlight
		applied += r.applied
		conv = append(conv, r.converge)
		if r.teardownRefused {
			refused++
		}
	}
	slices.Sort(conv)
	fmt.Fprintf(out, "# Crash campaign\n\n")
	fmt.Fprintf(out, "Seed %d; %d runs, each with a `kill -9` of `cachalot serve` at a random point while %d workers write; "+
		"%d checkpoints (after each restart, at the end, after the engine loop). Took %v.\n\n",
		c.o.seed, len(c.runs), c.o.workers, c.checks, elapsed.Round(time.Second))
	fmt.Fprintf(out, "| figure | value |\n|---|---|\n")
	row := func(k string, v any) { fmt.Fprintf(out, "| %s | %v |\n", k, v) }
	row("runs (kill -9 of serve)", len(c.runs))
	row("writes issued", c.c.ops.Load())
	row("acknowledged writes", c.c.acked.Load())
	row("rejected by the service (4xx, or refused connection)", c.c.rejected.Load())
	row("in flight at a kill (no answer)", inFlight)
	row("of which found applied", applied)
	row("server errors (5xx)", c.c.serverErrors.Load())
	row("**acknowledged writes lost** (goal 0)", count[classLost])
	row("**half-present after an unanswered call** (goal 0)", count[classHalf])
	row("**unrequested resources** (goal 0)", count[classUnrequested])
	row("**orphaned / missing kernel objects** (goal 0)", fmt.Sprintf("%d / %d", count["kernel-orphaned"], count["kernel-missing"]))
	row("orphaned / missing interfaces in the API (goal 0)", fmt.Sprintf("%d / %d", count["api-orphaned"], count["api-missing"]))
	row("not converged (goal 0)", count["not-converged"])
	row("teardown while serve runs refused", fmt.Sprintf("%d of %d", refused, len(c.runs)))
	row("left after teardown (goal 0)", count["teardown-left"])
	if len(conv) > 0 {
		row("restart → converged and checked, p50 / max", fmt.Sprintf("%v / %v", conv[len(conv)/2].Round(time.Millisecond), conv[len(conv)-1].Round(time.Millisecond)))
	}
	c.c.mu.Lock()
	fmt.Fprintf(out, "\n## Writes by call\n\n| call | issued | acknowledged | no answer (killed) |\n|---|---|---|---|\n")
	for _, name := range slices.Sorted(maps.Keys(c.c.byCall)) {
		n := c.c.byCall[name]
		fmt.Fprintf(out, "| %s | %d | %d | %d |\n", name, n[0], n[1], n[2])
	}
	c.c.mu.Unlock()
	if e := c.engine; e != nil {
		fmt.Fprintf(out, "\n## Engine killed in a loop\n\n")
		fmt.Fprintf(out, "One Redis node's engine killed with SIGKILL %d times in a row, each time once the previous restart answered PING and the supervisor reported it.\n\n", e.kills)
		fmt.Fprintf(out, "| kill | back (PONG) after | policy backoff |\n|---|---|---|\n")
		for i := range e.delays {
			fmt.Fprintf(out, "| %d | %v | %v |\n", i+1, e.delays[i].Round(time.Millisecond), e.minBackoff[i])
		}
		fmt.Fprintf(out, "\nEvents (DescribeEvents): %d \"Recovering cache nodes\", %d \"Cache node … restarted\". ", e.recovering, e.restarted)
		fmt.Fprintf(out, "A key written before the kills %s (the node's configuration: %s; ElastiCache's default parameter groups persist nothing either, so a restarted node comes back empty).\n",
			map[bool]string{true: "survived", false: "was lost"}[e.dataSurvived], e.persistenceCfg)
	}
	fmt.Fprintf(out, "\n## Runs\n\n| run | writes | acknowledged | kill after write | in flight | applied | restart → checked | kernel facts | violations | teardown refused |\n|---|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range c.runs {
		fmt.Fprintf(out, "| %d | %d | %d | %d | %d | %d | %v | %d | %d | %v |\n", r.n, r.ops, r.acked, r.killAfter, r.inFlight, r.applied,
			r.converge.Round(time.Millisecond), r.facts, r.violations, r.teardownRefused)
	}
	if len(c.violations) > 0 {
		fmt.Fprintf(out, "\n## Violations\n\n")
		for _, v := range c.violations {
			fmt.Fprintf(out, "- %s\n", strings.ReplaceAll(v.String(), "\n", " "))
		}
	} else {
		fmt.Fprintf(out, "\nNo violations.\n")
	}
}
