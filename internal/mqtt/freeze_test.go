//go:build linux

package mqtt

import (
	"context"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/enmasse-go/enmasse/internal/mqtt/packets"
	"golang.org/x/sys/unix"
)

// TestFrozenConnectionKeepsItsState: what a v5 connection negotiated and
// set up before it froze holds after it thaws: its topic aliases, a QoS 2
// exchange waiting for PUBREL, Request Problem Information 0, and its
// will; and it freezes again after each packet.
func TestFrozenConnectionKeepsItsState(t *testing.T) {
	gw, _, addr := startIdleGateway(t, 20*time.Millisecond)
	sub, _ := dialRaw(t, addr, packets.Version5, 0)
	sub.send(&packets.Subscribe{PacketID: 1, Subscriptions: []packets.Subscription{{Filter: "frz/#", QoS: 0}}})
	sub.next()

	cp := &packets.Connect{ProtocolVersion: packets.Version5, CleanStart: true, ClientID: "frz", KeepAlive: 60,
		Will: &packets.Will{Topic: "frz/will", Payload: []byte("bye"), QoS: 0}}
	cp.Properties.RequestProblemInformation, cp.Properties.HasRequestProblemInformation = 0, true
	c := dialConnect(t, addr, cp)
	frozen := func() { waitFor(t, "it to freeze", func() bool { return gw.frozenCount() == 1 }) }

	// A topic alias set, and a QoS 2 publication left at PUBREC.
	pub := &packets.Publish{Topic: "frz/aliased", QoS: 0, Payload: []byte("one")}
	pub.Properties.TopicAlias = 3
	c.send(pub)
	if p, ok := sub.next().(*packets.Publish); !ok || p.Topic != "frz/aliased" {
		t.Fatalf("first: %#v", p)
	}
	c.send(&packets.Publish{Topic: "frz/q2", QoS: 2, PacketID: 7, Payload: []byte("two")})
	if p, ok := c.next().(*packets.Pubrec); !ok || p.PacketID != 7 {
		t.Fatalf("PUBREC: %#v", p)
	}
	if p, ok := sub.next().(*packets.Publish); !ok || string(p.Payload) != "two" {
		t.Fatalf("QoS 2: %#v", p)
	}
	frozen()

	// The alias alone names the topic after the thaw.
	pub = &packets.Publish{QoS: 0, Payload: []byte("three")}
	pub.Properties.TopicAlias = 3
	c.send(pub)
	if p, ok := sub.next().(*packets.Publish); !ok || p.Topic != "frz/aliased" || string(p.Payload) != "three" {
		t.Fatalf("aliased after a thaw: %#v", p)
	}
	frozen()
	// PUBREL completes the exchange started before the freeze.
	c.send(&packets.Pubrel{PacketID: 7})
	if p, ok := c.next().(*packets.Pubcomp); !ok || p.PacketID != 7 || p.ReasonCode != packets.ReasonSuccess {
		t.Fatalf("PUBCOMP: %#v", p)
	}
	frozen()
	// Request Problem Information 0: no reason string on a PUBACK that
	// refuses [MQTT-3.1.2-29].
	c.send(&packets.Publish{Topic: "frz/bad", QoS: 1, PacketID: 9, Payload: []byte{0xff}, Properties: packets.Properties{PayloadFormatIndicator: 1}})
	if p, ok := c.next().(*packets.Puback); !ok || p.ReasonCode != packets.ReasonPayloadFormatInvalid || p.Properties.ReasonString != "" {
		t.Fatalf("PUBACK: %#v, want 0x99 without a reason string", p)
	}
	frozen()
	// The will goes out when the frozen client vanishes.
	c.nc.Close()
	if p, ok := sub.next().(*packets.Publish); !ok || string(p.Payload) != "bye" {
		t.Fatalf("will: %#v", p)
	}
	waitFor(t, "no connection", func() bool { return gw.ConnCount() == 1 })
}

// TestFrozenConnectionLostSocket: a frozen connection whose socket cannot
// be taken back (here: its descriptor made to refer to /dev/null behind
// the server's back, which also closes the socket)
// ends as a broken connection does when something wakes it: its will is
// published, and the taking-over client is served.
func TestFrozenConnectionLostSocket(t *testing.T) {
	gw, b, addr := startIdleGateway(t, 20*time.Millisecond)
	sub, _ := dialRaw(t, addr, packets.Version5, 0)
	sub.send(&packets.Subscribe{PacketID: 1, Subscriptions: []packets.Subscription{{Filter: "lost/#", QoS: 0}}})
	sub.next()
	dialConnect(t, addr, &packets.Connect{ProtocolVersion: packets.Version311, CleanStart: true, ClientID: "lost",
		Will: &packets.Will{Topic: "lost/will", Payload: []byte("lost"), QoS: 0}})
	waitFor(t, "it to freeze", func() bool { return gw.frozenCount() == 1 })
	null, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	gw.mu.Lock()
	for _, f := range gw.frozen.m {
		if err := unix.Dup3(int(null.Fd()), int(f.fd), unix.O_CLOEXEC); err != nil {
			t.Fatal(err)
		}
	}
	gw.mu.Unlock()
	next := dialConnect(t, addr, &packets.Connect{ProtocolVersion: packets.Version311, CleanStart: true, ClientID: "lost"})
	if p, ok := sub.next().(*packets.Publish); !ok || string(p.Payload) != "lost" {
		t.Fatalf("will: %#v", p)
	}
	next.send(&packets.Pingreq{})
	if _, ok := next.next().(*packets.Pingresp); !ok {
		t.Fatal("the new connection is not served")
	}
	waitFor(t, "one claim held (the new client's)", func() bool { return b.held.Load() == 1 })
}

// TestFreezeBurst: Options.AfterFreezeBurst is called once a burst of
// freezings has settled, not for each, and a second burst soon after
// waits for the gap between calls.
func TestFreezeBurst(t *testing.T) {
	var calls atomic.Int32
	var sb *suspendBackend
	gw, addr := startGatewayWith(t, func(o *Options) {
		sb = &suspendBackend{testBackend: o.Backend.(*testBackend)}
		o.Backend, o.IdleRelease = sb, 20*time.Millisecond
		o.AfterFreezeBurst = func() { calls.Add(1) }
	})
	gw.mu.Lock()
	gw.freezeBurst, gw.burstGap = 5, 3*time.Second
	gw.mu.Unlock()
	connect := func(from, n int) {
		for i := range n {
			dialConnect(t, addr, &packets.Connect{ProtocolVersion: packets.Version311, CleanStart: true, ClientID: fmt.Sprint("burst-", from+i)})
		}
		waitFor(t, "all to freeze", func() bool { return gw.frozenCount() == from+n })
	}
	connect(0, 12)
	waitFor(t, "the burst to settle", func() bool { return calls.Load() == 1 })
	first := time.Now()
	time.Sleep(2 * freezeSettle)
	if n := calls.Load(); n != 1 {
		t.Fatalf("%d calls for one burst, want 1", n)
	}
	connect(12, 6)
	time.Sleep(2 * freezeSettle)
	if n := calls.Load(); n != 1 {
		t.Fatalf("a second burst within the gap: %d calls, want 1 so far", n)
	}
	for calls.Load() != 2 {
		if time.Since(first) > 10*time.Second {
			t.Fatal("no call for the second burst after the gap")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if since := time.Since(first); since < 3*time.Second-50*time.Millisecond {
		t.Fatalf("second call %v after the first, want the 3 s gap", since)
	}
}

// TestFrozenConnectionReset: a client that resets its frozen connection
// (the socket then has no peer address to give the new net.Conn) ends
// with its will, and the server goes on.
func TestFrozenConnectionReset(t *testing.T) {
	gw, _, addr := startIdleGateway(t, 20*time.Millisecond)
	sub, _ := dialRaw(t, addr, packets.Version5, 0)
	sub.send(&packets.Subscribe{PacketID: 1, Subscriptions: []packets.Subscription{{Filter: "rst/#", QoS: 0}}})
	sub.next()
	c := dialConnect(t, addr, &packets.Connect{ProtocolVersion: packets.Version311, CleanStart: true, ClientID: "rst",
		Will: &packets.Will{Topic: "rst/will", Payload: []byte("reset"), QoS: 0}})
	waitFor(t, "it to freeze", func() bool { return gw.frozenCount() == 1 })
	c.nc.(*net.TCPConn).SetLinger(0)
	c.nc.Close() // RST
	if p, ok := sub.next().(*packets.Publish); !ok || string(p.Payload) != "reset" {
		t.Fatalf("will: %#v", p)
	}
	waitFor(t, "no connection but the subscriber", func() bool { return gw.ConnCount() == 1 })
}

// BenchmarkFrozenPing: a PINGREQ round trip of an idle client that is
// frozen between packets (each one thaws the connection and freezes it
// again) against one whose connection stays live (no idle release).
func BenchmarkFrozenPing(b *testing.B) {
	for _, tc := range []struct {
		name    string
		release time.Duration
	}{{"frozen", 20 * time.Millisecond}, {"live", 0}} {
		b.Run(tc.name, func(b *testing.B) {
			gw, addr := startGatewayWith(b, func(o *Options) {
				if tc.release > 0 {
					o.Backend, o.IdleRelease = &suspendBackend{testBackend: o.Backend.(*testBackend)}, tc.release
				}
			})
			nc, err := net.Dial("tcp", addr)
			if err != nil {
				b.Fatal(err)
			}
			defer nc.Close()
			r := packets.NewReader(nc, 0)
			r.Version = packets.Version5
			packets.WriteTo(nc, &packets.Connect{ProtocolVersion: packets.Version5, CleanStart: true, ClientID: "bench-ping"}, packets.Version5)
			if _, err := r.ReadPacket(); err != nil {
				b.Fatal(err)
			}
			if tc.release > 0 {
				for gw.frozenCount() != 1 {
					time.Sleep(time.Millisecond)
				}
			}
			for b.Loop() {
				packets.WriteTo(nc, &packets.Pingreq{}, packets.Version5)
				if _, err := r.ReadPacket(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestFrozenRecordSize: the frozen record stays at the 128 bytes the
// package doc and docs/mqtt.md give (one allocation size class).
func TestFrozenRecordSize(t *testing.T) {
	if n := unsafe.Sizeof(frozen{}); n > 128 {
		t.Fatalf("frozen is %d bytes, want at most 128", n)
	}
}

// TestShutdownWhileThawing: Shutdown while frozen clients keep waking
// (each PINGREQ thaws its connection, which then freezes again). Run with
// the race detector: Shutdown's DISCONNECT is written from its own
// goroutine while a thawed connection's loop checks whether it can
// freeze again.
func TestShutdownWhileThawing(t *testing.T) {
	gw, _, addr := startIdleGateway(t, 5*time.Millisecond)
	const n = 40
	clients := make([]*rawClient, n)
	for i := range clients {
		clients[i] = dialConnect(t, addr, &packets.Connect{ProtocolVersion: packets.Version5, CleanStart: true,
			ClientID: fmt.Sprint("thaw-", i)})
	}
	waitFor(t, "all to freeze", func() bool { return gw.frozenCount() == n })
	var wg sync.WaitGroup
	for _, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b, _ := packets.Append(nil, &packets.Pingreq{}, packets.Version5)
			for {
				if _, err := c.nc.Write(b); err != nil {
					return
				}
				if _, err := c.r.ReadPacket(); err != nil {
					return // closed: DISCONNECT read, or EOF
				}
			}
		}()
	}
	time.Sleep(50 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := gw.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("clients still served after Shutdown")
	}
	if n := gw.ConnCount(); n != 0 {
		t.Fatalf("%d connections after Shutdown", n)
	}
}
