package mqtt

import (
	"context"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/enmasse-go/enmasse/internal/mqtt/packets"
	"github.com/enmasse-go/enmasse/internal/router"
)

// TestUnknownAddressReasonCodes: in a space that does not create
// addresses, PUBLISH to an unknown topic gets PUBACK / PUBREC 0x90 Topic
// Name invalid — 0x8F is no PUBACK/PUBREC code [MQTT-3.4.2-1]
// [MQTT-3.5.2-1] — and SUBSCRIBE to it SUBACK 0x8F Topic Filter invalid.
func TestUnknownAddressReasonCodes(t *testing.T) {
	_, addr := startGatewayWith(t, func(o *Options) {
		o.Backend.(*testBackend).r.SetSpace(router.SpaceConfig{Name: "default", AutoCreate: false})
	})
	c, _ := dialV5(t, addr, &paho.Connect{ClientID: "rc", CleanStart: true})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, qos := range []byte{1, 2} {
		pr, _ := c.Publish(ctx, &paho.Publish{Topic: "nosuch/x", QoS: qos, Payload: []byte("x")})
		if pr == nil || pr.ReasonCode != byte(packets.ReasonTopicNameInvalid) {
			t.Fatalf("QoS %d publish to an unknown address: %+v, want reason 0x90", qos, pr)
		}
	}
	sa, _ := c.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "nosuch/#", QoS: 1}}})
	if sa == nil || len(sa.Reasons) != 1 || sa.Reasons[0] != byte(packets.ReasonTopicFilterInvalid) {
		t.Fatalf("subscribe to an unknown address: %+v, want reason 0x8F", sa)
	}
	// The connection is still usable.
	if pr, _ := c.Publish(ctx, &paho.Publish{Topic: "nosuch/y", QoS: 1, Payload: []byte("y")}); pr == nil || pr.ReasonCode != byte(packets.ReasonTopicNameInvalid) {
		t.Fatalf("second publish: %+v", pr)
	}
}

func TestPubCodeForAllowed(t *testing.T) {
	allowed := map[packets.ReasonCode]bool{0x00: true, 0x10: true, 0x80: true, 0x83: true, 0x87: true, 0x90: true, 0x91: true, 0x97: true, 0x99: true}
	for rc := range 256 {
		if got := pubCodeFor(packets.ReasonCode(rc)); !allowed[got] {
			t.Errorf("pubCodeFor(0x%02X) = 0x%02X, not a PUBACK code", rc, got)
		}
	}
}
