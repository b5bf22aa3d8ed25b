package endpoint_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
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
)

type allowAll struct{}

func (allowAll) Authorize(context.Context, auth.Request) error { return nil }

// BenchmarkHandler measures the server side of a signed call: signature
// verification, key lookup, decoding, dispatch and encoding.
func BenchmarkHandler(b *testing.B) {
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
	h := endpoint.New(endpoint.Config{Keys: accts, Authorizer: allowAll{}, Services: []endpoint.Binding{
		{Service: stsapi.Metadata, Operations: stsapi.OperationTable(sts.New())},
		{Service: elasticacheapi.Metadata, Operations: elasticacheapi.OperationTable(elasticache.New(st, elasticache.Config{}))},
	}})
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
			b.ReportAllocs()
			for b.Loop() {
				r := httptest.NewRequest("POST", "/", strings.NewReader(c.body))
				r.Header = req.Header
				r.Host = req.Host
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				if w.Code != 200 {
					b.Fatalf("status %d: %s", w.Code, w.Body)
				}
			}
		})
	}
}
