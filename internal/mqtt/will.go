package mqtt

import (
	"context"
	"log/slog"
	"time"

	"github.com/enmasse-go/enmasse/internal/amqp/transport"
	"github.com/enmasse-go/enmasse/internal/mqtt/packets"
)

// pendingWill is a will waiting out its Will Delay Interval
// [MQTT-3.1.3-9]. Server.mu guards Server.wills; the timer's function
// takes the will out of the table before publishing it, so a will is
// published or dropped exactly once.
type pendingWill struct {
	timer   *time.Timer
	publish func()
}

// scheduleWill is called by a connection ending abnormally with a will:
// after delay the will is published by publish, unless the client
// identifier connects again first. A connection that already took the
// identifier over counts as that reconnection: with clean start the old
// session ends and the will is published now, else it is dropped.
func (s *Server) scheduleWill(c *conn, delay time.Duration, publish func()) {
	s.mu.Lock()
	succ := s.clients[sessionID{c.space, c.clientID}]
	taken, clean := succ != nil && succ != c, succ != nil && succ.cleanStart
	if f := s.frozen.get(sessionID{c.space, c.clientID}); f != nil { // freeze.go
		taken, clean = true, f.flags&frozenCleanStart != 0
	}
	if taken {
		s.mu.Unlock()
		if clean {
			publish()
		} else {
			c.log.Debug("will dropped: the client reconnected within its will delay")
		}
		return
	}
	if s.closed {
		s.mu.Unlock()
		return // wills are not published at shutdown
	}
	if old := s.wills[sessionID{c.space, c.clientID}]; old != nil {
		old.timer.Stop() // cannot happen: a reconnection takes it out
	}
	w := &pendingWill{publish: publish}
	w.timer = time.AfterFunc(delay, func() {
		s.mu.Lock()
		mine := s.wills[sessionID{c.space, c.clientID}] == w
		if mine {
			delete(s.wills, sessionID{c.space, c.clientID})
		}
		s.mu.Unlock()
		if mine {
			publish()
		}
	})
	s.wills[sessionID{c.space, c.clientID}] = w
	s.mu.Unlock()
	c.log.Debug("will delayed", "delay", delay)
}

// reconnected is called by a new connection of clientID once registered:
// a pending will is dropped [MQTT-3.1.3-9], or published now when the
// new connection starts clean (the old session ends with it).
func (s *Server) reconnected(id sessionID, cleanStart bool) {
	s.mu.Lock()
	w := s.wills[id]
	delete(s.wills, id)
	s.mu.Unlock()
	if w == nil {
		return
	}
	w.timer.Stop() // taken out of the table: the timer cannot publish it
	if cleanStart {
		w.publish()
	}
}

// PendingWills returns the number of wills waiting for their delay.
func (s *Server) PendingWills() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.wills)
}

// stopWillsLocked drops the pending wills (the server stops). s.mu is
// held.
func (s *Server) stopWillsLocked() {
	for id, w := range s.wills {
		w.timer.Stop()
		delete(s.wills, id)
	}
}

// willDelay is how long c's will waits: its Will Delay Interval, at most
// until the session ends [MQTT-3.1.3-9].
func (c *conn) willDelay() time.Duration {
	d := min(c.will.Properties.WillDelayInterval, c.sessionExpiry())
	return time.Duration(d) * time.Second
}

// sendWill publishes the will now, on the connection's own sender, or
// schedules it for later on a connection of its own.
func (c *conn) sendWill() {
	d := c.willDelay()
	if d <= 0 {
		c.publishWill()
		return
	}
	will, cred, user, log, s := c.will, c.cred, c.user, c.log, c.s
	s.scheduleWill(c, d, func() { s.publishWillLater(cred, user, will, log) })
}

// publishWillLater publishes a delayed will over a new AMQP connection
// authenticated as the client was.
func (s *Server) publishWillLater(cred Credentials, user string, will *packets.Publish, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	fail := func(err error) { log.Warn("delayed will not published", "topic", will.Topic, "err", err) }
	if err := s.opts.Backend.EnsureTopic(user, will.Topic); err != nil {
		fail(err)
		return
	}
	body, err := toAMQP(nil, will)
	if err != nil {
		fail(err)
		return
	}
	ac, err := s.opts.Backend.Connect(ctx, cred)
	if err != nil {
		fail(err)
		return
	}
	defer ac.Close(ctx, nil)
	sess, err := ac.NewSession(ctx)
	if err != nil {
		fail(err)
		return
	}
	snd, err := sess.NewSender(ctx, "", transport.SenderOptions{})
	if err != nil {
		fail(err)
		return
	}
	d, err := snd.SendAsync(ctx, body, transport.SendOptions{Settled: will.QoS == 0})
	if err != nil {
		fail(err)
		return
	}
	if will.QoS > 0 {
		select {
		case <-d.Done():
		case <-ctx.Done():
			fail(ctx.Err())
			return
		}
		if st, _ := d.RemoteState(); st != nil {
			if rc, reason := outcomeCode(st); rc.IsError() {
				log.Warn("delayed will refused", "topic", will.Topic, "reason", reason)
				return
			}
		}
	}
	log.Debug("delayed will published", "topic", will.Topic)
}
