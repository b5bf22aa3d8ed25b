package endpoint_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/cachalot-dev/cachalot/internal/api/ec2api"
	"github.com/cachalot-dev/cachalot/internal/api/stsapi"
	"github.com/cachalot-dev/cachalot/internal/auth"
	"github.com/cachalot-dev/cachalot/internal/awsproto"
	"github.com/cachalot-dev/cachalot/internal/endpoint"
	"github.com/cachalot-dev/cachalot/internal/sdktest"
	"github.com/cachalot-dev/cachalot/internal/sts"
)

// Issue 21, "bounded resources": a request costs the endpoint nothing
// before its headers have named a known key for one of our services in a
// region it serves, its body has a time limit, and headers are bounded.

var testCreds = aws.Credentials{AccessKeyID: "AKIALIMITSLIMITSTEST", SecretAccessKey: "limits-secret"}

type oneKey struct{}

func (oneKey) ResolveKey(_ context.Context, id string) (auth.Key, error) {
	if id != testCreds.AccessKeyID {
		return auth.Key{}, auth.ErrUnknownKey
	}
	return auth.Key{AccessKeyID: id, SecretAccessKey: testCreds.SecretAccessKey,
		Principal: auth.Principal{Type: auth.Root, AccountID: "000000000000", ARN: "arn:aws:iam::000000000000:root"}}, nil
}

// limitsHandler serves STS and an EC2 whose only operation, DescribeVpcs,
// counts its calls (on AWS-like EC2 it creates a region's default VPC).
func limitsHandler(cfg endpoint.Config) (*endpoint.Handler, *atomic.Int32) {
	var calls atomic.Int32
	cfg.Keys, cfg.Authorizer = oneKey{}, allowAll{}
	cfg.Services = []endpoint.Binding{
		{Service: stsapi.Metadata, Operations: stsapi.OperationTable(sts.New())},
		{Service: ec2api.Metadata, Operations: map[string]awsproto.Operation{"DescribeVpcs": {
			Name: "DescribeVpcs",
			Call: func(context.Context, any) (any, error) { calls.Add(1); return nil, nil },
		}}},
	}
	return endpoint.New(cfg), &calls
}

// signedRequest signs body for service in region with creds, as the SDK does.
func signedRequest(t *testing.T, url string, creds aws.Credentials, service, region, body string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url+"/", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, sha(body), service, region, time.Now()); err != nil {
		t.Fatal(err)
	}
	return req
}

func record(h http.Handler, req *http.Request) answer {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	a := answer{status: w.Code}
	a.code, a.msg = sdktest.ParseError(w.Body.Bytes())
	return a
}

func TestRegionsAccepted(t *testing.T) {
	const vpcs = "Action=DescribeVpcs&Version=2016-11-15"
	const caller = "Action=GetCallerIdentity&Version=2011-06-15"
	authFailure := answer{http.StatusUnauthorized, "AuthFailure", "AWS was not able to validate the provided access credentials"}
	scoped := func(r string) answer {
		return answer{http.StatusForbidden, "SignatureDoesNotMatch", "Credential should be scoped to a valid region, not '" + r + "'. "}
	}
	tests := []struct {
		name, service, region, body string
		regions                     []string
		want                        answer
		calls                       int32
	}{
		{"ec2 us-east-1", "ec2", "us-east-1", vpcs, nil, answer{status: 200}, 1},
		{"ec2 GovCloud", "ec2", "us-gov-west-1", vpcs, nil, answer{status: 200}, 1},
		{"ec2 China", "ec2", "cn-northwest-1", vpcs, nil, answer{status: 200}, 1},
		{"ec2 newest", "ec2", "ap-southeast-7", vpcs, nil, answer{status: 200}, 1},
		{"ec2 made up", "ec2", "xx-fake-1", vpcs, nil, authFailure, 0},
		{"ec2 upper case", "ec2", "US-EAST-1", vpcs, nil, authFailure, 0},
		{"ec2 empty", "ec2", "", vpcs, nil, authFailure, 0},
		{"ec2 not configured", "ec2", "eu-west-1", vpcs, []string{"us-east-1"}, authFailure, 0},
		{"ec2 configured", "ec2", "xx-east-9", vpcs, []string{"xx-east-9"}, answer{status: 200}, 1},
		{"sts made up", "sts", "xx-fake-1", caller, nil, scoped("xx-fake-1"), 0},
		{"sts not configured", "sts", "us-west-2", caller, []string{"us-east-1"}, scoped("us-west-2"), 0},
		{"sts", "sts", "us-west-2", caller, nil, answer{status: 200}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, calls := limitsHandler(endpoint.Config{Regions: tt.regions})
			got := record(h, signedRequest(t, "http://127.0.0.1:4566", testCreds, tt.service, tt.region, tt.body))
			if tt.want.status == 200 {
				got.code, got.msg = "", ""
			}
			if got != tt.want || calls.Load() != tt.calls {
				t.Errorf("%s signed for %q: %+v with %d calls, want %+v with %d", tt.body, tt.region, got, calls.Load(), tt.want, tt.calls)
			}
		})
	}
}

// rawConn is a connection of the test's own to srv.
func rawConn(t *testing.T, srv *httptest.Server) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	// A guard against a hung test, not an assertion on time.
	c.SetDeadline(time.Now().Add(2 * time.Minute))
	return c
}

func writeHead(t *testing.T, c net.Conn, req *http.Request, contentLength int) {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "POST / HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n", req.Host, contentLength)
	for k, vs := range req.Header {
		for _, v := range vs {
			fmt.Fprintf(&b, "%s: %s\r\n", k, v)
		}
	}
	b.WriteString("\r\n")
	if _, err := io.WriteString(c, b.String()); err != nil {
		t.Fatal(err)
	}
}

func readAnswer(t *testing.T, c net.Conn) answer {
	t.Helper()
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode}
	a.code, _ = sdktest.ParseError(b)
	return a
}

// A request whose headers already fail is answered without its body being
// read: only its first 4 KiB are sent here (an unsigned request's answer
// takes its shape from them), and the answer comes all the same (were the
// body awaited, the answer would be RequestTimeout).
func TestRefusedBeforeTheBody(t *testing.T) {
	h, _ := limitsHandler(endpoint.Config{BodyTimeout: time.Hour})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	body := "Action=GetCallerIdentity&Version=2011-06-15" + strings.Repeat("&X=y", 1<<20)
	unknown := aws.Credentials{AccessKeyID: "AKIAUNKNOWNUNKNOWN00", SecretAccessKey: "x"}
	tests := []struct {
		name string
		req  *http.Request
		want answer
	}{
		{"unknown key", signedRequest(t, srv.URL, unknown, "sts", "us-east-1", body), answer{status: 403, code: "InvalidClientTokenId"}},
		{"unknown region", signedRequest(t, srv.URL, testCreds, "sts", "xx-fake-1", body), answer{status: 403, code: "SignatureDoesNotMatch"}},
		{"another service", signedRequest(t, srv.URL, testCreds, "s3", "us-east-1", body), answer{status: 403, code: "SignatureDoesNotMatch"}},
		{"unsigned", func() *http.Request {
			r, _ := http.NewRequest(http.MethodPost, srv.URL, nil)
			return r
		}(), answer{status: 403, code: "MissingAuthenticationToken"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := rawConn(t, srv)
			writeHead(t, c, tt.req, len(body))
			io.WriteString(c, body[:4<<10])
			if got := readAnswer(t, c); got != tt.want {
				t.Errorf("answer %+v, want %+v", got, tt.want)
			}
		})
	}
	// A body larger than MaxBodyBytes is refused on its Content-Length.
	c := rawConn(t, srv)
	writeHead(t, c, signedRequest(t, srv.URL, testCreds, "sts", "us-east-1", "Action=GetCallerIdentity&Version=2011-06-15"), endpoint.MaxBodyBytes+1)
	if got := readAnswer(t, c); got != (answer{status: http.StatusRequestEntityTooLarge, code: "RequestEntityTooLarge"}) {
		t.Errorf("oversized Content-Length: %+v, want 413 RequestEntityTooLarge", got)
	}
}

// A client that sends its headers and then stalls in its body is answered
// RequestTimeout once the body's time is up, and the connection is closed.
func TestSlowBodyTimesOut(t *testing.T) {
	h, _ := limitsHandler(endpoint.Config{BodyTimeout: 50 * time.Millisecond})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	const body = "Action=GetCallerIdentity&Version=2011-06-15"
	c := rawConn(t, srv)
	writeHead(t, c, signedRequest(t, srv.URL, testCreds, "sts", "us-east-1", body), len(body))
	io.WriteString(c, body[:10])
	if got := readAnswer(t, c); got != (answer{status: 400, code: "RequestTimeout"}) {
		t.Errorf("stalled body: %+v, want 400 RequestTimeout", got)
	}
	if !closedByServer(c) {
		t.Error("the connection is still open after the timeout")
	}
	// A request refused on its headers does not hold the connection either:
	// the server's discarding of its unsent body runs out of time too.
	c = rawConn(t, srv)
	unknown := aws.Credentials{AccessKeyID: "AKIAUNKNOWNUNKNOWN00", SecretAccessKey: "x"}
	writeHead(t, c, signedRequest(t, srv.URL, unknown, "sts", "us-east-1", body), len(body))
	if got := readAnswer(t, c); got != (answer{status: 403, code: "InvalidClientTokenId"}) {
		t.Errorf("unknown key: %+v, want 403 InvalidClientTokenId", got)
	}
	if !closedByServer(c) {
		t.Error("the connection of a refused request whose body never came is still open")
	}
	// The same request sent whole works.
	c = rawConn(t, srv)
	writeHead(t, c, signedRequest(t, srv.URL, testCreds, "sts", "us-east-1", body), len(body))
	io.WriteString(c, body)
	if got := readAnswer(t, c); got.status != 200 {
		t.Errorf("whole body: %+v, want 200", got)
	}
}

// closedByServer reports whether the server closed c (rather than the
// test's guard deadline ending the read).
func closedByServer(c net.Conn) bool {
	_, err := c.Read(make([]byte, 1))
	var ne net.Error
	return err != nil && !(errors.As(err, &ne) && ne.Timeout())
}

func TestHeaderFieldsBounded(t *testing.T) {
	h, _ := limitsHandler(endpoint.Config{})
	req := signedRequest(t, "http://127.0.0.1:4566", testCreds, "sts", "us-east-1", "Action=GetCallerIdentity&Version=2011-06-15")
	for i := range endpoint.MaxHeaderFields {
		req.Header.Add("X-Filler", fmt.Sprint(i))
	}
	if got := record(h, req); got.status != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("%d header fields: %+v, want 431", endpoint.MaxHeaderFields+5, got)
	}
	srv := endpoint.Server(h, nil)
	if srv.MaxHeaderBytes != endpoint.MaxHeaderBytes || srv.ReadHeaderTimeout == 0 || srv.IdleTimeout == 0 || srv.WriteTimeout == 0 {
		t.Errorf("Server: header bytes %d, header timeout %v, idle %v, write %v; want all bounded",
			srv.MaxHeaderBytes, srv.ReadHeaderTimeout, srv.IdleTimeout, srv.WriteTimeout)
	}
}
