package cloudwatch

import (
	"context"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cachalot-dev/cachalot/internal/api/cloudwatchapi"
	"github.com/cachalot-dev/cachalot/internal/auth"
)

// maxDatapoints is CloudWatch's limit of datapoints per GetMetricStatistics.
const maxDatapoints = 1440

// statistics are CloudWatch's statistic names.
var statistics = []string{"SampleCount", "Average", "Sum", "Minimum", "Maximum"}

// percentile matches an extended statistic Cachalot computes: pNN or pNN.NN.
var percentile = regexp.MustCompile(`^p(\d{1,2}(\.\d{1,2})?|100)$`)

// bucket gathers the values of one period.
type bucket struct {
	start       int64 // unix ms
	vals        []float64
	sum         float64
	min, max    float64
	sampleCount float64
}

func (b *bucket) add(v float64) {
	if b.sampleCount == 0 || v < b.min {
		b.min = v
	}
	if b.sampleCount == 0 || v > b.max {
		b.max = v
	}
	b.sum += v
	b.sampleCount++
	b.vals = append(b.vals, v)
}

// stat is one statistic of a bucket: a standard one or a percentile.
func (b *bucket) stat(name string) float64 {
	switch name {
	case "SampleCount":
		return b.sampleCount
	case "Average":
		return b.sum / b.sampleCount
	case "Sum":
		return b.sum
	case "Minimum":
		return b.min
	case "Maximum":
		return b.max
	}
	p, _ := strconv.ParseFloat(strings.TrimPrefix(name, "p"), 64)
	s := slices.Sorted(slices.Values(b.vals))
	i := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[max(i, 0)]
}

// query is one metric asked for over a time range.
type query struct {
	metric     string
	dims       map[string]string
	period     int64 // seconds
	from, to   time.Time
	unit       string // "" = any
	namespaceN string
}

// buckets gathers the caller's samples of q into periods, oldest first;
// periods without a sample are left out, as CloudWatch leaves them.
func (s *Service) buckets(ctx context.Context, q query) []*bucket {
	if q.namespaceN != Namespace || !Published(q.metric) || (q.unit != "" && q.unit != units[q.metric]) {
		return nil
	}
	key, ok := nodeOf(ctx, q.dims)
	if !ok {
		return nil
	}
	s.mu.RLock()
	r := s.nodes[key]
	s.mu.RUnlock()
	if r == nil {
		return nil
	}
	col := r.column(q.metric)
	if col < 0 {
		return nil
	}
	start := alignStart(q.from, q.period).UnixMilli()
	step := q.period * 1000
	var out []*bucket
	r.each(col, start, q.to.UnixMilli(), func(t int64, v float64) {
		bs := start + (t-start)/step*step
		if len(out) == 0 || out[len(out)-1].start != bs {
			out = append(out, &bucket{start: bs})
		}
		out[len(out)-1].add(v)
	})
	return out
}

// nodeOf is the node a metric's dimensions name in the caller's account
// and region: exactly CacheClusterId and CacheNodeId.
func nodeOf(ctx context.Context, dims map[string]string) (NodeKey, bool) {
	cl, node := dims[DimensionCacheClusterID], dims[DimensionCacheNodeID]
	if len(dims) != 2 || cl == "" || node == "" {
		return NodeKey{}, false
	}
	sc := auth.ScopeFrom(ctx)
	return NodeKey{Account: sc.AccountID, Region: sc.Region, CacheClusterID: strings.ToLower(cl), CacheNodeID: node}, true
}

// alignStart rounds a start time down as CloudWatch does: to the minute
// for periods of a minute or more, else to the period.
func alignStart(t time.Time, period int64) time.Time {
	if period >= 60 {
		return t.Truncate(time.Minute)
	}
	return t.Truncate(time.Duration(period) * time.Second)
}

// checkPeriod validates a period in seconds: 1, 5, 10, 30 or a multiple of
// 60, as CloudWatch accepts.
func checkPeriod(param string, p int32) error {
	if p <= 0 || (p%60 != 0 && !slices.Contains([]int32{1, 5, 10, 30}, p)) {
		return cloudwatchapi.ErrInvalidParameterValueException("The parameter %s must be a multiple of 60.", param)
	}
	return nil
}

func checkRange(from, to time.Time) error {
	if !from.Before(to) {
		return cloudwatchapi.ErrInvalidParameterValueException("The parameter StartTime must be less than the parameter EndTime.")
	}
	return nil
}

func dimensions(ds []cloudwatchapi.Dimension) (map[string]string, error) {
	if len(ds) > 30 {
		return nil, cloudwatchapi.ErrInvalidParameterValueException("The collection Dimensions must not have a size greater than 30.")
	}
	m := make(map[string]string, len(ds))
	for _, d := range ds {
		m[deref(d.Name)] = deref(d.Value)
	}
	return m, nil
}

func deref[T any](p *T) T {
	if p == nil {
		var z T
		return z
	}
	return *p
}

// withCommas writes n with thousands separators, as CloudWatch's messages.
func withCommas(n int64) string {
	s := strconv.FormatInt(n, 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// GetMetricStatistics implements cloudwatchapi.Operations.
func (s *Service) GetMetricStatistics(ctx context.Context, in *cloudwatchapi.GetMetricStatisticsInput) (*cloudwatchapi.GetMetricStatisticsOutput, error) {
	q, err := statisticsQuery(in)
	if err != nil {
		return nil, err
	}
	out := &cloudwatchapi.GetMetricStatisticsOutput{Label: in.MetricName, Datapoints: []cloudwatchapi.Datapoint{}}
	unit := units[q.metric]
	for _, b := range s.buckets(ctx, q) {
		dp := cloudwatchapi.Datapoint{Timestamp: ptr(time.UnixMilli(b.start).UTC()), Unit: &unit}
		for _, st := range in.Statistics {
			v := b.stat(st)
			switch st {
			case "SampleCount":
				dp.SampleCount = &v
			case "Average":
				dp.Average = &v
			case "Sum":
				dp.Sum = &v
			case "Minimum":
				dp.Minimum = &v
			case "Maximum":
				dp.Maximum = &v
			}
		}
		for _, st := range in.ExtendedStatistics {
			if dp.ExtendedStatistics == nil {
				dp.ExtendedStatistics = map[string]float64{}
			}
			dp.ExtendedStatistics[st] = b.stat(st)
		}
		out.Datapoints = append(out.Datapoints, dp)
	}
	return out, nil
}

// statisticsQuery validates a GetMetricStatistics input as CloudWatch does.
func statisticsQuery(in *cloudwatchapi.GetMetricStatisticsInput) (query, error) {
	if err := checkPeriod("Period", deref(in.Period)); err != nil {
		return query{}, err
	}
	from, to := deref(in.StartTime), deref(in.EndTime)
	if err := checkRange(from, to); err != nil {
		return query{}, err
	}
	if (len(in.Statistics) == 0) == (len(in.ExtendedStatistics) == 0) {
		return query{}, cloudwatchapi.ErrInvalidParameterCombinationException("Must specify either Statistics or ExtendedStatistics, but not both.")
	}
	for i, st := range in.Statistics {
		if !slices.Contains(statistics, st) {
			return query{}, cloudwatchapi.ErrInvalidParameterValueException(
				"The parameter Statistics.member.%d must be a value in the set [ Maximum, Sum, SampleCount, Average, Minimum ].", i+1)
		}
	}
	for _, st := range in.ExtendedStatistics {
		if !percentile.MatchString(st) {
			return query{}, cloudwatchapi.ErrInvalidParameterValueException("The parameter ExtendedStatistics contains an invalid statistic %s.", st)
		}
	}
	period := int64(deref(in.Period))
	if n := (alignedSpan(from, to, period) + period - 1) / period; n > maxDatapoints {
		return query{}, cloudwatchapi.ErrInvalidParameterCombinationException(
			"You have requested up to %s datapoints, which exceeds the limit of %s. You may reduce the datapoints requested by increasing Period, or decreasing the time range.",
			withCommas(n), withCommas(maxDatapoints))
	}
	dims, err := dimensions(in.Dimensions)
	if err != nil {
		return query{}, err
	}
	return query{metric: deref(in.MetricName), namespaceN: deref(in.Namespace), dims: dims, period: period,
		from: from, to: to, unit: deref(in.Unit)}, nil
}

// alignedSpan is the seconds from the aligned start to the end.
func alignedSpan(from, to time.Time, period int64) int64 {
	return int64(math.Ceil(to.Sub(alignStart(from, period)).Seconds()))
}

func ptr[T any](v T) *T { return &v }

// GetMetricData implements cloudwatchapi.Operations: metric queries
// (MetricStat) only; a math expression is refused.
func (s *Service) GetMetricData(ctx context.Context, in *cloudwatchapi.GetMetricDataInput) (*cloudwatchapi.GetMetricDataOutput, error) {
	from, to := deref(in.StartTime), deref(in.EndTime)
	if err := checkRange(from, to); err != nil {
		return nil, err
	}
	if len(in.MetricDataQueries) > 500 {
		return nil, cloudwatchapi.ErrInvalidParameterValueException("The collection MetricDataQueries must not have a size greater than 500.")
	}
	if in.NextToken != nil {
		return nil, cloudwatchapi.ErrInvalidNextToken("The service cannot process the specified NextToken.")
	}
	descending := deref(in.ScanBy) != "TimestampAscending"
	out := &cloudwatchapi.GetMetricDataOutput{MetricDataResults: []cloudwatchapi.MetricDataResult{}, Messages: []cloudwatchapi.MessageData{}}
	for i, mq := range in.MetricDataQueries {
		q, err := dataQuery(i+1, mq, from, to)
		if err != nil {
			return nil, err
		}
		if mq.ReturnData != nil && !*mq.ReturnData {
			continue
		}
		res := cloudwatchapi.MetricDataResult{Id: mq.Id, Label: mq.Label, StatusCode: ptr("Complete"),
			Timestamps: []time.Time{}, Values: []float64{}, Messages: []cloudwatchapi.MessageData{}}
		if res.Label == nil {
			res.Label = &q.metric
		}
		stat := deref(mq.MetricStat.Stat)
		for _, b := range s.buckets(ctx, q) {
			res.Timestamps = append(res.Timestamps, time.UnixMilli(b.start).UTC())
			res.Values = append(res.Values, b.stat(stat))
		}
		if descending {
			slices.Reverse(res.Timestamps)
			slices.Reverse(res.Values)
		}
		out.MetricDataResults = append(out.MetricDataResults, res)
	}
	return out, nil
}

var queryID = regexp.MustCompile(`^[a-z][a-zA-Z0-9_]*$`)

// dataQuery validates the n-th (from 1) query of a GetMetricData.
func dataQuery(n int, mq cloudwatchapi.MetricDataQuery, from, to time.Time) (query, error) {
	param := fmt.Sprintf("MetricDataQueries.member.%d", n)
	if !queryID.MatchString(deref(mq.Id)) {
		return query{}, cloudwatchapi.ErrInvalidParameterValueException(
			"The value %s for parameter %s.Id is not valid: it must start with a lowercase letter and contain only letters, numbers and underscores.", deref(mq.Id), param)
	}
	if mq.Expression != nil {
		return query{}, cloudwatchapi.ErrInvalidParameterValueException("The parameter %s.Expression is not supported by Cachalot: use MetricStat.", param)
	}
	ms := mq.MetricStat
	if ms == nil || ms.Metric == nil {
		return query{}, cloudwatchapi.ErrMissingRequiredParameterException("The parameter %s.MetricStat is required.", param)
	}
	if err := checkPeriod(param+".MetricStat.Period", deref(ms.Period)); err != nil {
		return query{}, err
	}
	if st := deref(ms.Stat); !slices.Contains(statistics, st) && !percentile.MatchString(st) {
		return query{}, cloudwatchapi.ErrInvalidParameterValueException("The parameter %s.MetricStat.Stat contains an invalid statistic %s.", param, st)
	}
	dims, err := dimensions(ms.Metric.Dimensions)
	if err != nil {
		return query{}, err
	}
	return query{metric: deref(ms.Metric.MetricName), namespaceN: deref(ms.Metric.Namespace), dims: dims,
		period: int64(deref(ms.Period)), from: from, to: to, unit: deref(ms.Unit)}, nil
}
