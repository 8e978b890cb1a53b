package cli

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/enmasse-go/enmasse/internal/mqtt"
)

// mqttUsersConfig is a config file with the MessagingUser alice (password
// "secret", send and receive on alice*) besides admin.
func mqttUsersConfig(t *testing.T) string {
	t.Helper()
	cfg := filepath.Join(t.TempDir(), "users.yaml")
	writeFile(t, cfg, `resources:
- apiVersion: user.enmasse.io/v1beta1
  kind: MessagingUser
  metadata: {name: default.alice}
  spec:
    username: alice
    authentication: {type: password, password: c2VjcmV0}
    authorization:
    - addresses: ["alice*"]
      operations: ["send", "recv"]
`)
	return cfg
}

var pahoIDs atomic.Int64

// pahoOver connects paho (MQTT 5.0) over nc and returns the client and
// its CONNACK reason code.
func pahoOver(t *testing.T, nc net.Conn, edit func(*paho.Connect)) (*pahoClient, byte, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), clientWait)
	defer cancel()
	pc := &pahoClient{nc: nc, msgs: make(chan *paho.Publish, 100)}
	pc.Client = paho.NewClient(paho.ClientConfig{
		Conn: nc,
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){func(pr paho.PublishReceived) (bool, error) {
			pc.msgs <- pr.Packet
			return true, nil
		}},
	})
	t.Cleanup(func() { nc.Close() })
	cp := &paho.Connect{ClientID: fmt.Sprintf("%s-%d", t.Name(), pahoIDs.Add(1)), KeepAlive: 30, CleanStart: true}
	if edit != nil {
		edit(cp)
	}
	ca, err := pc.Connect(ctx, cp)
	if ca != nil {
		return pc, ca.ReasonCode, err
	}
	return pc, 0, err
}

func withUser(user, password string) func(*paho.Connect) {
	return func(cp *paho.Connect) {
		cp.Username, cp.UsernameFlag = user, true
		cp.Password, cp.PasswordFlag = []byte(password), true
	}
}

// TestServeMQTTSClientCertificate: --mqtts with --tls-client-ca. A client
// certificate from that CA is the MessagingUser of its common name (alice:
// her rights apply); username and password still work over TLS; without
// either, anonymous access is off (0x87); an untrusted certificate fails
// the handshake and the listener keeps serving.
func TestServeMQTTSClientCertificate(t *testing.T) {
	clients := newTestCA(t, "client CA")
	s := startServe(t, "--tls-self-signed", "--amqps", "", "--mqtts", "127.0.0.1:0", "--tls-client-ca", clients.file,
		"--allow-anonymous=false", "--config", mqttUsersConfig(t))
	_, pool := s.caPool(t)
	addr := s.addrs["mqtts"].String()
	alice := clients.clientCert(t, "alice")
	dial := func(certs ...tls.Certificate) (net.Conn, error) {
		return tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, Certificates: certs})
	}

	nc, err := dial(alice)
	if err != nil {
		t.Fatal(err)
	}
	a, rc, err := pahoOver(t, nc, nil)
	if err != nil || rc != 0 {
		t.Fatalf("alice by certificate: %v reason %#x", err, rc)
	}
	a.subscribe(t, "alice/#", 1)
	a.publish(t, &paho.Publish{Topic: "alice/in", QoS: 1, Payload: []byte("by cert")})
	a.expect(t, "alice/in", "by cert", 1)
	// Her rights, not anonymous ones: another address is refused.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sa, err := a.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "bob/#", QoS: 1}}})
	if err == nil && (len(sa.Reasons) != 1 || sa.Reasons[0] != 0x87) {
		t.Fatalf("subscribe bob/# as alice: %v, want 0x87", sa.Reasons)
	}

	// Username and password over TLS, no certificate.
	nc, err = dial()
	if err != nil {
		t.Fatal(err)
	}
	if _, rc, err := pahoOver(t, nc, withUser("alice", "secret")); err != nil || rc != 0 {
		t.Fatalf("alice by password: %v reason %#x", err, rc)
	}
	nc, _ = dial()
	if _, rc, _ := pahoOver(t, nc, withUser("alice", "wrong")); rc != 0x86 {
		t.Fatalf("wrong password: reason %#x, want 0x86", rc)
	}
	// Neither: anonymous is off.
	nc, _ = dial()
	if _, rc, _ := pahoOver(t, nc, nil); rc != 0x87 {
		t.Fatalf("no credentials: reason %#x, want 0x87", rc)
	}
	// A certificate from another CA: no TLS connection.
	mallory := newTestCA(t, "rogue CA").clientCert(t, "alice")
	if nc, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
		return &mallory, nil // sent although the server asks for other CAs
	}}); err == nil {
		// TLS 1.3: the client learns of the refusal on its first read.
		nc.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err = nc.Read(make([]byte, 1))
		if err == nil || !strings.Contains(err.Error(), "certificate") {
			t.Fatalf("untrusted certificate: %v, want a certificate error", err)
		}
		nc.Close()
	}
	a.publish(t, &paho.Publish{Topic: "alice/in", QoS: 1, Payload: []byte("still")})
	a.expect(t, "alice/in", "still", 1)
}

// TestServeMQTTSMosquitto: Debian's mosquitto clients over --mqtts with
// --cafile, and with --cert/--key as alice; an untrusted certificate is
// refused.
func TestServeMQTTSMosquitto(t *testing.T) {
	pubBin, err1 := exec.LookPath("mosquitto_pub")
	subBin, err2 := exec.LookPath("mosquitto_sub")
	if err1 != nil || err2 != nil {
		t.Skip("mosquitto_pub/mosquitto_sub not installed (Debian package mosquitto-clients)")
	}
	clients := newTestCA(t, "client CA")
	s := startServe(t, "--tls-self-signed", "--amqps", "", "--mqtts", "127.0.0.1:0", "--tls-client-ca", clients.file,
		"--allow-anonymous=false", "--config", mqttUsersConfig(t))
	caFile, _ := s.caPool(t)
	_, port, _ := net.SplitHostPort(s.addrs["mqtts"].String())
	dir := t.TempDir()
	certPEM, keyPEM, _ := clients.issue(t, "alice", true)
	certFile, keyFile := filepath.Join(dir, "alice.crt"), filepath.Join(dir, "alice.key")
	writeFile(t, certFile, certPEM)
	writeFile(t, keyFile, keyPEM)
	base := []string{"-h", "127.0.0.1", "-p", port, "--cafile", caFile}
	certArgs := append(append([]string(nil), base...), "--cert", certFile, "--key", keyFile)
	userArgs := append(append([]string(nil), base...), "-u", "alice", "-P", "secret")

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// Subscriber by certificate (v5), publisher by password (3.1.1).
	sub := exec.CommandContext(ctx, subBin, append(certArgs, "-V", "mqttv5", "-t", "alice/mosq", "-q", "1", "-C", "1", "-v")...)
	var out bytes.Buffer
	sub.Stdout, sub.Stderr = &out, &out
	if err := sub.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- sub.Wait() }()
	for deadline := time.Now().Add(20 * time.Second); ; {
		pub := exec.CommandContext(ctx, pubBin, append(userArgs, "-V", "mqttv311", "-t", "alice/mosq", "-m", "over tls", "-q", "1")...)
		if b, err := pub.CombinedOutput(); err != nil {
			t.Fatalf("mosquitto_pub: %v %s", err, b)
		}
		select {
		case err := <-done:
			if err != nil || out.String() != "alice/mosq over tls\n" {
				t.Fatalf("mosquitto_sub: %v %q", err, out.String())
			}
		case <-time.After(200 * time.Millisecond):
			if time.Now().After(deadline) {
				t.Fatalf("mosquitto_sub got %q", out.String())
			}
			continue
		}
		break
	}
	// An untrusted certificate is refused.
	rogue := newTestCA(t, "rogue CA")
	certPEM, keyPEM, _ = rogue.issue(t, "alice", true)
	writeFile(t, certFile, certPEM)
	writeFile(t, keyFile, keyPEM)
	pub := exec.CommandContext(ctx, pubBin, append(certArgs, "-t", "alice/mosq", "-m", "x", "-q", "1")...)
	if b, err := pub.CombinedOutput(); err == nil {
		t.Fatalf("mosquitto_pub with an untrusted certificate succeeded: %s", b)
	}
	// And without CA trust in the server, nothing works either.
	pub = exec.CommandContext(ctx, pubBin, "-h", "127.0.0.1", "-p", port, "--cafile", clients.file, "-u", "alice", "-P", "secret", "-t", "alice/mosq", "-m", "x")
	if b, err := pub.CombinedOutput(); err == nil {
		t.Fatalf("mosquitto_pub trusting the wrong CA succeeded: %s", b)
	}
}

// TestServeMQTTWebSocket: paho over the HTTP listener's /mqtt, and over
// HTTPS (--http-tls) with a client certificate; an AMQP-style subprotocol
// is refused.
func TestServeMQTTWebSocket(t *testing.T) {
	s := startServe(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	nc, err := mqtt.DialWebSocket(ctx, "ws://"+s.addrs["http"].String()+"/mqtt", nil)
	if err != nil {
		t.Fatal(err)
	}
	ws, rc, err := pahoOver(t, nc, nil)
	if err != nil || rc != 0 {
		t.Fatalf("connect: %v %#x", err, rc)
	}
	tcp := mqttConnect(t, s.addrs["mqtt"].String(), "tcp", nil)
	ws.subscribe(t, "web/#", 1)
	tcp.publish(t, &paho.Publish{Topic: "web/1", QoS: 1, Payload: []byte("to ws")})
	ws.expect(t, "web/1", "to ws", 1)
	tcp.subscribe(t, "back/#", 2)
	ws.publish(t, &paho.Publish{Topic: "back/1", QoS: 2, Payload: []byte("from ws")})
	tcp.expect(t, "back/1", "from ws", 2)

	// Without the subprotocol: 400.
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+s.addrs["http"].String()+"/mqtt", nil)
	for k, v := range map[string]string{"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
		"Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Protocol": "amqp"} {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Fatalf("subprotocol amqp: %s, want 400", resp.Status)
	}
}

func TestServeMQTTWebSocketTLS(t *testing.T) {
	clients := newTestCA(t, "client CA")
	s := startServe(t, "--tls-self-signed", "--amqps", "", "--mqtts", "", "--http-tls", "--tls-client-ca", clients.file,
		"--allow-anonymous=false", "--config", mqttUsersConfig(t))
	_, pool := s.caPool(t)
	// Each dial (TCP, TLS with client certificates, WebSocket upgrade)
	// has its own bound: they are slow under -race on a loaded machine.
	ctx, cancel := context.WithTimeout(context.Background(), clientWait)
	defer cancel()
	alice := clients.clientCert(t, "alice")
	nc, err := mqtt.DialWebSocket(ctx, "wss://"+s.addrs["https"].String()+"/mqtt",
		&tls.Config{RootCAs: pool, Certificates: []tls.Certificate{alice}})
	if err != nil {
		t.Fatal(err)
	}
	a, rc, err := pahoOver(t, nc, nil)
	if err != nil || rc != 0 {
		t.Fatalf("alice by certificate over wss: %v %#x", err, rc)
	}
	a.subscribe(t, "alice/ws", 0)
	a.publish(t, &paho.Publish{Topic: "alice/ws", Payload: []byte("wss")})
	a.expect(t, "alice/ws", "wss", 0)
	ctx2, cancel2 := context.WithTimeout(context.Background(), clientWait)
	defer cancel2()
	nc, err = mqtt.DialWebSocket(ctx2, "wss://"+s.addrs["https"].String()+"/mqtt", &tls.Config{RootCAs: pool})
	if err != nil {
		t.Fatal(err)
	}
	if _, rc, _ := pahoOver(t, nc, nil); rc != 0x87 {
		t.Fatalf("anonymous over wss: %#x, want 0x87", rc)
	}
}
