package transport

import (
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/enmasse-go/enmasse/internal/amqp/frames"
	"github.com/enmasse-go/enmasse/internal/amqp/types"
)

// callback is a handler event collected under the lock and run after it is
// released. The per-message events are plain values so that queueing them
// allocates nothing; anything else runs fn.
type callback struct {
	kind callbackKind
	l    *Link
	d    *Delivery
	fn   func()
}

type callbackKind uint8

const (
	cbFunc callbackKind = iota
	cbMessage
	cbDisposition
	cbFlow
)

func (cb *callback) run(h Handler) {
	switch cb.kind {
	case cbMessage:
		h.OnMessage(cb.l, cb.d)
	case cbDisposition:
		h.OnDisposition(cb.l, cb.d)
	case cbFlow:
		h.OnFlow(cb.l)
	default:
		cb.fn()
	}
}

// reader processes incoming frames until the connection ends.
func (c *Conn) reader(fr *frameReader) {
	var tr frames.Transfer
	var cbs []callback
	defer fr.release()
	for {
		f, err := fr.next()
		if err != nil {
			c.readFailed(err)
			return
		}
		if len(f.Body) == 0 {
			continue // heartbeat, AMQP 1.0 §2.4.5
		}
		c.mu.Lock()
		if c.closeOut {
			// After our close only the peer's close matters (§2.4.4).
			c.mu.Unlock()
			if code, _ := frames.PeekDescriptor(f.Body); code == frames.CodeClose && f.Type == frames.TypeAMQP {
				c.mu.Lock()
				c.closeIn = true
				c.kickLocked()
				c.mu.Unlock()
			}
			continue
		}
		c.pack.ahead = len(fr.buffered())
		cbs, err = c.dispatchLocked(f, &tr, cbs[:0])
		if c.pack.ahead == 0 {
			c.pack.release() // the read is consumed: no block waits for more
		}
		c.mu.Unlock()
		for _, cb := range cbs {
			cb.run(c.opts.Handler)
		}
		clear(cbs)
		if err != nil {
			var fe *frames.Error
			if !errors.As(err, &fe) {
				fe = frames.Errorf(frames.ErrInternal, "%v", err)
			}
			c.closeWithError(fe)
			// Keep the reason for Conn.Err: without it the connection
			// reports a plain ErrConnClosed once the peer answers.
			c.setEndErr(fmt.Errorf("amqp: connection closed after a protocol error: %w", fe))
		}
	}
}

// readFailed ends the connection after a read error, answering framing
// errors and idle timeouts with a close first.
func (c *Conn) readFailed(err error) {
	switch {
	case errors.Is(err, frames.ErrFrameTooLarge), errors.Is(err, frames.ErrMalformedFrame):
		c.closeWithError(frames.Errorf(frames.ErrFramingError, "%v", err))
		c.setEndErr(err)
		c.waitHangup()
	case errors.Is(err, os.ErrDeadlineExceeded):
		c.closeWithError(frames.Errorf(frames.ErrResourceLimitExceeded, "idle timeout: no frame received for %v", c.opts.IdleTimeout))
		c.setEndErr(ErrIdleTimeout)
		c.waitHangup()
	default:
		c.mu.Lock()
		if c.closeOut && c.closeIn && c.endErr == nil {
			c.endErr = ErrConnClosed
		}
		c.mu.Unlock()
		if errors.Is(err, net.ErrClosed) {
			err = ErrConnClosed
		}
	}
	c.fail(err)
}

func (c *Conn) setEndErr(err error) {
	c.mu.Lock()
	if c.endErr == nil {
		c.endErr = err
	}
	c.mu.Unlock()
}

// waitHangup waits for the writer to flush our close and hang up.
func (c *Conn) waitHangup() {
	// After an idle timeout the read deadline has already passed: without
	// a new one Read fails at once and fail closes the socket before the
	// writer has sent our close. The writer hangs up within a second of
	// writing it; the deadline only bounds a writer stuck on a full socket.
	c.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 512)
	for {
		if _, err := c.nc.Read(buf); err != nil {
			return
		}
	}
}

func (c *Conn) dispatchLocked(f frames.Frame, tr *frames.Transfer, cbs []callback) ([]callback, error) {
	if f.Type != frames.TypeAMQP {
		return cbs, frames.Errorf(frames.ErrFramingError, "frame type %d after the SASL layer", f.Type)
	}
	code, err := frames.PeekDescriptor(f.Body)
	if err != nil {
		return cbs, frames.Errorf(frames.ErrDecodeError, "%v", err)
	}
	if code == frames.CodeTransfer {
		if err := frames.DecodeTransfer(f.Body, tr); err != nil {
			return cbs, frames.Errorf(frames.ErrDecodeError, "%v", err)
		}
		s, err := c.sessionForLocked(f.Channel)
		if err != nil {
			return cbs, err
		}
		return s.onTransferLocked(tr, cbs), nil
	}
	switch code {
	case frames.CodeFlow:
		if err := frames.DecodeFlow(f.Body, &c.rxFlow); err != nil {
			return cbs, frames.Errorf(frames.ErrDecodeError, "%v", err)
		}
		s, err := c.sessionForLocked(f.Channel)
		if err != nil {
			return cbs, err
		}
		return s.onFlowLocked(&c.rxFlow, cbs), nil
	case frames.CodeDisposition:
		if err := frames.DecodeDisposition(f.Body, &c.rxDisposition); err != nil {
			return cbs, frames.Errorf(frames.ErrDecodeError, "%v", err)
		}
		s, err := c.sessionForLocked(f.Channel)
		if err != nil {
			return cbs, err
		}
		return s.onDispositionLocked(&c.rxDisposition, cbs), nil
	}
	body, err := frames.Decode(frames.TypeAMQP, f.Body)
	if err != nil {
		return cbs, frames.Errorf(frames.ErrDecodeError, "%v", err)
	}
	switch b := body.(type) {
	case *frames.Open:
		return cbs, frames.Errorf(frames.ErrIllegalState, "second open on the connection")
	case *frames.Close:
		c.onCloseLocked(b)
		return cbs, nil
	case *frames.Begin:
		return c.onBeginLocked(f.Channel, b, cbs)
	}
	s, err := c.sessionForLocked(f.Channel)
	if err != nil {
		return cbs, err
	}
	switch b := body.(type) {
	case *frames.Flow:
		return s.onFlowLocked(b, cbs), nil
	case *frames.Disposition:
		return s.onDispositionLocked(b, cbs), nil
	case *frames.Attach:
		if b.Handle > c.opts.HandleMax {
			// §2.7.2 handle-max: a handle outside the announced range
			// closes the connection with framing-error.
			return cbs, frames.Errorf(frames.ErrFramingError, "handle %d exceeds handle-max %d", b.Handle, c.opts.HandleMax)
		}
		return s.onAttachLocked(b, cbs), nil
	case *frames.Detach:
		return s.onDetachLocked(b, cbs), nil
	case *frames.End:
		return s.onEndLocked(b, cbs), nil
	}
	return cbs, frames.Errorf(frames.ErrFramingError, "unexpected frame %v", body)
}

func (c *Conn) sessionForLocked(remoteCh uint16) (*Session, error) {
	s := c.remoteChans[remoteCh]
	if s == nil {
		return nil, frames.Errorf(frames.ErrFramingError, "frame on channel %d, which has no session", remoteCh)
	}
	return s, nil
}

func (c *Conn) onCloseLocked(b *frames.Close) {
	c.closeIn = true
	if b.Error != nil {
		c.endErr = &RemoteError{Scope: "connection", Err: b.Error}
	} else {
		c.endErr = ErrConnClosed
	}
	if !c.closeOut {
		c.writeFrameLocked(frames.TypeAMQP, 0, &frames.Close{})
		c.closeOut = true
	}
	c.kickLocked()
}

func (c *Conn) onBeginLocked(ch uint16, b *frames.Begin, cbs []callback) ([]callback, error) {
	if ch > c.channelMax {
		return cbs, frames.Errorf(frames.ErrFramingError, "channel %d exceeds channel-max %d", ch, c.channelMax)
	}
	if c.remoteChans[ch] != nil {
		return cbs, frames.Errorf(frames.ErrFramingError, "channel %d already has a session", ch)
	}
	if b.HasRemoteChannel {
		// The answer to a begin of ours.
		s := c.sessions[b.RemoteChannel]
		if s == nil || s.beginRcvd {
			return cbs, frames.Errorf(frames.ErrFramingError, "begin answers channel %d, which has no pending session", b.RemoteChannel)
		}
		s.remoteBeginLocked(ch, b)
		close(s.beginWait)
		return cbs, nil
	}
	local, ok := c.freeChannelLocked()
	if !ok {
		return cbs, frames.Errorf(frames.ErrResourceLimitExceeded, "no free channel")
	}
	s := newSession(c, local)
	s.remoteBeginLocked(ch, b)
	close(s.beginWait)
	c.sessions[local] = s
	cbs = append(cbs, callback{fn: func() {
		err := c.opts.Handler.OnBegin(s)
		c.mu.Lock()
		defer c.mu.Unlock()
		s.sendBeginLocked()
		if err != nil {
			s.endWithErrorLocked(toAMQPError(err, frames.ErrNotAllowed))
		}
	}})
	return cbs, nil
}

func (c *Conn) freeChannelLocked() (uint16, bool) {
	for ch := uint16(0); ; ch++ {
		if c.sessions[ch] == nil {
			return ch, true
		}
		if ch == c.channelMax {
			return 0, false
		}
	}
}

// toAMQPError converts a handler error into an AMQP error, using cond when
// err carries no condition of its own.
func toAMQPError(err error, cond types.Symbol) *frames.Error {
	var fe *frames.Error
	if errors.As(err, &fe) {
		return fe
	}
	return &frames.Error{Condition: cond, Description: fmt.Sprint(err)}
}
