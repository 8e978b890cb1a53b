package mqtt

import (
	"context"
	"errors"
	"net"
	"time"

	"github.com/enmasse-go/enmasse/internal/amqp/transport"
	"github.com/enmasse-go/enmasse/internal/mqtt/packets"
)

// Idle release (Options.IdleRelease): a client that sends nothing and
// needs nothing of the AMQP side keeps its MQTT connection but not its
// AMQP connection, whose two engines, four goroutines and session and
// link state are most of a connection's memory. The reader goroutine
// decides, between packets and with nothing buffered: it waits for the
// next byte until IdleRelease has passed (never beyond the keep-alive
// deadline), then suspends the AMQP connection (Suspender) and goes back
// to waiting; right after CONNECT it waits connectGrace at most. The
// next PUBLISH or SUBSCRIBE, or the will, resumes it.

// connectGrace is how long after CONNACK an idle client keeps its AMQP
// connection, if Options.IdleRelease is longer.
const connectGrace = 100 * time.Millisecond

// releasable reports whether the AMQP connection may be released now.
// Reader goroutine only.
func (c *conn) releasable() bool {
	return c.mayRelease() && c.ackOut.Load() == 0
}

// mayRelease reports whether the AMQP connection may be released once
// the ack loop has answered the publications it holds, which needs no
// packet from the client: the reader then waits for one only until
// IdleRelease, and checks again. Reader goroutine only.
func (c *conn) mayRelease() bool {
	if !c.releasing || c.amqp == nil || c.session != nil || c.noRelease {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.subs) == 0 && len(c.inflight) == 0
}

// mayReleaseConn reports whether the connection's AMQP side may ever be
// released: Options.IdleRelease, a Suspender, not WebSocket.
func (c *conn) mayReleaseConn() bool {
	if c.s.opts.IdleRelease <= 0 {
		return false
	}
	if _, ok := c.s.opts.Backend.(Suspender); !ok {
		return false
	}
	_, ws := c.nc.(*wsConn) // gorilla/websocket: a timed-out read is fatal
	return !ws
}

// authenticatedUser is the user the backend authenticated the client as,
// when it can tell: from the Suspension of Login, or the AMQP connection
// of Connect (UserBackend).
func (c *conn) authenticatedUser(ac *transport.Conn) (string, bool) {
	if u, ok := c.susp.(interface{ User() string }); ok {
		return u.User(), true
	}
	if ub, ok := c.s.opts.Backend.(UserBackend); ok && ac != nil {
		return ub.UserOf(ac)
	}
	return "", false
}

// credentialsExpiry is when the client's credentials (a token) expire,
// when the backend can tell: from the Suspension of Login, or the AMQP
// connection of Connect (UserBackend); zero: never, or unknown.
func (c *conn) credentialsExpiry(ac *transport.Conn) time.Time {
	if e, ok := c.susp.(interface{ Expires() time.Time }); ok {
		return e.Expires()
	}
	if ub, ok := c.s.opts.Backend.(UserBackend); ok && ac != nil {
		return ub.ExpiresOf(ac)
	}
	return time.Time{}
}

// openLinks opens the session and the anonymous-relay sender on c.amqp:
// every message carries its topic in properties.to.
func (c *conn) openLinks(ctx context.Context) error {
	sess, err := c.amqp.NewSession(ctx)
	if err != nil {
		return err
	}
	sender, err := sess.NewSender(ctx, "", transport.SenderOptions{})
	if err != nil {
		return err
	}
	c.sess, c.sender = sess, sender
	return nil
}

// dropAMQP ends the AMQP side of a connection that fails during CONNECT:
// the connection, or the claim to one.
func (c *conn) dropAMQP() {
	if ac := c.amqp; ac != nil {
		c.live.Store(nil)
		ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
		defer cancel()
		ac.Close(ctx, nil)
		c.amqp = nil
	}
	if c.susp != nil {
		c.susp.Release()
		c.susp = nil
	}
}

// suspend closes the AMQP connection, keeping the client's claim to it.
// Nothing waits on it: releasable held. Reader goroutine only.
func (c *conn) suspend() {
	sp, ok := c.s.opts.Backend.(Suspender).Suspend(c.amqp)
	if !ok {
		c.noRelease = true
		return
	}
	if c.acks != nil {
		// The ack loop is idle (ackOut is 0): end it, and its queue.
		close(c.acks)
		<-c.ackDone
		c.acks = nil
	}
	ac := c.amqp
	c.live.Store(nil) // its end is not the client's
	c.amqp, c.sess, c.sender, c.susp = nil, nil, nil, sp
	c.released = true
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	ac.Close(ctx, nil)
	c.log.Debug("idle: AMQP connection released")
}

// resume gives a suspended client an AMQP connection again. Reader
// goroutine only; a no-op while the connection is there.
func (c *conn) resumeAMQP() error {
	if ac := c.amqp; ac != nil {
		select {
		case <-ac.Done():
			// The router ended it: no connection to send on; the will
			// goes over one of its own.
			return errAMQPEnded
		default:
			return nil
		}
	}
	sp := c.susp
	if sp == nil {
		return errors.New("no AMQP connection")
	}
	c.susp = nil
	// Not derived from c.ctx (see connect); the loop goroutine is the
	// one that would cancel it.
	ctx, cancel := context.WithTimeout(context.Background(), c.s.opts.ConnectTimeout)
	defer cancel()
	ac, err := sp.Resume(ctx)
	if err != nil {
		return err
	}
	c.amqp = ac
	if err := c.openLinks(ctx); err != nil {
		c.amqp = nil
		ac.Close(ctx, nil)
		return err
	}
	c.watchAMQP(ac)
	c.log.Debug("AMQP connection resumed")
	return nil
}

// needAMQP resumes the AMQP connection for a packet that needs it; on
// failure the connection ends, v5 with a DISCONNECT saying why.
func (c *conn) needAMQP() bool {
	err := c.resumeAMQP()
	if err == nil {
		return true
	}
	if errors.Is(err, errAMQPEnded) {
		c.disconnect(routerClosed(c.amqp)) // as watchAMQP does, once
		return false
	}
	c.log.Warn("AMQP connection for MQTT client not resumed", "err", err)
	rc := disconnectCode(err)
	what := "cannot reach the router: "
	if rc == packets.ReasonNotAuthorized {
		what = "the router refused the client: "
	}
	c.disconnect(rc, what+err.Error())
	return false
}

// disconnectCode is the DISCONNECT reason code for a failure of the AMQP
// side: 0x87 Not authorized and 0x97 Quota exceeded say what the router
// said, anything else is 0x80 Unspecified error.
func disconnectCode(err error) packets.ReasonCode {
	switch rc := codeFor(err); rc {
	case packets.ReasonNotAuthorized, packets.ReasonQuotaExceeded:
		return rc
	}
	return packets.ReasonUnspecifiedError
}

// watchAMQP closes the MQTT connection when ac, its AMQP connection, ends
// other than by suspend or teardown; no goroutine waits for it. A v5
// client is told why first (MQTT 5.0 §4.13.2): DISCONNECT 0x87 when the
// router closed the connection with amqp:unauthorized-access (expired
// credentials: the separate gateway process cannot tell when they
// expire), 0x97 with amqp:resource-limit-exceeded, else 0x80.
func (c *conn) watchAMQP(ac *transport.Conn) {
	c.live.Store(ac)
	ac.AfterClose(func() {
		if c.ctx.Err() == nil && c.live.Load() == ac {
			c.log.Debug("AMQP connection ended", "err", ac.Err())
			if !c.expires.IsZero() && !time.Now().Before(c.expires) {
				// The credentials expired (the router closed it for
				// that): the loop's read ends at once and says so to the
				// client (DISCONNECT 0x87).
				c.nc.SetReadDeadline(time.Unix(1, 0))
				return
			}
			rc, reason := routerClosed(ac)
			// AfterClose runs this on a goroutine of its own, so the
			// write may wait for a slow client (writeTimeout). The loop
			// must not park (or freeze) a socket about to close, and a
			// client that has no CONNACK yet gets no DISCONNECT
			// [MQTT-3.2.0-1].
			c.stopParking()
			c.wmu.Lock()
			acked := c.connacked // the CONNACK is out (writeConnack)
			c.wmu.Unlock()
			if acked {
				c.disconnect(rc, reason)
			}
			c.nc.Close()
		}
	})
}

// routerClosed is the DISCONNECT for a client whose AMQP connection ac
// the router ended.
func routerClosed(ac *transport.Conn) (packets.ReasonCode, string) {
	reason := "the router closed the connection"
	if err := ac.Err(); err != nil {
		reason += ": " + err.Error()
	}
	return disconnectCode(ac.Err()), reason
}

// errAMQPEnded: the router ended the client's AMQP connection.
var errAMQPEnded = errors.New("the AMQP connection ended")

// errKeepAlive: the keep-alive deadline passed while the reader waited
// for the idle release.
var errKeepAlive = errors.New("keep-alive expired")

// isTimeout reports whether err is a read deadline's.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
