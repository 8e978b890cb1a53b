package broker_test

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	amqp "github.com/Azure/go-amqp"

	"github.com/enmasse-go/enmasse/internal/amqp/sasl"
	"github.com/enmasse-go/enmasse/internal/amqp/transport"
	"github.com/enmasse-go/enmasse/internal/broker"
	"github.com/enmasse-go/enmasse/internal/router"
	"github.com/enmasse-go/enmasse/internal/store"
)

// STYLE d.10: the randomized tests print their seed; -seed or ENMASSE_SEED
// replays one.
var seedFlag = flag.Int64("seed", 0, "seed of the randomized broker tests (0: $ENMASSE_SEED, else the clock)")

func testSeed(t *testing.T) int64 {
	t.Helper()
	seed := *seedFlag
	if v := os.Getenv("ENMASSE_SEED"); seed == 0 && v != "" {
		s, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			t.Fatalf("ENMASSE_SEED=%q: %v", v, err)
		}
		seed = s
	}
	if seed == 0 {
		seed = time.Now().UnixNano()
	}
	t.Logf("seed=%d (replay: go test ./internal/broker -run '^%s$' -seed=%d)", seed, t.Name(), seed)
	return seed
}

// startNodeOpts is startNodeWith with broker options (the journal is
// opened over dir and set as opts.Store).
func startNodeOpts(t *testing.T, dir string, opts broker.Options, setup func(*router.Router)) *node {
	t.Helper()
	log, err := store.Open(store.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	opts.Store = log
	b, err := broker.Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	r := router.New(router.Options{Broker: b})
	r.SetSpace(router.SpaceConfig{Name: "default", AutoCreate: true})
	for _, q := range b.Queues() {
		r.SetAddress(q.Space, q.Name, router.Type(q.Type))
	}
	if setup != nil {
		setup(r)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := transport.NewServer(ln, transport.Options{Handler: r, OnOpen: r.OnOpen,
		Authenticator: sasl.NewAuthenticator(sasl.Config{AllowAnonymous: true})})
	go srv.Serve(context.Background())
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			srv.Shutdown(context.Background())
			log.Close()
		}
	}
	t.Cleanup(stop)
	return &node{addr: ln.Addr().String(), stop: stop, b: b}
}

// mMsg is a message of the reference model.
type mMsg struct {
	id       int // send order; also the broker's queue order
	durable  bool
	attempts uint32 // expected header delivery-count
	refused  int    // consumer generation that answered modified{undeliverable-here}
}

// queueModel is the reference: what queue "q" and its dead-letter queue
// hold, for a single consumer.
type queueModel struct {
	policy  broker.Policy
	queue   []*mMsg // waiting, in id order
	unacked []*mMsg // delivered to the consumer, unsettled, in delivery order
	dlq     []*mMsg // in arrival order
	credit  int
	gen     int // generation of the attached consumer; 0: none
	// Stats of q since the broker (re)started.
	enqueued, dequeued, deadLettered uint64
}

// requeue puts x back ahead of every newer message.
func (m *queueModel) requeue(x *mMsg) {
	i, _ := slices.BinarySearchFunc(m.queue, x.id, func(e *mMsg, id int) int { return e.id - id })
	m.queue = slices.Insert(m.queue, i, x)
}

// dispatch returns the messages the consumer is to receive now, in order.
func (m *queueModel) dispatch() []*mMsg {
	var out []*mMsg
	for m.gen != 0 && m.credit > 0 {
		i := slices.IndexFunc(m.queue, func(x *mMsg) bool { return x.refused != m.gen })
		if i < 0 {
			break
		}
		x := m.queue[i]
		m.queue = slices.Delete(m.queue, i, i+1)
		m.unacked = append(m.unacked, x)
		m.credit--
		out = append(out, x)
	}
	return out
}

func (m *queueModel) deadLetter(x *mMsg) {
	m.dequeued++
	m.deadLettered++
	if m.policy.DeadLetter != "" {
		m.dlq = append(m.dlq, &mMsg{id: x.id, durable: x.durable, attempts: x.attempts})
	}
}

// failed counts a failed delivery: redelivered, or dead-lettered past the
// policy's maximum.
func (m *queueModel) failed(x *mMsg) {
	x.attempts++
	if m.policy.MaxDeliveryAttempts > 0 && x.attempts >= m.policy.MaxDeliveryAttempts {
		m.deadLetter(x)
		return
	}
	m.requeue(x)
}

type outcome int

const (
	accept outcome = iota
	reject
	release
	modifyFailed              // modified{delivery-failed}
	modifyUndeliverable       // modified{undeliverable-here}
	modifyFailedUndeliverable // modified{delivery-failed, undeliverable-here}
	modifyNeither             // modified{}
	numOutcomes
)

func (o outcome) String() string {
	return [...]string{"accept", "reject", "release", "modified{failed}", "modified{undeliverable-here}",
		"modified{failed,undeliverable-here}", "modified{}"}[o]
}

// settle applies the consumer's outcome for unacked[i].
func (m *queueModel) settle(i int, o outcome) {
	x := m.unacked[i]
	m.unacked = slices.Delete(m.unacked, i, i+1)
	if o == modifyUndeliverable || o == modifyFailedUndeliverable {
		x.refused = m.gen // never again to this link (AMQP 1.0 §3.4.5)
	}
	switch o {
	case accept:
		m.dequeued++
	case reject:
		switch {
		case m.policy.DeadLetter != "":
			m.deadLetter(x)
		case m.policy.MaxDeliveryAttempts > 0:
			m.failed(x)
		default:
			m.dequeued++ // dropped
		}
	case modifyFailed, modifyFailedUndeliverable:
		m.failed(x)
	default:
		m.requeue(x)
	}
}

// disconnect: the consumer's unsettled messages go back ahead of newer ones.
func (m *queueModel) disconnect() {
	for _, x := range m.unacked {
		m.requeue(x)
	}
	m.unacked, m.gen, m.credit = nil, 0, 0
}

// restart keeps the durable messages (waiting or unsettled) with their
// delivery counts, in order; non-durable ones are lost by design.
func (m *queueModel) restart() {
	m.disconnect()
	keep := func(ms []*mMsg) []*mMsg {
		var out []*mMsg
		for _, x := range ms {
			if x.durable {
				x.refused = 0
				out = append(out, x)
			}
		}
		return out
	}
	m.queue, m.dlq = keep(m.queue), keep(m.dlq)
	m.enqueued, m.dequeued, m.deadLettered = uint64(len(m.queue)), 0, 0
}

// TestBrokerModel runs random sequences of send (durable or not), credit,
// settlement with every outcome, consumer disconnects and broker restarts
// through real AMQP clients, and checks every delivery (order, body,
// delivery-count, durability) and the broker's queue statistics against
// queueModel after each step. Policy and paging vary with the seed.
func TestBrokerModel(t *testing.T) {
	seed := testSeed(t)
	rng := rand.New(rand.NewPCG(uint64(seed), 0))
	steps := 1000
	if testing.Short() {
		steps = 300
	}

	m := &queueModel{}
	switch rng.IntN(4) {
	case 0: // zero policy: rejected messages are dropped
	case 1:
		m.policy = broker.Policy{DeadLetter: "dlq"}
	case 2:
		m.policy = broker.Policy{DeadLetter: "dlq", MaxDeliveryAttempts: uint32(2 + rng.IntN(3))}
	case 3: // no dead-letter address: exhausted messages are dropped
		m.policy = broker.Policy{MaxDeliveryAttempts: uint32(2 + rng.IntN(3))}
	}
	var opts broker.Options
	pad := 0
	if rng.IntN(2) == 0 {
		// Bodies are paged out to the journal beyond a few messages.
		opts.MaxMemory, pad = 2000, 400
	}
	t.Logf("policy %+v, max memory %d", m.policy, opts.MaxMemory)

	var trace []string
	fail := func(format string, args ...any) {
		t.Helper()
		from := max(0, len(trace)-25)
		t.Fatalf("seed=%d step %d: %s\nlast steps:\n  %s", seed, len(trace), fmt.Sprintf(format, args...),
			strings.Join(trace[from:], "\n  "))
	}
	step := func(format string, args ...any) { trace = append(trace, fmt.Sprintf(format, args...)) }

	dir := t.TempDir()
	setup := func(r *router.Router) {
		if err := r.SetAddress("default", "q", router.Queue); err != nil {
			t.Fatal(err)
		}
		if err := r.SetAddress("default", "dlq", router.Deadletter); err != nil {
			t.Fatal(err)
		}
	}
	// ctx bounds the client calls of one step.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var (
		n        *node
		pconn    *amqp.Conn
		snd      *amqp.Sender
		cconn    *amqp.Conn
		rcv      *amqp.Receiver
		held     = map[int]*amqp.Message{} // the consumer's unsettled deliveries
		nextID   int
		nextGen  int
		restarts int
	)
	dial := func() *amqp.Conn {
		c, err := amqp.Dial(ctx, "amqp://"+n.addr, &amqp.ConnOptions{SASLType: amqp.SASLTypeAnonymous()})
		if err != nil {
			fail("dial: %v", err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	newSession := func(c *amqp.Conn) *amqp.Session {
		s, err := c.NewSession(ctx, nil)
		if err != nil {
			fail("session: %v", err)
		}
		return s
	}
	start := func() {
		n = startNodeOpts(t, dir, opts, setup)
		if err := n.b.SetPolicy("default", "q", m.policy); err != nil {
			t.Fatal(err)
		}
		pconn = dial()
		var err error
		if snd, err = newSession(pconn).NewSender(ctx, "q", nil); err != nil {
			fail("sender: %v", err)
		}
	}
	body := func(id int) string { return fmt.Sprintf("m%d", id) + strings.Repeat(".", pad) }

	// expect receives the deliveries the model predicts, in order.
	expect := func(want []*mMsg) {
		t.Helper()
		for _, x := range want {
			got, err := rcv.Receive(ctx, nil)
			if err != nil {
				fail("expected m%d: %v", x.id, err)
			}
			b := strings.TrimRight(string(got.GetData()), ".")
			var count uint32
			var durable bool
			if got.Header != nil {
				count, durable = got.Header.DeliveryCount, got.Header.Durable
			}
			if b != fmt.Sprintf("m%d", x.id) || count != x.attempts || durable != x.durable {
				fail("received %s delivery-count %d durable %v, want m%d delivery-count %d durable %v",
					b, count, durable, x.id, x.attempts, x.durable)
			}
			held[x.id] = got
		}
	}
	// check waits until the broker's statistics match the model
	// (dispositions and detaches are applied asynchronously).
	check := func() {
		t.Helper()
		consumers := 0
		if m.gen != 0 {
			consumers = 1
		}
		want := fmt.Sprintf("depth %d unacked %d consumers %d producers 1 enqueued %d dequeued %d dead-lettered %d; dlq depth %d",
			len(m.queue), len(m.unacked), consumers, m.enqueued, m.dequeued, m.deadLettered, len(m.dlq))
		var got string
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
			st, _ := n.b.Stats("default", "q")
			dl, _ := n.b.Stats("default", "dlq")
			got = fmt.Sprintf("depth %d unacked %d consumers %d producers %d enqueued %d dequeued %d dead-lettered %d; dlq depth %d",
				st.Depth, st.Unacked, st.Consumers, st.Producers, st.Enqueued, st.Dequeued, st.DeadLettered, dl.Depth)
			if got == want {
				return
			}
			if time.Now().After(deadline) {
				fail("broker stats\n  %s\nwant\n  %s", got, want)
			}
		}
	}
	attach := func() {
		cconn = dial()
		var err error
		if rcv, err = newSession(cconn).NewReceiver(ctx, "q", &amqp.ReceiverOptions{Credit: -1}); err != nil {
			fail("receiver: %v", err)
		}
		nextGen++
		m.gen = nextGen
	}

	start()
	check()
	// randomStep takes one random step and checks the broker against the
	// model.
	randomStep := func() {
		var stop context.CancelFunc
		ctx, stop = context.WithTimeout(context.Background(), 10*time.Second)
		defer stop()
		switch r := rng.IntN(100); {
		case r < 30: // send
			for range 1 + rng.IntN(3) {
				nextID++
				x := &mMsg{id: nextID, durable: rng.IntN(2) == 0}
				msg := amqp.NewMessage([]byte(body(x.id)))
				if x.durable || rng.IntN(2) == 0 {
					msg.Header = &amqp.MessageHeader{Durable: x.durable}
				}
				step("send m%d durable=%v", x.id, x.durable)
				if err := snd.Send(ctx, msg, nil); err != nil {
					fail("send m%d: %v", x.id, err)
				}
				m.queue = append(m.queue, x)
				m.enqueued++
				expect(m.dispatch())
			}
		case r < 50: // credit
			if m.gen == 0 {
				return
			}
			c := 1 + rng.IntN(4)
			step("credit %d", c)
			if err := rcv.IssueCredit(uint32(c)); err != nil {
				fail("credit: %v", err)
			}
			m.credit += c
			expect(m.dispatch())
		case r < 85: // settle one unsettled delivery
			if len(m.unacked) == 0 {
				return
			}
			i := rng.IntN(len(m.unacked))
			x := m.unacked[i]
			o := outcome(rng.IntN(int(numOutcomes)))
			step("%v m%d", o, x.id)
			msg := held[x.id]
			delete(held, x.id)
			var err error
			switch o {
			case accept:
				err = rcv.AcceptMessage(ctx, msg)
			case reject:
				err = rcv.RejectMessage(ctx, msg, &amqp.Error{Condition: "app:model"})
			case release:
				err = rcv.ReleaseMessage(ctx, msg)
			default:
				err = rcv.ModifyMessage(ctx, msg, &amqp.ModifyMessageOptions{
					DeliveryFailed:    o == modifyFailed || o == modifyFailedUndeliverable,
					UndeliverableHere: o == modifyUndeliverable || o == modifyFailedUndeliverable,
				})
			}
			if err != nil {
				fail("settle: %v", err)
			}
			m.settle(i, o)
			expect(m.dispatch())
		case r < 93: // attach a consumer
			if m.gen != 0 {
				return
			}
			step("attach consumer")
			attach()
		case r < 98: // the consumer goes away with its unsettled messages
			if m.gen == 0 {
				return
			}
			if rng.IntN(2) == 0 {
				step("detach consumer (%d unsettled)", len(m.unacked))
				if err := rcv.Close(ctx); err != nil {
					fail("detach: %v", err)
				}
			} else {
				step("close consumer connection (%d unsettled)", len(m.unacked))
				cconn.Close()
			}
			clear(held)
			m.disconnect()
		default:
			step("restart (%d waiting, %d unsettled, %d dead-lettered)", len(m.queue), len(m.unacked), len(m.dlq))
			n.stop()
			pconn.Close()
			if cconn != nil {
				cconn.Close()
			}
			clear(held)
			m.restart()
			start()
			restarts++
		}
		check()
	}
	for len(trace) < steps {
		randomStep()
	}
	drainCtx, cancelDrain := context.WithTimeout(context.Background(), time.Minute)
	defer cancelDrain()
	ctx = drainCtx

	// Drain: a fresh consumer gets everything left, in order, then the
	// dead-letter queue.
	step("drain")
	if m.gen != 0 {
		cconn.Close()
		clear(held)
		m.disconnect()
		check()
	}
	attach()
	m.credit = len(m.queue) + 1
	if err := rcv.IssueCredit(uint32(m.credit)); err != nil {
		fail("credit: %v", err)
	}
	expect(m.dispatch())
	for id, msg := range held {
		if err := rcv.AcceptMessage(ctx, msg); err != nil {
			fail("accept m%d: %v", id, err)
		}
	}
	clear(held)
	m.dequeued += uint64(len(m.unacked))
	m.unacked = nil
	check()
	dlq, err := newSession(cconn).NewReceiver(ctx, "dlq", &amqp.ReceiverOptions{Credit: int32(len(m.dlq) + 1)})
	if err != nil {
		fail("dlq receiver: %v", err)
	}
	rcv = dlq
	expect(m.dlq)
	for id, msg := range held {
		if err := rcv.AcceptMessage(ctx, msg); err != nil {
			fail("accept m%d: %v", id, err)
		}
	}
	m.dlq = nil
	check()
	t.Logf("%d steps, %d messages sent, %d consumers, %d restarts", len(trace), nextID, nextGen, restarts)
}
