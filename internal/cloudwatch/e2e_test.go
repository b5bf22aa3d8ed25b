package cloudwatch_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwschemas "github.com/aws/aws-sdk-go-v2/service/cloudwatch/schemas"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/aws/smithy-go/transport/http/protocol/awsjson"
	"github.com/aws/smithy-go/transport/http/protocol/awsquery"

	"github.com/cachalot-dev/cachalot/internal/app"
	"github.com/cachalot-dev/cachalot/internal/app/apptest"
	"github.com/cachalot-dev/cachalot/internal/engine/redis"
)

// TestCloudWatchMetrics: a real cache's engine statistics, sampled by the
// service, read back through CloudWatch's API by aws-sdk-go-v2 in every
// form the service accepts: awsQuery, awsJson 1.0 (the AWS CLI's) and
// Smithy RPC v2 CBOR (the SDK's default, checked on the wire).
// Loopback mode: no root needed.
func TestCloudWatchMetrics(t *testing.T) {
	env := apptest.Start(t, func(c *app.Config) {
		c.Network = app.NetworkLoopback
		c.MetricsInterval = 100 * time.Millisecond
	})
	ctx := context.Background()
	ec := elasticache.NewFromConfig(env.Config())
	if _, err := ec.CreateCacheCluster(ctx, &elasticache.CreateCacheClusterInput{CacheClusterId: aws.String("Metrics1"),
		Engine: aws.String("redis"), CacheNodeType: aws.String("cache.t3.micro"), NumCacheNodes: aws.Int32(1)}); err != nil {
		t.Fatal(err)
	}
	addr := waitAvailable(t, ec, "metrics1")
	protocols := clients(t, env)
	var conns []*redis.Conn
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	for _, name := range []string{"query", "json", "cbor"} {
		t.Run(name, func(t *testing.T) {
			cw := protocols[name]
			metrics := waitMetrics(t, cw)
			for _, want := range []string{"CPUUtilization", "CurrConnections", "NewConnections", "BytesUsedForCache", "CacheHits", "CacheMisses", "CurrItems", "Evictions"} {
				if !slices.Contains(metrics, want) {
					t.Errorf("ListMetrics = %v, missing %s", metrics, want)
				}
			}
			before := maxConnections(t, cw)
			for range 5 {
				c, err := redis.Dial(ctx, addr)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := c.Do(ctx, "PING"); err != nil {
					t.Fatal(err)
				}
				conns = append(conns, c)
			}
			deadline := time.Now().Add(30 * time.Second)
			for got := maxConnections(t, cw); got < before+5; got = maxConnections(t, cw) {
				if time.Now().After(deadline) {
					t.Fatalf("CurrConnections Maximum = %v after opening 5 connections, want at least %v", got, before+5)
				}
				time.Sleep(50 * time.Millisecond)
			}
			data, err := cw.GetMetricData(ctx, &cloudwatch.GetMetricDataInput{StartTime: aws.Time(time.Now().Add(-5 * time.Minute)), EndTime: aws.Time(time.Now().Add(time.Minute)),
				MetricDataQueries: []cwtypes.MetricDataQuery{{Id: aws.String("conns"), MetricStat: &cwtypes.MetricStat{
					Metric: &cwtypes.Metric{Namespace: aws.String("AWS/ElastiCache"), MetricName: aws.String("CurrConnections"), Dimensions: nodeDims()},
					Period: aws.Int32(60), Stat: aws.String("Maximum")}}}})
			if err != nil || len(data.MetricDataResults) != 1 || len(data.MetricDataResults[0].Values) == 0 || slices.Max(data.MetricDataResults[0].Values) < before+5 {
				t.Errorf("GetMetricData(CurrConnections Maximum) = %+v, %v; want a value of at least %v", data, err, before+5)
			}
			badInput(t, cw)
			if after := waitMetrics(t, cw); !slices.Equal(after, metrics) {
				t.Errorf("ListMetrics after bad input = %v, want %v", after, metrics)
			}
			if _, err := cw.PutMetricData(ctx, &cloudwatch.PutMetricDataInput{Namespace: aws.String("Mine"),
				MetricData: []cwtypes.MetricDatum{{MetricName: aws.String("m"), Value: aws.Float64(1)}}}); code(err) != "NotImplemented" {
				t.Errorf("PutMetricData = %v, want NotImplemented", err)
			}
		})
	}
	t.Run("same", func(t *testing.T) { sameAnswers(t, env, protocols) })
	t.Run("denied", func(t *testing.T) { deniedActions(t, env) })
	t.Run("raw-cbor", func(t *testing.T) { rawCBOR(t, env) })
	t.Run("boto3", func(t *testing.T) { boto3Reads(t, env, 5) })
	t.Run("cli", func(t *testing.T) {
		var out struct {
			Label      string
			Datapoints []struct{ Maximum float64 }
		}
		env.CLIJSON(t, &out, "cloudwatch", "get-metric-statistics", "--namespace", "AWS/ElastiCache", "--metric-name", "CurrConnections",
			"--dimensions", "Name=CacheClusterId,Value=metrics1", "Name=CacheNodeId,Value=0001", "--statistics", "Maximum", "--period", "60",
			"--start-time", time.Now().Add(-10*time.Minute).UTC().Format(time.RFC3339), "--end-time", time.Now().Add(time.Minute).UTC().Format(time.RFC3339))
		if out.Label != "CurrConnections" || len(out.Datapoints) == 0 || out.Datapoints[len(out.Datapoints)-1].Maximum < 5 {
			t.Errorf("aws cloudwatch get-metric-statistics = %+v, want CurrConnections datapoints up to at least 5", out)
		}
	})
}

// badInput sends what CloudWatch refuses and checks its codes and words.
func badInput(t *testing.T, cw *cloudwatch.Client) {
	now := time.Now()
	for _, tc := range []struct {
		name, code, msg string
		in              cloudwatch.GetMetricStatisticsInput
	}{
		{"period", "InvalidParameterValue", "The parameter Period must be a multiple of 60.",
			cloudwatch.GetMetricStatisticsInput{StartTime: aws.Time(now.Add(-time.Hour)), EndTime: aws.Time(now), Period: aws.Int32(61)}},
		{"range", "InvalidParameterValue", "The parameter StartTime must be less than the parameter EndTime.",
			cloudwatch.GetMetricStatisticsInput{StartTime: aws.Time(now), EndTime: aws.Time(now.Add(-time.Hour)), Period: aws.Int32(60)}},
		{"datapoints", "InvalidParameterCombination", "You have requested up to 2,880 datapoints, which exceeds the limit of 1,440. You may reduce the datapoints requested by increasing Period, or decreasing the time range.",
			cloudwatch.GetMetricStatisticsInput{StartTime: aws.Time(now.Truncate(time.Minute).Add(-48 * time.Hour)), EndTime: aws.Time(now.Truncate(time.Minute)), Period: aws.Int32(60)}},
	} {
		in := tc.in
		in.Namespace, in.MetricName, in.Dimensions, in.Statistics = aws.String("AWS/ElastiCache"), aws.String("CurrConnections"), nodeDims(), []cwtypes.Statistic{cwtypes.StatisticMaximum}
		_, err := cw.GetMetricStatistics(context.Background(), &in)
		// The SDK names an awsQuery error by its shape (InvalidParameterValueException)
		// and an awsJson one by the query code in x-amzn-query-error.
		var ae smithy.APIError
		if !errors.As(err, &ae) || strings.TrimSuffix(ae.ErrorCode(), "Exception") != tc.code || ae.ErrorMessage() != tc.msg {
			t.Errorf("%s: GetMetricStatistics = %v, want %s: %s", tc.name, err, tc.code, tc.msg)
		}
	}
}

func code(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return fmt.Sprint(err)
}

func nodeDims() []cwtypes.Dimension {
	return []cwtypes.Dimension{{Name: aws.String("CacheClusterId"), Value: aws.String("metrics1")}, {Name: aws.String("CacheNodeId"), Value: aws.String("0001")}}
}

// maxConnections is the highest CurrConnections of the node's last minutes.
func maxConnections(t *testing.T, cw *cloudwatch.Client) float64 {
	t.Helper()
	out, err := cw.GetMetricStatistics(context.Background(), &cloudwatch.GetMetricStatisticsInput{Namespace: aws.String("AWS/ElastiCache"),
		MetricName: aws.String("CurrConnections"), Dimensions: nodeDims(), StartTime: aws.Time(time.Now().Add(-10 * time.Minute)),
		EndTime: aws.Time(time.Now().Add(time.Minute)), Period: aws.Int32(60), Statistics: []cwtypes.Statistic{cwtypes.StatisticMaximum}})
	if err != nil {
		t.Fatalf("GetMetricStatistics = %v", err)
	}
	m := 0.0
	for _, d := range out.Datapoints {
		if aws.ToString((*string)(&d.Unit)) != "Count" {
			t.Errorf("datapoint unit = %q, want Count", d.Unit)
		}
		m = max(m, aws.ToFloat64(d.Maximum))
	}
	return m
}

// waitMetrics waits for the cluster's metrics to be listed (those of
// increases too, after two samples) and returns
// their names, each checked to carry both node dimensions.
func waitMetrics(t *testing.T, cw *cloudwatch.Client) []string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, err := cw.ListMetrics(context.Background(), &cloudwatch.ListMetricsInput{Namespace: aws.String("AWS/ElastiCache"),
			Dimensions: []cwtypes.DimensionFilter{{Name: aws.String("CacheClusterId"), Value: aws.String("metrics1")}}})
		if err != nil {
			t.Fatalf("ListMetrics = %v", err)
		}
		var names []string
		for _, m := range out.Metrics {
			if len(m.Dimensions) != 2 || aws.ToString(m.Dimensions[1].Value) != "0001" {
				t.Errorf("metric %s dimensions = %+v", aws.ToString(m.MetricName), m.Dimensions)
			}
			names = append(names, aws.ToString(m.MetricName))
		}
		if slices.Contains(names, "NewConnections") { // the increases come with the second sample
			return names
		}
		if time.Now().After(deadline) {
			t.Fatal("no metrics listed for metrics1")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func waitAvailable(t *testing.T, ec *elasticache.Client, id string) string {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		out, err := ec.DescribeCacheClusters(context.Background(), &elasticache.DescribeCacheClustersInput{CacheClusterId: aws.String(id), ShowCacheNodeInfo: aws.Bool(true)})
		if err != nil {
			t.Fatal(err)
		}
		if c := out.CacheClusters[0]; aws.ToString(c.CacheClusterStatus) == "available" {
			ep := c.CacheNodes[0].Endpoint
			return net.JoinHostPort(aws.ToString(ep.Address), fmt.Sprint(aws.ToInt32(ep.Port)))
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never available", id)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// clients returns a CloudWatch client of env for each protocol: "query"
// and "json" chosen explicitly, "cbor" the SDK's default, whose every
// exchange is checked to be RPC v2 CBOR both ways.
func clients(t *testing.T, env *apptest.Env, creds ...aws.Credentials) map[string]*cloudwatch.Client {
	return map[string]*cloudwatch.Client{
		"query": cloudwatch.NewFromConfig(env.Config(creds...), func(o *cloudwatch.Options) {
			o.Protocol = awsquery.New(cwschemas.GraniteServiceVersion20100801)
		}),
		"json": cloudwatch.NewFromConfig(env.Config(creds...), func(o *cloudwatch.Options) {
			o.Protocol = awsjson.New10(cwschemas.GraniteServiceVersion20100801)
		}),
		"cbor": cloudwatch.NewFromConfig(env.Config(creds...), func(o *cloudwatch.Options) {
			o.APIOptions = append(o.APIOptions, func(s *middleware.Stack) error {
				return s.Deserialize.Add(cborOnTheWire{t}, middleware.After)
			})
		}),
	}
}

// cborOnTheWire fails the test unless the request and its answer are in
// the RPC v2 CBOR protocol.
type cborOnTheWire struct{ t *testing.T }

func (cborOnTheWire) ID() string { return "cborOnTheWire" }

func (m cborOnTheWire) HandleDeserialize(ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler) (middleware.DeserializeOutput, middleware.Metadata, error) {
	if req, ok := in.Request.(*smithyhttp.Request); ok {
		if req.Header.Get("Smithy-Protocol") != "rpc-v2-cbor" || !strings.HasPrefix(req.URL.Path, "/service/GraniteServiceVersion20100801/operation/") {
			m.t.Errorf("request %s %s smithy-protocol %q: not RPC v2 CBOR", req.Method, req.URL.Path, req.Header.Get("Smithy-Protocol"))
		}
	}
	out, md, err := next.HandleDeserialize(ctx, in)
	if resp, ok := out.RawResponse.(*smithyhttp.Response); ok {
		if resp.Header.Get("Smithy-Protocol") != "rpc-v2-cbor" || (resp.ContentLength != 0 && resp.Header.Get("Content-Type") != "application/cbor") {
			m.t.Errorf("answer %d: smithy-protocol %q, content-type %q; want rpc-v2-cbor, application/cbor", resp.StatusCode,
				resp.Header.Get("Smithy-Protocol"), resp.Header.Get("Content-Type"))
		}
	}
	return out, md, err
}
