package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/enmasse-go/enmasse/internal/amqp/sasl"
	"github.com/enmasse-go/enmasse/internal/amqp/transport"
	"github.com/enmasse-go/enmasse/internal/mqtt/packets"
)

// rssKiB reads a process's resident set size.
func rssKiB(t *testing.T, pid int) int {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			n, _ := strconv.Atoi(strings.Fields(v)[0])
			return n
		}
	}
	t.Fatal("no VmRSS")
	return 0
}

// TestIdleConnectionsMemory opens idle AMQP and MQTT connections to a real
// `enmasse serve` and reports the server's resident memory per connection.
// CI opens 500 of each; ENMASSE_IDLE_CONNS=10000 measures the benchmark
// figure (the process needs that many file descriptors).
func TestIdleConnectionsMemory(t *testing.T) {
	n := 500
	if v, err := strconv.Atoi(os.Getenv("ENMASSE_IDLE_CONNS")); err == nil && v > 0 {
		n = v
	}
	bin := buildBinary(t)
	// A fresh server per protocol, so each has the file descriptors for
	// n connections and its own baseline.
	start := func() (pid int, amqpAddr, mqttAddr string) {
		cmd := exec.Command(bin, "serve", "--amqp", "127.0.0.1:0", "--mqtt", "127.0.0.1:0", "--http", "", "--data-dir", t.TempDir())
		var logs syncBuffer
		cmd.Stderr = &logs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if l := logs.String(); strings.Contains(l, "msg=ready") {
				time.Sleep(200 * time.Millisecond) // let start-up garbage settle before the baseline
				return cmd.Process.Pid, findAddr(l, "amqp"), findAddr(l, "mqtt")
			}
		}
		t.Fatalf("serve did not start:\n%s", logs.String())
		return 0, "", ""
	}
	pid, amqpAddr, _ := start()
	base := rssKiB(t, pid)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var amqpConns []*transport.Conn
	for i := range n {
		c, err := transport.Dial(ctx, amqpAddr, transport.Options{SASL: sasl.NewAnonymousClient(""), IdleTimeout: -1})
		if err != nil {
			t.Fatalf("AMQP connection %d: %v", i, err)
		}
		amqpConns = append(amqpConns, c)
	}
	defer func() {
		for _, c := range amqpConns {
			c.Close(context.Background(), nil)
		}
	}()
	time.Sleep(200 * time.Millisecond)
	afterAMQP := rssKiB(t, pid)
	for _, c := range amqpConns { // this process needs the descriptors back
		c.Close(context.Background(), nil)
	}
	amqpConns = nil
	pid, _, mqttAddr := start()
	baseMQTT := rssKiB(t, pid)

	var mqttConns []net.Conn
	defer func() {
		for _, c := range mqttConns {
			c.Close()
		}
	}()
	for i := range n {
		c, err := net.Dial("tcp", mqttAddr)
		if err != nil {
			t.Fatalf("MQTT connection %d: %v", i, err)
		}
		mqttConns = append(mqttConns, c)
		p := &packets.Connect{ProtocolVersion: 4, CleanStart: true, KeepAlive: 0, ClientID: fmt.Sprintf("idle-%d", i)}
		if _, err := packets.WriteTo(c, p, 4); err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(20 * time.Second))
		rd := packets.NewReader(c, 1<<16)
		rd.Version = 4 // a client reads the server's packets at its own version
		pk, err := rd.ReadPacket()
		if err != nil {
			t.Fatalf("MQTT connection %d: CONNACK: %v", i, err)
		}
		if ack, ok := pk.(*packets.Connack); !ok || ack.ReasonCode != 0 {
			t.Fatalf("MQTT connection %d: %v", i, pk)
		}
	}
	time.Sleep(200 * time.Millisecond)
	afterMQTT := rssKiB(t, pid)

	perAMQP := float64(afterAMQP-base) / float64(n)
	perMQTT := float64(afterMQTT-baseMQTT) / float64(n)
	t.Logf("%d idle AMQP connections: +%d KiB (%.1f KiB each, server RSS %d MiB); %d idle MQTT connections: +%d KiB (%.1f KiB each, server RSS %d MiB)",
		n, afterAMQP-base, perAMQP, afterAMQP/1024, n, afterMQTT-baseMQTT, perMQTT, afterMQTT/1024)
	// EnMasse's sizing rule for Dispatch was ~120 kB per connection; an
	// idle connection here must cost well under that. 2026-11-26: about
	// 15 KiB (AMQP) and 0.6-0.8 KiB (MQTT) at 10,000, 17 and 5 KiB at 500
	// (below the thousand frozen connections after which serve returns
	// the connection storm's memory to the OS, so the heap's growth
	// dominates); the limits leave room for noise. The MQTT one fails a
	// lost idle release (45 KiB; 65 before the lazy read buffers and ack
	// queue); a lost parking or freezing may pass it, and fails
	// TestParkedConnectionsHaveNoGoroutine instead.
	if perAMQP > 32 || perMQTT > 12 {
		t.Fatalf("idle connections cost %.1f KiB (AMQP) and %.1f KiB (MQTT) each", perAMQP, perMQTT)
	}
}
