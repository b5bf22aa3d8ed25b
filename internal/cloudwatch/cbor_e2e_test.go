package cloudwatch_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/fxamacker/cbor/v2"
	"github.com/google/go-cmp/cmp"

	"github.com/cachalot-dev/cachalot/internal/app"
	"github.com/cachalot-dev/cachalot/internal/app/apptest"
	"github.com/cachalot-dev/cachalot/internal/sdktest"
)

// point is a datapoint as every protocol and the CLI can tell it.
type point struct {
	At                                  int64 // unix ms
	SampleCount, Average, Sum, Min, Max float64
	Unit                                string
}

// sameAnswers: over a window wholly in the past (its samples no longer
// change), ListMetrics, GetMetricStatistics and GetMetricData answer the
// same in RPC v2 CBOR as in awsQuery and awsJson, and as the AWS CLI
// reads them.
func sameAnswers(t *testing.T, env *apptest.Env, cws map[string]*cloudwatch.Client) {
	ctx := context.Background()
	// The window ends now; once it is a second past, no sample enters it.
	end := time.Now().Add(time.Second).Truncate(time.Second)
	start := end.Add(-time.Minute)
	time.Sleep(time.Until(end.Add(1500 * time.Millisecond)))
	names := map[string][]string{}
	stats := map[string]map[string][]point{}
	data := map[string][]cwtypes.MetricDataResult{}
	for proto, cw := range cws {
		lm, err := cw.ListMetrics(ctx, &cloudwatch.ListMetricsInput{Namespace: aws.String("AWS/ElastiCache"),
			Dimensions: []cwtypes.DimensionFilter{{Name: aws.String("CacheClusterId"), Value: aws.String("metrics1")}}})
		if err != nil {
			t.Fatalf("%s: ListMetrics = %v", proto, err)
		}
		for _, m := range lm.Metrics {
			var dims []string
			for _, d := range m.Dimensions {
				dims = append(dims, aws.ToString(d.Name)+"="+aws.ToString(d.Value))
			}
			names[proto] = append(names[proto], aws.ToString(m.Namespace)+" "+aws.ToString(m.MetricName)+" "+strings.Join(dims, ","))
		}
		slices.Sort(names[proto])
		stats[proto] = map[string][]point{}
		var queries []cwtypes.MetricDataQuery
		for i, metric := range []string{"CurrConnections", "CPUUtilization", "BytesUsedForCache", "NewConnections"} {
			out, err := cw.GetMetricStatistics(ctx, &cloudwatch.GetMetricStatisticsInput{Namespace: aws.String("AWS/ElastiCache"),
				MetricName: aws.String(metric), Dimensions: nodeDims(), StartTime: aws.Time(start), EndTime: aws.Time(end), Period: aws.Int32(10),
				Statistics: []cwtypes.Statistic{"SampleCount", "Average", "Sum", "Minimum", "Maximum"}})
			if err != nil {
				t.Fatalf("%s: GetMetricStatistics(%s) = %v", proto, metric, err)
			}
			if aws.ToString(out.Label) != metric {
				t.Errorf("%s: GetMetricStatistics(%s) label = %q", proto, metric, aws.ToString(out.Label))
			}
			for _, d := range out.Datapoints {
				stats[proto][metric] = append(stats[proto][metric], point{At: aws.ToTime(d.Timestamp).UnixMilli(),
					SampleCount: aws.ToFloat64(d.SampleCount), Average: aws.ToFloat64(d.Average), Sum: aws.ToFloat64(d.Sum),
					Min: aws.ToFloat64(d.Minimum), Max: aws.ToFloat64(d.Maximum), Unit: string(d.Unit)})
			}
			slices.SortFunc(stats[proto][metric], func(a, b point) int { return int(a.At - b.At) })
			queries = append(queries, cwtypes.MetricDataQuery{Id: aws.String(fmt.Sprintf("m%d", i)), MetricStat: &cwtypes.MetricStat{
				Metric: &cwtypes.Metric{Namespace: aws.String("AWS/ElastiCache"), MetricName: aws.String(metric), Dimensions: nodeDims()},
				Period: aws.Int32(10), Stat: aws.String("Average")}})
		}
		gd, err := cw.GetMetricData(ctx, &cloudwatch.GetMetricDataInput{StartTime: aws.Time(start), EndTime: aws.Time(end), MetricDataQueries: queries})
		if err != nil {
			t.Fatalf("%s: GetMetricData = %v", proto, err)
		}
		data[proto] = gd.MetricDataResults
	}
	if len(stats["query"]["CurrConnections"]) == 0 || len(data["query"]) != 4 || len(data["query"][0].Values) == 0 {
		t.Fatalf("no datapoints over [%v, %v): %+v, %+v", start, end, stats["query"], data["query"])
	}
	opts := cmp.Options{cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) }), cmp.AllowUnexported(cwtypes.MetricDataResult{})}
	for _, proto := range []string{"json", "cbor"} {
		if d := cmp.Diff(names["query"], names[proto]); d != "" {
			t.Errorf("ListMetrics, query vs %s (-+):\n%s", proto, d)
		}
		if d := cmp.Diff(stats["query"], stats[proto]); d != "" {
			t.Errorf("GetMetricStatistics, query vs %s (-+):\n%s", proto, d)
		}
		if d := cmp.Diff(data["query"], data[proto], opts); d != "" {
			t.Errorf("GetMetricData, query vs %s (-+):\n%s", proto, d)
		}
	}

	// The AWS CLI (awsQuery or awsJson, as its botocore chooses).
	var cli struct {
		Label      string
		Datapoints []struct {
			Timestamp                                   time.Time
			SampleCount, Average, Sum, Minimum, Maximum float64
			Unit                                        string
		}
	}
	env.CLIJSON(t, &cli, "cloudwatch", "get-metric-statistics", "--namespace", "AWS/ElastiCache", "--metric-name", "CurrConnections",
		"--dimensions", "Name=CacheClusterId,Value=metrics1", "Name=CacheNodeId,Value=0001", "--period", "10",
		"--statistics", "SampleCount", "Average", "Sum", "Minimum", "Maximum",
		"--start-time", start.UTC().Format(time.RFC3339), "--end-time", end.UTC().Format(time.RFC3339))
	var got []point
	for _, d := range cli.Datapoints {
		got = append(got, point{At: d.Timestamp.UnixMilli(), SampleCount: d.SampleCount, Average: d.Average, Sum: d.Sum,
			Min: d.Minimum, Max: d.Maximum, Unit: d.Unit})
	}
	slices.SortFunc(got, func(a, b point) int { return int(a.At - b.At) })
	if d := cmp.Diff(stats["cbor"]["CurrConnections"], got); d != "" {
		t.Errorf("get-metric-statistics, SDK (CBOR) vs AWS CLI (-+):\n%s", d)
	}
	var cliData struct {
		MetricDataResults []struct {
			Id, Label  string
			Timestamps []time.Time
			Values     []float64
		}
	}
	env.CLIJSON(t, &cliData, "cloudwatch", "get-metric-data", "--start-time", start.UTC().Format(time.RFC3339), "--end-time", end.UTC().Format(time.RFC3339),
		"--metric-data-queries", `[{"Id":"m0","MetricStat":{"Metric":{"Namespace":"AWS/ElastiCache","MetricName":"CurrConnections","Dimensions":[{"Name":"CacheClusterId","Value":"metrics1"},{"Name":"CacheNodeId","Value":"0001"}]},"Period":10,"Stat":"Average"}}]`)
	if len(cliData.MetricDataResults) != 1 {
		t.Fatalf("aws cloudwatch get-metric-data = %+v", cliData)
	}
	want := data["cbor"][0]
	if r := cliData.MetricDataResults[0]; r.Id != "m0" || r.Label != aws.ToString(want.Label) || !slices.Equal(r.Values, want.Values) ||
		!slices.EqualFunc(r.Timestamps, want.Timestamps, time.Time.Equal) {
		t.Errorf("aws cloudwatch get-metric-data = %+v; the SDK (CBOR) read %s %v %v", r, aws.ToString(want.Label), want.Timestamps, want.Values)
	}
}

// deniedActions: IAM decides CloudWatch's actions as it does the other
// services', and a refusal reads AccessDenied in every protocol.
func deniedActions(t *testing.T, env *apptest.Env) {
	ctx := context.Background()
	root := iam.NewFromConfig(env.Config())
	user := func(name, policy string) aws.Credentials {
		if _, err := root.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(name)}); err != nil {
			t.Fatal(err)
		}
		if _, err := root.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String(name), PolicyName: aws.String("p"), PolicyDocument: aws.String(policy)}); err != nil {
			t.Fatal(err)
		}
		k, err := root.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(name)})
		if err != nil {
			t.Fatal(err)
		}
		return aws.Credentials{AccessKeyID: aws.ToString(k.AccessKey.AccessKeyId), SecretAccessKey: aws.ToString(k.AccessKey.SecretAccessKey)}
	}
	lister := user("lister", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["cloudwatch:ListMetrics","cloudwatch:GetMetricStatistics"],"Resource":"*"}]}`)
	denied := user("denied", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"cloudwatch:*","Resource":"*"},
		{"Effect":"Deny","Action":"cloudwatch:Get*","Resource":"*"}]}`)
	now := time.Now()
	gmd := &cloudwatch.GetMetricDataInput{StartTime: aws.Time(now.Add(-time.Minute)), EndTime: aws.Time(now),
		MetricDataQueries: []cwtypes.MetricDataQuery{{Id: aws.String("q"), MetricStat: &cwtypes.MetricStat{
			Metric: &cwtypes.Metric{Namespace: aws.String("AWS/ElastiCache"), MetricName: aws.String("CurrConnections"), Dimensions: nodeDims()},
			Period: aws.Int32(60), Stat: aws.String("Maximum")}}}}
	gms := &cloudwatch.GetMetricStatisticsInput{Namespace: aws.String("AWS/ElastiCache"), MetricName: aws.String("CurrConnections"),
		Dimensions: nodeDims(), StartTime: aws.Time(now.Add(-time.Minute)), EndTime: aws.Time(now), Period: aws.Int32(60),
		Statistics: []cwtypes.Statistic{cwtypes.StatisticMaximum}}
	for proto, cw := range clients(t, env, lister) {
		if _, err := cw.ListMetrics(ctx, &cloudwatch.ListMetricsInput{}); err != nil {
			t.Errorf("%s: lister ListMetrics = %v", proto, err)
		}
		if _, err := cw.GetMetricStatistics(ctx, gms); err != nil {
			t.Errorf("%s: lister GetMetricStatistics = %v", proto, err)
		}
		_, err := cw.GetMetricData(ctx, gmd)
		want := "User: arn:aws:iam::000000000000:user/lister is not authorized to perform: cloudwatch:GetMetricData because no identity-based policy allows the cloudwatch:GetMetricData action"
		if code(err) != "AccessDenied" || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: lister GetMetricData = %v, want AccessDenied: %s", proto, err, want)
		}
	}
	for proto, cw := range clients(t, env, denied) {
		if _, err := cw.ListMetrics(ctx, &cloudwatch.ListMetricsInput{}); err != nil {
			t.Errorf("%s: denied ListMetrics = %v", proto, err)
		}
		_, err := cw.GetMetricStatistics(ctx, gms)
		want := "User: arn:aws:iam::000000000000:user/denied is not authorized to perform: cloudwatch:GetMetricStatistics with an explicit deny in an identity-based policy"
		if code(err) != "AccessDenied" || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: denied GetMetricStatistics = %v, want AccessDenied: %s", proto, err, want)
		}
		if _, err := cw.GetMetricData(ctx, gmd); code(err) != "AccessDenied" {
			t.Errorf("%s: denied GetMetricData = %v, want AccessDenied", proto, err)
		}
	}
}

// cborAnswer is a raw RPC v2 CBOR answer.
type cborAnswer struct {
	status     int
	header     http.Header
	body       map[string]any
	typ, msg   string
	queryError string
}

// sendCBOR posts a raw RPC v2 CBOR request to path, signed with creds
// unless creds is nil, and decodes the answer.
func sendCBOR(t *testing.T, env *apptest.Env, creds *aws.Credentials, path, contentType string, body []byte) cborAnswer {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, env.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Smithy-Protocol", "rpc-v2-cbor")
	req.Header.Set("Accept", "application/cbor")
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if creds != nil {
		sum := sha256.Sum256(body)
		if err := v4.NewSigner().SignHTTP(context.Background(), *creds, req, hex.EncodeToString(sum[:]), "monitoring", apptest.Region, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := sdktest.HTTPClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	a := cborAnswer{status: resp.StatusCode, header: resp.Header, queryError: resp.Header.Get("X-Amzn-Query-Error")}
	if resp.Header.Get("Smithy-Protocol") != "rpc-v2-cbor" {
		t.Errorf("POST %s: smithy-protocol %q, want rpc-v2-cbor", path, resp.Header.Get("Smithy-Protocol"))
	}
	if len(b) > 0 {
		if ct := resp.Header.Get("Content-Type"); ct != "application/cbor" {
			t.Errorf("POST %s: content-type %q, want application/cbor", path, ct)
		}
		if err := cbor.Unmarshal(b, &a.body); err != nil {
			t.Fatalf("POST %s: answer %x is not a CBOR map: %v", path, b, err)
		}
		a.typ, _ = a.body["__type"].(string)
		a.msg, _ = a.body["message"].(string)
	}
	return a
}

// rawCBOR: what no SDK sends — unsigned, malformed, mistyped and
// misaddressed requests — is answered in the protocol's error shape.
func rawCBOR(t *testing.T, env *apptest.Env) {
	root := aws.Credentials{AccessKeyID: env.Root.AccessKeyID, SecretAccessKey: env.Root.SecretAccessKey}
	const op = "/service/GraniteServiceVersion20100801/operation/"
	enc := func(v any) []byte {
		b, err := cbor.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	now := time.Now().Unix()
	for _, tc := range []struct {
		name      string
		signed    bool
		path, ct  string
		body      []byte
		status    int
		typ, qerr string
		msgHas    string
	}{
		{"unsigned", false, op + "ListMetrics", "application/cbor", enc(map[string]any{}), 403, "MissingAuthenticationToken", "MissingAuthenticationToken;Sender", "Request is missing Authentication Token"},
		{"malformed", true, op + "ListMetrics", "application/cbor", []byte{0xbf, 0x61}, 400, "SerializationException", "SerializationException;Sender", ""},
		{"not a map", true, op + "ListMetrics", "application/cbor", enc([]int{1}), 400, "SerializationException", "SerializationException;Sender", "want a map"},
		{"mistyped", true, op + "GetMetricStatistics", "application/cbor", enc(map[string]any{"Namespace": "AWS/ElastiCache", "MetricName": "CurrConnections",
			"StartTime": cbor.Tag{Number: 1, Content: now - 60}, "EndTime": cbor.Tag{Number: 1, Content: now}, "Period": "60"}), 400, "SerializationException", "SerializationException;Sender", "Period"},
		{"timestamp untagged", true, op + "GetMetricStatistics", "application/cbor", enc(map[string]any{"Namespace": "AWS/ElastiCache", "MetricName": "CurrConnections",
			"StartTime": now - 60, "EndTime": cbor.Tag{Number: 1, Content: now}, "Period": 60}), 400, "SerializationException", "SerializationException;Sender", "StartTime"},
		{"missing", true, op + "GetMetricStatistics", "application/cbor", enc(map[string]any{"Namespace": "AWS/ElastiCache",
			"StartTime": cbor.Tag{Number: 1, Content: now - 60}, "EndTime": cbor.Tag{Number: 1, Content: float64(now) + 0.5}, "Period": 60}), 400,
			"com.amazonaws.cloudwatch#MissingRequiredParameterException", "MissingParameter;Sender", "MetricName"},
		{"invalid", true, op + "GetMetricStatistics", "application/cbor", enc(map[string]any{"Namespace": "AWS/ElastiCache", "MetricName": "CurrConnections",
			"StartTime": cbor.Tag{Number: 1, Content: now - 60}, "EndTime": cbor.Tag{Number: 1, Content: now}, "Period": 61, "Statistics": []string{"Maximum"}}), 400,
			"com.amazonaws.cloudwatch#InvalidParameterValueException", "InvalidParameterValue;Sender", "The parameter Period must be a multiple of 60."},
		{"unknown operation", true, op + "Frobnicate", "application/cbor", enc(map[string]any{}), 400, "InvalidAction", "InvalidAction;Sender", "Frobnicate"},
		{"other service", true, "/service/Other/operation/ListMetrics", "application/cbor", enc(map[string]any{}), 404, "UnknownOperationException", "UnknownOperationException;Sender", ""},
		{"content type", true, op + "ListMetrics", "application/json", []byte("{}"), 415, "UnsupportedMediaTypeException", "UnsupportedMediaTypeException;Sender", "application/cbor"},
		{"not implemented", true, op + "DescribeAlarms", "", nil, 501, "NotImplemented", "NotImplemented;Receiver", "CloudWatch.DescribeAlarms is not implemented"},
	} {
		var creds *aws.Credentials
		if tc.signed {
			creds = &root
		}
		a := sendCBOR(t, env, creds, tc.path, tc.ct, tc.body)
		if a.status != tc.status || a.typ != tc.typ || a.queryError != tc.qerr || !strings.Contains(a.msg, tc.msgHas) {
			t.Errorf("%s: %d %v (x-amzn-query-error %q); want %d __type %s (%s), message with %q", tc.name, a.status, a.body, a.queryError, tc.status, tc.typ, tc.qerr, tc.msgHas)
		}
	}
	// A valid request with no body at all is an empty input; timestamps
	// may come as integers or floats.
	if a := sendCBOR(t, env, &root, op+"ListMetrics", "", nil); a.status != 200 || a.body["Metrics"] == nil {
		t.Errorf("ListMetrics without a body = %d %v", a.status, a.body)
	}
	a := sendCBOR(t, env, &root, op+"GetMetricStatistics", "application/cbor", enc(map[string]any{"Namespace": "AWS/ElastiCache", "MetricName": "CurrConnections",
		"Dimensions": []map[string]string{{"Name": "CacheClusterId", "Value": "metrics1"}, {"Name": "CacheNodeId", "Value": "0001"}},
		"StartTime":  cbor.Tag{Number: 1, Content: float64(now) - 600.25}, "EndTime": cbor.Tag{Number: 1, Content: now + 60}, "Period": 60, "Statistics": []string{"Maximum"}}))
	points, _ := a.body["Datapoints"].([]any)
	if a.status != 200 || len(points) == 0 {
		t.Fatalf("GetMetricStatistics = %d %v", a.status, a.body)
	}
	p, _ := points[0].(map[any]any)
	if ts, ok := p["Timestamp"].(time.Time); !ok || ts.Unix()%60 != 0 || math.IsNaN(toFloat(p["Maximum"])) {
		t.Errorf("datapoint %v: want a tag 1 Timestamp on a minute and a Maximum", p)
	}
}

func toFloat(v any) float64 {
	if f, ok := v.(float64); ok {
		return f
	}
	return math.NaN()
}

// TestCloudWatchReplicationGroup: a replication group's nodes publish as
// ElastiCache publishes them, under their member cluster's CacheClusterId
// (<group>-001, …) and CacheNodeId 0001; the replica alone has
// ReplicationLag. Read with the SDK's default client (RPC v2 CBOR).
func TestCloudWatchReplicationGroup(t *testing.T) {
	env := apptest.Start(t, func(c *app.Config) {
		c.Network = app.NetworkLoopback
		c.MetricsInterval = 100 * time.Millisecond
	})
	ctx := context.Background()
	ec := elasticache.NewFromConfig(env.Config())
	if _, err := ec.CreateReplicationGroup(ctx, &elasticache.CreateReplicationGroupInput{ReplicationGroupId: aws.String("metricsrg"),
		ReplicationGroupDescription: aws.String("metrics"), Engine: aws.String("redis"), CacheNodeType: aws.String("cache.t3.micro"),
		NumCacheClusters: aws.Int32(2)}); err != nil {
		t.Fatal(err)
	}
	waiter := elasticache.NewReplicationGroupAvailableWaiter(ec, func(o *elasticache.ReplicationGroupAvailableWaiterOptions) { o.MinDelay = 50 * time.Millisecond })
	if err := waiter.Wait(ctx, &elasticache.DescribeReplicationGroupsInput{ReplicationGroupId: aws.String("metricsrg")}, time.Minute); err != nil {
		t.Fatal(err)
	}
	rg, err := ec.DescribeReplicationGroups(ctx, &elasticache.DescribeReplicationGroupsInput{ReplicationGroupId: aws.String("metricsrg")})
	if err != nil {
		t.Fatal(err)
	}
	roles := map[string]string{}
	for _, m := range rg.ReplicationGroups[0].NodeGroups[0].NodeGroupMembers {
		roles[aws.ToString(m.CacheClusterId)] = aws.ToString(m.CurrentRole)
	}
	if len(roles) != 2 {
		t.Fatalf("members = %v", roles)
	}
	cw := clients(t, env)["cbor"]
	for member, role := range roles {
		deadline := time.Now().Add(30 * time.Second)
		for {
			out, err := cw.ListMetrics(ctx, &cloudwatch.ListMetricsInput{Namespace: aws.String("AWS/ElastiCache"),
				Dimensions: []cwtypes.DimensionFilter{{Name: aws.String("CacheClusterId"), Value: aws.String(member)}}})
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, m := range out.Metrics {
				if len(m.Dimensions) != 2 || aws.ToString(m.Dimensions[0].Value) != member || aws.ToString(m.Dimensions[1].Name) != "CacheNodeId" || aws.ToString(m.Dimensions[1].Value) != "0001" {
					t.Fatalf("%s: metric %s dimensions %+v", member, aws.ToString(m.MetricName), m.Dimensions)
				}
				names = append(names, aws.ToString(m.MetricName))
			}
			if slices.Contains(names, "NewConnections") {
				if lag := slices.Contains(names, "ReplicationLag"); lag != (role == "replica") {
					t.Errorf("%s (%s) lists ReplicationLag: %v; want it on the replica alone (%v)", member, role, lag, names)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: no metrics listed (%v)", member, names)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}
