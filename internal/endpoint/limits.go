package endpoint

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/cachalot-dev/cachalot/internal/awserr"
	"github.com/cachalot-dev/cachalot/internal/awsproto"
)

// What one request may cost the endpoint before and while it is served.
// The body is read only after the signature's headers have named a known
// access key for one of our services in an accepted region, within a time
// limit, and only while the bytes in flight stay under a memory budget.
const (
	// MaxBodyBytes bounds a request body (EC2 user data and IAM policies
	// fit easily).
	MaxBodyBytes = 8 << 20
	// DefaultBodyMemory is the default budget of request-body bytes held at
	// once by all requests together (Config.BodyMemory).
	DefaultBodyMemory = 64 << 20
	// DefaultBodyTimeout is the default time a request has to deliver its
	// body once its headers are in (Config.BodyTimeout).
	DefaultBodyTimeout = 30 * time.Second
	// MaxHeaderBytes bounds the request line and headers (the query string
	// of a GET included). A SigV4 request with a session token needs a few
	// KiB.
	MaxHeaderBytes = 64 << 10
	// MaxHeaderFields bounds the number of header lines of a request.
	MaxHeaderFields = 128
	// peekBytes is what is read of the body of a request that fails
	// authentication before its body is read, to answer in the shape of
	// the service its Version names (SDKs send Action and Version first).
	peekBytes = 4 << 10
)

// Server returns the HTTP server for h: headers must arrive within 10 s,
// an idle keep-alive connection is closed after 2 minutes, a response must
// be written within 5 minutes of the request's headers, and headers are
// bounded by MaxHeaderBytes. The body's own limit is the Handler's
// (Config.BodyTimeout). Listening is the caller's.
func Server(h http.Handler, log *slog.Logger) *http.Server {
	if log == nil {
		log = slog.Default()
	}
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		WriteTimeout:      5 * time.Minute,
		MaxHeaderBytes:    MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// headerFields is the number of header lines of r.
func headerFields(r *http.Request) int {
	n := 0
	for _, v := range r.Header {
		n += len(v)
	}
	return n
}

// readBody reads r's body within the body budget and the time limit
// ServeHTTP set (see bodyDeadline): it returns the body and a release
// function to call when the request is done with it.
func (h *Handler) readBody(r *http.Request, w http.ResponseWriter, svc awsproto.Service) ([]byte, func(), error) {
	if r.ContentLength > MaxBodyBytes {
		return nil, func() {}, tooLarge()
	}
	if r.ContentLength == 0 || r.Body == nil || r.Body == http.NoBody {
		return nil, func() {}, nil
	}
	deadline := time.Now().Add(h.cfg.BodyTimeout)
	weight := r.ContentLength
	if weight < 0 {
		weight = MaxBodyBytes
	}
	ctx, cancel := context.WithDeadline(r.Context(), deadline)
	defer cancel()
	if err := h.budget.acquire(ctx, weight); err != nil {
		if svc.Protocol == awsproto.ProtocolEC2 {
			return nil, func() {}, awserr.WithStatus(http.StatusServiceUnavailable, "RequestLimitExceeded", "Request limit exceeded.")
		}
		return nil, func() {}, awserr.New("Throttling", "Rate exceeded")
	}
	release := func() { h.budget.release(weight) }
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	var tooBig *http.MaxBytesError
	switch {
	case err == nil:
		// The body is in: lift the read deadline ServeHTTP set. The server
		// keeps reading the connection in the background while the
		// operation runs, and a deadline passing then would cancel the
		// request's context.
		_ = http.NewResponseController(w).SetReadDeadline(time.Time{})
		return body, release, nil
	case errors.As(err, &tooBig):
		err = tooLarge()
	case errors.Is(err, os.ErrDeadlineExceeded):
		err = awserr.New("RequestTimeout", "Your socket connection to the server was not read from or written to within the timeout period.")
	default:
		err = awserr.New("IncompleteBody", "The request body terminated unexpectedly")
	}
	release()
	return nil, func() {}, err
}

func tooLarge() error {
	return awserr.WithStatus(http.StatusRequestEntityTooLarge, "RequestEntityTooLarge", "Request body is larger than %d bytes", MaxBodyBytes)
}

// bodyDeadline bounds the reads of r's connection from now on: of its
// body by the handler, and of whatever of it the server discards after an
// answer given without reading it all. readBody lifts it once the whole
// body is in. Not every ResponseWriter supports deadlines (tests'
// recorders); the budget's wait is bounded on its own.
func (h *Handler) bodyDeadline(w http.ResponseWriter) {
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(h.cfg.BodyTimeout))
}

// peekBody reads at most peekBytes of r's body, within the body's time
// limit: enough for the Action and Version of a request that will be
// refused anyway.
func peekBody(r *http.Request) []byte {
	if r.Body == nil || r.ContentLength == 0 {
		return nil
	}
	b, _ := io.ReadAll(io.LimitReader(r.Body, peekBytes))
	return b
}

// budget is a weighted semaphore over bytes: acquire waits, first come
// first served, until n bytes fit under max. A request larger than max is
// let through alone (max is at least MaxBodyBytes in practice).
type budget struct {
	mu      sync.Mutex // guards used and waiters
	max     int64
	used    int64
	waiters []*waiter
}

type waiter struct {
	n     int64
	ready chan struct{} // closed when the bytes are granted
}

func newBudget(max int64) *budget { return &budget{max: max} }

func (b *budget) fits(n int64) bool { return b.used+n <= b.max || b.used == 0 }

func (b *budget) acquire(ctx context.Context, n int64) error {
	b.mu.Lock()
	if len(b.waiters) == 0 && b.fits(n) {
		b.used += n
		b.mu.Unlock()
		return nil
	}
	w := &waiter{n: n, ready: make(chan struct{})}
	b.waiters = append(b.waiters, w)
	b.mu.Unlock()
	select {
	case <-w.ready:
		return nil
	case <-ctx.Done():
		b.mu.Lock()
		defer b.mu.Unlock()
		select {
		case <-w.ready: // granted meanwhile: give it back
			b.used -= n
			b.grant()
		default:
			for i, x := range b.waiters {
				if x == w {
					b.waiters = append(b.waiters[:i], b.waiters[i+1:]...)
					break
				}
			}
			b.grant() // the head may have been waiting behind w
		}
		return ctx.Err()
	}
}

func (b *budget) release(n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.used -= n
	b.grant()
}

// grant hands bytes to the waiters at the head of the queue that fit.
// Called with mu held.
func (b *budget) grant() {
	for len(b.waiters) > 0 && b.fits(b.waiters[0].n) {
		w := b.waiters[0]
		b.waiters = b.waiters[1:]
		b.used += w.n
		close(w.ready)
	}
}

// decompress returns the body a client compressed (Content-Encoding: gzip,
// as the SDKs send CloudWatch's PutMetricData), within MaxBodyBytes; the
// signature covers the compressed bytes, so it runs after verification.
func decompress(r *http.Request, body []byte) ([]byte, error) {
	if !strings.EqualFold(r.Header.Get("Content-Encoding"), "gzip") {
		return body, nil
	}
	zr, err := gzip.NewReader(bytes.NewReader(body))
	if err != nil {
		return nil, awserr.New("MalformedQueryString", "The request body is not valid gzip: %v", err)
	}
	out, err := io.ReadAll(io.LimitReader(zr, MaxBodyBytes+1))
	if err != nil {
		return nil, awserr.New("MalformedQueryString", "The request body is not valid gzip: %v", err)
	}
	if len(out) > MaxBodyBytes {
		return nil, tooLarge()
	}
	return out, nil
}
