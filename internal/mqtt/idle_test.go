package mqtt

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/enmasse-go/enmasse/internal/amqp/frames"
	"github.com/enmasse-go/enmasse/internal/amqp/transport"
	"github.com/enmasse-go/enmasse/internal/mqtt/packets"
)

// suspendBackend is testBackend as a Suspender; it counts the AMQP
// connections open and the claims held.
type suspendBackend struct {
	*testBackend
	live, held, resumed atomic.Int32
	resumeErr           error // Resume fails with it
}

func (b *suspendBackend) Connect(ctx context.Context, cred Credentials) (*transport.Conn, error) {
	c, err := b.testBackend.Connect(ctx, cred)
	if err == nil {
		b.live.Add(1)
		c.AfterClose(func() { b.live.Add(-1) })
	}
	return c, err
}

func (b *suspendBackend) Suspend(c *transport.Conn) (Suspension, bool) {
	b.held.Add(1)
	return &testSuspension{b: b}, true
}

type testSuspension struct {
	b    *suspendBackend
	done atomic.Bool
}

func (s *testSuspension) end() {
	if s.done.Swap(true) {
		panic("Suspension used twice")
	}
	s.b.held.Add(-1)
}

func (s *testSuspension) Resume(ctx context.Context) (*transport.Conn, error) {
	s.end()
	if s.b.resumeErr != nil {
		return nil, s.b.resumeErr
	}
	s.b.resumed.Add(1)
	return s.b.Connect(ctx, Credentials{})
}

func (s *testSuspension) Release() { s.end() }

func startIdleGateway(t *testing.T, release time.Duration) (*Server, *suspendBackend, string) {
	t.Helper()
	var sb *suspendBackend
	gw, addr := startGatewayWith(t, func(o *Options) {
		sb = &suspendBackend{testBackend: o.Backend.(*testBackend)}
		o.Backend, o.IdleRelease = sb, release
	})
	return gw, sb, addr
}

// waitFor polls cond for up to 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// dialConnect opens a raw client with the given CONNECT, which must be
// accepted.
func dialConnect(t *testing.T, addr string, cp *packets.Connect) *rawClient {
	t.Helper()
	c, ack := dialWith(t, addr, cp)
	if ack.ReasonCode != 0 {
		t.Fatalf("CONNACK: %#v", ack)
	}
	return c
}

// TestIdleReleaseAndResume: an idle client without subscriptions gives
// its AMQP connection up; a QoS 1 PUBLISH resumes it and is delivered
// and acknowledged; idle again, it gives it up again; a subscriber keeps
// its own; a will is published from the suspended state.
func TestIdleReleaseAndResume(t *testing.T) {
	_, b, addr := startIdleGateway(t, 50*time.Millisecond)
	sub, _ := dialRaw(t, addr, packets.Version5, 0)
	sub.send(&packets.Subscribe{PacketID: 1, Subscriptions: []packets.Subscription{{Filter: "idle/#", QoS: 1}}})
	if sa, ok := sub.next().(*packets.Suback); !ok || sa.ReasonCodes[0] != 1 {
		t.Fatalf("SUBACK: %#v", sa)
	}
	pub := dialConnect(t, addr, &packets.Connect{ProtocolVersion: packets.Version5, CleanStart: true, ClientID: "idle-pub",
		Will: &packets.Will{Topic: "idle/will", Payload: []byte("gone"), QoS: 1}})
	// The publisher gives its connection up; the subscriber does not.
	waitFor(t, "the publisher's release", func() bool { return b.held.Load() == 1 && b.live.Load() == 1 })
	for i := range 3 {
		pub.send(&packets.Publish{Topic: "idle/t", QoS: 1, PacketID: uint16(i + 1), Payload: []byte("m")})
		if pa, ok := pub.next().(*packets.Puback); !ok || pa.PacketID != uint16(i+1) || pa.ReasonCode != 0 {
			t.Fatalf("PUBACK %d: %#v", i, pa)
		}
		got, ok := sub.next().(*packets.Publish)
		if !ok || got.Topic != "idle/t" || string(got.Payload) != "m" {
			t.Fatalf("delivery %d: %#v", i, got)
		}
		sub.send(&packets.Puback{PacketID: got.PacketID})
		waitFor(t, "the release after the PUBLISH", func() bool { return b.held.Load() == 1 && b.live.Load() == 1 })
	}
	if r := b.resumed.Load(); r != 3 {
		t.Fatalf("%d resumes, want 3 (one per PUBLISH)", r)
	}
	// An abnormal end while suspended: the will is published.
	pub.nc.Close()
	got, ok := sub.next().(*packets.Publish)
	if !ok || got.Topic != "idle/will" || string(got.Payload) != "gone" {
		t.Fatalf("will: %#v", got)
	}
	waitFor(t, "the publisher's claim to end", func() bool { return b.held.Load() == 0 && b.live.Load() == 1 })
}

// TestIdleReleaseKeepsKeepAlive: a suspended client that stays silent
// is still closed after 1.5 × its keep-alive, and a normal DISCONNECT
// while suspended gives the claim back without a will.
func TestIdleReleaseKeepsKeepAlive(t *testing.T) {
	_, b, addr := startIdleGateway(t, 20*time.Millisecond)
	c, _ := dialRaw(t, addr, packets.Version5, 1)
	waitFor(t, "the release", func() bool { return b.held.Load() == 1 })
	start := time.Now()
	got := c.closed(5 * time.Second)
	if el := time.Since(start); el < time.Second {
		t.Fatalf("closed after %v, before 1.5 × keep-alive", el)
	}
	if len(got) != 1 || got[0].(*packets.Disconnect).ReasonCode != packets.ReasonKeepAliveTimeout {
		t.Fatalf("got %#v, want DISCONNECT 0x8D", got)
	}
	waitFor(t, "the claim to end", func() bool { return b.held.Load() == 0 && b.live.Load() == 0 })

	d, _ := dialRaw(t, addr, packets.Version311, 0)
	waitFor(t, "the release", func() bool { return b.held.Load() == 1 })
	d.send(&packets.Disconnect{})
	d.closed(5 * time.Second)
	waitFor(t, "the claim to end", func() bool { return b.held.Load() == 0 && b.live.Load() == 0 })
	if r := b.resumed.Load(); r != 0 {
		t.Fatalf("%d resumes, want none", r)
	}
}

// loginBackend is suspendBackend as a Loginer.
type loginBackend struct {
	*suspendBackend
	logins atomic.Int32
}

func (b *loginBackend) Login(ctx context.Context, cred Credentials) (Suspension, error) {
	b.logins.Add(1)
	b.held.Add(1)
	return &testSuspension{b: b.suspendBackend}, nil
}

// TestLoginWithoutConnection: with a Loginer, CONNECT opens no AMQP
// connection; the first PUBLISH does, and the idle release gives it up.
func TestLoginWithoutConnection(t *testing.T) {
	var lb *loginBackend
	_, addr := startGatewayWith(t, func(o *Options) {
		lb = &loginBackend{suspendBackend: &suspendBackend{testBackend: o.Backend.(*testBackend)}}
		o.Backend, o.IdleRelease = lb, 30*time.Millisecond
	})
	c := dialConnect(t, addr, &packets.Connect{ProtocolVersion: packets.Version5, CleanStart: true, ClientID: "login"})
	if l, h, live := lb.logins.Load(), lb.held.Load(), lb.live.Load(); l != 1 || h != 1 || live != 0 {
		t.Fatalf("after CONNACK: %d logins, %d claims, %d AMQP connections; want 1, 1, 0", l, h, live)
	}
	c.send(&packets.Publish{Topic: "login/t", QoS: 1, PacketID: 1, Payload: []byte("x")})
	if pa, ok := c.next().(*packets.Puback); !ok || pa.ReasonCode != 0 {
		t.Fatalf("PUBACK: %#v", pa)
	}
	if r := lb.resumed.Load(); r != 1 {
		t.Fatalf("%d resumes, want 1", r)
	}
	waitFor(t, "the release", func() bool { return lb.held.Load() == 1 && lb.live.Load() == 0 })
	c.send(&packets.Disconnect{})
	c.closed(5 * time.Second)
	waitFor(t, "the claim to end", func() bool { return lb.held.Load() == 0 })
}

// TestResumeFailure: a client whose AMQP connection cannot be resumed
// (here: over a connection limit) is disconnected with the reason, and
// its will still goes out, over a connection of its own.
func TestResumeFailure(t *testing.T) {
	var lb *loginBackend
	_, addr := startGatewayWith(t, func(o *Options) {
		lb = &loginBackend{suspendBackend: &suspendBackend{testBackend: o.Backend.(*testBackend)}}
		o.Backend, o.IdleRelease = lb, 30*time.Millisecond
	})
	sub, _ := dialRaw(t, addr, packets.Version5, 0)
	sub.send(&packets.Subscribe{PacketID: 1, Subscriptions: []packets.Subscription{{Filter: "fail/#", QoS: 0}}})
	sub.next()
	lb.resumeErr = frames.Errorf(frames.ErrResourceLimitExceeded, "at most 1 connection")
	c := dialConnect(t, addr, &packets.Connect{ProtocolVersion: packets.Version5, CleanStart: true, ClientID: "fail",
		Will: &packets.Will{Topic: "fail/will", Payload: []byte("lost?")}})
	c.send(&packets.Publish{Topic: "fail/t", QoS: 1, PacketID: 1, Payload: []byte("x")})
	got := c.closed(5 * time.Second)
	if len(got) != 1 || got[0].(*packets.Disconnect).ReasonCode != packets.ReasonQuotaExceeded {
		t.Fatalf("got %#v, want DISCONNECT 0x97", got)
	}
	if p, ok := sub.next().(*packets.Publish); !ok || string(p.Payload) != "lost?" {
		t.Fatalf("will: %#v", p)
	}
	waitFor(t, "no claim held", func() bool { return lb.held.Load() == 0 })
}
