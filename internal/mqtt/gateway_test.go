package mqtt

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/enmasse-go/enmasse/internal/amqp/sasl"
	"github.com/enmasse-go/enmasse/internal/amqp/transport"
	"github.com/enmasse-go/enmasse/internal/broker"
	"github.com/enmasse-go/enmasse/internal/mqtt/packets"
	"github.com/enmasse-go/enmasse/internal/router"
)

// testBackend is what `enmasse serve` does, without the CLI: the router
// and an in-memory broker behind net.Pipe.
type testBackend struct {
	r    *router.Router
	opts transport.Options
}

func (b *testBackend) Connect(ctx context.Context, cred Credentials) (*transport.Conn, error) {
	s, c := net.Pipe()
	go transport.Accept(context.Background(), s, b.opts)
	return transport.NewClientConn(ctx, c, transport.Options{SASL: sasl.NewAnonymousClient("")})
}

func (b *testBackend) EnsureTopic(user, name string) error { return b.r.EnsureTopic(user, name) }

// startGateway returns the address of a gateway on a random port.
func startGateway(t *testing.T) string {
	t.Helper()
	_, addr := startGatewayServer(t)
	return addr
}

func startGatewayServer(t *testing.T) (*Server, string) {
	t.Helper()
	return startGatewayWith(t, nil)
}

// startGatewayWith starts a gateway whose options edit may change.
func startGatewayWith(t testing.TB, edit func(*Options)) (*Server, string) {
	t.Helper()
	br, err := broker.Open(broker.Options{})
	if err != nil {
		t.Fatal(err)
	}
	r := router.New(router.Options{Broker: br})
	r.SetSpace(router.SpaceConfig{Name: "default", AutoCreate: true})
	b := &testBackend{r: r, opts: transport.Options{
		Handler: r, OnOpen: r.OnOpen, AllowNoSASL: true, Gateway: broker.GatewayMQTT,
		Authenticator: sasl.NewAuthenticator(sasl.Config{AllowAnonymous: true}),
	}}
	opts := Options{Backend: b, MaxPacketSize: 4096}
	if edit != nil {
		edit(&opts)
	}
	gw := NewServer(opts)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go gw.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		gw.Shutdown(ctx)
	})
	return gw, ln.Addr().String()
}

// rawClient speaks MQTT with the codec, to send what real clients won't.
type rawClient struct {
	t  *testing.T
	nc net.Conn
	r  *packets.Reader
	v  byte
}

func dialRaw(t *testing.T, addr string, v byte, keepAlive uint16) (*rawClient, *packets.Connack) {
	t.Helper()
	return dialWith(t, addr, &packets.Connect{ProtocolVersion: v, CleanStart: true, KeepAlive: keepAlive, ClientID: t.Name() + string('0'+v)})
}

// dialWith opens a raw client with the CONNECT cp and returns its CONNACK.
func dialWith(t *testing.T, addr string, cp *packets.Connect) (*rawClient, *packets.Connack) {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	c := &rawClient{t: t, nc: nc, r: packets.NewReader(nc, 0), v: cp.ProtocolVersion}
	c.r.Version = cp.ProtocolVersion
	c.send(cp)
	ack, ok := c.next().(*packets.Connack)
	if !ok {
		t.Fatal("no CONNACK")
	}
	return c, ack
}

func (c *rawClient) send(p packets.Packet) {
	c.t.Helper()
	if _, err := packets.WriteTo(c.nc, p, c.v); err != nil {
		c.t.Fatal(err)
	}
}

func (c *rawClient) next() packets.Packet {
	c.t.Helper()
	c.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	p, err := c.r.ReadPacket()
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	return p
}

// closed waits for the server to close the connection, returning the
// packets it sent before.
func (c *rawClient) closed(within time.Duration) []packets.Packet {
	c.t.Helper()
	c.nc.SetReadDeadline(time.Now().Add(within))
	var got []packets.Packet
	for {
		p, err := c.r.ReadPacket()
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				c.t.Fatalf("connection still open after %v", within)
			}
			return got
		}
		got = append(got, p)
	}
}

func TestKeepAliveExpiry(t *testing.T) {
	addr := startGateway(t)
	c, _ := dialRaw(t, addr, packets.Version5, 1)
	start := time.Now()
	got := c.closed(5 * time.Second)
	if el := time.Since(start); el < time.Second {
		t.Fatalf("closed after %v, before 1.5 × keep-alive", el)
	}
	if len(got) != 1 || got[0].(*packets.Disconnect).ReasonCode != packets.ReasonKeepAliveTimeout {
		t.Fatalf("got %v, want DISCONNECT 0x8D", got)
	}
	// PINGREQ keeps a connection alive.
	c2, _ := dialRaw(t, addr, packets.Version311, 1)
	for range 3 {
		time.Sleep(700 * time.Millisecond)
		c2.send(&packets.Pingreq{})
		if _, ok := c2.next().(*packets.Pingresp); !ok {
			t.Fatal("no PINGRESP")
		}
	}
}

func TestQoS2DuplicateNotForwarded(t *testing.T) {
	addr := startGateway(t)
	sub, _ := dialRaw(t, addr, packets.Version5, 0)
	sub.send(&packets.Subscribe{PacketID: 1, Subscriptions: []packets.Subscription{{Filter: "dup/#", QoS: 2}}})
	if sa := sub.next().(*packets.Suback); sa.ReasonCodes[0] != packets.ReasonGrantedQoS2 {
		t.Fatalf("SUBACK %v", sa.ReasonCodes)
	}
	pub, _ := dialRaw(t, addr, packets.Version311, 0)
	p := &packets.Publish{Topic: "dup/x", QoS: 2, PacketID: 7, Payload: []byte("once")}
	pub.send(p)
	if rec := pub.next().(*packets.Pubrec); rec.PacketID != 7 {
		t.Fatalf("PUBREC %+v", rec)
	}
	p.Dup = true
	pub.send(p) // resent before PUBREL [MQTT-4.3.3-10]
	if rec := pub.next().(*packets.Pubrec); rec.PacketID != 7 {
		t.Fatalf("PUBREC %+v", rec)
	}
	pub.send(&packets.Pubrel{PacketID: 7})
	if comp := pub.next().(*packets.Pubcomp); comp.PacketID != 7 {
		t.Fatalf("PUBCOMP %+v", comp)
	}
	got := sub.next().(*packets.Publish)
	if got.Topic != "dup/x" || string(got.Payload) != "once" || got.QoS != 2 {
		t.Fatalf("got %+v", got)
	}
	sub.send(&packets.Pubrec{PacketID: got.PacketID})
	if rel := sub.next().(*packets.Pubrel); rel.PacketID != got.PacketID {
		t.Fatalf("PUBREL %+v", rel)
	}
	sub.send(&packets.Pubcomp{PacketID: got.PacketID})
	// A second message shows the first was not duplicated.
	pub.send(&packets.Publish{Topic: "dup/x", QoS: 0, Payload: []byte("next")})
	if got := sub.next().(*packets.Publish); string(got.Payload) != "next" {
		t.Fatalf("got %q, want next (the duplicate was forwarded)", got.Payload)
	}
}

func TestBadInputClosesConnection(t *testing.T) {
	addr := startGateway(t)
	// A wildcard in a PUBLISH topic: Topic Name invalid.
	c, _ := dialRaw(t, addr, packets.Version5, 0)
	c.nc.Write([]byte{0x30, 5, 0, 3, 'a', '/', '#'})
	if got := c.closed(5 * time.Second); len(got) != 1 || got[0].(*packets.Disconnect).ReasonCode != packets.ReasonTopicNameInvalid {
		t.Fatalf("got %v, want DISCONNECT 0x90", got)
	}
	// Oversized: Packet too large.
	c, _ = dialRaw(t, addr, packets.Version5, 0)
	c.send(&packets.Publish{Topic: "big", Payload: make([]byte, 8000)})
	if got := c.closed(5 * time.Second); len(got) != 1 || got[0].(*packets.Disconnect).ReasonCode != packets.ReasonPacketTooLarge {
		t.Fatalf("got %v, want DISCONNECT 0x95", got)
	}
	// 3.1.1: closed without a packet.
	c, _ = dialRaw(t, addr, packets.Version311, 0)
	c.nc.Write([]byte{0x30, 5, 0, 3, 'a', '/', '+'})
	if got := c.closed(5 * time.Second); len(got) != 0 {
		t.Fatalf("got %v, want a plain close", got)
	}
	// 3.1.1 empty client id with clean session 0: 0x02.
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	// Raw bytes: the codec refuses to encode this CONNECT.
	nc.Write([]byte{0x10, 12, 0, 4, 'M', 'Q', 'T', 'T', 4, 0, 0, 0, 0, 0})
	r := packets.NewReader(nc, 0)
	r.Version = packets.Version311
	nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	p, err := r.ReadPacket()
	if err != nil || p.(*packets.Connack).ReasonCode != packets.ReasonClientIdentifierNotValid {
		t.Fatalf("got %v %v, want CONNACK identifier rejected", p, err)
	}
}

func TestAssignedClientID(t *testing.T) {
	addr := startGateway(t)
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	packets.WriteTo(nc, &packets.Connect{ProtocolVersion: packets.Version5, CleanStart: true}, packets.Version5)
	r := packets.NewReader(nc, 0)
	r.Version = packets.Version5
	nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	p, err := r.ReadPacket()
	if err != nil {
		t.Fatal(err)
	}
	if ack := p.(*packets.Connack); ack.ReasonCode != 0 || ack.Properties.AssignedClientIdentifier == "" || ack.SessionPresent {
		t.Fatalf("CONNACK %+v", ack)
	}
}

func TestMatchFilterAndTopicFor(t *testing.T) {
	for _, tc := range []struct {
		f, t string
		ok   bool
	}{{"a/+/c", "a/b/c", true}, {"a/#", "a", true}, {"a/#", "a/b/c", true}, {"a/+", "a/b/c", false}, {"a", "a/b", false}} {
		if matchFilter(tc.f, tc.t) != tc.ok {
			t.Errorf("matchFilter(%q, %q) != %v", tc.f, tc.t, tc.ok)
		}
	}
	if got := topicFor("", "sensors/+/temp"); got != "sensors" {
		t.Errorf("topicFor without to: %q", got)
	}
	if got := topicFor("other/x", "sensors/x"); got != "sensors/x" {
		t.Errorf("topicFor with a non-matching to: %q", got)
	}
}
