package cloudwatch_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/cachalot-dev/cachalot/internal/app/apptest"
)

// boto3Script reads the node's metrics with boto3, as a Python user
// would, and prints what it got as JSON.
const boto3Script = `
import boto3, botocore, datetime, json, os
from botocore.exceptions import ClientError
cw = boto3.client("cloudwatch", endpoint_url=os.environ["ENDPOINT"], region_name="us-east-1",
    aws_access_key_id=os.environ["KEY"], aws_secret_access_key=os.environ["SECRET"],
    config=botocore.config.Config(retries={"max_attempts": 1}))
dims = [{"Name": "CacheClusterId", "Value": "metrics1"}, {"Name": "CacheNodeId", "Value": "0001"}]
now = datetime.datetime.now(datetime.timezone.utc)
out = {"protocol": cw.meta.service_model.protocol, "botocore": botocore.__version__}
out["metrics"] = sorted(m["MetricName"] for m in cw.list_metrics(Namespace="AWS/ElastiCache",
    Dimensions=[{"Name": "CacheClusterId", "Value": "metrics1"}])["Metrics"])
st = cw.get_metric_statistics(Namespace="AWS/ElastiCache", MetricName="CurrConnections", Dimensions=dims,
    StartTime=now - datetime.timedelta(minutes=10), EndTime=now + datetime.timedelta(minutes=1), Period=60, Statistics=["Maximum"])
out["maximum"] = max(d["Maximum"] for d in st["Datapoints"])
out["timestamp_type"] = type(st["Datapoints"][0]["Timestamp"]).__name__
md = cw.get_metric_data(StartTime=now - datetime.timedelta(minutes=10), EndTime=now + datetime.timedelta(minutes=1),
    MetricDataQueries=[{"Id": "c", "MetricStat": {"Metric": {"Namespace": "AWS/ElastiCache", "MetricName": "CurrConnections",
    "Dimensions": dims}, "Period": 60, "Stat": "Maximum"}}])
out["values"] = md["MetricDataResults"][0]["Values"]
try:
    cw.get_metric_statistics(Namespace="AWS/ElastiCache", MetricName="CurrConnections", Dimensions=dims,
        StartTime=now - datetime.timedelta(hours=1), EndTime=now, Period=61, Statistics=["Maximum"])
except ClientError as e:
    out["error"] = [e.response["Error"]["Code"], e.response["Error"]["Message"]]
print(json.dumps(out))
`

// boto3Reads: botocore, whose newest releases send CloudWatch RPC v2 CBOR,
// reads the same node's metrics and errors. Skipped where python3 has no
// boto3.
func boto3Reads(t *testing.T, env *apptest.Env, minConnections float64) {
	if exec.Command("python3", "-c", "import boto3").Run() != nil {
		t.Skip("python3 with boto3 not installed")
	}
	cmd := exec.Command("python3", "-c", boto3Script)
	var base []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") {
			base = append(base, kv)
		}
	}
	cmd.Env = append(base, "ENDPOINT="+env.URL, "KEY="+env.Root.AccessKeyID, "SECRET="+env.Root.SecretAccessKey,
		"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null")
	b, err := cmd.Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			t.Fatalf("boto3: %v: %s", err, ee.Stderr)
		}
		t.Fatal(err)
	}
	var got struct {
		Protocol      string `json:"protocol"`
		Botocore      string `json:"botocore"`
		TimestampType string `json:"timestamp_type"`
		Metrics       []string
		Maximum       float64
		Values        []float64
		Error         []string
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("boto3 printed %s: %v", b, err)
	}
	t.Logf("botocore %s, protocol %s", got.Botocore, got.Protocol)
	if got.TimestampType != "datetime" {
		t.Errorf("boto3 read a Timestamp as %s, want datetime", got.TimestampType)
	}
	if !strings.Contains(strings.Join(got.Metrics, ","), "CurrConnections") || got.Maximum < minConnections || len(got.Values) == 0 {
		t.Errorf("boto3 read %s; want CurrConnections listed, its Maximum at least %v, GetMetricData values", b, minConnections)
	}
	if len(got.Error) != 2 || got.Error[0] != "InvalidParameterValue" || got.Error[1] != "The parameter Period must be a multiple of 60." {
		t.Errorf("boto3 error = %v, want InvalidParameterValue: The parameter Period must be a multiple of 60.", got.Error)
	}
}
