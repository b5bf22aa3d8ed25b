package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/cachalot-dev/cachalot/internal/account"
	"github.com/cachalot-dev/cachalot/internal/api/elasticacheapi"
	"github.com/cachalot-dev/cachalot/internal/api/stsapi"
	"github.com/cachalot-dev/cachalot/internal/auth"
	"github.com/cachalot-dev/cachalot/internal/elasticache"
	"github.com/cachalot-dev/cachalot/internal/endpoint"
	"github.com/cachalot-dev/cachalot/internal/store"
	"github.com/cachalot-dev/cachalot/internal/sts"
	"github.com/cachalot-dev/cachalot/internal/telemetry"
)

type allowAll struct{}

func (allowAll) Authorize(context.Context, auth.Request) error { return nil }

// BenchmarkRequestTelemetryOverhead is issue 18's overhead figure: the
// control plane's request rate with the request log (one info line per
// request, to a text handler) and the metrics (the Prometheus observer and
// the probe router in front of the endpoint) against the same handler
// without either, in one run: rounds of 2,000 signed calls at concurrency
// 8 on each, the order alternating. On a shared machine wall-clock rates
// swing with the load, so each round also counts the process's CPU time
// (user + system): requests per CPU-second is the rate the control plane
// sustains when it has the cores to itself. The figures are the medians of
// the rounds' ratios (with / without; goal ≥ 0.95).
func BenchmarkRequestTelemetryOverhead(b *testing.B) {
	st, err := store.OpenBolt(filepath.Join(b.TempDir(), "s.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	accts := account.New(st)
	creds := account.Credentials{AccessKeyID: "AKIABENCHBENCHBENCH1", SecretAccessKey: "secret"}
	if _, err := accts.Ensure(context.Background(), "000000000000", creds); err != nil {
		b.Fatal(err)
	}
	services := []endpoint.Binding{
		{Service: stsapi.Metadata, Operations: stsapi.OperationTable(sts.New())},
		{Service: elasticacheapi.Metadata, Operations: elasticacheapi.OperationTable(elasticache.New(st, elasticache.Config{}))},
	}
	bare := endpoint.New(endpoint.Config{Keys: accts, Authorizer: allowAll{}, Services: services,
		Logger: slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	tel := telemetry.New(telemetry.Config{})
	observed := tel.Handler(endpoint.New(endpoint.Config{Keys: accts, Authorizer: allowAll{}, Services: services,
		Logger:  slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo})),
		Observe: func(r endpoint.RequestRecord) { tel.ObserveRequest(r.Service, r.Action, r.Code, r.Latency) }}))
	for _, c := range []struct{ name, service, body string }{
		{"GetCallerIdentity", "sts", "Action=GetCallerIdentity&Version=2011-06-15"},
		{"DescribeCacheClusters", "elasticache", "Action=DescribeCacheClusters&Version=2015-02-02"},
	} {
		b.Run(c.name, func(b *testing.B) {
			sum := sha256.Sum256([]byte(c.body))
			req, _ := http.NewRequest("POST", "http://127.0.0.1:4566/", strings.NewReader(c.body))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
			v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: creds.AccessKeyID, SecretAccessKey: creds.SecretAccessKey},
				req, hex.EncodeToString(sum[:]), c.service, "us-east-1", time.Now())
			rate := func(h http.Handler) (wall, cpu float64) {
				const n, conc = 2000, 8
				start, cpu0 := time.Now(), cpuTime()
				var wg sync.WaitGroup
				for range conc {
					wg.Go(func() {
						for range n / conc {
							r := httptest.NewRequest("POST", "/", strings.NewReader(c.body))
							r.Header, r.Host = req.Header, req.Host
							w := httptest.NewRecorder()
							h.ServeHTTP(w, r)
							if w.Code != 200 {
								b.Errorf("status %d: %s", w.Code, w.Body)
							}
						}
					})
				}
				wg.Wait()
				return n / time.Since(start).Seconds(), n / (cpuTime() - cpu0).Seconds()
			}
			var wallRatios, cpuRatios, with, without []float64
			i := 0
			for b.Loop() {
				var w, wo, cw, cwo float64
				if i%2 == 0 {
					w, cw = rate(observed)
					wo, cwo = rate(bare)
				} else {
					wo, cwo = rate(bare)
					w, cw = rate(observed)
				}
				i++
				with, without = append(with, cw), append(without, cwo)
				wallRatios, cpuRatios = append(wallRatios, w/wo), append(cpuRatios, cw/cwo)
			}
			b.ReportMetric(median(with), "req/cpu-s-with")
			b.ReportMetric(median(without), "req/cpu-s-without")
			b.ReportMetric(median(cpuRatios), "cpu-ratio")
			b.ReportMetric(median(wallRatios), "wall-ratio")
		})
	}
}

func median(v []float64) float64 {
	s := slices.Sorted(slices.Values(v))
	return s[len(s)/2]
}

// cpuTime is the process's user + system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
