package app

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/cachalot-dev/cachalot/internal/access"
	"github.com/cachalot-dev/cachalot/internal/account"
	"github.com/cachalot-dev/cachalot/internal/api/cachalotapi"
	"github.com/cachalot-dev/cachalot/internal/api/cloudwatchapi"
	"github.com/cachalot-dev/cachalot/internal/api/ec2api"
	"github.com/cachalot-dev/cachalot/internal/api/elasticacheapi"
	"github.com/cachalot-dev/cachalot/internal/api/iamapi"
	"github.com/cachalot-dev/cachalot/internal/api/stsapi"
	"github.com/cachalot-dev/cachalot/internal/catalog"
	"github.com/cachalot-dev/cachalot/internal/cloudwatch"
	"github.com/cachalot-dev/cachalot/internal/dnsname"
	"github.com/cachalot-dev/cachalot/internal/ec2"
	"github.com/cachalot-dev/cachalot/internal/elasticache"
	"github.com/cachalot-dev/cachalot/internal/endpoint"
	"github.com/cachalot-dev/cachalot/internal/store"
)

// FuzzHandler sends hostile requests to the whole HTTP handler, wired as
// Start wires it (IAM, STS, EC2, ElastiCache and Cachalot's own actions on
// one store) but without reconcilers, so nothing is realised: random
// methods, query strings, headers and bodies of any size, unsigned or
// signed (in the header or presigned, for any of our services or another,
// in a served region or not) by the root user or by a user without
// policies. No request may panic, log an error or be answered with a 5xx
// other than NotImplemented (the operations Cachalot does not implement).
// Seeds are in testdata/fuzz/FuzzHandler; `make fuzz` runs it.
func FuzzHandler(f *testing.F) {
	for _, s := range handlerSeeds {
		f.Add(s.mode, s.query, s.headers, []byte(s.body))
	}
	var fx *fuzzFixture
	var execs int
	f.Fuzz(func(t *testing.T, mode uint8, query, headers string, body []byte) {
		// A fresh installation every few thousand requests, so that what
		// earlier inputs created does not slow later ones down.
		if fx == nil || execs%5000 == 0 {
			if fx != nil {
				fx.close()
			}
			fx = newFuzzFixture(t)
		}
		execs++
		req := fx.request(t, mode, query, headers, body)
		errorsBefore := fx.errors.Load()
		w := httptest.NewRecorder()
		fx.h.ServeHTTP(w, req)
		code := ""
		if m := fuzzCodeRe.FindSubmatch(w.Body.Bytes()); m != nil {
			code = string(m[1])
		} else if q := w.Header().Get("X-Amzn-Query-Error"); q != "" { // awsJson, RPC v2 CBOR
			code, _, _ = strings.Cut(q, ";")
		}
		if w.Code >= 500 && !(w.Code == http.StatusNotImplemented && code == "NotImplemented") {
			t.Fatalf("%s %s (mode %#x, headers %q, %d bytes of body) = %d %s: %s", req.Method, query, mode, headers, len(body), w.Code, code, w.Body)
		}
		if n := fx.errors.Load(); n != errorsBefore {
			t.Fatalf("%s %s (mode %#x) logged an error: %s", req.Method, query, mode, fx.lastError.Load())
		}
	})
	f.Cleanup(func() {
		if fx != nil {
			fx.close()
		}
	})
}

var fuzzCodeRe = regexp.MustCompile(`<Code>([^<]*)</Code>`)

type handlerSeed struct {
	mode                 uint8
	query, headers, body string
}

// Mode bits of a FuzzHandler input.
const (
	fuzzSigned    = 1 << 0 // signed at all
	fuzzServiceLo = 1 << 1 // bits 1-2: ec2, elasticache, iam, sts (bit 7 set: s3)
	fuzzUser      = 1 << 3 // signed by the user without policies
	fuzzPresigned = 1 << 4 // presigned in the query string
	fuzzGet       = 1 << 5 // GET rather than POST
	fuzzRegion    = 1 << 6 // signed for a region not served
	fuzzOther     = 1 << 7 // signed for a service not ours
)

var fuzzServices = [4]string{"ec2", "elasticache", "iam", "sts"}

// fuzzServiceHeader, in an input's headers, names the service to sign
// for instead of the mode's (CloudWatch's "monitoring"); a query that
// starts with "/" is the request's path, then "?" and the query.
const fuzzServiceHeader = "X-Fuzz-Service"

var handlerSeeds = func() []handlerSeed {
	ec := "Version=" + ec2api.Metadata.APIVersion + "&Action="
	el := "Version=" + elasticacheapi.Metadata.APIVersion + "&Action="
	im := "Version=" + iamapi.Metadata.APIVersion + "&Action="
	st := "Version=" + stsapi.Metadata.APIVersion + "&Action="
	form := "Content-Type: application/x-www-form-urlencoded; charset=utf-8"
	const sEC2, sEC, sIAM, sSTS = fuzzSigned, fuzzSigned | 1<<1, fuzzSigned | 2<<1, fuzzSigned | 3<<1
	doc := url.QueryEscape(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ec2:Describe*","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}]}`)
	cw := "/service/GraniteServiceVersion20100801/operation/"
	cbor := "Smithy-Protocol: rpc-v2-cbor\nContent-Type: application/cbor\n" + fuzzServiceHeader + ": monitoring"
	// {"Namespace": "AWS/ElastiCache", "StartTime": 1(1796622600), "EndTime": 1(1796622660.5), ...}
	gms := "\xa6\x69Namespace\x6fAWS/ElastiCache\x6aMetricName\x6fCurrConnections\x69StartTime\xc1\x1a\x6b\x16\x49\x08" +
		"\x67EndTime\xc1\xfb\x41\xda\xc5\x92\x41\x20\x00\x00\x66Period\x18\x3c\x6aStatistics\x81\x67Maximum"
	gmd := "\xa3\x69StartTime\xc1\x1a\x6b\x16\x49\x08\x67EndTime\xc1\x1a\x6b\x16\x49\x44\x71MetricDataQueries\x81" +
		"\xa2\x62Id\x61q\x6aExpression\x6eSUM(METRICS())"
	return []handlerSeed{
		{fuzzSigned, cw + "GetMetricStatistics", cbor, gms},
		{fuzzSigned | fuzzUser, cw + "GetMetricData", cbor, gmd},
		{fuzzSigned, cw + "ListMetrics", cbor, "\xbf\x69Namespace\x7f\x61A\xff\xff"},
		{fuzzSigned, cw + "DescribeAlarms", cbor, ""},
		{0, cw + "ListMetrics", cbor, "\xa0"},
		{fuzzSigned, "/service/Other/operation/ListMetrics", cbor, "\xa0"},
		{0, "", "", ec + "DescribeVpcs"},
		{sEC2, "", form, ec + "DescribeVpcs&Filter.1.Name=tag:Name&Filter.1.Value.1=a*b?c\\*"},
		{sEC2, "", form, ec + "CreateVpc&CidrBlock=10.1.0.0/16&TagSpecification.1.ResourceType=vpc&TagSpecification.1.Tag.1.Key=Name&TagSpecification.1.Tag.1.Value=v"},
		{sEC2, "", form, ec + "CreateSecurityGroup&GroupName=g&GroupDescription=d"},
		{sEC2, "", form, ec + "AuthorizeSecurityGroupIngress&GroupName=default&IpPermissions.1.IpProtocol=tcp&IpPermissions.1.FromPort=80&IpPermissions.1.ToPort=80&IpPermissions.1.IpRanges.1.CidrIp=0.0.0.0/0"},
		{sEC2, "", form, ec + "RunInstances&ImageId=ami-12345678&MinCount=1&MaxCount=1&UserData=ZWNobyBoaQ==&DryRun=true"},
		{sEC2, "", form, ec + "DescribeInstances&MaxResults=5&NextToken=AAAA"},
		{sEC2 | fuzzUser, "", form, ec + "DescribeSecurityGroups"},
		{sEC2 | fuzzPresigned | fuzzGet, ec + "DescribeRegions", "", ""},
		{sEC2 | fuzzRegion, "", form, ec + "DescribeVpcs"},
		{sEC, "", form, el + "CreateCacheCluster&CacheClusterId=c1&Engine=redis&CacheNodeType=cache.t3.micro&NumCacheNodes=1"},
		{sEC, "", form, el + "CreateCacheParameterGroup&CacheParameterGroupName=p&CacheParameterGroupFamily=redis7&Description=d"},
		{sEC, "", form, el + "ModifyCacheParameterGroup&CacheParameterGroupName=p&ParameterNameValues.ParameterNameValue.1.ParameterName=maxmemory-policy&ParameterNameValues.ParameterNameValue.1.ParameterValue=noeviction"},
		{sEC, "", form, el + "DescribeCacheClusters&ShowCacheNodeInfo=true&MaxRecords=20&Marker=x"},
		{sEC, "", form, el + "ListTagsForResource&ResourceName=arn:aws:elasticache:us-east-1:000000000000:cluster:c1"},
		{sEC, "", form, el + "ExplainCacheReachability&CacheClusterId=c1&InstanceId=i-0123456789abcdef0"},
		{sEC | fuzzUser, "", form, el + "DeleteCacheCluster&CacheClusterId=C1"},
		{sIAM, "", form, im + "CreateUser&UserName=u&Path=/p/"},
		{sIAM, "", form, im + "CreatePolicy&PolicyName=p&PolicyDocument=" + doc},
		{sIAM, "", form, im + "PutUserPolicy&UserName=nobody&PolicyName=p&PolicyDocument=" + doc},
		{sIAM, "", form, im + "SimulatePrincipalPolicy&PolicySourceArn=arn:aws:iam::000000000000:user/nobody&ActionNames.member.1=ec2:DescribeVpcs"},
		{sIAM, "", form, im + "CreateRole&RoleName=r&AssumeRolePolicyDocument=" + url.QueryEscape(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRole"}]}`)},
		{sSTS, "", form, st + "GetCallerIdentity"},
		{sSTS, "", form, st + "AssumeRole&RoleArn=arn:aws:iam::000000000000:role/r&RoleSessionName=s&DurationSeconds=900"},
		{sSTS, "", form, st + "GetSessionToken&DurationSeconds=900"},
		{sSTS | fuzzOther, "", form, st + "GetCallerIdentity"},
		{sSTS, "", "Content-Type: text/plain\nX-Amz-Security-Token: x", st + "GetCallerIdentity"},
		{sIAM, "", form, im + "ListUsers&" + strings.Repeat("Marker=m&", 200)},
	}
}()

// fuzzFixture is an installation: a store on tmpfs when there is one (its
// syncs are what would bound the rate otherwise), Start's wiring minus the
// reconcilers, the root user and a user without policies.
type fuzzFixture struct {
	dir       string
	st        *store.Bolt
	h         http.Handler
	root      aws.Credentials
	user      aws.Credentials
	errors    atomic.Int64
	lastError atomic.Value // string
}

func newFuzzFixture(t testing.TB) *fuzzFixture {
	t.Helper()
	parent := ""
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		parent = "/dev/shm"
	}
	dir, err := os.MkdirTemp(parent, "cachalot-fuzz-")
	if err != nil {
		t.Fatal(err)
	}
	fx := &fuzzFixture{dir: dir}
	log := slog.New(&countingHandler{fx: fx})
	ctx := context.Background()
	st, err := store.OpenBolt(dir + "/" + StoreFile)
	if err != nil {
		t.Fatal(err)
	}
	fx.st = st
	accounts := account.New(st)
	root := account.Credentials{AccessKeyID: "AKIAFUZZFUZZFUZZROOT", SecretAccessKey: "fuzz-root-secret"}
	if _, err := accounts.Ensure(ctx, DefaultAccountID, root); err != nil {
		t.Fatal(err)
	}
	fx.root = aws.Credentials{AccessKeyID: root.AccessKeyID, SecretAccessKey: root.SecretAccessKey}
	ec2Svc := ec2.New(st, ec2.Config{Accounts: accounts, Logger: log})
	id, err := buildIdentity(ctx, st, accounts, ec2Svc, log)
	if err != nil {
		t.Fatal(err)
	}
	engines := &catalog.Catalog{Engines: []catalog.Installed{
		{Engine: catalog.Redis, Version: "7.0.15", EngineVersion: "7.0", Family: "redis7", Path: "/nonexistent/redis-server"},
		{Engine: catalog.Valkey, Version: "8.0.2", EngineVersion: "8.0", Family: "valkey8", Path: "/nonexistent/valkey-server"},
		{Engine: catalog.Memcached, Version: "1.6.18", EngineVersion: "1.6.18", Family: "memcached1.6", Path: "/nonexistent/memcached"},
	}}
	names, err := loadNamer(ctx, st, dnsname.DefaultDomain)
	if err != nil {
		t.Fatal(err)
	}
	ecSvc := elasticache.New(st, elasticache.Config{Network: ec2Svc, Engines: engines, Roles: id.svc, Names: names, Logger: log})
	ecOps := refusing(elasticacheapi.OperationTable(ecSvc), elasticache.RefuseParams)
	maps.Copy(ecOps, cachalotapi.OperationTable(access.New(access.Config{EC2: ec2Svc, Caches: ecSvc.ComputeTargets(), Authorizer: id.authorizer, Logger: log}).API()))
	fx.h = endpoint.New(endpoint.Config{
		Keys:       id.keys,
		Authorizer: id.authorizer,
		Resources:  id.resources,
		Logger:     log,
		Services: []endpoint.Binding{
			{Service: elasticacheapi.Metadata, Operations: ecOps},
			{Service: stsapi.Metadata, Operations: stsapi.OperationTable(id.sts)},
			{Service: ec2api.Metadata, Operations: refusing(ec2api.OperationTable(ec2Svc), ec2.RefuseParams)},
			{Service: iamapi.Metadata, Operations: iamapi.OperationTable(id.iam)},
			{Service: cloudwatchapi.Metadata, Operations: cloudwatchapi.OperationTable(cloudwatch.New(cloudwatch.Config{})),
				ActionPrefix: "cloudwatch", JSONTarget: cloudwatchapi.Smithy.Name, CBOR: cloudwatchCBOR()},
		},
	})
	fx.user = fx.newUser(t, "nobody")
	return fx
}

func (fx *fuzzFixture) close() {
	fx.st.Close()
	os.RemoveAll(fx.dir)
}

var accessKeyRe = regexp.MustCompile(`<AccessKeyId>([^<]+)</AccessKeyId>[\s\S]*<SecretAccessKey>([^<]+)</SecretAccessKey>`)

// newUser creates an IAM user without policies and an access key for it.
func (fx *fuzzFixture) newUser(t testing.TB, name string) aws.Credentials {
	t.Helper()
	iam := "Version=" + iamapi.Metadata.APIVersion
	for _, q := range []string{iam + "&Action=CreateUser&UserName=" + name, iam + "&Action=CreateAccessKey&UserName=" + name} {
		req := fx.request(t, fuzzSigned|2<<1, "", "Content-Type: application/x-www-form-urlencoded", []byte(q))
		w := httptest.NewRecorder()
		fx.h.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			t.Fatalf("%s: %d %s", q, w.Code, w.Body)
		}
		if m := accessKeyRe.FindSubmatch(w.Body.Bytes()); m != nil {
			return aws.Credentials{AccessKeyID: string(m[1]), SecretAccessKey: string(m[2])}
		}
	}
	t.Fatal("CreateAccessKey returned no key")
	return aws.Credentials{}
}

// request builds the request a FuzzHandler input describes.
func (fx *fuzzFixture) request(t testing.TB, mode uint8, query, headers string, body []byte) *http.Request {
	method := http.MethodPost
	if mode&fuzzGet != 0 {
		method = http.MethodGet
	}
	path := "/"
	if strings.HasPrefix(query, "/") {
		path, query, _ = strings.Cut(query, "?")
	}
	req := &http.Request{
		Method: method, URL: &url.URL{Scheme: "http", Host: "127.0.0.1:4566", Path: path, RawQuery: query},
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{}, Host: "127.0.0.1:4566", RemoteAddr: "127.0.0.1:50000",
		Body: io.NopCloser(bytes.NewReader(body)), ContentLength: int64(len(body)),
	}
	for _, line := range strings.Split(headers, "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && k != "" {
			req.Header.Add(strings.TrimSpace(k), strings.TrimSpace(v))
		}
	}
	if mode&fuzzSigned == 0 {
		return req
	}
	creds := fx.root
	if mode&fuzzUser != 0 {
		creds = fx.user
	}
	service := fuzzServices[mode>>1&3]
	if s := req.Header.Get(fuzzServiceHeader); s != "" {
		service = s
		req.Header.Del(fuzzServiceHeader)
	}
	if mode&fuzzOther != 0 {
		service = "s3"
	}
	region := "us-east-1"
	if mode&fuzzRegion != 0 {
		region = "xx-fake-1"
	}
	sum := sha256.Sum256(body)
	signer := v4.NewSigner()
	if mode&fuzzPresigned != 0 {
		signed, hdr, err := signer.PresignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), service, region, time.Now())
		if err != nil {
			return req // the signer refuses the request: send it unsigned
		}
		if u, err := url.Parse(signed); err == nil {
			req.URL.RawQuery = u.RawQuery
		}
		maps.Copy(req.Header, hdr)
		return req
	}
	if err := signer.SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), service, region, time.Now()); err != nil {
		t.Logf("sign: %v", err)
	}
	return req
}

// countingHandler counts the error records the handler logs: an internal
// failure, a recovered panic.
type countingHandler struct{ fx *fuzzFixture }

func (h *countingHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelError }
func (h *countingHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Message)
	r.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	})
	h.fx.lastError.Store(b.String())
	h.fx.errors.Add(1)
	return nil
}
func (h *countingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *countingHandler) WithGroup(string) slog.Handler      { return h }
