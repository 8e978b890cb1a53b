package amqptest

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/enmasse-go/enmasse/internal/amqp/frames"
)

// ErrTimeout is returned by the reading methods when nothing arrived within
// the peer's timeout.
var ErrTimeout = errors.New("amqptest: timed out waiting for the engine")

// Option configures a Peer.
type Option func(*Peer)

// ChunkSize makes every write go out in pieces of at most n bytes, each a
// separate Write on the connection (n ≤ 0: whole writes).
func ChunkSize(n int) Option { return func(p *Peer) { p.chunk = n } }

// Timeout bounds every wait for input and every write (default 5 s).
func Timeout(d time.Duration) Option { return func(p *Peer) { p.timeout = d } }

// MaxFrameSize bounds the frames the peer accepts from the engine (default
// 16 MiB); a larger frame ends the input with an error.
func MaxFrameSize(n uint32) Option { return func(p *Peer) { p.maxFrame = n } }

// Event is one thing the engine sent: a protocol header, a frame, or the
// error that ended its output.
type Event struct {
	Header   [8]byte // a protocol header, when IsHeader
	IsHeader bool
	Frame    frames.Frame // a frame; Frame.Body is owned by the event
	Err      error        // end of input (io.EOF, a closed pipe, ...)
}

// Peer is a scripted fake AMQP peer on one end of a connection.
type Peer struct {
	t        testing.TB
	conn     net.Conn
	chunk    int
	timeout  time.Duration
	maxFrame uint32

	mu     sync.Mutex
	queue  []Event
	notify chan struct{} // cap 1: queue changed
	done   chan struct{} // the reader goroutine has exited
}

// NewPeer starts reading from conn in the background and returns the peer.
// The connection is closed, and the reader waited for, when the test ends.
func NewPeer(t testing.TB, conn net.Conn, opts ...Option) *Peer {
	t.Helper()
	p := &Peer{
		t:        t,
		conn:     conn,
		timeout:  5 * time.Second,
		maxFrame: 16 << 20,
		notify:   make(chan struct{}, 1),
		done:     make(chan struct{}),
	}
	for _, o := range opts {
		o(p)
	}
	go p.read()
	t.Cleanup(func() {
		p.conn.Close()
		<-p.done
	})
	return p
}

// Conn returns the peer's connection.
func (p *Peer) Conn() net.Conn { return p.conn }

// Close closes the peer's connection.
func (p *Peer) Close() error { return p.conn.Close() }

func (p *Peer) push(e Event) {
	p.mu.Lock()
	p.queue = append(p.queue, e)
	p.mu.Unlock()
	select {
	case p.notify <- struct{}{}:
	default:
	}
}

var amqpPrefix = []byte("AMQP")

// read splits the engine's output into headers and frames until the
// connection fails.
func (p *Peer) read() {
	defer close(p.done)
	arr := make([]byte, 0, 64<<10)
	buf := arr
	tmp := make([]byte, 32<<10)
	for {
		for len(buf) >= frames.HeaderSize {
			if bytes.HasPrefix(buf, amqpPrefix) {
				var e Event
				e.IsHeader = true
				copy(e.Header[:], buf)
				buf = buf[8:]
				p.push(e)
				continue
			}
			f, n, _, err := frames.ParseFrame(buf, p.maxFrame)
			if err != nil {
				p.push(Event{Err: fmt.Errorf("amqptest: engine sent a bad frame: %w", err)})
				return
			}
			if n == 0 {
				break
			}
			f.Body = bytes.Clone(f.Body)
			if f.Body == nil {
				f.Body = []byte{}
			}
			buf = buf[n:]
			p.push(Event{Frame: f})
		}
		buf = append(arr[:0], buf...) // move what is left to the front
		arr = buf[:0]
		n, err := p.conn.Read(tmp)
		buf = append(buf, tmp[:n]...)
		if err != nil && n == 0 {
			p.push(Event{Err: err})
			return
		}
	}
}

// NextEvent returns the next event the engine produced, waiting up to the
// peer's timeout. After the final error event it keeps returning that
// event.
func (p *Peer) NextEvent() (Event, error) {
	timer := time.NewTimer(p.timeout)
	defer timer.Stop()
	for {
		p.mu.Lock()
		if len(p.queue) > 0 {
			e := p.queue[0]
			if e.Err == nil {
				p.queue[0] = Event{}
				p.queue = p.queue[1:]
			}
			p.mu.Unlock()
			return e, nil
		}
		p.mu.Unlock()
		select {
		case <-p.notify:
		case <-timer.C:
			return Event{}, ErrTimeout
		}
	}
}

// ReadHeader returns the next protocol header the engine sent; anything else
// is an error.
func (p *Peer) ReadHeader() ([8]byte, error) {
	e, err := p.NextEvent()
	switch {
	case err != nil:
		return [8]byte{}, err
	case e.Err != nil:
		return [8]byte{}, e.Err
	case !e.IsHeader:
		return [8]byte{}, fmt.Errorf("amqptest: expected a protocol header, got a frame of type %d on channel %d", e.Frame.Type, e.Frame.Channel)
	}
	return e.Header, nil
}

// NextFrame returns the next frame undecoded (an empty Body is a heartbeat).
func (p *Peer) NextFrame() (frames.Frame, error) {
	e, err := p.NextEvent()
	switch {
	case err != nil:
		return frames.Frame{}, err
	case e.Err != nil:
		return frames.Frame{}, e.Err
	case e.IsHeader:
		return frames.Frame{}, fmt.Errorf("amqptest: expected a frame, got protocol header %q", e.Header[:])
	}
	return e.Frame, nil
}

// Next returns the next frame decoded, with its channel. A heartbeat (empty
// frame) has a nil body. SASL frames are decoded as SASL bodies.
func (p *Peer) Next() (ch uint16, body frames.Body, err error) {
	f, err := p.NextFrame()
	if err != nil {
		return 0, nil, err
	}
	if len(f.Body) == 0 {
		return f.Channel, nil, nil
	}
	body, err = frames.Decode(f.Type, f.Body)
	if err != nil {
		return f.Channel, nil, fmt.Errorf("amqptest: engine sent an undecodable frame: %w", err)
	}
	return f.Channel, body, nil
}

// WaitClosed reads until the engine's output ends and returns the
// non-heartbeat frames that came before the end, and the error that ended
// it. It fails the test if the output does not end within the timeout.
func WaitClosed(t testing.TB, p *Peer) ([]frames.Body, error) {
	t.Helper()
	var got []frames.Body
	for {
		e, err := p.NextEvent()
		if err != nil {
			t.Fatalf("amqptest: connection still open (received %v): %v", got, err)
		}
		if e.Err != nil {
			return got, e.Err
		}
		if e.IsHeader || len(e.Frame.Body) == 0 {
			continue
		}
		b, err := frames.Decode(e.Frame.Type, e.Frame.Body)
		if err != nil {
			t.Fatalf("amqptest: engine sent an undecodable frame: %v", err)
		}
		got = append(got, b)
	}
}

// Expect returns the next non-heartbeat frame, which must be a T (for
// example *frames.Attach); anything else fails the test.
func Expect[T frames.Body](t testing.TB, p *Peer) T {
	t.Helper()
	_, v := ExpectCh[T](t, p)
	return v
}

// ExpectCh is Expect that also returns the frame's channel.
func ExpectCh[T frames.Body](t testing.TB, p *Peer) (uint16, T) {
	t.Helper()
	for {
		ch, body, err := p.Next()
		if err != nil {
			var zero T
			t.Fatalf("amqptest: expected %T: %v", zero, err)
		}
		if body == nil {
			continue
		}
		v, ok := body.(T)
		if !ok {
			var zero T
			t.Fatalf("amqptest: expected %T, got %v on channel %d", zero, body, ch)
		}
		return ch, v
	}
}

// Write writes raw bytes, in chunks when ChunkSize is set.
func (p *Peer) Write(b []byte) error {
	for len(b) > 0 {
		n := len(b)
		if p.chunk > 0 && n > p.chunk {
			n = p.chunk
		}
		p.conn.SetWriteDeadline(time.Now().Add(p.timeout))
		if _, err := p.conn.Write(b[:n]); err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}

// WriteHeader writes the protocol header for id (frames.ProtoAMQP,
// frames.ProtoSASL or frames.ProtoTLS).
func (p *Peer) WriteHeader(id byte) error {
	h := frames.ProtoHeader(id)
	return p.Write(h[:])
}

// SendFrame writes one frame of type typ (nil body: an empty frame).
func (p *Peer) SendFrame(typ byte, ch uint16, body frames.Body) error {
	return p.Write(frames.AppendFrame(nil, typ, ch, body))
}

// Send writes an AMQP frame holding body on channel ch.
func (p *Peer) Send(ch uint16, body frames.Body) error {
	return p.SendFrame(frames.TypeAMQP, ch, body)
}

// SendSASL writes a SASL frame.
func (p *Peer) SendSASL(body frames.Body) error {
	return p.SendFrame(frames.TypeSASL, 0, body)
}

// Heartbeat writes an empty frame.
func (p *Peer) Heartbeat() error { return p.SendFrame(frames.TypeAMQP, 0, nil) }

// ExpectHeader fails the test unless the next thing the engine sent is the
// protocol header for id.
func ExpectHeader(t testing.TB, p *Peer, id byte) {
	t.Helper()
	h, err := p.ReadHeader()
	if err != nil {
		t.Fatalf("amqptest: expected protocol header %d: %v", id, err)
	}
	if want := frames.ProtoHeader(id); h != want {
		t.Fatalf("amqptest: got protocol header %q, want %q", h[:], want[:])
	}
}

// Handshake runs the client side of the AMQP header and open exchange and
// returns the engine's open. A nil open sends one with the default limits
// (note that a zero MaxFrameSize or ChannelMax in a given open is sent as
// zero, not as the default).
func Handshake(t testing.TB, p *Peer, open *frames.Open) *frames.Open {
	t.Helper()
	if open == nil {
		open = &frames.Open{ContainerID: "amqptest", MaxFrameSize: frames.DefaultMaxFrameSize, ChannelMax: frames.DefaultChannelMax}
	}
	h := frames.ProtoHeader(frames.ProtoAMQP)
	if err := p.Write(frames.AppendFrame(h[:], frames.TypeAMQP, 0, open)); err != nil {
		t.Fatalf("amqptest: writing header and open: %v", err)
	}
	ExpectHeader(t, p, frames.ProtoAMQP)
	return Expect[*frames.Open](t, p)
}

// SASLPlain runs a SASL PLAIN exchange from the SASL header to the outcome
// and returns the outcome code (0: ok).
func SASLPlain(t testing.TB, p *Peer, user, pass string) uint8 {
	t.Helper()
	if err := p.WriteHeader(frames.ProtoSASL); err != nil {
		t.Fatalf("amqptest: writing SASL header: %v", err)
	}
	ExpectHeader(t, p, frames.ProtoSASL)
	Expect[*frames.SASLMechanisms](t, p)
	resp := []byte("\x00" + user + "\x00" + pass)
	if err := p.SendSASL(&frames.SASLInit{Mechanism: "PLAIN", InitialResponse: resp}); err != nil {
		t.Fatalf("amqptest: writing sasl-init: %v", err)
	}
	return Expect[*frames.SASLOutcome](t, p).Code
}

// BeginSession begins a session on channel ch (b nil: windows of 1000
// frames) and returns the engine's channel and begin, which must answer
// ch.
func BeginSession(t testing.TB, p *Peer, ch uint16, b *frames.Begin) (uint16, *frames.Begin) {
	t.Helper()
	if b == nil {
		b = &frames.Begin{IncomingWindow: 1000, OutgoingWindow: 1000, HandleMax: frames.DefaultHandleMax}
	}
	if err := p.Send(ch, b); err != nil {
		t.Fatalf("amqptest: writing begin: %v", err)
	}
	rch, rb := ExpectCh[*frames.Begin](t, p)
	if !rb.HasRemoteChannel || rb.RemoteChannel != ch {
		t.Fatalf("amqptest: begin answer %v does not answer channel %d", rb, ch)
	}
	return rch, rb
}

// AttachLink sends a on channel ch and returns the engine's answering
// attach.
func AttachLink(t testing.TB, p *Peer, ch uint16, a *frames.Attach) *frames.Attach {
	t.Helper()
	if err := p.Send(ch, a); err != nil {
		t.Fatalf("amqptest: writing attach: %v", err)
	}
	ra := Expect[*frames.Attach](t, p)
	if ra.Name != a.Name || ra.Role == a.Role {
		t.Fatalf("amqptest: attach answer %v does not answer %v", ra, a)
	}
	return ra
}

// IsClosed reports whether err, from the end of the engine's output, means
// the connection was closed (EOF, a closed pipe, a reset) rather than a
// timeout.
func IsClosed(err error) bool {
	if err == nil || errors.Is(err, ErrTimeout) || errors.Is(err, os.ErrDeadlineExceeded) {
		return false
	}
	return true
}
