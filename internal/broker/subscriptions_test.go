package broker_test

import (
	"testing"

	amqp "github.com/Azure/go-amqp"

	"github.com/enmasse-go/enmasse/internal/broker"
	"github.com/enmasse-go/enmasse/internal/router"
)

// TestBrokerDurableWildcardFilterSurvivesRestart: a durable subscription
// attached below its topic with a wildcard keeps that filter after a
// restart (it used to come back as `{topic}/#`), and DeleteSubscriptions
// removes it by name.
func TestBrokerDurableWildcardFilterSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	setup := func(r *router.Router) { r.SetAddress("default", "sensors", router.Topic) }
	n := startNodeWith(t, dir, setup)
	opts := &amqp.ReceiverOptions{Name: "temps", SourceDurability: amqp.DurabilityUnsettledState,
		SourceExpiryPolicy: amqp.ExpiryPolicyNever, SourceCapabilities: []string{"global"}, Credit: 10}
	rcv, err := session(t, n.addr).NewReceiver(ctx5(t), "sensors/+/temp", opts)
	if err != nil {
		t.Fatal(err)
	}
	rcv.Close(ctx5(t))
	n.stop()

	n = startNodeWith(t, dir, setup)
	send(t, session(t, n.addr), "sensors/a/humidity", "no")
	send(t, session(t, n.addr), "sensors/a/temp", "yes")
	// Created by an attach, not for an address: serve gives it to
	// neither the router nor the control plane.
	if qs := n.b.Queues(); len(qs) != 1 || qs[0] != (broker.QueueInfo{Space: "default", Name: "sensors::temps", Type: "subscription", OnAttach: true}) {
		t.Fatalf("Queues after restart: %+v", qs)
	}
	if st, ok := n.b.Stats("default", "sensors::temps"); !ok || st.Depth != 1 {
		t.Fatalf("subscription after restart: %+v %v, want the one matching message", st, ok)
	}
	rcv, err = session(t, n.addr).NewReceiver(ctx5(t), "sensors/+/temp", opts)
	if err != nil {
		t.Fatal(err)
	}
	if got := receiveN(t, rcv, 1); got[0] != "yes" {
		t.Fatalf("got %v", got)
	}
	if subs := n.b.SubscriptionsWithPrefix("te"); len(subs["default"]) != 1 || subs["default"][0] != "temps" {
		t.Fatalf("SubscriptionsWithPrefix: %v", subs)
	}
	if d := n.b.DeleteSubscriptions("default", "temps"); d != 1 {
		t.Fatalf("deleted %d", d)
	}
	if _, ok := n.b.Stats("default", "sensors::temps"); ok {
		t.Fatal("subscription still there")
	}
}
