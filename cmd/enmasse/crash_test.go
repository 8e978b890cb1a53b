package main

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	amqp "github.com/Azure/go-amqp"
)

var seedFlag = flag.Int64("seed", 0, "seed of the crash test (0: $ENMASSE_SEED, else the clock)")

// crashServer is the address of the current `enmasse serve` process.
type crashServer struct {
	mu   sync.Mutex
	addr string
}

func (s *crashServer) get() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

func (s *crashServer) set(addr string) {
	s.mu.Lock()
	s.addr = addr
	s.mu.Unlock()
}

// crashLedger is what the clients saw: messages whose accepted outcome a
// producer received, and how often each message was delivered.
type crashLedger struct {
	mu        sync.Mutex
	accepted  map[string]bool
	delivered map[string]int
	sent      int
	lastErr   error // the clients' latest connection error, for diagnosis
}

func (l *crashLedger) failed(err error) {
	l.mu.Lock()
	l.lastErr = err
	l.mu.Unlock()
}

func (l *crashLedger) acceptedCount() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.accepted)
}

func crashDial(ctx context.Context, addr string) (*amqp.Conn, *amqp.Session, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	c, err := amqp.Dial(ctx, "amqp://"+addr, &amqp.ConnOptions{SASLType: amqp.SASLTypeAnonymous()})
	if err != nil {
		return nil, nil, err
	}
	s, err := c.NewSession(ctx, nil)
	if err != nil {
		c.Close()
		return nil, nil, err
	}
	return c, s, nil
}

// crashProducer sends durable messages p<p>-<n> with up to 16 awaiting
// their outcome, reconnecting whenever the server dies; n never repeats.
func crashProducer(ctx context.Context, srv *crashServer, p int, l *crashLedger) {
	next := 0
	for ctx.Err() == nil {
		conn, s, err := crashDial(ctx, srv.get())
		if err != nil {
			l.failed(err)
			time.Sleep(20 * time.Millisecond)
			continue
		}
		snd, err := s.NewSender(ctx, "orders", nil)
		if err != nil {
			l.failed(err)
			conn.Close()
			time.Sleep(20 * time.Millisecond)
			continue
		}
		type inFlight struct {
			id string
			r  amqp.SendReceipt
		}
		pending := make(chan inFlight, 16)
		done := make(chan struct{})
		go func() {
			defer close(done)
			for f := range pending {
				st, err := f.r.Wait(ctx)
				if _, ok := st.(*amqp.StateAccepted); ok && err == nil {
					l.mu.Lock()
					l.accepted[f.id] = true
					l.mu.Unlock()
				}
			}
		}()
		for ctx.Err() == nil {
			id := fmt.Sprintf("p%d-%d", p, next)
			next++
			m := amqp.NewMessage([]byte(id))
			m.Header = &amqp.MessageHeader{Durable: true}
			sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			r, err := snd.SendWithReceipt(sctx, m, nil)
			cancel()
			if err != nil {
				l.failed(err)
				break // the server died (or the test ends): reconnect
			}
			l.mu.Lock()
			l.sent++
			l.mu.Unlock()
			pending <- inFlight{id, r}
		}
		close(pending)
		<-done
		conn.Close()
	}
}

// crashConsumer receives and accepts messages from orders, reconnecting
// whenever the server dies.
func crashConsumer(ctx context.Context, srv *crashServer, l *crashLedger) {
	for ctx.Err() == nil {
		conn, s, err := crashDial(ctx, srv.get())
		if err != nil {
			time.Sleep(20 * time.Millisecond)
			continue
		}
		rcv, err := s.NewReceiver(ctx, "orders", &amqp.ReceiverOptions{Credit: 50})
		for i := 0; err == nil; i++ {
			var m *amqp.Message
			if m, err = rcv.Receive(ctx, nil); err == nil {
				l.mu.Lock()
				l.delivered[string(m.GetData())]++
				l.mu.Unlock()
				rcv.AcceptMessage(ctx, m)
				if i%4 == 3 {
					// Slower than the producers: a backlog builds up
					// in the journal between the kills.
					time.Sleep(time.Millisecond)
				}
			}
		}
		conn.Close()
	}
}

// TestCrashKill9Cycles is the CI crash test of the broker's
// acknowledgement contract (issue 4): four producers on their own
// connections send durable messages to a child `enmasse serve` while a
// consumer takes and accepts messages; the server is killed with SIGKILL
// at random moments, several times, and restarted over the same data dir.
// At the end the queue is drained: every message whose accepted outcome a
// producer received must have been delivered at least once (by the
// consumer during the cycles or by the drain). Duplicates are reported.
func TestCrashKill9Cycles(t *testing.T) {
	bin := buildBinary(t)
	seed := *seedFlag
	if v := os.Getenv("ENMASSE_SEED"); seed == 0 && v != "" {
		var err error
		if seed, err = strconv.ParseInt(v, 10, 64); err != nil {
			t.Fatalf("ENMASSE_SEED=%q: %v", v, err)
		}
	}
	if seed == 0 {
		seed = time.Now().UnixNano()
	}
	t.Logf("seed=%d (replay: go test ./cmd/enmasse -run '^TestCrashKill9Cycles$' -seed=%d)", seed, seed)
	rng := rand.New(rand.NewPCG(uint64(seed), 0))

	dataDir := t.TempDir()
	cmd, addr := startServe(t, bin, dataDir)
	srv := &crashServer{addr: addr}
	l := &crashLedger{accepted: map[string]bool{}, delivered: map[string]int{}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	const producers = 4
	for p := range producers {
		wg.Go(func() { crashProducer(ctx, srv, p, l) })
	}
	wg.Go(func() { crashConsumer(ctx, srv, l) })

	// progress waits until at least n more messages were accepted.
	progress := func(what string, n int) {
		t.Helper()
		want := l.acceptedCount() + n
		for deadline := time.Now().Add(20 * time.Second); l.acceptedCount() < want; time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				l.mu.Lock()
				defer l.mu.Unlock()
				t.Fatalf("%s: %d messages accepted, want %d (last client error: %v)", what, len(l.accepted), want, l.lastErr)
			}
		}
	}
	cycles := 3 + rng.IntN(2)
	for cycle := 1; cycle <= cycles; cycle++ {
		// A random moment: after some progress, plus a random delay.
		progress(fmt.Sprintf("cycle %d", cycle), 50+rng.IntN(250))
		time.Sleep(time.Duration(rng.IntN(300)) * time.Millisecond)
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		cmd.Wait()
		l.mu.Lock()
		t.Logf("cycle %d: SIGKILL with %d messages sent, %d accepted, %d delivered to the consumer",
			cycle, l.sent, len(l.accepted), len(l.delivered))
		l.mu.Unlock()
		time.Sleep(time.Duration(rng.IntN(100)) * time.Millisecond)
		cmd, addr = startServe(t, bin, dataDir)
		srv.set(addr)
	}
	// The clients carry on against the last server, then stop.
	progress("after the last restart", 100)
	cancel()
	wg.Wait()

	// Drain what is left.
	conn, s, err := crashDial(context.Background(), srv.get())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	rcv, err := s.NewReceiver(context.Background(), "orders", &amqp.ReceiverOptions{Credit: 500})
	if err != nil {
		t.Fatal(err)
	}
	drained := 0
	for {
		rctx, rcancel := context.WithTimeout(context.Background(), 2*time.Second)
		m, err := rcv.Receive(rctx, nil)
		rcancel()
		if err != nil {
			break // drained
		}
		l.delivered[string(m.GetData())]++
		drained++
		if err := rcv.AcceptMessage(context.Background(), m); err != nil {
			t.Fatal(err)
		}
	}

	deliveries, lost := 0, 0
	for _, n := range l.delivered {
		deliveries += n
	}
	for id := range l.accepted {
		if l.delivered[id] == 0 {
			lost++
			if lost <= 10 {
				t.Errorf("accepted message %s was never delivered", id)
			}
		}
	}
	t.Logf("%d kill -9 cycles: %d messages sent, %d accepted, %d distinct delivered (%d by the final drain), %d duplicate deliveries",
		cycles, l.sent, len(l.accepted), len(l.delivered), drained, deliveries-len(l.delivered))
	if lost > 0 {
		t.Fatalf("seed=%d: %d of %d accepted messages lost", seed, lost, len(l.accepted))
	}
}
