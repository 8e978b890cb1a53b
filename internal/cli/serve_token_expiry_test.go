package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	amqp "github.com/Azure/go-amqp"

	"github.com/enmasse-go/enmasse/internal/mqtt/packets"
	"github.com/enmasse-go/enmasse/internal/oidc"
	"github.com/enmasse-go/enmasse/internal/oidc/oidctest"
)

// TestServeTokenExpiryEndsConnections: a connection authenticated by a
// bearer token ends when the token would no longer be accepted (its exp
// plus the 30 s leeway): AMQP with amqp:unauthorized-access, MQTT 5 with
// DISCONNECT 0x87, even while the MQTT client is idle (parked).
func TestServeTokenExpiryEndsConnections(t *testing.T) {
	iss := oidctest.New(t)
	srv := startServeOIDC(t, iss)
	// Accepted now, within the leeway; expired for good in 1 to 2 s (exp
	// is in whole seconds).
	start := time.Now()
	soon := iss.Claims("alice", oidcAudience)
	soon["exp"] = start.Add(2*time.Second - oidc.DefaultLeeway).Unix()
	token := iss.Token(t, soon)

	c, err := dialFrom(t, srv.addrs["amqp"], 41, xoauth2(t, "", token))
	if err != nil {
		t.Fatalf("AMQP login with the token: %v", err)
	}
	// Two MQTT clients: one idle (parked, no AMQP connection), one
	// subscribed (its AMQP connection, which the router also ends).
	type client struct {
		nc net.Conn
		pr *packets.Reader
	}
	var clients []client
	for i, subscribe := range []bool{false, true} {
		nc, pr := tokenMQTTClient(t, srv.addrs["mqtt"].String(), fmt.Sprint("expiring-", i), token)
		if subscribe {
			rawSubscribe(t, nc, pr, "alice/x")
		}
		clients = append(clients, client{nc, pr})
	}
	// Until the server ends them.
	for i, c := range clients {
		if p, err := c.pr.ReadPacket(); err != nil {
			t.Fatalf("MQTT client %d: %v, want DISCONNECT 0x87", i, err)
		} else if d, ok := p.(*packets.Disconnect); !ok || d.ReasonCode != packets.ReasonNotAuthorized {
			t.Fatalf("MQTT client %d: %#v, want DISCONNECT 0x87", i, p)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if el := time.Since(start); el < time.Second {
		t.Fatalf("MQTT connection ended after %v, before the token expired", el)
	}
	// The AMQP connection is gone too (closed with the condition).
	for {
		_, err := c.NewSession(ctx, nil)
		var ce *amqp.ConnError
		if errors.As(err, &ce) {
			if ce.RemoteErr == nil || ce.RemoteErr.Condition != amqp.ErrCondUnauthorizedAccess || !strings.Contains(ce.RemoteErr.Description, "expired") {
				t.Fatalf("AMQP connection ended with %v, want unauthorized-access: credentials expired", err)
			}
			break
		}
		if ctx.Err() != nil {
			t.Fatal("the AMQP connection outlived its token")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// tokenMQTTClient logs a raw MQTT 5 client in with token as its password,
// and returns its connection (closed at cleanup) and reader.
func tokenMQTTClient(t *testing.T, addr, clientID, token string) (net.Conn, *packets.Reader) {
	t.Helper()
	nc := dialTCP(t, addr)
	t.Cleanup(func() { nc.Close() })
	if _, err := packets.WriteTo(nc, &packets.Connect{ProtocolVersion: packets.Version5, CleanStart: true, ClientID: clientID,
		HasPassword: true, Password: []byte(token)}, packets.Version5); err != nil {
		t.Fatal(err)
	}
	pr := packets.NewReader(nc, 0)
	pr.Version = packets.Version5
	nc.SetReadDeadline(time.Now().Add(15 * time.Second))
	if p, err := pr.ReadPacket(); err != nil {
		t.Fatalf("%s: MQTT login with the token: %v", clientID, err)
	} else if ack, ok := p.(*packets.Connack); !ok || ack.ReasonCode != 0 {
		t.Fatalf("%s: MQTT login with the token: %#v", clientID, p)
	}
	return nc, pr
}

// rawSubscribe subscribes a raw MQTT 5 client to filter at QoS 1.
func rawSubscribe(t *testing.T, nc net.Conn, pr *packets.Reader, filter string) {
	t.Helper()
	packets.WriteTo(nc, &packets.Subscribe{PacketID: 1, Subscriptions: []packets.Subscription{{Filter: filter, QoS: 1}}}, packets.Version5)
	if p, err := pr.ReadPacket(); err != nil {
		t.Fatalf("SUBSCRIBE: %v", err)
	} else if sa, ok := p.(*packets.Suback); !ok || sa.ReasonCodes[0] != 1 {
		t.Fatalf("SUBACK: %#v", p)
	}
}
