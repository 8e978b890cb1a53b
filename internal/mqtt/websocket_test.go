package mqtt

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	pahopackets "github.com/eclipse/paho.golang/packets"
	"github.com/eclipse/paho.golang/paho"
	"github.com/gorilla/websocket"

	"github.com/enmasse-go/enmasse/internal/mqtt/packets"
)

func startWebSocket(t *testing.T) string {
	t.Helper()
	gw, _ := startGatewayServer(t)
	hs := httptest.NewServer(gw.WebSocketHandler())
	t.Cleanup(hs.Close)
	return "ws" + strings.TrimPrefix(hs.URL, "http") + "/mqtt"
}

// TestWebSocketPaho: paho.golang (MQTT 5.0) over DialWebSocket publishes
// and receives through the gateway.
func TestWebSocketPaho(t *testing.T) {
	url := startWebSocket(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	nc, err := DialWebSocket(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	msgs := make(chan *paho.Publish, 1)
	c := paho.NewClient(paho.ClientConfig{Conn: nc, OnPublishReceived: []func(paho.PublishReceived) (bool, error){
		func(pr paho.PublishReceived) (bool, error) { msgs <- pr.Packet; return true, nil },
	}})
	if ca, err := c.Connect(ctx, &paho.Connect{ClientID: "ws-paho", CleanStart: true, KeepAlive: 30}); err != nil || ca.ReasonCode != 0 {
		t.Fatalf("connect: %v %+v", err, ca)
	}
	if _, err := c.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "ws/#", QoS: 1}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Publish(ctx, &paho.Publish{Topic: "ws/a", QoS: 1, Payload: []byte("over websocket")}); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-msgs:
		if m.Topic != "ws/a" || string(m.Payload) != "over websocket" {
			t.Fatalf("got %s %q", m.Topic, m.Payload)
		}
	case <-ctx.Done():
		t.Fatal("no message")
	}
	c.Disconnect(&paho.Disconnect{})
}

// TestWebSocketFraming: a packet may span WebSocket messages and one
// message may hold several packets [MQTT-6.0.0-2].
func TestWebSocketFraming(t *testing.T) {
	url := startWebSocket(t)
	d := websocket.Dialer{Subprotocols: []string{"mqtt"}}
	ws, _, err := d.Dial(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	if ws.Subprotocol() != "mqtt" {
		t.Fatalf("subprotocol %q", ws.Subprotocol())
	}
	send := func(b []byte) {
		t.Helper()
		if err := ws.WriteMessage(websocket.BinaryMessage, b); err != nil {
			t.Fatal(err)
		}
	}
	connect, _ := packets.Append(nil, &packets.Connect{ProtocolVersion: packets.Version5, CleanStart: true, ClientID: "ws-frames"}, packets.Version5)
	send(connect[:3]) // CONNECT in three messages, split inside the header
	send(connect[3:7])
	send(connect[7:])
	var two []byte
	two, _ = packets.Append(two, &packets.Subscribe{PacketID: 1, Subscriptions: []packets.Subscription{{Filter: "frames/x"}}}, packets.Version5)
	two, _ = packets.Append(two, &packets.Pingreq{}, packets.Version5)
	send(two) // SUBSCRIBE and PINGREQ in one message
	pub, _ := packets.Append(nil, &packets.Publish{Topic: "frames/x", Payload: []byte("split")}, packets.Version5)
	send(pub[:len(pub)-2]) // PUBLISH split, its end in one message with a PINGREQ
	rest, _ := packets.Append(append([]byte(nil), pub[len(pub)-2:]...), &packets.Pingreq{}, packets.Version5)
	send(rest)

	// Read the answers as a stream.
	r := packets.NewReader(&wsReader{ws: ws}, 0)
	r.Version = packets.Version5
	want := []packets.PacketType{packets.TypeConnack, packets.TypeSuback, packets.TypePingresp, packets.TypePublish, packets.TypePingresp}
	var got []packets.Packet
	ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	for len(got) < len(want) {
		p, err := r.ReadPacket()
		if err != nil {
			t.Fatalf("after %v: %v", got, err)
		}
		got = append(got, p)
	}
	// The PUBLISH and the second PINGRESP race (subscription goroutine
	// and packet loop); compare as sets after the first three.
	types := map[packets.PacketType]int{}
	for i, p := range got {
		if i < 3 && p.Type() != want[i] {
			t.Fatalf("packet %d is %v, want %v (all: %v)", i, p.Type(), want[i], got)
		}
		types[p.Type()]++
		if p, ok := p.(*packets.Publish); ok && string(p.Payload) != "split" {
			t.Fatalf("payload %q", p.Payload)
		}
	}
	if types[packets.TypePublish] != 1 || types[packets.TypePingresp] != 2 {
		t.Fatalf("got %v", got)
	}
}

// wsReader reads a client-side gorilla connection as a stream.
type wsReader struct {
	ws *websocket.Conn
	r  interface{ Read([]byte) (int, error) }
}

func (w *wsReader) Read(p []byte) (int, error) {
	for {
		if w.r == nil {
			_, r, err := w.ws.NextReader()
			if err != nil {
				return 0, err
			}
			w.r = r
		}
		n, err := w.r.Read(p)
		if err != nil {
			w.r = nil
			if n == 0 {
				continue
			}
		}
		return n, nil
	}
}

// TestWebSocketRefusals: no or another subprotocol is refused with 400
// before the upgrade; a text message closes the connection (1003).
func TestWebSocketRefusals(t *testing.T) {
	url := startWebSocket(t)
	for _, protos := range [][]string{nil, {"mqttv3.1"}, {"amqp"}} {
		d := websocket.Dialer{Subprotocols: protos}
		ws, resp, err := d.Dial(url, nil)
		if err == nil {
			ws.Close()
			t.Fatalf("subprotocols %v: upgraded", protos)
		}
		if resp == nil || resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("subprotocols %v: %v %v, want 400", protos, err, resp)
		}
	}
	d := websocket.Dialer{Subprotocols: []string{"mqtt"}}
	ws, _, err := d.Dial(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	ws.WriteMessage(websocket.TextMessage, []byte("hello"))
	ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, _, err = ws.ReadMessage()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.CloseUnsupportedData {
		t.Fatalf("after a text message: %v, want close 1003", err)
	}
	// The gateway still serves others.
	nc, err := DialWebSocket(context.Background(), url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	c := &rawClient{t: t, nc: nc, r: packets.NewReader(nc, 0), v: packets.Version311}
	c.r.Version = packets.Version311
	c.send(&packets.Connect{ProtocolVersion: packets.Version311, CleanStart: true, ClientID: "after-text"})
	if _, ok := c.next().(*packets.Connack); !ok {
		t.Fatal("no CONNACK")
	}
}

// TestWebSocketKeepAliveAndOrigin: a silent WebSocket client still gets
// its DISCONNECT 0x8D after 1.5 × keep-alive (the read deadline does not
// break writes); a browser request from another origin is refused.
func TestWebSocketKeepAliveAndOrigin(t *testing.T) {
	url := startWebSocket(t)
	nc, err := DialWebSocket(context.Background(), url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	c := &rawClient{t: t, nc: nc, r: packets.NewReader(nc, 0), v: packets.Version5}
	c.r.Version = packets.Version5
	c.send(&packets.Connect{ProtocolVersion: packets.Version5, CleanStart: true, ClientID: "ws-ka", KeepAlive: 1})
	if _, ok := c.next().(*packets.Connack); !ok {
		t.Fatal("no CONNACK")
	}
	got := c.closed(5 * time.Second)
	if len(got) != 1 || got[0].(*packets.Disconnect).ReasonCode != packets.ReasonKeepAliveTimeout {
		t.Fatalf("got %v, want DISCONNECT 0x8D", got)
	}

	d := websocket.Dialer{Subprotocols: []string{"mqtt"}}
	_, resp, err := d.Dial(url, http.Header{"Origin": {"https://elsewhere.example"}})
	if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-origin: %v %v, want 403", err, resp)
	}
}

// TestWebSocketPacketWritesLocked: paho.golang writes a packet as several
// Writes, atomically only under the conn's sync.Locker; two goroutines
// writing packets at once (as paho's pinger and a Subscribe do right
// after CONNACK) must not interleave them into a malformed packet.
func TestWebSocketPacketWritesLocked(t *testing.T) {
	url := startWebSocket(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	nc, err := DialWebSocket(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if _, ok := nc.(sync.Locker); !ok {
		t.Fatal("DialWebSocket's conn is no sync.Locker: paho.golang's packet parts can interleave")
	}
	cp := pahopackets.NewControlPacket(pahopackets.CONNECT)
	cp.Content.(*pahopackets.Connect).ClientID = "ws-locked"
	cp.Content.(*pahopackets.Connect).CleanStart = true
	cp.Content.(*pahopackets.Connect).ProtocolVersion = 5
	cp.Content.(*pahopackets.Connect).ProtocolName = "MQTT"
	if _, err := cp.WriteTo(nc); err != nil {
		t.Fatal(err)
	}
	const n = 1000
	errs := make(chan error, 2)
	go func() { // SUBSCRIBEs: header and body are separate Writes
		for i := range n {
			sp := pahopackets.NewControlPacket(pahopackets.SUBSCRIBE)
			s := sp.Content.(*pahopackets.Subscribe)
			s.PacketID = uint16(i + 1)
			s.Subscriptions = []pahopackets.SubOptions{{Topic: "locked/x"}}
			if _, err := sp.WriteTo(nc); err != nil {
				errs <- err
				return
			}
		}
		errs <- nil
	}()
	go func() {
		for range n {
			if _, err := pahopackets.NewControlPacket(pahopackets.PINGREQ).WriteTo(nc); err != nil {
				errs <- err
				return
			}
		}
		errs <- nil
	}()
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	r := packets.NewReader(nc, 0)
	r.Version = packets.Version5
	count := map[packets.PacketType]int{}
	for count[packets.TypeSuback] < n || count[packets.TypePingresp] < n {
		p, err := r.ReadPacket()
		if err != nil {
			t.Fatalf("after %v: %v (the server closed on a malformed packet?)", count, err)
		}
		count[p.Type()]++
	}
}
