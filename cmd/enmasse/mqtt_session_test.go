package main

import (
	"context"
	"fmt"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
)

func mqttDial(t *testing.T, addr string, cp *paho.Connect, msgs chan<- *paho.Publish) (*paho.Client, *paho.Connack) {
	t.Helper()
	return mqttDialWith(t, addr, cp, msgs, false)
}

// mqttDialWith is mqttDial; manualAck leaves each QoS 1/2 PUBLISH
// unacknowledged until the test calls Client.Ack.
func mqttDialWith(t *testing.T, addr string, cp *paho.Connect, msgs chan<- *paho.Publish, manualAck bool) (*paho.Client, *paho.Connack) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	c := paho.NewClient(paho.ClientConfig{Conn: nc, EnableManualAcknowledgment: manualAck,
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){func(pr paho.PublishReceived) (bool, error) {
			msgs <- pr.Packet
			return true, nil
		}},
	})
	ca, err := c.Connect(ctx, cp)
	if err != nil {
		t.Fatalf("connect %s: %v", cp.ClientID, err)
	}
	return c, ca
}

// TestMQTTPersistentSessionSurvivesKill9: a persistent subscriber goes
// offline, a publisher sends QoS 1 messages and gets every PUBACK, serve
// is killed with SIGKILL and restarted over the same data dir, and the
// subscriber reconnecting with clean start 0 gets its session and every
// message.
func TestMQTTPersistentSessionSurvivesKill9(t *testing.T) {
	bin := buildBinary(t)
	dataDir := t.TempDir()
	cmd, addr := startServeMQTT(t, bin, dataDir)
	expiry := uint32(3600)
	subConnect := func() *paho.Connect {
		return &paho.Connect{ClientID: "kill9-sub", KeepAlive: 30, CleanStart: false,
			Properties: &paho.ConnectProperties{SessionExpiryInterval: &expiry}}
	}
	msgs := make(chan *paho.Publish, 1000)
	sub, _ := mqttDial(t, addr, subConnect(), msgs)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := sub.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "kill9/+/m", QoS: 1}}}); err != nil {
		t.Fatal(err)
	}
	if err := sub.Disconnect(&paho.Disconnect{}); err != nil {
		t.Fatal(err)
	}

	const n = 200
	pub, _ := mqttDial(t, addr, &paho.Connect{ClientID: "kill9-pub", KeepAlive: 30, CleanStart: true}, make(chan *paho.Publish, 1))
	for i := range n {
		r, err := pub.Publish(ctx, &paho.Publish{Topic: fmt.Sprintf("kill9/%d/m", i%7), QoS: 1, Payload: fmt.Appendf(nil, "m%d", i)})
		if err != nil || r.ReasonCode != 0 {
			t.Fatalf("publish %d: %v %v", i, r, err)
		}
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()

	_, addr = startServeMQTT(t, bin, dataDir)
	_, ca := mqttDial(t, addr, subConnect(), msgs)
	if !ca.SessionPresent {
		t.Fatal("the session did not survive kill -9")
	}
	got := map[string]bool{}
	for len(got) < n {
		select {
		case m := <-msgs:
			if m.QoS != 1 {
				t.Fatalf("QoS %d", m.QoS)
			}
			got[string(m.Payload)] = true
		case <-ctx.Done():
			t.Fatalf("got %d of %d messages after the restart", len(got), n)
		}
	}
}

// TestMQTTUnacknowledgedSurviveKill9: a persistent session's client gets
// QoS 1 messages and acknowledges none; serve is killed with SIGKILL and
// restarted over the same data dir; the reconnected session gets every
// message again, and those the session had stored come with DUP and the
// packet identifier they had before [MQTT-4.4.0-1].
func TestMQTTUnacknowledgedSurviveKill9(t *testing.T) {
	bin := buildBinary(t)
	dataDir := t.TempDir()
	cmd, addr := startServeMQTT(t, bin, dataDir)
	expiry := uint32(3600)
	connect := &paho.Connect{ClientID: "k9-unacked", KeepAlive: 30, CleanStart: false,
		Properties: &paho.ConnectProperties{SessionExpiryInterval: &expiry}}
	const n = 50
	msgs := make(chan *paho.Publish, n)
	sub, _ := mqttDialWith(t, addr, connect, msgs, true) // acknowledges nothing
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := sub.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "k9u/#", QoS: 1}}}); err != nil {
		t.Fatal(err)
	}
	pub, _ := mqttDial(t, addr, &paho.Connect{ClientID: "k9-unacked-pub", KeepAlive: 30, CleanStart: true}, make(chan *paho.Publish, 1))
	for i := range n {
		if r, err := pub.Publish(ctx, &paho.Publish{Topic: "k9u/a", QoS: 1, Payload: fmt.Appendf(nil, "m%d", i)}); err != nil || r.ReasonCode != 0 {
			t.Fatalf("publish %d: %v %v", i, r, err)
		}
	}
	ids := map[string]uint16{} // payload → packet identifier before the kill
	for len(ids) < n {
		select {
		case p := <-msgs:
			ids[string(p.Payload)] = p.PacketID
		case <-ctx.Done():
			t.Fatalf("got %d of %d messages before the kill", len(ids), n)
		}
	}
	// The session writes its records in the background (one fsync per
	// batch); give it the time it needs many times over.
	time.Sleep(300 * time.Millisecond)
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()

	_, addr = startServeMQTT(t, bin, dataDir)
	sub, ca := mqttDialWith(t, addr, connect, msgs, true)
	if !ca.SessionPresent {
		t.Fatal("the session did not survive kill -9")
	}
	got, dups := map[string]bool{}, 0
	for len(got) < n {
		var p *paho.Publish
		select {
		case p = <-msgs:
		case <-ctx.Done():
			t.Fatalf("got %d of %d messages after the restart", len(got), n)
		}
		before, known := ids[string(p.Payload)]
		if !known {
			t.Fatalf("unexpected message %q", p.Payload)
		}
		if p.Duplicate() {
			dups++
			if p.PacketID != before {
				t.Fatalf("%q resent with packet identifier %d, was %d [MQTT-4.4.0-1]", p.Payload, p.PacketID, before)
			}
		}
		got[string(p.Payload)] = true
		if err := sub.Ack(p); err != nil {
			t.Fatal(err)
		}
	}
	if dups == 0 {
		t.Fatal("no message was resent from the session's records (DUP): all came from the broker again")
	}
	t.Logf("%d of %d resent from the session with DUP", dups, n)
}
