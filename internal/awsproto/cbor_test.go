package awsproto_test

import (
	"bytes"
	"encoding/hex"
	"math"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/fxamacker/cbor/v2"
	"github.com/google/go-cmp/cmp"

	"github.com/cachalot-dev/cachalot/internal/api/cloudwatchapi"
	"github.com/cachalot-dev/cachalot/internal/awserr"
	"github.com/cachalot-dev/cachalot/internal/awsproto"
)

func mustCBOR(t testing.TB, v any) []byte {
	b, err := cbor.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestCBORDecode: an RPC v2 CBOR input fills the generated shape: nested
// structures and lists, integers of any width, tag 1 timestamps as integer
// or float seconds, indefinite-length items.
func TestCBORDecode(t *testing.T) {
	body := mustCBOR(t, map[string]any{
		"StartTime":     cbor.Tag{Number: 1, Content: 1796622600},
		"EndTime":       cbor.Tag{Number: 1, Content: 1796622660.5},
		"MaxDatapoints": uint8(5),
		"MetricDataQueries": []any{map[string]any{"Id": "q", "ReturnData": true, "MetricStat": map[string]any{
			"Metric": map[string]any{"Namespace": "AWS/ElastiCache", "MetricName": "CurrConnections",
				"Dimensions": []any{map[string]any{"Name": "CacheClusterId", "Value": "c"}}},
			"Period": uint64(60), "Stat": "Maximum"}}},
		"Unknown": "members no shape has are ignored",
	})
	var in cloudwatchapi.GetMetricDataInput
	if err := awsproto.DecodeCBOR(body, &in); err != nil {
		t.Fatal(err)
	}
	want := cloudwatchapi.GetMetricDataInput{StartTime: aws.Time(time.Unix(1796622600, 0).UTC()), EndTime: aws.Time(time.UnixMilli(1796622660500).UTC()),
		MaxDatapoints: aws.Int32(5), MetricDataQueries: []cloudwatchapi.MetricDataQuery{{Id: aws.String("q"), ReturnData: aws.Bool(true),
			MetricStat: &cloudwatchapi.MetricStat{Metric: &cloudwatchapi.Metric{Namespace: aws.String("AWS/ElastiCache"), MetricName: aws.String("CurrConnections"),
				Dimensions: []cloudwatchapi.Dimension{{Name: aws.String("CacheClusterId"), Value: aws.String("c")}}},
				Period: aws.Int32(60), Stat: aws.String("Maximum")}}}}
	if d := cmp.Diff(want, in); d != "" {
		t.Errorf("DecodeCBOR (-want +got):\n%s", d)
	}
	// Indefinite-length map and text: {_ "Namespace": (_ "AWS/", "X")}
	indef, _ := hex.DecodeString("bf694e616d657370616365" + "7f644157532f6158ff" + "ff")
	var lm cloudwatchapi.ListMetricsInput
	if err := awsproto.DecodeCBOR(indef, &lm); err != nil || aws.ToString(lm.Namespace) != "AWS/X" {
		t.Errorf("DecodeCBOR(indefinite) = %+v, %v", lm, err)
	}
	if err := awsproto.DecodeCBOR(nil, &lm); err != nil {
		t.Errorf("DecodeCBOR(empty body) = %v", err)
	}
}

func TestCBORDecodeRefuses(t *testing.T) {
	for _, tc := range []struct {
		name string
		body []byte
		code string
	}{
		{"truncated", []byte{0xa1, 0x69}, "SerializationException"},
		{"trailing bytes", append(mustCBOR(t, map[string]any{}), 0x00), "SerializationException"},
		{"not a map", mustCBOR(t, "x"), "SerializationException"},
		{"integer key", mustCBOR(t, map[int]string{1: "x"}), "SerializationException"},
		{"duplicate key", []byte{0xa2, 0x61, 0x41, 0x01, 0x61, 0x41, 0x02}, "SerializationException"},
		{"invalid utf-8", []byte{0xa1, 0x69, 'N', 'a', 'm', 'e', 's', 'p', 'a', 'c', 'e', 0x61, 0xff}, "SerializationException"},
		{"string for a number", mustCBOR(t, map[string]any{"Period": "60", "MetricName": "m", "Namespace": "n", "StartTime": cbor.Tag{Number: 1, Content: 1}, "EndTime": cbor.Tag{Number: 1, Content: 2}}), "SerializationException"},
		{"float for an integer", mustCBOR(t, map[string]any{"Period": 60.5, "MetricName": "m", "Namespace": "n", "StartTime": cbor.Tag{Number: 1, Content: 1}, "EndTime": cbor.Tag{Number: 1, Content: 2}}), "SerializationException"},
		{"integer out of range", mustCBOR(t, map[string]any{"Period": uint64(math.MaxUint64), "MetricName": "m", "Namespace": "n", "StartTime": cbor.Tag{Number: 1, Content: 1}, "EndTime": cbor.Tag{Number: 1, Content: 2}}), "SerializationException"},
		{"untagged timestamp", mustCBOR(t, map[string]any{"Period": 60, "MetricName": "m", "Namespace": "n", "StartTime": 1, "EndTime": cbor.Tag{Number: 1, Content: 2}}), "SerializationException"},
		{"other tag", mustCBOR(t, map[string]any{"Period": 60, "MetricName": "m", "Namespace": "n", "StartTime": cbor.Tag{Number: 1, Content: 1}, "EndTime": cbor.Tag{Number: 100, Content: 2}}), "SerializationException"},
		{"list for a structure", mustCBOR(t, map[string]any{"Period": 60, "MetricName": "m", "Namespace": "n", "StartTime": cbor.Tag{Number: 1, Content: 1}, "EndTime": cbor.Tag{Number: 1, Content: 2}, "Dimensions": []any{[]any{}}}), "SerializationException"},
		{"missing member", mustCBOR(t, map[string]any{"Namespace": "n", "StartTime": cbor.Tag{Number: 1, Content: 1}, "EndTime": cbor.Tag{Number: 1, Content: 2}}), "MissingParameter"},
		{"null member is absent", mustCBOR(t, map[string]any{"MetricName": nil, "Namespace": "n", "StartTime": cbor.Tag{Number: 1, Content: 1}, "EndTime": cbor.Tag{Number: 1, Content: 2}}), "MissingParameter"},
		{"too deep", bytes.Repeat([]byte{0x81}, 40), "SerializationException"},
	} {
		var in cloudwatchapi.GetMetricStatisticsInput
		if err := awsproto.DecodeCBOR(tc.body, &in); !awserr.HasCode(err, tc.code) {
			t.Errorf("%s: DecodeCBOR(%x) = %v, want %s", tc.name, tc.body, err, tc.code)
		}
	}
}

// TestCBOREncode: an output shape is a CBOR map of the members set;
// timestamps are tag 1 epoch seconds (integer when whole, float with
// milliseconds), doubles float64 — and reads back the same.
func TestCBOREncode(t *testing.T) {
	out := &cloudwatchapi.GetMetricStatisticsOutput{Label: aws.String("CurrConnections"), Datapoints: []cloudwatchapi.Datapoint{
		{Timestamp: aws.Time(time.Unix(1796622600, 0)), Maximum: aws.Float64(7), Unit: aws.String("Count")},
		{Timestamp: aws.Time(time.UnixMilli(1796622660250)), Average: aws.Float64(0.1), ExtendedStatistics: map[string]float64{"p99": 2.5}}}}
	b, err := awsproto.EncodeCBOR(out)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := cbor.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	dps := doc["Datapoints"].([]any)
	if doc["Label"] != "CurrConnections" || len(dps) != 2 || len(doc) != 2 {
		t.Fatalf("EncodeCBOR = %v", doc)
	}
	var raw struct {
		Datapoints []struct {
			Timestamp cbor.RawTag
			Maximum   cbor.RawMessage
		}
	}
	if err := cbor.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	if ts := raw.Datapoints[0].Timestamp; ts.Number != 1 || hex.EncodeToString(ts.Content) != "1a6b164908" {
		t.Errorf("whole-second timestamp = tag %d %x, want tag 1 uint32 1796622600", ts.Number, ts.Content)
	}
	if ts := raw.Datapoints[1].Timestamp; ts.Number != 1 || ts.Content[0] != 0xfb {
		t.Errorf("millisecond timestamp = tag %d %x, want tag 1 float64", ts.Number, ts.Content)
	}
	if m := raw.Datapoints[0].Maximum; hex.EncodeToString(m) != "fb401c000000000000" {
		t.Errorf("Maximum 7 = %x, want the float64 fb401c000000000000", m)
	}
	var back cloudwatchapi.GetMetricStatisticsOutput
	if err := awsproto.DecodeCBOR(b, &back); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(out, &back, cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })); d != "" {
		t.Errorf("round trip (-+):\n%s", d)
	}
	if b, err := awsproto.EncodeCBOR(nil); err != nil || len(b) != 0 {
		t.Errorf("EncodeCBOR(no output) = %x, %v; want an empty body", b, err)
	}
}

func TestCBORError(t *testing.T) {
	s := cloudwatchapi.Smithy
	s.Namespace = "com.amazonaws.cloudwatch"
	for _, tc := range []struct {
		err  *awserr.Error
		want map[string]any
	}{
		{cloudwatchapi.ErrInvalidParameterValueException("bad"), map[string]any{"__type": "com.amazonaws.cloudwatch#InvalidParameterValueException", "message": "bad"}},
		{cloudwatchapi.ErrInternalServiceFault("oops"), map[string]any{"__type": "com.amazonaws.cloudwatch#InternalServiceFault", "Message": "oops"}},
		{cloudwatchapi.ErrDashboardNotFoundError("gone"), map[string]any{"__type": "com.amazonaws.cloudwatch#ResourceNotFound", "message": "gone"}},
		{awserr.New("AccessDenied", "no"), map[string]any{"__type": "AccessDenied", "message": "no"}},
	} {
		var got map[string]any
		if err := cbor.Unmarshal(s.EncodeCBORError(tc.err), &got); err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(tc.want, got); d != "" {
			t.Errorf("EncodeCBORError(%v) (-+):\n%s", tc.err, d)
		}
	}
}

// FuzzDecodeCBOR: no body panics the decoder or yields anything but an
// AWS error; what decodes encodes again.
func FuzzDecodeCBOR(f *testing.F) {
	f.Add(mustCBOR(f, map[string]any{"Namespace": "AWS/ElastiCache", "MetricName": "CurrConnections", "Period": 60,
		"StartTime": cbor.Tag{Number: 1, Content: 1796622600}, "EndTime": cbor.Tag{Number: 1, Content: 1796622660.5},
		"Dimensions": []any{map[string]any{"Name": "CacheClusterId", "Value": "c"}}, "Statistics": []string{"Maximum"}}))
	f.Add(mustCBOR(f, map[string]any{"MetricDataQueries": []any{map[string]any{"Id": "q", "Expression": "SUM(METRICS())", "ReturnData": false}},
		"StartTime": cbor.Tag{Number: 1, Content: 1}, "EndTime": cbor.Tag{Number: 1, Content: 2}, "LabelOptions": map[string]any{"Timezone": "+0100"}}))
	f.Add([]byte{0xbf, 0x69, 'N', 'a', 'm', 'e', 's', 'p', 'a', 'c', 'e', 0x7f, 0x61, 'A', 0xff, 0xff})
	f.Add([]byte{0xa1, 0x66, 'P', 'e', 'r', 'i', 'o', 'd', 0xc2, 0x41, 0x01})
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, in := range []any{&cloudwatchapi.GetMetricStatisticsInput{}, &cloudwatchapi.GetMetricDataInput{}, &cloudwatchapi.ListMetricsInput{}} {
			if err := awsproto.DecodeCBOR(body, in); err != nil {
				if _, ok := awserr.As(err); !ok {
					t.Fatalf("DecodeCBOR(%x) = %v, not an AWS error", body, err)
				}
				continue
			}
			if _, err := awsproto.EncodeCBOR(in); err != nil {
				t.Fatalf("EncodeCBOR of what DecodeCBOR(%x) gave = %v", body, err)
			}
		}
	})
}
