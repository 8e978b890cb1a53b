package cli

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/enmasse-go/enmasse/internal/amqp/frames"
	"github.com/enmasse-go/enmasse/internal/amqp/message"
	"github.com/enmasse-go/enmasse/internal/amqp/sasl"
	"github.com/enmasse-go/enmasse/internal/amqp/transport"
	"github.com/enmasse-go/enmasse/internal/amqp/types"
)

// drain returns the payloads that arrive on pc within d.
func (pc *pahoClient) drain(d time.Duration) []string {
	var out []string
	timeout := time.After(d)
	for {
		select {
		case m := <-pc.msgs:
			out = append(out, string(m.Payload))
		case <-timeout:
			return out
		}
	}
}

// TestServeMQTTSharedSubscriptions: paho v5 — members of a share group
// split the messages (each to exactly one), another group and a plain
// subscriber get them all, an AMQP receiver joins a group, and a member
// that leaves stops getting any.
func TestServeMQTTSharedSubscriptions(t *testing.T) {
	s := startServe(t)
	addr := s.addrs["mqtt"].String()
	m1 := mqttConnect(t, addr, "m1", nil)
	if p := m1.ack.Properties; p == nil || !p.SharedSubAvailable {
		t.Fatalf("CONNACK properties %+v: want Shared Subscription Available", p)
	}
	m2 := mqttConnect(t, addr, "m2", nil)
	other := mqttConnect(t, addr, "other", nil)
	plain := mqttConnect(t, addr, "plain", nil)
	m1.subscribeWith(t, paho.SubscribeOptions{Topic: "$share/g/sh/#", QoS: 1}, nil)
	m2.subscribeWith(t, paho.SubscribeOptions{Topic: "$share/g/sh/#", QoS: 0}, nil)
	other.subscribeWith(t, paho.SubscribeOptions{Topic: "$share/h/sh/#", QoS: 1}, nil)
	plain.subscribeWith(t, paho.SubscribeOptions{Topic: "sh/#", QoS: 1}, nil)

	// An AMQP receiver joins group g: non-durable source, capabilities
	// shared and global, link name = the MQTT filter.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ac, err := transport.Dial(ctx, s.addrs["amqp"].String(), transport.Options{SASL: sasl.NewAnonymousClient("")})
	if err != nil {
		t.Fatal(err)
	}
	defer ac.Close(ctx, nil)
	sess, err := ac.NewSession(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ar, err := sess.NewReceiver(ctx, "sh/#", transport.ReceiverOptions{Credit: 100, Name: "$share/g/sh/#",
		Source: &frames.Source{Address: "sh/#", Capabilities: []types.Symbol{"shared", "global"}}})
	if err != nil {
		t.Fatal(err)
	}

	pub := mqttConnect(t, addr, "shpub", nil)
	const n = 30
	for i := range n {
		pub.publish(t, &paho.Publish{Topic: fmt.Sprintf("sh/%d", i), QoS: 1, Payload: []byte(fmt.Sprint(i))})
	}
	if got := plain.drain(time.Second); len(got) != n {
		t.Fatalf("plain subscriber got %d of %d", len(got), n)
	}
	if got := other.drain(100 * time.Millisecond); len(got) != n {
		t.Fatalf("group h (one member) got %d of %d", len(got), n)
	}
	seen := map[string]int{}
	got1, got2 := m1.drain(100*time.Millisecond), m2.drain(100*time.Millisecond)
	var gotA []string
	for {
		qctx, qcancel := context.WithTimeout(ctx, 100*time.Millisecond)
		d, err := ar.Receive(qctx)
		qcancel()
		if err != nil {
			break
		}
		m, _ := message.Unmarshal(d.Payload())
		ar.Accept(d)
		gotA = append(gotA, string(m.Data[0]))
	}
	for _, list := range [][]string{got1, got2, gotA} {
		if len(list) == 0 {
			t.Fatalf("a member of group g got nothing: m1 %d, m2 %d, AMQP %d", len(got1), len(got2), len(gotA))
		}
		for _, p := range list {
			seen[p]++
		}
	}
	if len(seen) != n {
		t.Fatalf("group g got %d distinct of %d", len(seen), n)
	}
	for p, k := range seen {
		if k != 1 {
			t.Fatalf("message %s went to %d members of group g", p, k)
		}
	}

	// m2 and the AMQP member leave: m1 gets everything.
	ctxU, cancelU := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancelU()
	if _, err := m2.Unsubscribe(ctxU, &paho.Unsubscribe{Topics: []string{"$share/g/sh/#"}}); err != nil {
		t.Fatal(err)
	}
	ar.Close(ctx)
	for i := range 5 {
		pub.publish(t, &paho.Publish{Topic: "sh/after", QoS: 1, Payload: []byte(fmt.Sprint("after", i))})
	}
	if got := m1.drain(time.Second); len(got) != 5 {
		t.Fatalf("remaining member got %v", got)
	}
	m2.expectNone(t, 10*time.Millisecond)
}

// TestServeMQTTSharedInvalid: a bad ShareName closes a v5 connection with
// 0x8F (the codec's Topic Filter invalid); 3.1.1 gets SUBACK 0x80.
func TestServeMQTTSharedInvalid(t *testing.T) {
	s := startServe(t)
	addr := s.addrs["mqtt"].String()
	c := mqttConnect(t, addr, "bad5", nil)
	sctx, scancel := context.WithTimeout(context.Background(), time.Second)
	defer scancel()
	if _, err := c.Subscribe(sctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "$share/g", QoS: 1}}}); err == nil {
		t.Fatal("SUBSCRIBE $share/g (no filter) accepted")
	}
	pubBin, err1 := exec.LookPath("mosquitto_sub")
	if err1 != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, port, _ := net.SplitHostPort(addr)
	out, _ := exec.CommandContext(ctx, pubBin, "-V", "mqttv311", "-h", "127.0.0.1", "-p", port, "-t", "$share/g", "-C", "1", "-W", "2").CombinedOutput()
	if !bytes.Contains(bytes.ToLower(out), []byte("denied")) && !bytes.Contains(bytes.ToLower(out), []byte("fail")) {
		t.Fatalf("mosquitto_sub 3.1.1 on $share/g printed %q, want a refused subscription", out)
	}
}

// TestServeMQTTSharedMosquitto: two mosquitto_sub members of one group
// (both protocol versions) share the messages.
func TestServeMQTTSharedMosquitto(t *testing.T) {
	subBin, err := exec.LookPath("mosquitto_sub")
	if err != nil {
		t.Skip("mosquitto_sub not installed (Debian package mosquitto-clients)")
	}
	s := startServe(t)
	addr := s.addrs["mqtt"].String()
	_, port, _ := net.SplitHostPort(addr)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var outs [2]*bytes.Buffer
	var cmds [2]*exec.Cmd
	for i, v := range []string{"mqttv5", "mqttv311"} {
		outs[i] = &bytes.Buffer{}
		cmds[i] = exec.CommandContext(ctx, subBin, "-V", v, "-h", "127.0.0.1", "-p", port, "-t", "$share/grp/ms/#", "-q", "1", "-W", "2")
		cmds[i].Stdout = outs[i]
		if err := cmds[i].Start(); err != nil {
			t.Fatal(err)
		}
	}
	// Wait until both members are attached: a plain subscriber's view
	// cannot tell, so publish until both got one.
	pub := mqttConnect(t, addr, "mspub", nil)
	deadline := time.Now().Add(1500 * time.Millisecond)
	sent := 0
	for time.Now().Before(deadline) {
		pub.publish(t, &paho.Publish{Topic: "ms/x", QoS: 1, Payload: []byte(fmt.Sprint("m", sent))})
		sent++
		time.Sleep(20 * time.Millisecond)
	}
	for _, c := range cmds {
		c.Wait() // -W 2: exits after 2 s
	}
	a, b := strings.Fields(outs[0].String()), strings.Fields(outs[1].String())
	if len(a) == 0 || len(b) == 0 {
		t.Fatalf("a member got nothing: v5 %d, 3.1.1 %d of %d", len(a), len(b), sent)
	}
	seen := map[string]bool{}
	for _, p := range append(a, b...) {
		if seen[p] {
			t.Fatalf("message %s reached both members", p)
		}
		seen[p] = true
	}
}
