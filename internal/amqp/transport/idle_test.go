package transport

import (
	"context"
	"errors"
	"net"
	"os"
	"testing"
	"testing/synctest"
	"time"

	"github.com/enmasse-go/enmasse/internal/amqp/amqptest"
	"github.com/enmasse-go/enmasse/internal/amqp/frames"
)

// Timer behaviour runs inside testing/synctest bubbles over net.Pipe: time
// is fake and advances only when every goroutine of the bubble is blocked,
// so a minute of idle timeout takes microseconds and the intervals below are
// exact.

// synctestOpen accepts a connection inside the current bubble and runs the
// client handshake with open; it returns the peer and the engine's Conn.
func synctestOpen(t *testing.T, opts Options, open *frames.Open) (*amqptest.Peer, *Conn) {
	t.Helper()
	srv, cli := net.Pipe()
	res := make(chan acceptResult, 1)
	go func() {
		c, err := Accept(context.Background(), srv, opts)
		res <- acceptResult{c, err}
	}()
	p := amqptest.NewPeer(t, cli, amqptest.Timeout(10*time.Minute))
	amqptest.Handshake(t, p, open)
	r := <-res
	if r.err != nil {
		t.Fatal(r.err)
	}
	return p, r.c
}

func idleOpen(idle time.Duration) *frames.Open {
	return &frames.Open{ContainerID: "idle-peer", MaxFrameSize: frames.DefaultMaxFrameSize,
		ChannelMax: frames.DefaultChannelMax, IdleTimeout: uint32(idle / time.Millisecond)}
}

// closeFromPeer closes the connection from the peer's side and waits until
// the engine has ended it.
func closeFromPeer(t *testing.T, p *amqptest.Peer, c *Conn) {
	t.Helper()
	p.Send(0, &frames.Close{})
	got, err := amqptest.WaitClosed(t, p)
	if !amqptest.IsClosed(err) {
		t.Fatalf("not closed: %v", err)
	}
	if len(got) == 0 {
		t.Fatal("close not answered")
	}
	if cl, ok := got[len(got)-1].(*frames.Close); !ok || cl.Error != nil {
		t.Fatalf("close answered with %v", got)
	}
	<-c.Done()
}

func TestAMQPTransportIdleHeartbeats(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// The peer wants a frame at least every 10 s; we wait 60 s
		// for it. AMQP 1.0 §2.4.5: send at half the peer's timeout.
		p, c := synctestOpen(t, Options{Handler: newTestNode(), IdleTimeout: time.Minute}, idleOpen(10*time.Second))
		start := time.Now()
		last := start
		for i := range 10 {
			_, body, err := p.Next()
			if err != nil {
				t.Fatalf("heartbeat %d: %v", i, err)
			}
			if body != nil {
				t.Fatalf("heartbeat %d: got %v", i, body)
			}
			now := time.Now()
			if gap := now.Sub(last); gap > 5*time.Second || gap < 4*time.Second {
				t.Fatalf("heartbeat %d came %v after the previous frame, want every 5 s", i, gap)
			}
			last = now
		}
		if err := c.Err(); err != nil {
			t.Fatalf("connection ended after %v: %v", time.Since(start), err)
		}
		closeFromPeer(t, p, c)
	})
}

func TestAMQPTransportIdleTimeoutCloses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// The peer announces no idle timeout, so the engine sends no
		// heartbeats, and then stays silent.
		p, c := synctestOpen(t, Options{Handler: newTestNode(), IdleTimeout: 30 * time.Second}, idleOpen(0))
		start := time.Now()
		cl := amqptest.Expect[*frames.Close](t, p)
		if d := time.Since(start); d != 30*time.Second {
			t.Errorf("closed after %v, want 30 s", d)
		}
		if cl.Error == nil || cl.Error.Condition != frames.ErrResourceLimitExceeded {
			t.Fatalf("close %v, want %s", cl, frames.ErrResourceLimitExceeded)
		}
		// The peer does not answer; the engine hangs up by itself.
		if _, err := amqptest.WaitClosed(t, p); !amqptest.IsClosed(err) {
			t.Fatalf("not closed: %v", err)
		}
		<-c.Done()
		if err := c.Err(); !errors.Is(err, ErrIdleTimeout) {
			t.Fatalf("Conn.Err() = %v, want ErrIdleTimeout", err)
		}
		if d := time.Since(start); d > 32*time.Second {
			t.Errorf("connection ended %v after it went idle", d)
		}
	})
}

func TestAMQPTransportIdleKeptAliveByHeartbeats(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p, c := synctestOpen(t, Options{Handler: newTestNode(), IdleTimeout: 30 * time.Second}, idleOpen(0))
		// Heartbeats every 10 s keep the connection open well past
		// the 30 s idle timeout.
		start := time.Now()
		for range 13 {
			time.Sleep(10 * time.Second)
			if err := p.Heartbeat(); err != nil {
				t.Fatalf("heartbeat after %v: %v", time.Since(start), err)
			}
		}
		synctest.Wait()
		if err := c.Err(); err != nil {
			t.Fatalf("connection ended: %v", err)
		}
		// Nothing but (possibly) heartbeats arrived meanwhile; the
		// session still works.
		amqptest.BeginSession(t, p, 0, nil)
		closeFromPeer(t, p, c)
		if err := c.Err(); !errors.Is(err, ErrConnClosed) {
			t.Fatalf("Conn.Err() = %v, want ErrConnClosed", err)
		}
	})
}

func TestAMQPTransportHandshakeTimeout(t *testing.T) {
	tests := map[string]func(t *testing.T, p *amqptest.Peer){
		"silent client": func(t *testing.T, p *amqptest.Peer) {},
		"header, then silence": func(t *testing.T, p *amqptest.Peer) {
			p.WriteHeader(frames.ProtoAMQP)
		},
		// The deadline covers the whole handshake: a client that
		// trickles a byte a second never gets past it.
		"trickling client": func(t *testing.T, p *amqptest.Peer) {
			h := frames.ProtoHeader(frames.ProtoAMQP)
			b := frames.AppendFrame(h[:], frames.TypeAMQP, 0, &frames.Open{ContainerID: "slow"})
			for _, c := range b {
				if p.Write([]byte{c}) != nil {
					return
				}
				time.Sleep(time.Second)
			}
		},
	}
	for name, script := range tests {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				srv, cli := net.Pipe()
				p := amqptest.NewPeer(t, cli, amqptest.Timeout(time.Minute))
				start := time.Now()
				res := make(chan acceptResult, 1)
				var took time.Duration
				go func() {
					c, err := Accept(context.Background(), srv, Options{Handler: newTestNode(), HandshakeTimeout: 10 * time.Second})
					took = time.Since(start)
					res <- acceptResult{c, err}
				}()
				script(t, p)
				r := <-res
				if r.c != nil || !errors.Is(r.err, os.ErrDeadlineExceeded) {
					t.Fatalf("Accept = %v, %v; want a deadline error", r.c, r.err)
				}
				if d := took; d != 10*time.Second {
					t.Errorf("Accept gave up after %v, want 10 s", d)
				}
				if _, err := amqptest.WaitClosed(t, p); !amqptest.IsClosed(err) {
					t.Fatalf("not closed: %v", err)
				}
			})
		})
	}
}
