package imds

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/cachalot-dev/cachalot/internal/api/ec2api"
	"github.com/cachalot-dev/cachalot/internal/auth"
	"github.com/cachalot-dev/cachalot/internal/ec2"
	"github.com/cachalot-dev/cachalot/internal/store"
)

// countingInstances counts the reads of the metadata.
type countingInstances struct {
	*ec2.Service
	reads atomic.Int64
}

func (c *countingInstances) InstanceMetadata(ctx context.Context, account, region, instance string) (*ec2.Metadata, error) {
	c.reads.Add(1)
	return c.Service.InstanceMetadata(ctx, account, region, instance)
}

// waitSeen blocks until the server's store watcher has seen revision rev
// (no timing: it waits for the event, bounded by the test's own timeout).
func waitSeen(t *testing.T, s *Server, inst *countingInstances) {
	t.Helper()
	rev, err := inst.Revision(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for {
		s.cache.mu.Lock()
		seen := s.cache.seen
		s.cache.mu.Unlock()
		if seen >= rev {
			return
		}
		select {
		case <-t.Context().Done():
			t.Fatal("watcher never saw the revision")
		default:
			runtime.Gosched()
		}
	}
}

// TestMetadataCache: metadata is read once and served again across store
// revisions that did not touch the instance's scope; a change in its
// scope (its tags, its metadata options) is served on the very next
// request, without waiting for the watcher.
func TestMetadataCache(t *testing.T) {
	st, err := store.OpenBolt(filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	svc := ec2.New(st, ec2.Config{})
	const acct, other = "111111111111", "222222222222"
	ctx := auth.WithScope(context.Background(), auth.Scope{AccountID: acct, Region: "us-east-1"})
	otherCtx := auth.WithScope(context.Background(), auth.Scope{AccountID: other, Region: "us-east-1"})
	one, ami := int32(1), "ami-12345678"
	r, err := svc.RunInstances(ctx, &ec2api.RunInstancesRequest{ImageId: &ami, MinCount: &one, MaxCount: &one,
		MetadataOptions: &ec2api.InstanceMetadataOptionsRequest{InstanceMetadataTags: ptr("enabled")}})
	if err != nil {
		t.Fatal(err)
	}
	id := *r.Instances[0].InstanceId
	inst := &countingInstances{Service: svc}
	s := New(Config{Instances: inst, Roles: &fakeRoles{}})
	s.WatchStore(st)
	t.Cleanup(s.Close)
	h := s.Handler(acct, "us-east-1", id)
	get := func(path string) (int, string) {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", path, nil))
		return w.Code, w.Body.String()
	}

	if code, body := get("/latest/meta-data/instance-id"); code != http.StatusOK || body != id {
		t.Fatalf("instance-id = %d %q", code, body)
	}
	get("/latest/meta-data/local-ipv4")
	if n := inst.reads.Load(); n != 1 {
		t.Errorf("two requests at one revision read the metadata %d times, want 1", n)
	}
	// Another account's change: the cache still serves.
	if _, err := svc.CreateVpc(otherCtx, &ec2api.CreateVpcRequest{CidrBlock: ptr("10.0.0.0/16")}); err != nil {
		t.Fatal(err)
	}
	waitSeen(t, s, inst)
	get("/latest/meta-data/instance-id")
	if n := inst.reads.Load(); n != 1 {
		t.Errorf("after another scope's change: %d reads, want 1", n)
	}
	// Its own scope's change: the very next request sees it, watcher or not.
	if err := svc.CreateTags(ctx, &ec2api.CreateTagsRequest{Resources: []string{id}, Tags: []ec2api.Tag{{Key: ptr("Name"), Value: ptr("web")}}}); err != nil {
		t.Fatal(err)
	}
	if code, body := get("/latest/meta-data/tags/instance/Name"); code != http.StatusOK || body != "web" {
		t.Errorf("tag right after CreateTags = %d %q, want web", code, body)
	}
	if _, err := svc.ModifyInstanceMetadataOptions(ctx, &ec2api.ModifyInstanceMetadataOptionsRequest{InstanceId: ptr(id), HttpTokens: ptr("required")}); err != nil {
		t.Fatal(err)
	}
	if code, _ := get("/latest/meta-data/instance-id"); code != http.StatusUnauthorized {
		t.Errorf("IMDSv1 right after HttpTokens=required = %d, want 401", code)
	}
	before := inst.reads.Load()
	waitSeen(t, s, inst)
	get("/latest/meta-data/instance-id")
	get("/latest/meta-data/instance-id")
	if n := inst.reads.Load() - before; n > 1 {
		t.Errorf("two requests after the change: %d reads, want at most 1", n)
	}
}

func ptr[T any](v T) *T { return &v }
