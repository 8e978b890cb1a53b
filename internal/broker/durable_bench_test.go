package broker_test

import (
	"context"
	"testing"
	"time"

	"github.com/enmasse-go/enmasse/internal/amqp/message"
	"github.com/enmasse-go/enmasse/internal/amqp/sasl"
	"github.com/enmasse-go/enmasse/internal/amqp/transport"
	"github.com/enmasse-go/enmasse/internal/broker"
	"github.com/enmasse-go/enmasse/internal/store"
)

// BenchmarkBrokerDurableSend measures durable 100-byte messages into a
// journaled queue (fsync per group commit), 4 producers with a window of
// unsettled messages each, until every outcome arrived.
func BenchmarkBrokerDurableSend(b *testing.B) {
	log, err := store.Open(store.Options{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer log.Close()
	br, err := broker.Open(broker.Options{Store: log})
	if err != nil {
		b.Fatal(err)
	}
	addr := serveBroker(&testing.T{}, br)
	m := message.Message{Header: &message.Header{Durable: true, Priority: 4}, Data: [][]byte{make([]byte, 100)}}
	payload, _ := m.Marshal(nil)
	const producers = 4
	snds := make([]*transport.Sender, producers)
	for i := range snds {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		c, err := transport.Dial(ctx, addr, transport.Options{SASL: sasl.NewAnonymousClient("")})
		if err != nil {
			b.Fatal(err)
		}
		s, _ := c.NewSession(ctx)
		snds[i], err = s.NewSender(ctx, "durable", transport.SenderOptions{})
		cancel()
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	done := make(chan struct{})
	for p := range producers {
		go func() {
			defer func() { done <- struct{}{} }()
			var window []*transport.Delivery
			for i := p; i < b.N; i += producers {
				d, err := snds[p].SendAsync(context.Background(), payload, transport.SendOptions{})
				if err != nil {
					return
				}
				window = append(window, d)
				if len(window) == 200 {
					for _, d := range window {
						<-d.Done()
					}
					window = window[:0]
				}
			}
			for _, d := range window {
				<-d.Done()
			}
		}()
	}
	for range producers {
		<-done
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}
