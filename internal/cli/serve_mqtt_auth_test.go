package cli

import (
	"context"
	"errors"
	"net"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestServeMQTTLoginBackoff: failed MQTT logins (mosquitto_pub and paho
// with a wrong password) are refused with "bad user name or password",
// written as audit lines with protocol=mqtt, and slowed down per source
// address through the same backoff as AMQP and HTTP; other addresses are
// not slowed and a success resets the count.
func TestServeMQTTLoginBackoff(t *testing.T) {
	pubBin, err := exec.LookPath("mosquitto_pub")
	if err != nil {
		t.Skip("mosquitto_pub not installed (Debian package mosquitto-clients)")
	}
	srv := startServe(t, "--allow-anonymous=false", "--config", mqttUsersConfig(t))
	addr := srv.addrs["mqtt"].String()
	_, port, _ := net.SplitHostPort(addr)
	for _, tc := range []struct {
		version, want string
		code          int
	}{
		// mosquitto_pub exits with the CONNACK return code (3.1.1: 4) or
		// reason code (5.0: 0x86).
		{"mqttv311", "Connection error: Connection Refused: bad user name or password.\nError: The connection was refused.", 4},
		{"mqttv5", "Connection error: Bad User Name or Password\nError: A network protocol error occurred when communicating with the broker.", 134},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		out, err := exec.CommandContext(ctx, pubBin, "-V", tc.version, "-A", "127.0.0.5", "-h", "127.0.0.1", "-p", port,
			"-u", "alice", "-P", "wrong", "-t", "alice/x", "-m", "hi").CombinedOutput()
		cancel()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != tc.code || strings.TrimSpace(string(out)) != tc.want {
			t.Fatalf("mosquitto_pub %s wrong password: %v %q, want exit %d printing %q", tc.version, err, out, tc.code, tc.want)
		}
	}
	// The third failure from 127.0.0.5 waits 400 ms.
	start := time.Now()
	if _, rc, _ := pahoOver(t, dialTCPFrom(t, addr, 5), withUser("alice", "wrong")); rc != 0x86 {
		t.Fatalf("paho wrong password: reason %#x, want 0x86", rc)
	}
	if d := time.Since(start); d < 400*time.Millisecond {
		t.Fatalf("third failure from one address answered after %v, want at least 400ms", d)
	}
	// Another address is not slowed down, and right passwords work.
	if _, rc, _ := pahoOver(t, dialTCPFrom(t, addr, 6), withUser("alice", "wrong")); rc != 0x86 {
		t.Fatalf("paho wrong password from .6: reason %#x", rc)
	}
	if _, rc, err := pahoOver(t, dialTCPFrom(t, addr, 5), withUser("alice", "secret")); err != nil || rc != 0 {
		t.Fatalf("alice from .5: %v reason %#x", err, rc)
	}
	// The success reset .5: its next failure waits 100 ms again.
	if _, rc, _ := pahoOver(t, dialTCPFrom(t, addr, 5), withUser("alice", "wrong")); rc != 0x86 {
		t.Fatalf("paho wrong password: reason %#x", rc)
	}
	var delays []string
	for _, m := range regexp.MustCompile(`msg="authentication failed" component=mqtt audit=true protocol=mqtt remote=(127\.0\.0\.\d+):\d+ mechanism=PLAIN user=alice reason="[^"]*" delay=(\w+)`).FindAllStringSubmatch(srv.logs.String(), -1) {
		delays = append(delays, m[1]+" "+m[2])
	}
	want := []string{"127.0.0.5 100ms", "127.0.0.5 200ms", "127.0.0.5 400ms", "127.0.0.6 100ms", "127.0.0.5 100ms"}
	if strings.Join(delays, ", ") != strings.Join(want, ", ") {
		t.Fatalf("audit lines: %q, want %q", delays, want)
	}
}
