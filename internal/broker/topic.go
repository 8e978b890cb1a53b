package broker

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"

	"github.com/enmasse-go/enmasse/internal/amqp/frames"
	"github.com/enmasse-go/enmasse/internal/amqp/transport"
	"github.com/enmasse-go/enmasse/internal/amqp/types"
)

// Topics (SPEC §4) are built from queues: every subscriber owns a queue
// bound to the topic with a filter, and a published message is enqueued on
// every subscription queue whose filter matches its subject. So competing
// consumers, settlement, redelivery and the journal work for subscriptions
// exactly as for queues.
//
//   - A receiver attached to the topic address, or to a name below it with
//     MQTT wildcards (`sensors/+/temp`, `sensors/#`), gets a private,
//     non-durable subscription that lives as long as its link. Filters
//     match MQTT-style: `+` one level, `#` any number of levels (including
//     none) at the end; `sensors` alone matches only `sensors`.
//   - A `subscription` address `{topic}::{name}` is a durable subscription
//     on the whole topic (`{topic}/#`): it keeps messages while nobody is
//     attached and survives restarts. At most maxConsumers consumers may
//     attach (1 = exclusive, the EnMasse default; SetMaxConsumers sets the
//     Address's spec.subscription.maxConsumers, more = shared); one more
//     is refused with amqp:resource-locked.
//   - The AMQP/JMS way: a receiver on the topic whose source is durable
//     (terminus durability > 0) gets a durable subscription named after its
//     link (`{container-id}:{link name}`, or the link name alone with the
//     `global` capability; a `|N` suffix of shared subscribers is stripped
//     so that shared subscribers meet on one subscription).
//   - Shared non-durable subscriptions (JMS 2.0 shared consumers, MQTT
//     `$share/{group}/{filter}` through the gateway): a receiver whose
//     non-durable source has the capability `shared` joins the
//     subscription named like a durable one (link name without `|N`,
//     prefixed with the container id unless the source also has
//     `global`), created with the link's address as filter by its first
//     member. Members compete for its messages (each message goes to one
//     of them); a member's unsettled messages go to the others when it
//     leaves, and the subscription ends with its last member.
//
// A durable message published to a topic is journaled once per durable
// subscription that takes it, in one batch, and accepted after that batch's
// fsync.

// topic is one topic address; mu guards subs and the retained messages.
type topic struct {
	space, name   string
	mu            sync.Mutex
	subs          []*subscription
	retained      map[string]*retained     // by full topic name
	shared        map[string]*subscription // shared non-durable, by name
	retainedBytes int64
	retSeq        uint64
}

// subscription binds a queue to a topic.
type subscription struct {
	q            *queue
	filter       []string // levels; "+" and "#" are wildcards
	durable      bool
	maxConsumers int // 0 = unlimited
	members      int // shared non-durable: attached links (topic.mu)
}

// ErrBadFilter: a topic filter with misplaced wildcards.
var ErrBadFilter = errors.New("invalid topic filter")

func levels(s string) []string { return strings.Split(s, "/") }

// validFilter checks MQTT wildcard placement: `+` and `#` alone in their
// level, `#` last.
func validFilter(f []string) error {
	for i, l := range f {
		switch {
		case l == "#" && i != len(f)-1:
			return fmt.Errorf("%w: %q is allowed only as the last level", ErrBadFilter, "#")
		case l != "#" && l != "+" && strings.ContainsAny(l, "#+"):
			return fmt.Errorf("%w: a wildcard must fill a whole level, not %q", ErrBadFilter, l)
		}
	}
	return nil
}

// matches reports whether subject (levels) matches filter (levels).
func matches(filter, subject []string) bool {
	for i, f := range filter {
		if f == "#" {
			return true
		}
		if i >= len(subject) {
			return false
		}
		if f != "+" && f != subject[i] {
			return false
		}
	}
	return len(filter) == len(subject)
}

// matchesName is matches with the subject as a name: it walks its levels
// without splitting it, as publish runs it for every subscription of
// every message.
func matchesName(filter []string, subject string) bool {
	for i, f := range filter {
		if f == "#" {
			return true
		}
		if i > 0 {
			j := strings.IndexByte(subject, '/')
			if j < 0 {
				return false // fewer levels than the filter
			}
			subject = subject[j+1:]
		}
		if f != "+" {
			if len(subject) < len(f) || subject[:len(f)] != f || len(subject) > len(f) && subject[len(f)] != '/' {
				return false
			}
		}
	}
	return len(filter) > 0 && strings.IndexByte(subject, '/') < 0
}

// topicFor finds the topic an address belongs to: the address itself or its
// longest prefix at a `/` boundary that is a topic.
func (b *Broker) topicFor(space, address string) *topic {
	b.mu.Lock()
	defer b.mu.Unlock()
	for name := address; ; {
		if t := b.topics[key{space, name}]; t != nil {
			return t
		}
		i := strings.LastIndexByte(name, '/')
		if i < 0 {
			return nil
		}
		name = name[:i]
	}
}

func (t *topic) add(s *subscription) {
	t.mu.Lock()
	t.subs = append(t.subs, s)
	t.mu.Unlock()
}

func (t *topic) remove(q *queue) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for i, s := range t.subs {
		if s.q == q {
			t.subs = append(t.subs[:i:i], t.subs[i+1:]...)
			return
		}
	}
}

func (t *topic) subscription(q *queue) *subscription {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, s := range t.subs {
		if s.q == q {
			return s
		}
	}
	return nil
}

// publish enqueues a message on every matching subscription, keeps it as
// the retained message of subject when it asks so, and settles d: at once,
// or after the journal batch of its durable copies and retained record.
// md is the message's meta (inspect, inspectRaw).
func (t *topic) publish(b *Broker, subject string, d *transport.Delivery, md meta) {
	payload := d.Payload()
	journal := b.opts.Store != nil && md.durable
	// settle is made only for an outcome that waits (journal, sync, a
	// clear's records): a closure per message otherwise.
	var settle func(error)
	t.mu.Lock()
	var jobs []journalJob
	deleted := false
	var cw *clearWait // a clear's acceptance waiting for records still being written
	if md.retain {
		clearing := emptyBody(payload)
		if clearing {
			cw = &clearWait{pending: 1, done: settleFunc(d)}
		}
		var job *journalJob
		if job, deleted = t.retainLocked(b, subject, payload, clearing, &md, cw); job != nil {
			jobs = append(jobs, *job)
		}
		if cw != nil && cw.pending > 1 {
			// The publication holds one; the records' writes the others.
			settle = func(err error) {
				t.mu.Lock()
				defer t.mu.Unlock()
				cw.releaseLocked(b, err)
			}
		}
	}
	var over []*queue // queues this message took over a memory limit
	for _, s := range t.subs {
		if !matchesName(s.filter, subject) {
			continue
		}
		s.q.mu.Lock()
		if !(journal && s.durable) && s.q.sendNowLocked(payload, &md) {
			s.q.mu.Unlock()
			continue
		}
		m := s.q.addLocked(payload, 0, 0, &md)
		if journal && s.durable {
			m.key = b.nextKey.Add(1)
			m.writing++
			jobs = append(jobs, journalJob{q: s.q, m: m, rec: messageRecord(s.q, m, payload)})
		}
		if own, global := s.q.overLocked(); own || global {
			over = append(over, s.q)
		}
		s.q.mu.Unlock()
	}
	t.mu.Unlock()
	defer func() {
		for _, q := range over {
			q.page()
		}
	}()
	if settle == nil && (len(jobs) > 0 || deleted) {
		settle = settleFunc(d)
	}
	switch {
	case len(jobs) > 0:
		// A tombstone queued before this batch is durable with it.
		b.journal.submit(settle, jobs...)
	case deleted:
		b.syncThen(settle)
	case settle != nil:
		settle(nil)
	default:
		d.Settle(frames.Accepted{})
	}
}

// settleFunc settles d with the outcome of storing it: accepted, or
// rejected with the error.
func settleFunc(d *transport.Delivery) func(error) {
	return func(err error) {
		if err != nil {
			d.Settle(frames.Rejected{Error: frames.Errorf(frames.ErrInternal, "the message could not be stored: %v", err)})
			return
		}
		d.Settle(frames.Accepted{})
	}
}

// sharedSuffix matches the "|N" Qpid JMS appends to shared subscribers'
// link names.
var sharedSuffix = regexp.MustCompile(`\|\d+$`)

// attachTopic binds a link on a topic address (or a name below it).
func (b *Broker) attachTopic(l *transport.Link, t *topic, address string) (*binding, error) {
	if !l.IsSender() {
		// A producer: messages are published with the link's address as
		// subject.
		if err := validFilter(levels(address)); err != nil || strings.ContainsAny(address, "+#") {
			return nil, frames.Errorf(frames.ErrInvalidField, "cannot publish to %q: wildcards are for subscribers", address)
		}
		return &binding{topic: t, subject: address}, nil
	}
	filter := levels(address)
	if err := validFilter(filter); err != nil {
		return nil, frames.Errorf(frames.ErrInvalidField, "%v", err)
	}
	a := l.RemoteAttach()
	if a.Source != nil && hasCapability(a.Source.Capabilities, CapabilityRetainedOnly) {
		return b.attachRetainedOnly(l, t, filter), nil
	}
	if durableSource(l) {
		return b.attachJMSDurable(l, t, filter, a.Source.Capabilities)
	}
	if a.Source != nil && hasCapability(a.Source.Capabilities, "shared") {
		return b.attachShared(l, t, filter, a.Source.Capabilities), nil
	}
	q := &queue{b: b, space: t.space, name: address, typ: "subscription"}
	t.mu.Lock()
	t.subs = append(t.subs, &subscription{q: q, filter: filter})
	if a.Source != nil && hasCapability(a.Source.Capabilities, CapabilityRetained) {
		t.seedRetainedLocked(b, q, filter, false)
	}
	t.mu.Unlock()
	c := &consumer{link: l, unacked: map[*transport.Delivery]*msg{}}
	q.mu.Lock()
	q.consumers = append(q.consumers, c)
	q.mu.Unlock()
	return &binding{q: q, consumer: c, topic: t, private: true}, nil
}

// linkSubscriptionName is the subscription name a JMS-style link asks
// for: its name without a `|N` suffix, prefixed with the container id
// unless caps has `global`.
func linkSubscriptionName(l *transport.Link, caps []types.Symbol) string {
	name := sharedSuffix.ReplaceAllString(l.Name(), "")
	if !hasCapability(caps, "global") {
		if o := l.Session().Conn().RemoteOpen(); o != nil && o.ContainerID != "" {
			name = o.ContainerID + ":" + name
		}
	}
	return name
}

// attachShared adds l as a member of a shared non-durable subscription,
// creating it with filter when it is the first.
func (b *Broker) attachShared(l *transport.Link, t *topic, filter []string, caps []types.Symbol) *binding {
	name := linkSubscriptionName(l, caps)
	c := &consumer{link: l, unacked: map[*transport.Delivery]*msg{}}
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.shared[name]
	if s == nil {
		s = &subscription{q: &queue{b: b, space: t.space, name: t.name + "::" + name, typ: "subscription"}, filter: filter}
		if t.shared == nil {
			t.shared = map[string]*subscription{}
		}
		t.shared[name] = s
		t.subs = append(t.subs, s)
	}
	s.members++
	s.q.mu.Lock()
	s.q.consumers = append(s.q.consumers, c)
	s.q.mu.Unlock()
	return &binding{q: s.q, consumer: c, topic: t, shared: name}
}

// leaveShared ends a member's part in a shared subscription; the last one
// removes it (its remaining messages are dropped).
func (t *topic) leaveShared(name string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.shared[name]
	if s == nil {
		return
	}
	if s.members--; s.members > 0 {
		return
	}
	delete(t.shared, name)
	for i, x := range t.subs {
		if x == s {
			t.subs = append(t.subs[:i:i], t.subs[i+1:]...)
			break
		}
	}
	s.q.purge()
}

// attachJMSDurable attaches a durable subscription named by the link.
func (b *Broker) attachJMSDurable(l *transport.Link, t *topic, filter []string, caps []types.Symbol) (*binding, error) {
	maxConsumers := 1
	if hasCapability(caps, "shared") {
		maxConsumers = 0
	}
	name := linkSubscriptionName(l, caps)
	if err := reservedName(l, name); err != nil {
		return nil, err
	}
	subName := t.name + "::" + name
	if err := b.ensureSubscription(t, subName, filter, maxConsumers, true, hasCapability(caps, CapabilityRetained)); err != nil {
		return nil, frames.Errorf(frames.ErrInternal, "%v", err)
	}
	if testHookDurableAttach != nil {
		testHookDurableAttach(subName)
	}
	q := b.lookup(t.space, subName)
	if q == nil { // its topic was deleted meanwhile
		return nil, frames.Errorf(frames.ErrResourceDeleted, "subscription %q was deleted", subName)
	}
	return b.bindConsumer(l, q)
}

// testHookDurableAttach, when set by a test, runs between creating (or
// finding) a durable subscription and binding a consumer to it.
var testHookDurableAttach func(subscription string)

// GatewayMQTT is the transport.Options.Gateway of the in-process MQTT
// gateway's connections, and MQTTSubscriptionPrefix starts the names of
// its sessions' durable subscriptions (mqtt.SubscriptionPrefix): only
// its connections may attach to, reattach to or close such a
// subscription, so that another client can neither drain nor delete an
// MQTT session's messages by naming its link after it.
const (
	GatewayMQTT            = "mqtt"
	MQTTSubscriptionPrefix = "mqtt:"
)

// reservedName refuses a durable subscription name reserved to a gateway
// for a link on another connection.
func reservedName(l *transport.Link, name string) error {
	if strings.HasPrefix(name, MQTTSubscriptionPrefix) && l.Session().Conn().Gateway() != GatewayMQTT {
		return frames.Errorf(frames.ErrUnauthorizedAccess, "durable subscription names starting with %q belong to MQTT sessions", MQTTSubscriptionPrefix)
	}
	return nil
}

// ensureSubscription creates a durable subscription queue on t
// (idempotent); onAttach records that a receiver's attach, not an
// address, created it; a new one gets the matching retained messages when
// seed is set. An address (onAttach false) adopts one an attach made: it
// is journaled as the address's from then on, which a consumer's close
// does not delete.
func (b *Broker) ensureSubscription(t *topic, name string, filter []string, maxConsumers int, onAttach, seed bool) error {
	b.mu.Lock()
	k := key{t.space, name}
	if q := b.queues[k]; q != nil {
		defer b.mu.Unlock()
		if onAttach || !q.subOnAttach {
			return nil
		}
		return b.rejournalLocked(q, func() { q.subOnAttach = false }, func() { q.subOnAttach = true })
	}
	q := &queue{b: b, space: t.space, name: name, typ: "subscription",
		subFilter: strings.Join(filter, "/"), subMaxConsumers: maxConsumers, subOnAttach: onAttach}
	if err := b.persistQueue(q); err != nil {
		b.mu.Unlock()
		return err
	}
	b.queues[k] = q
	b.mu.Unlock()
	t.mu.Lock()
	t.subs = append(t.subs, &subscription{q: q, filter: filter, durable: true, maxConsumers: maxConsumers})
	if seed {
		t.seedRetainedLocked(b, q, filter, true)
	}
	t.mu.Unlock()
	return nil
}

// splitSubscription splits `{topic}::{name}`.
func splitSubscription(address string) (topicName, name string, ok bool) {
	i := strings.Index(address, "::")
	if i <= 0 || i+2 >= len(address) {
		return "", "", false
	}
	return address[:i], address[i+2:], true
}
