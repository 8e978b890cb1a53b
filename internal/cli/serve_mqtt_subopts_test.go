package cli

import (
	"slices"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
)

func subID(n int) *paho.SubscribeProperties {
	return &paho.SubscribeProperties{SubscriptionIdentifier: &n}
}

// ids collects the subscription identifier of each of n messages on
// topic (0 for none), sorted.
func (pc *pahoClient) ids(t *testing.T, topic, payload string, n int) []int {
	t.Helper()
	var out []int
	for range n {
		m := pc.expect(t, topic, payload, 1)
		id := 0
		if m.Properties != nil && m.Properties.SubscriptionIdentifier != nil {
			id = *m.Properties.SubscriptionIdentifier
		}
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

// TestServeMQTTSubscriptionIdentifiers: paho v5 — every PUBLISH carries
// the identifier of the subscription it is sent for [MQTT-3.3.4-3/5]; a
// repeated SUBSCRIBE replaces it.
func TestServeMQTTSubscriptionIdentifiers(t *testing.T) {
	s := startServe(t)
	addr := s.addrs["mqtt"].String()
	c := mqttConnect(t, addr, "sid", nil)
	if p := c.ack.Properties; p == nil || !p.SubIDAvailable {
		t.Fatalf("CONNACK properties %+v: want Subscription Identifiers Available", p)
	}
	c.subscribeWith(t, paho.SubscribeOptions{Topic: "sid/#", QoS: 1}, subID(7))
	c.subscribeWith(t, paho.SubscribeOptions{Topic: "sid/+/x", QoS: 1}, subID(268435455))
	c.subscribeWith(t, paho.SubscribeOptions{Topic: "sid/plain", QoS: 1}, nil)
	pub := mqttConnect(t, addr, "sid-pub", nil)
	pub.publish(t, &paho.Publish{Topic: "sid/a/x", QoS: 1, Payload: []byte("1")})
	if got := c.ids(t, "sid/a/x", "1", 2); !slices.Equal(got, []int{7, 268435455}) {
		t.Fatalf("identifiers %v, want [7 268435455]", got)
	}
	pub.publish(t, &paho.Publish{Topic: "sid/plain", QoS: 1, Payload: []byte("2")})
	if got := c.ids(t, "sid/plain", "2", 2); !slices.Equal(got, []int{0, 7}) {
		t.Fatalf("identifiers %v, want [0 7]", got)
	}
	// Same filter again: the new identifier replaces the old one.
	c.subscribeWith(t, paho.SubscribeOptions{Topic: "sid/#", QoS: 1}, subID(8))
	pub.publish(t, &paho.Publish{Topic: "sid/z", QoS: 1, Payload: []byte("3")})
	if got := c.ids(t, "sid/z", "3", 1); !slices.Equal(got, []int{8}) {
		t.Fatalf("identifiers %v, want [8]", got)
	}
	c.expectNone(t, 100*time.Millisecond)
}

// TestServeMQTTNoLocal: paho v5 — a No Local subscription does not get
// its own client's publications [MQTT-3.8.3-3]; other clients' it does.
func TestServeMQTTNoLocal(t *testing.T) {
	s := startServe(t)
	addr := s.addrs["mqtt"].String()
	a := mqttConnect(t, addr, "nl-a", nil)
	b := mqttConnect(t, addr, "nl-b", nil)
	a.subscribeWith(t, paho.SubscribeOptions{Topic: "nl/#", QoS: 1, NoLocal: true}, nil)
	b.subscribeWith(t, paho.SubscribeOptions{Topic: "nl/#", QoS: 1, NoLocal: true}, nil)
	a.publish(t, &paho.Publish{Topic: "nl/x", QoS: 1, Payload: []byte("from-a")})
	b.expect(t, "nl/x", "from-a", 1)
	b.publish(t, &paho.Publish{Topic: "nl/y", QoS: 1, Payload: []byte("from-b")})
	a.expect(t, "nl/y", "from-b", 1)
	a.expectNone(t, 200*time.Millisecond)
	b.expectNone(t, 10*time.Millisecond)
	// A second subscription of a without No Local gets a's own message,
	// the No Local one still does not.
	a.subscribeWith(t, paho.SubscribeOptions{Topic: "nl/x", QoS: 1}, subID(5))
	a.publish(t, &paho.Publish{Topic: "nl/x", QoS: 1, Payload: []byte("again")})
	if got := a.ids(t, "nl/x", "again", 1); !slices.Equal(got, []int{5}) {
		t.Fatalf("a got its message through identifiers %v, want only [5]", got)
	}
	a.expectNone(t, 200*time.Millisecond)
}
