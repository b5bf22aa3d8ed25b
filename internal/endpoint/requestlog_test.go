package endpoint_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/cachalot-dev/cachalot/internal/api/ec2api"
	"github.com/cachalot-dev/cachalot/internal/awsproto"
	"github.com/cachalot-dev/cachalot/internal/endpoint"
)

// TestRequestLog: one info line per request with who, what and how it
// ended, and no secret (neither the secret key nor the signature).
func TestRequestLog(t *testing.T) {
	var buf bytes.Buffer
	var mu sync.Mutex
	var records []endpoint.RequestRecord
	h, _ := limitsHandler(endpoint.Config{
		Logger:  slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo})),
		Observe: func(r endpoint.RequestRecord) { mu.Lock(); records = append(records, r); mu.Unlock() },
	})
	const srv = "http://127.0.0.1:4566"
	ok := signedRequest(t, srv, testCreds, "sts", "us-east-1", "Action=GetCallerIdentity&Version=2011-06-15")
	record(h, ok)
	badKey := aws.Credentials{AccessKeyID: testCreds.AccessKeyID, SecretAccessKey: "wrong-secret"}
	bad := signedRequest(t, srv, badKey, "sts", "us-east-1", "Action=GetCallerIdentity&Version=2011-06-15")
	signature := bad.Header.Get("Authorization")
	record(h, bad)
	var lines []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		if m["msg"] == "request" {
			lines = append(lines, m)
		}
	}
	if len(lines) != 2 {
		t.Fatalf("request lines = %d, want 2:\n%s", len(lines), buf.String())
	}
	want := []map[string]any{
		{"level": "INFO", "account": "000000000000", "principal": "arn:aws:iam::000000000000:root", "service": "sts",
			"action": "GetCallerIdentity", "status": float64(200), "code": ""},
		// The action is in the body, not read as parameters when the
		// signature over it fails.
		{"level": "INFO", "account": "", "principal": "", "service": "sts",
			"action": "", "status": float64(403), "code": "SignatureDoesNotMatch"},
	}
	for i, l := range lines {
		for k, v := range want[i] {
			if l[k] != v {
				t.Errorf("line %d: %s = %v, want %v", i, k, l[k], v)
			}
		}
		for _, k := range []string{"request_id", "latency"} {
			if _, ok := l[k]; !ok {
				t.Errorf("line %d: no %s", i, k)
			}
		}
	}
	for _, secret := range []string{testCreds.SecretAccessKey, badKey.SecretAccessKey, signature, "Signature="} {
		if strings.Contains(buf.String(), secret) {
			t.Errorf("log holds secret %q:\n%s", secret, buf.String())
		}
	}
	if len(records) != 2 || records[1].Code != "SignatureDoesNotMatch" || records[0].Principal == "" {
		t.Errorf("observed = %+v", records)
	}
}

// A request whose client hung up (the operation returns the context's
// cancellation) is logged at info, not as an internal failure; any other
// unexpected error is.
func TestRequestLogCancelled(t *testing.T) {
	for _, tc := range []struct {
		err   error
		level string
	}{
		{fmt.Errorf("read state: %w", context.Canceled), "INFO"},
		{errors.New("disk on fire"), "ERROR"},
	} {
		var buf bytes.Buffer
		cfg := endpoint.Config{Logger: slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))}
		cfg.Keys, cfg.Authorizer = oneKey{}, allowAll{}
		cfg.Services = []endpoint.Binding{{Service: ec2api.Metadata, Operations: map[string]awsproto.Operation{"DescribeVpcs": {
			Name: "DescribeVpcs",
			Call: func(context.Context, any) (any, error) { return nil, tc.err },
		}}}}
		h := endpoint.New(cfg)
		if a := record(h, signedRequest(t, "http://127.0.0.1:4566", testCreds, "ec2", "us-east-1", "Action=DescribeVpcs&Version=2016-11-15")); a.status != 500 {
			t.Errorf("%v: status %d, want 500", tc.err, a.status)
		}
		var levels []string
		for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
			var m map[string]any
			if err := json.Unmarshal([]byte(l), &m); err != nil {
				t.Fatalf("log line %q: %v", l, err)
			}
			if m["msg"] != "request" {
				levels = append(levels, fmt.Sprint(m["level"]))
			}
		}
		if len(levels) != 1 || levels[0] != tc.level {
			t.Errorf("%v: levels of the failure's lines = %v, want [%s]:\n%s", tc.err, levels, tc.level, buf.String())
		}
	}
}
