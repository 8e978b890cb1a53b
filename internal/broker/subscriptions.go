package broker

import "strings"

// DeleteSubscriptions deletes every durable subscription of space named
// `{topic}::{name}`, whatever its topic, with its messages (the MQTT
// gateway names a persistent session's subscriptions without knowing
// which topic address resolves their filter). It returns how many it
// deleted.
func (b *Broker) DeleteSubscriptions(space, name string) int {
	suffix := "::" + name
	var names []string
	b.mu.Lock()
	for k, q := range b.queues {
		if k.space == space && q.typ == "subscription" && strings.HasSuffix(k.name, suffix) {
			if tn, n, ok := splitSubscription(k.name); ok && n == name && tn != "" {
				names = append(names, k.name)
			}
		}
	}
	b.mu.Unlock()
	n := 0
	for _, a := range names {
		if b.DeleteAddress(space, a) == nil {
			n++
		}
	}
	return n
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
