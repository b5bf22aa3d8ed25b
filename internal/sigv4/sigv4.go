// Package sigv4 verifies AWS Signature Version 4 on incoming requests, signed
// in the Authorization header or presigned in the query string. It parses the
// signature, rebuilds the canonical request and compares signatures in
// constant time; it knows nothing of accounts or services (the wire layer
// resolves the access key and maps failures to each service's error codes).
//
// Signing is the SDKs' job: tests use aws-sdk-go-v2's signer as the oracle.
package sigv4

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Algorithm is the only signing algorithm accepted.
const Algorithm = "AWS4-HMAC-SHA256"

const (
	amzDateFormat = "20060102T150405Z"
	// MaxPresignExpiry is the longest X-Amz-Expires AWS accepts (7 days).
	MaxPresignExpiry = 7 * 24 * time.Hour
)

// Errors returned by Parse and Check; the wire layer maps them to codes.
var (
	// ErrMissing: the request carries no signature at all.
	ErrMissing = errors.New("sigv4: request is not signed")
	// ErrMalformed: the signature fields cannot be parsed.
	ErrMalformed = errors.New("sigv4: malformed signature")
	// ErrMismatch: the signature does not match the request.
	ErrMismatch = errors.New("sigv4: signature does not match")
	// ErrSkewed: the request date is too far from the server's clock.
	ErrSkewed = errors.New("sigv4: request time too skewed")
	// ErrExpired: a presigned request is past its expiry.
	ErrExpired = errors.New("sigv4: presigned request expired")
)

// Signature is the parsed signature of a request.
type Signature struct {
	AccessKeyID   string
	Date          time.Time // X-Amz-Date
	Day           string    // scope date, YYYYMMDD
	Region        string
	Service       string
	SignedHeaders []string // lowercase, sorted as sent
	Signature     string   // hex
	SecurityToken string   // X-Amz-Security-Token, if any
	Presigned     bool
	Expires       time.Duration // presigned only
}

// Scope is the credential scope string, e.g. 20150830/us-east-1/iam/aws4_request.
func (s *Signature) Scope() string {
	return s.Day + "/" + s.Region + "/" + s.Service + "/aws4_request"
}

// Parse extracts the signature of r. It returns ErrMissing for an unsigned
// request and wraps ErrMalformed for an unparsable one.
func Parse(r *http.Request) (*Signature, error) {
	if h := r.Header.Get("Authorization"); h != "" {
		return parseHeader(r, h)
	}
	q := r.URL.Query()
	if q.Get("X-Amz-Algorithm") != "" || q.Get("X-Amz-Signature") != "" {
		return parseQuery(q)
	}
	return nil, ErrMissing
}

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

func parseHeader(r *http.Request, h string) (*Signature, error) {
	alg, rest, ok := strings.Cut(h, " ")
	if !ok || alg != Algorithm {
		return nil, malformed("unsupported authorization type")
	}
	s := &Signature{SecurityToken: r.Header.Get("X-Amz-Security-Token")}
	var cred, signed string
	for _, part := range strings.Split(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return nil, malformed("authorization header component %q is not a key=value pair", part)
		}
		switch k {
		case "Credential":
			cred = v
		case "SignedHeaders":
			signed = v
		case "Signature":
			s.Signature = v
		}
	}
	if cred == "" || signed == "" || s.Signature == "" {
		return nil, malformed("authorization header requires Credential, SignedHeaders and Signature")
	}
	if err := s.setCredential(cred); err != nil {
		return nil, err
	}
	s.SignedHeaders = strings.Split(signed, ";")
	date := r.Header.Get("X-Amz-Date")
	if date == "" {
		date = r.Header.Get("Date")
	}
	return s, s.setDate(date)
}

func parseQuery(q url.Values) (*Signature, error) {
	if q.Get("X-Amz-Algorithm") != Algorithm {
		return nil, malformed("unsupported X-Amz-Algorithm")
	}
	s := &Signature{Presigned: true, Signature: q.Get("X-Amz-Signature"), SecurityToken: q.Get("X-Amz-Security-Token")}
	cred, signed := q.Get("X-Amz-Credential"), q.Get("X-Amz-SignedHeaders")
	if cred == "" || signed == "" || s.Signature == "" {
		return nil, malformed("presigned request requires X-Amz-Credential, X-Amz-SignedHeaders and X-Amz-Signature")
	}
	if err := s.setCredential(cred); err != nil {
		return nil, err
	}
	s.SignedHeaders = strings.Split(signed, ";")
	// Without X-Amz-Expires (the SDKs' STS presigner omits it) a presigned
	// request is good for 15 minutes, as on AWS.
	exp, err := 900, error(nil)
	if v := q.Get("X-Amz-Expires"); v != "" {
		exp, err = strconv.Atoi(v)
	}
	if err != nil || exp < 0 || time.Duration(exp)*time.Second > MaxPresignExpiry {
		return nil, malformed("X-Amz-Expires must be a number of seconds up to %d", int(MaxPresignExpiry.Seconds()))
	}
	s.Expires = time.Duration(exp) * time.Second
	return s, s.setDate(q.Get("X-Amz-Date"))
}

func (s *Signature) setCredential(cred string) error {
	parts := strings.Split(cred, "/")
	if len(parts) != 5 || parts[4] != "aws4_request" || parts[0] == "" {
		return malformed("credential should be scoped to a valid region, service and aws4_request")
	}
	s.AccessKeyID, s.Day, s.Region, s.Service = parts[0], parts[1], parts[2], parts[3]
	return nil
}

func (s *Signature) setDate(v string) error {
	t, err := time.Parse(amzDateFormat, v)
	if err != nil {
		if t2, err2 := http.ParseTime(v); err2 == nil {
			t = t2
		} else {
			return malformed("missing or invalid X-Amz-Date")
		}
	}
	s.Date = t.UTC()
	if s.Date.Format("20060102") != s.Day {
		return malformed("credential date %s does not match X-Amz-Date", s.Day)
	}
	return nil
}

// CheckTime verifies the request time against now: a header-signed request
// must be within skew of now; a presigned one must not be in the future by
// more than skew nor past its expiry.
func (s *Signature) CheckTime(now time.Time, skew time.Duration) error {
	if s.Presigned {
		if s.Date.After(now.Add(skew)) {
			return ErrSkewed
		}
		if now.After(s.Date.Add(s.Expires)) {
			return ErrExpired
		}
		return nil
	}
	if d := now.Sub(s.Date); d > skew || d < -skew {
		return ErrSkewed
	}
	return nil
}

// Verify checks the signature of r, whose body is body, with the secret key.
func (s *Signature) Verify(r *http.Request, body []byte, secret string) error {
	return s.VerifyWithKey(r, body, SigningKey(secret, s.Day, s.Region, s.Service))
}

// VerifyWithKey is Verify with an already derived signing key (see KeyCache).
//
// The payload is part of what is verified. Like every AWS service but S3,
// Cachalot's services hash the payload themselves: the canonical request
// always ends with the SHA-256 of the body received, never with what an
// X-Amz-Content-Sha256 header claims, so a body replaced in transit fails
// the signature whatever such a header says. The header's special values
// (UNSIGNED-PAYLOAD, STREAMING-…) are S3's and fail the same way, as they do
// on AWS's other services. A signed X-Amz-Content-Sha256 must, moreover,
// name the body's hash (aws-sdk-go-v2 and the AWS CLI send none to these
// services).
func (s *Signature) VerifyWithKey(r *http.Request, body []byte, key []byte) error {
	return s.VerifyPayloadHash(r, PayloadHash(body), key)
}

// VerifyPayloadHash is VerifyWithKey with the payload hash the canonical
// request ends with given: a presigned URL handed around as a token (an
// ElastiCache IAM authentication token) has no body, and some presigners
// sign UNSIGNED-PAYLOAD for it.
func (s *Signature) VerifyPayloadHash(r *http.Request, hash string, key []byte) error {
	got, err := hex.DecodeString(s.Signature)
	if err != nil {
		return ErrMismatch
	}
	if slices.Contains(s.SignedHeaders, "x-amz-content-sha256") && headerValue(r, "x-amz-content-sha256") != hash {
		return ErrMismatch
	}
	// AWS's SDKs escape the (already escaped) path once more for every
	// service but S3; some clients do not. Accept either form.
	for _, double := range []bool{true, false} {
		sts := StringToSign(s.Date, s.Scope(), canonicalRequest(r, hash, s, double))
		if hmac.Equal(got, hmacSHA256(key, []byte(sts))) {
			return nil
		}
	}
	return ErrMismatch
}

// SigningKey derives the SigV4 signing key.
func SigningKey(secret, day, region, service string) []byte {
	k := hmacSHA256([]byte("AWS4"+secret), []byte(day))
	k = hmacSHA256(k, []byte(region))
	k = hmacSHA256(k, []byte(service))
	return hmacSHA256(k, []byte("aws4_request"))
}

// StringToSign builds the string to sign from a canonical request.
func StringToSign(t time.Time, scope, canonicalRequest string) string {
	sum := sha256.Sum256([]byte(canonicalRequest))
	return Algorithm + "\n" + t.UTC().Format(amzDateFormat) + "\n" + scope + "\n" + hex.EncodeToString(sum[:])
}

// CanonicalRequest builds the canonical request of r, whose body is body, as
// s describes it.
func CanonicalRequest(r *http.Request, body []byte, s *Signature, doubleEscapePath bool) string {
	return canonicalRequest(r, PayloadHash(body), s, doubleEscapePath)
}

func canonicalRequest(r *http.Request, payloadHash string, s *Signature, doubleEscapePath bool) string {
	var b strings.Builder
	b.WriteString(r.Method)
	b.WriteByte('\n')
	path := r.URL.EscapedPath()
	if path == "" {
		path = "/"
	}
	if doubleEscapePath {
		path = escape(path, true)
	}
	b.WriteString(path)
	b.WriteByte('\n')
	b.WriteString(canonicalQuery(r.URL.RawQuery, s.Presigned))
	b.WriteByte('\n')
	for _, h := range s.SignedHeaders {
		b.WriteString(h)
		b.WriteByte(':')
		b.WriteString(headerValue(r, h))
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	b.WriteString(strings.Join(s.SignedHeaders, ";"))
	b.WriteByte('\n')
	b.WriteString(payloadHash)
	return b.String()
}

// PayloadHash is the hex SHA-256 of a request body, the last line of the
// canonical request (a presigned GET's empty body hashes like any other).
func PayloadHash(body []byte) string {
	sum := sha256.Sum256(body)
	return hex.EncodeToString(sum[:])
}

func headerValue(r *http.Request, name string) string {
	var vals []string
	switch name {
	case "host":
		vals = []string{r.Host}
	case "content-length":
		vals = []string{strconv.FormatInt(r.ContentLength, 10)}
		if r.ContentLength < 0 {
			vals = r.Header.Values("Content-Length")
		}
	default:
		vals = r.Header.Values(name)
	}
	for i, v := range vals {
		vals[i] = strings.Join(strings.Fields(v), " ")
	}
	return strings.Join(vals, ",")
}

func canonicalQuery(raw string, presigned bool) string {
	if raw == "" {
		return ""
	}
	type kv struct{ k, v string }
	var pairs []kv
	for _, part := range strings.Split(raw, "&") {
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		ku, err1 := url.QueryUnescape(k)
		vu, err2 := url.QueryUnescape(v)
		if err1 != nil || err2 != nil {
			ku, vu = k, v
		}
		if presigned && ku == "X-Amz-Signature" {
			continue
		}
		pairs = append(pairs, kv{escape(ku, false), escape(vu, false)})
	}
	slices.SortFunc(pairs, func(a, b kv) int {
		if c := strings.Compare(a.k, b.k); c != 0 {
			return c
		}
		return strings.Compare(a.v, b.v)
	})
	var b strings.Builder
	for i, p := range pairs {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(p.k)
		b.WriteByte('=')
		b.WriteString(p.v)
	}
	return b.String()
}

// escape percent-encodes every byte but the unreserved ones (and '/' when
// keepSlash), as SigV4 requires.
func escape(s string, keepSlash bool) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
			c == '-' || c == '_' || c == '.' || c == '~' || (keepSlash && c == '/') {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	return b.String()
}

func hmacSHA256(key, data []byte) []byte {
	h := hmac.New(sha256.New, key)
	h.Write(data)
	return h.Sum(nil)
}
