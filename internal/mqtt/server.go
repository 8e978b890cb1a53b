package mqtt

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/enmasse-go/enmasse/internal/amqp/transport"
)

// Credentials are what an MQTT client presented in its CONNECT.
type Credentials struct {
	ClientID    string
	Username    string
	HasUsername bool
	Password    []byte
	HasPassword bool
	// RemoteAddr is the client's address (of the TCP connection, also
	// under TLS or WebSocket).
	RemoteAddr net.Addr
	// TLS is the state of the client's TLS connection (mqtts, or wss on
	// the HTTPS listener), nil without TLS. A verified client certificate
	// (VerifiedChains) identifies the client when it gives no username.
	TLS *tls.ConnectionState
}

// Backend is the messaging layer the gateway is a client of.
type Backend interface {
	// Connect opens an AMQP connection for one MQTT client connection,
	// authenticated with the client's credentials: SASL PLAIN with the
	// username and password; without a username, EXTERNAL when the TLS
	// connection has a verified client certificate, else ANONYMOUS. An
	// error refuses the MQTT connection.
	Connect(ctx context.Context, cred Credentials) (*transport.Conn, error)
	// EnsureTopic prepares name (a topic name or filter) for a client
	// authenticated as user: when nothing in the client's address space
	// resolves name and the space auto-creates addresses, the first level
	// of name becomes a topic address (SPEC §4). It is called before the
	// first publish to, or subscribe on, a name with a new first level.
	EnsureTopic(user, name string) error
}

// A Suspender is a Backend that can let an idle client's AMQP connection
// go and give the client another one later without authenticating it
// again (Options.IdleRelease).
type Suspender interface {
	// Suspend is called just before the gateway closes c, an AMQP
	// connection Connect (or a Resume) returned. The Suspension keeps
	// what the client was admitted with: its identity, and its place
	// under the router's connection limits. ok false: c cannot be
	// suspended, and stays open.
	Suspend(c *transport.Conn) (s Suspension, ok bool)
}

// A Loginer is a Suspender that can also log a client in without an AMQP
// connection, so that CONNECT opens none: the first PUBLISH or SUBSCRIBE
// (or a persistent session's resumption, or the will) does
// (Options.IdleRelease).
type Loginer interface {
	Suspender
	// Login authenticates the client as Connect would, and admits it
	// to its address space under the router's connection limits; errors
	// are Connect's. Resume of the Suspension opens its connection.
	Login(ctx context.Context, cred Credentials) (Suspension, error)
}

// A UserBackend is a Backend that tells which user a connection it
// returned authenticated as (`user@space` in serve), for a client whose
// MQTT username says less (none, with a certificate or a token): the
// session's address space (SessionStore.Space) and EnsureTopic use it. A
// Suspension from Login tells it with a User method. ExpiresOf is when
// the connection's credentials (a token) expire, zero for never: the
// gateway ends the MQTT connection then (v5 DISCONNECT 0x87); a Suspension
// tells it with an Expires method.
type UserBackend interface {
	UserOf(c *transport.Conn) (user string, ok bool)
	ExpiresOf(c *transport.Conn) time.Time
}

// A Suspension is a connected client's claim to an AMQP connection while
// it has none. Exactly one of its methods is called, once.
type Suspension interface {
	// Resume opens an AMQP connection for the client with the identity
	// it was admitted with.
	Resume(ctx context.Context) (*transport.Conn, error)
	// Release gives the claim up: the client has gone.
	Release()
}

// Options configure a Server.
type Options struct {
	Backend Backend
	// MaxPacketSize is the largest packet accepted from a client (fixed
	// header included), announced to v5 clients. Default 1 MiB.
	MaxPacketSize int
	// ConnectTimeout bounds the time from accepting a connection to its
	// CONNECT. Default 10 s.
	ConnectTimeout time.Duration
	// MaxInflight caps the QoS 1 and 2 messages sent to one client and not
	// yet acknowledged, whatever its receive maximum. Default 256.
	MaxInflight int
	// MaxKeepAlive caps the keep-alive of v5 clients, in seconds: one
	// asking for more, or for none (0), is given this one as Server Keep
	// Alive in CONNACK. 3.1.1 clients cannot be told and keep theirs.
	// 0: no cap.
	MaxKeepAlive uint16
	// ResponseTopicRoot is the first level of the Response Information
	// given to v5 clients that request it: ROOT/<client identifier>.
	// Default "response"; "-" sends none.
	ResponseTopicRoot string
	// IdleRelease closes a client's AMQP connection once the client has
	// sent nothing for this long and nothing needs the connection (no
	// subscription, no persistent session, no QoS 1/2 publication or
	// delivery waiting for its outcome); the next PUBLISH or SUBSCRIBE
	// opens another, without authenticating again. The MQTT connection,
	// its keep-alive and its will are unaffected. It needs a Backend that
	// is a Suspender, and applies to TCP and TLS connections, not to
	// WebSocket ones. 0: never.
	IdleRelease time.Duration
	// Sessions keeps persistent sessions (clean session 0, or clean start
	// 0 with a session expiry); nil: every session ends with its
	// connection. Call Server.LoadSessions before Serve.
	Sessions SessionStore
	// MaxSessionExpiry caps the session expiry interval of v5 clients, in
	// seconds (CONNACK announces the cap). Default 7 days. 3.1.1 sessions
	// never expire.
	MaxSessionExpiry uint32
	// MaxSessionsPerSpace bounds the persistent sessions of one address
	// space; a CONNECT that would create one more is refused (v5 0x97,
	// 3.1.1 0x03). Default 10,000; negative: unlimited.
	MaxSessionsPerSpace int
	// AfterFreezeBurst, if set, is called once a burst of idle
	// connections has frozen (freeze.go: a thousand or more, then no
	// more for half a second; at most once a minute): the memory their
	// setup used is garbage now, and a process may want to give it back
	// to the OS at once (serve calls debug.FreeOSMemory) rather than as
	// the runtime's background scavenger gets to it.
	AfterFreezeBurst func()
	Logger           *slog.Logger
}

// Server is the MQTT gateway: it serves MQTT 3.1.1 and 5.0 clients and
// turns each into an AMQP client of the Backend.
type Server struct {
	opts Options

	sessions *sessions

	mu      sync.Mutex
	ln      []net.Listener
	conns   map[*conn]struct{}
	clients map[sessionID]*conn        // by address space and client identifier, for takeover
	wills   map[sessionID]*pendingWill // likewise (will.go)
	closed  bool
	wg      sync.WaitGroup // connections (Done by conn.end)

	// Frozen connections (freeze.go), guarded by mu: by client
	// identifier (a frozen connection is in these, not in conns and
	// clients) and by descriptor, and their deadlines.
	frozen            frozenIndex
	frozenFD          []*frozen // by descriptor
	frozenGen         uint32
	epoch             time.Time // frozen.deadline counts from it
	thawAt            thawHeap
	thawTimer         *time.Timer
	freezeBurst       int           // freezeMemoryBurst (tests change it)
	burstGap          time.Duration // freezeBurstGap (tests change it)
	freezesSinceBurst int
	lastFreeze        time.Time
	lastBurst         time.Time // of the last AfterFreezeBurst call
	burstTimer        *time.Timer

	pollOnce sync.Once
	pollr    *poller // parked connections (park.go); nil: none yet, or no epoll
}

// NewServer returns a Server with opts.
func NewServer(opts Options) *Server {
	if opts.MaxPacketSize <= 0 {
		opts.MaxPacketSize = 1 << 20
	}
	if opts.ConnectTimeout <= 0 {
		opts.ConnectTimeout = 10 * time.Second
	}
	if opts.MaxInflight <= 0 {
		opts.MaxInflight = 256
	}
	switch opts.ResponseTopicRoot {
	case "":
		opts.ResponseTopicRoot = "response"
	case "-":
		opts.ResponseTopicRoot = ""
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.MaxSessionExpiry == 0 {
		opts.MaxSessionExpiry = 7 * 24 * 3600
	}
	if opts.MaxSessionsPerSpace == 0 {
		opts.MaxSessionsPerSpace = 10000
	}
	s := &Server{opts: opts, conns: map[*conn]struct{}{}, clients: map[sessionID]*conn{}, wills: map[sessionID]*pendingWill{},
		frozen: newFrozenIndex(), freezeBurst: freezeMemoryBurst, burstGap: freezeBurstGap, epoch: time.Now()}
	s.sessions = newSessions(s)
	return s
}

// Serve accepts connections on ln until it is closed or Shutdown is called.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		ln.Close()
		return nil
	}
	s.ln = append(s.ln, ln)
	s.mu.Unlock()
	for {
		nc, err := ln.Accept()
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
		go s.ServeConn(nc)
	}
}

// ServeConn serves one client connection until it ends, or until it
// parks (park.go): then another goroutine serves it on. A *tls.Conn
// (from a TLS listener) is handshaken first, within
// Options.ConnectTimeout; a connection with a TLSState method (the
// WebSocket of an HTTPS request) reports its TLS state that way.
func (s *Server) ServeConn(nc net.Conn) {
	c := newConn(s, nc)
	switch tc := nc.(type) {
	case *tls.Conn:
		ctx, cancel := context.WithTimeout(context.Background(), s.opts.ConnectTimeout)
		err := tc.HandshakeContext(ctx)
		cancel()
		if err != nil {
			c.log.Debug("TLS handshake failed", "err", err)
			nc.Close()
			return
		}
		st := tc.ConnectionState()
		c.tlsState = &st
	case interface{ TLSState() *tls.ConnectionState }:
		c.tlsState = tc.TLSState()
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		nc.Close()
		return
	}
	s.conns[c] = struct{}{}
	s.wg.Add(1) // Done by conn.end
	s.mu.Unlock()
	c.serve()
}

// register makes c the connection of its client identifier and returns
// the connection it takes over, if any [MQTT-3.1.4-3].
func (s *Server) register(c *conn) (old *conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := sessionID{c.space, c.clientID}
	if f := s.frozen.get(id); f != nil {
		s.thawLocked(f, true)
	}
	old = s.clients[id]
	s.clients[id] = c
	return old
}

// ConnCount returns the number of open client connections.
func (s *Server) ConnCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns) + len(s.frozen.m)
}

// Shutdown stops accepting, closes every client connection (v5 clients get
// DISCONNECT Server shutting down; wills are not published) and waits for
// them to end or ctx to expire.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	s.stopWillsLocked()
	for _, ln := range s.ln {
		ln.Close()
	}
	if s.burstTimer != nil {
		s.burstTimer.Stop()
	}
	s.thawAllLocked(true) // into conns
	if s.thawTimer != nil {
		s.thawTimer.Stop()
		s.thawAt = nil
	}
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.shutdown()
	}
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	defer s.sessions.stop()
	// Every parked connection has been woken (stopParking) by now.
	defer s.stopPoller()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
