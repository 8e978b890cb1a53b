package broker_test

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/enmasse-go/enmasse/internal/amqp/frames"
	"github.com/enmasse-go/enmasse/internal/amqp/message"
	"github.com/enmasse-go/enmasse/internal/amqp/sasl"
	"github.com/enmasse-go/enmasse/internal/amqp/transport"
	"github.com/enmasse-go/enmasse/internal/amqp/types"
	"github.com/enmasse-go/enmasse/internal/broker"
	"github.com/enmasse-go/enmasse/internal/router"
	"github.com/enmasse-go/enmasse/internal/store"
)

// retainedBench serves a journaled broker with topic "rb" and returns an
// AMQP session on it.
func retainedBench(b *testing.B) *transport.Session {
	log, err := store.Open(store.Options{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { log.Close() })
	br, err := broker.Open(broker.Options{Store: log})
	if err != nil {
		b.Fatal(err)
	}
	r := router.New(router.Options{Broker: br})
	r.SetSpace(router.SpaceConfig{Name: "default"})
	if err := r.SetAddress("default", "rb", router.Topic); err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := transport.NewServer(ln, transport.Options{Handler: r, OnOpen: r.OnOpen,
		Authenticator: sasl.NewAuthenticator(sasl.Config{AllowAnonymous: true})})
	go srv.Serve(context.Background())
	b.Cleanup(func() { srv.Shutdown(context.Background()) })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := transport.Dial(ctx, ln.Addr().String(), transport.Options{SASL: sasl.NewAnonymousClient("")})
	if err != nil {
		b.Fatal(err)
	}
	s, err := c.NewSession(ctx)
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// retainedPayloads are 100-byte retained messages to names rb/0 … rb/n-1.
func retainedPayloads(n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		m := message.Message{Properties: &message.Properties{To: fmt.Sprintf("rb/%d", i)},
			MessageAnnotations: types.Map{{Key: broker.AnnotationRetain, Value: true}},
			Data:               [][]byte{make([]byte, 100)}}
		out[i], _ = m.Marshal(nil)
	}
	return out
}

// publishAll sends payloads unsettled through the anonymous relay,
// b.N times round-robin, with a window of 200, until all are accepted.
func publishAll(b *testing.B, s *transport.Session, payloads [][]byte, n int) {
	snd, err := s.NewSender(context.Background(), "", transport.SenderOptions{})
	if err != nil {
		b.Fatal(err)
	}
	var window []*transport.Delivery
	wait := func() {
		for _, d := range window {
			<-d.Done()
			if st, _ := d.RemoteState(); st == nil {
				b.Fatal("no outcome")
			} else if _, ok := st.(frames.Accepted); !ok {
				b.Fatalf("outcome %v", st)
			}
		}
		window = window[:0]
	}
	for i := range n {
		d, err := snd.SendAsync(context.Background(), payloads[i%len(payloads)], transport.SendOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if window = append(window, d); len(window) == 200 {
			wait()
		}
	}
	wait()
}

// BenchmarkBrokerRetainedPublish: retained 100-byte messages over 1,000
// topic names (each journaled, replacing the previous one), one producer
// with 200 unsettled.
func BenchmarkBrokerRetainedPublish(b *testing.B) {
	s := retainedBench(b)
	payloads := retainedPayloads(1000)
	b.ReportAllocs()
	b.ResetTimer()
	publishAll(b, s, payloads, b.N)
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// BenchmarkBrokerRetainedSubscribe: a new wildcard subscriber asking for
// the retained messages receives all 10,000 of them.
func BenchmarkBrokerRetainedSubscribe(b *testing.B) {
	const n = 10000
	s := retainedBench(b)
	publishAll(b, s, retainedPayloads(n), n)
	b.ResetTimer()
	for range b.N {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		r, err := s.NewReceiver(ctx, "rb/#", transport.ReceiverOptions{Credit: 500,
			Source: &frames.Source{Address: "rb/#", Capabilities: []types.Symbol{broker.CapabilityRetained}}})
		if err != nil {
			b.Fatal(err)
		}
		for range n {
			d, err := r.Receive(ctx)
			if err != nil {
				b.Fatal(err)
			}
			r.Accept(d)
		}
		r.Close(ctx)
		cancel()
	}
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "retained-msgs/s")
}
