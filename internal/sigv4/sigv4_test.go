package sigv4

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

const (
	exampleKey    = "AKIDEXAMPLE"
	exampleSecret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
)

var exampleTime = time.Date(2015, 8, 30, 12, 36, 0, 0, time.UTC)

// The AWS SigV4 test suite's vectors (service "service", us-east-1).
func TestSuiteVectors(t *testing.T) {
	tests := []struct {
		name, method, target, signature string
	}{
		{"get-vanilla", "GET", "/", "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
		{"get-vanilla-query-order-key-case", "GET", "/?Param2=value2&Param1=value1", "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"},
		{"post-vanilla", "POST", "/", "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(tt.method, "http://example.amazonaws.com"+tt.target, nil)
			r.Host = "example.amazonaws.com"
			r.Header.Set("X-Amz-Date", "20150830T123600Z")
			r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature="+tt.signature)
			s, err := Parse(r)
			if err != nil {
				t.Fatalf("Parse = %v", err)
			}
			if err := s.Verify(r, nil, exampleSecret); err != nil {
				t.Errorf("Verify = %v, want nil", err)
			}
			if err := s.Verify(r, nil, exampleSecret+"x"); !errors.Is(err, ErrMismatch) {
				t.Errorf("Verify(wrong secret) = %v, want ErrMismatch", err)
			}
			if err := s.CheckTime(exampleTime.Add(4*time.Minute), 5*time.Minute); err != nil {
				t.Errorf("CheckTime(+4m) = %v", err)
			}
			if err := s.CheckTime(exampleTime.Add(6*time.Minute), 5*time.Minute); !errors.Is(err, ErrSkewed) {
				t.Errorf("CheckTime(+6m) = %v, want ErrSkewed", err)
			}
		})
	}
}

func formRequest(t *testing.T, body string) *http.Request {
	t.Helper()
	r, err := http.NewRequest("POST", "http://127.0.0.1:4566/", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	return r
}

func hashHex(b string) string {
	s := sha256.Sum256([]byte(b))
	return hex.EncodeToString(s[:])
}

// Differential: whatever aws-sdk-go-v2 signs, Verify accepts; any change to
// what was signed is rejected.
func TestSDKSignedRequests(t *testing.T) {
	signer := v4.NewSigner()
	creds := aws.Credentials{AccessKeyID: "AKIACACHALOTTEST", SecretAccessKey: "s3cr3t/key+with=chars", SessionToken: "tok"}
	bodies := []string{"", "Action=GetCallerIdentity&Version=2011-06-15", "Action=DescribeVpcs&Filter.1.Name=vpc-id&Filter.1.Value.1=vpc-1%202"}
	for _, body := range bodies {
		for _, service := range []string{"sts", "ec2", "elasticache", "iam"} {
			r := formRequest(t, body)
			r.URL.RawQuery = "a=b c&Z=1&a=a"
			if err := signer.SignHTTP(context.Background(), creds, r, hashHex(body), service, "eu-west-3", time.Now()); err != nil {
				t.Fatal(err)
			}
			// The server sees the request as net/http delivers it.
			srv := httptest.NewRequest(r.Method, r.URL.String(), strings.NewReader(body))
			srv.Header = r.Header.Clone()
			srv.Host = r.Host
			s, err := Parse(srv)
			if err != nil {
				t.Fatalf("Parse = %v", err)
			}
			if s.Service != service || s.Region != "eu-west-3" || s.AccessKeyID != creds.AccessKeyID || s.SecurityToken != "tok" {
				t.Errorf("Parse = %+v, wrong scope", s)
			}
			if err := s.Verify(srv, []byte(body), creds.SecretAccessKey); err != nil {
				t.Errorf("%s %q: Verify = %v", service, body, err)
			}
			if err := s.Verify(srv, []byte(body+"&x=1"), creds.SecretAccessKey); !errors.Is(err, ErrMismatch) {
				t.Errorf("%s: Verify(tampered body) = %v, want ErrMismatch", service, err)
			}
		}
	}
}

func TestPresigned(t *testing.T) {
	signer := v4.NewSigner()
	creds := aws.Credentials{AccessKeyID: "AKIACACHALOTTEST", SecretAccessKey: "secret"}
	r, _ := http.NewRequest("GET", "http://127.0.0.1:4566/?Action=GetCallerIdentity&Version=2011-06-15&X-Amz-Expires=60", nil)
	signedAt := time.Now().Add(-10 * time.Second)
	u, _, err := signer.PresignHTTP(context.Background(), creds, r, hashHex(""), "sts", "us-east-1", signedAt)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewRequest("GET", u, nil)
	s, err := Parse(srv)
	if err != nil {
		t.Fatalf("Parse = %v", err)
	}
	if !s.Presigned || s.Expires != time.Minute {
		t.Errorf("Parse = %+v, want presigned for 60s", s)
	}
	if err := s.Verify(srv, nil, "secret"); err != nil {
		t.Errorf("Verify = %v", err)
	}
	if err := s.CheckTime(time.Now(), 5*time.Minute); err != nil {
		t.Errorf("CheckTime(now) = %v", err)
	}
	if err := s.CheckTime(time.Now().Add(2*time.Minute), 5*time.Minute); !errors.Is(err, ErrExpired) {
		t.Errorf("CheckTime(+2m) = %v, want ErrExpired", err)
	}
	tampered := httptest.NewRequest("GET", strings.Replace(u, "GetCallerIdentity", "GetSessionToken", 1), nil)
	if err := s.Verify(tampered, nil, "secret"); !errors.Is(err, ErrMismatch) {
		t.Errorf("Verify(tampered) = %v, want ErrMismatch", err)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, auth, date string
		want             error
	}{
		{"unsigned", "", "", ErrMissing},
		{"other scheme", "AWS AKID:sig", "20150830T123600Z", ErrMalformed},
		{"no signature", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host", "20150830T123600Z", ErrMalformed},
		{"short scope", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1, SignedHeaders=host, Signature=00", "20150830T123600Z", ErrMalformed},
		{"no date", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host, Signature=00", "", ErrMalformed},
		{"date mismatch", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150831/us-east-1/service/aws4_request, SignedHeaders=host, Signature=00", "20150830T123600Z", ErrMalformed},
		{"garbage", "AWS4-HMAC-SHA256 ,,,", "x", ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			if tt.auth != "" {
				r.Header.Set("Authorization", tt.auth)
			}
			if tt.date != "" {
				r.Header.Set("X-Amz-Date", tt.date)
			}
			if _, err := Parse(r); !errors.Is(err, tt.want) {
				t.Errorf("Parse = %v, want %v", err, tt.want)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	f.Add("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa0", "20150830T123600Z", "a=b")
	f.Add("AWS4-HMAC-SHA256 Credential=//// , SignedHeaders=;;, Signature==", "", "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Expires=-1")
	f.Fuzz(func(t *testing.T, auth, date, query string) {
		r := httptest.NewRequest("GET", "/", nil)
		r.URL.RawQuery = query
		r.Header.Set("Authorization", auth)
		r.Header.Set("X-Amz-Date", date)
		s, err := Parse(r)
		if err != nil {
			return
		}
		_ = s.Verify(r, nil, "secret")
		_ = s.CheckTime(time.Now(), time.Minute)
	})
}

// The payload is verified: the canonical request carries the hash of the
// body received, whatever an X-Amz-Content-Sha256 header claims (issue 21:
// a signed DescribeSecurityGroups whose body was swapped for a
// CreateSecurityGroup, with the original hash in an unsigned header, was
// executed).
func TestPayloadIsVerified(t *testing.T) {
	// The bodies have the same length: the SDK signs Content-Length.
	const signed = "Action=DescribeSecurityGroups&Version=2016-11-15&GroupName.1=some-group-of-mine"
	swapped := "Action=CreateSecurityGroup&GroupName=evil&Version=2016-11-15&GroupDescription="
	swapped += strings.Repeat("x", len(signed)-len(swapped))
	creds := aws.Credentials{AccessKeyID: "AKIACACHALOTTEST", SecretAccessKey: "secret"}
	tests := []struct {
		name string
		// header is X-Amz-Content-Sha256 when signing ("" for none) and
		// payload the hash the client signs.
		header, payload string
		// unsigned is an X-Amz-Content-Sha256 header added after signing.
		unsigned string
		body     string
		want     error
	}{
		{"intact", "", hashHex(signed), "", signed, nil},
		{"swapped body", "", hashHex(signed), "", swapped, ErrMismatch},
		{"swapped body, unsigned header naming the signed hash", "", hashHex(signed), hashHex(signed), swapped, ErrMismatch},
		{"intact, unsigned header lying", "", hashHex(signed), hashHex(swapped), signed, nil},
		{"signed header naming the body", hashHex(signed), hashHex(signed), "", signed, nil},
		{"swapped body, signed header naming the signed hash", hashHex(signed), hashHex(signed), "", swapped, ErrMismatch},
		{"signed header not naming the signed body", hashHex(swapped), hashHex(signed), "", signed, ErrMismatch},
		{"UNSIGNED-PAYLOAD", "UNSIGNED-PAYLOAD", "UNSIGNED-PAYLOAD", "", swapped, ErrMismatch},
		{"UNSIGNED-PAYLOAD, signed body", "UNSIGNED-PAYLOAD", "UNSIGNED-PAYLOAD", "", signed, ErrMismatch},
		{"streaming", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", "", signed, ErrMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := formRequest(t, signed)
			if tt.header != "" {
				r.Header.Set("X-Amz-Content-Sha256", tt.header)
			}
			if err := v4.NewSigner().SignHTTP(context.Background(), creds, r, tt.payload, "ec2", "us-east-1", time.Now()); err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewRequest(r.Method, r.URL.String(), strings.NewReader(tt.body))
			srv.Header = r.Header.Clone()
			srv.Host = r.Host
			if tt.unsigned != "" {
				srv.Header.Set("X-Amz-Content-Sha256", tt.unsigned)
			}
			s, err := Parse(srv)
			if err != nil {
				t.Fatalf("Parse = %v", err)
			}
			if got := slices.Contains(s.SignedHeaders, "x-amz-content-sha256"); got != (tt.header != "") {
				t.Fatalf("x-amz-content-sha256 signed = %v, want %v (SignedHeaders %v)", got, tt.header != "", s.SignedHeaders)
			}
			if err := s.Verify(srv, []byte(tt.body), creds.SecretAccessKey); !errors.Is(err, tt.want) {
				t.Errorf("Verify = %v, want %v", err, tt.want)
			}
		})
	}
}
