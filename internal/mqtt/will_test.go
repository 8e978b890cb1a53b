package mqtt

import (
	"context"
	"log/slog"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/enmasse-go/enmasse/internal/mqtt/packets"
)

// TestWillDelayTable: a delayed will is published once its delay passed,
// dropped when the client reconnects first, published at once when the
// reconnection starts clean (the session ends), and dropped at shutdown
// [MQTT-3.1.3-9].
func TestWillDelayTable(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := NewServer(Options{})
		c := &conn{s: s, clientID: "dev", log: slog.New(slog.DiscardHandler)}
		var published atomic.Int32
		publish := func() { published.Add(1) }

		// Delay passes.
		s.scheduleWill(c, 5*time.Second, publish)
		time.Sleep(4 * time.Second)
		synctest.Wait()
		if published.Load() != 0 || s.PendingWills() != 1 {
			t.Fatalf("after 4 s of 5: published %d, pending %d", published.Load(), s.PendingWills())
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if published.Load() != 1 || s.PendingWills() != 0 {
			t.Fatalf("after 5 s: published %d, pending %d", published.Load(), s.PendingWills())
		}

		// Reconnected within the delay: never published.
		s.scheduleWill(c, 5*time.Second, publish)
		time.Sleep(2 * time.Second)
		s.reconnected(sessionID{clientID: "dev"}, false)
		time.Sleep(time.Minute)
		synctest.Wait()
		if published.Load() != 1 {
			t.Fatalf("published %d after a reconnection, want still 1", published.Load())
		}

		// Reconnected with clean start: the session ends, published now.
		s.scheduleWill(c, time.Hour, publish)
		s.reconnected(sessionID{clientID: "dev"}, true)
		if published.Load() != 2 {
			t.Fatalf("published %d after a clean-start reconnection, want 2", published.Load())
		}
		time.Sleep(2 * time.Hour)
		synctest.Wait()
		if published.Load() != 2 {
			t.Fatalf("published %d, want no second publication by the timer", published.Load())
		}

		// A connection that already took the identifier over: dropped
		// (clean start 0) or published (clean start 1).
		s.clients[sessionID{clientID: "dev"}] = &conn{clientID: "dev"}
		s.scheduleWill(c, time.Hour, publish)
		s.clients[sessionID{clientID: "dev"}].cleanStart = true
		s.scheduleWill(c, time.Hour, publish)
		if published.Load() != 3 || s.PendingWills() != 0 {
			t.Fatalf("published %d pending %d, want 3 and 0", published.Load(), s.PendingWills())
		}
		delete(s.clients, sessionID{clientID: "dev"})

		// Shutdown drops pending wills.
		s.scheduleWill(c, time.Second, publish)
		s.Shutdown(context.Background())
		time.Sleep(time.Minute)
		synctest.Wait()
		if published.Load() != 3 || s.PendingWills() != 0 {
			t.Fatalf("published %d pending %d after shutdown", published.Load(), s.PendingWills())
		}
	})
}

// TestWillProperties: a will's v5 properties reach subscribers as a
// PUBLISH's would (content type, response topic, correlation data, user
// properties, message expiry, payload format indicator); a will delay
// with a session that ends with the connection publishes at once.
func TestWillProperties(t *testing.T) {
	addr := startGateway(t)
	sub, _ := dialRaw(t, addr, packets.Version5, 0)
	sub.send(&packets.Subscribe{PacketID: 1, Subscriptions: []packets.Subscription{{Filter: "wills/#", QoS: 1}}})
	sub.next()
	props := packets.Properties{
		PayloadFormatIndicator: 1, ContentType: "text/plain", ResponseTopic: "wills/ack",
		CorrelationData: []byte{1, 2}, MessageExpiryInterval: 60, HasMessageExpiryInterval: true,
		User:              []packets.UserProperty{{Key: "device", Value: "d7"}},
		WillDelayInterval: 30, // the session ends with the connection: no wait
	}
	w, ack := dialRawConnect(t, addr, &packets.Connect{ProtocolVersion: packets.Version5, CleanStart: true, ClientID: "d7",
		Will: &packets.Will{Topic: "wills/d7", QoS: 1, Payload: []byte("gone"), Properties: props}})
	if ack.ReasonCode != packets.ReasonSuccess {
		t.Fatalf("CONNACK %v", ack.ReasonCode)
	}
	w.nc.Close()
	p := sub.next().(*packets.Publish)
	got := p.Properties
	if p.Topic != "wills/d7" || string(p.Payload) != "gone" || got.PayloadFormatIndicator != 1 || got.ContentType != "text/plain" ||
		got.ResponseTopic != "wills/ack" || string(got.CorrelationData) != "\x01\x02" || !got.HasMessageExpiryInterval ||
		got.MessageExpiryInterval == 0 || got.MessageExpiryInterval > 60 || len(got.User) != 1 || got.User[0] != props.User[0] {
		t.Fatalf("got %s %q %+v", p.Topic, p.Payload, got)
	}
}

// willConnect is a persistent v5 CONNECT with a will on topic delayed by
// delay seconds.
func willConnect(id string, expiry, delay uint32, topic string, clean bool) *paho.Connect {
	cp := persistent(id, expiry)
	cp.CleanStart = clean
	cp.WillMessage = &paho.WillMessage{Topic: topic, QoS: 1, Payload: []byte(id + " gone")}
	cp.WillProperties = &paho.WillProperties{WillDelayInterval: &delay}
	return cp
}

func waitPendingWills(t *testing.T, gw *Server, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for gw.PendingWills() != n {
		if time.Now().After(deadline) {
			t.Fatalf("%d pending wills, want %d", gw.PendingWills(), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestWillDelayWithSession: with a persistent session a will waits for
// its delay, or for the end of the session when that comes first; a
// reconnection within the delay cancels it, one with clean start
// publishes it at once [MQTT-3.1.3-9].
func TestWillDelayWithSession(t *testing.T) {
	e := newSessionEnv(t, Options{})
	w, _ := dialV5(t, e.addr, &paho.Connect{ClientID: "watcher", CleanStart: true})
	w.sub(t, "wd/#", 1)

	// The delay (1 s) ends first.
	d, _ := dialV5(t, e.addr, willConnect("d1", 60, 1, "wd/1", true))
	start := time.Now()
	d.nc.Close()
	w.expect(t, "wd/1", "d1 gone")
	if el := time.Since(start); el < 900*time.Millisecond {
		t.Fatalf("will after %v, before its 1 s delay", el)
	}

	// The session (1 s) ends first.
	d, _ = dialV5(t, e.addr, willConnect("d2", 1, 3600, "wd/2", true))
	start = time.Now()
	d.nc.Close()
	w.expect(t, "wd/2", "d2 gone")
	if el := time.Since(start); el < 900*time.Millisecond {
		t.Fatalf("will after %v, before the session's 1 s", el)
	}

	// Reconnected within the delay: no will.
	d, _ = dialV5(t, e.addr, willConnect("d3", 60, 60, "wd/3", true))
	d.nc.Close()
	waitPendingWills(t, e.gw, 1)
	d, ca := dialV5(t, e.addr, willConnect("d3", 60, 60, "wd/3", false))
	if !ca.SessionPresent || e.gw.PendingWills() != 0 {
		t.Fatalf("session present %v, pending wills %d", ca.SessionPresent, e.gw.PendingWills())
	}
	w.expectNone(t)

	// Reconnected with clean start: the old session ends, its will is
	// published at once.
	d.nc.Close()
	waitPendingWills(t, e.gw, 1)
	dialV5(t, e.addr, willConnect("d3", 60, 60, "wd/3", true))
	w.expect(t, "wd/3", "d3 gone")
}
