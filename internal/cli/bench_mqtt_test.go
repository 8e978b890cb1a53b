package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
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
		"qos1 3 topics":    {Address: "b/m", Addresses: 3, Producers: 3, Consumers: 6, Count: 600, QoS: 1},
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
				if cfg.Addresses > 1 { // each consumer gets its topic's share
					want /= uint64(cfg.Addresses)
				}
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
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// 630 of the 700 arrive, so the run always ends by Drain (the time
	// the consumer may go without a new message): a starved consumer can
	// pause for over a second mid-stream, and the messages after the
	// pause would count as lost.
	res, err := bench.RunMQTT(ctx, bench.Config{URL: ln.Addr().String(), Address: "x", Count: 700, Consumers: 1,
		QoS: 0, Rate: 2000, Drain: 5 * time.Second, MQTTVersion: 5})
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

// TestBenchMQTTBacklog: --backlog fills persistent sessions and drains them
// on reconnect. Against serve the counts hold either way: every message
// arrives when serve keeps the sessions, and when it does not (persistent
// sessions are not in every build), the run says so (sessions_lost) and
// counts every message lost.
func TestBenchMQTTBacklog(t *testing.T) {
	s := startServe(t)
	for _, v := range []byte{5, 4} {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		res, err := bench.RunMQTT(ctx, bench.Config{URL: s.addrs["mqtt"].String(), Address: fmt.Sprintf("bl/%d", v), Count: 500,
			Consumers: 2, QoS: 1, Backlog: true, MQTTVersion: v, Drain: time.Second})
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		switch res.SessionsLost {
		case 0:
			if res.Sent != 500 || res.Received != 1000 || res.Lost != 0 || res.RecvRate <= 0 || res.SendRate <= 0 {
				t.Fatalf("v%d: %+v", v, res)
			}
		case 2:
			if res.Sent != 500 || res.Received != 0 || res.Lost != 1000 {
				t.Fatalf("v%d, sessions not kept: %+v", v, res)
			}
		default:
			t.Fatalf("v%d: %+v", v, res)
		}
	}
	var out, errb bytes.Buffer
	if code := Run(context.Background(), []string{"bench", "--protocol", "mqtt", "--backlog", "--count", "1"}, &out, &errb); code == 0 || !strings.Contains(errb.String(), "--qos 1 or 2") {
		t.Fatalf("--backlog at QoS 0: exit %d %s", code, errb.String())
	}
}

// TestBenchMQTTBacklogMosquitto: --backlog against a server with persistent
// sessions (Debian's mosquitto, when installed: bench/peers.sh installs it).
func TestBenchMQTTBacklogMosquitto(t *testing.T) {
	bin, err := exec.LookPath("mosquitto")
	if err != nil {
		t.Skip("mosquitto not installed")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, port, _ := net.SplitHostPort(addr)
	conf := filepath.Join(t.TempDir(), "mosquitto.conf")
	if err := os.WriteFile(conf, []byte("listener "+port+" 127.0.0.1\nallow_anonymous true\npersistence false\nmax_queued_messages 100000\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-c", conf)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("mosquitto did not listen")
		}
	}
	for _, v := range []byte{5, 4} {
		for _, qos := range []byte{1, 2} {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			// Window 20: Mosquitto takes at most max_inflight_messages (20)
			// unacknowledged QoS 2 PUBLISHes from a client and silently
			// drops more from a 3.1.1 one (5 clients honour its receive
			// maximum).
			res, err := bench.RunMQTT(ctx, bench.Config{URL: addr, Address: fmt.Sprintf("bl/%d/%d", v, qos), Count: 1000,
				Consumers: 2, QoS: qos, Backlog: true, MQTTVersion: v, Drain: time.Second, Window: 20})
			cancel()
			if err != nil {
				t.Fatal(err)
			}
			if res.SessionsLost != 0 || res.Sent != 1000 || res.Received != 2000 || res.Lost != 0 || res.Duplicates != 0 || res.RecvRate <= 0 {
				t.Fatalf("v%d QoS %d: %+v", v, qos, res)
			}
		}
	}
}
