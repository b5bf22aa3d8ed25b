package imds

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/cachalot-dev/cachalot/internal/api/ec2api"
	"github.com/cachalot-dev/cachalot/internal/auth"
	"github.com/cachalot-dev/cachalot/internal/ec2"
	"github.com/cachalot-dev/cachalot/internal/store"
)

func BenchmarkHandler(b *testing.B) {
	st, err := store.OpenBolt(filepath.Join(b.TempDir(), "s.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	s := ec2.New(st, ec2.Config{})
	ctx := auth.WithScope(context.Background(), auth.Scope{AccountID: "111111111111", Region: "us-east-1"})
	one := int32(1)
	ami := "ami-12345678"
	r, err := s.RunInstances(ctx, &ec2api.RunInstancesRequest{ImageId: &ami, MinCount: &one, MaxCount: &one})
	if err != nil {
		b.Fatal(err)
	}
	id := *r.Instances[0].InstanceId
	h := New(Config{Instances: s, Roles: &fakeRoles{}}).Handler("111111111111", "us-east-1", id)
	req := httptest.NewRequest("GET", "/latest/meta-data/instance-id", nil)
	b.ReportAllocs()
	for range b.N {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatal(w.Code)
		}
	}
}
