package main

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
)

// startServeMQTT runs `enmasse serve` with only the MQTT listener (and the
// AMQP one it needs internally on a random port) and returns the process
// and the MQTT address.
func startServeMQTT(t *testing.T, bin, dataDir string) (*exec.Cmd, string) {
	t.Helper()
	return startServeOn(t, bin, dataDir, "mqtt", "--mqtt", "127.0.0.1:0")
}

func pahoDial(ctx context.Context, addr, id string, onMsg func(*paho.Publish)) (*paho.Client, error) {
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	cfg := paho.ClientConfig{Conn: nc}
	if onMsg != nil {
		cfg.OnPublishReceived = []func(paho.PublishReceived) (bool, error){func(pr paho.PublishReceived) (bool, error) {
			onMsg(pr.Packet)
			return true, nil
		}}
	}
	c := paho.NewClient(cfg)
	if _, err := c.Connect(ctx, &paho.Connect{ClientID: id, KeepAlive: 30, CleanStart: true}); err != nil {
		nc.Close()
		return nil, err
	}
	return c, nil
}

// TestRetainedSurvivesKill9 publishes retained QoS 1 messages to ten
// topics, records the last one the server acknowledged (PUBACK) per topic,
// kills the server with SIGKILL mid-stream, restarts it over the same data
// dir and checks that each topic's retained message is the acknowledged one
// or a later one.
func TestRetainedSurvivesKill9(t *testing.T) {
	bin := buildBinary(t)
	dataDir := t.TempDir()
	cmd, addr := startServeMQTT(t, bin, dataDir)

	const topics = 10
	var mu sync.Mutex
	acked := map[string]int{} // topic → highest acknowledged sequence
	total := 0
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := pahoDial(ctx, addr, "retainer", nil)
		if err != nil {
			return
		}
		for i := 0; ctx.Err() == nil; i++ {
			topic := fmt.Sprintf("kill/t%d", i%topics)
			resp, err := c.Publish(ctx, &paho.Publish{Topic: topic, QoS: 1, Retain: true, Payload: []byte(strconv.Itoa(i))})
			if err != nil {
				return // the server died
			}
			if resp.ReasonCode == 0 {
				mu.Lock()
				acked[topic] = i
				total++
				mu.Unlock()
			}
		}
	}()
	deadline := time.Now().Add(20 * time.Second)
	for {
		mu.Lock()
		n := total
		mu.Unlock()
		if n >= 200 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	cancel()
	<-done
	mu.Lock()
	defer mu.Unlock()
	if total < 200 || len(acked) != topics {
		t.Fatalf("only %d retained publications acknowledged before the kill", total)
	}

	_, addr = startServeMQTT(t, bin, dataDir)
	got := make(chan *paho.Publish, 100)
	rctx, rcancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer rcancel()
	c, err := pahoDial(rctx, addr, "reader", func(p *paho.Publish) { got <- p })
	if err != nil {
		t.Fatal(err)
	}
	defer c.Disconnect(&paho.Disconnect{})
	if _, err := c.Subscribe(rctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "kill/#", QoS: 1}}}); err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for len(seen) < topics {
		select {
		case p := <-got:
			if !p.Retain || !strings.HasPrefix(p.Topic, "kill/t") {
				t.Fatalf("unexpected %s %q retain=%v", p.Topic, p.Payload, p.Retain)
			}
			if _, dup := seen[p.Topic]; dup {
				t.Fatalf("two retained messages for %s", p.Topic)
			}
			n, _ := strconv.Atoi(string(p.Payload))
			seen[p.Topic] = n
		case <-rctx.Done():
			t.Fatalf("after restart only %d of %d retained messages: %v", len(seen), topics, seen)
		}
	}
	for topic, want := range acked {
		if seen[topic] < want {
			t.Fatalf("%s: retained %d after kill -9, but %d was acknowledged", topic, seen[topic], want)
		}
	}
	t.Logf("%d retained publications acknowledged before kill -9; the last of each topic (or a later one) survived", total)
}
