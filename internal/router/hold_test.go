package router_test

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/enmasse-go/enmasse/internal/amqp/frames"
	"github.com/enmasse-go/enmasse/internal/amqp/sasl"
	"github.com/enmasse-go/enmasse/internal/amqp/transport"
	"github.com/enmasse-go/enmasse/internal/broker"
	"github.com/enmasse-go/enmasse/internal/router"
)

// TestRouterHoldKeepsConnectionCounted: a hold taken on a connection
// keeps its place under maxConnections after it closes, until released;
// a closed connection cannot be held.
func TestRouterHoldKeepsConnectionCounted(t *testing.T) {
	r := router.New(router.Options{Broker: broker.New(broker.Options{})})
	r.SetSpace(router.SpaceConfig{Name: "default", Limits: router.Limits{MaxConnections: 1, MaxConnectionsPerHost: 1}})
	opts := transport.Options{Handler: r, OnOpen: r.OnOpen,
		Authenticator: sasl.NewAuthenticator(sasl.Config{AllowAnonymous: true})}
	// open returns the server side of a new connection, or the client's
	// error (the refusal arrives with the client's first session).
	open := func() (*transport.Conn, error) {
		s, c := net.Pipe()
		srv := make(chan *transport.Conn, 1)
		srvErr := make(chan error, 1)
		go func() {
			sc, err := transport.Accept(context.Background(), s, opts)
			srv <- sc
			srvErr <- err
		}()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		cc, err := transport.NewClientConn(ctx, c, transport.Options{SASL: sasl.NewAnonymousClient("")})
		if err == nil {
			_, err = cc.NewSession(ctx)
		}
		sc := <-srv
		if serr := <-srvErr; serr != nil {
			// The server's refusal; the client may have seen the pipe
			// close first.
			c.Close()
			return nil, serr
		}
		if err != nil {
			c.Close()
			return nil, err
		}
		t.Cleanup(func() { cc.Close(context.Background(), nil) })
		return sc, nil
	}
	limited := func(err error) bool {
		var fe *frames.Error
		return errors.As(err, &fe) && fe.Condition == frames.ErrResourceLimitExceeded
	}
	a, err := open()
	if err != nil {
		t.Fatal(err)
	}
	adm, ok := r.Hold(a)
	if !ok {
		t.Fatal("Hold of an open connection: not ok")
	}
	// AfterClose, not Done: Done is closed before the router's OnClose
	// has run, and the count the connection gives back must be given.
	closed := make(chan struct{})
	a.AfterClose(func() { close(closed) })
	a.Close(context.Background(), nil)
	<-closed
	if _, err := open(); !limited(err) {
		t.Fatalf("connection while the hold lasts: %v, want resource-limit-exceeded", err)
	}
	adm.Release()
	adm.Release() // a second call does nothing
	if _, err := open(); err != nil {
		t.Fatalf("connection after release: %v", err)
	}
	if _, ok := r.Hold(a); ok {
		t.Fatal("Hold of a closed connection: ok")
	}
}

// TestRouterAdmit: Admit counts a connection without one, under the same
// limits as OnOpen, in the space the user's name places it in.
func TestRouterAdmit(t *testing.T) {
	r := router.New(router.Options{Broker: broker.New(broker.Options{})})
	r.SetSpace(router.SpaceConfig{Name: "s", Limits: router.Limits{MaxConnectionsPerUser: 1}})
	r.SetSpace(router.SpaceConfig{Name: "default", Limits: router.Limits{MaxConnections: 1}})
	remote := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1}
	limited := func(err error) bool {
		var fe *frames.Error
		return errors.As(err, &fe) && fe.Condition == frames.ErrResourceLimitExceeded
	}
	alice := sasl.Identity{User: "alice@s", Mechanism: sasl.Plain}
	adm, err := r.Admit(alice, remote)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Admit(alice, remote); !limited(err) {
		t.Fatalf("alice's second admission: %v, want resource-limit-exceeded", err)
	}
	if rb, err := r.Admit(sasl.Identity{User: "bob@s"}, remote); err != nil {
		t.Fatalf("bob next to alice: %v", err)
	} else {
		rb.Release()
	}
	adm.Release()
	adm.Release()
	if ra, err := r.Admit(alice, remote); err != nil {
		t.Fatalf("alice after release: %v", err)
	} else {
		ra.Release()
	}
	// Anonymous goes to the default space, which takes one connection.
	anon := sasl.Identity{Anonymous: true, Mechanism: sasl.Anonymous}
	ra, err := r.Admit(anon, remote)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Admit(anon, remote); !limited(err) {
		t.Fatalf("second anonymous admission: %v, want resource-limit-exceeded", err)
	}
	ra.Release()
	r.DeleteSpace("default")
	var fe *frames.Error
	if _, err := r.Admit(anon, remote); !errors.As(err, &fe) || fe.Condition != frames.ErrNotFound {
		t.Fatalf("no default space: %v, want amqp:not-found", err)
	}
}
