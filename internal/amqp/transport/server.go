package transport

import (
	"context"
	"errors"
	"net"
	"sync"

	"github.com/enmasse-go/enmasse/internal/amqp/frames"
)

// Server accepts AMQP connections on a listener and runs the handshake for
// each with the same Options. Shutdown stops accepting and closes every
// connection with amqp:connection:forced (SPEC §2).
type Server struct {
	opts Options
	ln   net.Listener

	mu     sync.Mutex
	conns  map[*Conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

// NewServer returns a Server that will serve ln with opts.
func NewServer(ln net.Listener, opts Options) *Server {
	opts.setDefaults()
	return &Server{opts: opts, ln: ln, conns: map[*Conn]struct{}{}}
}

// Addr returns the listener's address.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Serve accepts connections until the listener is closed. Each handshake
// runs in its own goroutine, bounded by Options.HandshakeTimeout.
func (s *Server) Serve(ctx context.Context) error {
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			s.mu.Lock()
			closed := s.closed
			s.mu.Unlock()
			if closed || errors.Is(err, net.ErrClosed) {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return err
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			nc.Close()
			return nil
		}
		s.wg.Add(1)
		s.mu.Unlock()
		go s.handle(ctx, nc)
	}
}

func (s *Server) handle(ctx context.Context, nc net.Conn) {
	defer s.wg.Done()
	c, err := Accept(ctx, nc, s.opts)
	if err != nil {
		s.opts.Logger.Debug("connection refused", "remote", nc.RemoteAddr(), "err", err)
		return
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		c.Close(context.Background(), frames.Errorf(frames.ErrConnectionForced, "server shutting down"))
		return
	}
	s.conns[c] = struct{}{}
	s.mu.Unlock()
	<-c.Done()
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

// Shutdown stops accepting, closes every connection with
// amqp:connection:forced, and waits for them to end or ctx to expire.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	conns := make([]*Conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	s.ln.Close()
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.Close(ctx, frames.Errorf(frames.ErrConnectionForced, "server shutting down"))
		}()
	}
	wg.Wait()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// ConnCount returns the number of open connections.
func (s *Server) ConnCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}
