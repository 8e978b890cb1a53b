package router_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	amqp "github.com/Azure/go-amqp"

	"github.com/enmasse-go/enmasse/internal/amqp/sasl"
	"github.com/enmasse-go/enmasse/internal/amqp/transport"
	"github.com/enmasse-go/enmasse/internal/broker"
	"github.com/enmasse-go/enmasse/internal/router"
)

// startRouter serves a router with a broker on a random loopback port.
func startRouter(t testing.TB, spaces ...router.SpaceConfig) (*router.Router, string) {
	t.Helper()
	r := router.New(router.Options{Broker: broker.New(broker.Options{})})
	if len(spaces) == 0 {
		spaces = []router.SpaceConfig{{Name: "default", Namespace: "default", AutoCreate: true}}
	}
	for _, s := range spaces {
		r.SetSpace(s)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := transport.NewServer(ln, transport.Options{
		Handler: r, OnOpen: r.OnOpen,
		Authenticator: sasl.NewAuthenticator(sasl.Config{AllowAnonymous: true}), AllowNoSASL: true,
	})
	go srv.Serve(context.Background())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	return r, ln.Addr().String()
}

func ctxT(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func dial(t testing.TB, addr, host string) *amqp.Session {
	t.Helper()
	c, err := amqp.Dial(ctxT(t, 10*time.Second), "amqp://"+addr, &amqp.ConnOptions{HostName: host, SASLType: amqp.SASLTypeAnonymous()})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	s, err := c.NewSession(ctxT(t, 10*time.Second), nil)
	if err != nil {
		t.Fatalf("session: %v", err)
	}
	return s
}

func TestRouterAnycastCreditOnlyWithConsumer(t *testing.T) {
	r, addr := startRouter(t)
	if err := r.SetAddress("default", "work", router.Anycast); err != nil {
		t.Fatal(err)
	}
	prod := dial(t, addr, "")
	snd, err := prod.NewSender(ctxT(t, 5*time.Second), "work", nil)
	if err != nil {
		t.Fatal(err)
	}
	// No consumer: the send must not complete for 2 s (no credit).
	sendCtx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	err = snd.Send(sendCtx, amqp.NewMessage([]byte("early")), nil)
	cancel()
	var noCredit *amqp.Error // go-amqp reports a send that timed out waiting for credit this way
	if !errors.Is(err, context.DeadlineExceeded) && !(errors.As(err, &noCredit) && noCredit.Condition == amqp.ErrCondTransferLimitExceeded) {
		t.Fatalf("send without consumer: %v, want it to wait for credit", err)
	}
	cons := dial(t, addr, "")
	rcv, err := cons.NewReceiver(ctxT(t, 5*time.Second), "work", &amqp.ReceiverOptions{Credit: 10})
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- snd.Send(ctxT(t, 10*time.Second), amqp.NewMessage([]byte("hello")), nil) }()
	m, err := rcv.Receive(ctxT(t, 10*time.Second), nil)
	if err != nil {
		t.Fatal(err)
	}
	if string(m.GetData()) != "hello" {
		t.Fatalf("got %q", m.GetData())
	}
	// The consumer rejects: the producer sees rejected with its error.
	if err := rcv.RejectMessage(ctxT(t, 5*time.Second), m, &amqp.Error{Condition: "app:bad-order", Description: "order 7 is invalid"}); err != nil {
		t.Fatal(err)
	}
	err = <-errc
	var ae *amqp.Error
	if !errors.As(err, &ae) || ae.Condition != "app:bad-order" || ae.Description != "order 7 is invalid" {
		t.Fatalf("producer got %v, want the consumer's rejection", err)
	}
}

func TestRouterAnycastOutcomes(t *testing.T) {
	r, addr := startRouter(t)
	r.SetAddress("default", "rpc", router.Anycast)
	cons := dial(t, addr, "")
	rcv, err := cons.NewReceiver(ctxT(t, 5*time.Second), "rpc", &amqp.ReceiverOptions{Credit: 10})
	if err != nil {
		t.Fatal(err)
	}
	snd, err := dial(t, addr, "").NewSender(ctxT(t, 5*time.Second), "rpc", nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		settle func(*amqp.Message) error
		check  func(amqp.DeliveryState) error
	}{
		"accept": {
			settle: func(m *amqp.Message) error { return rcv.AcceptMessage(ctxT(t, 5*time.Second), m) },
			check: func(st amqp.DeliveryState) error {
				if _, ok := st.(*amqp.StateAccepted); !ok {
					return fmt.Errorf("got %#v, want accepted", st)
				}
				return nil
			},
		},
		"release": {
			settle: func(m *amqp.Message) error { return rcv.ReleaseMessage(ctxT(t, 5*time.Second), m) },
			check: func(st amqp.DeliveryState) error {
				if _, ok := st.(*amqp.StateReleased); !ok {
					return fmt.Errorf("got %#v, want released", st)
				}
				return nil
			},
		},
		"modify": {
			settle: func(m *amqp.Message) error {
				return rcv.ModifyMessage(ctxT(t, 5*time.Second), m, &amqp.ModifyMessageOptions{DeliveryFailed: true, UndeliverableHere: true})
			},
			check: func(st amqp.DeliveryState) error {
				mod, ok := st.(*amqp.StateModified)
				if !ok || !mod.DeliveryFailed || !mod.UndeliverableHere {
					return fmt.Errorf("got %#v, want modified with both flags", st)
				}
				return nil
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			receipt, err := snd.SendWithReceipt(ctxT(t, 10*time.Second), amqp.NewMessage([]byte(name)), nil)
			if err != nil {
				t.Fatal(err)
			}
			m, err := rcv.Receive(ctxT(t, 10*time.Second), nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := tc.settle(m); err != nil {
				t.Fatal(err)
			}
			st, err := receipt.Wait(ctxT(t, 10*time.Second))
			if err != nil {
				t.Fatal(err)
			}
			if err := tc.check(st); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestRouterAnycastBalanced(t *testing.T) {
	r, addr := startRouter(t)
	r.SetAddress("default", "jobs", router.Anycast)
	var rcvs []*amqp.Receiver
	for range 2 {
		rcv, err := dial(t, addr, "").NewReceiver(ctxT(t, 5*time.Second), "jobs", &amqp.ReceiverOptions{Credit: 100})
		if err != nil {
			t.Fatal(err)
		}
		rcvs = append(rcvs, rcv)
	}
	snd, err := dial(t, addr, "").NewSender(ctxT(t, 5*time.Second), "jobs", &amqp.SenderOptions{SettlementMode: amqp.SenderSettleModeSettled.Ptr()})
	if err != nil {
		t.Fatal(err)
	}
	const n = 40
	for i := range n {
		if err := snd.Send(ctxT(t, 5*time.Second), amqp.NewMessage([]byte{byte(i)}), &amqp.SendOptions{Settled: true}); err != nil {
			t.Fatal(err)
		}
	}
	// Pre-settled deliveries leave nothing unsettled, so "fewest
	// unsettled" ties; both consumers must still get messages and the
	// total must be exact.
	counts := make([]int, 2)
	total := 0
	for total < n {
		progressed := false
		for i, rcv := range rcvs {
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			m, err := rcv.Receive(ctx, nil)
			cancel()
			if err == nil {
				rcv.AcceptMessage(ctxT(t, 5*time.Second), m)
				counts[i]++
				total++
				progressed = true
			}
		}
		if !progressed {
			t.Fatalf("only %d of %d messages arrived (%v)", total, n, counts)
		}
	}
	if total != n {
		t.Fatalf("received %d, want %d", total, n)
	}
}

func TestRouterMulticastFanout(t *testing.T) {
	r, addr := startRouter(t)
	r.SetAddress("default", "news", router.Multicast)
	var rcvs []*amqp.Receiver
	for range 3 {
		rcv, err := dial(t, addr, "").NewReceiver(ctxT(t, 5*time.Second), "news", &amqp.ReceiverOptions{Credit: 50})
		if err != nil {
			t.Fatal(err)
		}
		rcvs = append(rcvs, rcv)
	}
	snd, err := dial(t, addr, "").NewSender(ctxT(t, 5*time.Second), "news", nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		if err := snd.Send(ctxT(t, 5*time.Second), amqp.NewMessage([]byte{byte(i)}), &amqp.SendOptions{Settled: true}); err != nil {
			t.Fatal(err)
		}
	}
	for ri, rcv := range rcvs {
		for i := range 10 {
			m, err := rcv.Receive(ctxT(t, 5*time.Second), nil)
			if err != nil {
				t.Fatalf("receiver %d message %d: %v", ri, i, err)
			}
			if m.GetData()[0] != byte(i) {
				t.Fatalf("receiver %d got %d at %d", ri, m.GetData()[0], i)
			}
		}
	}
}

func TestRouterRequestReplyDynamic(t *testing.T) {
	r, addr := startRouter(t)
	r.SetAddress("default", "service", router.Anycast)
	srvSess := dial(t, addr, "")
	requests, err := srvSess.NewReceiver(ctxT(t, 5*time.Second), "service", &amqp.ReceiverOptions{Credit: 10})
	if err != nil {
		t.Fatal(err)
	}
	replies, err := srvSess.NewSender(ctxT(t, 5*time.Second), "", nil) // anonymous relay
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			m, err := requests.Receive(context.Background(), nil)
			if err != nil {
				return
			}
			requests.AcceptMessage(context.Background(), m)
			to := *m.Properties.ReplyTo
			reply := amqp.NewMessage(append([]byte("re: "), m.GetData()...))
			reply.Properties = &amqp.MessageProperties{To: &to}
			replies.Send(context.Background(), reply, nil)
		}
	}()
	cli := dial(t, addr, "")
	replyRcv, err := cli.NewReceiver(ctxT(t, 5*time.Second), "", &amqp.ReceiverOptions{DynamicAddress: true, Credit: 5})
	if err != nil {
		t.Fatal(err)
	}
	replyTo := replyRcv.Address()
	if replyTo == "" {
		t.Fatal("dynamic receiver got no address")
	}
	req, err := cli.NewSender(ctxT(t, 5*time.Second), "service", nil)
	if err != nil {
		t.Fatal(err)
	}
	msg := amqp.NewMessage([]byte("ping"))
	msg.Properties = &amqp.MessageProperties{ReplyTo: &replyTo}
	if err := req.Send(ctxT(t, 5*time.Second), msg, nil); err != nil {
		t.Fatal(err)
	}
	m, err := replyRcv.Receive(ctxT(t, 5*time.Second), nil)
	if err != nil {
		t.Fatal(err)
	}
	if string(m.GetData()) != "re: ping" {
		t.Fatalf("reply %q", m.GetData())
	}
}

func TestRouterAnonymousRelayUnknownTo(t *testing.T) {
	r, addr := startRouter(t, router.SpaceConfig{Name: "strict"})
	r.SetAddress("strict", "known", router.Anycast)
	snd, err := dial(t, addr, "strict").NewSender(ctxT(t, 5*time.Second), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	to := "nowhere"
	msg := amqp.NewMessage([]byte("x"))
	msg.Properties = &amqp.MessageProperties{To: &to}
	err = snd.Send(ctxT(t, 5*time.Second), msg, nil)
	var ae *amqp.Error
	if !errors.As(err, &ae) || ae.Condition != amqp.ErrCondNotFound {
		t.Fatalf("send to unknown address: %v, want rejected amqp:not-found", err)
	}
}

func TestRouterUnknownAddressRefused(t *testing.T) {
	_, addr := startRouter(t, router.SpaceConfig{Name: "strict"})
	_, err := dial(t, addr, "strict").NewReceiver(ctxT(t, 5*time.Second), "missing", nil)
	var ae *amqp.Error
	if !errors.As(err, &ae) || ae.Condition != amqp.ErrCondNotFound {
		t.Fatalf("attach to unknown address: %v, want amqp:not-found", err)
	}
}

func TestRouterSpacesIsolated(t *testing.T) {
	r, addr := startRouter(t, router.SpaceConfig{Name: "a"}, router.SpaceConfig{Name: "b"})
	for _, sp := range []string{"a", "b"} {
		if err := r.SetAddress(sp, "orders", router.Anycast); err != nil {
			t.Fatal(err)
		}
	}
	rcvB, err := dial(t, addr, "b").NewReceiver(ctxT(t, 5*time.Second), "orders", &amqp.ReceiverOptions{Credit: 10})
	if err != nil {
		t.Fatal(err)
	}
	rcvA, err := dial(t, addr, "a").NewReceiver(ctxT(t, 5*time.Second), "orders", &amqp.ReceiverOptions{Credit: 10})
	if err != nil {
		t.Fatal(err)
	}
	sndA, err := dial(t, addr, "a").NewSender(ctxT(t, 5*time.Second), "orders", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := sndA.Send(ctxT(t, 5*time.Second), amqp.NewMessage([]byte("for a")), &amqp.SendOptions{Settled: true}); err != nil {
		t.Fatal(err)
	}
	m, err := rcvA.Receive(ctxT(t, 5*time.Second), nil)
	if err != nil || string(m.GetData()) != "for a" {
		t.Fatalf("space a: %v %v", m, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	if m, err := rcvB.Receive(ctx, nil); err == nil {
		t.Fatalf("space b received %q from space a", m.GetData())
	}
}

func TestRouterQueueAutoCreatedInDefault(t *testing.T) {
	_, addr := startRouter(t)
	s := dial(t, addr, "")
	snd, err := s.NewSender(ctxT(t, 5*time.Second), "auto-q", nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := snd.Send(ctxT(t, 5*time.Second), amqp.NewMessage([]byte{byte('a' + i)}), nil); err != nil {
			t.Fatal(err)
		}
	}
	rcv, err := s.NewReceiver(ctxT(t, 5*time.Second), "auto-q", &amqp.ReceiverOptions{Credit: 10})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		m, err := rcv.Receive(ctxT(t, 5*time.Second), nil)
		if err != nil {
			t.Fatal(err)
		}
		if m.GetData()[0] != byte('a'+i) {
			t.Fatalf("message %d: %q (FIFO broken)", i, m.GetData())
		}
		rcv.AcceptMessage(ctxT(t, 5*time.Second), m)
	}
}

func TestRouterLimits(t *testing.T) {
	r, addr := startRouter(t, router.SpaceConfig{Name: "small", Limits: router.Limits{
		MaxConnections: 1, MaxReceiversPerConnection: 1, MaxMessageSize: 100,
	}})
	r.SetAddress("small", "x", router.Anycast)
	s := dial(t, addr, "small")
	// The refusal is an open followed by close (AMQP 1.0 §2.4.1), so
	// go-amqp's Dial may succeed and the error shows on first use.
	c2, err := amqp.Dial(ctxT(t, 5*time.Second), "amqp://"+addr, &amqp.ConnOptions{HostName: "small", SASLType: amqp.SASLTypeAnonymous()})
	if err == nil {
		defer c2.Close()
		_, err = c2.NewSession(ctxT(t, 5*time.Second), nil)
	}
	var ce *amqp.ConnError
	if !errors.As(err, &ce) || ce.RemoteErr == nil || ce.RemoteErr.Condition != amqp.ErrCondResourceLimitExceeded {
		t.Fatalf("second connection: %v, want it closed with resource-limit-exceeded", err)
	}
	if _, err := s.NewReceiver(ctxT(t, 5*time.Second), "x", nil); err != nil {
		t.Fatal(err)
	}
	_, err = s.NewReceiver(ctxT(t, 5*time.Second), "x", nil)
	var ae *amqp.Error
	if !errors.As(err, &ae) || ae.Condition != amqp.ErrCondResourceLimitExceeded {
		t.Fatalf("second receiver: %v, want resource-limit-exceeded", err)
	}
	snd, err := s.NewSender(ctxT(t, 5*time.Second), "x", nil)
	if err != nil {
		t.Fatal(err)
	}
	if snd.MaxMessageSize() != 100 {
		t.Fatalf("max message size announced %d, want 100", snd.MaxMessageSize())
	}
}

// protonAvailable skips the test without Debian's python3-qpid-proton.
func protonAvailable(t *testing.T) {
	t.Helper()
	if err := exec.Command("/usr/bin/python3", "-c", "import proton").Run(); err != nil {
		t.Skip("python3-qpid-proton is not installed (make test-deps installs it)")
	}
}

// startPython runs a script from testdata/proton and returns a channel of
// its output lines.
func startPython(t *testing.T, args ...string) (<-chan string, *exec.Cmd) {
	t.Helper()
	cmd := exec.CommandContext(ctxT(t, 60*time.Second), "/usr/bin/python3", args...)
	cmd.Stderr = &testWriter{t}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return lines, cmd
}

type testWriter struct{ t *testing.T }

func (w *testWriter) Write(b []byte) (int, error) { w.t.Logf("python: %s", b); return len(b), nil }

func expectLine(t *testing.T, lines <-chan string, prefix string, within time.Duration) string {
	t.Helper()
	deadline := time.After(within)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("script ended before printing %q", prefix)
			}
			t.Logf("script: %s", l)
			if strings.HasPrefix(l, prefix) {
				return l
			}
		case <-deadline:
			t.Fatalf("no %q line within %v", prefix, within)
		}
	}
}

func TestRouterProtonAnycastRejected(t *testing.T) {
	protonAvailable(t)
	r, addr := startRouter(t)
	r.SetAddress("default", "work", router.Anycast)
	prod, _ := startPython(t, "testdata/proton/producer.py", addr, "work", "order 7")
	// No consumer: no credit for 2 s.
	select {
	case l := <-prod:
		t.Fatalf("producer printed %q before any consumer attached", l)
	case <-time.After(2 * time.Second):
	}
	cons, _ := startPython(t, "testdata/proton/consumer.py", addr, "work", "1", "reject")
	expectLine(t, cons, "ready", 20*time.Second)
	expectLine(t, prod, "credit after", 20*time.Second)
	expectLine(t, cons, "got order 7", 20*time.Second)
	if l := expectLine(t, prod, "outcome", 20*time.Second); l != "outcome rejected app:bad-order order 7 is invalid" {
		t.Fatalf("producer saw %q, want the consumer's rejection", l)
	}
}

func TestRouterProtonRequestReply(t *testing.T) {
	protonAvailable(t)
	r, addr := startRouter(t)
	r.SetAddress("default", "svc", router.Anycast)
	cons, _ := startPython(t, "testdata/proton/consumer.py", addr, "svc", "1", "reply")
	expectLine(t, cons, "ready", 20*time.Second)
	prod, _ := startPython(t, "testdata/proton/producer.py", addr, "svc", "ping", "reply")
	// The reply and the request's outcome race; both must arrive.
	got := map[string]bool{}
	for len(got) < 2 {
		l := expectLine(t, prod, "", 20*time.Second)
		if l == "outcome accepted" || l == "reply re: ping" {
			got[l] = true
		} else if !strings.HasPrefix(l, "credit after") {
			t.Fatalf("unexpected %q", l)
		}
	}
}

func TestRouterMulticastSlowConsumerBounded(t *testing.T) {
	r, addr := startRouter(t)
	r.SetAddress("default", "ticks", router.Multicast)
	fast, err := dial(t, addr, "").NewReceiver(ctxT(t, 5*time.Second), "ticks", &amqp.ReceiverOptions{Credit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	// The slow consumer grants 1 credit and never more.
	if _, err := dial(t, addr, "").NewReceiver(ctxT(t, 5*time.Second), "ticks", &amqp.ReceiverOptions{Credit: -1}); err != nil {
		t.Fatal(err)
	}
	snd, err := dial(t, addr, "").NewSender(ctxT(t, 5*time.Second), "ticks", &amqp.SenderOptions{SettlementMode: amqp.SenderSettleModeSettled.Ptr()})
	if err != nil {
		t.Fatal(err)
	}
	const n = 500
	for i := range n {
		if err := snd.Send(ctxT(t, 5*time.Second), amqp.NewMessage([]byte{byte(i)}), &amqp.SendOptions{Settled: true}); err != nil {
			t.Fatal(err)
		}
	}
	// The fast consumer gets everything despite the stuck one.
	for i := range n {
		if _, err := fast.Receive(ctxT(t, 5*time.Second), nil); err != nil {
			t.Fatalf("fast consumer stalled at %d: %v", i, err)
		}
	}
	// The stuck consumer buffered at most MulticastBuffer (100) and the
	// rest was dropped and counted.
	var info router.AddressInfo
	for _, a := range r.Addresses("default") {
		if a.Name == "ticks" {
			info = a
		}
	}
	if info.Dropped != n-100 {
		t.Fatalf("dropped %d, want %d (500 sent, 100 buffered, 0 credit)", info.Dropped, n-100)
	}
}

func TestRouterAnycastConsumerDetachModifies(t *testing.T) {
	r, addr := startRouter(t)
	r.SetAddress("default", "tasks", router.Anycast)
	consConn, err := amqp.Dial(ctxT(t, 5*time.Second), "amqp://"+addr, &amqp.ConnOptions{SASLType: amqp.SASLTypeAnonymous()})
	if err != nil {
		t.Fatal(err)
	}
	cs, _ := consConn.NewSession(ctxT(t, 5*time.Second), nil)
	rcv, err := cs.NewReceiver(ctxT(t, 5*time.Second), "tasks", &amqp.ReceiverOptions{Credit: 5})
	if err != nil {
		t.Fatal(err)
	}
	snd, err := dial(t, addr, "").NewSender(ctxT(t, 5*time.Second), "tasks", nil)
	if err != nil {
		t.Fatal(err)
	}
	receipt, err := snd.SendWithReceipt(ctxT(t, 5*time.Second), amqp.NewMessage([]byte("job")), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rcv.Receive(ctxT(t, 5*time.Second), nil); err != nil {
		t.Fatal(err)
	}
	consConn.Close() // leaves with the delivery unsettled
	st, err := receipt.Wait(ctxT(t, 5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	mod, ok := st.(*amqp.StateModified)
	if !ok || !mod.DeliveryFailed {
		t.Fatalf("producer got %#v, want modified{delivery-failed}", st)
	}
}

// TestRouterConnectionLimitsPerUserAndHost: maxConnectionsPerUser counts
// each user's connections to the space, maxConnectionsPerHost those from
// one remote IP; a refused connection is closed with
// amqp:resource-limit-exceeded, and a closed one frees its place.
func TestRouterConnectionLimitsPerUserAndHost(t *testing.T) {
	r := router.New(router.Options{Broker: broker.New(broker.Options{})})
	r.SetSpace(router.SpaceConfig{Name: "u", Limits: router.Limits{MaxConnectionsPerUser: 1}})
	r.SetSpace(router.SpaceConfig{Name: "h", Limits: router.Limits{MaxConnectionsPerHost: 2}})
	users := sasl.MemoryUsers{}
	for _, u := range []string{"alice", "bob"} {
		c, err := sasl.NewPasswordCredentials("pw")
		if err != nil {
			t.Fatal(err)
		}
		users[u] = c
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := transport.NewServer(ln, transport.Options{
		Handler: r, OnOpen: r.OnOpen,
		Authenticator: sasl.NewAuthenticator(sasl.Config{AllowAnonymous: true, Users: users}),
	})
	go srv.Serve(context.Background())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	addr := ln.Addr().String()
	// connect dials space as user ("" for anonymous) and returns the
	// connection, or the error of its first session.
	connect := func(space, user string) (*amqp.Conn, error) {
		t.Helper()
		auth := amqp.SASLTypeAnonymous()
		if user != "" {
			auth = amqp.SASLTypePlain(user, "pw")
		}
		c, err := amqp.Dial(ctxT(t, 5*time.Second), "amqp://"+addr, &amqp.ConnOptions{HostName: space, SASLType: auth})
		if err == nil {
			_, err = c.NewSession(ctxT(t, 5*time.Second), nil)
		}
		if err != nil {
			if c != nil {
				c.Close()
			}
			return nil, err
		}
		t.Cleanup(func() { c.Close() })
		return c, nil
	}
	refused := func(err error) bool {
		var ce *amqp.ConnError
		return errors.As(err, &ce) && ce.RemoteErr != nil && ce.RemoteErr.Condition == amqp.ErrCondResourceLimitExceeded
	}

	a1, err := connect("u", "alice")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := connect("u", "alice"); !refused(err) {
		t.Fatalf("alice's second connection: %v, want resource-limit-exceeded", err)
	}
	if _, err := connect("u", "bob"); err != nil {
		t.Fatalf("bob next to alice: %v", err)
	}
	a1.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := connect("u", "alice")
		if err == nil {
			break
		}
		if !refused(err) || time.Now().After(deadline) {
			t.Fatalf("alice after closing her connection: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}

	// Per host: every client here is 127.0.0.1, whoever it is.
	if _, err := connect("h", "alice"); err != nil {
		t.Fatal(err)
	}
	if _, err := connect("h", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := connect("h", "bob"); !refused(err) {
		t.Fatalf("third connection from 127.0.0.1: %v, want resource-limit-exceeded", err)
	}
	// Space u has no per-host limit: it still takes connections.
	if _, err := connect("u", ""); err != nil {
		t.Fatalf("space u: %v", err)
	}
}

// TestRouterMulticastRefusesRetained: a multicast address keeps no
// messages, so one asking to be retained (x-opt-retain = true) is refused
// instead of delivered as if kept: unsettled on a link or through the
// anonymous relay it is rejected with amqp:not-implemented, pre-settled
// it is dropped. Other messages, and x-opt-retain = false, pass.
func TestRouterMulticastRefusesRetained(t *testing.T) {
	r, addr := startRouter(t)
	r.SetAddress("default", "events", router.Multicast)
	s := dial(t, addr, "")
	rcv, err := s.NewReceiver(ctxT(t, 5*time.Second), "events", &amqp.ReceiverOptions{Credit: 50})
	if err != nil {
		t.Fatal(err)
	}
	msg := func(body string, retain any) *amqp.Message {
		m := amqp.NewMessage([]byte(body))
		if retain != nil {
			m.Annotations = amqp.Annotations{"x-opt-retain": retain}
		}
		m.Properties = &amqp.MessageProperties{To: ptr("events")}
		return m
	}
	link, err := s.NewSender(ctxT(t, 5*time.Second), "events", nil)
	if err != nil {
		t.Fatal(err)
	}
	relay, err := s.NewSender(ctxT(t, 5*time.Second), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, snd := range map[string]*amqp.Sender{"link": link, "relay": relay} {
		err := snd.Send(ctxT(t, 5*time.Second), msg("kept?", true), nil)
		var ae *amqp.Error
		if !errors.As(err, &ae) || ae.Condition != amqp.ErrCondNotImplemented || !strings.Contains(ae.Description, "retained") {
			t.Fatalf("%s: retained message to a multicast address: %v, want amqp:not-implemented", name, err)
		}
		if err := snd.Send(ctxT(t, 5*time.Second), msg("dropped", true), &amqp.SendOptions{Settled: true}); err != nil {
			t.Fatal(err)
		}
		if err := snd.Send(ctxT(t, 5*time.Second), msg("plain-"+name, false), nil); err != nil {
			t.Fatalf("%s: x-opt-retain false: %v", name, err)
		}
		// Same producer, same path: the refused ones would be first.
		m, err := rcv.Receive(ctxT(t, 5*time.Second), nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := string(m.GetData()); got != "plain-"+name {
			t.Fatalf("%s: consumer got %q, want plain-%s", name, got, name)
		}
	}
}

func ptr[T any](v T) *T { return &v }
