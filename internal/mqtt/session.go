package mqtt

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/enmasse-go/enmasse/internal/amqp/frames"
	"github.com/enmasse-go/enmasse/internal/amqp/transport"
	"github.com/enmasse-go/enmasse/internal/mqtt/packets"
)

// SessionStore is what persistent sessions need from the server. In
// `enmasse serve` the records go to a journal of their own
// (DATA-DIR/mqtt, package store) and subscriptions live in the broker.
type SessionStore interface {
	// Put stores data under key, durable when it returns.
	Put(ctx context.Context, key uint64, data []byte) error
	// PutMany stores data[i] under keys[i], all or none, durable when it
	// returns (one write and fsync for all of them, where Put would take
	// one each).
	PutMany(ctx context.Context, keys []uint64, data [][]byte) error
	// Delete removes key, durable when it returns.
	Delete(ctx context.Context, key uint64) error
	// DeleteAsync removes key; it becomes durable with a later write.
	DeleteAsync(key uint64) error
	// Replay calls fn for every stored record in ascending key order.
	Replay(fn func(key uint64, data []byte) error) error
	// Space names the address space a client authenticated as user is
	// placed in (sessions of different spaces never meet).
	Space(user string) string
	// DropSubscription deletes the durable broker subscriptions
	// `{topic}::{name}` of space, with their messages.
	DropSubscription(space, name string) error
}

// NeverExpire is the session expiry interval of a session that never
// expires (MQTT 5.0 §3.1.2.11.2; every 3.1.1 clean session 0 session).
const NeverExpire = 0xFFFFFFFF

// Session records (SessionStore values):
//
//	session   0x01 | str space | str client id | version | uvarint expiry (s) |
//	          uvarint offline since (Unix ms, 0 = was connected) |
//	          uvarint n | n × (str filter | qos | flags: 1 retain-as-published,
//	          2 no-local, retain-handling << 2 | uvarint subscription id)
//	qos2 in   0x02 | uvarint session key | uvarint packet id
//	outgoing  0x03 | uvarint session key | uvarint packet id | state (0 sent,
//	          1 PUBREC received) | the PUBLISH encoded as MQTT 5.0
//
// str is uvarint length | bytes. Keys come from one counter; a session's
// record is rewritten (same key) when its subscriptions or expiry change.
const (
	recSession  = 0x01
	recQoS2In   = 0x02
	recOutgoing = 0x03
)

const storeTimeout = 30 * time.Second

// sessionID is a session's identity: the client identifier within an
// address space.
type sessionID struct{ space, clientID string }

// subRecord is one subscription of a persistent session.
type subRecord struct {
	qos   byte
	flags byte
	subID uint32 // v5 subscription identifier, 0 = none
}

func subFlags(o packets.Subscription) byte {
	var f byte
	if o.RetainAsPublished {
		f |= 1
	}
	if o.NoLocal {
		f |= 2
	}
	return f | o.RetainHandling<<2
}

func (r subRecord) subscription(filter string) packets.Subscription {
	return packets.Subscription{Filter: filter, QoS: r.qos, RetainAsPublished: r.flags&1 != 0,
		NoLocal: r.flags&2 != 0, RetainHandling: r.flags >> 2 & 3}
}

// session is the state of one persistent session. The fields below
// sessions.mu are guarded by it; subs, expiry, qos2In and out belong to
// the connection that owns the session (to the table while offline).
type session struct {
	id  sessionID
	key uint64

	version byte
	expiry  uint32
	subs    map[string]subRecord
	qos2In  map[uint16]uint64  // packet id → record key
	out     map[uint16]*outMsg // persisted outgoing messages
	dirty   bool               // the session record needs rewriting

	// Guarded by sessions.mu.
	owner        *conn
	offlineSince time.Time
	timer        *time.Timer
	gen          uint64 // bumped on every claim; stale timers do nothing
}

// sessions is the table of persistent sessions of a Server.
type sessions struct {
	s       *Server
	store   SessionStore // nil: no persistent sessions
	nextKey atomic.Uint64

	mu       sync.Mutex
	byID     map[sessionID]*session
	perSpace map[string]int
	// discarding holds the identifiers of sessions taken out of byID
	// whose broker subscriptions and records are being deleted, until
	// that is done: a new session of the same client identifier waits for
	// it (open), or the old session's deletion could delete the new one's
	// durable subscriptions, which have the same names.
	discarding map[sessionID]chan struct{}
	closed     bool
}

func newSessions(s *Server) *sessions {
	return &sessions{s: s, store: s.opts.Sessions, byID: map[sessionID]*session{}, perSpace: map[string]int{},
		discarding: map[sessionID]chan struct{}{}}
}

// discardLater discards sess, which the caller took out of byID with t.mu
// held, once the caller has unlocked t.mu: it marks the identifier as
// being discarded and returns the function that discards and unmarks.
func (t *sessions) discardLater(sess *session) func() {
	done := make(chan struct{})
	t.discarding[sess.id] = done
	return func() {
		t.discard(sess)
		t.mu.Lock()
		delete(t.discarding, sess.id)
		t.mu.Unlock()
		close(done)
	}
}

// waitDiscardedLocked returns once no session of id is being discarded;
// t.mu is held, and released while it waits.
func (t *sessions) waitDiscardedLocked(id sessionID) {
	for done := t.discarding[id]; done != nil; done = t.discarding[id] {
		t.mu.Unlock()
		<-done
		t.mu.Lock()
	}
}

// subscriptionName is the name of the durable broker subscription that
// holds filter for clientID: `mqtt:{client id}:{filter}`, with `%`, `:`
// and `|` percent-encoded in both parts, so that no two (client id,
// filter) pairs share a name and the broker's shared-subscriber suffix
// rule (`|N`) never applies. The broker adds the topic: `{topic}::{name}`.
func subscriptionName(clientID, filter string) string {
	return "mqtt:" + escapeName(clientID) + ":" + escapeName(filter)
}

var nameEscaper = strings.NewReplacer("%", "%25", ":", "%3A", "|", "%7C")

func escapeName(s string) string { return nameEscaper.Replace(s) }

// SubscriptionPrefix starts the names of the gateway's durable broker
// subscriptions.
const SubscriptionPrefix = "mqtt:"

// KeepsSubscription reports whether name (a durable broker subscription
// of space starting with SubscriptionPrefix) belongs to a live session;
// serve deletes the others after a restart (a crash between creating a
// subscription and recording it).
func (s *Server) KeepsSubscription(space, name string) bool {
	t := s.sessions
	t.mu.Lock()
	defer t.mu.Unlock()
	for id, sess := range t.byID {
		if id.space != space || !strings.HasPrefix(name, SubscriptionPrefix+escapeName(id.clientID)+":") {
			continue
		}
		for f := range sess.subs {
			if subscriptionName(id.clientID, f) == name {
				return true
			}
		}
	}
	return false
}

// SessionCount returns the number of persistent sessions, online or not.
func (s *Server) SessionCount() int {
	s.sessions.mu.Lock()
	defer s.sessions.mu.Unlock()
	return len(s.sessions.byID) + len(s.sessions.discarding) // until their deletion is done
}

// LoadSessions reads the persistent sessions of Options.Sessions: expired
// ones are deleted with their subscriptions, the others wait for their
// clients, expiring at the time left (a session that was connected when
// the server stopped counts as disconnected now). Call it before Serve.
func (s *Server) LoadSessions() error {
	t := s.sessions
	if t.store == nil {
		return nil
	}
	var maxKey uint64
	byKey := map[uint64]*session{}
	type child struct {
		key, sess uint64
		id        uint16
		state     byte
		pub       []byte
		typ       byte
	}
	var children []child
	now := time.Now()
	err := t.store.Replay(func(key uint64, data []byte) error {
		maxKey = max(maxKey, key)
		if len(data) == 0 {
			return fmt.Errorf("session record %d: empty", key)
		}
		switch data[0] {
		case recSession:
			sess, err := parseSession(data)
			if err != nil {
				return fmt.Errorf("session record %d: %w", key, err)
			}
			sess.key = key
			if sess.offlineSince.IsZero() {
				sess.offlineSince = now
			}
			byKey[key] = sess
		case recQoS2In, recOutgoing:
			r := data[1:]
			sk, n := binary.Uvarint(r)
			if n <= 0 {
				return fmt.Errorf("session record %d: bad session key", key)
			}
			r = r[n:]
			id, n := binary.Uvarint(r)
			if n <= 0 || id == 0 || id > 0xFFFF {
				return fmt.Errorf("session record %d: bad packet identifier", key)
			}
			r = r[n:]
			c := child{key: key, sess: sk, id: uint16(id), typ: data[0]}
			if data[0] == recOutgoing {
				if len(r) < 1 {
					return fmt.Errorf("session record %d: no state", key)
				}
				c.state, c.pub = r[0], slices.Clone(r[1:])
			}
			children = append(children, c)
		default:
			return fmt.Errorf("session record %d: unknown type %#x", key, data[0])
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("reading MQTT sessions: %w", err)
	}
	t.nextKey.Store(maxKey)
	for _, c := range children {
		sess := byKey[c.sess]
		if sess == nil {
			t.store.DeleteAsync(c.key)
			continue
		}
		if c.typ == recQoS2In {
			sess.qos2In[c.id] = c.key
			continue
		}
		m := &outMsg{key: c.key, released: c.state == 1, stored: closedChan}
		if !m.released {
			p, err := decodeStoredPublish(c.pub)
			if err != nil {
				s.opts.Logger.Warn("stored MQTT message dropped", "err", err)
				t.store.DeleteAsync(c.key)
				continue
			}
			m.raw, m.qos = c.pub, p.QoS
		} else {
			m.qos = 2
		}
		sess.out[c.id] = m
	}
	var expired []*session
	t.mu.Lock()
	for _, sess := range byKey {
		if old := t.byID[sess.id]; old != nil {
			// Two records for one session (cannot happen unless the
			// store lost a delete): keep the newer.
			expired = append(expired, old)
			t.perSpace[old.id.space]--
		}
		t.byID[sess.id] = sess
		t.perSpace[sess.id.space]++
		if sess.expiry != NeverExpire && !now.Before(sess.offlineSince.Add(time.Duration(sess.expiry)*time.Second)) {
			delete(t.byID, sess.id)
			t.perSpace[sess.id.space]--
			expired = append(expired, sess)
			continue
		}
		t.armLocked(sess)
	}
	t.mu.Unlock()
	for _, sess := range expired {
		t.discard(sess)
	}
	return nil
}

var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// armLocked starts the expiry timer of an offline session. t.mu is held.
func (t *sessions) armLocked(sess *session) {
	if sess.expiry == NeverExpire || t.closed {
		return
	}
	left := time.Until(sess.offlineSince.Add(time.Duration(sess.expiry) * time.Second))
	gen := sess.gen
	sess.timer = time.AfterFunc(left, func() { t.expire(sess, gen) })
}

// expire ends an offline session whose expiry interval passed.
func (t *sessions) expire(sess *session, gen uint64) {
	t.mu.Lock()
	if t.closed || sess.gen != gen || sess.owner != nil || t.byID[sess.id] != sess {
		t.mu.Unlock()
		return
	}
	delete(t.byID, sess.id)
	t.perSpace[sess.id.space]--
	discard := t.discardLater(sess)
	t.mu.Unlock()
	t.s.opts.Logger.Debug("MQTT session expired", "client_id", sess.id.clientID, "space", sess.id.space)
	discard()
}

// discard deletes a session that is no longer in the table: its broker
// subscriptions with their messages, then its records.
func (t *sessions) discard(sess *session) {
	for f := range sess.subs {
		if err := t.store.DropSubscription(sess.id.space, subscriptionName(sess.id.clientID, f)); err != nil {
			t.s.opts.Logger.Warn("cannot delete the subscription of an MQTT session", "filter", f, "err", err)
		}
	}
	for _, k := range sess.qos2In {
		t.store.DeleteAsync(k)
	}
	for _, m := range sess.out {
		if m.key != 0 {
			t.store.DeleteAsync(m.key)
		}
	}
	if sess.key != 0 {
		ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
		defer cancel()
		if err := t.store.Delete(ctx, sess.key); err != nil {
			t.s.opts.Logger.Warn("cannot delete an MQTT session record", "err", err)
		}
	}
}

// stop ends the expiry timers (the server stops).
func (t *sessions) stop() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.closed = true
	for _, sess := range t.byID {
		if sess.timer != nil {
			sess.timer.Stop()
		}
	}
}

// errTooManySessions refuses a new persistent session.
var errTooManySessions = errors.New("too many persistent sessions in this address space")

// open gives c its session at CONNECT [MQTT-3.1.2-4] [MQTT-3.1.2-5]: clean
// start discards an existing session; otherwise an existing one is
// resumed (present), and a new one is persistent when its expiry is
// above 0. It returns nil for a session that ends with the connection and
// was not stored before.
func (t *sessions) open(c *conn, clean bool, expiry uint32) (sess *session, present bool, err error) {
	if t.store == nil {
		return nil, false, nil
	}
	id := sessionID{c.space, c.clientID}
	t.mu.Lock()
	t.waitDiscardedLocked(id)
	old := t.byID[id]
	if old != nil && (clean || old.owner != nil) {
		if old.owner != nil {
			// Still owned by a connection that did not end in time:
			// start afresh rather than share its state.
			t.s.opts.Logger.Warn("MQTT session still in use; discarded", "client_id", id.clientID)
		}
		delete(t.byID, id)
		t.perSpace[id.space]--
		old.gen++
		if old.timer != nil {
			old.timer.Stop()
		}
		discard := t.discardLater(old)
		t.mu.Unlock()
		discard()
		t.mu.Lock()
		old = nil
	}
	if old != nil {
		old.owner = c
		old.gen++
		if old.timer != nil {
			old.timer.Stop()
			old.timer = nil
		}
		old.expiry, old.version = expiry, c.version
		t.mu.Unlock()
		// Recorded as connected, with the new expiry: a crash from now on
		// counts the session's expiry from the restart.
		if err := t.save(old); err != nil {
			t.s.opts.Logger.Warn("cannot store the MQTT session", "client_id", id.clientID, "err", err)
		}
		return old, true, nil
	}
	if expiry == 0 {
		t.mu.Unlock()
		return nil, false, nil
	}
	if m := t.s.opts.MaxSessionsPerSpace; m > 0 && t.perSpace[id.space] >= m {
		t.mu.Unlock()
		return nil, false, errTooManySessions
	}
	sess = &session{id: id, key: t.nextKey.Add(1), version: c.version, expiry: expiry, owner: c,
		subs: map[string]subRecord{}, qos2In: map[uint16]uint64{}, out: map[uint16]*outMsg{}, dirty: true}
	t.byID[id] = sess
	t.perSpace[id.space]++
	t.mu.Unlock()
	if err := t.save(sess); err != nil {
		t.mu.Lock()
		if t.byID[id] == sess {
			delete(t.byID, id)
			t.perSpace[id.space]--
		}
		t.mu.Unlock()
		return nil, false, err
	}
	return sess, false, nil
}

// save writes the session record.
func (t *sessions) save(sess *session) error {
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	t.mu.Lock()
	since := sess.offlineSince
	if sess.owner != nil {
		since = time.Time{}
	}
	t.mu.Unlock()
	if err := t.store.Put(ctx, sess.key, sess.record(since)); err != nil {
		return err
	}
	sess.dirty = false
	return nil
}

// release hands the session back to the table when its connection ended:
// a session with expiry 0 ends [MQTT-3.1.2-23]; the others are stored
// with the time of disconnection and expire from then.
func (t *sessions) release(c *conn) {
	sess := c.session
	if sess == nil {
		return
	}
	c.mu.Lock()
	for id, st := range c.qos2In {
		if st.key != 0 {
			sess.qos2In[id] = st.key
		}
	}
	for id, m := range c.inflight {
		if m.key != 0 {
			sess.out[id] = m
		}
	}
	c.mu.Unlock()
	t.mu.Lock()
	if sess.owner != c || t.byID[sess.id] != sess {
		t.mu.Unlock()
		return
	}
	sess.owner = nil
	sess.offlineSince = time.Now()
	if c.takenOver.Load() {
		// The new connection claims it at once [MQTT-3.1.4-3].
		t.mu.Unlock()
		return
	}
	if sess.expiry == 0 {
		delete(t.byID, sess.id)
		t.perSpace[sess.id.space]--
		discard := t.discardLater(sess)
		t.mu.Unlock()
		discard()
		return
	}
	t.mu.Unlock()
	if err := t.save(sess); err != nil {
		c.log.Warn("cannot store the MQTT session", "err", err)
	}
	t.mu.Lock()
	if sess.owner == nil && t.byID[sess.id] == sess {
		t.armLocked(sess)
	}
	t.mu.Unlock()
}

func (sess *session) record(offlineSince time.Time) []byte {
	b := []byte{recSession}
	b = appendStr(b, sess.id.space)
	b = appendStr(b, sess.id.clientID)
	b = append(b, sess.version)
	b = binary.AppendUvarint(b, uint64(sess.expiry))
	var ms uint64
	if !offlineSince.IsZero() {
		ms = uint64(offlineSince.UnixMilli())
	}
	b = binary.AppendUvarint(b, ms)
	filters := make([]string, 0, len(sess.subs))
	for f := range sess.subs {
		filters = append(filters, f)
	}
	slices.Sort(filters)
	b = binary.AppendUvarint(b, uint64(len(filters)))
	for _, f := range filters {
		r := sess.subs[f]
		b = appendStr(b, f)
		b = append(b, r.qos, r.flags)
		b = binary.AppendUvarint(b, uint64(r.subID))
	}
	return b
}

func parseSession(b []byte) (*session, error) {
	sess := &session{subs: map[string]subRecord{}, qos2In: map[uint16]uint64{}, out: map[uint16]*outMsg{}}
	d := decoder{b: b[1:]}
	sess.id.space = d.str()
	sess.id.clientID = d.str()
	sess.version = d.byte()
	sess.expiry = uint32(min(d.uvarint(), NeverExpire))
	if ms := d.uvarint(); ms != 0 {
		sess.offlineSince = time.UnixMilli(int64(ms))
	}
	n := d.uvarint()
	for i := uint64(0); i < n && d.err == nil; i++ {
		f := d.str()
		sess.subs[f] = subRecord{qos: min(d.byte(), 2), flags: d.byte(), subID: uint32(min(d.uvarint(), 268435455))}
	}
	if d.err != nil {
		return nil, d.err
	}
	return sess, nil
}

func appendStr(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// decoder reads session records; the first error sticks.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail() {
	if d.err == nil {
		d.err = errors.New("truncated record")
	}
	d.b = nil
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) byte() byte {
	if len(d.b) < 1 {
		d.fail()
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *decoder) str() string {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.fail()
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

func childRecord(typ byte, sessKey uint64, id uint16) []byte {
	b := []byte{typ}
	b = binary.AppendUvarint(b, sessKey)
	return binary.AppendUvarint(b, uint64(id))
}

func decodeStoredPublish(b []byte) (*packets.Publish, error) {
	r := packets.NewReader(bytes.NewReader(b), 0)
	r.Version = packets.Version5
	p, err := r.ReadPacket()
	if err != nil {
		return nil, err
	}
	pub, ok := p.(*packets.Publish)
	if !ok {
		return nil, fmt.Errorf("stored %v is not a PUBLISH", p.Type())
	}
	return pub, nil
}

// ---- the connection's side ----

// grantedExpiry is the session expiry interval a CONNECT gets, and
// whether the server granted less than asked: 3.1.1 clean session 0
// never expires, v5 is capped by Options.MaxSessionExpiry.
func (c *conn) grantedExpiry(cp *packets.Connect) (expiry uint32, capped bool) {
	if c.version != packets.Version5 {
		if cp.CleanStart {
			return 0, false
		}
		return NeverExpire, false
	}
	want := cp.Properties.SessionExpiryInterval
	if c.s.sessions.store == nil {
		return 0, want > 0
	}
	if m := c.s.opts.MaxSessionExpiry; want > m {
		return m, true
	}
	return want, false
}

// resume re-attaches the subscriptions of a resumed session and resends
// its unacknowledged messages: PUBLISH with DUP and the original packet
// identifier, PUBREL where PUBREC had come [MQTT-4.4.0-1]. It runs on the
// reader goroutine after CONNACK.
func (c *conn) resume() {
	sess := c.session
	c.mu.Lock()
	for id, k := range sess.qos2In {
		if c.qos2In == nil {
			c.qos2In = map[uint16]*qos2State{}
		}
		c.qos2In[id] = &qos2State{done: true, key: k}
	}
	clear(sess.qos2In)
	resend := make([]uint16, 0, len(sess.out))
	for id, m := range sess.out {
		m.held = false // a place in the previous connection's window
		if c.inflight == nil {
			c.inflight = map[uint16]*outMsg{}
		}
		c.inflight[id] = m
		resend = append(resend, id)
	}
	clear(sess.out)
	c.mu.Unlock()
	filters := make([]string, 0, len(sess.subs))
	for f := range sess.subs {
		filters = append(filters, f)
	}
	slices.Sort(filters)
	var started []*sub
	for _, f := range filters {
		r := sess.subs[f]
		o := r.subscription(f)
		o.RetainHandling = 2 // no SUBSCRIBE, so no retained messages [MQTT-3.3.1-9]
		s, rc := c.subscribe(o, o.QoS, r.subID)
		if s == nil {
			c.log.Warn("subscription of a resumed session not attached", "filter", f, "reason", rc)
			continue
		}
		started = append(started, s)
	}
	c.mu.Lock()
	slices.SortFunc(resend, func(a, b uint16) int { return cmpKey(c.inflight[a].key, c.inflight[b].key) })
	c.mu.Unlock()
	c.wg.Add(1)
	go c.resend(resend, started)
}

// resend sends a resumed session's unacknowledged messages again, in
// their original order, then starts its subscriptions' receive loops. It
// runs on its own goroutine so that the reader goes on reading the
// acknowledgements that free places in the client's receive maximum
// [MQTT-3.3.4-9]; PUBRELs take none.
func (c *conn) resend(ids []uint16, started []*sub) {
	defer c.wg.Done()
	for _, id := range ids {
		c.mu.Lock()
		m := c.inflight[id]
		var released bool
		var raw []byte
		if m != nil {
			released, raw = m.released, m.raw
		}
		c.mu.Unlock()
		if m == nil {
			continue // acknowledged meanwhile
		}
		if released {
			c.write(&packets.Pubrel{PacketID: id})
			continue
		}
		select {
		case c.sem <- struct{}{}:
		case <-c.ctx.Done():
			return
		}
		c.mu.Lock()
		mine := c.inflight[id] == m
		if mine {
			m.held = true
		}
		c.mu.Unlock()
		if !mine {
			<-c.sem
			continue
		}
		p, err := decodeStoredPublish(raw)
		if err != nil {
			c.log.Warn("stored message not resent", "err", err)
			continue
		}
		p.PacketID, p.Dup = id, true
		if c.write(p) != nil {
			return
		}
	}
	for _, s := range started {
		c.wg.Add(1)
		go c.receiveLoop(s)
	}
}

func cmpKey(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// durableSource makes the receiver of filter attach the session's durable
// broker subscription: a durable source that never expires, named by
// subscriptionName with the `global` capability (so the connection's
// container id is not part of the name). Only for persistent sessions.
func (c *conn) durableSource(ro *transport.ReceiverOptions, filter string) {
	if c.session == nil {
		return
	}
	ro.Name = subscriptionName(c.clientID, filter)
	if ro.Source == nil {
		ro.Source = &frames.Source{Address: filter}
	}
	ro.Source.Durable, ro.Source.ExpiryPolicy = 2, "never"
	ro.Source.Capabilities = append(ro.Source.Capabilities, "global")
}

// newReceiver attaches a subscription's receiver. A persistent session's
// durable subscription admits one consumer, and the connection it was
// taken over from may still be detaching on the server side (its AMQP
// close is answered before its links are gone): such an attach is
// retried until ctx ends.
func (c *conn) newReceiver(ctx context.Context, filter string, ro transport.ReceiverOptions) (*transport.Receiver, error) {
	for wait := 5 * time.Millisecond; ; wait = min(2*wait, 200*time.Millisecond) {
		r, err := c.sess.NewReceiver(ctx, filter, ro)
		var fe *frames.Error
		if err == nil || c.session == nil || ro.Source == nil || ro.Source.Durable == 0 ||
			!errors.As(err, &fe) || fe == nil || fe.Condition != frames.ErrResourceLocked {
			return r, err
		}
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return nil, err
		}
	}
}

// recordSubscriptions stores the session's subscriptions after a
// SUBSCRIBE, before SUBACK; it reports failure for the SUBACK codes.
func (c *conn) recordSubscriptions(p *packets.Subscribe, codes []packets.ReasonCode) {
	sess := c.session
	if sess == nil {
		return
	}
	var subID uint32
	if ids := p.Properties.SubscriptionIdentifiers; len(ids) > 0 {
		subID = ids[0]
	}
	for i, o := range p.Subscriptions {
		if codes[i].IsError() {
			continue
		}
		r := subRecord{qos: byte(codes[i]), flags: subFlags(o), subID: subID}
		if old, ok := sess.subs[o.Filter]; !ok || old != r {
			sess.subs[o.Filter] = r
			sess.dirty = true
		}
	}
	if !sess.dirty {
		return
	}
	if err := c.s.sessions.save(sess); err != nil {
		c.log.Warn("cannot store the MQTT session's subscriptions", "err", err)
		for i := range codes {
			if !codes[i].IsError() {
				codes[i] = packets.ReasonUnspecifiedError
			}
		}
	}
}

// dropSubscription deletes an unsubscribed filter's durable subscription
// and records the session without it; it reports whether the session had
// the filter.
func (c *conn) dropSubscription(filter string) bool {
	sess := c.session
	if sess == nil {
		return false
	}
	if _, ok := sess.subs[filter]; !ok {
		return false
	}
	delete(sess.subs, filter)
	if err := c.s.sessions.save(sess); err != nil {
		c.log.Warn("cannot store the MQTT session's subscriptions", "err", err)
	}
	if err := c.s.sessions.store.DropSubscription(c.space, subscriptionName(c.clientID, filter)); err != nil {
		c.log.Warn("cannot delete an unsubscribed durable subscription", "filter", filter, "err", err)
	}
	return true
}

// storeOut makes a QoS 1/2 message to a persistent session's client the
// session's: the message is written to the session store in the
// background and its AMQP delivery accepted once that is durable, so an
// unacknowledged message survives a reconnect or a restart as the same
// packet identifier. The caller set m.key and m.stored before m went into
// c.inflight under id; storeOut closes m.stored once the write has ended.
// The records queue in c.outs; writeOut writes what has queued in one
// PutMany.
func (c *conn) storeOut(id uint16, m *outMsg, p *packets.Publish) {
	rec := childRecord(recOutgoing, c.session.key, id)
	rec = append(rec, 0)
	n := len(rec)
	rec, err := packets.Append(rec, p, packets.Version5)
	if err != nil {
		c.log.Warn("cannot store an outgoing message", "err", err)
		c.mu.Lock()
		m.key = 0
		c.mu.Unlock()
		close(m.stored)
		return
	}
	c.mu.Lock()
	m.raw = rec[n:]
	c.mu.Unlock()
	c.storing.Add(1)
	o := c.outs
	o.mu.Lock()
	o.pending = append(o.pending, outRec{m: m, rec: rec})
	start := !o.running
	o.running = true
	o.mu.Unlock()
	if start {
		go c.writeOut()
	}
}

// outStore queues a persistent session's outgoing message records for
// writeOut, which runs while there are any: one goroutine, one store
// request and one fsync for every batch instead of for every message.
type outStore struct {
	mu      sync.Mutex
	pending []outRec
	running bool // a writeOut goroutine owns pending
}

// maxOutBatch bounds the records of one SessionStore.PutMany.
const maxOutBatch = 16 << 20

type outRec struct {
	m   *outMsg
	rec []byte
}

// writeOut writes the queued records of storeOut, a batch at a time,
// until none are left.
func (c *conn) writeOut() {
	o, st := c.outs, c.s.sessions.store
	var keys []uint64
	var data [][]byte
	for {
		o.mu.Lock()
		if len(o.pending) == 0 {
			o.running = false
			o.mu.Unlock()
			return
		}
		// At most maxOutBatch bytes per write (at least one record), so
		// that a batch is never over the store's limit and is written
		// whole or not at all.
		n, size := 0, 0
		for n < len(o.pending) && (n == 0 || size+len(o.pending[n].rec) <= maxOutBatch) {
			size += len(o.pending[n].rec)
			n++
		}
		batch := o.pending[:n:n]
		o.pending = o.pending[n:]
		o.mu.Unlock()
		keys, data = keys[:0], data[:0]
		for _, r := range batch {
			keys = append(keys, r.m.key) // set before storeOut, changed only by stored
			data = append(data, r.rec)
		}
		ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
		err := st.PutMany(ctx, keys, data)
		cancel()
		if err != nil {
			c.log.Warn("cannot store outgoing messages", "count", len(batch), "err", err)
		}
		for _, r := range batch {
			c.stored(r.m, err)
		}
		clear(data) // keeps no record alive until the next batch
	}
}

// stored ends the write of m's record: written (err nil), the session
// owns the message and its AMQP delivery is accepted (or, if PUBACK or
// PUBCOMP came meanwhile, the record is deleted again); not written, m
// stays the broker's, unaccepted.
func (c *conn) stored(m *outMsg, err error) {
	defer c.storing.Done()
	defer close(m.stored)
	c.mu.Lock()
	d, done := m.d, m.done
	if err == nil {
		m.d = nil // the session owns the message now
	} else {
		m.key = 0
	}
	key := m.key
	c.mu.Unlock()
	if err != nil {
		return
	}
	if done {
		c.s.sessions.store.DeleteAsync(key)
	}
	if d != nil {
		d.Settle(frames.Accepted{})
	}
}

// releaseOut answers PUBREC for a persistent session's stored QoS 2
// message: the record says PUBREC came before PUBREL goes out, so that
// after a reconnect PUBREL, not the PUBLISH, is resent. It reports false
// for a message without a record (the caller answers at once). The
// records are written by relLoop, in batches sharing an fsync, and the
// PUBRELs go out in PUBREC order [MQTT-4.6.0-3].
func (c *conn) releaseOut(id uint16, m *outMsg) bool {
	if c.relq == nil || m.stored == nil {
		return false
	}
	select {
	case c.relq <- relItem{id: id, m: m}:
	case <-c.ctx.Done():
	}
	return true
}

type relItem struct {
	id uint16
	m  *outMsg
}

// relLoop writes the released state of stored QoS 2 messages and then
// their PUBRELs.
func (c *conn) relLoop() {
	defer c.wg.Done()
	st := c.s.sessions.store
	var batch []relItem
	for {
		batch = batch[:0]
		select {
		case it := <-c.relq:
			batch = append(batch, it)
		case <-c.ctx.Done():
			return
		}
	more:
		for len(batch) < cap(c.relq) {
			select {
			case it := <-c.relq:
				batch = append(batch, it)
			default:
				break more
			}
		}
		// Each record says PUBREC came, once the message's own record
		// is written (storeOut); one PutMany for the batch.
		var keys []uint64
		var data [][]byte
		var marked []*outMsg
		for _, it := range batch {
			select {
			case <-it.m.stored:
			case <-c.ctx.Done():
				return
			}
		}
		c.mu.Lock()
		for _, it := range batch {
			if key := it.m.key; key != 0 {
				keys = append(keys, key)
				data = append(data, append(childRecord(recOutgoing, c.session.key, it.id), 1))
				marked = append(marked, it.m)
			}
		}
		c.mu.Unlock()
		if len(keys) > 0 {
			ctx, cancel := context.WithTimeout(c.ctx, storeTimeout)
			err := st.PutMany(ctx, keys, data)
			cancel()
			if err != nil {
				c.log.Warn("cannot store PUBRECs", "count", len(keys), "err", err)
			} else {
				c.mu.Lock()
				for _, m := range marked {
					m.released = true
				}
				c.mu.Unlock()
			}
		}
		for _, it := range batch {
			if c.write(&packets.Pubrel{PacketID: it.id}) != nil {
				return
			}
		}
	}
}

// forgetOut deletes the record of a completed stored message.
func (c *conn) forgetOut(m *outMsg) {
	if m.stored == nil {
		return
	}
	select {
	case <-m.stored:
		c.mu.Lock()
		key := m.key
		c.mu.Unlock()
		if key != 0 {
			c.s.sessions.store.DeleteAsync(key)
		}
	default: // storeOut deletes it when its write ends
	}
}

// storeQoS2In records a QoS 2 packet identifier whose message the broker
// accepted, before PUBREC: a PUBLISH resent with it after a reconnect or
// restart is not forwarded again [MQTT-4.3.3-10].
func (c *conn) storeQoS2In(id uint16) uint64 {
	if c.session == nil {
		return 0
	}
	k := c.s.sessions.nextKey.Add(1)
	ctx, cancel := context.WithTimeout(c.ctx, storeTimeout)
	defer cancel()
	if err := c.s.sessions.store.Put(ctx, k, childRecord(recQoS2In, c.session.key, id)); err != nil {
		c.log.Warn("cannot store a QoS 2 packet identifier", "err", err)
		return 0
	}
	return k
}

// forgetQoS2In deletes a released QoS 2 packet identifier, before PUBCOMP
// lets the client use it again.
func (c *conn) forgetQoS2In(key uint64) {
	if key == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(c.ctx, storeTimeout)
	defer cancel()
	if err := c.s.sessions.store.Delete(ctx, key); err != nil {
		c.log.Warn("cannot delete a QoS 2 packet identifier", "err", err)
	}
}
