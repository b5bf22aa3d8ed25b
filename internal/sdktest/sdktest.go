// Package sdktest gives tests an HTTP client for aws-sdk-go-v2 that does not
// trip over the SDK's request-stream race.
package sdktest

import (
	"bytes"
	"io"
	"net/http"
)

// HTTPClient returns a client whose transport sends a private copy of each
// request body. aws-sdk-go-v2 closes its request stream once the response
// arrives; when net/http's write loop has not quite finished with the body at
// that moment, the write fails and the transport closes the connection under
// the response being read ("use of closed network connection",
// aws/aws-sdk-go-v2#2737). Cachalot reads every request whole before
// answering, so the race is the client's alone; tests that want to see the
// first answer (RetryMaxAttempts 1) must not be failed by it.
func HTTPClient() *http.Client {
	return &http.Client{Transport: bufferedBody{&http.Transport{MaxIdleConnsPerHost: 16}}}
}

type bufferedBody struct{ next http.RoundTripper }

func (b bufferedBody) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return b.next.RoundTrip(r)
	}
	body, err := io.ReadAll(r.Body)
	r.Body.Close()
	if err != nil {
		return nil, err
	}
	r = r.Clone(r.Context())
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	return b.next.RoundTrip(r)
}
