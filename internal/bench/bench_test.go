package bench

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/enmasse-go/enmasse/internal/amqp/sasl"
	"github.com/enmasse-go/enmasse/internal/amqp/transport"
	"github.com/enmasse-go/enmasse/internal/broker"
	"github.com/enmasse-go/enmasse/internal/router"
)

func TestBenchTrackerLossAndDuplicates(t *testing.T) {
	tr := NewTracker()
	// Producer 1 sent 0..9; 3 and 7 were lost, 5 arrived twice.
	for _, seq := range []uint64{0, 1, 2, 4, 5, 5, 6, 8, 9} {
		tr.Observe(1, seq, time.Millisecond)
	}
	// Producer 2 sent 0..199 and all arrived; one duplicate of 130.
	for seq := range uint64(200) {
		tr.Observe(2, seq, time.Duration(seq)*time.Microsecond)
	}
	tr.Observe(2, 130, 0)
	got, dups := tr.Counts()
	if got != 8+200 || dups != 2 {
		t.Fatalf("received %d, duplicates %d; want 208 and 2", got, dups)
	}
	if lost := tr.Lost(map[uint32]uint64{1: 10, 2: 200, 3: 5}); lost != 2+0+5 {
		t.Fatalf("lost %d, want 7 (2 of producer 1, all 5 of producer 3)", lost)
	}
	ps, max := tr.Percentiles(0, 100)
	if ps[0] != 0 || ps[1] != max || max != time.Millisecond {
		t.Fatalf("percentiles %v max %v", ps, max)
	}
}

func TestBenchStampRoundTrip(t *testing.T) {
	b := make([]byte, 32)
	at := time.Unix(1700000000, 123456789)
	putStamp(b, 7, 42, at)
	p, seq, sent, err := readStamp(b)
	if err != nil || p != 7 || seq != 42 || !sent.Equal(at) {
		t.Fatalf("%d %d %v %v", p, seq, sent, err)
	}
	if _, _, _, err := readStamp(b[:10]); err != ErrShortBody {
		t.Fatalf("short body: %v", err)
	}
}

func startServer(t *testing.T) string {
	t.Helper()
	r := router.New(router.Options{Broker: broker.New(broker.Options{})})
	r.SetSpace(router.SpaceConfig{Name: "default", AutoCreate: true})
	r.SetAddress("default", "direct", router.Anycast)
	r.SetAddress("default", "fan", router.Multicast)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := transport.NewServer(ln, transport.Options{Handler: r, OnOpen: r.OnOpen,
		Authenticator: sasl.NewAuthenticator(sasl.Config{AllowAnonymous: true}), AllowNoSASL: true})
	go srv.Serve(context.Background())
	t.Cleanup(func() { srv.Shutdown(context.Background()) })
	return ln.Addr().String()
}

func TestBenchCountsMatch(t *testing.T) {
	addr := startServer(t)
	tests := map[string]Config{
		"queue unsettled":    {Address: "q", Count: 2000, Producers: 2, Consumers: 2},
		"queue presettled":   {Address: "q2", Count: 2000, Consumers: 1, Presettled: true},
		"anycast unsettled":  {Address: "direct", Count: 1000, Consumers: 1, Size: 1024},
		"rate limited queue": {Address: "q3", Count: 200, Consumers: 1, Rate: 1000},
		"multicast fanout":   {Address: "fan", Count: 300, Consumers: 3, Fanout: true, Presettled: true, Rate: 3000},
	}
	for name, cfg := range tests {
		t.Run(name, func(t *testing.T) {
			cfg.URL = addr
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			start := time.Now()
			res, err := RunAMQP(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			want := uint64(cfg.Count)
			if cfg.Fanout {
				want *= uint64(cfg.Consumers)
			}
			if res.Sent != uint64(cfg.Count) || res.Received != want || res.Lost != 0 || res.Duplicates != 0 || res.Errors != 0 {
				t.Fatalf("result %+v, want %d sent and received, nothing lost", res, cfg.Count)
			}
			if res.P50 <= 0 || res.Max < res.P99 {
				t.Fatalf("latencies %+v", res)
			}
			if cfg.Rate > 0 && time.Since(start) < time.Duration(float64(cfg.Count)/float64(cfg.Rate)*0.75*float64(time.Second)) {
				t.Fatalf("%d messages at %d/s took only %v", cfg.Count, cfg.Rate, time.Since(start))
			}
		})
	}
}

func TestBenchRelay(t *testing.T) {
	rate, err := RunRelay(100000, 100)
	if err != nil {
		t.Fatal(err)
	}
	if rate <= 0 {
		t.Fatalf("rate %v", rate)
	}
}
