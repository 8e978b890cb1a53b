package transport

import (
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/enmasse-go/enmasse/internal/amqp/frames"
)

// sinkHandler accepts one link from the peer, keeps it supplied with credit
// and settles every message it receives.
type sinkHandler struct {
	NopHandler
	got    atomic.Int64
	accept bool
}

func (h *sinkHandler) OnAttach(l *Link) error {
	l.CompleteAttach(nil)
	l.Flow(1000, false)
	return ErrAttachLater
}

func (h *sinkHandler) OnMessage(l *Link, d *Delivery) {
	if h.accept {
		d.Settle(frames.Accepted{})
	}
	if n := h.got.Add(1); n%500 == 0 {
		l.AddCredit(500)
	}
}

// BenchmarkTransportTransfer measures one message of 100 bytes through the
// engine, client to server over loopback TCP: encode, frame, write, read,
// parse, assemble, hand to the handler. Pre-settled and unsettled (the
// server accepts and the client waits for every outcome in a window).
func BenchmarkTransportTransfer(b *testing.B) {
	for _, mode := range []string{"presettled", "unsettled"} {
		b.Run(mode, func(b *testing.B) {
			h := &sinkHandler{accept: mode == "unsettled"}
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			srv := NewServer(ln, Options{Handler: h})
			go srv.Serve(context.Background())
			defer srv.Shutdown(context.Background())
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			c, err := Dial(ctx, ln.Addr().String(), Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close(context.Background(), nil)
			s, err := c.NewSession(ctx)
			if err != nil {
				b.Fatal(err)
			}
			snd, err := s.NewSender(ctx, "sink", SenderOptions{})
			if err != nil {
				b.Fatal(err)
			}
			payload := make([]byte, 100)
			window := make([]*Delivery, 0, 256)
			b.SetBytes(int64(len(payload)))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				d, err := snd.SendAsync(ctx, payload, SendOptions{Settled: mode == "presettled"})
				if err != nil {
					b.Fatal(err)
				}
				if mode == "unsettled" {
					window = append(window, d)
					if len(window) == cap(window) {
						for _, d := range window {
							<-d.Done()
						}
						window = window[:0]
					}
				}
			}
			for _, d := range window {
				<-d.Done()
			}
			for h.got.Load() < int64(b.N) {
				time.Sleep(time.Millisecond) // the server is draining its socket
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}
