package mqtt

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	paho3 "github.com/eclipse/paho.mqtt.golang"

	"github.com/enmasse-go/enmasse/internal/amqp/sasl"
	"github.com/enmasse-go/enmasse/internal/amqp/transport"
	"github.com/enmasse-go/enmasse/internal/broker"
	"github.com/enmasse-go/enmasse/internal/mqtt/packets"
	"github.com/enmasse-go/enmasse/internal/router"
	"github.com/enmasse-go/enmasse/internal/store"
)

// sessionEnv is a gateway with persistent sessions over in-memory stores
// that outlive restart: the broker journal and the session records.
type sessionEnv struct {
	t        *testing.T
	journal  *store.Memory
	sessions *store.Memory
	br       *broker.Broker
	r        *router.Router
	gw       *Server
	addr     string
	opts     Options
	maxMem   int64 // the broker's MaxMemory
	// wrap, if set, wraps the session store the gateway is given.
	wrap func(SessionStore) SessionStore
}

// spaceBackend places a client by the space part of its username
// (`user@space`), as the router does, through the open hostname.
type spaceBackend struct{ testBackend }

func (b *spaceBackend) Connect(ctx context.Context, cred Credentials) (*transport.Conn, error) {
	s, c := net.Pipe()
	go transport.Accept(context.Background(), s, b.opts)
	return transport.NewClientConn(ctx, c, transport.Options{SASL: sasl.NewAnonymousClient(""), Hostname: b.r.SpaceOf(cred.Username)})
}

// testSessions implements SessionStore for the tests.
type testSessions struct {
	*store.Memory
	env *sessionEnv
}

func (s testSessions) Space(user string) string { return s.env.r.SpaceOf(user) }
func (s testSessions) PutMany(ctx context.Context, keys []uint64, data [][]byte) error {
	recs := make([]store.Record, len(keys))
	for i, k := range keys {
		recs[i] = store.Record{Key: k, Data: data[i]}
	}
	return s.PutBatch(ctx, recs)
}
func (s testSessions) DropSubscription(space, name string) error {
	s.env.br.DeleteSubscriptions(space, name)
	return nil
}

func newSessionEnv(t *testing.T, opts Options) *sessionEnv {
	return newSessionEnvMem(t, opts, 0)
}

func newSessionEnvMem(t *testing.T, opts Options, maxMem int64) *sessionEnv {
	e := &sessionEnv{t: t, journal: store.NewMemory(), sessions: store.NewMemory(), opts: opts, maxMem: maxMem}
	e.start()
	t.Cleanup(e.stop)
	return e
}

func (e *sessionEnv) start() {
	t := e.t
	br, err := broker.Open(broker.Options{Store: e.journal, MaxMemory: e.maxMem})
	if err != nil {
		t.Fatal(err)
	}
	e.br = br
	e.r = router.New(router.Options{Broker: br})
	e.r.SetSpace(router.SpaceConfig{Name: "default", AutoCreate: true})
	e.r.SetSpace(router.SpaceConfig{Name: "other", AutoCreate: true})
	b := &spaceBackend{testBackend{r: e.r, opts: transport.Options{
		Handler: e.r, OnOpen: e.r.OnOpen, AllowNoSASL: true, Gateway: broker.GatewayMQTT,
		Authenticator: sasl.NewAuthenticator(sasl.Config{AllowAnonymous: true}),
	}}}
	opts := e.opts
	opts.Backend = b
	if os.Getenv("ENMASSE_TEST_LOG") != "" {
		opts.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	opts.Sessions = testSessions{e.sessions, e}
	if e.wrap != nil {
		opts.Sessions = e.wrap(opts.Sessions)
	}
	e.gw = NewServer(opts)
	if err := e.gw.LoadSessions(); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.addr = ln.Addr().String()
	go e.gw.Serve(ln)
}

func (e *sessionEnv) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	e.gw.Shutdown(ctx)
}

// restart stops the gateway and builds broker, router and gateway again
// from the stores, as a restart of serve does.
func (e *sessionEnv) restart() {
	e.stop()
	e.start()
}

// v5 is a paho.golang client whose messages arrive on msgs.
type v5 struct {
	*paho.Client
	nc   net.Conn
	msgs chan *paho.Publish
	dc   chan byte // reason codes of server DISCONNECTs
}

func dialV5(t *testing.T, addr string, cp *paho.Connect) (*v5, *paho.Connack) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	c := &v5{nc: nc, msgs: make(chan *paho.Publish, 100), dc: make(chan byte, 1)}
	c.Client = paho.NewClient(paho.ClientConfig{
		Conn: nc,
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){func(pr paho.PublishReceived) (bool, error) {
			c.msgs <- pr.Packet
			return true, nil
		}},
		OnServerDisconnect: func(d *paho.Disconnect) { c.dc <- d.ReasonCode },
	})
	if cp.KeepAlive == 0 {
		cp.KeepAlive = 30
	}
	ca, err := c.Connect(ctx, cp)
	if err != nil {
		t.Fatalf("connect %s: %v", cp.ClientID, err)
	}
	return c, ca
}

func persistent(id string, expiry uint32) *paho.Connect {
	return &paho.Connect{ClientID: id, CleanStart: false, Properties: &paho.ConnectProperties{SessionExpiryInterval: &expiry}}
}

func (c *v5) sub(t *testing.T, filter string, qos byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sa, err := c.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: filter, QoS: qos}}})
	if err != nil || len(sa.Reasons) != 1 || sa.Reasons[0] != qos {
		t.Fatalf("subscribe %s: %v %v", filter, sa, err)
	}
}

func (c *v5) pub(t *testing.T, topic, payload string, qos byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, err := c.Publish(ctx, &paho.Publish{Topic: topic, QoS: qos, Payload: []byte(payload)})
	if err != nil || (qos > 0 && r.ReasonCode != 0) {
		t.Fatalf("publish %s: %v %v", topic, r, err)
	}
}

func (c *v5) expect(t *testing.T, topic, payload string) *paho.Publish {
	t.Helper()
	select {
	case m := <-c.msgs:
		if m.Topic != topic || string(m.Payload) != payload {
			t.Fatalf("got %s %q, want %s %q", m.Topic, m.Payload, topic, payload)
		}
		return m
	case <-time.After(10 * time.Second):
		t.Fatalf("no message %q on %s", payload, topic)
	}
	return nil
}

func (c *v5) expectNone(t *testing.T) {
	t.Helper()
	select {
	case m := <-c.msgs:
		t.Fatalf("unexpected message %s %q", m.Topic, m.Payload)
	case <-time.After(300 * time.Millisecond):
	}
}

func (c *v5) bye(t *testing.T) {
	t.Helper()
	if err := c.Disconnect(&paho.Disconnect{}); err != nil {
		t.Fatal(err)
	}
	c.nc.Close()
}

// waitSessions waits until the server holds n persistent sessions.
func waitSessions(t *testing.T, gw *Server, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for gw.SessionCount() != n {
		if time.Now().After(deadline) {
			t.Fatalf("%d sessions, want %d", gw.SessionCount(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestSessionV5OfflineMessages: clean start 0 with a session expiry keeps
// the subscription after the connection; QoS 1 messages published while
// the client is away arrive on reconnect with session present; clean start
// 1 discards the session and its subscription.
func TestSessionV5OfflineMessages(t *testing.T) {
	e := newSessionEnv(t, Options{})
	c, ca := dialV5(t, e.addr, persistent("p1", 300))
	if ca.SessionPresent {
		t.Fatal("session present on a new session")
	}
	if ca.Properties != nil && ca.Properties.SessionExpiryInterval != nil {
		t.Fatalf("CONNACK session expiry %d for a granted request", *ca.Properties.SessionExpiryInterval)
	}
	subID := 7
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c.Subscribe(ctx, &paho.Subscribe{Properties: &paho.SubscribeProperties{SubscriptionIdentifier: &subID},
		Subscriptions: []paho.SubscribeOptions{{Topic: "sess/+/x", QoS: 1}}}); err != nil {
		t.Fatal(err)
	}
	c.bye(t)
	waitConns(t, e.gw, 0) // the session is offline
	waitSessions(t, e.gw, 1)

	pub, _ := dialV5(t, e.addr, &paho.Connect{ClientID: "pub", CleanStart: true})
	for i := range 3 {
		pub.pub(t, "sess/a/x", fmt.Sprint("m", i), 1)
	}
	pub.pub(t, "sess/a/y", "other", 1)

	c, ca = dialV5(t, e.addr, persistent("p1", 300))
	if !ca.SessionPresent {
		t.Fatal("session not present on reconnect [MQTT-3.2.2-2]")
	}
	for i := range 3 {
		m := c.expect(t, "sess/a/x", fmt.Sprint("m", i))
		if m.Properties == nil || m.Properties.SubscriptionIdentifier == nil || *m.Properties.SubscriptionIdentifier != subID {
			t.Fatalf("message %d lacks the session's subscription identifier: %+v", i, m.Properties)
		}
	}
	c.expectNone(t)
	pub.pub(t, "sess/b/x", "online", 1)
	c.expect(t, "sess/b/x", "online")
	c.bye(t)

	// Clean start discards the session [MQTT-3.1.2-4].
	c, ca = dialV5(t, e.addr, &paho.Connect{ClientID: "p1", CleanStart: true})
	if ca.SessionPresent {
		t.Fatal("session present with clean start")
	}
	waitSessions(t, e.gw, 0)
	if subs := e.br.SubscriptionsWithPrefix(SubscriptionPrefix); len(subs) != 0 {
		t.Fatalf("broker subscriptions left: %v", subs)
	}
	pub.pub(t, "sess/c/x", "gone", 1)
	c.expectNone(t)
}

// TestSessionExpiry: an offline session ends after its expiry interval,
// with its broker subscription; CONNACK announces the server's cap.
func TestSessionExpiry(t *testing.T) {
	e := newSessionEnv(t, Options{MaxSessionExpiry: 1})
	c, ca := dialV5(t, e.addr, persistent("exp", 3600))
	if ca.Properties == nil || ca.Properties.SessionExpiryInterval == nil || *ca.Properties.SessionExpiryInterval != 1 {
		t.Fatalf("CONNACK does not announce the capped session expiry: %+v", ca.Properties)
	}
	c.sub(t, "exp/#", 1)
	if len(e.br.SubscriptionsWithPrefix(SubscriptionPrefix)["default"]) != 1 {
		t.Fatal("no durable broker subscription")
	}
	start := time.Now()
	c.bye(t)
	waitSessions(t, e.gw, 0)
	if d := time.Since(start); d < 900*time.Millisecond {
		t.Fatalf("session expired after %v, before its 1 s", d)
	}
	if subs := e.br.SubscriptionsWithPrefix(SubscriptionPrefix); len(subs) != 0 {
		t.Fatalf("broker subscriptions left after expiry: %v", subs)
	}
	_, ca = dialV5(t, e.addr, persistent("exp", 60))
	if ca.SessionPresent {
		t.Fatal("expired session present")
	}
}

// TestSessionDisconnectExpiry: v5 DISCONNECT changes the expiry; 0 ends
// the session at once; setting it after 0 on CONNECT is a protocol error.
func TestSessionDisconnectExpiry(t *testing.T) {
	e := newSessionEnv(t, Options{})
	c, _ := dialV5(t, e.addr, persistent("dx", 300))
	c.sub(t, "dx/#", 1)
	zero := uint32(0)
	if err := c.Disconnect(&paho.Disconnect{Properties: &paho.DisconnectProperties{SessionExpiryInterval: &zero}}); err != nil {
		t.Fatal(err)
	}
	waitSessions(t, e.gw, 0)

	rc, _ := dialRaw(t, e.addr, packets.Version5, 30)
	one := packets.Disconnect{Properties: packets.Properties{SessionExpiryInterval: 10, HasSessionExpiryInterval: true}}
	rc.send(&one)
	if d, ok := rc.next().(*packets.Disconnect); !ok || d.ReasonCode != packets.ReasonProtocolError {
		t.Fatalf("got %v, want DISCONNECT 0x82 [MQTT-3.14.2-2]", d)
	}
}

// TestSessionRestart: sessions, queued messages, a QoS 2 identifier
// awaiting PUBREL and an unacknowledged outgoing message survive a restart
// of broker and gateway from their stores.
func TestSessionRestart(t *testing.T) {
	e := newSessionEnv(t, Options{})
	sub, _ := dialRaw311(t, e.addr, "rs", false)
	sub.send(&packets.Subscribe{PacketID: 1, Subscriptions: []packets.Subscription{{Filter: "rs/#", QoS: 2}}})
	if _, ok := sub.next().(*packets.Suback); !ok {
		t.Fatal("no SUBACK")
	}
	pubc, _ := dialRaw311(t, e.addr, "rs-pub", false)
	pubc.send(&packets.Publish{Topic: "rs/1", QoS: 1, PacketID: 1, Payload: []byte("one")})
	pubc.nextType(t, packets.TypePuback)
	// The subscriber gets it and does not acknowledge it.
	p, ok := sub.next().(*packets.Publish)
	if !ok || string(p.Payload) != "one" || p.Dup {
		t.Fatalf("got %v", p)
	}
	sub.nc.Close()
	// A QoS 2 exchange stops after PUBREC.
	pubc.send(&packets.Publish{Topic: "rs/2", QoS: 2, PacketID: 7, Payload: []byte("two")})
	pubc.nextType(t, packets.TypePubrec)
	pubc.nc.Close()
	waitConns(t, e.gw, 0)

	e.restart()

	sub, ack := dialRaw311(t, e.addr, "rs", false)
	if !ack.SessionPresent {
		t.Fatal("session lost in the restart")
	}
	// [MQTT-4.4.0-1]: resent with its packet identifier and DUP.
	p2, ok := sub.next().(*packets.Publish)
	if !ok || string(p2.Payload) != "one" || !p2.Dup || p2.PacketID != p.PacketID {
		t.Fatalf("got %+v, want a DUP of %+v", p2, p)
	}
	sub.send(&packets.Puback{PacketID: p2.PacketID})
	p3, ok := sub.next().(*packets.Publish)
	if !ok || string(p3.Payload) != "two" || p3.QoS != 2 {
		t.Fatalf("got %+v", p3)
	}
	sub.send(&packets.Pubrec{PacketID: p3.PacketID})
	sub.nextType(t, packets.TypePubrel)
	sub.send(&packets.Pubcomp{PacketID: p3.PacketID})

	// The publisher resends its QoS 2 PUBLISH: not forwarded again
	// [MQTT-4.3.3-10], PUBREC again; PUBREL completes it.
	pubc, ack = dialRaw311(t, e.addr, "rs-pub", false)
	if !ack.SessionPresent {
		t.Fatal("publisher session lost")
	}
	pubc.send(&packets.Publish{Topic: "rs/2", QoS: 2, PacketID: 7, Dup: true, Payload: []byte("two")})
	pubc.nextType(t, packets.TypePubrec)
	pubc.send(&packets.Pubrel{PacketID: 7})
	if pc, ok := pubc.nextType(t, packets.TypePubcomp).(*packets.Pubcomp); !ok || pc.ReasonCode != 0 {
		t.Fatalf("PUBCOMP %v", pc)
	}
	pubc.send(&packets.Pingreq{})
	pubc.nextType(t, packets.TypePingresp)
	sub.send(&packets.Pingreq{})
	if _, ok := sub.next().(*packets.Pingresp); !ok {
		t.Fatal("the duplicate QoS 2 PUBLISH was forwarded")
	}
}

// TestSessionQoS2OutgoingPubrel: a QoS 2 message whose PUBREC arrived is
// completed with PUBREL after a reconnect, not published again.
func TestSessionQoS2OutgoingPubrel(t *testing.T) {
	e := newSessionEnv(t, Options{})
	sub, _ := dialRaw311(t, e.addr, "q2", false)
	sub.send(&packets.Subscribe{PacketID: 1, Subscriptions: []packets.Subscription{{Filter: "q2/#", QoS: 2}}})
	sub.nextType(t, packets.TypeSuback)
	pub, _ := dialV5(t, e.addr, &paho.Connect{ClientID: "q2-pub", CleanStart: true})
	pub.pub(t, "q2/a", "once", 2)
	p := sub.nextType(t, packets.TypePublish).(*packets.Publish)
	sub.send(&packets.Pubrec{PacketID: p.PacketID})
	sub.nextType(t, packets.TypePubrel)
	sub.nc.Close()
	waitConns(t, e.gw, 1)
	sub, ack := dialRaw311(t, e.addr, "q2", false)
	if !ack.SessionPresent {
		t.Fatal("no session")
	}
	if rel, ok := sub.next().(*packets.Pubrel); !ok || rel.PacketID != p.PacketID {
		t.Fatalf("got %v, want PUBREL %d", rel, p.PacketID)
	}
	sub.send(&packets.Pubcomp{PacketID: p.PacketID})
	sub.send(&packets.Pingreq{})
	if _, ok := sub.next().(*packets.Pingresp); !ok {
		t.Fatal("the completed message was sent again")
	}
}

// TestSessionTakeover: a second connection with the client identifier
// takes the session over [MQTT-3.1.4-3]: the first gets DISCONNECT 0x8E,
// the second session present and the subscription.
func TestSessionTakeover(t *testing.T) {
	e := newSessionEnv(t, Options{})
	first, _ := dialV5(t, e.addr, persistent("tk", 300))
	first.sub(t, "tk/#", 1)
	second, ca := dialV5(t, e.addr, persistent("tk", 300))
	if !ca.SessionPresent {
		t.Fatal("taken-over session not present")
	}
	select {
	case rc := <-first.dc:
		if rc != byte(packets.ReasonSessionTakenOver) {
			t.Fatalf("DISCONNECT %#x", rc)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("first connection not disconnected")
	}
	pub, _ := dialV5(t, e.addr, &paho.Connect{ClientID: "tk-pub", CleanStart: true})
	pub.pub(t, "tk/1", "to-second", 1)
	second.expect(t, "tk/1", "to-second")
}

// TestSessionSpaces: the same client identifier in two address spaces is
// two sessions: no takeover, no shared subscriptions.
func TestSessionSpaces(t *testing.T) {
	e := newSessionEnv(t, Options{})
	a, _ := dialV5(t, e.addr, func() *paho.Connect {
		c := persistent("same", 300)
		c.Username, c.UsernameFlag = "u@other", true
		return c
	}())
	a.sub(t, "sp/#", 1)
	b, ca := dialV5(t, e.addr, persistent("same", 300))
	if ca.SessionPresent {
		t.Fatal("a session of another address space is present")
	}
	b.sub(t, "sp/#", 1)
	pub, _ := dialV5(t, e.addr, &paho.Connect{ClientID: "sp-pub", CleanStart: true})
	pub.pub(t, "sp/1", "default-space", 1)
	b.expect(t, "sp/1", "default-space")
	a.expectNone(t) // and still connected:
	select {
	case rc := <-a.dc:
		t.Fatalf("other space's client disconnected with %#x", rc)
	default:
	}
	waitSessions(t, e.gw, 2)
	subs := e.br.SubscriptionsWithPrefix(SubscriptionPrefix)
	if len(subs["default"]) != 1 || len(subs["other"]) != 1 {
		t.Fatalf("subscriptions %v", subs)
	}
}

// TestSessionLimit: beyond MaxSessionsPerSpace a new persistent session
// is refused (v5 0x97, 3.1.1 0x03); clean sessions still connect.
func TestSessionLimit(t *testing.T) {
	e := newSessionEnv(t, Options{MaxSessionsPerSpace: 1})
	dialV5(t, e.addr, persistent("l1", 300))
	_, ack := dialRawConnect(t, e.addr, &packets.Connect{ProtocolVersion: packets.Version5, ClientID: "l2", KeepAlive: 30,
		Properties: packets.Properties{SessionExpiryInterval: 300, HasSessionExpiryInterval: true}})
	if ack.ReasonCode != packets.ReasonQuotaExceeded {
		t.Fatalf("CONNACK %v, want 0x97", ack.ReasonCode)
	}
	_, ack = dialRaw311(t, e.addr, "l3", false)
	if ack.ReasonCode != packets.ReasonServerUnavailable {
		t.Fatalf("3.1.1 CONNACK %v, want 0x03", ack.ReasonCode)
	}
	dialV5(t, e.addr, &paho.Connect{ClientID: "l4", CleanStart: true})
}

// TestSessionPaho311: paho.mqtt.golang with CleanSession false gets the
// QoS 1 messages published while it was away.
func TestSessionPaho311(t *testing.T) {
	e := newSessionEnv(t, Options{})
	got := make(chan string, 10)
	opts := func() *paho3.ClientOptions {
		return paho3.NewClientOptions().AddBroker("tcp://" + e.addr).SetClientID("p311").SetCleanSession(false).
			SetProtocolVersion(4).SetAutoReconnect(false).SetConnectRetry(false).
			SetDefaultPublishHandler(func(_ paho3.Client, m paho3.Message) { got <- m.Topic() + " " + string(m.Payload()) })
	}
	c := paho3.NewClient(opts())
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	if tok := c.Subscribe("p311/#", 1, nil); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	c.Disconnect(100)
	waitConns(t, e.gw, 0)
	pub, _ := dialV5(t, e.addr, &paho.Connect{ClientID: "p311-pub", CleanStart: true})
	pub.pub(t, "p311/a", "away-1", 1)
	pub.pub(t, "p311/b", "away-2", 1)
	c = paho3.NewClient(opts())
	tok := c.Connect()
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	if !tok.(*paho3.ConnectToken).SessionPresent() {
		t.Fatal("session not present")
	}
	defer c.Disconnect(100)
	for _, want := range []string{"p311/a away-1", "p311/b away-2"} {
		select {
		case m := <-got:
			if m != want {
				t.Fatalf("got %q, want %q", m, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no %q", want)
		}
	}
}

func waitConns(t *testing.T, gw *Server, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for gw.ConnCount() != n {
		if time.Now().After(deadline) {
			t.Fatalf("%d connections, want %d", gw.ConnCount(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func dialRaw311(t *testing.T, addr, id string, clean bool) (*rawClient, *packets.Connack) {
	t.Helper()
	return dialRawConnect(t, addr, &packets.Connect{ProtocolVersion: packets.Version311, CleanStart: clean, KeepAlive: 30, ClientID: id})
}

func dialRawConnect(t *testing.T, addr string, cp *packets.Connect) (*rawClient, *packets.Connack) {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	c := &rawClient{t: t, nc: nc, r: packets.NewReader(nc, 0), v: cp.ProtocolVersion}
	c.r.Version = c.v
	c.send(cp)
	ack, ok := c.next().(*packets.Connack)
	if !ok {
		t.Fatal("no CONNACK")
	}
	return c, ack
}

func (c *rawClient) nextType(t *testing.T, typ packets.PacketType) packets.Packet {
	t.Helper()
	p := c.next()
	if p == nil || p.Type() != typ {
		t.Fatalf("got %v, want %v", p, typ)
	}
	return p
}

// TestSessionExpiredWhileDown: a session whose expiry passed while the
// server was down is deleted at start, with its broker subscription; one
// whose expiry has not passed is present.
func TestSessionExpiredWhileDown(t *testing.T) {
	e := newSessionEnv(t, Options{})
	for _, id := range []string{"down-old", "down-new"} {
		c, _ := dialV5(t, e.addr, persistent(id, 60))
		c.sub(t, id+"/#", 1)
		c.bye(t)
	}
	waitConns(t, e.gw, 0)
	e.stop()
	// Move down-old's disconnection two minutes into the past.
	var key uint64
	var rec *session
	e.sessions.Replay(func(k uint64, data []byte) error {
		if data[0] == recSession {
			if s, err := parseSession(data); err == nil && s.id.clientID == "down-old" {
				key, rec = k, s
			}
		}
		return nil
	})
	if rec == nil {
		t.Fatal("no stored session down-old")
	}
	e.sessions.Put(context.Background(), key, rec.record(time.Now().Add(-2*time.Minute)))
	e.start()
	if n := e.gw.SessionCount(); n != 1 {
		t.Fatalf("%d sessions after the restart, want 1", n)
	}
	if subs := e.br.SubscriptionsWithPrefix(SubscriptionPrefix)["default"]; len(subs) != 1 || !strings.Contains(subs[0], "down-new") {
		t.Fatalf("broker subscriptions %v, want down-new's only", subs)
	}
	if _, ca := dialV5(t, e.addr, persistent("down-old", 60)); ca.SessionPresent {
		t.Fatal("expired session present")
	}
	if _, ca := dialV5(t, e.addr, persistent("down-new", 60)); !ca.SessionPresent {
		t.Fatal("live session lost")
	}
}

// TestSessionOfflineMessagesPage: messages kept for an offline session
// count against the broker's memory limit like any queue's: beyond it
// they are paged out, still accepted, and all delivered on reconnect.
func TestSessionOfflineMessagesPage(t *testing.T) {
	const maxMem, n, size = 32 << 10, 100, 1 << 10
	e := newSessionEnvMem(t, Options{}, maxMem)
	c, _ := dialV5(t, e.addr, persistent("pg", 300))
	c.sub(t, "pg/#", 1)
	c.bye(t)
	waitConns(t, e.gw, 0)
	pub, _ := dialV5(t, e.addr, &paho.Connect{ClientID: "pg-pub", CleanStart: true})
	body := strings.Repeat("x", size)
	for i := range n {
		pub.pub(t, "pg/a", fmt.Sprint(i, body), 1)
	}
	st, ok := e.br.Stats("default", "pg::"+subscriptionName("pg", "pg/#"))
	if !ok || st.Depth != n || st.Bytes <= maxMem {
		t.Fatalf("offline subscription %+v (found %v), want %d messages beyond the %d-byte memory limit", st, ok, n, maxMem)
	}
	c, _ = dialV5(t, e.addr, persistent("pg", 300))
	for i := range n {
		c.expect(t, "pg/a", fmt.Sprint(i, body))
	}
}

// TestSessionResendWithinReceiveMaximum: unacknowledged messages resent
// on reconnect respect the new connection's receive maximum
// [MQTT-3.3.4-9]: the second goes out once the first is acknowledged.
func TestSessionResendWithinReceiveMaximum(t *testing.T) {
	e := newSessionEnv(t, Options{})
	connect := func(rm uint16) *packets.Connect {
		return &packets.Connect{ProtocolVersion: packets.Version5, ClientID: "rm", KeepAlive: 30,
			Properties: packets.Properties{SessionExpiryInterval: 300, HasSessionExpiryInterval: true, ReceiveMaximum: rm}}
	}
	sub, _ := dialRawConnect(t, e.addr, connect(3))
	sub.send(&packets.Subscribe{PacketID: 1, Subscriptions: []packets.Subscription{{Filter: "rm/#", QoS: 1}}})
	sub.nextType(t, packets.TypeSuback)
	pub, _ := dialV5(t, e.addr, &paho.Connect{ClientID: "rm-pub", CleanStart: true})
	var ids []uint16
	for i := range 3 {
		pub.pub(t, "rm/a", fmt.Sprint(i), 1)
		ids = append(ids, sub.nextType(t, packets.TypePublish).(*packets.Publish).PacketID)
	}
	sub.nc.Close()
	waitConns(t, e.gw, 1)

	sub, ack := dialRawConnect(t, e.addr, connect(1))
	if !ack.SessionPresent {
		t.Fatal("no session")
	}
	for i, id := range ids {
		p := sub.nextType(t, packets.TypePublish).(*packets.Publish)
		if p.PacketID != id || !p.Dup || string(p.Payload) != fmt.Sprint(i) {
			t.Fatalf("resent %+v, want DUP %d of %q", p, id, fmt.Sprint(i))
		}
		// Nothing more until it is acknowledged.
		sub.send(&packets.Pingreq{})
		if p := sub.next(); p.Type() != packets.TypePingresp {
			t.Fatalf("got %v beyond the receive maximum 1", p)
		}
		sub.send(&packets.Puback{PacketID: id})
	}
}

// TestSessionCleanStartWithExpiry: clean start 1 with a session expiry
// discards the old session and its subscriptions [MQTT-3.1.2-4] and
// starts a new persistent one [MQTT-3.2.2-3].
func TestSessionCleanStartWithExpiry(t *testing.T) {
	e := newSessionEnv(t, Options{})
	c, _ := dialV5(t, e.addr, persistent("cs", 300))
	c.sub(t, "cs/#", 1)
	c.bye(t)
	waitConns(t, e.gw, 0)
	cp := persistent("cs", 300)
	cp.CleanStart = true
	c, ca := dialV5(t, e.addr, cp)
	if ca.SessionPresent {
		t.Fatal("session present with clean start")
	}
	if subs := e.br.SubscriptionsWithPrefix(SubscriptionPrefix); len(subs) != 0 {
		t.Fatalf("the old session's subscriptions are left: %v", subs)
	}
	c.bye(t)
	waitConns(t, e.gw, 0)
	waitSessions(t, e.gw, 1)
	pub, _ := dialV5(t, e.addr, &paho.Connect{ClientID: "cs-pub", CleanStart: true})
	pub.pub(t, "cs/x", "unsubscribed", 1)
	c, ca = dialV5(t, e.addr, persistent("cs", 300))
	if !ca.SessionPresent {
		t.Fatal("the new session is not present")
	}
	c.expectNone(t)
}
