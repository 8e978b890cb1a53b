package mqtt

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/enmasse-go/enmasse/internal/amqp/frames"
	"github.com/enmasse-go/enmasse/internal/amqp/transport"
	"github.com/enmasse-go/enmasse/internal/mqtt/packets"
)

const (
	writeTimeout = 30 * time.Second
	closeTimeout = 5 * time.Second
	// maxCredit caps the link credit of one subscription.
	maxCredit = 256
)

// conn is one MQTT client connection and the AMQP connection that serves
// it. See the package documentation for its goroutines.
type conn struct {
	s        *Server
	nc       net.Conn
	log      *slog.Logger
	tlsState *tls.ConnectionState // nil without TLS

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // subscription goroutines and the ack loop
	// storing counts a persistent session's outgoing messages being
	// written to the session store.
	storing sync.WaitGroup

	// Set by connect, read-only after.
	version         byte
	clientID        string
	user            string
	expires         time.Time // the credentials' expiry (a token's); zero: never
	space           string    // address space (with a SessionStore)
	session         *session  // persistent session; nil: ends with the connection
	connectExpiry   uint32    // session expiry granted at CONNECT
	keepAlive       time.Duration
	will            *packets.Publish
	clientMaxPacket int // 0: no limit
	window          uint32
	noProblemInfo   bool // v5 Request Problem Information 0 [MQTT-3.1.2-29]
	cleanStart      bool
	cred            Credentials // for a delayed will's own connection (will.go)
	// The AMQP side; nil while suspended (idle.go), when susp holds the
	// client's claim to it. Reader goroutine only.
	amqp   *transport.Conn
	sess   *transport.Session
	sender *transport.Sender
	susp   Suspension
	// live is amqp, for its AfterClose; nil once it is being closed on
	// purpose.
	live      atomic.Pointer[transport.Conn]
	releasing bool // the AMQP side may be released when idle (mayReleaseConn; set by connect)
	noRelease bool // the backend refused to suspend
	released  bool // suspended at least once

	// Reader goroutine only.
	roots map[string]bool // first levels EnsureTopic succeeded for (nil until one)
	// noLocalSubs counts subscriptions ever made with No Local: while it
	// is not 0, publications carry the client identifier.
	noLocalSubs atomic.Int32
	normalDC    bool // DISCONNECT without will [MQTT-3.14.4-3]
	aliases     map[uint16]string

	acks    chan ackItem  // nil until the first QoS 1/2 PUBLISH (reader goroutine)
	ackDone chan struct{} // closed when the ack loop of acks ends
	ackOut  atomic.Int32  // QoS 1/2 publications not yet answered
	relq    chan relItem  // persistent sessions: PUBRECs to record (session.go)
	outs    *outStore     // persistent sessions: outgoing messages to record (session.go)
	sem     chan struct{} // in-flight QoS 1/2 messages to the client

	// The packet loop's reader and keep-alive deadline (zero: none, or
	// not yet set after the last packet), kept here while it is parked.
	cr       *connReader
	r        *packets.Reader
	deadline time.Time
	park_    parkState // park.go

	takenOver    atomic.Bool   // another connection took the client identifier
	connacked    bool          // CONNACK written: DISCONNECT may follow; guarded by wmu
	disconnected bool          // DISCONNECT written; guarded by wmu
	done         chan struct{} // closed when ServeConn returns

	wmu  sync.Mutex // guards wbuf, outAliases and writes to nc
	wbuf []byte     // packets encoded and not yet written (send)
	// Server-to-client topic aliases (v5.go): aliasMax is set by connect;
	// outAliases maps a topic to its alias in the order packets are written.
	aliasMax   uint16
	outAliases map[string]uint16
	aliasPub   *packets.Publish // aliasLocked's copy, encoded at once

	// The maps are nil until their first entry: most connections never
	// need one.
	mu       sync.Mutex
	qos2In   map[uint16]*qos2State // QoS 2 from the client, until PUBREL [MQTT-4.3.3-9]
	inflight map[uint16]*outMsg    // QoS 1/2 to the client, until PUBACK/PUBCOMP
	nextID   uint16
	subs     map[string]*sub
}

type qos2State struct {
	done bool
	rc   packets.ReasonCode
	key  uint64 // session record of a persistent session's identifier
}

type ackItem struct {
	id  uint16
	qos byte
	d   *transport.Delivery
	err error
}

// outMsg is a QoS 1/2 message sent to the client and not yet
// acknowledged. Fields other than qos are guarded by conn.mu.
type outMsg struct {
	d    *transport.Delivery // nil once a persistent session owns it
	qos  byte
	held bool // holds a place in conn.sem
	done bool // acknowledged

	// Persistent sessions (session.go): the record and its state.
	key      uint64
	raw      []byte        // the PUBLISH encoded as MQTT 5.0, for resending
	stored   chan struct{} // closed when the record's first write ended
	released bool          // PUBREC received: PUBREL is what is resent
}

type sub struct {
	filter            string
	qos               atomic.Uint32
	retainAsPublished atomic.Bool
	noLocal           atomic.Bool
	subID             atomic.Uint32 // v5 Subscription Identifier; 0: none
	retainedOnly      bool          // a one-shot link re-sending the retained messages
	r                 *transport.Receiver
	ctx               context.Context // ends with the connection or UNSUBSCRIBE
	cancel            context.CancelFunc
}

// newConn returns the connection of nc; its logger has the remote address
// and logAttrs.
func newConn(s *Server, nc net.Conn, logAttrs ...any) *conn {
	ctx, cancel := context.WithCancel(context.Background())
	return &conn{
		s: s, nc: nc, ctx: ctx, cancel: cancel,
		log:  s.opts.Logger.With(append([]any{"remote", addrString(nc.RemoteAddr())}, logAttrs...)...),
		done: make(chan struct{}),
	}
}

// addrString is a for logs; a socket whose peer has gone (reset while
// frozen, freeze.go) has no remote address.
func addrString(a net.Addr) string {
	if a == nil {
		return "unknown"
	}
	return a.String()
}

// serve runs the connection on the calling goroutine: CONNECT, then the
// packet loop, which may park (park.go) and go on on another goroutine.
func (c *conn) serve() {
	c.cr = newConnReader(c.nc)
	c.r = packets.NewReader(c.cr, c.s.opts.MaxPacketSize)
	c.nc.SetReadDeadline(time.Now().Add(c.s.opts.ConnectTimeout))
	fh, body, err := c.r.Next()
	if err != nil {
		c.log.Debug("no CONNECT", "err", err)
		c.end(false)
		return
	}
	if fh.Type != packets.TypeConnect {
		// [MQTT-3.1.0-1]: the first packet must be a CONNECT.
		c.log.Debug("first packet is not CONNECT", "type", fh.Type)
		c.end(false)
		return
	}
	var cp packets.Connect
	if err := cp.Decode(0, fh, body); err != nil {
		c.refuseConnect(cp.ProtocolVersion, err)
		c.end(false)
		return
	}
	c.r.Version = cp.ProtocolVersion
	if !c.connect(&cp) {
		c.end(false)
		return
	}
	c.loop(false)
}

// loop reads and handles packets until the connection ends (then it
// calls end) or parks (then it returns, and a wake-up runs it again on a
// goroutine of its own, woken: its first read does not park).
func (c *conn) loop(woken bool) {
	cr := c.cr
	// PUBLISH packets are decoded into pub, one at a time: handle keeps
	// no pointer to a packet.
	var pub packets.Publish
	for ; ; woken = false {
		if c.deadline.IsZero() {
			if c.keepAlive > 0 {
				// [MQTT-3.1.2-24]: one and a half keep-alive periods
				// from the last packet.
				c.deadline = time.Now().Add(c.keepAlive * 3 / 2)
			}
			if !c.expires.IsZero() && (c.deadline.IsZero() || c.expires.Before(c.deadline)) {
				c.deadline = c.expires // the credentials expire first
			}
		}
		if !cr.buffered() && c.mayRelease() {
			wait := c.s.opts.IdleRelease
			if !c.released {
				// Right after CONNECT: a client with something to do
				// does it at once, and a storm of idle ones must not
				// hold an AMQP connection each for IdleRelease.
				wait = min(wait, connectGrace)
			}
			if rel := time.Now().Add(wait); c.deadline.IsZero() || rel.Before(c.deadline) {
				// Idle release (idle.go): wait for the next packet's
				// first byte until rel, then let the AMQP side go.
				c.nc.SetReadDeadline(rel)
				err := cr.wait()
				if isTimeout(err) {
					if !c.releasable() {
						continue // a publication's outcome is due
					}
					c.suspend()
					err = nil
					if !c.deadline.IsZero() && !time.Now().Before(c.deadline) {
						err = errKeepAlive
					}
				}
				if err != nil {
					c.readError(err)
					c.end(true)
					return
				}
			}
		}
		if !woken && !cr.buffered() && c.park() {
			return
		}
		c.nc.SetReadDeadline(c.deadline)
		p, err := c.r.ReadPacketInto(&pub)
		if err != nil {
			c.readError(err)
			c.end(true)
			return
		}
		c.deadline = time.Time{}
		if !c.handle(p) {
			c.end(true)
			return
		}
	}
}

// end finishes the connection: the will and the AMQP side once it was
// connected, then the socket, and the server's tables.
func (c *conn) end(connected bool) {
	if connected {
		c.teardown()
	}
	c.cr.release()
	c.cancel()
	c.nc.Close()
	s := c.s
	s.mu.Lock()
	delete(s.conns, c)
	if id := (sessionID{c.space, c.clientID}); s.clients[id] == c {
		delete(s.clients, id)
	}
	s.mu.Unlock()
	close(c.done)
	s.wg.Done()
}

// refuseConnect answers a CONNECT that failed to decode: a v5 CONNACK with
// the reason code, a 3.1.1 CONNACK when the code has a return code
// [MQTT-3.1.2-2], else nothing [MQTT-4.8.0-1].
func (c *conn) refuseConnect(version byte, err error) {
	c.log.Debug("CONNECT refused", "err", err)
	rc := packets.ReasonMalformedPacket
	errors.As(err, &rc)
	if version == packets.Version5 {
		c.writeV(&packets.Connack{ReasonCode: rc}, packets.Version5)
		return
	}
	if _, ok := rc.V3ConnackCode(); ok {
		c.writeV(&packets.Connack{ReasonCode: rc}, packets.Version311)
	}
}

// connect handles the CONNECT: client identifier, AMQP connection,
// takeover, CONNACK. It reports whether the connection goes on.
func (c *conn) connect(cp *packets.Connect) bool {
	c.version = cp.ProtocolVersion
	v5 := c.version == packets.Version5
	ack := &packets.Connack{}
	if w := cp.Will; w != nil && !validPayload(&w.Properties, w.Payload) {
		ack.ReasonCode = packets.ReasonPayloadFormatInvalid // MQTT 5.0 §3.1.3.2.3
		c.write(ack)
		return false
	}
	c.clientID = cp.ClientID
	if c.clientID == "" {
		if !v5 && !cp.CleanStart {
			// [MQTT-3.1.3-8]: identifier rejected.
			ack.ReasonCode = packets.ReasonClientIdentifierNotValid
			c.write(ack)
			return false
		}
		// [MQTT-3.1.3-6]: the server assigns one; v5 returns it.
		c.clientID = "enmasse-" + randomHex(12)
		if v5 {
			ack.Properties.AssignedClientIdentifier = c.clientID
		}
	}
	c.log = c.log.With("client_id", c.clientID)
	c.user = cp.Username
	// Not derived from c.ctx, which would keep a map of children for the
	// life of the connection; nothing cancels c.ctx during CONNECT.
	ctx, cancel := context.WithTimeout(context.Background(), c.s.opts.ConnectTimeout)
	defer cancel()
	c.cleanStart = cp.CleanStart
	c.cred = Credentials{
		ClientID: c.clientID, Username: cp.Username, HasUsername: cp.HasUsername,
		Password: bytes.Clone(cp.Password), HasPassword: cp.HasPassword, // cp aliases the read buffer
		RemoteAddr: c.nc.RemoteAddr(), TLS: c.tlsState,
	}
	var amqpConn *transport.Conn
	var err error
	c.releasing = c.mayReleaseConn()
	if l, ok := c.s.opts.Backend.(Loginer); ok && c.releasing {
		// Idle release (idle.go): no AMQP connection until one is needed.
		c.susp, err = l.Login(ctx, c.cred)
		c.released = true
	} else {
		amqpConn, err = c.s.opts.Backend.Connect(ctx, c.cred)
	}
	if err != nil {
		c.log.Debug("AMQP connection refused", "err", err)
		ack.ReasonCode = packets.ReasonNotAuthorized
		switch {
		case codeFor(err) == packets.ReasonQuotaExceeded:
			// A connection limit of the address space (routerPolicy):
			// v5 0x97 Quota exceeded, 3.1.1 0x03 Server unavailable
			// (the CONNACK encoder's V3ConnackCode).
			ack.ReasonCode = packets.ReasonQuotaExceeded
		case cp.HasUsername:
			ack.ReasonCode = packets.ReasonBadUserNameOrPassword
		}
		ack.Properties = packets.Properties{}
		c.write(ack)
		return false
	}
	// The user the backend authenticated (a token's or certificate's
	// user, with its address space) places the session and the topics
	// EnsureTopic creates; the MQTT username, which may be empty or name
	// no space, only when the backend cannot tell.
	if u, ok := c.authenticatedUser(amqpConn); ok {
		c.user = u
	}
	c.expires = c.credentialsExpiry(amqpConn) // the connection ends then (loop)
	if st := c.s.sessions.store; st != nil {
		c.space = st.Space(c.user)
	}
	unavailable := func(what string, err error) bool {
		c.log.Warn(what, "err", err)
		c.dropAMQP()
		ack.ReasonCode = packets.ReasonServerUnavailable
		ack.Properties = packets.Properties{}
		c.write(ack)
		return false
	}
	if amqpConn != nil {
		c.amqp = amqpConn
		if err := c.openLinks(ctx); err != nil {
			return unavailable("AMQP session for MQTT client failed", err)
		}
		// Error paths below end it with dropAMQP, which unwatches first.
		c.watchAMQP(amqpConn)
	}
	if cp.Will != nil {
		w := cp.Will
		c.will = &packets.Publish{Topic: w.Topic, QoS: w.QoS, Retain: w.Retain,
			Payload: append([]byte(nil), w.Payload...), Properties: w.Properties}
		c.will.Properties.CorrelationData = append([]byte(nil), w.Properties.CorrelationData...)
		if w.Properties.CorrelationData == nil {
			c.will.Properties.CorrelationData = nil
		}
	}
	c.keepAlive = time.Duration(cp.KeepAlive) * time.Second
	window := c.s.opts.MaxInflight
	if v5 {
		if rm := int(cp.Properties.ReceiveMaximum); rm > 0 && rm < window {
			window = rm // [MQTT-3.3.4-9]
		}
		c.clientMaxPacket = int(cp.Properties.MaximumPacketSize)
		ack.Properties.MaximumPacketSize = uint32(c.s.opts.MaxPacketSize)
		ack.Properties.SharedSubscriptionAvailable, ack.Properties.HasSharedSubscriptionAvailable = 1, true
		ack.Properties.SubscriptionIdentifierAvailable, ack.Properties.HasSubscriptionIdentifierAvailable = 1, true
		ack.Properties.TopicAliasMaximum = 16
		c.connackV5(cp, ack)
		// Retained messages are kept by topic addresses (MQTT 5.0
		// §3.2.2.3.5; absent would mean the same).
		ack.Properties.RetainAvailable, ack.Properties.HasRetainAvailable = 1, true
	}
	expiry, capped := c.grantedExpiry(cp)
	if capped {
		// The server keeps the session for less than asked: say so
		// (MQTT 5.0 §3.2.2.3.2).
		ack.Properties.SessionExpiryInterval, ack.Properties.HasSessionExpiryInterval = expiry, true
	}
	c.connectExpiry = cp.Properties.SessionExpiryInterval
	c.window = uint32(min(window, maxCredit))
	c.sem = make(chan struct{}, window)
	if old := c.s.register(c); old != nil {
		old.takeOver()
		// The session passes on once the old connection has ended.
		select {
		case <-old.done:
		case <-ctx.Done():
		}
	}
	c.s.reconnected(sessionID{c.space, c.clientID}, cp.CleanStart) // a delayed will [MQTT-3.1.3-9]
	sess, present, err := c.s.sessions.open(c, cp.CleanStart, expiry)
	if err != nil {
		c.log.Warn("MQTT session refused", "err", err)
		ack.ReasonCode = packets.ReasonQuotaExceeded // 3.1.1: 0x03 Server unavailable
		ack.Properties = packets.Properties{}
		c.write(ack)
		c.dropAMQP()
		return false
	}
	c.session = sess
	if c.session != nil && c.amqp == nil {
		// A persistent session attaches its subscriptions at once.
		if err := c.resumeAMQP(); err != nil {
			c.s.sessions.release(c)
			return unavailable("AMQP connection for MQTT session failed", err)
		}
	}
	// [MQTT-3.2.2-2] [MQTT-3.2.2-3]: session present when an existing
	// session is resumed; clean start never has one.
	ack.SessionPresent = present
	if err := c.writeConnack(ack); err != nil {
		c.dropAMQP()
		c.s.sessions.release(c)
		return false
	}
	if c.session != nil {
		c.relq = make(chan relItem, 256)
		c.outs = new(outStore)
		c.wg.Add(1)
		go c.relLoop()
	}
	c.log.Debug("connected", "version", c.version, "keep_alive", c.keepAlive, "session_present", present)
	if present {
		c.resume()
	}
	return true
}

// takeOver closes c because another connection took its client
// identifier [MQTT-3.1.4-3]; its will is published.
func (c *conn) takeOver() {
	c.log.Debug("session taken over")
	c.takenOver.Store(true)
	c.stopParking()
	c.disconnect(packets.ReasonSessionTakenOver, "another connection uses this client identifier")
	c.nc.Close()
}

// shutdown closes c because the server stops.
func (c *conn) shutdown() {
	c.stopParking()
	c.disconnect(packets.ReasonServerShuttingDown, "")
	c.nc.Close()
}

// teardown runs after the packet loop: the will, then the AMQP side.
func (c *conn) teardown() {
	if c.will != nil && !c.normalDC {
		c.sendWill()
	}
	c.cancel()
	c.wg.Wait()
	// A persistent session's stored messages are accepted before the
	// AMQP connection ends (else the broker would keep them too).
	c.storing.Wait()
	c.dropAMQP()
	// Deliveries still waiting for PUBACK go back to their queues with
	// the link (at-least-once); a persistent session keeps the ones it
	// stored, and its subscriptions keep collecting messages.
	c.s.sessions.release(c)
}

// sessionExpiry is how long the session outlives the connection, in
// seconds: a persistent session's expiry (as a DISCONNECT may have
// changed it), else 0.
func (c *conn) sessionExpiry() uint32 {
	if c.session == nil {
		return 0
	}
	return c.session.expiry
}

// publishWill publishes the will message now [MQTT-3.1.2-8].
func (c *conn) publishWill() {
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	if err := c.resumeAMQP(); err != nil {
		// The claim is gone (a failed resume ended the connection): the
		// will goes over a connection of its own, as a delayed one does.
		c.s.publishWillLater(c.cred, c.user, c.will, c.log)
		return
	}
	if err := c.ensureRoot(c.will.Topic); err != nil {
		c.log.Warn("will not published", "topic", c.will.Topic, "err", err)
		return
	}
	body, err := toAMQP(nil, c.will)
	if err != nil {
		c.log.Warn("will not published", "err", err)
		return
	}
	d, err := c.sender.SendAsync(ctx, body, transport.SendOptions{Settled: c.will.QoS == 0})
	if err != nil {
		c.log.Warn("will not published", "err", err)
		return
	}
	if c.will.QoS > 0 {
		select {
		case <-d.Done():
		case <-ctx.Done():
		}
	}
	c.log.Debug("will published", "topic", c.will.Topic)
}

// readError ends the packet loop: a decode error is answered with a v5
// DISCONNECT carrying its reason code [MQTT-4.13.1-1].
func (c *conn) readError(err error) {
	timeout := errors.Is(err, errKeepAlive) || isTimeout(err)
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed):
		c.log.Debug("connection closed by client")
	case timeout && !c.expires.IsZero() && !time.Now().Before(c.expires):
		c.log.Debug("credentials expired", "at", c.expires)
		c.disconnect(packets.ReasonNotAuthorized, "the credentials (token) expired")
	case timeout:
		c.log.Debug("keep-alive expired")
		c.disconnect(packets.ReasonKeepAliveTimeout, "no packet within 1.5 times the keep-alive")
	default:
		var rc packets.ReasonCode
		if errors.As(err, &rc) {
			c.log.Debug("bad packet", "err", err)
			c.disconnect(rc, err.Error())
			return
		}
		c.log.Debug("read failed", "err", err)
	}
}

// disconnect sends a v5 DISCONNECT (3.1.1 servers send none).
func (c *conn) disconnect(rc packets.ReasonCode, reason string) {
	if c.version != packets.Version5 {
		return
	}
	d := &packets.Disconnect{ReasonCode: rc}
	if packets.ValidString(reason) == nil {
		d.Properties.ReasonString = reason
	}
	if c.noProblemInfo {
		stripProblemInfo(d)
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.disconnected {
		return // one DISCONNECT, whichever side found the reason first
	}
	c.disconnected = true
	c.sendLocked(d, c.version, true)
}

// protocolError closes the connection for a protocol violation.
func (c *conn) protocolError(rc packets.ReasonCode, format string, args ...any) bool {
	reason := fmt.Sprintf(format, args...)
	c.log.Debug("protocol error", "reason", reason)
	c.disconnect(rc, reason)
	return false
}

// writeConnack writes the CONNACK of a connection that goes on, and marks
// it written under the write lock: whoever then holds the lock and sees
// connacked knows the CONNACK went first (watchAMQP).
func (c *conn) writeConnack(ack *packets.Connack) error {
	if c.noProblemInfo {
		stripProblemInfo(ack)
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.sendLocked(ack, c.version, true); err != nil {
		return err
	}
	c.connacked = true
	return nil
}

// write encodes and writes one packet; an error closes the connection.
func (c *conn) write(p packets.Packet) error { return c.writeV(p, c.version) }

func (c *conn) writeV(p packets.Packet, version byte) error {
	return c.send(p, version, true)
}

// send encodes p after the packets already waiting in wbuf and, with
// flush (or once 32 KiB wait), writes them all in one Write. Only a
// subscription's receiveLoop and the ackLoop leave packets waiting, while
// they have more at hand, and they flush before they block.
func (c *conn) send(p packets.Packet, version byte, flush bool) error {
	if c.noProblemInfo {
		stripProblemInfo(p)
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.sendLocked(p, version, flush)
}

func (c *conn) sendLocked(p packets.Packet, version byte, flush bool) error {
	if pp, ok := p.(*packets.Publish); ok && c.aliasMax > 0 {
		p = c.aliasLocked(pp)
	}
	buf, err := packets.Append(c.wbuf, p, version)
	if pp, ok := p.(*packets.Publish); ok && pp == c.aliasPub {
		*pp = packets.Publish{} // keeps no payload alive
	}
	if err != nil {
		c.log.Warn("cannot encode packet", "type", p.Type(), "err", err)
		return err
	}
	c.wbuf = buf
	if !flush && len(buf) < 32<<10 {
		return nil
	}
	return c.flushLocked()
}

// flush writes the packets waiting in wbuf.
func (c *conn) flush() error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.flushLocked()
}

func (c *conn) flushLocked() error {
	if len(c.wbuf) == 0 {
		return nil
	}
	c.nc.SetWriteDeadline(time.Now().Add(writeTimeout))
	_, err := c.nc.Write(c.wbuf)
	c.wbuf = c.wbuf[:0]
	if cap(c.wbuf) > 64<<10 {
		c.wbuf = nil
	}
	if err != nil {
		c.nc.Close()
		return err
	}
	return nil
}

// handle processes one packet after CONNECT; false ends the connection.
func (c *conn) handle(p packets.Packet) bool {
	switch p := p.(type) {
	case *packets.Publish:
		if !c.needAMQP() {
			return false
		}
		return c.handlePublish(p)
	case *packets.Puback:
		c.completeOut(p.PacketID, p.ReasonCode)
	case *packets.Pubrec:
		c.handlePubrec(p)
	case *packets.Pubrel:
		c.mu.Lock()
		st, ok := c.qos2In[p.PacketID]
		delete(c.qos2In, p.PacketID)
		c.mu.Unlock()
		rc := packets.ReasonSuccess
		if !ok {
			rc = packets.ReasonPacketIdentifierNotFound
		} else {
			c.forgetQoS2In(st.key) // before PUBCOMP frees the identifier
		}
		c.write(&packets.Pubcomp{PacketID: p.PacketID, ReasonCode: rc})
	case *packets.Pubcomp:
		c.completeOut(p.PacketID, p.ReasonCode)
	case *packets.Subscribe:
		if !c.needAMQP() {
			return false
		}
		return c.handleSubscribe(p)
	case *packets.Unsubscribe:
		c.handleUnsubscribe(p)
	case *packets.Pingreq:
		c.write(&packets.Pingresp{})
	case *packets.Disconnect:
		// [MQTT-3.14.4-3]: the will is discarded, unless a v5 client asks
		// for it with 0x04.
		c.normalDC = p.ReasonCode != packets.ReasonDisconnectWithWill
		if pr := p.Properties; c.version == packets.Version5 && pr.HasSessionExpiryInterval {
			if c.connectExpiry == 0 && pr.SessionExpiryInterval > 0 {
				// [MQTT-3.14.2-2]
				c.normalDC = false
				return c.protocolError(packets.ReasonProtocolError, "session expiry set on DISCONNECT after 0 on CONNECT")
			}
			if c.session != nil {
				c.session.expiry = min(pr.SessionExpiryInterval, c.s.opts.MaxSessionExpiry)
			}
		}
		return false
	case *packets.Connect:
		return c.protocolError(packets.ReasonProtocolError, "second CONNECT") // [MQTT-3.1.0-2]
	default:
		return c.protocolError(packets.ReasonProtocolError, "unexpected %v from a client", p.Type())
	}
	return true
}

func (c *conn) handlePublish(p *packets.Publish) bool {
	if len(p.Properties.SubscriptionIdentifiers) > 0 {
		return c.protocolError(packets.ReasonProtocolError, "PUBLISH from a client with a subscription identifier") // [MQTT-3.3.4-6]
	}
	if a := p.Properties.TopicAlias; a != 0 {
		if a > 16 {
			return c.protocolError(packets.ReasonTopicAliasInvalid, "topic alias %d above the maximum 16", a) // [MQTT-3.3.2-9]
		}
		if c.aliases == nil {
			c.aliases = map[uint16]string{}
		}
		if p.Topic != "" {
			c.aliases[a] = p.Topic
		} else if t, ok := c.aliases[a]; ok {
			p.Topic = t
		} else {
			return c.protocolError(packets.ReasonProtocolError, "unknown topic alias %d", a)
		}
		p.Properties.TopicAlias = 0
	}
	if p.QoS == 2 {
		c.mu.Lock()
		if st, ok := c.qos2In[p.PacketID]; ok {
			// A resent PUBLISH before PUBREL is not forwarded again
			// [MQTT-4.3.3-10]; PUBREC is resent once known.
			c.mu.Unlock()
			if st.done {
				c.write(&packets.Pubrec{PacketID: p.PacketID, ReasonCode: st.rc})
			}
			return true
		}
		if c.qos2In == nil {
			c.qos2In = map[uint16]*qos2State{}
		}
		c.qos2In[p.PacketID] = &qos2State{}
		c.mu.Unlock()
	}
	var d *transport.Delivery
	var err error
	if !validPayload(&p.Properties, p.Payload) {
		err = packets.ReasonPayloadFormatInvalid // MQTT 5.0 §3.3.2.3.2
	} else {
		err = c.ensureRoot(p.Topic)
	}
	if err == nil {
		var body []byte
		origin := ""
		if c.noLocalSubs.Load() > 0 || p.Retain {
			// A retained message may meet a No Local subscription of
			// this client made later [MQTT-3.8.3-3].
			origin = c.clientID
		}
		if p.QoS == 0 {
			var sendErr error
			if err, sendErr = c.publishSettled(p, origin); sendErr != nil {
				c.log.Debug("AMQP send failed", "err", sendErr)
				return false
			}
		} else if body, err = toAMQPFrom(nil, p, origin); err == nil {
			d, err = c.sender.SendAsync(c.ctx, body, transport.SendOptions{})
			if err != nil {
				c.log.Debug("AMQP send failed", "err", err)
				return false
			}
		}
	}
	if p.QoS == 0 {
		if err != nil {
			c.log.Debug("QoS 0 message dropped", "topic", p.Topic, "err", err)
		}
		return true
	}
	if c.acks == nil {
		// Started on the first QoS 1/2 PUBLISH: the queue (36 KiB) and
		// the goroutine are most of an idle or subscribe-only
		// connection's memory otherwise.
		c.acks, c.ackDone = make(chan ackItem, 1024), make(chan struct{})
		c.wg.Add(1)
		go c.ackLoop(c.acks, c.ackDone)
	}
	c.ackOut.Add(1)
	select {
	case c.acks <- ackItem{id: p.PacketID, qos: p.QoS, d: d, err: err}:
		return true
	case <-c.ctx.Done():
		return false
	}
}

// ackLoop answers QoS 1 and 2 publications in order, once the AMQP
// outcome is known: PUBACK [MQTT-4.3.2-2] or PUBREC [MQTT-4.3.3-8] after
// the broker accepted the message.
func (c *conn) ackLoop(acks <-chan ackItem, done chan<- struct{}) {
	defer c.wg.Done()
	defer close(done)
	// Acknowledgements are encoded without a write while the next one is
	// known at once, and written together before the loop would wait: a
	// publisher streaming QoS 1 costs one write per burst, not one per
	// message.
	for {
		var it ackItem
		var ok bool
		select {
		case it, ok = <-acks:
		default:
			c.flush()
			select {
			case it, ok = <-acks:
			case <-c.ctx.Done():
				return
			}
		}
		if !ok {
			c.flush()
			return // idle release (idle.go)
		}
		rc, reason := packets.ReasonSuccess, ""
		if it.err != nil {
			rc, reason = pubCodeFor(it.err), it.err.Error()
		} else {
			select {
			case <-it.d.Done():
			default:
				c.flush()
				select {
				case <-it.d.Done():
				case <-c.ctx.Done():
					return
				}
			}
			st, _ := it.d.RemoteState()
			rc, reason = outcomeCode(st)
		}
		if rc.IsError() {
			c.log.Debug("publication refused", "packet_id", it.id, "reason", reason)
		}
		if rc.IsError() && c.version != packets.Version5 {
			// 3.1.1 cannot report a refused publication.
			c.flush() // the acknowledgements before it
			c.nc.Close()
			return
		}
		var props packets.Properties
		if rc.IsError() && packets.ValidString(reason) == nil {
			props.ReasonString = reason
		}
		if it.qos == 1 {
			c.send(&packets.Puback{PacketID: it.id, ReasonCode: rc, Properties: props}, c.version, false)
			c.ackOut.Add(-1)
			continue
		}
		var key uint64
		if !rc.IsError() {
			if c.session != nil {
				c.flush() // before a journal write
			}
			key = c.storeQoS2In(it.id)
		}
		c.mu.Lock()
		if st := c.qos2In[it.id]; st != nil {
			st.done, st.rc, st.key = true, rc, key
			if rc.IsError() {
				delete(c.qos2In, it.id) // the exchange ends here (MQTT 5.0 §4.3.3)
			}
		} else if key != 0 {
			defer c.forgetQoS2In(key) // the connection is ending
		}
		c.mu.Unlock()
		c.send(&packets.Pubrec{PacketID: it.id, ReasonCode: rc, Properties: props}, c.version, false)
		c.ackOut.Add(-1)
	}
}

// outcomeCode maps an AMQP outcome to a PUBACK/PUBREC reason code.
func outcomeCode(st frames.DeliveryState) (packets.ReasonCode, string) {
	switch st := st.(type) {
	case frames.Accepted, *frames.Accepted:
		return packets.ReasonSuccess, ""
	case frames.Rejected:
		return pubCodeFor(st.Error), errString(st.Error)
	case *frames.Rejected:
		return pubCodeFor(st.Error), errString(st.Error)
	case nil:
		return packets.ReasonUnspecifiedError, "the message was not settled"
	default:
		return packets.ReasonUnspecifiedError, fmt.Sprintf("outcome %T", st)
	}
}

func errString(e *frames.Error) string {
	if e == nil {
		return "rejected"
	}
	return e.Error()
}

// codeFor maps an AMQP error (or a reason code) to a SUBACK reason code
// (MQTT 5.0 §3.9.3): an address that does not exist or is not valid
// there is 0x8F Topic Filter invalid. PUBACK and PUBREC use pubCodeFor.
func codeFor(err error) packets.ReasonCode {
	if rc, ok := err.(packets.ReasonCode); ok {
		return rc
	}
	var se *transport.SASLError
	if errors.As(err, &se) && se.Unauthorized() {
		// A login refused (the separate gateway process logs in again
		// when it resumes an idle client's connection).
		return packets.ReasonNotAuthorized
	}
	var fe *frames.Error
	if err == nil || !errors.As(err, &fe) || fe == nil {
		return packets.ReasonUnspecifiedError
	}
	switch fe.Condition {
	case frames.ErrUnauthorizedAccess:
		return packets.ReasonNotAuthorized
	case frames.ErrResourceLimitExceeded:
		return packets.ReasonQuotaExceeded
	case frames.ErrInvalidField, frames.ErrNotFound:
		return packets.ReasonTopicFilterInvalid
	case frames.ErrNotImplemented:
		// The router's answer to a retained message on a multicast
		// address: 0x9A (Retain not supported) is no PUBACK/PUBREC code
		// [MQTT-3.4.2-1], and CONNACK said Retain Available 1 (topics
		// keep them).
		return packets.ReasonImplementationSpecificError
	}
	return packets.ReasonUnspecifiedError
}

// pubCodeFor maps an AMQP error (or a reason code) to a PUBACK or PUBREC
// reason code, which must be one of 0x80, 0x83, 0x87, 0x90, 0x91, 0x97
// or 0x99 for an error [MQTT-3.4.2-1] [MQTT-3.5.2-1]: an address that
// does not exist or is not valid there (amqp:not-found,
// amqp:invalid-field) is 0x90 Topic Name invalid, and a code PUBACK does
// not have becomes 0x80 Unspecified error.
func pubCodeFor(err error) packets.ReasonCode {
	switch rc := codeFor(err); rc {
	case packets.ReasonTopicFilterInvalid:
		return packets.ReasonTopicNameInvalid
	case packets.ReasonSuccess, packets.ReasonNoMatchingSubscribers,
		packets.ReasonUnspecifiedError, packets.ReasonImplementationSpecificError,
		packets.ReasonNotAuthorized, packets.ReasonTopicNameInvalid,
		packets.ReasonPacketIdentifierInUse, packets.ReasonQuotaExceeded,
		packets.ReasonPayloadFormatInvalid:
		return rc
	default:
		return packets.ReasonUnspecifiedError
	}
}

// ensureRoot asks the backend to prepare the first level of name, once
// per first level and connection.
func (c *conn) ensureRoot(name string) error {
	root := rootOf(name)
	if root == "" || strings.ContainsAny(root, "+#") || c.roots[root] {
		return nil
	}
	if err := c.s.opts.Backend.EnsureTopic(c.user, name); err != nil {
		return err
	}
	if c.roots == nil {
		c.roots = map[string]bool{}
	}
	c.roots[root] = true
	return nil
}

// validPayload reports whether a payload marked UTF-8 by its Payload
// Format Indicator is valid UTF-8 (the server may check it; MQTT 5.0
// §3.3.2.3.2).
func validPayload(pr *packets.Properties, payload []byte) bool {
	return pr.PayloadFormatIndicator != 1 || utf8.Valid(payload)
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
