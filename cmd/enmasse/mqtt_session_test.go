package main

import (
	"context"
	"fmt"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/enmasse-go/enmasse/internal/mqtt/packets"
)

func mqttDial(t *testing.T, addr string, cp *paho.Connect, msgs chan<- *paho.Publish) (*paho.Client, *paho.Connack) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	c := paho.NewClient(paho.ClientConfig{Conn: nc,
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

// rawMQTT is a bare MQTT 5 client on the project's codec, for what paho
// does not let a test do: leave PUBLISHes unacknowledged and see their
// packet identifiers and DUP flags.
type rawMQTT struct {
	nc net.Conn
	r  *packets.Reader
}

func dialRawMQTT(t *testing.T, addr string, cp *packets.Connect) (*rawMQTT, *packets.Connack) {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	c := &rawMQTT{nc: nc, r: packets.NewReader(nc, 1<<20)}
	c.r.Version = packets.Version5
	c.send(t, cp)
	ca, ok := c.next(t).(*packets.Connack)
	if !ok || ca.ReasonCode != 0 {
		t.Fatalf("CONNACK: %#v", ca)
	}
	return c, ca
}

func (c *rawMQTT) send(t *testing.T, p packets.Packet) {
	t.Helper()
	b, err := packets.Append(nil, p, packets.Version5)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.nc.Write(b); err != nil {
		t.Fatal(err)
	}
}

func (c *rawMQTT) next(t *testing.T) packets.Packet {
	t.Helper()
	c.nc.SetReadDeadline(time.Now().Add(20 * time.Second))
	p, err := c.r.ReadPacket()
	if err != nil {
		t.Fatal(err)
	}
	return p
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
	connect := &packets.Connect{ProtocolVersion: packets.Version5, ClientID: "k9-unacked", KeepAlive: 30,
		Properties: packets.Properties{SessionExpiryInterval: 3600, HasSessionExpiryInterval: true, ReceiveMaximum: 100}}
	sub, _ := dialRawMQTT(t, addr, connect)
	sub.send(t, &packets.Subscribe{PacketID: 1, Subscriptions: []packets.Subscription{{Filter: "k9u/#", QoS: 1}}})
	if _, ok := sub.next(t).(*packets.Suback); !ok {
		t.Fatal("no SUBACK")
	}

	const n = 50
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pub, _ := mqttDial(t, addr, &paho.Connect{ClientID: "k9-unacked-pub", KeepAlive: 30, CleanStart: true}, make(chan *paho.Publish, 1))
	for i := range n {
		if r, err := pub.Publish(ctx, &paho.Publish{Topic: "k9u/a", QoS: 1, Payload: fmt.Appendf(nil, "m%d", i)}); err != nil || r.ReasonCode != 0 {
			t.Fatalf("publish %d: %v %v", i, r, err)
		}
	}
	ids := map[string]uint16{} // payload → packet identifier before the kill
	for len(ids) < n {
		p, ok := sub.next(t).(*packets.Publish)
		if !ok {
			continue
		}
		ids[string(p.Payload)] = p.PacketID // no PUBACK
	}
	// The session writes its records in the background (one fsync per
	// batch); give it the time it needs many times over.
	time.Sleep(300 * time.Millisecond)
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()

	_, addr = startServeMQTT(t, bin, dataDir)
	sub, ca := dialRawMQTT(t, addr, connect)
	if !ca.SessionPresent {
		t.Fatal("the session did not survive kill -9")
	}
	got, dups := map[string]bool{}, 0
	for len(got) < n {
		sub.nc.SetReadDeadline(time.Now().Add(20 * time.Second))
		pk, err := sub.r.ReadPacket()
		if err != nil {
			t.Fatalf("got %d of %d messages after the restart: %v", len(got), n, err)
		}
		p, ok := pk.(*packets.Publish)
		if !ok {
			continue
		}
		before, known := ids[string(p.Payload)]
		if !known {
			t.Fatalf("unexpected message %q", p.Payload)
		}
		if p.Dup {
			dups++
			if p.PacketID != before {
				t.Fatalf("%q resent with packet identifier %d, was %d [MQTT-4.4.0-1]", p.Payload, p.PacketID, before)
			}
		}
		got[string(p.Payload)] = true
		sub.send(t, &packets.Puback{PacketID: p.PacketID})
	}
	if dups == 0 {
		t.Fatal("no message was resent from the session's records (DUP): all came from the broker again")
	}
	t.Logf("%d of %d resent from the session with DUP", dups, n)
}
