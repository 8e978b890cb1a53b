package cli

import (
	"bytes"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/enmasse-go/enmasse/internal/amqp/sasl"
)

func TestAuthFailuresBackoff(t *testing.T) {
	now := time.Unix(1000, 0)
	f := newAuthFailures()
	f.now = func() time.Time { return now }
	a, b := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	want := []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond,
		800 * time.Millisecond, 1600 * time.Millisecond, 3200 * time.Millisecond, 4 * time.Second, 4 * time.Second}
	for i, w := range want {
		if d := f.failed(a); d != w {
			t.Fatalf("failure %d: delay %v, want %v", i+1, d, w)
		}
	}
	if d := f.failed(b); d != authFailBase {
		t.Fatalf("another address: delay %v, want %v", d, authFailBase)
	}
	f.succeeded(a)
	if d := f.failed(a); d != authFailBase {
		t.Fatalf("after a success: delay %v, want %v", d, authFailBase)
	}
	f.failed(a)
	now = now.Add(authFailForget + time.Second)
	if d := f.failed(a); d != authFailBase {
		t.Fatalf("after %v without failure: delay %v, want %v", authFailForget, d, authFailBase)
	}
}

func TestAuthFailuresBounded(t *testing.T) {
	f := newAuthFailures()
	for i := range authFailMaxIPs + 10 {
		f.failed(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}))
	}
	if n := len(f.m); n > authFailMaxIPs {
		t.Fatalf("%d addresses tracked, want at most %d", n, authFailMaxIPs)
	}
}

// TestGuardedAuthenticator: a wrong PLAIN password is audited with the
// remote address, mechanism and user (never the password) and delayed by
// the address's backoff; a success resets the backoff.
func TestGuardedAuthenticator(t *testing.T) {
	creds, err := sasl.NewPasswordCredentials("s3cret")
	if err != nil {
		t.Fatal(err)
	}
	inner := sasl.NewAuthenticator(sasl.Config{Users: sasl.MemoryUsers{"alice": creds}, AllowPlainWithoutTLS: true})
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, nil))
	g := newGuardedAuthenticator(inner, newAuthFailures(), logger)
	var slept []time.Duration
	g.sleep = func(d time.Duration) { slept = append(slept, d) }
	info := sasl.ConnInfo{RemoteAddr: &net.TCPAddr{IP: net.ParseIP("192.0.2.7"), Port: 4242}}

	plain := func(user, pass string) error {
		m, err := g.Start(sasl.Plain, info)
		if err != nil {
			return err
		}
		_, _, err = m.Step([]byte("\x00" + user + "\x00" + pass))
		return err
	}
	for range 2 {
		if err := plain("alice", "hunter2"); err == nil {
			t.Fatal("wrong password accepted")
		}
	}
	if len(slept) != 2 || slept[0] != authFailBase || slept[1] != 2*authFailBase {
		t.Fatalf("delays %v, want [%v %v]", slept, authFailBase, 2*authFailBase)
	}
	out := buf.String()
	for _, want := range []string{"audit=true", `msg="authentication failed"`, "remote=192.0.2.7:4242", "mechanism=PLAIN", "user=alice"} {
		if !strings.Contains(out, want) {
			t.Errorf("audit log lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "hunter2") {
		t.Fatalf("audit log contains the password:\n%s", out)
	}
	if err := plain("alice", "s3cret"); err != nil {
		t.Fatalf("right password: %v", err)
	}
	slept = nil
	if err := plain("alice", "nope"); err == nil || len(slept) != 1 || slept[0] != authFailBase {
		t.Fatalf("after a success: err %v, delays %v, want one of %v", err, slept, authFailBase)
	}

	// A mechanism that is not offered is audited and delayed too.
	buf.Reset()
	slept = nil
	if _, err := g.Start(sasl.Anonymous, info); !errors.Is(err, sasl.ErrUnsupportedMechanism) {
		t.Fatalf("ANONYMOUS: %v", err)
	}
	if len(slept) != 1 || !strings.Contains(buf.String(), "mechanism=ANONYMOUS") {
		t.Fatalf("ANONYMOUS refusal: delays %v, log %s", slept, buf.String())
	}
}

func TestSASLUser(t *testing.T) {
	for _, c := range []struct{ mech, msg, want string }{
		{sasl.Plain, "\x00alice\x00pw", "alice"},
		{sasl.Plain, "admin\x00bob@space\x00pw", "bob@space"},
		{sasl.Plain, "garbage", ""},
		{sasl.ScramSHA256, "n,,n=carol,r=abc", "carol"},
		{sasl.ScramSHA512, "n,,n=a=2Cb=3Dc,r=abc", "a,b=c"},
		{sasl.Anonymous, "trace", ""},
	} {
		if got := saslUser(c.mech, []byte(c.msg)); got != c.want {
			t.Errorf("saslUser(%s, %q) = %q, want %q", c.mech, c.msg, got, c.want)
		}
	}
}
