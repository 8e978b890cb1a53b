package transport

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/enmasse-go/enmasse/internal/amqp/frames"
	"github.com/enmasse-go/enmasse/internal/amqp/sasl"
	"github.com/enmasse-go/enmasse/internal/amqp/types"
)

// Options configures a connection. The zero value is usable; each field
// documents its default.
type Options struct {
	// ContainerID is sent in open. Default: a random id.
	ContainerID string
	// Gateway names the in-process protocol gateway whose client an
	// accepted connection serves ("mqtt"); nothing on the wire can set
	// it. The broker reserves some names to it (Conn.Gateway).
	Gateway string
	// Hostname is sent in open (and as TLS server name) when dialing.
	Hostname string
	// MaxFrameSize is the largest frame we accept. Default 65536; at least
	// 512 (AMQP 1.0 §2.7.1).
	MaxFrameSize uint32
	// ChannelMax is the highest channel number we accept. Default 255.
	ChannelMax uint16
	// HandleMax is the highest link handle we accept per session.
	// Default 1023.
	HandleMax uint32
	// IdleTimeout is announced in open: the peer must send a frame at least
	// this often or the connection is closed. Default 60 s; negative
	// disables it.
	IdleTimeout time.Duration
	// HandshakeTimeout bounds the time from connect to a completed open
	// exchange. Default 10 s.
	HandshakeTimeout time.Duration
	// MaxMessageSize is announced on links where we receive, and enforced.
	// Default 0: unlimited except by MaxBufferedMessage.
	MaxMessageSize uint64
	// MaxBufferedMessage bounds the size of any incoming message whatever
	// the links announce. Default 256 MiB.
	MaxBufferedMessage uint64
	// IncomingWindow is the session incoming window we grant, in
	// transfer frames. Default 2048.
	IncomingWindow uint32
	// TLSConfig enables TLS: when accepting, the in-band "AMQP\x02" upgrade
	// is offered; when dialing, the connection is wrapped in TLS from the
	// first byte (amqps).
	TLSConfig *tls.Config
	// TLSInBand makes Dial negotiate TLS with the "AMQP\x02" protocol
	// header (AMQP 1.0 §5.2.1) instead of starting TLS at the first byte.
	TLSInBand bool
	// Authenticator enables the SASL layer when accepting. Nil: no SASL.
	Authenticator sasl.Authenticator
	// AllowNoSASL accepts clients that skip the SASL layer, as anonymous,
	// even when an Authenticator is set.
	AllowNoSASL bool
	// SASL selects the client mechanism when dialing; nil skips SASL.
	SASL sasl.ClientMech
	// Properties, OfferedCapabilities and DesiredCapabilities are sent in
	// open.
	Properties          types.Map
	OfferedCapabilities []types.Symbol
	DesiredCapabilities []types.Symbol
	// Handler receives events. Nil uses ClientHandler, which refuses links
	// the peer initiates and serves Sender and Receiver.
	Handler Handler
	// OnOpen is called when accepting, after the peer's open arrives and
	// before we answer; an error refuses the connection with that error.
	OnOpen func(c *Conn, o *frames.Open) error
	// Logger receives debug logs; default discards.
	Logger *slog.Logger
}

func (o *Options) setDefaults() {
	if o.ContainerID == "" {
		o.ContainerID = "enmasse-" + randomID()
	}
	if o.MaxFrameSize == 0 {
		o.MaxFrameSize = 65536
	}
	if o.MaxFrameSize < frames.MinMaxFrameSize {
		o.MaxFrameSize = frames.MinMaxFrameSize
	}
	if o.ChannelMax == 0 {
		o.ChannelMax = 255
	}
	if o.HandleMax == 0 {
		o.HandleMax = 1023
	}
	if o.IdleTimeout == 0 {
		o.IdleTimeout = 60 * time.Second
	}
	if o.HandshakeTimeout == 0 {
		o.HandshakeTimeout = 10 * time.Second
	}
	if o.MaxBufferedMessage == 0 {
		o.MaxBufferedMessage = 256 << 20
	}
	if o.IncomingWindow == 0 {
		o.IncomingWindow = 2048
	}
	if o.Handler == nil {
		o.Handler = ClientHandler{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// Conn is one AMQP connection. All its methods are safe for concurrent use.
type Conn struct {
	opts   Options
	nc     net.Conn
	server bool

	mu       sync.Mutex
	out      []byte        // frames waiting for the writer; guarded by mu
	spare    []byte        // the writer's previous buffer, reused; guarded by mu
	wake     chan struct{} // cap 1: output is pending
	opened   bool          // open exchange complete
	closeOut bool          // we sent close
	closeIn  bool          // we received close
	err      error         // why the connection ended (set once)
	endErr   error         // the reason to report once the socket is closed after close frames
	done     chan struct{} // closed when the connection is finished

	remoteOpen  *frames.Open
	identity    sasl.Identity
	tlsState    *tls.ConnectionState
	maxFrameOut uint32 // largest frame the peer accepts
	channelMax  uint16 // negotiated
	peerIdle    time.Duration
	sessions    map[uint16]*Session // by local channel
	remoteChans map[uint16]*Session // by remote channel
	openWaiters []chan struct{}
	afterClose  []func() // AfterClose
	// Reused decode targets for the frequent performatives; owned by the
	// reader goroutine (handlers run after each frame is applied, and
	// nothing keeps a pointer to them past that).
	rxFlow        frames.Flow
	rxDisposition frames.Disposition
	writerClosed  bool
	pack          packer // deliveries of links that pack them (pack.go)

	// Context is free for the owner of the connection (the router keeps its
	// per-connection state here). Set it in OnOpen, before any link
	// events; it is never touched by this package.
	Context any
}

// Done is closed when the connection has ended.
func (c *Conn) Done() <-chan struct{} { return c.done }

// AfterClose arranges for f to run on its own goroutine once the
// connection has ended (at once if it has), after Handler.OnClose: the
// same as a goroutine waiting on Done, without one per connection for its
// whole life.
func (c *Conn) AfterClose(f func()) {
	c.mu.Lock()
	if c.err == nil {
		c.afterClose = append(c.afterClose, f)
		c.mu.Unlock()
		return
	}
	c.mu.Unlock()
	go f()
}

// Err reports why the connection ended (nil while it is open). A close from
// the peer with an error is a *frames.Error.
func (c *Conn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// RemoteOpen returns the peer's open performative (nil before it arrived).
func (c *Conn) RemoteOpen() *frames.Open {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.remoteOpen
}

// Identity returns the SASL identity of the peer (anonymous without SASL).
func (c *Conn) Identity() sasl.Identity {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.identity
}

// Gateway is Options.Gateway: the in-process gateway this connection
// serves, "" for any other.
func (c *Conn) Gateway() string { return c.opts.Gateway }

// TLSState returns the TLS state, or nil when the connection is not TLS.
func (c *Conn) TLSState() *tls.ConnectionState { return c.tlsState }

// RemoteAddr returns the peer's network address.
func (c *Conn) RemoteAddr() net.Addr { return c.nc.RemoteAddr() }

// LocalAddr returns our network address.
func (c *Conn) LocalAddr() net.Addr { return c.nc.LocalAddr() }

// MaxFrameSize returns the largest frame the peer accepts.
func (c *Conn) MaxFrameSize() uint32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.maxFrameOut
}

func newConn(nc net.Conn, opts Options, server bool) *Conn {
	opts.setDefaults()
	c := &Conn{
		opts:        opts,
		nc:          nc,
		server:      server,
		wake:        make(chan struct{}, 1),
		done:        make(chan struct{}),
		maxFrameOut: frames.MinMaxFrameSize,
		sessions:    map[uint16]*Session{},
		remoteChans: map[uint16]*Session{},
	}
	if tc, ok := nc.(*tls.Conn); ok {
		st := tc.ConnectionState()
		c.tlsState = &st
	}
	return c
}

// writeFrameLocked encodes a frame into the output buffer. c.mu is held.
func (c *Conn) writeFrameLocked(typ byte, ch uint16, body frames.Body) {
	if c.closeOut && typ == frames.TypeAMQP {
		if _, isClose := body.(*frames.Close); !isClose {
			return
		}
	}
	c.out = frames.AppendFrame(c.out, typ, ch, body)
	c.kickLocked()
}

func (c *Conn) kickLocked() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// writer drains the output buffer and sends heartbeats at half the peer's
// idle timeout (AMQP 1.0 §2.4.5). Once our close is written it hangs up:
// at once if the peer's close already arrived, otherwise after giving the
// peer a second to answer (§2.4.4).
func (c *Conn) writer() {
	var tick <-chan time.Time
	c.mu.Lock()
	if c.peerIdle > 0 {
		t := time.NewTicker(c.peerIdle / 2)
		defer t.Stop()
		tick = t.C
	}
	c.mu.Unlock()
	wrote, hangup := false, false // wrote: since the last tick
	for {
		ticked := false
		select {
		case <-c.wake:
		case <-tick:
			ticked = true
			if !wrote {
				c.mu.Lock()
				c.out = frames.AppendFrame(c.out, frames.TypeAMQP, 0, nil)
				c.mu.Unlock()
			}
			wrote = false
		case <-c.done:
			return
		}
		c.mu.Lock()
		buf := c.out
		c.out = c.spare[:0]
		c.spare = nil
		closing, closeIn := c.closeOut, c.closeIn
		c.mu.Unlock()
		if len(buf) > 0 {
			// What goes out at a tick (the heartbeat) must not count
			// for the next interval, or heartbeats come only every
			// other tick, a full peer idle timeout apart.
			wrote = wrote || !ticked
			if _, err := c.nc.Write(buf); err != nil {
				c.fail(fmt.Errorf("write: %w", err))
				return
			}
		}
		c.mu.Lock()
		if cap(buf) <= 1<<20 && c.spare == nil {
			c.spare = buf[:0]
		}
		pending := len(c.out) > 0
		c.mu.Unlock()
		if closing && !pending {
			// The peer's close may also arrive during the grace
			// second: hang up as soon as it does.
			if closeIn {
				c.nc.Close()
			} else if !hangup {
				time.AfterFunc(time.Second, func() { c.nc.Close() })
			}
			hangup = true
		}
	}
}

// fail ends the connection because of err (I/O failure or after close).
func (c *Conn) fail(err error) {
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return
	}
	if c.endErr != nil {
		err = c.endErr
	} else if err == nil {
		err = io.EOF
	}
	c.err = err
	close(c.done)
	for _, w := range c.openWaiters {
		close(w)
	}
	c.openWaiters = nil
	after := c.afterClose
	c.afterClose = nil
	sessions := make([]*Session, 0, len(c.sessions))
	for _, s := range c.sessions {
		sessions = append(sessions, s)
	}
	c.mu.Unlock()
	c.nc.Close()
	for _, s := range sessions {
		s.connEnded(err)
	}
	c.opts.Handler.OnClose(c, err)
	for _, f := range after {
		go f()
	}
}

// Close closes the connection with an optional error and waits until it has
// ended or ctx is done.
func (c *Conn) Close(ctx context.Context, e *frames.Error) error {
	c.mu.Lock()
	if !c.closeOut && c.err == nil {
		c.sendCloseLocked(e)
	}
	c.mu.Unlock()
	select {
	case <-c.done:
	case <-ctx.Done():
		c.nc.Close()
		<-c.done
	}
	err := c.Err()
	if errors.Is(err, ErrConnClosed) {
		return nil
	}
	return err
}

func (c *Conn) sendCloseLocked(e *frames.Error) {
	if !c.opened {
		// §2.4.7: a close may only follow an open; send ours first.
		c.writeFrameLocked(frames.TypeAMQP, 0, c.localOpen())
		c.opened = true
	}
	c.writeFrameLocked(frames.TypeAMQP, 0, &frames.Close{Error: e})
	c.closeOut = true
}

// closeWithError sends close with e (a protocol error detected locally).
func (c *Conn) closeWithError(e *frames.Error) {
	c.mu.Lock()
	if !c.closeOut {
		c.sendCloseLocked(e)
	}
	c.mu.Unlock()
	c.opts.Logger.Debug("closing connection", "remote", c.nc.RemoteAddr(), "error", e)
}

func (c *Conn) localOpen() *frames.Open {
	var idle uint32
	if c.opts.IdleTimeout > 0 {
		idle = uint32(c.opts.IdleTimeout / time.Millisecond)
	}
	return &frames.Open{
		ContainerID:         c.opts.ContainerID,
		Hostname:            c.opts.Hostname,
		MaxFrameSize:        c.opts.MaxFrameSize,
		ChannelMax:          c.opts.ChannelMax,
		IdleTimeout:         idle,
		OfferedCapabilities: c.opts.OfferedCapabilities,
		DesiredCapabilities: c.opts.DesiredCapabilities,
		Properties:          c.opts.Properties,
	}
}

// applyRemoteOpen records the negotiated limits from the peer's open.
func (c *Conn) applyRemoteOpenLocked(o *frames.Open) {
	c.remoteOpen = o
	c.maxFrameOut = max(min(o.MaxFrameSize, 1<<30), frames.MinMaxFrameSize)
	c.channelMax = min(o.ChannelMax, c.opts.ChannelMax)
	if o.IdleTimeout > 0 {
		c.peerIdle = time.Duration(o.IdleTimeout) * time.Millisecond
		if c.peerIdle < 100*time.Millisecond {
			c.peerIdle = 100 * time.Millisecond
		}
	}
}

var (
	// ErrConnClosed: the connection was closed normally.
	ErrConnClosed = errors.New("amqp: connection closed")
	// ErrNoCredit: a send was attempted without link credit.
	ErrNoCredit = errors.New("amqp: no link credit")
	// ErrLinkClosed: the link is detached.
	ErrLinkClosed = errors.New("amqp: link detached")
	// ErrSessionEnded: the session has ended.
	ErrSessionEnded = errors.New("amqp: session ended")
	// ErrIdleTimeout: the peer sent nothing within our idle timeout.
	ErrIdleTimeout = errors.New("amqp: idle timeout")
	// ErrMessageTooLarge: a message exceeds the link's max-message-size.
	ErrMessageTooLarge = errors.New("amqp: message exceeds max-message-size")
)

// RemoteError is a connection, session or link ended by the peer with an
// error condition.
type RemoteError struct {
	Scope string // "connection", "session" or "link"
	Err   *frames.Error
}

func (e *RemoteError) Error() string { return "amqp: " + e.Scope + " closed by peer: " + e.Err.Error() }

// Unwrap exposes the peer's *frames.Error.
func (e *RemoteError) Unwrap() error { return e.Err }
