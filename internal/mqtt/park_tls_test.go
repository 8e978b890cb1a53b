//go:build linux

package mqtt

import (
	"bytes"
	"context"
	"crypto/tls"
	"net"
	"testing"
	"time"

	"github.com/enmasse-go/enmasse/internal/mqtt/packets"
	"github.com/enmasse-go/enmasse/internal/tlsconfig"
)

// selfSigned is a TLS server certificate for 127.0.0.1 (the development
// PKI of `serve --tls-self-signed`).
func selfSigned(t *testing.T) tls.Certificate {
	t.Helper()
	pki, err := tlsconfig.SelfSigned(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.LoadX509KeyPair(pki.ServerCert, pki.ServerKey)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// heldWrites delays a connection's writes until flush, so that several
// TLS records reach the server in one TCP write.
type heldWrites struct {
	net.Conn
	hold bool
	buf  bytes.Buffer
}

func (h *heldWrites) Write(b []byte) (int, error) {
	if h.hold {
		return h.buf.Write(b)
	}
	return h.Conn.Write(b)
}

func (h *heldWrites) flush() error {
	h.hold = false
	_, err := h.Conn.Write(h.buf.Bytes())
	h.buf.Reset()
	return err
}

// TestParkedTLSConnection: suspended TLS connections park too; one
// whose socket delivered two TLS records at once answers both packets
// (the second record, already read from the socket, would never wake a
// parked connection).
func TestParkedTLSConnection(t *testing.T) {
	gw, _, _ := startIdleGateway(t, 20*time.Millisecond)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{selfSigned(t)}})
	if err != nil {
		t.Fatal(err)
	}
	go gw.Serve(ln)
	const n = 20
	clients := make([]*rawClient, n)
	helds := make([]*heldWrites, n)
	for i := range clients {
		raw, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		helds[i] = &heldWrites{Conn: raw}
		tc := tls.Client(helds[i], &tls.Config{InsecureSkipVerify: true})
		t.Cleanup(func() { tc.Close() })
		c := &rawClient{t: t, nc: tc, r: packets.NewReader(tc, 0), v: packets.Version5}
		c.r.Version = packets.Version5
		c.send(&packets.Connect{ProtocolVersion: packets.Version5, CleanStart: true, ClientID: "tls-" + string(rune('a'+i))})
		if ack, ok := c.next().(*packets.Connack); !ok || ack.ReasonCode != 0 {
			t.Fatalf("CONNACK: %#v", ack)
		}
		clients[i] = c
	}
	waitFor(t, "all to park", func() bool { return gw.parked() == n })
	for i, c := range clients {
		helds[i].hold = true
		c.send(&packets.Pingreq{})                                                          // one record
		c.send(&packets.Publish{Topic: "tls/t", QoS: 1, PacketID: 7, Payload: []byte("x")}) // another
		if err := helds[i].flush(); err != nil {
			t.Fatal(err)
		}
		if _, ok := c.next().(*packets.Pingresp); !ok {
			t.Fatalf("client %d: no PINGRESP", i)
		}
		if pa, ok := c.next().(*packets.Puback); !ok || pa.PacketID != 7 {
			t.Fatalf("client %d: PUBACK %#v", i, pa)
		}
	}
	waitFor(t, "all to park again", func() bool { return gw.parked() == n })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := gw.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
}
