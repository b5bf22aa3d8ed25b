package cloudwatch

import (
	"context"
	"testing"
	"time"

	"github.com/cachalot-dev/cachalot/internal/api/cloudwatchapi"
	"github.com/cachalot-dev/cachalot/internal/auth"
	"github.com/cachalot-dev/cachalot/internal/awserr"
	"github.com/google/go-cmp/cmp"
)

var (
	t0   = time.Date(2026, 12, 7, 5, 0, 0, 0, time.UTC)
	node = NodeKey{Account: "123456789012", Region: "us-east-1", CacheClusterID: "c1", CacheNodeID: "0001"}
)

func scoped() context.Context {
	return auth.WithScope(context.Background(), auth.Scope{AccountID: node.Account, Region: node.Region})
}

func dims(cluster, nodeID string) []cloudwatchapi.Dimension {
	return []cloudwatchapi.Dimension{{Name: ptr(DimensionCacheClusterID), Value: ptr(cluster)}, {Name: ptr(DimensionCacheNodeID), Value: ptr(nodeID)}}
}

// filled is a Service holding 10 s samples of node over 3 minutes:
// CurrConnections 1, 2, … 18.
func filled(capacity int) *Service {
	s := New(Config{Capacity: capacity})
	for i := range 18 {
		s.Record(node, t0.Add(time.Duration(i)*10*time.Second), map[string]float64{CurrConnections: float64(i + 1), CacheHits: 2})
	}
	return s
}

func TestGetMetricStatistics(t *testing.T) {
	s := filled(100)
	out, err := s.GetMetricStatistics(scoped(), &cloudwatchapi.GetMetricStatisticsInput{
		Namespace: ptr(Namespace), MetricName: ptr(CurrConnections), Dimensions: dims("C1", "0001"),
		StartTime: ptr(t0.Add(30 * time.Second)), EndTime: ptr(t0.Add(3 * time.Minute)), Period: ptr[int32](60),
		Statistics: []string{"Average", "Sum", "Minimum", "Maximum", "SampleCount"}, ExtendedStatistics: nil,
	})
	if err != nil {
		t.Fatal(err)
	}
	unit := "Count"
	want := []cloudwatchapi.Datapoint{
		{Timestamp: ptr(t0), Average: ptr(3.5), Sum: ptr(21.0), Minimum: ptr(1.0), Maximum: ptr(6.0), SampleCount: ptr(6.0), Unit: &unit}, // the start rounds down to the minute
		{Timestamp: ptr(t0.Add(time.Minute)), Average: ptr(9.5), Sum: ptr(57.0), Minimum: ptr(7.0), Maximum: ptr(12.0), SampleCount: ptr(6.0), Unit: &unit},
		{Timestamp: ptr(t0.Add(2 * time.Minute)), Average: ptr(15.5), Sum: ptr(93.0), Minimum: ptr(13.0), Maximum: ptr(18.0), SampleCount: ptr(6.0), Unit: &unit},
	}
	if diff := cmp.Diff(want, out.Datapoints); diff != "" {
		t.Errorf("datapoints (-want +got):\n%s", diff)
	}
}

func TestRingBounded(t *testing.T) {
	s := filled(4) // keeps the last 4 samples: 15..18
	out, err := s.GetMetricStatistics(scoped(), &cloudwatchapi.GetMetricStatisticsInput{
		Namespace: ptr(Namespace), MetricName: ptr(CurrConnections), Dimensions: dims("c1", "0001"),
		StartTime: ptr(t0), EndTime: ptr(t0.Add(time.Hour)), Period: ptr[int32](3600), Statistics: []string{"Minimum", "SampleCount"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Datapoints) != 1 || *out.Datapoints[0].Minimum != 15 || *out.Datapoints[0].SampleCount != 4 {
		t.Errorf("datapoints = %+v, want one with Minimum 15, SampleCount 4", out.Datapoints)
	}
}

func TestGetMetricStatisticsOtherAccount(t *testing.T) {
	s := filled(100)
	ctx := auth.WithScope(context.Background(), auth.Scope{AccountID: "210987654321", Region: node.Region})
	out, err := s.GetMetricStatistics(ctx, &cloudwatchapi.GetMetricStatisticsInput{
		Namespace: ptr(Namespace), MetricName: ptr(CurrConnections), Dimensions: dims("c1", "0001"),
		StartTime: ptr(t0), EndTime: ptr(t0.Add(time.Hour)), Period: ptr[int32](60), Statistics: []string{"Sum"},
	})
	if err != nil || len(out.Datapoints) != 0 {
		t.Errorf("another account's query = %+v, %v; want no datapoints", out, err)
	}
}

func TestGetMetricStatisticsBadInput(t *testing.T) {
	base := func() *cloudwatchapi.GetMetricStatisticsInput {
		return &cloudwatchapi.GetMetricStatisticsInput{Namespace: ptr(Namespace), MetricName: ptr(CurrConnections), Dimensions: dims("c1", "0001"),
			StartTime: ptr(t0), EndTime: ptr(t0.Add(time.Hour)), Period: ptr[int32](60), Statistics: []string{"Sum"}}
	}
	for _, tc := range []struct {
		name, code, msg string
		edit            func(*cloudwatchapi.GetMetricStatisticsInput)
	}{
		{"period", "InvalidParameterValue", "The parameter Period must be a multiple of 60.", func(in *cloudwatchapi.GetMetricStatisticsInput) { in.Period = ptr[int32](61) }},
		{"range", "InvalidParameterValue", "The parameter StartTime must be less than the parameter EndTime.", func(in *cloudwatchapi.GetMetricStatisticsInput) { in.StartTime = ptr(t0.Add(2 * time.Hour)) }},
		{"datapoints", "InvalidParameterCombination", "You have requested up to 1,441 datapoints, which exceeds the limit of 1,440. You may reduce the datapoints requested by increasing Period, or decreasing the time range.",
			func(in *cloudwatchapi.GetMetricStatisticsInput) { in.EndTime = ptr(t0.Add(1441 * time.Minute)) }},
		{"statistic", "InvalidParameterValue", "The parameter Statistics.member.1 must be a value in the set [ Maximum, Sum, SampleCount, Average, Minimum ].",
			func(in *cloudwatchapi.GetMetricStatisticsInput) { in.Statistics = []string{"Median"} }},
		{"none", "InvalidParameterCombination", "Must specify either Statistics or ExtendedStatistics, but not both.", func(in *cloudwatchapi.GetMetricStatisticsInput) { in.Statistics = nil }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := base()
			tc.edit(in)
			_, err := filled(10).GetMetricStatistics(scoped(), in)
			e, ok := awserr.As(err)
			if !ok || e.Code != tc.code || e.Message != tc.msg {
				t.Errorf("GetMetricStatistics = %v, want %s: %s", err, tc.code, tc.msg)
			}
		})
	}
}

func TestGetMetricData(t *testing.T) {
	s := filled(100)
	out, err := s.GetMetricData(scoped(), &cloudwatchapi.GetMetricDataInput{
		StartTime: ptr(t0), EndTime: ptr(t0.Add(2 * time.Minute)), ScanBy: ptr("TimestampAscending"),
		MetricDataQueries: []cloudwatchapi.MetricDataQuery{{Id: ptr("hits"), MetricStat: &cloudwatchapi.MetricStat{
			Metric: &cloudwatchapi.Metric{Namespace: ptr(Namespace), MetricName: ptr(CacheHits), Dimensions: dims("c1", "0001")},
			Period: ptr[int32](60), Stat: ptr("Sum")}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	r := out.MetricDataResults[0]
	if diff := cmp.Diff([]float64{12, 12}, r.Values); diff != "" || *r.Label != CacheHits || len(r.Timestamps) != 2 || !r.Timestamps[0].Equal(t0) {
		t.Errorf("result = %+v (values -want +got:\n%s)", r, diff)
	}
}

func TestListMetrics(t *testing.T) {
	s := filled(10)
	s.Record(NodeKey{Account: "210987654321", Region: node.Region, CacheClusterID: "other", CacheNodeID: "0001"}, t0, map[string]float64{CurrConnections: 1})
	out, err := s.ListMetrics(scoped(), &cloudwatchapi.ListMetricsInput{Namespace: ptr(Namespace)})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range out.Metrics {
		names = append(names, *m.MetricName+" "+*m.Dimensions[0].Value+"/"+*m.Dimensions[1].Value)
	}
	if diff := cmp.Diff([]string{"CacheHits c1/0001", "CurrConnections c1/0001"}, names); diff != "" {
		t.Errorf("ListMetrics (-want +got):\n%s", diff)
	}
	out, _ = s.ListMetrics(scoped(), &cloudwatchapi.ListMetricsInput{Dimensions: []cloudwatchapi.DimensionFilter{{Name: ptr(DimensionCacheClusterID), Value: ptr("nope")}}})
	if len(out.Metrics) != 0 {
		t.Errorf("ListMetrics filtered on another cluster = %d metrics, want 0", len(out.Metrics))
	}
}
