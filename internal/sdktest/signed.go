package sdktest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// Answer is what a raw call got back: the status, the body, and the error
// code and message of an AWS error document ("" when there is none).
type Answer struct {
	Status    int
	Body      string
	Code, Msg string
}

var (
	codeRe = regexp.MustCompile(`<Code>([^<]*)</Code>`)
	msgRe  = regexp.MustCompile(`<Message>([^<]*)</Message>`)
)

// ParseError returns the code and message of an AWS XML error document.
func ParseError(body []byte) (code, msg string) {
	if m := codeRe.FindSubmatch(body); m != nil {
		code = string(m[1])
	}
	if m := msgRe.FindSubmatch(body); m != nil {
		msg = string(m[1])
	}
	return code, msg
}

// Send sends req with HTTPClient and reads the answer whole.
func Send(req *http.Request) (Answer, error) {
	resp, err := HTTPClient().Do(req)
	if err != nil {
		return Answer{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return Answer{}, fmt.Errorf("read answer: %w", err)
	}
	a := Answer{Status: resp.StatusCode, Body: string(b)}
	a.Code, a.Msg = ParseError(b)
	return a, nil
}

// SignedQuery builds an awsQuery POST of params (Action and Version
// included) to endpoint, signed with creds for service and region the way
// aws-sdk-go-v2 signs it.
func SignedQuery(endpoint string, creds aws.Credentials, service, region string, params url.Values) (*http.Request, error) {
	body := params.Encode()
	req, err := http.NewRequest(http.MethodPost, endpoint+"/", strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	sum := sha256.Sum256([]byte(body))
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), service, region, time.Now()); err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	return req, nil
}
