package cli

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os/exec"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/enmasse-go/enmasse/internal/amqp/message"
	"github.com/enmasse-go/enmasse/internal/amqp/sasl"
	"github.com/enmasse-go/enmasse/internal/amqp/transport"
)

// pahoClient is a connected paho (MQTT 5.0) client whose received
// messages arrive on msgs.
type pahoClient struct {
	*paho.Client
	nc   net.Conn
	msgs chan *paho.Publish
	ack  *paho.Connack
}

func mqttConnect(t *testing.T, addr, clientID string, edit func(*paho.Connect)) *pahoClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), clientWait)
	defer cancel()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	pc := &pahoClient{nc: nc, msgs: make(chan *paho.Publish, 100)}
	pc.Client = paho.NewClient(paho.ClientConfig{
		Conn: nc,
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){func(pr paho.PublishReceived) (bool, error) {
			pc.msgs <- pr.Packet
			return true, nil
		}},
	})
	cp := &paho.Connect{ClientID: clientID, KeepAlive: 30, CleanStart: true}
	if edit != nil {
		edit(cp)
	}
	ca, err := pc.Connect(ctx, cp)
	if err != nil {
		t.Fatalf("connect %s: %v", clientID, err)
	}
	if ca.ReasonCode != 0 {
		t.Fatalf("connect %s: reason %#x", clientID, ca.ReasonCode)
	}
	t.Cleanup(func() { nc.Close() })
	pc.ack = ca
	return pc
}

func (pc *pahoClient) subscribe(t *testing.T, filter string, qos byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), clientWait)
	defer cancel()
	sa, err := pc.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: filter, QoS: qos}}})
	if err != nil {
		t.Fatalf("subscribe %s: %v", filter, err)
	}
	if len(sa.Reasons) != 1 || sa.Reasons[0] != qos {
		t.Fatalf("subscribe %s: reasons %v, want granted QoS %d", filter, sa.Reasons, qos)
	}
}

func (pc *pahoClient) publish(t *testing.T, p *paho.Publish) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), clientWait)
	defer cancel()
	resp, err := pc.Publish(ctx, p)
	if err != nil {
		t.Fatalf("publish %s: %v", p.Topic, err)
	}
	if p.QoS > 0 && resp.ReasonCode != 0 {
		t.Fatalf("publish %s: reason %#x", p.Topic, resp.ReasonCode)
	}
}

func (pc *pahoClient) expect(t *testing.T, topic, payload string, qos byte) *paho.Publish {
	t.Helper()
	select {
	case m := <-pc.msgs:
		if m.Topic != topic || string(m.Payload) != payload || m.QoS != qos {
			t.Fatalf("got %s %q QoS %d, want %s %q QoS %d", m.Topic, m.Payload, m.QoS, topic, payload, qos)
		}
		return m
	case <-time.After(clientWait):
		t.Fatalf("no message %q on %s", payload, topic)
		return nil
	}
}

func (pc *pahoClient) expectNone(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case m := <-pc.msgs:
		t.Fatalf("unexpected message %s %q", m.Topic, m.Payload)
	case <-time.After(d):
	}
}

func TestServeMQTTQoS(t *testing.T) {
	s := startServe(t)
	addr := s.addrs["mqtt"].String()
	sub := mqttConnect(t, addr, "sub", nil)
	for _, qos := range []byte{0, 1, 2} {
		sub.subscribe(t, fmt.Sprintf("qos%d/+", qos), qos)
	}
	pub := mqttConnect(t, addr, "pub", nil)
	for _, qos := range []byte{0, 1, 2} {
		for i := range 3 {
			pub.publish(t, &paho.Publish{Topic: fmt.Sprintf("qos%d/x", qos), QoS: qos, Payload: fmt.Appendf(nil, "m%d", i)})
		}
		for i := range 3 {
			sub.expect(t, fmt.Sprintf("qos%d/x", qos), fmt.Sprintf("m%d", i), qos)
		}
	}
	// A QoS 2 publication reaches a QoS 1 subscriber at QoS 1.
	sub.subscribe(t, "mixed/#", 1)
	pub.publish(t, &paho.Publish{Topic: "mixed/a/b", QoS: 2, Payload: []byte("two")})
	sub.expect(t, "mixed/a/b", "two", 1)
}

func TestServeMQTTWildcards(t *testing.T) {
	s := startServe(t)
	addr := s.addrs["mqtt"].String()
	sub := mqttConnect(t, addr, "sub", nil)
	sub.subscribe(t, "sensors/+/temp", 1)
	pub := mqttConnect(t, addr, "pub", nil)
	pub.publish(t, &paho.Publish{Topic: "sensors/kitchen/humidity", QoS: 1, Payload: []byte("no")})
	pub.publish(t, &paho.Publish{Topic: "sensors/kitchen/temp", QoS: 1, Payload: []byte("21")})
	sub.expect(t, "sensors/kitchen/temp", "21", 1)
	sub.expectNone(t, 300*time.Millisecond)
	// UNSUBSCRIBE ends the flow.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := sub.Unsubscribe(ctx, &paho.Unsubscribe{Topics: []string{"sensors/+/temp"}}); err != nil {
		t.Fatal(err)
	}
	pub.publish(t, &paho.Publish{Topic: "sensors/hall/temp", QoS: 1, Payload: []byte("19")})
	sub.expectNone(t, 300*time.Millisecond)
}

// TestServeMQTTAMQPInterop: MQTT and AMQP clients on one address, with the
// v5 properties mapped both ways (SPEC §5).
func TestServeMQTTAMQPInterop(t *testing.T) {
	s := startServe(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	mq := mqttConnect(t, s.addrs["mqtt"].String(), "mq", nil)
	mq.subscribe(t, "orders/#", 1) // creates the topic `orders`
	ac, err := transport.Dial(ctx, s.addrs["amqp"].String(), transport.Options{SASL: sasl.NewAnonymousClient("")})
	if err != nil {
		t.Fatal(err)
	}
	defer ac.Close(ctx, nil)
	sess, err := ac.NewSession(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rcv, err := sess.NewReceiver(ctx, "orders/eu", transport.ReceiverOptions{Credit: 10})
	if err != nil {
		t.Fatal(err)
	}
	// MQTT → AMQP.
	expiry := uint32(60)
	mq.publish(t, &paho.Publish{Topic: "orders/eu", QoS: 1, Payload: []byte("order-1"), Properties: &paho.PublishProperties{
		ContentType: "text/plain", ResponseTopic: "replies/mq", CorrelationData: []byte{1, 2, 3},
		MessageExpiry: &expiry, User: paho.UserProperties{{Key: "region", Value: "eu"}},
	}})
	d, err := rcv.Receive(ctx)
	if err != nil {
		t.Fatal(err)
	}
	m, err := message.Unmarshal(d.Payload())
	if err != nil {
		t.Fatal(err)
	}
	rcv.Accept(d)
	if len(m.Data) != 1 || string(m.Data[0]) != "order-1" || m.Properties == nil ||
		m.Properties.ContentType != "text/plain" || m.Properties.ReplyTo != "replies/mq" ||
		!bytes.Equal(asBytes(m.Properties.CorrelationID), []byte{1, 2, 3}) ||
		m.ApplicationProperties["region"] != "eu" || m.Header == nil || !m.Header.Durable || m.Header.TTL != 60000 {
		t.Fatalf("AMQP got %+v / %+v / %+v", m, m.Properties, m.Header)
	}
	mq.expect(t, "orders/eu", "order-1", 1) // its own subscription too
	// AMQP → MQTT.
	snd, err := sess.NewSender(ctx, "orders/us", transport.SenderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out := message.Message{
		Properties:            &message.Properties{To: "orders/us", ContentType: "application/json", ReplyTo: "replies/amqp", CorrelationID: []byte("c-9")},
		ApplicationProperties: map[string]any{"k": "v"},
		Data:                  [][]byte{[]byte(`{"n":2}`)},
	}
	body, err := out.Marshal(nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := snd.Send(ctx, body, transport.SendOptions{}); err != nil {
		t.Fatal(err)
	}
	got := mq.expect(t, "orders/us", `{"n":2}`, 1)
	p := got.Properties
	if p == nil || p.ContentType != "application/json" || p.ResponseTopic != "replies/amqp" ||
		string(p.CorrelationData) != "c-9" || p.User.Get("k") != "v" {
		t.Fatalf("MQTT got properties %+v", p)
	}
}

func asBytes(v any) []byte {
	b, _ := v.([]byte)
	return b
}

func TestServeMQTTWill(t *testing.T) {
	s := startServe(t)
	addr := s.addrs["mqtt"].String()
	watcher := mqttConnect(t, addr, "watcher", nil)
	watcher.subscribe(t, "status/#", 1)
	will := func(id string) func(*paho.Connect) {
		return func(c *paho.Connect) {
			c.WillMessage = &paho.WillMessage{Topic: "status/" + id, QoS: 1, Payload: []byte(id + " gone")}
		}
	}
	// Closing the socket without DISCONNECT publishes the will.
	a := mqttConnect(t, addr, "a", will("a"))
	a.nc.Close()
	watcher.expect(t, "status/a", "a gone", 1)
	// A clean DISCONNECT does not.
	b := mqttConnect(t, addr, "b", will("b"))
	if err := b.Disconnect(&paho.Disconnect{ReasonCode: 0}); err != nil {
		t.Fatal(err)
	}
	watcher.expectNone(t, 500*time.Millisecond)
	// DISCONNECT with 0x04 does.
	c := mqttConnect(t, addr, "c", will("c"))
	c.Disconnect(&paho.Disconnect{ReasonCode: 0x04})
	watcher.expect(t, "status/c", "c gone", 1)
}

func TestServeMQTTTakeover(t *testing.T) {
	s := startServe(t)
	addr := s.addrs["mqtt"].String()
	var reason = make(chan byte, 1)
	nc1, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc1.Close()
	c1 := paho.NewClient(paho.ClientConfig{Conn: nc1, OnServerDisconnect: func(d *paho.Disconnect) { reason <- d.ReasonCode }})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c1.Connect(ctx, &paho.Connect{ClientID: "same", KeepAlive: 30, CleanStart: true}); err != nil {
		t.Fatal(err)
	}
	second := mqttConnect(t, addr, "same", nil)
	select {
	case rc := <-reason:
		if rc != 0x8E {
			t.Fatalf("first connection got DISCONNECT %#x, want 0x8E", rc)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("first connection not taken over")
	}
	// The second one works.
	second.subscribe(t, "t/1", 1)
	second.publish(t, &paho.Publish{Topic: "t/1", QoS: 1, Payload: []byte("x")})
	second.expect(t, "t/1", "x", 1)
}

// TestServeMQTTMalformed: a malformed packet closes only its connection.
func TestServeMQTTMalformed(t *testing.T) {
	s := startServe(t)
	addr := s.addrs["mqtt"].String()
	good := mqttConnect(t, addr, "good", nil)
	good.subscribe(t, "ok/#", 1)
	bad, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close()
	// v5 CONNECT, then a SUBSCRIBE whose filter lacks its options byte.
	connect := []byte{0x10, 13, 0, 4, 'M', 'Q', 'T', 'T', 5, 2, 0, 30, 0, 0, 0}
	connect[1] = byte(len(connect) - 2)
	bad.Write(connect)
	buf := make([]byte, 64)
	bad.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := bad.Read(buf); err != nil || n < 2 || buf[0] != 0x20 {
		t.Fatalf("CONNACK: % x %v", buf[:n], err)
	}
	bad.Write([]byte{0x82, 6, 0, 1, 0, 0, 1, 'a'})
	var got []byte
	for {
		n, err := bad.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			break
		}
	}
	if len(got) < 3 || got[0] != 0xE0 || got[2] != 0x81 {
		t.Fatalf("after a malformed SUBSCRIBE got % x, want DISCONNECT 0x81 and close", got)
	}
	good.publish(t, &paho.Publish{Topic: "ok/1", QoS: 1, Payload: []byte("still")})
	good.expect(t, "ok/1", "still", 1)
}

// TestServeMQTTMosquitto runs Debian's mosquitto clients with both
// protocol versions.
func TestServeMQTTMosquitto(t *testing.T) {
	pubBin, err1 := exec.LookPath("mosquitto_pub")
	subBin, err2 := exec.LookPath("mosquitto_sub")
	if err1 != nil || err2 != nil {
		t.Skip("mosquitto_pub/mosquitto_sub not installed (Debian package mosquitto-clients)")
	}
	s := startServe(t)
	_, port, _ := net.SplitHostPort(s.addrs["mqtt"].String())
	for _, v := range []string{"mqttv311", "mqttv5"} {
		for _, qos := range []string{"0", "1", "2"} {
			t.Run(v+"/qos"+qos, func(t *testing.T) {
				topic := "mosq/" + v + "/" + qos
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				sub := exec.CommandContext(ctx, subBin, "-V", v, "-h", "127.0.0.1", "-p", port, "-t", "mosq/+/"+qos, "-q", qos, "-C", "2", "-v")
				var out bytes.Buffer
				sub.Stdout, sub.Stderr = &out, &out
				if err := sub.Start(); err != nil {
					t.Fatal(err)
				}
				// Publish until the subscriber is attached and got two.
				deadline := time.Now().Add(15 * time.Second)
				done := make(chan error, 1)
				go func() { done <- sub.Wait() }()
				for {
					pub := exec.CommandContext(ctx, pubBin, "-V", v, "-h", "127.0.0.1", "-p", port, "-t", topic, "-m", "hello", "-q", qos)
					if b, err := pub.CombinedOutput(); err != nil {
						t.Fatalf("mosquitto_pub: %v %s", err, b)
					}
					select {
					case err := <-done:
						if err != nil {
							t.Fatalf("mosquitto_sub: %v %s", err, out.String())
						}
						if want := topic + " hello\n" + topic + " hello\n"; out.String() != want {
							t.Fatalf("mosquitto_sub printed %q, want %q", out.String(), want)
						}
						return
					case <-time.After(200 * time.Millisecond):
					}
					if time.Now().After(deadline) {
						t.Fatalf("mosquitto_sub got %q", out.String())
					}
				}
			})
		}
	}
}
