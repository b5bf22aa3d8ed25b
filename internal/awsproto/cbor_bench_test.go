package awsproto_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/fxamacker/cbor/v2"

	"github.com/cachalot-dev/cachalot/internal/api/cloudwatchapi"
	"github.com/cachalot-dev/cachalot/internal/awsproto"
)

// BenchmarkCloudWatchCodec compares the awsJson and RPC v2 CBOR codecs on
// a GetMetricData exchange: decoding a request of 10 queries and encoding
// an answer of 10 series of 1,440 points (a day at one minute).
// go test -run '^$' -bench CloudWatchCodec -benchmem ./internal/awsproto/
func BenchmarkCloudWatchCodec(b *testing.B) {
	start := time.Unix(1796622600, 0).UTC()
	var queries []map[string]any
	out := &cloudwatchapi.GetMetricDataOutput{}
	for i := range 10 {
		queries = append(queries, map[string]any{"Id": fmt.Sprintf("q%d", i), "MetricStat": map[string]any{
			"Metric": map[string]any{"Namespace": "AWS/ElastiCache", "MetricName": "CurrConnections",
				"Dimensions": []any{map[string]any{"Name": "CacheClusterId", "Value": "c"}, map[string]any{"Name": "CacheNodeId", "Value": "0001"}}},
			"Period": 60, "Stat": "Maximum"}})
		r := cloudwatchapi.MetricDataResult{Id: aws.String(fmt.Sprintf("q%d", i)), Label: aws.String("CurrConnections"), StatusCode: aws.String("Complete")}
		for j := range 1440 {
			r.Timestamps = append(r.Timestamps, start.Add(time.Duration(j)*time.Minute))
			r.Values = append(r.Values, float64(j)*1.5)
		}
		out.MetricDataResults = append(out.MetricDataResults, r)
	}
	cborReq, err := cbor.Marshal(map[string]any{"StartTime": cbor.Tag{Number: 1, Content: start.Unix()},
		"EndTime": cbor.Tag{Number: 1, Content: start.Add(24 * time.Hour).Unix()}, "MetricDataQueries": queries})
	if err != nil {
		b.Fatal(err)
	}
	var in cloudwatchapi.GetMetricDataInput
	if err := awsproto.DecodeCBOR(cborReq, &in); err != nil {
		b.Fatal(err)
	}
	jsonReq := awsproto.EncodeJSON(&in)
	b.Run("json", func(b *testing.B) {
		for b.Loop() {
			var in cloudwatchapi.GetMetricDataInput
			if err := awsproto.DecodeJSON(jsonReq, &in); err != nil {
				b.Fatal(err)
			}
			awsproto.EncodeJSON(out)
		}
		b.ReportMetric(float64(len(awsproto.EncodeJSON(out))), "answer-bytes")
	})
	b.Run("cbor", func(b *testing.B) {
		for b.Loop() {
			var in cloudwatchapi.GetMetricDataInput
			if err := awsproto.DecodeCBOR(cborReq, &in); err != nil {
				b.Fatal(err)
			}
			if _, err := awsproto.EncodeCBOR(out); err != nil {
				b.Fatal(err)
			}
		}
		ans, _ := awsproto.EncodeCBOR(out)
		b.ReportMetric(float64(len(ans)), "answer-bytes")
	})
}
