package cli

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	mqtt311 "github.com/eclipse/paho.mqtt.golang"

	"github.com/enmasse-go/enmasse/internal/controlplane/client"
)

// TestServeMQTTMulticastRetain: a multicast address keeps no retained
// messages while CONNACK says Retain Available 1 (topics keep them). A v5
// PUBLISH with RETAIN 1 to it at QoS 1 or 2 is answered 0x83 with a Reason
// String (0x9A is no PUBACK/PUBREC code [MQTT-3.4.2-1]) and not delivered;
// at QoS 0 it is dropped; RETAIN 0 is delivered as usual; a later
// subscriber gets nothing retained. A 3.1.1 client, which cannot be told,
// loses its connection (MQTT 3.1.1 [MQTT-3.3.5-2]).
func TestServeMQTTMulticastRetain(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "enmasse.yaml")
	writeFile(t, cfg, `resources:
- apiVersion: enmasse.io/v1beta1
  kind: Address
  metadata: {name: default.events}
  spec: {address: events, type: multicast, plan: standard-small-multicast}
`)
	s := startServe(t, "--config", cfg)
	waitActive(t, client.New("http://"+s.addrs["http"].String(), nil), "default.events")
	addr := s.addrs["mqtt"].String()
	sub := mqttConnect(t, addr, "mc-sub", nil)
	sub.subscribe(t, "events", 0)
	pub := mqttConnect(t, addr, "mc-pub", nil)
	if pub.ack.Properties != nil && !pub.ack.Properties.RetainAvailable { // paho: true unless CONNACK says 0
		t.Fatal("CONNACK says Retain Available 0")
	}
	ctx, cancel := context.WithTimeout(context.Background(), clientWait)
	defer cancel()
	for _, qos := range []byte{1, 2} {
		// paho returns an error with the PUBACK, none with the PUBREC.
		r, err := pub.Publish(ctx, &paho.Publish{Topic: "events", QoS: qos, Retain: true, Payload: []byte("kept?")})
		if r == nil || r.ReasonCode != 0x83 || r.Properties == nil || !strings.Contains(r.Properties.ReasonString, "retained") {
			t.Fatalf("QoS %d retained publish to a multicast address: %+v %v, want 0x83 with a reason string", qos, r, err)
		}
	}
	pub.publish(t, &paho.Publish{Topic: "events", QoS: 0, Retain: true, Payload: []byte("dropped")})
	pub.publish(t, &paho.Publish{Topic: "events", QoS: 1, Payload: []byte("live")})
	// Same publisher, same path: a refused one would have come first.
	sub.expect(t, "events", "live", 0)

	late := mqttConnect(t, addr, "mc-late", nil)
	late.subscribe(t, "events", 0)
	pub.publish(t, &paho.Publish{Topic: "events", QoS: 1, Payload: []byte("after")})
	late.expectRetain(t, "events", "after", 0, false) // nothing retained came first

	lost := make(chan error, 1)
	o := mqtt311.NewClientOptions().AddBroker("tcp://" + addr).SetClientID("mc-311").SetProtocolVersion(4).
		SetAutoReconnect(false).SetConnectionLostHandler(func(_ mqtt311.Client, err error) { lost <- err })
	c := mqtt311.NewClient(o)
	if tok := c.Connect(); !tok.WaitTimeout(clientWait) || tok.Error() != nil {
		t.Fatalf("3.1.1 connect: %v", tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(0) })
	c.Publish("events", 1, true, "kept?")
	select {
	case <-lost:
	case <-time.After(clientWait):
		t.Fatal("3.1.1: the connection survived a refused retained publication")
	}
}
