package resolver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// Timeouts of a connection, as miekg/dns defaults them; named here so that
// Close's worst case is visible: a TCP client that stops reading holds a
// response write for writeTimeout.
const (
	readTimeout  = 2 * time.Second
	writeTimeout = 2 * time.Second
	idleTimeout  = 8 * time.Second // RFC 7766's advice for an idle TCP connection
)

// Server is one VPC's DNS server: it answers queries on the sockets given to
// Start from its Source. New has no side effects; Start serves; Close stops
// and may be called after a partial or failed Start, and more than once.
type Server struct {
	src Source
	log *slog.Logger

	mu      sync.Mutex // guards the fields below
	started bool       // Start was called
	closed  bool       // Close was called
	pc      net.PacketConn
	ln      net.Listener
	servers []*dns.Server // those whose serving goroutine was launched

	wg sync.WaitGroup // the serving goroutines
}

// New returns a server answering from src. log receives serving errors; nil
// discards them.
func New(src Source, log *slog.Logger) *Server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Server{src: src, log: log}
}

// Start serves DNS over UDP on pc and over TCP on ln (either may be nil, not
// both) and returns once both are serving, or with the first error. The
// server owns pc and ln from then on: Close closes them, even when Start
// failed. ctx bounds the wait for the start only.
func (s *Server) Start(ctx context.Context, pc net.PacketConn, ln net.Listener) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.started:
		return errors.New("resolver: already started")
	case s.closed:
		return errors.New("resolver: closed")
	}
	s.started, s.pc, s.ln = true, pc, ln
	if pc == nil && ln == nil {
		return errors.New("resolver: no socket to serve on")
	}
	if ln != nil {
		tcp := &dns.Server{Listener: ln, IdleTimeout: func() time.Duration { return idleTimeout }, MaxTCPQueries: -1}
		if err := s.serve(ctx, tcp); err != nil {
			return fmt.Errorf("resolver: serve tcp on %v: %w", ln.Addr(), err)
		}
	}
	if pc != nil {
		if err := s.serve(ctx, &dns.Server{PacketConn: pc, UDPSize: dns.MaxMsgSize}); err != nil {
			return fmt.Errorf("resolver: serve udp on %v: %w", pc.LocalAddr(), err)
		}
	}
	return nil
}

// serve launches srv and waits until it is serving. Called with s.mu held.
func (s *Server) serve(ctx context.Context, srv *dns.Server) error {
	srv.Handler = dns.HandlerFunc(s.handle)
	srv.ReadTimeout, srv.WriteTimeout = readTimeout, writeTimeout
	serving := make(chan struct{})
	srv.NotifyStartedFunc = func() { close(serving) }
	failed := make(chan error, 1)
	s.servers = append(s.servers, srv)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		err := srv.ActivateAndServe()
		select {
		case failed <- err:
		default:
		}
		if err != nil && !s.isClosed() {
			s.log.Error("dns server stopped", "err", err)
		}
	}()
	select {
	case <-serving:
		return nil
	case err := <-failed:
		if err == nil {
			err = errors.New("stopped before serving")
		}
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// handle answers one query.
func (s *Server) handle(w dns.ResponseWriter, req *dns.Msg) {
	tcp := w.LocalAddr().Network() == "tcp"
	if err := w.WriteMsg(Respond(s.src, req, maxSize(req, tcp))); err != nil {
		s.log.Debug("dns response not sent", "client", w.RemoteAddr(), "err", err)
	}
}

// Close stops serving, waits for every query in progress and every
// goroutine the server started, and closes the sockets. It is safe after a
// partial or failed Start, before Start, and more than once.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	servers, pc, ln := s.servers, s.pc, s.ln
	s.mu.Unlock()

	for _, srv := range servers {
		// Graceful: unblocks reads, waits for queries in progress. It fails
		// with "server not started" when the goroutine has not got that far;
		// closing the sockets below stops that one.
		_ = srv.Shutdown()
	}
	if pc != nil {
		pc.Close()
	}
	if ln != nil {
		ln.Close()
	}
	s.wg.Wait()
	return nil
}
