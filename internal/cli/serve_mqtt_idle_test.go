package cli

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/eclipse/paho.golang/paho"

	"github.com/enmasse-go/enmasse/internal/mqtt/packets"
)

// idleConfig writes a config with the address space tight, whose plan's
// routerPolicy is policy (e.g. "maxConnectionsPerUser: 1"), its topic
// alice, and the user alice (password "secret", send and receive on
// alice*).
func idleConfig(t *testing.T, policy string) string {
	t.Helper()
	return writeUsersConfig(t, `apiVersion: admin.enmasse.io/v1beta2
kind: AddressSpacePlan
metadata: {name: one-each}
spec:
  addressSpaceType: standard
  resourceLimits: {router: 1, broker: 1, aggregate: 2}
  addressPlans: [standard-small-topic]
  routerPolicy: {`+policy+`}`, `apiVersion: enmasse.io/v1beta1
kind: AddressSpace
metadata: {name: tight}
spec: {type: standard, plan: one-each}`, `apiVersion: enmasse.io/v1beta1
kind: Address
metadata: {name: tight.alice}
spec: {address: alice, type: topic, plan: standard-small-topic}`,
		strings.NewReplacer("default.alice", "tight.alice", `["*"]`, `["alice*"]`).Replace(userYAML))
}

// TestServeMQTTIdleRelease: with --mqtt-idle-release an MQTT client logs
// in without an AMQP connection, and gives the one its PUBLISH opened up
// once idle, but always counts against the space's
// maxConnectionsPerUser; its PUBLISH goes out as the same user, with the
// same rights, without logging in again.
func TestServeMQTTIdleRelease(t *testing.T) {
	srv := startServe(t, "--config", idleConfig(t, "maxConnectionsPerUser: 1"), "--mqtt-idle-release", "50ms", "--log-level", "debug")
	addr := srv.addrs["mqtt"].String()
	alice := pahoWhenReady(t, "alice@tight", func() net.Conn { return dialTCP(t, addr) }, withUser("alice@tight", "secret"))
	// Logged in without an AMQP connection: the listener's log of one
	// (user=alice@tight) appears only once she publishes.
	if strings.Contains(srv.logs.String(), "connection opened") {
		t.Fatal("CONNECT opened an AMQP connection")
	}
	// Still counted: a second connection of alice is refused.
	if _, rc, _ := pahoOver(t, dialTCP(t, addr), withUser("alice@tight", "secret")); rc != 0x97 {
		t.Fatalf("alice's second connection: CONNACK %#x, want 0x97 Quota exceeded (maxConnectionsPerUser 1)", rc)
	}
	// 3.1.1 has no quota code: 0x03 Server unavailable.
	nc := dialTCP(t, addr)
	defer nc.Close()
	if _, err := packets.WriteTo(nc, &packets.Connect{ProtocolVersion: packets.Version311, CleanStart: true, ClientID: "v3",
		HasUsername: true, Username: "alice@tight", HasPassword: true, Password: []byte("secret")}, packets.Version311); err != nil {
		t.Fatal(err)
	}
	nc.SetReadDeadline(time.Now().Add(clientWait))
	pr := packets.NewReader(nc, 0)
	pr.Version = packets.Version311
	if p, err := pr.ReadPacket(); err != nil {
		t.Fatalf("3.1.1 CONNACK: %v", err)
	} else if ack, ok := p.(*packets.Connack); !ok || ack.ReasonCode != packets.ReasonServerUnavailable {
		t.Fatalf("3.1.1 second connection: %#v, want CONNACK 0x03", p)
	}
	ctx, cancel := context.WithTimeout(context.Background(), clientWait)
	defer cancel()
	for _, tc := range []struct {
		topic string
		rc    byte
	}{{"alice/x", 0}, {"bob", 0x87}} {
		resp, err := alice.Publish(ctx, &paho.Publish{Topic: tc.topic, QoS: 1, Payload: []byte("after idle")})
		switch {
		case resp != nil && resp.ReasonCode == tc.rc:
		case tc.rc == 0x87 && err != nil && strings.Contains(err.Error(), "not authorized"):
			// paho reports PUBACK 0x87 as an error.
		default:
			t.Fatalf("publish %s: %#v, %v; want PUBACK %#x", tc.topic, resp, err, tc.rc)
		}
	}
	if !strings.Contains(srv.logs.String(), "AMQP connection resumed") || !strings.Contains(srv.logs.String(), "user=alice@tight") {
		t.Fatal("no resume as alice@tight logged")
	}
	// Idle again after the publications: released.
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(srv.logs.String(), "idle: AMQP connection released"); {
		if time.Now().After(deadline) {
			t.Fatal("the idle client's AMQP connection was never released")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// pahoWhenReady connects paho over dial until its CONNACK is 0, for up to
// 10 s: the agent may not have configured the client's space yet.
func pahoWhenReady(t *testing.T, who string, dial func() net.Conn, edit func(*paho.Connect)) *pahoClient {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		pc, rc, _ := pahoOver(t, dial(), edit)
		if rc == 0 {
			return pc
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: CONNACK %#x", who, rc)
		}
	}
}

func dialTCP(t *testing.T, addr string) net.Conn {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	return nc
}

// dialTCPFrom dials addr from the loopback address 127.0.0.from.
func dialTCPFrom(t *testing.T, addr string, from byte) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, from)}}
	nc, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	return nc
}

// TestPipeSuspensionSize: an idle client's claim stays at the 128 bytes
// docs/benchmarks.md counts.
func TestPipeSuspensionSize(t *testing.T) {
	if n := unsafe.Sizeof(pipeSuspension{}); n > 128 {
		t.Fatalf("pipeSuspension is %d bytes, want at most 128", n)
	}
}

// TestServeMQTTCertificateUsersKeepTheirSpace: MQTT clients logging in
// with a client certificate and no username belong to the certificate
// user's address space (a common name `user@space`): two of them in two
// spaces with the same client identifier are two sessions, neither
// taking the other over.
func TestServeMQTTCertificateUsersKeepTheirSpace(t *testing.T) {
	clients := newTestCA(t, "client CA")
	cfg := writeUsersConfig(t, `apiVersion: enmasse.io/v1beta1
kind: AddressSpace
metadata: {name: beta}
spec: {type: standard, plan: standard-small}`, userYAML,
		strings.NewReplacer("default.alice", "beta.hank", "username: alice", "username: hank").Replace(userYAML))
	s := startServe(t, "--tls-self-signed", "--amqps", "", "--mqtts", "127.0.0.1:0", "--tls-client-ca", clients.file,
		"--allow-anonymous=false", "--config", cfg)
	_, pool := s.caPool(t)
	addr := s.addrs["mqtts"].String()
	login := func(cn string) *pahoClient {
		return pahoWhenReady(t, cn, func() net.Conn {
			nc, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{clients.clientCert(t, cn)}})
			if err != nil {
				t.Fatal(err)
			}
			return nc
		}, func(cp *paho.Connect) { cp.ClientID = "sensor-1" })
	}
	alice := login("alice")
	hank := login("hank@beta")
	ctx, cancel := context.WithTimeout(context.Background(), clientWait)
	defer cancel()
	// Both still connected: a round trip on each.
	for name, pc := range map[string]*pahoClient{"alice": alice, "hank": hank} {
		if _, err := pc.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "probe", QoS: 0}}}); err != nil && !strings.Contains(err.Error(), "failed to subscribe") { // a SUBACK refusing it is an answer
			t.Fatalf("%s after the other's CONNECT with the same client id: %v", name, err)
		}
	}
}

// TestServeMQTTConnectionsPerHost: maxConnectionsPerHost counts MQTT
// clients by their own address, logged in or publishing alike (not all
// of them as one host, the in-process pipe's).
func TestServeMQTTConnectionsPerHost(t *testing.T) {
	srv := startServe(t, "--config", idleConfig(t, "maxConnectionsPerHost: 1"), "--mqtt-idle-release", "50ms")
	addr := srv.addrs["mqtt"].String()
	var clients []*pahoClient
	for _, ip := range []byte{21, 22} {
		clients = append(clients, pahoWhenReady(t, fmt.Sprint("alice from 127.0.0.", ip), func() net.Conn { return dialTCPFrom(t, addr, ip) }, withUser("alice@tight", "secret")))
	}
	// Both publish: each one's AMQP connection counts under its own host.
	for i, pc := range clients {
		pc.publish(t, &paho.Publish{Topic: "alice/x", QoS: 1, Payload: []byte{byte(i)}})
	}
	// A second client from a host already counted is refused.
	if _, rc, _ := pahoOver(t, dialTCPFrom(t, addr, 22), withUser("alice@tight", "secret")); rc != 0x97 {
		t.Fatalf("second client from 127.0.0.22: CONNACK %#x, want 0x97", rc)
	}
}
