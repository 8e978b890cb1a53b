package mqtt

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/enmasse-go/enmasse/internal/mqtt/packets"
	"github.com/enmasse-go/enmasse/internal/store"
)

// gatedStore is a SessionStore whose PutMany calls are counted, wait for
// gate to be closed while it is set, and fail while fail is set.
type gatedStore struct {
	SessionStore
	mu    sync.Mutex
	gate  chan struct{} // PutMany waits until it is closed; nil: no wait
	fail  bool
	calls []int // number of records of each PutMany
}

var errStoreDown = errors.New("session store down")

func (g *gatedStore) PutMany(ctx context.Context, keys []uint64, data [][]byte) error {
	g.mu.Lock()
	g.calls = append(g.calls, len(keys))
	gate, fail := g.gate, g.fail
	g.mu.Unlock()
	if gate != nil {
		<-gate
	}
	if fail {
		return errStoreDown
	}
	return g.SessionStore.PutMany(ctx, keys, data)
}

func (g *gatedStore) counts() []int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]int(nil), g.calls...)
}

func newGatedEnv(t *testing.T) (*sessionEnv, *gatedStore) {
	g := &gatedStore{}
	e := &sessionEnv{t: t, journal: store.NewMemory(), sessions: store.NewMemory()}
	e.wrap = func(s SessionStore) SessionStore { g.SessionStore = s; return g }
	e.start()
	t.Cleanup(e.stop)
	return e, g
}

func persistentRaw(id string, rm uint16) *packets.Connect {
	return &packets.Connect{ProtocolVersion: packets.Version5, ClientID: id, KeepAlive: 30,
		Properties: packets.Properties{SessionExpiryInterval: 300, HasSessionExpiryInterval: true, ReceiveMaximum: rm}}
}

// TestSessionOutgoingBatched: the records of a persistent session's
// outgoing messages are written in batches, one PutMany for what queued
// while the previous write was in progress, and every message of a batch
// is resent with its packet identifier after a reconnect.
func TestSessionOutgoingBatched(t *testing.T) {
	e, g := newGatedEnv(t)
	const n = 20
	sub, _ := dialRawConnect(t, e.addr, persistentRaw("batch", 100))
	sub.send(&packets.Subscribe{PacketID: 1, Subscriptions: []packets.Subscription{{Filter: "batch/#", QoS: 1}}})
	sub.nextType(t, packets.TypeSuback)

	gate := make(chan struct{})
	g.mu.Lock()
	g.gate = gate
	g.mu.Unlock()
	pub, _ := dialV5(t, e.addr, &paho.Connect{ClientID: "batch-pub", CleanStart: true})
	ids := map[uint16]string{}
	for i := range n {
		pub.pub(t, "batch/a", fmt.Sprint(i), 1)
		p := sub.nextType(t, packets.TypePublish).(*packets.Publish)
		ids[p.PacketID] = string(p.Payload)
	}
	close(gate) // the first write ends; the other 19 records wait for the next
	deadline := time.Now().Add(5 * time.Second)
	for total := 0; total < n; {
		if time.Now().After(deadline) {
			t.Fatalf("records written: %v, want %d", g.counts(), n)
		}
		time.Sleep(10 * time.Millisecond)
		total = 0
		for _, c := range g.counts() {
			total += c
		}
	}
	if calls := g.counts(); len(calls) > 3 {
		t.Fatalf("%d messages took %d writes %v: not batched", n, len(calls), calls)
	}

	// Not acknowledged: all of them come back, same identifiers, DUP.
	sub.nc.Close()
	waitConns(t, e.gw, 1)
	sub, ack := dialRawConnect(t, e.addr, persistentRaw("batch", 100))
	if !ack.SessionPresent {
		t.Fatal("no session")
	}
	for range n {
		p := sub.nextType(t, packets.TypePublish).(*packets.Publish)
		if want, ok := ids[p.PacketID]; !ok || !p.Dup || string(p.Payload) != want {
			t.Fatalf("resent %+v, want DUP of %q (ids %v)", p, want, ids)
		}
		delete(ids, p.PacketID)
		sub.send(&packets.Puback{PacketID: p.PacketID})
	}
}

// TestSessionOutgoingStoreFails: a message whose record cannot be written
// stays the broker's, unaccepted: it is not lost, the session gets it
// again after a restart of the gateway.
func TestSessionOutgoingStoreFails(t *testing.T) {
	e, g := newGatedEnv(t)
	sub, _ := dialRawConnect(t, e.addr, persistentRaw("fail", 100))
	sub.send(&packets.Subscribe{PacketID: 1, Subscriptions: []packets.Subscription{{Filter: "fail/#", QoS: 1}}})
	sub.nextType(t, packets.TypeSuback)

	g.mu.Lock()
	g.fail = true
	g.mu.Unlock()
	pub, _ := dialV5(t, e.addr, &paho.Connect{ClientID: "fail-pub", CleanStart: true})
	for i := range 3 {
		pub.pub(t, "fail/a", fmt.Sprint(i), 1)
		if p := sub.nextType(t, packets.TypePublish).(*packets.Publish); string(p.Payload) != fmt.Sprint(i) {
			t.Fatalf("got %q, want %q", p.Payload, fmt.Sprint(i))
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for total := 0; total < 3; {
		if time.Now().After(deadline) {
			t.Fatalf("writes tried: %v", g.counts())
		}
		time.Sleep(10 * time.Millisecond)
		total = 0
		for _, c := range g.counts() {
			total += c
		}
	}
	// Restarted, the gateway knows only the records written: the
	// messages must still be the broker's.
	sub.nc.Close()
	waitConns(t, e.gw, 1)
	g.mu.Lock()
	g.fail = false
	g.mu.Unlock()
	e.restart()

	sub, ack := dialRawConnect(t, e.addr, persistentRaw("fail", 100))
	if !ack.SessionPresent {
		t.Fatal("no session")
	}
	got := map[string]bool{}
	for range 3 {
		p := sub.nextType(t, packets.TypePublish).(*packets.Publish)
		got[string(p.Payload)] = true
		sub.send(&packets.Puback{PacketID: p.PacketID})
	}
	for i := range 3 {
		if !got[fmt.Sprint(i)] {
			t.Fatalf("message %d lost after a failed write (got %v)", i, got)
		}
	}
}

// dropGatedStore is a SessionStore whose DropSubscription reports its
// calls on dropping and then waits for release to be closed.
type dropGatedStore struct {
	SessionStore
	dropping chan struct{}
	release  chan struct{}
	once     sync.Once
}

func (g *dropGatedStore) DropSubscription(space, name string) error {
	g.once.Do(func() { close(g.dropping) })
	<-g.release
	return g.SessionStore.DropSubscription(space, name)
}

// TestSessionReconnectWhileExpiring: a client that reconnects while its
// expired session's broker subscriptions are being deleted gets a new
// session once that is done, and the deletion does not take the new
// session's subscription (same name) with it.
func TestSessionReconnectWhileExpiring(t *testing.T) {
	g := &dropGatedStore{dropping: make(chan struct{}), release: make(chan struct{})}
	e := &sessionEnv{t: t, journal: store.NewMemory(), sessions: store.NewMemory(), opts: Options{MaxSessionExpiry: 1}}
	e.wrap = func(s SessionStore) SessionStore { g.SessionStore = s; return g }
	e.start()
	t.Cleanup(e.stop)

	c, _ := dialV5(t, e.addr, persistent("reexp", 1))
	c.sub(t, "reexp/#", 1)
	c.bye(t)
	select {
	case <-g.dropping: // expired: its subscription is being deleted
	case <-time.After(10 * time.Second):
		t.Fatal("the session did not expire")
	}
	// The reconnect's CONNECT must wait for the deletion, held at the
	// gate for 200 ms: without the wait the new session would subscribe
	// now and lose its subscription to the deletion.
	released := make(chan time.Time, 1)
	go func() {
		time.Sleep(200 * time.Millisecond)
		released <- time.Now()
		close(g.release)
	}()
	c2, ca := dialV5(t, e.addr, persistent("reexp", 60))
	connacked := time.Now()
	if rel := <-released; connacked.Before(rel) {
		t.Fatal("CONNACK came while the expired session's subscriptions were still being deleted")
	}
	c2.sub(t, "reexp/#", 1)
	if ca.SessionPresent {
		t.Fatal("expired session present")
	}
	pub, _ := dialV5(t, e.addr, &paho.Connect{ClientID: "reexp-pub", CleanStart: true})
	pub.pub(t, "reexp/a", "after", 1)
	c2.expect(t, "reexp/a", "after")
}
