package broker

import (
	"fmt"
	"slices"
	"strings"

	"github.com/enmasse-go/enmasse/internal/amqp/transport"
	"github.com/enmasse-go/enmasse/internal/amqp/types"
)

// DeleteSubscriptions deletes every durable subscription of space named
// `{topic}::{name}`, whatever its topic, with its messages (the MQTT
// gateway names a persistent session's subscriptions without knowing
// which topic address resolves their filter). It returns how many it
// deleted.
func (b *Broker) DeleteSubscriptions(space, name string) int {
	b.mu.Lock()
	qs := b.subscriptionsNamedLocked(space, name)
	b.mu.Unlock()
	n := 0
	for _, q := range qs {
		if b.DeleteAddress(space, q.name) == nil {
			n++
		}
	}
	return n
}

// subscriptionsNamedLocked lists the durable subscriptions of space named
// `{topic}::{name}`, whatever the topic, in address order; b.mu held.
func (b *Broker) subscriptionsNamedLocked(space, name string) []*queue {
	suffix := "::" + name
	var qs []*queue
	for k, q := range b.queues {
		if k.space == space && q.typ == "subscription" && strings.HasSuffix(k.name, suffix) {
			if tn, n, ok := splitSubscription(k.name); ok && n == name && tn != "" {
				qs = append(qs, q)
			}
		}
	}
	slices.SortFunc(qs, func(a, b *queue) int { return strings.Compare(a.name, b.name) })
	return qs
}

// LinkSubscription finds the durable subscription a receiver link asks
// for by name alone, with no source address (Qpid JMS attaches so to
// unsubscribe): `{topic}::{name}` of space, name made from the link's
// name and capabilities as for attaching to a topic (a container's own
// unless `global`). It returns the address the subscription was created
// with (its topic, or a name or filter below it); with several topics
// holding one of that name, the first in name order.
func (b *Broker) LinkSubscription(l *transport.Link, space string) (address string, ok bool) {
	var caps []types.Symbol
	if a := l.RemoteAttach(); a != nil && a.Source != nil {
		caps = a.Source.Capabilities
	}
	name := linkSubscriptionName(l, caps)
	if reservedName(l, name) != nil {
		return "", false
	}
	b.mu.Lock()
	qs := b.subscriptionsNamedLocked(space, name)
	b.mu.Unlock()
	if len(qs) == 0 {
		return "", false
	}
	if qs[0].subFilter != "" {
		return qs[0].subFilter, true
	}
	tn, _, _ := splitSubscription(qs[0].name)
	return tn, true
}

// SubscriptionsWithPrefix lists the names (the part after `::`) of the
// durable subscriptions of every space whose name starts with prefix, by
// space.
func (b *Broker) SubscriptionsWithPrefix(prefix string) map[string][]string {
	out := map[string][]string{}
	b.mu.Lock()
	defer b.mu.Unlock()
	for k, q := range b.queues {
		if q.typ != "subscription" {
			continue
		}
		if _, n, ok := splitSubscription(k.name); ok && strings.HasPrefix(n, prefix) {
			out[k.space] = append(out[k.space], n)
		}
	}
	return out
}

// SetMaxConsumers sets how many consumers the subscription address
// `{topic}::{name}` admits: 1 is exclusive, more is shared, 0 unlimited
// (an Address's spec.subscription.maxConsumers). Consumers already
// attached beyond a lowered limit stay. The limit is journaled with the
// subscription. It is idempotent.
func (b *Broker) SetMaxConsumers(space, address string, n int) error {
	tn, _, ok := splitSubscription(address)
	b.mu.Lock()
	q := b.queues[key{space, address}]
	t := b.topics[key{space, tn}]
	b.mu.Unlock()
	if !ok || q == nil || q.typ != "subscription" || t == nil {
		return fmt.Errorf("subscription %q does not exist", address)
	}
	sub := t.subscription(q)
	if sub != nil {
		t.mu.Lock()
		sub.maxConsumers = n
		t.mu.Unlock()
	}
	if sub == nil {
		return fmt.Errorf("subscription %q does not exist", address)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	// Whether the journal needs a new record is told by what it holds
	// (q.subMaxConsumers, restored on failure), not by the live limit:
	// so a failed write is retried by the next call.
	if b.queues[key{space, address}] != q || q.subMaxConsumers == n {
		return nil // deleted meanwhile, or already journaled
	}
	oldN := q.subMaxConsumers
	return b.rejournalLocked(q, func() { q.subMaxConsumers = n }, func() { q.subMaxConsumers = oldN })
}
