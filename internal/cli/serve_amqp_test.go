package cli

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/enmasse-go/enmasse/internal/amqp/frames"
	"github.com/enmasse-go/enmasse/internal/amqp/sasl"
	"github.com/enmasse-go/enmasse/internal/amqp/transport"
)

func TestServeAMQPShutdownClosesClientsForced(t *testing.T) {
	s := startServe(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := transport.Dial(ctx, s.addrs["amqp"].String(), transport.Options{SASL: sasl.NewAnonymousClient("")})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.stop(t); err != nil {
		t.Fatalf("serve: %v", err)
	}
	select {
	case <-c.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("client connection still open after serve stopped")
	}
	var re *transport.RemoteError
	if !errors.As(c.Err(), &re) || re.Err.Condition != frames.ErrConnectionForced {
		t.Fatalf("client saw %v, want close with amqp:connection:forced", c.Err())
	}
}

func TestServeAMQPRefusesSASLWhenAnonymousOff(t *testing.T) {
	s := startServe(t, "--allow-anonymous=false")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := transport.Dial(ctx, s.addrs["amqp"].String(), transport.Options{SASL: sasl.NewAnonymousClient("")})
	if err == nil {
		t.Fatal("anonymous client accepted with --allow-anonymous=false")
	}
}
