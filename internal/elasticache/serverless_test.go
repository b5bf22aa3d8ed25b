package elasticache

import "testing"

// TestServerlessEvent: events of a serverless cache's hidden group become
// the cache's (source type serverless-cache), its members' are dropped.
func TestServerlessEvent(t *testing.T) {
	g := ServerlessGroupID("sess")
	for _, tc := range []struct {
		in       Event
		ok       bool
		src, msg string
	}{
		{Event{SourceType: "replication-group", SourceID: g, Message: GroupCreatedMessage(g)}, true, "sess", "Serverless cache sess created"},
		{Event{SourceType: "replication-group", SourceID: g, Message: GroupDeletedMessage(g)}, true, "sess", "Serverless cache sess deleted"},
		{Event{SourceType: "replication-group", SourceID: g, Message: "Failover from primary node a to replica node b completed"}, true, "sess", "Serverless cache sess: a cache node was replaced"},
		{Event{SourceType: "cache-cluster", SourceID: g + "-0001-001", Message: "Cache cluster created"}, false, "", ""},
	} {
		got, ok := serverlessEvent(tc.in)
		if ok != tc.ok || ok && (got.SourceType != "serverless-cache" || got.SourceID != tc.src || got.Message != tc.msg) {
			t.Errorf("serverlessEvent(%+v) = %+v, %v; want %s %q, %v", tc.in, got, ok, tc.src, tc.msg, tc.ok)
		}
	}
	// A name that looks like a member's suffix is still the cache's.
	odd := ServerlessGroupID("x-0001-001")
	if got, ok := serverlessEvent(Event{SourceType: "replication-group", SourceID: odd, Message: GroupCreatedMessage(odd)}); !ok || got.SourceID != "x-0001-001" {
		t.Errorf("serverlessEvent(created %s) = %+v, %v; want source x-0001-001", odd, got, ok)
	}
}
