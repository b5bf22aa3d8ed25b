// Command api measures Cachalot's control plane side by side with
// moto_server in one run: requests/s and p50/p99 latency of a signed
// GetCallerIdentity and of an empty DescribeCacheClusters at concurrency 8,
// and the start-to-ready time of `cachalot serve`.
//
//	go build -o bin/cachalot ./cmd/cachalot && go run ./bench/api [-duration 5s] [-concurrency 8]
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/cachalot-dev/cachalot/bench/internal/load"
)

func main() {
	bin := flag.String("cachalot", "bin/cachalot", "cachalot binary")
	duration := flag.Duration("duration", 5*time.Second, "measuring time per call and target")
	conc := flag.Int("concurrency", 8, "concurrent callers")
	starts := flag.Int("starts", 20, "start-to-ready samples")
	noMoto := flag.Bool("no-moto", false, "skip moto_server")
	client := flag.String("client", "both", "sdk (aws-sdk-go-v2 clients), raw (SigV4-signed net/http, lighter), or both")
	flag.Parse()
	ctx := context.Background()

	readies, err := startToReady(*bin, *starts)
	if err != nil {
		log.Fatal(err)
	}
	p50, p99 := load.Percentiles(readies)
	fmt.Printf("cachalot serve start-to-ready (exec until a signed GetCallerIdentity succeeds, fresh data dir, %d runs): p50 %.1f ms, p99 %.1f ms\n\n",
		len(readies), float64(p50.Microseconds())/1000, float64(p99.Microseconds())/1000)

	c, stop, err := startCachalot(*bin, "")
	if err != nil {
		log.Fatal(err)
	}
	defer stop()
	targets := []target{{"cachalot", c}}
	if !*noMoto {
		port, _ := load.FreePort()
		stopMoto, err := load.StartMoto(ctx, port)
		if err != nil {
			log.Fatal(err)
		}
		defer stopMoto()
		targets = append(targets, target{"moto_server", endpoint{URL: fmt.Sprintf("http://127.0.0.1:%d", port), Key: "AKIAIOSFODNN7EXAMPLE", Secret: "secret"}})
	}

	type call struct {
		name string
		fn   func(aws.Config) func(context.Context) error
	}
	sdkCalls := []call{
		{"GetCallerIdentity", func(cfg aws.Config) func(context.Context) error {
			cl := sts.NewFromConfig(cfg)
			return func(ctx context.Context) error {
				_, err := cl.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
				return err
			}
		}},
		{"DescribeCacheClusters (empty)", func(cfg aws.Config) func(context.Context) error {
			cl := elasticache.NewFromConfig(cfg)
			return func(ctx context.Context) error {
				_, err := cl.DescribeCacheClusters(ctx, &elasticache.DescribeCacheClustersInput{})
				return err
			}
		}},
	}
	rawCalls := []call{
		{"GetCallerIdentity [raw]", rawCall("sts", "Action=GetCallerIdentity&Version=2011-06-15")},
		{"DescribeCacheClusters (empty) [raw]", rawCall("elasticache", "Action=DescribeCacheClusters&Version=2015-02-02")},
	}
	var calls []call
	if *client == "sdk" || *client == "both" {
		calls = append(calls, sdkCalls...)
	}
	if *client == "raw" || *client == "both" {
		calls = append(calls, rawCalls...)
	}
	fmt.Printf("concurrency %d, %v per measurement, loopback; [raw] = each request SigV4-signed by aws-sdk-go-v2's signer, sent with net/http\n", *conc, *duration)
	for _, call := range calls {
		var results []load.Result
		for _, t := range targets {
			r := load.Run(ctx, call.name+" @ "+t.name, *conc, *duration, 2_000_000, call.fn(t.ep.config()))
			fmt.Println(r)
			if r.FirstErr != nil {
				fmt.Println("   first error:", r.FirstErr)
			}
			results = append(results, r)
		}
		if len(results) == 2 && results[1].RPS() > 0 {
			fmt.Printf("   ratio cachalot/moto: %.1fx requests/s, p99 %.2f ms vs %.2f ms\n",
				results[0].RPS()/results[1].RPS(), float64(results[0].P99.Microseconds())/1000, float64(results[1].P99.Microseconds())/1000)
		}
	}
}

type target struct {
	name string
	ep   endpoint
}

type endpoint struct{ URL, Key, Secret string }

func (e endpoint) config() aws.Config {
	return aws.Config{
		Region: "us-east-1", BaseEndpoint: aws.String(e.URL), RetryMaxAttempts: 1,
		Credentials: credentials.StaticCredentialsProvider{Value: aws.Credentials{AccessKeyID: e.Key, SecretAccessKey: e.Secret}},
	}
}

// startCachalot runs `cachalot serve` on a free port with a fresh (or given)
// data dir and waits until it answers a signed call.
func startCachalot(bin, dir string) (endpoint, func(), error) {
	if dir == "" {
		d, err := os.MkdirTemp("", "cachalot-bench-")
		if err != nil {
			return endpoint{}, nil, err
		}
		dir = d
	}
	port, err := load.FreePort()
	if err != nil {
		return endpoint{}, nil, err
	}
	ep := endpoint{URL: fmt.Sprintf("http://127.0.0.1:%d", port), Key: "AKIABENCHBENCHBENCH1", Secret: "bench-secret"}
	cmd := exec.Command(bin, "serve", "--listen", fmt.Sprintf("127.0.0.1:%d", port), "--data-dir", dir, "--log-level", "warn")
	cmd.Env = append(os.Environ(), "CACHALOT_ROOT_ACCESS_KEY_ID="+ep.Key, "CACHALOT_ROOT_SECRET_ACCESS_KEY="+ep.Secret)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return endpoint{}, nil, fmt.Errorf("start %s: %w", bin, err)
	}
	stop := func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
		if strings.HasPrefix(filepath.Base(dir), "cachalot-bench-") {
			os.RemoveAll(dir)
		}
	}
	cl := sts.NewFromConfig(ep.config())
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := cl.GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{}); err == nil {
			return ep, stop, nil
		} else if time.Now().After(deadline) {
			stop()
			return endpoint{}, nil, fmt.Errorf("cachalot did not become ready: %w", err)
		}
		time.Sleep(time.Millisecond)
	}
}

func startToReady(bin string, n int) ([]time.Duration, error) {
	var out []time.Duration
	for i := 0; i < n; i++ {
		t := time.Now()
		_, stop, err := startCachalot(bin, "")
		if err != nil {
			return nil, err
		}
		out = append(out, time.Since(t))
		stop()
	}
	return out, nil
}

// rawCall signs every request afresh with the SDK's SigV4 signer and sends
// it with net/http: the servers' work without the SDK client's middleware.
func rawCall(service, body string) func(aws.Config) func(context.Context) error {
	return func(cfg aws.Config) func(context.Context) error {
		creds, _ := cfg.Credentials.Retrieve(context.Background())
		signer := v4.NewSigner()
		sum := sha256.Sum256([]byte(body))
		hash := hex.EncodeToString(sum[:])
		hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
		return func(ctx context.Context) error {
			req, err := http.NewRequestWithContext(ctx, "POST", *cfg.BaseEndpoint+"/", strings.NewReader(body))
			if err != nil {
				return err
			}
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
			if err := signer.SignHTTP(ctx, creds, req, hash, service, cfg.Region, time.Now()); err != nil {
				return err
			}
			resp, err := hc.Do(req)
			if err != nil {
				return err
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				return fmt.Errorf("status %d", resp.StatusCode)
			}
			return nil
		}
	}
}
