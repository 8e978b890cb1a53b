package mqtt

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/enmasse-go/enmasse/internal/mqtt/packets"
)

// benchGateway is startGatewayWith, at the default maximum packet size,
// for benchmarks and tests that pipeline packets (benchClient).
func benchGateway(b testing.TB) string {
	_, addr := startGatewayWith(b, func(o *Options) { o.MaxPacketSize = 0 })
	return addr
}

type benchClient struct {
	nc net.Conn
	w  *bufio.Writer
	br *bufio.Reader
	r  *packets.Reader
}

func dialBench(b testing.TB, addr, id string, receiveMax uint16) *benchClient {
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { nc.Close() })
	c := &benchClient{nc: nc, w: bufio.NewWriter(nc), br: bufio.NewReader(nc)}
	c.r = packets.NewReader(c.br, 0)
	c.r.Version = packets.Version5
	c.send(b, &packets.Connect{ProtocolVersion: packets.Version5, CleanStart: true, ClientID: id,
		Properties: packets.Properties{ReceiveMaximum: receiveMax}})
	c.flush(b)
	if _, ok := c.next(b).(*packets.Connack); !ok {
		b.Fatal("no CONNACK")
	}
	return c
}

func (c *benchClient) send(b testing.TB, p packets.Packet) {
	if _, err := packets.WriteTo(c.w, p, packets.Version5); err != nil {
		b.Fatal(err)
	}
}

func (c *benchClient) flush(b testing.TB) {
	if err := c.w.Flush(); err != nil {
		b.Fatal(err)
	}
}

func (c *benchClient) next(b testing.TB) packets.Packet {
	c.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	p, err := c.r.ReadPacket()
	if err != nil {
		b.Fatalf("read: %v", err)
	}
	return p
}

// BenchmarkGatewayRelay measures the whole MQTT path of `enmasse serve`:
// one client publishes 100-byte messages to a topic, another receives
// them (MQTT codec, gateway, AMQP over net.Pipe, router, broker topic and
// back), at QoS 0 and at QoS 1 with every PUBACK.
func BenchmarkGatewayRelay(b *testing.B) {
	for _, qos := range []byte{0, 1} {
		b.Run([]string{"qos0", "qos1"}[qos], func(b *testing.B) {
			addr := benchGateway(b)
			sub := dialBench(b, addr, "sub", 1000)
			sub.send(b, &packets.Subscribe{PacketID: 1, Subscriptions: []packets.Subscription{{Filter: "bench/x", QoS: qos}}})
			sub.flush(b)
			if _, ok := sub.next(b).(*packets.Suback); !ok {
				b.Fatal("no SUBACK")
			}
			pub := dialBench(b, addr, "pub", 1000)
			payload := make([]byte, 100)
			window := make(chan struct{}, 500) // QoS 1 publications without PUBACK
			acked := make(chan error, 1)
			if qos == 1 {
				go func() {
					for range b.N {
						pub.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
						if _, err := pub.r.ReadPacket(); err != nil {
							acked <- err
							return
						}
						<-window
					}
					acked <- nil
				}()
			}
			got := make(chan error, 1)
			go func() {
				for range b.N {
					sub.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
					p, err := sub.r.ReadPacket()
					if err != nil {
						got <- err
						return
					}
					if pp, ok := p.(*packets.Publish); ok && pp.QoS == 1 {
						packets.WriteTo(sub.w, &packets.Puback{PacketID: pp.PacketID}, packets.Version5)
						if sub.br.Buffered() == 0 {
							sub.w.Flush()
						}
					}
				}
				sub.w.Flush()
				got <- nil
			}()
			b.SetBytes(int64(len(payload)))
			b.ResetTimer()
			cpu := cpuTime()
			for i := range b.N {
				p := &packets.Publish{Topic: "bench/x", QoS: qos, Payload: payload}
				if qos == 1 {
					p.PacketID = uint16(i%65535) + 1
					select {
					case window <- struct{}{}:
					default:
						pub.flush(b)
						window <- struct{}{}
					}
				}
				pub.send(b, p)
			}
			pub.flush(b)
			if err := <-got; err != nil {
				b.Fatal(err)
			}
			if qos == 1 {
				if err := <-acked; err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}

// BenchmarkGatewayFanout is BenchmarkGatewayRelay's QoS 0 path with ten
// subscribers of the topic: every op is one PUBLISH in and ten out, so
// per-delivery costs (broker fan-out, the AMQP transfer to each
// subscriber's connection, decoding and PUBLISH encoding) dominate.
func BenchmarkGatewayFanout(b *testing.B) {
	const subscribers = 10
	addr := benchGateway(b)
	subs := make([]*benchClient, subscribers)
	for i := range subs {
		subs[i] = dialBench(b, addr, fmt.Sprintf("sub%d", i), 1000)
		subs[i].send(b, &packets.Subscribe{PacketID: 1, Subscriptions: []packets.Subscription{{Filter: "bench/x"}}})
		subs[i].flush(b)
		if _, ok := subs[i].next(b).(*packets.Suback); !ok {
			b.Fatal("no SUBACK")
		}
	}
	pub := dialBench(b, addr, "pub", 1000)
	payload := make([]byte, 100)
	got := make(chan error, subscribers)
	for _, sub := range subs {
		go func() {
			for range b.N {
				sub.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
				if _, err := sub.r.ReadPacket(); err != nil {
					got <- err
					return
				}
			}
			got <- nil
		}()
	}
	b.SetBytes(int64(len(payload)))
	b.ResetTimer()
	cpu := cpuTime()
	for range b.N {
		pub.send(b, &packets.Publish{Topic: "bench/x", Payload: payload})
	}
	pub.flush(b)
	for range subscribers {
		if err := <-got; err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
	b.ReportMetric(float64(b.N*subscribers)/b.Elapsed().Seconds(), "deliveries/s")
}

// TestDeliveryWindowAndOrder: PUBLISH packets written in batches arrive in
// order, and a QoS 1 subscription with receive maximum 2 gets exactly two
// messages at a time: the batch is written before the gateway waits for
// the window [MQTT-3.3.4-9], and every PUBACK lets the next one through.
func TestDeliveryWindowAndOrder(t *testing.T) {
	addr := benchGateway(t)
	sub := dialBench(t, addr, "sub", 2)
	sub.send(t, &packets.Subscribe{PacketID: 1, Subscriptions: []packets.Subscription{
		{Filter: "w/0", QoS: 0}, {Filter: "w/1", QoS: 1}}})
	sub.flush(t)
	if _, ok := sub.next(t).(*packets.Suback); !ok {
		t.Fatal("no SUBACK")
	}
	pub := dialBench(t, addr, "pub", 1000)
	const n = 300
	for i := range n {
		pub.send(t, &packets.Publish{Topic: "w/0", Payload: []byte{byte(i), byte(i >> 8)}})
	}
	pub.flush(t)
	for i := range n {
		p, ok := sub.next(t).(*packets.Publish)
		if !ok || p.Topic != "w/0" || p.Payload[0] != byte(i) || p.Payload[1] != byte(i>>8) {
			t.Fatalf("QoS 0 message %d: got %v", i, p)
		}
	}
	for i := range n {
		pub.send(t, &packets.Publish{Topic: "w/1", QoS: 1, PacketID: uint16(i + 1), Payload: []byte{byte(i), byte(i >> 8)}})
	}
	pub.flush(t)
	var unacked []uint16
	for i := range n {
		for len(unacked) < 2 && len(unacked) < n-i {
			p, ok := sub.next(t).(*packets.Publish)
			if !ok || p.Topic != "w/1" || p.QoS != 1 {
				t.Fatalf("QoS 1 message: got %v", p)
			}
			if got := int(p.Payload[0]) | int(p.Payload[1])<<8; got != i+len(unacked) {
				t.Fatalf("QoS 1 message %d: got %d", i+len(unacked), got)
			}
			unacked = append(unacked, p.PacketID)
		}
		if i%50 == 0 {
			// Beyond the window nothing comes until a PUBACK.
			sub.nc.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
			if _, err := sub.br.Peek(1); err == nil {
				t.Fatalf("a third unacknowledged message after message %d", i)
			}
		}
		sub.send(t, &packets.Puback{PacketID: unacked[0]})
		sub.flush(t)
		unacked = unacked[1:]
	}
}

// TestMatchFilterSplit compares matchFilter with the obvious definition
// over level lists.
func TestMatchFilterSplit(t *testing.T) {
	ref := func(filter, topic string) bool {
		f, tl := strings.Split(filter, "/"), strings.Split(topic, "/")
		for i, l := range f {
			if l == "#" {
				return true
			}
			if i >= len(tl) || (l != "+" && l != tl[i]) {
				return false
			}
		}
		return len(f) == len(tl)
	}
	levels := []string{"a", "b", "", "+", "#"}
	var names []string
	var gen func(prefix string, depth int)
	gen = func(prefix string, depth int) {
		if depth == 0 {
			return
		}
		for _, l := range levels {
			n := l
			if prefix != "" || depth < 4 {
				n = prefix + "/" + l
			}
			names = append(names, n)
			gen(n, depth-1)
		}
	}
	gen("", 4)
	for _, f := range names {
		for _, tn := range names {
			if strings.ContainsAny(tn, "+#") {
				continue
			}
			if got, want := matchFilter(f, tn), ref(f, tn); got != want {
				t.Fatalf("matchFilter(%q, %q) = %v, want %v", f, tn, got, want)
			}
		}
	}
	if n := testing.AllocsPerRun(100, func() { matchFilter("a/+/c/#", "a/b/c/d/e") }); n != 0 {
		t.Fatalf("matchFilter allocates %v times", n)
	}
}
