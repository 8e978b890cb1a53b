package router_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/enmasse-go/enmasse/internal/amqp/message"
	"github.com/enmasse-go/enmasse/internal/amqp/sasl"
	"github.com/enmasse-go/enmasse/internal/amqp/transport"
	"github.com/enmasse-go/enmasse/internal/amqp/types"
	"github.com/enmasse-go/enmasse/internal/broker"
	"github.com/enmasse-go/enmasse/internal/router"
)

// TestCapabilityMQTTTopics: a connection that desires enmasse:mqtt-topics
// auto-creates the first level of an unknown name as a topic, on attach
// and through the anonymous relay; other connections still get queues.
func TestCapabilityMQTTTopics(t *testing.T) {
	created := make(chan string, 10)
	r := router.New(router.Options{Broker: broker.New(broker.Options{}), OnAutoCreate: func(space, address string, typ router.Type) {
		created <- address + "=" + string(typ)
	}})
	r.SetSpace(router.SpaceConfig{Name: "default", AutoCreate: true})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := transport.NewServer(ln, transport.Options{Handler: r, OnOpen: r.OnOpen, AllowNoSASL: true,
		Authenticator: sasl.NewAuthenticator(sasl.Config{AllowAnonymous: true})})
	go srv.Serve(context.Background())
	t.Cleanup(func() { srv.Shutdown(context.Background()) })
	ctx := ctxT(t, 10*time.Second)
	s := transportSession(t, ctx, ln.Addr().String(), transport.Options{DesiredCapabilities: []types.Symbol{router.CapabilityMQTTTopics}})
	if _, err := s.NewReceiver(ctx, "sensors/+/temp", transport.ReceiverOptions{Credit: 10}); err != nil {
		t.Fatalf("receiver below an unknown root: %v", err)
	}
	if got := <-created; got != "sensors=topic" {
		t.Fatalf("created %s, want sensors=topic", got)
	}
	snd, err := s.NewSender(ctx, "", transport.SenderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := (&message.Message{Properties: &message.Properties{To: "alarms/fire"}, Data: [][]byte{[]byte("x")}}).Marshal(nil)
	d, err := snd.SendAsync(ctx, body, transport.SendOptions{})
	if err != nil {
		t.Fatal(err)
	}
	<-d.Done()
	if got := <-created; got != "alarms=topic" {
		t.Fatalf("created %s, want alarms=topic", got)
	}
	// Without the capability: a queue named as the link.
	q := dial(t, ln.Addr().String(), "")
	if _, err := q.NewReceiver(ctxT(t, 5*time.Second), "orders", nil); err != nil {
		t.Fatal(err)
	}
	if got := <-created; got != "orders=queue" {
		t.Fatalf("created %s, want orders=queue", got)
	}
}
