package transport

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/enmasse-go/enmasse/internal/amqp/sasl"
)

// TestAfterClose: a function registered with AfterClose runs once the
// connection ends, not before; one registered afterwards runs at once.
func TestAfterClose(t *testing.T) {
	s, c := net.Pipe()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	go Accept(ctx, s, anonymousServer())
	conn, err := NewClientConn(ctx, c, Options{SASL: sasl.NewAnonymousClient("")})
	if err != nil {
		t.Fatal(err)
	}
	ran := make(chan error, 2)
	conn.AfterClose(func() { ran <- conn.Err() })
	select {
	case <-ran:
		t.Fatal("ran while the connection is open")
	case <-time.After(50 * time.Millisecond):
	}
	s.Close() // the server side goes away
	select {
	case err := <-ran:
		if err == nil {
			t.Fatal("ran before the connection had ended")
		}
	case <-ctx.Done():
		t.Fatal("did not run after the connection ended")
	}
	conn.AfterClose(func() { ran <- nil })
	select {
	case <-ran:
	case <-ctx.Done():
		t.Fatal("registered after the end: did not run")
	}
}
