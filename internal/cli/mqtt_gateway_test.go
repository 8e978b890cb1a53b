package cli

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	amqp "github.com/Azure/go-amqp"
	"github.com/eclipse/paho.golang/paho"

	"github.com/enmasse-go/enmasse/internal/mqtt"
	"github.com/enmasse-go/enmasse/internal/mqtt/packets"
	"github.com/enmasse-go/enmasse/internal/oidc"
	"github.com/enmasse-go/enmasse/internal/oidc/oidctest"
)

// startMQTTGateway runs `enmasse mqtt-gateway` in process against the
// router at routerAddr, with extra flags, and returns its listen
// addresses.
func startMQTTGateway(t *testing.T, routerAddr string, args ...string) map[string]net.Addr {
	t.Helper()
	opts, err := parseMQTTGatewayArgs(append([]string{"--router", routerAddr, "--mqtt", "127.0.0.1:0", "--ws", "127.0.0.1:0"}, args...), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ready := make(chan map[string]net.Addr, 1)
	opts.ready = func(a map[string]net.Addr) { ready <- a }
	ctx, cancel := context.WithCancel(context.Background())
	logs := &syncBuffer{}
	done := make(chan error, 1)
	go func() { done <- runMQTTGateway(ctx, opts, logs) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("mqtt-gateway: %v", err)
		}
		if t.Failed() {
			t.Logf("mqtt-gateway logs:\n%s", logs)
		}
	})
	select {
	case a := <-ready:
		return a
	case err := <-done:
		t.Fatalf("mqtt-gateway: %v\n%s", err, logs)
	case <-time.After(10 * time.Second):
		t.Fatal("mqtt-gateway not ready")
	}
	return nil
}

// TestMQTTGatewayProcess: the separate gateway in front of a serve's AMQP
// listener (its own MQTT listener off): MQTT clients on TCP and WebSocket
// share a topic it had the router create (two subscribers both get a
// message: a topic, not a queue), AMQP clients of the router see the same
// messages, and username/password go through to the router's users.
func TestMQTTGatewayProcess(t *testing.T) {
	s := startServe(t, "--mqtt", "", "--config", mqttUsersConfig(t))
	gwAddrs := startMQTTGateway(t, s.addrs["amqp"].String())
	addr := gwAddrs["mqtt"].String()

	sub1 := mqttConnect(t, addr, "gw-sub1", nil)
	sub1.subscribe(t, "plant/+/temp", 1)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	nc, err := mqtt.DialWebSocket(ctx, "ws://"+gwAddrs["ws"].String()+"/mqtt", nil)
	if err != nil {
		t.Fatal(err)
	}
	sub2, rc, err := pahoOver(t, nc, nil)
	if err != nil || rc != 0 {
		t.Fatalf("ws: %v %#x", err, rc)
	}
	sub2.subscribe(t, "plant/#", 2)
	pub := mqttConnect(t, addr, "gw-pub", nil)
	pub.publish(t, &paho.Publish{Topic: "plant/a/temp", QoS: 1, Payload: []byte("21")})
	sub1.expect(t, "plant/a/temp", "21", 1)
	sub2.expect(t, "plant/a/temp", "21", 1)

	// An AMQP client of the router publishes to the same topic.
	c, err := amqp.Dial(ctx, "amqp://"+s.addrs["amqp"].String(), &amqp.ConnOptions{SASLType: amqp.SASLTypeAnonymous()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	as, err := c.NewSession(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	snd, err := as.NewSender(ctx, "plant/b/temp", nil)
	if err != nil {
		t.Fatal(err)
	}
	m := amqp.NewMessage([]byte("19"))
	to := "plant/b/temp" // the MQTT topic name (without it: the filter's levels before the wildcard)
	m.Properties = &amqp.MessageProperties{To: &to}
	if err := snd.Send(ctx, m, nil); err != nil {
		t.Fatal(err)
	}
	sub1.expect(t, "plant/b/temp", "19", 1)

	// Credentials reach the router: alice's rights apply, a wrong
	// password is refused.
	alice := mqttConnect(t, addr, "gw-alice", withUser("alice", "secret"))
	alice.subscribe(t, "alice/x", 0)
	ca, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	if _, rc, _ := pahoOver(t, ca, withUser("alice", "wrong")); rc != 0x86 {
		t.Fatalf("wrong password: %#x, want 0x86", rc)
	}
}

func TestMQTTGatewayFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--mqtts", "127.0.0.1:8883"}, "--mqtts needs --tls-cert"},
		{[]string{"--wss", "127.0.0.1:8443"}, "--wss needs --tls-cert"},
		{[]string{"--tls-cert", "c.pem"}, "--tls-cert and --tls-key"},
		{[]string{"--router-ca", "ca.pem"}, "--router-ca needs --router-tls"},
		{[]string{"--mqtt", "", "--ws", ""}, "no listener"},
		{[]string{"--router", ""}, "--router must not be empty"},
		{[]string{"--mqtt-idle-release", "-1s"}, "--mqtt-idle-release must not be negative"},
	} {
		_, err := parseMQTTGatewayArgs(tc.args, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want %q", tc.args, err, tc.want)
		}
	}
	code, stdout, _ := runCLI(t, "mqtt-gateway", "--help")
	if code != 0 || !strings.Contains(stdout, "--router HOST:PORT") || !strings.Contains(stdout, "--ws HOST:PORT") {
		t.Fatalf("help: %d %s", code, stdout)
	}
}

// TestMQTTGatewayToken: an OIDC token as MQTT password goes to the router
// as SASL OAUTHBEARER through the separate gateway too.
func TestMQTTGatewayToken(t *testing.T) {
	iss := oidctest.New(t)
	srv := startServeOIDC(t, iss)
	addr := startMQTTGateway(t, srv.addrs["amqp"].String())["mqtt"].String()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	fred := iss.Token(t, iss.Claims("fred.external", oidcAudience))
	pc, rc, err := pahoOver(t, nc, func(cp *paho.Connect) { cp.Password, cp.PasswordFlag = []byte(fred), true })
	if err != nil || rc != 0 {
		t.Fatalf("fred by token through the gateway: %v %#x", err, rc)
	}
	pc.subscribe(t, "fred/gw", 1)
	pc.publish(t, &paho.Publish{Topic: "fred/gw", QoS: 1, Payload: []byte("token")})
	pc.expect(t, "fred/gw", "token", 1)
}

// TestMQTTGatewayTLS: the separate gateway's --mqtts and --wss listeners
// with a certificate from --tls-cert/--tls-key.
func TestMQTTGatewayTLS(t *testing.T) {
	s := startServe(t, "--mqtt", "")
	ca := newTestCA(t, "gateway CA")
	certPEM, keyPEM, _ := ca.issue(t, "gateway", false)
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "gw.crt"), filepath.Join(dir, "gw.key")
	writeFile(t, certFile, certPEM)
	writeFile(t, keyFile, keyPEM)
	addrs := startMQTTGateway(t, s.addrs["amqp"].String(), "--mqtt", "", "--ws", "",
		"--mqtts", "127.0.0.1:0", "--wss", "127.0.0.1:0", "--tls-cert", certFile, "--tls-key", keyFile)
	if addrs["mqtt"] != nil || addrs["ws"] != nil {
		t.Fatalf("listeners %v", addrs)
	}
	nc, err := tls.Dial("tcp", addrs["mqtts"].String(), &tls.Config{RootCAs: ca.pool})
	if err != nil {
		t.Fatal(err)
	}
	pub, rc, err := pahoOver(t, nc, nil)
	if err != nil || rc != 0 {
		t.Fatalf("mqtts: %v %#x", err, rc)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	wc, err := mqtt.DialWebSocket(ctx, "wss://"+addrs["wss"].String()+"/mqtt", &tls.Config{RootCAs: ca.pool})
	if err != nil {
		t.Fatal(err)
	}
	sub, rc, err := pahoOver(t, wc, nil)
	if err != nil || rc != 0 {
		t.Fatalf("wss: %v %#x", err, rc)
	}
	sub.subscribe(t, "secure/#", 1)
	pub.publish(t, &paho.Publish{Topic: "secure/1", QoS: 1, Payload: []byte("tls both ways")})
	sub.expect(t, "secure/1", "tls both ways", 1)
}

// TestMQTTGatewayIdleRelease: the separate gateway closes an idle
// client's connection to the router (--mqtt-idle-release) and dials the
// router again, logging in with the same credentials, when the client
// publishes; a subscribed client keeps its connection.
func TestMQTTGatewayIdleRelease(t *testing.T) {
	s := startServe(t, "--mqtt", "", "--config", mqttUsersConfig(t), "--log-level", "debug")
	addr := startMQTTGateway(t, s.addrs["amqp"].String(), "--mqtt-idle-release", "50ms")["mqtt"].String()
	logins := func() int { return strings.Count(s.logs.String(), "user=alice ") }
	sub := mqttConnect(t, addr, "gw-idle-sub", withUser("alice", "secret"))
	sub.subscribe(t, "alice/idle", 1)
	pub := mqttConnect(t, addr, "gw-idle-pub", withUser("alice", "secret"))
	if n := logins(); n != 2 {
		t.Fatalf("%d logins of alice at the router, want 2", n)
	}
	time.Sleep(300 * time.Millisecond) // the publisher's connection is released
	for i := range 2 {
		pub.publish(t, &paho.Publish{Topic: "alice/idle", QoS: 1, Payload: []byte("after idle")})
		sub.expect(t, "alice/idle", "after idle", 1)
		if n := logins(); n != 3+i {
			t.Fatalf("after publication %d: %d logins of alice at the router, want %d (a new connection after each release)", i+1, n, 3+i)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// TestMQTTGatewayTokenExpiry: when the router ends a connection whose
// token expired, the separate gateway tells the MQTT 5 client with
// DISCONNECT 0x87 (it cannot tell the expiry itself); an idle client,
// whose connection was released, gets 0x87 when it publishes and the
// gateway's new login with the token fails.
func TestMQTTGatewayTokenExpiry(t *testing.T) {
	iss := oidctest.New(t)
	srv := startServeOIDC(t, iss)
	addr := startMQTTGateway(t, srv.addrs["amqp"].String())["mqtt"].String()
	start := time.Now()
	soon := iss.Claims("alice", oidcAudience)
	soon["exp"] = start.Add(2*time.Second - oidc.DefaultLeeway).Unix()
	token := iss.Token(t, soon)
	nc, pr := tokenMQTTClient(t, addr, "gw-expiring", token)
	// Subscribed: its connection to the router stays open until the
	// router ends it.
	rawSubscribe(t, nc, pr, "alice/x")
	if p, err := pr.ReadPacket(); err != nil {
		t.Fatalf("%v, want DISCONNECT 0x87", err)
	} else if d, ok := p.(*packets.Disconnect); !ok || d.ReasonCode != packets.ReasonNotAuthorized || !strings.Contains(d.Properties.ReasonString, "expired") {
		t.Fatalf("%#v, want DISCONNECT 0x87 saying the credentials expired", p)
	}
	if el := time.Since(start); el < time.Second {
		t.Fatalf("ended after %v, before the token expired", el)
	}

	soon["exp"] = time.Now().Add(2*time.Second - oidc.DefaultLeeway).Unix()
	idle, ir := tokenMQTTClient(t, addr, "gw-idle-expiring", iss.Token(t, soon))
	time.Sleep(3 * time.Second) // released after 100 ms; the token expires meanwhile
	packets.WriteTo(idle, &packets.Publish{Topic: "alice/x", QoS: 1, PacketID: 1, Payload: []byte("late")}, packets.Version5)
	if p, err := ir.ReadPacket(); err != nil {
		t.Fatalf("idle client: %v, want DISCONNECT 0x87", err)
	} else if d, ok := p.(*packets.Disconnect); !ok || d.ReasonCode != packets.ReasonNotAuthorized {
		t.Fatalf("idle client: %#v, want DISCONNECT 0x87", p)
	}
}
