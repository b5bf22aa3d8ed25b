// Command replgroup measures issue 12's figures through the real product:
// it starts `cachalot serve` (as root, namespaces network mode) with a
// fresh data dir, launches one EC2 instance in the default security group,
// and then, through aws-sdk-go-v2 and real engines:
//
//  1. primary killed (kill -9 of its engine) → first write acknowledged
//     through the primary endpoint, by a client writing continuously from
//     inside the instance, over -kills runs (p50, max), and the
//     acknowledged writes missing on the new primary after each failover,
//     without and with WAIT 1;
//  2. TestFailover call → "Failover … completed" event, and → group
//     available again, over -tests runs;
//  3. CreateReplicationGroup of 1 primary + 5 replicas → available, over
//     -creations runs;
//  4. with -lag D: replication lag under load, each replica of a 1+2
//     group sampled every 100 ms while writers load the primary for D.
//
// The writer reaches the primary endpoint by its DNS name, through the
// VPC's DNS server (issue 11), at every (re)connection. It prints a Markdown
// report on stdout and progress on stderr. Everything started is removed
// on exit (serve stopped, `cachalot teardown`, data dir deleted), and the
// run checks no engine or namespace of it remains. Usage (as root):
//
//	go build -o bin/cachalot ./cmd/cachalot
//	go run ./bench/replgroup [-kills 20] [-tests 10] [-creations 10] > out.md
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/cachalot-dev/cachalot/bench/internal/cachalotproc"
	"github.com/cachalot-dev/cachalot/bench/internal/hostinfo"
)

type options struct {
	bin                     string
	kills, tests, creations int
	poll, lag               time.Duration
	keep                    bool
	logLevel                string
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "-writer" {
		os.Exit(writerMain())
	}
	if len(os.Args) > 1 && os.Args[1] == "-lagprobe" {
		os.Exit(lagprobeMain())
	}
	var o options
	flag.StringVar(&o.bin, "cachalot", "bin/cachalot", "cachalot binary (build it first)")
	flag.IntVar(&o.kills, "kills", 20, "primary kills for the failover figures (half of them more with WAIT 1); 0 skips")
	flag.IntVar(&o.tests, "tests", 10, "TestFailover calls; 0 skips")
	flag.IntVar(&o.creations, "creations", 10, "1+5 groups created and deleted; 0 skips")
	flag.DurationVar(&o.poll, "poll", 5*time.Millisecond, "DescribeReplicationGroups / DescribeEvents polling interval")
	flag.DurationVar(&o.lag, "lag", 0, "replication lag under load: write to a 1+2 group's primary for this long, sampling each replica's lag every 100 ms; 0 skips")
	flag.BoolVar(&o.keep, "keep-data-dir", false, "keep the data dir (for the server log) after the run")
	flag.StringVar(&o.logLevel, "log-level", "warn", "serve --log-level (debug logs each cluster's plan and step times)")
	flag.Parse()
	cachalotproc.Main(func(ctx context.Context) error { return run(ctx, o) })
}

func run(ctx context.Context, o options) error {
	bin, err := filepath.Abs(o.bin)
	if err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	fmt.Printf("# Replication groups through the product: figures of issue 12\n\n")
	hostinfo.PrintGenerated("replgroup")
	srv, err := cachalotproc.Start(ctx, bin, cachalotproc.Options{
		DirPrefix: "cachalot-rgbench-", Key: "AKIARGBENCHBENCHBNCH", Secret: "rgbench-secret", LogLevel: o.logLevel,
	})
	if err != nil {
		return err
	}
	defer func() {
		if err := srv.Close(o.keep); err != nil {
			log.Printf("cleanup: %v", err)
		}
	}()
	inst, err := srv.LaunchInstance(ctx)
	if err != nil {
		return err
	}
	log.Printf("serving on %s, instance %s", srv.URL, inst.ID)
	if o.creations > 0 {
		if err := createFigures(ctx, srv, o); err != nil {
			return err
		}
	}
	if o.lag > 0 {
		if err := lagFigures(ctx, srv, inst.ID, self, o.lag, o.poll); err != nil {
			return err
		}
	}
	if o.kills > 0 || o.tests > 0 {
		wr, err := startWriter(ctx, srv, inst.ID, self)
		if err != nil {
			return err
		}
		defer wr.Close()
		if err := failoverFigures(ctx, srv, wr, o); err != nil {
			return err
		}
	}
	fmt.Printf("Load average at the end: %s.\n", hostinfo.LoadAvg())
	return nil
}

// summary prints p50 and max (and n) of durations.
func summary(ds []time.Duration) string {
	if len(ds) == 0 {
		return "| – | – | 0 |"
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return fmt.Sprintf("| %s | %s | %d |", ms(s[len(s)/2]), ms(s[len(s)-1]), len(s))
}

func ms(d time.Duration) string { return fmt.Sprintf("%.0f ms", float64(d.Microseconds())/1000) }
