//go:build linux

package mqtt

import (
	"context"
	"fmt"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/enmasse-go/enmasse/internal/mqtt/packets"
)

// parked returns the number of parked connections, frozen ones included
// (tests).
func (s *Server) parked() int {
	p := s.poller()
	p.mu.Lock()
	n := len(p.conns)
	p.mu.Unlock()
	return n + s.frozenCount()
}

// frozenCount returns the number of frozen connections (tests).
func (s *Server) frozenCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.frozen.m)
}

// TestParkedConnectionsHaveNoGoroutine: idle suspended connections park
// without a goroutine each; a parked one answers PINGREQ and PUBLISH
// (woken by its socket) and parks again.
func TestParkedConnectionsHaveNoGoroutine(t *testing.T) {
	gw, _, addr := startIdleGateway(t, 20*time.Millisecond)
	before := runtime.NumGoroutine()
	const n = 100
	clients := make([]*rawClient, n)
	for i := range clients {
		clients[i] = dialConnect(t, addr, &packets.Connect{ProtocolVersion: packets.Version5, CleanStart: true, ClientID: fmt.Sprint("park-", i)})
	}
	// Over plain TCP they freeze (freeze.go): no conn either.
	waitFor(t, "all to park", func() bool { return gw.frozenCount() == n })
	if g := runtime.NumGoroutine() - before; g > n/4 {
		t.Fatalf("%d more goroutines with %d parked connections", g, n)
	}
	c := clients[0]
	for i := range 3 {
		c.send(&packets.Pingreq{})
		if _, ok := c.next().(*packets.Pingresp); !ok {
			t.Fatal("no PINGRESP from a parked connection")
		}
		c.send(&packets.Publish{Topic: "park/t", QoS: 1, PacketID: uint16(i + 1), Payload: []byte("x")})
		if pa, ok := c.next().(*packets.Puback); !ok || pa.ReasonCode != 0 {
			t.Fatalf("PUBACK: %#v", pa)
		}
		waitFor(t, "it to park again", func() bool { return gw.parked() == n })
	}
}

// TestParkedConnectionEnds: a parked connection's keep-alive expires, a
// takeover and a shutdown close it with their DISCONNECT, and its will is
// published when the client goes away.
func TestParkedConnectionEnds(t *testing.T) {
	gw, b, addr := startIdleGateway(t, 20*time.Millisecond)
	sub, _ := dialRaw(t, addr, packets.Version5, 0)
	sub.send(&packets.Subscribe{PacketID: 1, Subscriptions: []packets.Subscription{{Filter: "park/#", QoS: 0}}})
	sub.next()

	// Keep-alive 1 s: closed after 1.5 s with 0x8D, parked meanwhile.
	ka := dialConnect(t, addr, &packets.Connect{ProtocolVersion: packets.Version5, CleanStart: true, ClientID: "ka", KeepAlive: 1})
	waitFor(t, "it to park", func() bool { return gw.parked() == 1 })
	start := time.Now()
	got := ka.closed(5 * time.Second)
	if el := time.Since(start); el < time.Second || len(got) != 1 || got[0].(*packets.Disconnect).ReasonCode != packets.ReasonKeepAliveTimeout {
		t.Fatalf("after %v: %#v, want DISCONNECT 0x8D after 1.5 s", el, got)
	}

	// The keep-alive counts from the last packet, parked or not: a
	// PINGREQ after 0.8 s pushes the close back to 1.5 s after it.
	ka2 := dialConnect(t, addr, &packets.Connect{ProtocolVersion: packets.Version5, CleanStart: true, ClientID: "ka2", KeepAlive: 1})
	start = time.Now()
	time.Sleep(800 * time.Millisecond)
	ka2.send(&packets.Pingreq{})
	if _, ok := ka2.next().(*packets.Pingresp); !ok {
		t.Fatal("no PINGRESP")
	}
	got = ka2.closed(5 * time.Second)
	if el := time.Since(start); el < 2200*time.Millisecond || len(got) != 1 || got[0].(*packets.Disconnect).ReasonCode != packets.ReasonKeepAliveTimeout {
		t.Fatalf("after %v: %#v, want DISCONNECT 0x8D 1.5 s after the PINGREQ", el, got)
	}

	// Takeover: the parked one gets 0x8E, its will is published.
	cp := &packets.Connect{ProtocolVersion: packets.Version5, CleanStart: true, ClientID: "parked",
		Will: &packets.Will{Topic: "park/will", Payload: []byte("taken"), QoS: 0}}
	old := dialConnect(t, addr, cp)
	waitFor(t, "it to park", func() bool { return gw.parked() == 1 })
	dialConnect(t, addr, &packets.Connect{ProtocolVersion: packets.Version5, CleanStart: true, ClientID: "parked"})
	if got := old.closed(5 * time.Second); len(got) != 1 || got[0].(*packets.Disconnect).ReasonCode != packets.ReasonSessionTakenOver {
		t.Fatalf("taken over: %#v, want DISCONNECT 0x8E", got)
	}
	if p, ok := sub.next().(*packets.Publish); !ok || string(p.Payload) != "taken" {
		t.Fatalf("will: %#v", p)
	}

	// The client goes away: its will.
	gone := dialConnect(t, addr, &packets.Connect{ProtocolVersion: packets.Version311, CleanStart: true, ClientID: "gone",
		Will: &packets.Will{Topic: "park/will", Payload: []byte("gone"), QoS: 0}})
	waitFor(t, "it to park", func() bool { return gw.parked() == 2 })
	gone.nc.Close()
	if p, ok := sub.next().(*packets.Publish); !ok || string(p.Payload) != "gone" {
		t.Fatalf("will: %#v", p)
	}

	// Shutdown: 0x8B, and nothing stays parked or held.
	waitFor(t, "one parked", func() bool { return gw.parked() == 1 })
	last := dialConnect(t, addr, &packets.Connect{ProtocolVersion: packets.Version5, CleanStart: true, ClientID: "last"})
	waitFor(t, "two parked", func() bool { return gw.parked() == 2 })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := gw.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if got := last.closed(5 * time.Second); len(got) != 1 || got[0].(*packets.Disconnect).ReasonCode != packets.ReasonServerShuttingDown {
		t.Fatalf("shutdown: %#v, want DISCONNECT 0x8B", got)
	}
	if n, h := gw.parked(), b.held.Load(); n != 0 || h != 0 {
		t.Fatalf("after shutdown: %d parked, %d claims held", n, h)
	}
	// The poller's goroutine ends too.
	waitFor(t, "the poller to stop", func() bool {
		buf := make([]byte, 1<<20)
		return !strings.Contains(string(buf[:runtime.Stack(buf, true)]), "(*poller).run")
	})
}

// TestIdleReleaseStress: clients that go quiet for random short spells
// (suspended, parked, woken, resumed many times over), publish QoS 0/1,
// ping, subscribe and unsubscribe, and some vanish or get taken over:
// every packet is answered, every QoS 1 message reaches the subscriber,
// and in the end nothing stays parked or held. Run with -race.
func TestIdleReleaseStress(t *testing.T) {
	gw, b, addr := startIdleGateway(t, time.Millisecond)
	sub := dialConnect(t, addr, &packets.Connect{ProtocolVersion: packets.Version5, CleanStart: true, ClientID: "stress-sub"})
	sub.send(&packets.Subscribe{PacketID: 1, Subscriptions: []packets.Subscription{{Filter: "stress/#", QoS: 1}}})
	sub.next()
	const clients, rounds = 12, 15
	got := make(chan string, clients*rounds)
	go func() {
		for {
			sub.nc.SetReadDeadline(time.Now().Add(20 * time.Second))
			p, err := sub.r.ReadPacket()
			if err != nil {
				close(got)
				return
			}
			if pp, ok := p.(*packets.Publish); ok {
				packets.WriteTo(sub.nc, &packets.Puback{PacketID: pp.PacketID}, packets.Version5)
				got <- string(pp.Payload)
			}
		}
	}()
	errs := make(chan error, clients)
	for i := range clients {
		go func() {
			errs <- func() error {
				id := fmt.Sprint("stress-", i)
				nc, err := net.Dial("tcp", addr)
				if err != nil {
					return err
				}
				defer nc.Close()
				r := packets.NewReader(nc, 0)
				r.Version = packets.Version5
				next := func() (packets.Packet, error) {
					nc.SetReadDeadline(time.Now().Add(10 * time.Second))
					return r.ReadPacket()
				}
				packets.WriteTo(nc, &packets.Connect{ProtocolVersion: packets.Version5, CleanStart: true, ClientID: id, KeepAlive: 5}, packets.Version5)
				if _, err := next(); err != nil {
					return fmt.Errorf("%s CONNACK: %w", id, err)
				}
				for k := range rounds {
					time.Sleep(time.Duration(k%4) * time.Millisecond) // quiet: released, parked
					var want packets.PacketType
					switch k % 4 {
					case 0:
						packets.WriteTo(nc, &packets.Pingreq{}, packets.Version5)
						want = packets.TypePingresp
					case 1:
						packets.WriteTo(nc, &packets.Publish{Topic: "stress/" + id, QoS: 1, PacketID: uint16(k + 1), Payload: []byte(fmt.Sprint(id, "/", k))}, packets.Version5)
						want = packets.TypePuback
					case 2:
						packets.WriteTo(nc, &packets.Subscribe{PacketID: uint16(k + 1), Subscriptions: []packets.Subscription{{Filter: "other/" + id, QoS: 0}}}, packets.Version5)
						want = packets.TypeSuback
					case 3:
						packets.WriteTo(nc, &packets.Unsubscribe{PacketID: uint16(k + 1), Filters: []string{"other/" + id}}, packets.Version5)
						want = packets.TypeUnsuback
					}
					p, err := next()
					if err != nil {
						return fmt.Errorf("%s round %d: %w", id, k, err)
					}
					if p.Type() != want {
						return fmt.Errorf("%s round %d: got %v, want %v", id, k, p.Type(), want)
					}
				}
				return nil
			}()
		}()
	}
	for range clients {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string]bool{}
	for len(seen) < clients*((rounds+2)/4) {
		m, ok := <-got
		if !ok {
			t.Fatalf("subscriber ended after %d of %d messages", len(seen), clients*((rounds+2)/4))
		}
		seen[m] = true
	}
	waitFor(t, "nothing parked or held", func() bool { return gw.parked() == 0 && b.held.Load() == 0 })
	if r := b.resumed.Load(); r < clients {
		t.Fatalf("%d resumes: the clients were hardly ever released", r)
	}
	t.Logf("%d resumes", b.resumed.Load())
}
