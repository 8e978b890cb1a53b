package mqtt

import (
	"testing"

	"github.com/enmasse-go/enmasse/internal/mqtt/packets"
)

// TestResubscribeChangesQoS: a QoS 0 subscription resubscribed at QoS 1,
// then 2, delivers at the new QoS (the lower of it and the
// publication's) with the full acknowledgement flow [MQTT-3.8.4-3], and
// back at 0 again at QoS 0.
func TestResubscribeChangesQoS(t *testing.T) {
	addr := startGateway(t)
	sub, _ := dialRaw(t, addr, packets.Version5, 0)
	pub := dialConnect(t, addr, &packets.Connect{ProtocolVersion: packets.Version5, CleanStart: true, ClientID: "rq-pub"})
	var pid uint16
	publish := func(qos byte, payload string) {
		t.Helper()
		pid++
		pub.send(&packets.Publish{Topic: "rq/t", QoS: qos, PacketID: map[bool]uint16{true: pid}[qos > 0], Payload: []byte(payload)})
		switch qos {
		case 1:
			if _, ok := pub.next().(*packets.Puback); !ok {
				t.Fatal("no PUBACK")
			}
		case 2:
			if _, ok := pub.next().(*packets.Pubrec); !ok {
				t.Fatal("no PUBREC")
			}
			pub.send(&packets.Pubrel{PacketID: pid})
			if _, ok := pub.next().(*packets.Pubcomp); !ok {
				t.Fatal("no PUBCOMP")
			}
		}
	}
	expect := func(qos byte, payload string) {
		t.Helper()
		p, ok := sub.next().(*packets.Publish)
		if !ok || string(p.Payload) != payload || p.QoS != qos {
			t.Fatalf("got %#v, want %q at QoS %d", p, payload, qos)
		}
		switch qos {
		case 1:
			sub.send(&packets.Puback{PacketID: p.PacketID})
		case 2:
			sub.send(&packets.Pubrec{PacketID: p.PacketID})
			if rel, ok := sub.next().(*packets.Pubrel); !ok || rel.PacketID != p.PacketID {
				t.Fatalf("PUBREL: %#v", rel)
			}
			sub.send(&packets.Pubcomp{PacketID: p.PacketID})
		}
	}
	subscribe := func(qos byte) {
		t.Helper()
		sub.send(&packets.Subscribe{PacketID: uint16(10 + qos), Subscriptions: []packets.Subscription{{Filter: "rq/t", QoS: qos, RetainHandling: 2}}})
		if sa, ok := sub.next().(*packets.Suback); !ok || sa.ReasonCodes[0] != packets.ReasonCode(qos) {
			t.Fatalf("SUBACK: %#v", sa)
		}
	}
	subscribe(0)
	publish(1, "a")
	expect(0, "a")
	subscribe(1)
	publish(1, "b")
	expect(1, "b")
	publish(2, "c")
	expect(1, "c")
	publish(0, "d")
	expect(0, "d")
	subscribe(2)
	publish(2, "e")
	expect(2, "e")
	subscribe(0)
	publish(2, "f")
	expect(0, "f")
}
