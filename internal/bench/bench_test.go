package bench

import (
	"context"
	"net"
	"os"
	"strings"
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
	// A multicast consumer's first flow travels on its own connection:
	// on a starved machine the producer's first messages can reach the
	// router before it, and beyond MulticastBuffer they would be dropped
	// (at most once, by design) and counted lost. Buffering a whole run
	// keeps "multicast fanout" about the bench's counting: a message the
	// router never delivered still fails it.
	r := router.New(router.Options{Broker: broker.New(broker.Options{}), MulticastBuffer: 1000})
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

func TestBenchResolveTarget(t *testing.T) {
	tests := map[string]struct {
		cfg                  Config
		proto                string
		addr, user, password string
		tls                  bool
		err                  string
	}{
		"host port":           {cfg: Config{URL: "127.0.0.1:5672"}, proto: "amqp", addr: "127.0.0.1:5672"},
		"amqp url":            {cfg: Config{URL: "amqp://h:1"}, proto: "amqp", addr: "h:1"},
		"amqps default port":  {cfg: Config{URL: "amqps://h"}, proto: "amqp", addr: "h:5671", tls: true},
		"amqp default port":   {cfg: Config{URL: "amqp://h"}, proto: "amqp", addr: "h:5672"},
		"mqtts default port":  {cfg: Config{URL: "mqtts://h"}, proto: "mqtt", addr: "h:8883", tls: true},
		"mqtt default port":   {cfg: Config{URL: "mqtt://h"}, proto: "mqtt", addr: "h:1883"},
		"tls flag":            {cfg: Config{URL: "h:9", TLS: true}, proto: "mqtt", addr: "h:9", tls: true},
		"insecure implies":    {cfg: Config{URL: "h:9", Insecure: true}, proto: "amqp", addr: "h:9", tls: true},
		"userinfo":            {cfg: Config{URL: "amqp://al%40ice:p%3Aw@h:1"}, proto: "amqp", addr: "h:1", user: "al@ice", password: "p:w"},
		"flags win":           {cfg: Config{URL: "mqtt://a:b@h:1", User: "c", Password: "d"}, proto: "mqtt", addr: "h:1", user: "c", password: "d"},
		"ipv6":                {cfg: Config{URL: "amqps://[::1]"}, proto: "amqp", addr: "[::1]:5671", tls: true},
		"unknown scheme":      {cfg: Config{URL: "http://h:1"}, proto: "amqp", err: "unknown scheme"},
		"path":                {cfg: Config{URL: "amqp://h:1/x"}, proto: "amqp", err: "want SCHEME"},
		"no port":             {cfg: Config{URL: "localhost"}, proto: "amqp", err: "missing port"},
		"ca file missing":     {cfg: Config{URL: "h:1", CAFile: "/nonexistent/ca.pem"}, proto: "amqp", err: "--ca"},
		"ca file without PEM": {cfg: Config{URL: "h:1", CAFile: "bench_test.go"}, proto: "amqp", err: "no PEM"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := resolveTarget(&tc.cfg, tc.proto)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.addr != tc.addr || got.user != tc.user || got.password != tc.password || (got.tls != nil) != tc.tls {
				t.Fatalf("%+v", got)
			}
			if got.tls != nil && got.tls.ServerName == "" {
				t.Fatalf("no server name")
			}
		})
	}
}

// TestBenchTimeLimit: a run that cannot finish within --time-limit ends
// there, says so, and counts the unreceived messages as lost.
func TestBenchTimeLimit(t *testing.T) {
	addr := startServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	res, err := RunAMQP(ctx, Config{URL: addr, Address: "tl", Count: 100000, Rate: 1000, Consumers: 1, TimeLimit: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("took %v", took)
	}
	if !res.TimeLimited || res.Sent == 0 || res.Sent > 1000 || res.Errors != 0 || res.Received+res.Lost != res.Sent {
		t.Fatalf("%+v", res)
	}
	// A run that finishes in time is not marked.
	res, err = RunAMQP(ctx, Config{URL: addr, Address: "tl2", Count: 100, Consumers: 1, TimeLimit: 20 * time.Second})
	if err != nil || res.TimeLimited || res.Received != 100 {
		t.Fatalf("%v %+v", err, res)
	}
}

// TestBenchIdleAMQP: RunIdle opens and counts idle AMQP connections and
// reads the server's memory (here: this process).
func TestBenchIdleAMQP(t *testing.T) {
	addr := startServer(t)
	res, err := RunIdle(context.Background(), Config{URL: addr}, "amqp", 40, os.Getpid(), time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if res.Opened != 40 || res.Errors != 0 || res.RSSBefore <= 0 || res.RSSAfter <= 0 || res.Seconds <= 0 {
		t.Fatalf("%+v", res)
	}
	if _, err := RunIdle(context.Background(), Config{URL: addr}, "stomp", 1, 0, 0); err == nil {
		t.Fatal("unknown protocol accepted")
	}
}

// TestBenchAMQPLossAndDuplicates: loss and duplicates over a real AMQP
// queue. Two consumers tracked as fan-out on a queue each miss what the
// other got (lost = count); a queue pre-filled with the same producer's
// sequence numbers delivers those twice (duplicates).
func TestBenchAMQPLossAndDuplicates(t *testing.T) {
	addr := startServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := RunAMQP(ctx, Config{URL: addr, Address: "lq", Count: 400, Consumers: 2, Fanout: true, Drain: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if res.Sent != 400 || res.Received != 400 || res.Lost != 400 || res.Duplicates != 0 {
		t.Fatalf("competing consumers tracked as fan-out: %+v, want 400 received, 400 lost", res)
	}
	if res, err = RunAMQP(ctx, Config{URL: addr, Address: "dq", Count: 300}); err != nil || res.Sent != 300 {
		t.Fatalf("fill: %v %+v", err, res)
	}
	// The queue holds 0..299; this run sends 0..599 behind them.
	res, err = RunAMQP(ctx, Config{URL: addr, Address: "dq", Count: 600, Consumers: 1, Drain: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if res.Sent != 600 || res.Received != 600 || res.Lost != 0 || res.Duplicates != 300 {
		t.Fatalf("sequence numbers 0..299 twice: %+v, want 600 received, 300 duplicates", res)
	}
}

// TestBenchManyAddresses: --addresses spreads producers and consumers over
// several queues (and multicast addresses, tracked per consumer); counts
// still match.
func TestBenchManyAddresses(t *testing.T) {
	addr := startServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := RunAMQP(ctx, Config{URL: addr, Address: "many", Addresses: 3, Producers: 3, Consumers: 6, Count: 900})
	if err != nil {
		t.Fatal(err)
	}
	if res.Sent != 900 || res.Received != 900 || res.Lost != 0 || res.Duplicates != 0 || res.Errors != 0 {
		t.Fatalf("queues: %+v", res)
	}
	// Fan-out over 2 queues with 4 consumers tracked apart: each consumer
	// expects its own queue's producers only, and competes with one other
	// consumer there, so it misses half of them.
	res, err = RunAMQP(ctx, Config{URL: addr, Address: "many2", Addresses: 2, Producers: 2, Consumers: 4, Count: 400,
		Fanout: true, Drain: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if res.Sent != 400 || res.Received != 400 || res.Lost != 400 {
		t.Fatalf("fan-out accounting: %+v, want 400 received and 400 lost", res)
	}
	if _, err := RunAMQP(ctx, Config{URL: addr, Address: "x", Addresses: 2, Producers: 1, Consumers: 2, Count: 1}); err == nil {
		t.Fatal("--addresses 2 with one producer accepted")
	}
}

// TestBenchFillDrain: fill a queue with no consumer, drain it with
// --drain-only; draining more than is there reports the rest lost.
func TestBenchFillDrain(t *testing.T) {
	addr := startServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := RunAMQP(ctx, Config{URL: addr, Address: "fd", Count: 3000, Consumers: 0})
	if err != nil || res.Sent != 3000 || res.Errors != 0 || res.SendRate <= 0 {
		t.Fatalf("fill: %v %+v", err, res)
	}
	res, err = RunAMQP(ctx, Config{URL: addr, Address: "fd", Count: 2000, Consumers: 1, DrainOnly: true})
	if err != nil || res.Received != 2000 || res.Lost != 0 || res.RecvRate <= 0 {
		t.Fatalf("drain 2000: %v %+v", err, res)
	}
	res, err = RunAMQP(ctx, Config{URL: addr, Address: "fd", Count: 1500, Consumers: 1, DrainOnly: true, Drain: 300 * time.Millisecond})
	if err != nil || res.Received != 1000 || res.Lost != 500 {
		t.Fatalf("drain 1500 of 1000: %v %+v", err, res)
	}
}
