package cli

import (
	"context"
	"errors"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	amqp "github.com/Azure/go-amqp"
	"github.com/eclipse/paho.golang/paho"
)

// TestServeLWT: the $lwt service of a real serve. alice (send and receive
// on alice*) leaves wills through go-amqp and Qpid Proton; an MQTT
// subscriber on the will's topic receives the ones that must be
// published: after an abrupt socket close, after a detach with an error;
// not after a clean close. A will to an address she may not send to is
// refused.
func TestServeLWT(t *testing.T) {
	s := startServe(t, "--allow-anonymous=false", "--config", mqttUsersConfig(t))
	sub := mqttConnect(t, s.addrs["mqtt"].String(), "lwt-watcher", withUser("alice", "secret"))
	sub.subscribe(t, "alice/wills/#", 1)

	dialAlice := func() (net.Conn, *amqp.Sender) {
		t.Helper()
		nc, err := net.Dial("tcp", s.addrs["amqp"].String())
		if err != nil {
			t.Fatal(err)
		}
		ctx := ctxTimeout(t, 10*time.Second)
		c, err := amqp.NewConn(ctx, nc, &amqp.ConnOptions{SASLType: amqp.SASLTypePlain("alice", "secret")})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close(); nc.Close() })
		ss, err := c.NewSession(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		snd, err := ss.NewSender(ctx, "$lwt", nil)
		if err != nil {
			t.Fatalf("attach to $lwt: %v", err)
		}
		return nc, snd
	}
	will := func(snd *amqp.Sender, to, body string) error {
		m := amqp.NewMessage([]byte(body))
		m.Properties = &amqp.MessageProperties{To: &to}
		m.ApplicationProperties = map[string]any{"device": "d1"}
		return snd.Send(ctxTimeout(t, 10*time.Second), m, nil)
	}

	// Refused: bob's address.
	nc, snd := dialAlice()
	var ae *amqp.Error
	if err := will(snd, "bob/wills/x", "not hers"); !errors.As(err, &ae) || ae.Condition != amqp.ErrCondUnauthorizedAccess {
		t.Fatalf("will to bob/wills/x: %v, want unauthorized-access", err)
	}
	// Abrupt close: published, with its application properties.
	if err := will(snd, "alice/wills/d1", "d1 lost"); err != nil {
		t.Fatal(err)
	}
	nc.Close()
	m := sub.expect(t, "alice/wills/d1", "d1 lost", 1)
	if len(m.Properties.User) != 1 || m.Properties.User[0].Key != "device" || m.Properties.User[0].Value != "d1" {
		t.Errorf("user properties %v", m.Properties.User)
	}

	// Clean close: discarded.
	_, snd = dialAlice()
	will(snd, "alice/wills/d2", "d2 clean")
	// (closing the session closes its link cleanly; the connection too)
	if err := snd.Close(ctxTimeout(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}

	// Qpid Proton: a detach with an error publishes.
	requireProtonPython(t)
	script := `
import sys
from proton import Message, Condition
from proton.utils import BlockingConnection
c = BlockingConnection(sys.argv[1], user="alice", password="secret", allowed_mechs="PLAIN")
s = c.create_sender("$lwt")
s.send(Message(address="alice/wills/d3", subject="will", body=b"d3 crashed"))
s.link.condition = Condition("app:crashed", "the device crashed")
s.close()
c.close()
print("ok")
`
	out, err := exec.Command(protonPython, "-c", script, s.addrs["amqp"].String()).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "ok") {
		t.Fatalf("proton: %v\n%s", err, out)
	}
	sub.expect(t, "alice/wills/d3", "d3 crashed", 1)
	// The clean one never came: a marker published now is next.
	sub.publish(t, &paho.Publish{Topic: "alice/wills/marker", QoS: 1, Payload: []byte("marker")})
	sub.expect(t, "alice/wills/marker", "marker", 1)
}

func ctxTimeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// protonPython is Debian's python3, which has python3-qpid-proton (a
// pyenv python3 first on PATH may not).
const protonPython = "/usr/bin/python3"

func requireProtonPython(t *testing.T) {
	t.Helper()
	if out, err := exec.Command(protonPython, "-c", "import proton").CombinedOutput(); err != nil {
		t.Skipf("python3-qpid-proton is missing (%v: %s); apt-get install python3-qpid-proton", err, out)
	}
}
