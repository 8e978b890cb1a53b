package cli

import (
	"strings"
	"testing"
)

func TestCLISendReceiveThroughServe(t *testing.T) {
	s := startServe(t)
	url := s.addrs["amqp"].String()
	if code, _, stderr := runCLI(t, "send", "orders", "--url", url, "--body", "hello", "--count", "3"); code != 0 {
		t.Fatalf("send exit %d: %s", code, stderr)
	}
	code, out, stderr := runCLI(t, "receive", "orders", "--url", url, "--count", "3")
	if code != 0 {
		t.Fatalf("receive exit %d: %s", code, stderr)
	}
	if got := strings.Split(strings.TrimSpace(out), "\n"); len(got) != 3 || got[0] != "hello" || got[2] != "hello" {
		t.Fatalf("received %q", out)
	}
	// Nothing left: receive times out with a clear error and exit 1.
	code, _, stderr = runCLI(t, "receive", "orders", "--url", url, "--timeout", "300ms")
	if code != 1 || !strings.Contains(stderr, "received 0 of 1") {
		t.Fatalf("empty receive: exit %d, %q", code, stderr)
	}
}

func TestCLISendErrors(t *testing.T) {
	tests := map[string]struct {
		args []string
		code int
		msg  string
	}{
		"missing address": {[]string{"send", "--body", "x"}, 2, "missing ADDRESS"},
		"bad count":       {[]string{"send", "q", "--body", "x", "--count", "0"}, 2, "--count must be at least 1"},
		"unreachable":     {[]string{"send", "q", "--body", "x", "--url", "127.0.0.1:1", "--timeout", "1s"}, 1, "connecting to 127.0.0.1:1"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			code, _, stderr := runCLI(t, tc.args...)
			if code != tc.code || !strings.Contains(stderr, tc.msg) {
				t.Fatalf("exit %d, stderr %q; want %d and %q", code, stderr, tc.code, tc.msg)
			}
		})
	}
}
