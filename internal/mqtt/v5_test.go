package mqtt

import (
	"testing"
	"time"

	"github.com/enmasse-go/enmasse/internal/amqp/message"
	"github.com/enmasse-go/enmasse/internal/mqtt/packets"
)

func TestPayloadFormatIndicator(t *testing.T) {
	addr := startGateway(t)
	sub, _ := dialRaw(t, addr, packets.Version5, 0)
	sub.send(&packets.Subscribe{PacketID: 1, Subscriptions: []packets.Subscription{{Filter: "pfi/#", QoS: 1}}})
	sub.next()
	pub, _ := dialRawConnect(t, addr, &packets.Connect{ProtocolVersion: packets.Version5, CleanStart: true, ClientID: "pfi-pub"})
	utf := packets.Properties{PayloadFormatIndicator: 1}
	pub.send(&packets.Publish{Topic: "pfi/text", QoS: 1, PacketID: 1, Payload: []byte("héllo"), Properties: utf})
	if ack := pub.next().(*packets.Puback); ack.ReasonCode != packets.ReasonSuccess {
		t.Fatalf("PUBACK %v", ack.ReasonCode)
	}
	gp := sub.next()
	got, ok := gp.(*packets.Publish)
	if !ok {
		t.Fatalf("got %+v", gp)
	}
	if string(got.Payload) != "héllo" || got.Properties.PayloadFormatIndicator != 1 {
		t.Fatalf("got %q indicator %d, want it unaltered [MQTT-3.3.2-4]", got.Payload, got.Properties.PayloadFormatIndicator)
	}
	sub.send(&packets.Puback{PacketID: got.PacketID})
	// Not UTF-8 although marked so: 0x99, with a reason string.
	pub.send(&packets.Publish{Topic: "pfi/bad", QoS: 1, PacketID: 2, Payload: []byte{0xff, 0xfe}, Properties: utf})
	if ack := pub.next().(*packets.Puback); ack.ReasonCode != packets.ReasonPayloadFormatInvalid || ack.Properties.ReasonString == "" {
		t.Fatalf("PUBACK %v %q, want 0x99 with a reason string", ack.ReasonCode, ack.Properties.ReasonString)
	}
	pub.send(&packets.Publish{Topic: "pfi/bad", QoS: 2, PacketID: 3, Payload: []byte{0xc3}, Properties: utf})
	if rec := pub.next().(*packets.Pubrec); rec.ReasonCode != packets.ReasonPayloadFormatInvalid {
		t.Fatalf("PUBREC %v, want 0x99", rec.ReasonCode)
	}
	// Plain bytes carry no indicator.
	pub.send(&packets.Publish{Topic: "pfi/raw", QoS: 1, PacketID: 4, Payload: []byte{0xff}})
	pub.next()
	if got := sub.next().(*packets.Publish); got.Topic != "pfi/raw" || got.Properties.PayloadFormatIndicator != 0 {
		t.Fatalf("got %s indicator %d", got.Topic, got.Properties.PayloadFormatIndicator)
	}

	// A will marked UTF-8 that is not: CONNACK 0x99.
	_, ack := dialRawConnect(t, addr, &packets.Connect{ProtocolVersion: packets.Version5, CleanStart: true, ClientID: "bad-will",
		Will: &packets.Will{Topic: "pfi/will", Payload: []byte{0xff}, Properties: utf}})
	if ack.ReasonCode != packets.ReasonPayloadFormatInvalid {
		t.Fatalf("CONNACK %v, want 0x99", ack.ReasonCode)
	}
}

func TestPayloadFormatMapping(t *testing.T) {
	// MQTT → AMQP: a data section and an annotation.
	b, err := toAMQP(nil, &packets.Publish{Topic: "t", Payload: []byte("x"), Properties: packets.Properties{PayloadFormatIndicator: 1}})
	if err != nil {
		t.Fatal(err)
	}
	m, err := message.Unmarshal(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Data) != 1 || string(m.Data[0]) != "x" || len(m.MessageAnnotations) != 1 || m.MessageAnnotations[0].Key != annotationPayloadFormat {
		t.Fatalf("got %+v", m)
	}
	f, _ := decodeAMQP(b)
	if f.properties.PayloadFormatIndicator != 1 {
		t.Fatal("indicator lost on the way back")
	}
	// AMQP → MQTT: a string amqp-value is UTF-8 text; binary is not.
	for _, tc := range []struct {
		value any
		want  byte
	}{{"text", 1}, {[]byte("bytes"), 0}} {
		b, _ := (&message.Message{Value: tc.value, HasValue: true}).Marshal(nil)
		f, err := decodeAMQP(b)
		if err != nil || f.properties.PayloadFormatIndicator != tc.want {
			t.Errorf("value %q: indicator %d (%v), want %d", tc.value, f.properties.PayloadFormatIndicator, err, tc.want)
		}
	}
	// The annotation on bytes that are not UTF-8 is not passed on.
	b, _ = toAMQP(nil, &packets.Publish{Topic: "t", Payload: []byte{0xff}, Properties: packets.Properties{PayloadFormatIndicator: 1}})
	if f, _ := decodeAMQP(b); f.properties.PayloadFormatIndicator != 0 {
		t.Error("indicator 1 on a payload that is not UTF-8")
	}
}

func TestRequestProblemAndResponseInformation(t *testing.T) {
	addr := startGateway(t)
	c, ack := dialRawConnect(t, addr, &packets.Connect{ProtocolVersion: packets.Version5, CleanStart: true, ClientID: "quiet",
		Properties: packets.Properties{RequestProblemInformation: 0, HasRequestProblemInformation: true, RequestResponseInformation: 1}})
	if ack.Properties.ResponseInformation != "response/quiet" {
		t.Fatalf("Response Information %q, want response/quiet", ack.Properties.ResponseInformation)
	}
	c.send(&packets.Publish{Topic: "rpi/bad", QoS: 1, PacketID: 1, Payload: []byte{0xff}, Properties: packets.Properties{PayloadFormatIndicator: 1}})
	if p := c.next().(*packets.Puback); p.ReasonCode != packets.ReasonPayloadFormatInvalid || p.Properties.ReasonString != "" {
		t.Fatalf("PUBACK %v %q, want 0x99 without a reason string [MQTT-3.1.2-29]", p.ReasonCode, p.Properties.ReasonString)
	}
	// Not requested, or a client identifier that is no topic level: none.
	for _, id := range []string{"plain", "a/b"} {
		rri := byte(1)
		if id == "plain" {
			rri = 0
		}
		_, ack := dialRawConnect(t, addr, &packets.Connect{ProtocolVersion: packets.Version5, CleanStart: true, ClientID: id,
			Properties: packets.Properties{RequestResponseInformation: rri}})
		if ack.Properties.ResponseInformation != "" {
			t.Fatalf("%s: Response Information %q", id, ack.Properties.ResponseInformation)
		}
	}
}

// TestServerKeepAlive: with Options.MaxKeepAlive a v5 client asking for
// no keep-alive or a longer one is told the cap and held to it.
func TestServerKeepAlive(t *testing.T) {
	_, addr := startGatewayWith(t, func(o *Options) { o.MaxKeepAlive = 1 })
	for _, ka := range []uint16{0, 60} {
		c, ack := dialRawConnect(t, addr, &packets.Connect{ProtocolVersion: packets.Version5, CleanStart: true,
			ClientID: "ka", KeepAlive: ka})
		if !ack.Properties.HasServerKeepAlive || ack.Properties.ServerKeepAlive != 1 {
			t.Fatalf("keep-alive %d: CONNACK %+v, want Server Keep Alive 1", ka, ack.Properties)
		}
		got := c.closed(5 * time.Second)
		if len(got) != 1 || got[0].(*packets.Disconnect).ReasonCode != packets.ReasonKeepAliveTimeout {
			t.Fatalf("keep-alive %d: got %v, want DISCONNECT 0x8D after 1.5 s", ka, got)
		}
	}
	// Within the cap: as asked, nothing announced.
	_, ack := dialRawConnect(t, addr, &packets.Connect{ProtocolVersion: packets.Version5, CleanStart: true, ClientID: "ka2", KeepAlive: 1})
	if ack.Properties.HasServerKeepAlive {
		t.Fatalf("CONNACK %+v", ack.Properties)
	}
}

// TestServerTopicAliases: a client with Topic Alias Maximum 2 gets the
// aliases 1 and 2 for its first two topics and then only the alias for
// them; a third topic goes by name [MQTT-3.3.2-11].
func TestServerTopicAliases(t *testing.T) {
	addr := startGateway(t)
	sub, _ := dialRawConnect(t, addr, &packets.Connect{ProtocolVersion: packets.Version5, CleanStart: true, ClientID: "ta-sub",
		Properties: packets.Properties{TopicAliasMaximum: 2}})
	sub.send(&packets.Subscribe{PacketID: 1, Subscriptions: []packets.Subscription{{Filter: "ta/#"}}})
	sub.next()
	pub, _ := dialRawConnect(t, addr, &packets.Connect{ProtocolVersion: packets.Version5, CleanStart: true, ClientID: "ta-pub"})
	type want struct {
		topic string
		alias uint16
	}
	for i, w := range []want{{"ta/a", 1}, {"ta/b", 2}, {"ta/c", 0}, {"", 1}, {"", 2}, {"ta/c", 0}} {
		topic := []string{"ta/a", "ta/b", "ta/c", "ta/a", "ta/b", "ta/c"}[i]
		pub.send(&packets.Publish{Topic: topic, Payload: []byte(topic)})
		got := sub.next().(*packets.Publish)
		if got.Topic != w.topic || got.Properties.TopicAlias != w.alias || string(got.Payload) != topic {
			t.Fatalf("publish %d (%s): topic %q alias %d, want %q alias %d", i, topic, got.Topic, got.Properties.TopicAlias, w.topic, w.alias)
		}
	}
	// Without a Topic Alias Maximum: never an alias.
	plain, _ := dialRawConnect(t, addr, &packets.Connect{ProtocolVersion: packets.Version5, CleanStart: true, ClientID: "ta-plain"})
	plain.send(&packets.Subscribe{PacketID: 1, Subscriptions: []packets.Subscription{{Filter: "ta/#"}}})
	plain.next()
	for range 2 {
		pub.send(&packets.Publish{Topic: "ta/a", Payload: []byte("x")})
		if got := plain.next().(*packets.Publish); got.Topic != "ta/a" || got.Properties.TopicAlias != 0 {
			t.Fatalf("got %q alias %d", got.Topic, got.Properties.TopicAlias)
		}
		sub.next()
	}
}
