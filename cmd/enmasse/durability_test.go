package main

import (
	"bufio"
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/enmasse-go/enmasse/internal/amqp/frames"
	"github.com/enmasse-go/enmasse/internal/amqp/message"
	"github.com/enmasse-go/enmasse/internal/amqp/sasl"
	"github.com/enmasse-go/enmasse/internal/amqp/transport"
)

// startServe runs `enmasse serve` on a random AMQP port over dataDir and
// returns the process and the AMQP address.
func startServe(t *testing.T, bin, dataDir string) (*exec.Cmd, string) {
	t.Helper()
	return startServeOn(t, bin, dataDir, "amqp", "--mqtt", "")
}

// startServeOn runs `enmasse serve` over dataDir with a random AMQP port,
// no HTTP listener and the extra flags, and returns the process and the
// address it reports for listener proto ("amqp", "mqtt").
func startServeOn(t *testing.T, bin, dataDir, proto string, extra ...string) (*exec.Cmd, string) {
	t.Helper()
	args := append([]string{"serve", "--amqp", "127.0.0.1:0", "--http", "", "--data-dir", dataDir}, extra...)
	cmd := exec.Command(bin, args...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	re := regexp.MustCompile(`proto=` + proto + ` addr=(\S+)`)
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
			}
		}
	}()
	select {
	case addr := <-found:
		return cmd, addr
	case <-time.After(20 * time.Second):
		t.Fatalf("serve did not report its %s address", proto)
		return nil, ""
	}
}

func dialSession(t *testing.T, addr string) (*transport.Conn, *transport.Session) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := transport.Dial(ctx, addr, transport.Options{SASL: sasl.NewAnonymousClient("")})
	if err != nil {
		t.Fatal(err)
	}
	s, err := c.NewSession(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return c, s
}

// TestDurableMessagesSurviveKill9 sends durable messages from several
// producers, records every one the broker accepted, kills the server with
// SIGKILL while producers are still sending, restarts it over the same data
// dir and checks that every accepted message is delivered.
func TestDurableMessagesSurviveKill9(t *testing.T) {
	bin := buildBinary(t)
	dataDir := t.TempDir()
	cmd, addr := startServe(t, bin, dataDir)

	var mu sync.Mutex
	accepted := map[string]bool{}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for p := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, s := dialSession(t, addr)
			snd, err := s.NewSender(ctx, "orders", transport.SenderOptions{})
			if err != nil {
				return
			}
			for i := 0; ctx.Err() == nil; i++ {
				body := fmt.Sprintf("p%d-m%d", p, i)
				m := message.Message{Header: &message.Header{Durable: true, Priority: 4}, Data: [][]byte{[]byte(body)}}
				payload, _ := m.Marshal(nil)
				st, err := snd.Send(ctx, payload, transport.SendOptions{})
				if err != nil {
					return // the server died
				}
				if _, ok := st.(frames.Accepted); ok {
					mu.Lock()
					accepted[body] = true
					mu.Unlock()
				}
			}
		}()
	}
	// Let a few hundred messages be accepted, then kill -9 mid-stream.
	deadline := time.Now().Add(20 * time.Second)
	for {
		mu.Lock()
		n := len(accepted)
		mu.Unlock()
		if n >= 300 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	cancel()
	wg.Wait()
	mu.Lock()
	want := len(accepted)
	mu.Unlock()
	if want < 300 {
		t.Fatalf("only %d messages accepted before the kill", want)
	}

	_, addr = startServe(t, bin, dataDir)
	_, s := dialSession(t, addr)
	rctx, rcancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer rcancel()
	rcv, err := s.NewReceiver(rctx, "orders", transport.ReceiverOptions{Credit: 500})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for {
		qctx, qcancel := context.WithTimeout(rctx, 2*time.Second)
		d, err := rcv.Receive(qctx)
		qcancel()
		if err != nil {
			break // drained
		}
		m, err := message.Unmarshal(d.Payload())
		if err != nil {
			t.Fatal(err)
		}
		got[string(m.Data[0])] = true
		rcv.Accept(d)
	}
	missing := 0
	for body := range accepted {
		if !got[body] {
			missing++
		}
	}
	if missing > 0 {
		t.Fatalf("%d of %d accepted messages lost after kill -9 (received %d)", missing, want, len(got))
	}
	t.Logf("%d accepted before kill -9, all delivered after restart (%d received in all)", want, len(got))
}
