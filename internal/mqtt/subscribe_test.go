package mqtt

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/enmasse-go/enmasse/internal/amqp/frames"
	"github.com/enmasse-go/enmasse/internal/amqp/sasl"
	"github.com/enmasse-go/enmasse/internal/amqp/transport"
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

// routerSideBackend hands the test the router's side of every
// connection it opens.
type routerSideBackend struct {
	*testBackend
	sides chan *transport.Conn
}

func (b *routerSideBackend) Connect(ctx context.Context, cred Credentials) (*transport.Conn, error) {
	s, c := net.Pipe()
	go func() {
		if sc, err := transport.Accept(context.Background(), s, b.opts); err == nil {
			b.sides <- sc
		}
	}()
	return transport.NewClientConn(ctx, c, transport.Options{SASL: sasl.NewAnonymousClient("")})
}

// TestRouterEndsConnection: when the router ends a client's AMQP
// connection, a v5 client gets DISCONNECT with the reason (here 0x97 for
// amqp:resource-limit-exceeded) and its will is published, over a
// connection of its own.
func TestRouterEndsConnection(t *testing.T) {
	var b *routerSideBackend
	_, addr := startGatewayWith(t, func(o *Options) {
		b = &routerSideBackend{testBackend: o.Backend.(*testBackend), sides: make(chan *transport.Conn, 4)}
		o.Backend = b
	})
	watcher, _ := dialRaw(t, addr, packets.Version5, 0)
	watcher.send(&packets.Subscribe{PacketID: 1, Subscriptions: []packets.Subscription{{Filter: "ended/#", QoS: 0}}})
	watcher.next()
	<-b.sides
	c := dialConnect(t, addr, &packets.Connect{ProtocolVersion: packets.Version5, CleanStart: true, ClientID: "ended",
		Will: &packets.Will{Topic: "ended/will", Payload: []byte("gone"), QoS: 0}})
	side := <-b.sides
	side.Close(context.Background(), frames.Errorf(frames.ErrResourceLimitExceeded, "too many"))
	got := c.closed(5 * time.Second)
	if len(got) != 1 || got[0].(*packets.Disconnect).ReasonCode != packets.ReasonQuotaExceeded {
		t.Fatalf("%#v, want DISCONNECT 0x97", got)
	}
	if p, ok := watcher.next().(*packets.Publish); !ok || string(p.Payload) != "gone" {
		t.Fatalf("will: %#v", p)
	}
}

// TestNoLocalRetained: a client's own retained message does not reach its
// No Local subscription made afterwards [MQTT-3.8.3-3]; another client's
// subscription gets it.
func TestNoLocalRetained(t *testing.T) {
	addr := startGateway(t)
	c := dialConnect(t, addr, &packets.Connect{ProtocolVersion: packets.Version5, CleanStart: true, ClientID: "nl-self"})
	c.send(&packets.Publish{Topic: "nlr/state", QoS: 1, PacketID: 1, Retain: true, Payload: []byte("mine")})
	if _, ok := c.next().(*packets.Puback); !ok {
		t.Fatal("no PUBACK")
	}
	c.send(&packets.Subscribe{PacketID: 2, Subscriptions: []packets.Subscription{{Filter: "nlr/#", QoS: 1, NoLocal: true}}})
	if _, ok := c.next().(*packets.Suback); !ok {
		t.Fatal("no SUBACK")
	}
	other, _ := dialRaw(t, addr, packets.Version5, 0)
	other.send(&packets.Subscribe{PacketID: 1, Subscriptions: []packets.Subscription{{Filter: "nlr/#", QoS: 1}}})
	if _, ok := other.next().(*packets.Suback); !ok {
		t.Fatal("no SUBACK")
	}
	if p, ok := other.next().(*packets.Publish); !ok || string(p.Payload) != "mine" || !p.Retain {
		t.Fatalf("other client: %#v, want the retained message", p)
	}
	// Another client's publication does reach the No Local subscription,
	// and is the first thing it gets.
	other.send(&packets.Publish{Topic: "nlr/state", QoS: 1, PacketID: 2, Payload: []byte("theirs")})
	for {
		p := c.next()
		if _, ok := p.(*packets.Puback); ok {
			continue
		}
		if pp, ok := p.(*packets.Publish); !ok || string(pp.Payload) != "theirs" {
			t.Fatalf("No Local subscription: %#v, want only the other client's message", p)
		}
		break
	}
}
