package cli

import (
	"testing"

	"github.com/enmasse-go/enmasse/internal/broker"
	"github.com/enmasse-go/enmasse/internal/mqtt"
)

// TestMQTTSubscriptionPrefixReserved: the broker reserves to the
// gateway's connections exactly the names the gateway gives its
// sessions' subscriptions (package mqtt may not import the broker).
func TestMQTTSubscriptionPrefixReserved(t *testing.T) {
	if mqtt.SubscriptionPrefix != broker.MQTTSubscriptionPrefix {
		t.Fatalf("mqtt.SubscriptionPrefix %q, broker.MQTTSubscriptionPrefix %q", mqtt.SubscriptionPrefix, broker.MQTTSubscriptionPrefix)
	}
}
