package transport

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/enmasse-go/enmasse/internal/amqp/frames"
	"github.com/enmasse-go/enmasse/internal/amqp/sasl"
)

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func dialTest(t testing.TB, addr string, opts Options) (*Conn, *Session) {
	t.Helper()
	c, err := Dial(ctxT(t), addr, opts)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.Close(context.Background(), nil) })
	s, err := c.NewSession(ctxT(t))
	if err != nil {
		t.Fatalf("session: %v", err)
	}
	return c, s
}

func TestAMQPTransportSendReceiveOwnClient(t *testing.T) {
	node := newTestNode()
	addr := serveTest(t, Options{Handler: node})
	_, s := dialTest(t, addr, Options{})
	ctx := ctxT(t)
	snd, err := s.NewSender(ctx, "q1", SenderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rcv, err := s.NewReceiver(ctx, "q1", ReceiverOptions{Credit: 10})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		payload := []byte{0x00, 0x53, 0x77, 0xa1, 1, byte('a' + i)}
		errc := make(chan error, 1)
		go func() {
			st, err := snd.Send(ctx, payload, SendOptions{})
			if err == nil {
				if _, ok := st.(frames.Accepted); !ok {
					err = &frames.Error{Condition: "unexpected", Description: st.String()}
				}
			}
			errc <- err
		}()
		d, err := rcv.Receive(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(d.Payload(), payload) {
			t.Fatalf("got %x want %x", d.Payload(), payload)
		}
		rcv.Accept(d)
		if err := <-errc; err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
}

func TestAMQPTransportLargeMessage(t *testing.T) {
	node := newTestNode()
	addr := serveTest(t, Options{Handler: node})
	_, s := dialTest(t, addr, Options{MaxFrameSize: 65536})
	ctx := ctxT(t)
	snd, err := s.NewSender(ctx, "big", SenderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rcv, err := s.NewReceiver(ctx, "big", ReceiverOptions{Credit: 1})
	if err != nil {
		t.Fatal(err)
	}
	payload := bytes.Repeat([]byte("0123456789abcdef"), 10<<20/16)
	errc := make(chan error, 1)
	go func() { _, err := snd.Send(ctx, payload, SendOptions{}); errc <- err }()
	d, err := rcv.Receive(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(d.Payload(), payload) {
		t.Fatalf("payload of %d bytes differs", len(d.Payload()))
	}
	rcv.Accept(d)
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

// TestAMQPTransportSASLOwnClient runs each SASL mechanism of our client
// against our server, SCRAM-SHA-256 and SCRAM-SHA-512 included (neither
// go-amqp nor proton's built-in SASL speaks SCRAM): the identity both sides
// record, a message round trip, and for the password mechanisms a wrong
// password and an unknown user, which fail with the auth outcome before any
// connection opens.
func TestAMQPTransportSASLOwnClient(t *testing.T) {
	auth := sasl.NewAuthenticator(sasl.Config{Users: plainUsers(t), AllowAnonymous: true, AllowPlainWithoutTLS: true})
	addr, conns := serveCapture(t, Options{Handler: newTestNode(), Authenticator: auth})
	scram := func(mech, user, pass string) func() sasl.ClientMech {
		return func() sasl.ClientMech {
			m, err := sasl.NewScramClient(mech, user, pass)
			if err != nil {
				t.Fatal(err)
			}
			return m
		}
	}
	plain := func(user, pass string) func() sasl.ClientMech {
		return func() sasl.ClientMech { return sasl.NewPlainClient("", user, pass) }
	}
	for _, tc := range []struct {
		mech string
		good func() sasl.ClientMech
		bad  []func() sasl.ClientMech // wrong password, unknown user
	}{
		{sasl.Plain, plain("alice", "s3cret"), []func() sasl.ClientMech{plain("alice", "S3cret"), plain("bob", "s3cret")}},
		{sasl.ScramSHA256, scram(sasl.ScramSHA256, "alice", "s3cret"), []func() sasl.ClientMech{scram(sasl.ScramSHA256, "alice", "s3cret!"), scram(sasl.ScramSHA256, "bob", "s3cret")}},
		{sasl.ScramSHA512, scram(sasl.ScramSHA512, "alice", "s3cret"), []func() sasl.ClientMech{scram(sasl.ScramSHA512, "alice", "x"), scram(sasl.ScramSHA512, "bob", "s3cret")}},
		{sasl.Anonymous, func() sasl.ClientMech { return sasl.NewAnonymousClient("trace@example.com") }, nil},
	} {
		t.Run(tc.mech, func(t *testing.T) {
			c, s := dialTest(t, addr, Options{SASL: tc.good()})
			if id := c.Identity(); id.Mechanism != tc.mech {
				t.Fatalf("client identity %+v, want mechanism %s", id, tc.mech)
			}
			sc := nextConn(t, conns)
			wantUser := "alice"
			if tc.mech == sasl.Anonymous {
				wantUser = ""
			}
			if id := sc.Identity(); id.Mechanism != tc.mech || id.User != wantUser || id.Anonymous != (tc.mech == sasl.Anonymous) {
				t.Fatalf("server identity %+v, want %q via %s", id, wantUser, tc.mech)
			}
			ctx := ctxT(t)
			snd, err := s.NewSender(ctx, "sasl-"+tc.mech, SenderOptions{})
			if err != nil {
				t.Fatal(err)
			}
			rcv, err := s.NewReceiver(ctx, "sasl-"+tc.mech, ReceiverOptions{Credit: 1})
			if err != nil {
				t.Fatal(err)
			}
			payload := []byte{0x00, 0x53, 0x77, 0xa1, 3, 'a', 'b', 'c'}
			errc := make(chan error, 1)
			go func() { _, err := snd.Send(ctx, payload, SendOptions{}); errc <- err }()
			d, err := rcv.Receive(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(d.Payload(), payload) {
				t.Fatalf("got %x", d.Payload())
			}
			rcv.Accept(d)
			if err := <-errc; err != nil {
				t.Fatal(err)
			}
			for i, bad := range tc.bad {
				c, err := Dial(ctx, addr, Options{SASL: bad()})
				if err == nil {
					c.Close(ctx, nil)
					t.Fatalf("bad credentials %d accepted", i)
				}
				var se *SASLError
				if !errors.As(err, &se) || se.Code != sasl.CodeAuth {
					t.Fatalf("bad credentials %d: %v, want a SASL auth failure", i, err)
				}
				select {
				case c := <-conns:
					t.Fatalf("connection %v opened despite failed SASL", c.RemoteAddr())
				case <-time.After(20 * time.Millisecond):
				}
			}
		})
	}
}

// A sender with its own target still defaults to mixed settlement, so a
// pre-settled send stays pre-settled; SettleMode forces a mode.
func TestAMQPTransportSenderSettleModeDefault(t *testing.T) {
	addr := serveTest(t, Options{Handler: newTestNode()})
	_, s := dialTest(t, addr, Options{})
	ctx := ctxT(t)
	snd, err := s.NewSender(ctx, "q", SenderOptions{Target: &frames.Target{Address: "q", Durable: frames.DurableUnsettled}})
	if err != nil {
		t.Fatal(err)
	}
	if m := snd.Link().SenderSettleMode(); m != frames.SndMixed {
		t.Fatalf("settle mode %d, want mixed", m)
	}
	unsettled := frames.SndUnsettled
	snd2, err := s.NewSender(ctx, "q", SenderOptions{SettleMode: &unsettled})
	if err != nil {
		t.Fatal(err)
	}
	if m := snd2.Link().SenderSettleMode(); m != frames.SndUnsettled {
		t.Fatalf("settle mode %d, want unsettled", m)
	}
}
