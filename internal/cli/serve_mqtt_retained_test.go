package cli

import (
	"bytes"
	"context"
	"net"
	"os/exec"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	mqtt311 "github.com/eclipse/paho.mqtt.golang"

	"github.com/enmasse-go/enmasse/internal/amqp/frames"
	"github.com/enmasse-go/enmasse/internal/amqp/message"
	"github.com/enmasse-go/enmasse/internal/amqp/sasl"
	"github.com/enmasse-go/enmasse/internal/amqp/transport"
	"github.com/enmasse-go/enmasse/internal/amqp/types"
)

func (pc *pahoClient) subscribeWith(t *testing.T, o paho.SubscribeOptions, props *paho.SubscribeProperties) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sa, err := pc.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{o}, Properties: props})
	if err != nil {
		t.Fatalf("subscribe %s: %v", o.Topic, err)
	}
	if len(sa.Reasons) != 1 || sa.Reasons[0] != o.QoS {
		t.Fatalf("subscribe %s: reasons %v, want granted QoS %d", o.Topic, sa.Reasons, o.QoS)
	}
}

// expectRetain is expect that also checks the RETAIN flag.
func (pc *pahoClient) expectRetain(t *testing.T, topic, payload string, qos byte, retain bool) *paho.Publish {
	t.Helper()
	m := pc.expect(t, topic, payload, qos)
	if m.Retain != retain {
		t.Fatalf("%s %q: RETAIN %v, want %v", topic, payload, m.Retain, retain)
	}
	return m
}

// TestServeMQTTRetained: paho v5 — retained messages delivered on
// subscribe with RETAIN 1, Retain Handling 0/1/2, Retain As Published,
// clearing with an empty payload, message expiry.
func TestServeMQTTRetained(t *testing.T) {
	s := startServe(t)
	addr := s.addrs["mqtt"].String()
	pub := mqttConnect(t, addr, "pub", nil)
	if p := pub.ack.Properties; p == nil || !p.RetainAvailable {
		t.Fatalf("CONNACK properties %+v: want Retain Available", p)
	}
	expiry := uint32(600)
	pub.publish(t, &paho.Publish{Topic: "ret/a", QoS: 1, Retain: true, Payload: []byte("a1")})
	pub.publish(t, &paho.Publish{Topic: "ret/b", QoS: 1, Retain: true, Payload: []byte("b1"),
		Properties: &paho.PublishProperties{MessageExpiry: &expiry}})
	pub.publish(t, &paho.Publish{Topic: "ret/a", QoS: 1, Retain: true, Payload: []byte("a2")}) // replaces a1
	pub.publish(t, &paho.Publish{Topic: "ret/c", QoS: 1, Payload: []byte("not retained")})

	// Retain Handling 0: retained first, oldest first, RETAIN 1.
	rh0 := mqttConnect(t, addr, "rh0", nil)
	rh0.subscribeWith(t, paho.SubscribeOptions{Topic: "ret/#", QoS: 1}, nil)
	m := rh0.expectRetain(t, "ret/b", "b1", 1, true)
	if e := m.Properties.MessageExpiry; e == nil || *e > 600 || *e < 590 {
		t.Fatalf("retained message expiry %v, want what is left of 600 s", e)
	}
	rh0.expectRetain(t, "ret/a", "a2", 1, true)
	// Retain Handling 1 (new subscription: sent) with Retain As Published;
	// Retain Handling 2: none.
	rap := mqttConnect(t, addr, "rap", nil)
	rap.subscribeWith(t, paho.SubscribeOptions{Topic: "ret/+", QoS: 1, RetainHandling: 1, RetainAsPublished: true}, nil)
	rap.expectRetain(t, "ret/b", "b1", 1, true)
	rap.expectRetain(t, "ret/a", "a2", 1, true)
	rh2 := mqttConnect(t, addr, "rh2", nil)
	rh2.subscribeWith(t, paho.SubscribeOptions{Topic: "ret/#", QoS: 1, RetainHandling: 2}, nil)
	// Live: a retained publication reaches established subscriptions with
	// RETAIN 0, except with Retain As Published [MQTT-3.3.1-12/13].
	pub.publish(t, &paho.Publish{Topic: "ret/a", QoS: 1, Retain: true, Payload: []byte("a3")})
	rh0.expectRetain(t, "ret/a", "a3", 1, false)
	rap.expectRetain(t, "ret/a", "a3", 1, true)
	rh2.expectRetain(t, "ret/a", "a3", 1, false)
	rh0.expectNone(t, 100*time.Millisecond)
	rh2.expectNone(t, 100*time.Millisecond)

	// An empty retained publication is delivered and clears ret/b.
	pub.publish(t, &paho.Publish{Topic: "ret/b", QoS: 1, Retain: true})
	rh0.expectRetain(t, "ret/b", "", 1, false)
	late := mqttConnect(t, addr, "late", nil)
	late.subscribeWith(t, paho.SubscribeOptions{Topic: "ret/#", QoS: 0}, nil)
	late.expectRetain(t, "ret/a", "a3", 0, true)
	late.expectNone(t, 200*time.Millisecond)

	// SUBSCRIBE to an existing filter: Retain Handling 0 sends the
	// retained messages again [MQTT-3.8.4-3], 1 does not; live messages
	// keep flowing once.
	rh0.subscribeWith(t, paho.SubscribeOptions{Topic: "ret/#", QoS: 1, RetainHandling: 1}, nil)
	rh0.expectNone(t, 200*time.Millisecond)
	rh0.subscribeWith(t, paho.SubscribeOptions{Topic: "ret/#", QoS: 1}, nil)
	rh0.expectRetain(t, "ret/a", "a3", 1, true)
	pub.publish(t, &paho.Publish{Topic: "ret/d", QoS: 1, Payload: []byte("live")})
	rh0.expectRetain(t, "ret/d", "live", 1, false)
	rh0.expectNone(t, 200*time.Millisecond)
}

// TestServeMQTTRetained311 uses the 3.1.1 client paho.mqtt.golang: the
// retained message arrives with RETAIN 1 on subscribe, live ones with 0.
func TestServeMQTTRetained311(t *testing.T) {
	s := startServe(t)
	url := "tcp://" + s.addrs["mqtt"].String()
	connect := func(id string) mqtt311.Client {
		o := mqtt311.NewClientOptions().AddBroker(url).SetClientID(id).SetProtocolVersion(4).SetAutoReconnect(false)
		c := mqtt311.NewClient(o)
		if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("connect %s: %v", id, tok.Error())
		}
		t.Cleanup(func() { c.Disconnect(0) })
		return c
	}
	pub := connect("pub311")
	if tok := pub.Publish("v3/x", 1, true, "kept"); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("publish: %v", tok.Error())
	}
	type got struct {
		topic, payload string
		retained       bool
	}
	msgs := make(chan got, 10)
	sub := connect("sub311")
	tok := sub.Subscribe("v3/#", 1, func(_ mqtt311.Client, m mqtt311.Message) {
		msgs <- got{m.Topic(), string(m.Payload()), m.Retained()}
	})
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	next := func() got {
		select {
		case g := <-msgs:
			return g
		case <-time.After(10 * time.Second):
			t.Fatal("no message")
			return got{}
		}
	}
	if g := next(); g != (got{"v3/x", "kept", true}) {
		t.Fatalf("on subscribe got %+v", g)
	}
	if tok := pub.Publish("v3/x", 1, true, "live"); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("publish: %v", tok.Error())
	}
	if g := next(); g != (got{"v3/x", "live", false}) {
		t.Fatalf("live got %+v", g)
	}
	// The same filter again: the retained message is sent again
	// [MQTT-3.8.4-3].
	tok = sub.Subscribe("v3/#", 1, nil)
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe again: %v", tok.Error())
	}
	if g := next(); g != (got{"v3/x", "live", true}) {
		t.Fatalf("after subscribing again got %+v", g)
	}
}

// TestServeMQTTRetainedMosquitto: mosquitto_pub -r, then mosquitto_sub
// gets it, both protocol versions; an empty -r -n clears it.
func TestServeMQTTRetainedMosquitto(t *testing.T) {
	pubBin, err1 := exec.LookPath("mosquitto_pub")
	subBin, err2 := exec.LookPath("mosquitto_sub")
	if err1 != nil || err2 != nil {
		t.Skip("mosquitto_pub/mosquitto_sub not installed (Debian package mosquitto-clients)")
	}
	s := startServe(t)
	_, port, _ := net.SplitHostPort(s.addrs["mqtt"].String())
	run := func(bin string, args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, bin, append([]string{"-h", "127.0.0.1", "-p", port}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("%s %v: %v %s", bin, args, err, out)
		}
		return string(out)
	}
	for _, v := range []string{"mqttv311", "mqttv5"} {
		topic := "mret/" + v
		run(pubBin, "-V", v, "-t", topic, "-m", "hello-"+v, "-r", "-q", "1")
		// -C 1: exits after the retained message; -v prints the topic.
		if out := run(subBin, "-V", v, "-t", "mret/#", "-q", "1", "-C", "1", "-v", "-W", "10"); out != topic+" hello-"+v+"\n" &&
			!bytes.Contains([]byte(out), []byte(topic+" hello-"+v)) {
			t.Fatalf("%s: mosquitto_sub printed %q", v, out)
		}
		run(pubBin, "-V", v, "-t", topic, "-n", "-r", "-q", "1")
	}
	// Both cleared: a subscriber gets nothing retained (it times out).
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	out, _ := exec.CommandContext(ctx, subBin, "-h", "127.0.0.1", "-p", port, "-t", "mret/#", "-C", "1", "-v", "-W", "1").CombinedOutput()
	if bytes.Contains(out, []byte("hello")) {
		t.Fatalf("cleared retained messages delivered: %q", out)
	}
}

// TestServeMQTTRetainedAMQP: an AMQP receiver asking for the retained
// messages (source capability `retained`) gets the MQTT retained message,
// marked x-opt-retained; an AMQP sender's x-opt-retain message is
// retained for MQTT subscribers.
func TestServeMQTTRetainedAMQP(t *testing.T) {
	s := startServe(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	mq := mqttConnect(t, s.addrs["mqtt"].String(), "mq", nil)
	mq.publish(t, &paho.Publish{Topic: "mix/m", QoS: 1, Retain: true, Payload: []byte("from-mqtt")})
	ac, err := transport.Dial(ctx, s.addrs["amqp"].String(), transport.Options{SASL: sasl.NewAnonymousClient("")})
	if err != nil {
		t.Fatal(err)
	}
	defer ac.Close(ctx, nil)
	sess, err := ac.NewSession(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rcv, err := sess.NewReceiver(ctx, "mix/#", transport.ReceiverOptions{Credit: 10,
		Source: &frames.Source{Address: "mix/#", Capabilities: []types.Symbol{"retained"}}})
	if err != nil {
		t.Fatal(err)
	}
	d, err := rcv.Receive(ctx)
	if err != nil {
		t.Fatal(err)
	}
	m, err := message.Unmarshal(d.Payload())
	if err != nil {
		t.Fatal(err)
	}
	rcv.Accept(d)
	if len(m.Data) != 1 || string(m.Data[0]) != "from-mqtt" || annotation(m, "x-opt-retained") != true {
		t.Fatalf("AMQP got %+v annotations %v", m, m.MessageAnnotations)
	}
	snd, err := sess.NewSender(ctx, "mix/a", transport.SenderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out := message.Message{MessageAnnotations: types.Map{{Key: types.Symbol("x-opt-retain"), Value: true}},
		Data: [][]byte{[]byte("from-amqp")}}
	body, _ := out.Marshal(nil)
	if st, err := snd.Send(ctx, body, transport.SendOptions{}); err != nil {
		t.Fatal(err)
	} else if _, ok := st.(frames.Accepted); !ok {
		t.Fatalf("outcome %v", st)
	}
	sub := mqttConnect(t, s.addrs["mqtt"].String(), "sub", nil)
	sub.subscribeWith(t, paho.SubscribeOptions{Topic: "mix/a", QoS: 1}, nil)
	sub.expectRetain(t, "mix/a", "from-amqp", 1, true)
}

func annotation(m *message.Message, k types.Symbol) any {
	for _, kv := range m.MessageAnnotations {
		if kv.Key == k {
			return kv.Value
		}
	}
	return nil
}

// TestServeMQTTRetainedPersistentSession: a persistent session's new
// subscription gets the retained messages; resuming the session does
// not send them again, and messages published meanwhile arrive once.
func TestServeMQTTRetainedPersistentSession(t *testing.T) {
	s := startServe(t)
	addr := s.addrs["mqtt"].String()
	pub := mqttConnect(t, addr, "pspub", nil)
	pub.publish(t, &paho.Publish{Topic: "ps/a", QoS: 1, Retain: true, Payload: []byte("kept")})
	expiry := uint32(600)
	persistent := func(cp *paho.Connect) {
		cp.CleanStart = false
		cp.Properties = &paho.ConnectProperties{SessionExpiryInterval: &expiry}
	}
	c := mqttConnect(t, addr, "ps", persistent)
	c.subscribeWith(t, paho.SubscribeOptions{Topic: "ps/#", QoS: 1}, nil)
	c.expectRetain(t, "ps/a", "kept", 1, true)
	c.Disconnect(&paho.Disconnect{})
	pub.publish(t, &paho.Publish{Topic: "ps/a", QoS: 1, Payload: []byte("while-away")})
	c = mqttConnect(t, addr, "ps", persistent)
	if !c.ack.SessionPresent {
		t.Fatal("session not resumed")
	}
	// paho sends its PUBACK of "kept" from another goroutine than the
	// DISCONNECT, so the server may not have had it: then "kept" is resent
	// first, once, with DUP 1 and its RETAIN flag [MQTT-4.4.0-1]
	// [MQTT-3.3.1-1]. Anything else before "while-away" is a failure.
	m := c.next(t)
	if m.Topic == "ps/a" && string(m.Payload) == "kept" {
		if !m.Duplicate() || !m.Retain || m.QoS != 1 {
			t.Fatalf("unacknowledged \"kept\" resent with DUP %v RETAIN %v QoS %d, want DUP, RETAIN, QoS 1", m.Duplicate(), m.Retain, m.QoS)
		}
		m = c.next(t)
	}
	if m.Topic != "ps/a" || string(m.Payload) != "while-away" || m.QoS != 1 || m.Retain {
		t.Fatalf("got %s %q QoS %d RETAIN %v, want ps/a \"while-away\" QoS 1 RETAIN false", m.Topic, m.Payload, m.QoS, m.Retain)
	}
	c.expectNone(t, 300*time.Millisecond)
}

// next returns the next message the client gets.
func (pc *pahoClient) next(t *testing.T) *paho.Publish {
	t.Helper()
	select {
	case m := <-pc.msgs:
		return m
	case <-time.After(clientWait):
		t.Fatal("no message")
		return nil
	}
}

// TestCLIRetained: `enmasse send --retain` keeps a retained message,
// `enmasse receive --retained` gets the retained ones (also MQTT's).
func TestCLIRetained(t *testing.T) {
	s := startServe(t)
	url := s.addrs["amqp"].String()
	mq := mqttConnect(t, s.addrs["mqtt"].String(), "clipub", nil)
	mq.publish(t, &paho.Publish{Topic: "clir/m", QoS: 1, Retain: true, Payload: []byte("from-mqtt")}) // creates topic clir
	if code, _, stderr := runCLI(t, "send", "clir/a", "--url", url, "--body", "from-cli", "--retain"); code != 0 {
		t.Fatalf("send exit %d: %s", code, stderr)
	}
	code, out, stderr := runCLI(t, "receive", "clir/#", "--url", url, "--count", "2", "--retained")
	if code != 0 || out != "from-mqtt\nfrom-cli\n" {
		t.Fatalf("receive --retained: exit %d, %q %s", code, out, stderr)
	}
	if code, _, _ := runCLI(t, "receive", "clir/#", "--url", url, "--timeout", "300ms"); code != 1 {
		t.Fatalf("receive without --retained got a message (exit %d)", code)
	}
}
