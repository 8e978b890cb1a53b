package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/enmasse-go/enmasse/internal/bench"
	"github.com/enmasse-go/enmasse/internal/mqtt/packets"
)

func TestBenchMQTTCountsMatch(t *testing.T) {
	s := startServe(t)
	addr := s.addrs["mqtt"].String()
	tests := map[string]bench.Config{
		"qos0 1to1":        {Address: "b/q0", Count: 2000, Consumers: 1, QoS: 0, Rate: 20000},
		"qos1 1to1":        {Address: "b/q1", Count: 2000, Consumers: 1, QoS: 1},
		"qos2 1to1":        {Address: "b/q2", Count: 1000, Consumers: 1, QoS: 2},
		"qos1 2to3 fanout": {Address: "b/f", Count: 600, Producers: 2, Consumers: 3, QoS: 1},
		"qos1 wildcard":    {Address: "b/w/x", Filter: "b/+/x", Count: 500, Consumers: 2, QoS: 1, Size: 1024},
	}
	for name, cfg := range tests {
		for _, v := range []byte{5, 4} {
			t.Run(fmt.Sprintf("%s v%d", name, v), func(t *testing.T) {
				cfg.URL = addr
				cfg.MQTTVersion = v
				cfg.Address += fmt.Sprint(v)
				if cfg.Filter != "" {
					cfg.Filter += fmt.Sprint(v)
				}
				cfg.Drain = 5 * time.Second
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				res, err := bench.RunMQTT(ctx, cfg)
				if err != nil {
					t.Fatal(err)
				}
				want := uint64(cfg.Count) * uint64(cfg.Consumers)
				if res.Sent != uint64(cfg.Count) || res.Received != want || res.Lost != 0 || res.Duplicates != 0 || res.Errors != 0 {
					t.Fatalf("result %+v, want %d sent, %d received, nothing lost", res, cfg.Count, want)
				}
				if res.P50 <= 0 || res.Max < res.P99 {
					t.Fatalf("latencies %+v", res)
				}
				if res.GrantedQoS == nil || *res.GrantedQoS != cfg.QoS {
					t.Fatalf("granted QoS %v, want %d", res.GrantedQoS, cfg.QoS)
				}
			})
		}
	}
}

func TestBenchMQTTSendOnly(t *testing.T) {
	s := startServe(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, v := range []byte{5, 4} {
		res, err := bench.RunMQTT(ctx, bench.Config{URL: s.addrs["mqtt"].String(), Address: "only/send", Count: 200, QoS: 1, MQTTVersion: v})
		if err != nil {
			t.Fatal(err)
		}
		if res.Sent != 200 || res.Errors != 0 || res.Received != 0 || res.Lost != 0 {
			t.Fatalf("v%d: %+v", v, res)
		}
	}
}

// A filter that matches nothing: everything is reported lost.
func TestBenchMQTTFilterLoss(t *testing.T) {
	s := startServe(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := bench.RunMQTT(ctx, bench.Config{URL: s.addrs["mqtt"].String(), Address: "a/b", Filter: "a/c",
		Count: 100, Consumers: 2, QoS: 1, Drain: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if res.Sent != 100 || res.Received != 0 || res.Lost != 200 {
		t.Fatalf("result %+v, want 100 sent, 200 lost", res)
	}
}

// A broken server: a proxy in front of enmasse that drops every 10th
// PUBLISH to the subscriber and delivers every 7th twice.
func TestBenchMQTTBrokenServerLossAndDuplicates(t *testing.T) {
	s := startServe(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", s.addrs["mqtt"].String())
			if err != nil {
				c.Close()
				return
			}
			go func() { io.Copy(u, c); u.Close() }()
			go func() {
				defer c.Close()
				r := packets.NewReader(u, 1<<20)
				n := 0
				for {
					fh, body, err := r.Next()
					if err != nil {
						return
					}
					p, err := packets.Decode(5, fh, body)
					if err != nil {
						return
					}
					b, _ := packets.Append(nil, p, 5)
					if _, ok := p.(*packets.Publish); ok {
						n++
						switch {
						case n%10 == 0:
							continue
						case n%7 == 0:
							b = append(b, b...)
						}
					}
					if _, err := c.Write(b); err != nil {
						return
					}
				}
			}()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := bench.RunMQTT(ctx, bench.Config{URL: ln.Addr().String(), Address: "x", Count: 700, Consumers: 1,
		QoS: 0, Rate: 2000, Drain: time.Second, MQTTVersion: 5})
	if err != nil {
		t.Fatal(err)
	}
	// 70 of 700 dropped; of the rest, multiples of 7 that are not multiples of 10 (100-10=90) doubled.
	if res.Sent != 700 || res.Lost != 70 || res.Received != 630 || res.Duplicates != 90 {
		t.Fatalf("result %+v, want 700 sent, 70 lost, 630 received, 90 duplicates", res)
	}
}

func TestBenchCommandMQTT(t *testing.T) {
	s := startServe(t)
	var out, errb bytes.Buffer
	code := Run(context.Background(), []string{"bench", "--protocol", "mqtt", "--url", s.addrs["mqtt"].String(),
		"--address", "cmd/t", "--qos", "1", "--count", "300", "--consumers", "2", "--mqtt-version", "311", "--json"}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var res bench.Result
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	if res.Sent != 300 || res.Received != 600 || res.Lost != 0 {
		t.Fatalf("%+v", res)
	}
	errb.Reset()
	code = Run(context.Background(), []string{"bench", "--protocol", "mqtt", "--qos", "3", "--count", "1"}, &out, &errb)
	if code == 0 || !strings.Contains(errb.String(), "qos") {
		t.Fatalf("--qos 3: exit %d: %s", code, errb.String())
	}
}
