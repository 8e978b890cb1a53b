package sasl

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/xdg-go/scram"
)

var scramMechs = map[string]scram.HashGeneratorFcn{ScramSHA256: scram.SHA256, ScramSHA512: scram.SHA512}

func TestScramRoundTrip(t *testing.T) {
	tests := map[string]struct {
		user, pass string
		wantErr    error
	}{
		"alice":          {"alice", "secret", nil},
		"bob":            {"bob", "hunter2", nil},
		"SASLprep'd":     {"alice", "se\u00adcret", nil},
		"wrong password": {"alice", "hunter2", ErrAuthFailed},
		"unknown user":   {"mallory", "secret", ErrAuthFailed},
		"user case":      {"ALICE", "secret", ErrAuthFailed},
	}
	for mech := range scramMechs {
		for name, tt := range tests {
			t.Run(mech+"/"+name, func(t *testing.T) {
				c, err := NewScramClient(mech, tt.user, tt.pass)
				if err != nil {
					t.Fatal(err)
				}
				if c.Name() != mech {
					t.Errorf("Name = %q", c.Name())
				}
				id, err := exchange(t, testAuth(), loopback, c)
				if err != tt.wantErr { // the sentinel itself, not a refinement
					t.Fatalf("exchange err = %v, want %v", err, tt.wantErr)
				}
				if want := (Identity{User: tt.user, Mechanism: mech}); err == nil && id != want {
					t.Errorf("Identity = %+v, want %+v", id, want)
				}
			})
		}
	}
}

// TestScramMissingMechCredentials: a user without credentials for one hash
// fails that mechanism like a wrong password.
func TestScramMissingMechCredentials(t *testing.T) {
	for mech, wantErr := range map[string]error{ScramSHA256: nil, ScramSHA512: ErrAuthFailed} {
		c, _ := NewScramClient(mech, "carol", "secret")
		if _, err := exchange(t, testAuth(), loopback, c); err != wantErr {
			t.Errorf("%s: err = %v, want %v", mech, err, wantErr)
		}
	}
}

// serverFirst sends clientFirst to a fresh mech and parses the reply.
func serverFirst(t *testing.T, mech, clientFirst string) (salt string, iters string) {
	t.Helper()
	m, err := testAuth().Start(mech, loopback)
	if err != nil {
		t.Fatal(err)
	}
	reply, done, err := m.Step([]byte(clientFirst))
	if err != nil || done {
		t.Fatalf("Step(%q) = %q, %v, %v", clientFirst, reply, done, err)
	}
	attrs := strings.Split(string(reply), ",")
	if len(attrs) != 3 || !strings.HasPrefix(attrs[0], "r=") {
		t.Fatalf("server-first-message %q", reply)
	}
	return strings.TrimPrefix(attrs[1], "s="), strings.TrimPrefix(attrs[2], "i=")
}

// TestScramUnknownUserLooksKnown: the server-first-message of an unknown user
// has the same form as a real one, and its salt is stable across attempts.
func TestScramUnknownUserLooksKnown(t *testing.T) {
	for mech := range scramMechs {
		t.Run(mech, func(t *testing.T) {
			realSalt, realIters := serverFirst(t, mech, "n,,n=alice,r=abc")
			fakeSalt, fakeIters := serverFirst(t, mech, "n,,n=mallory,r=abc")
			fakeAgain, _ := serverFirst(t, mech, "n,,n=mallory,r=xyz")
			otherFake, _ := serverFirst(t, mech, "n,,n=trudy,r=abc")
			if realIters != "4096" || fakeIters != realIters {
				t.Errorf("iterations: real %s, unknown %s; want both 4096", realIters, fakeIters)
			}
			rs, _ := base64.StdEncoding.DecodeString(realSalt)
			fs, _ := base64.StdEncoding.DecodeString(fakeSalt)
			if len(rs) != saltSize || len(fs) != saltSize {
				t.Errorf("salt sizes: real %d, unknown %d; want %d", len(rs), len(fs), saltSize)
			}
			if fakeAgain != fakeSalt {
				t.Errorf("unknown user's salt changed between attempts: %s, %s", fakeSalt, fakeAgain)
			}
			if otherFake == fakeSalt {
				t.Errorf("two unknown users share salt %s", fakeSalt)
			}
		})
	}
}

// scramSteps runs our server up to its done step and returns the client and
// the server-final-message, so tests can tamper with the last leg.
func scramSteps(t *testing.T, mech string) (ClientMech, []byte) {
	t.Helper()
	c, err := NewScramClient(mech, "alice", "secret")
	if err != nil {
		t.Fatal(err)
	}
	m, err := testAuth().Start(mech, loopback)
	if err != nil {
		t.Fatal(err)
	}
	first, _ := c.InitialResponse()
	s1, _, err := m.Step(first)
	if err != nil {
		t.Fatal(err)
	}
	final, err := c.Step(s1)
	if err != nil {
		t.Fatal(err)
	}
	s2, done, err := m.Step(final)
	if err != nil || !done || !strings.HasPrefix(string(s2), "v=") {
		t.Fatalf("final Step = %q, %v, %v", s2, done, err)
	}
	return c, s2
}

func TestScramClientVerify(t *testing.T) {
	flip := func(s2 []byte) []byte {
		sig, _ := base64.StdEncoding.DecodeString(string(s2[2:]))
		sig[len(sig)-1] ^= 1
		return []byte("v=" + base64.StdEncoding.EncodeToString(sig))
	}
	tests := map[string]struct {
		tamper  func([]byte) []byte
		wantErr error
	}{
		"genuine":               {func(b []byte) []byte { return b }, nil},
		"flipped signature bit": {flip, ErrServerVerification},
		"truncated signature":   {func(b []byte) []byte { return b[:len(b)-4] }, ErrServerVerification},
		"missing":               {func([]byte) []byte { return nil }, ErrServerVerification},
		"server error":          {func([]byte) []byte { return []byte("e=invalid-proof") }, ErrServerVerification},
		"garbage":               {func([]byte) []byte { return []byte("\x00\xff") }, ErrServerVerification},
	}
	for mech := range scramMechs {
		for name, tt := range tests {
			t.Run(mech+"/"+name, func(t *testing.T) {
				c, s2 := scramSteps(t, mech)
				err := c.Verify(tt.tamper(s2))
				if !errors.Is(err, tt.wantErr) || (err == nil) != (tt.wantErr == nil) {
					t.Fatalf("Verify = %v, want %v", err, tt.wantErr)
				}
				// Whatever happened, a second outcome is out of order.
				if err := c.Verify(s2); err == nil && tt.wantErr != nil {
					t.Errorf("Verify after a failed Verify succeeded")
				}
			})
		}
	}
}

// TestScramServerFinalAsChallenge: a server may send the
// server-final-message as a challenge (RFC 4422 §5) and an outcome without
// data.
func TestScramServerFinalAsChallenge(t *testing.T) {
	c, s2 := scramSteps(t, ScramSHA256)
	resp, err := c.Step(s2)
	if err != nil || resp == nil || len(resp) != 0 {
		t.Fatalf("Step(server-final) = %q, %v; want empty response", resp, err)
	}
	if err := c.Verify(nil); err != nil {
		t.Fatalf("Verify(nil) after verified challenge: %v", err)
	}

	c, s2 = scramSteps(t, ScramSHA256)
	if _, err := c.Step(flipLastByte(s2)); !errors.Is(err, ErrServerVerification) {
		t.Fatalf("Step(tampered server-final) = %v, want ErrServerVerification", err)
	}
}

func flipLastByte(b []byte) []byte {
	out := append([]byte(nil), b...)
	out[len(out)-3] ^= 1 // inside the base64 signature, before any padding
	return out
}

// TestScramXdgClientInterop drives our server with the xdg-go/scram client
// directly, including the authzid and gs2 'y' flag our own client never
// sends.
func TestScramXdgClientInterop(t *testing.T) {
	tests := map[string]struct {
		user, pass, authzid string
		advertiseCB         bool
		wantErr             error
	}{
		"plain":             {"alice", "secret", "", false, nil},
		"authzid is user":   {"alice", "secret", "alice", false, nil},
		"authzid is other":  {"alice", "secret", "bob", false, ErrAuthzDenied},
		"authzid, bad pass": {"alice", "wrong", "bob", false, ErrAuthFailed},
		"gs2 y flag":        {"alice", "secret", "", true, nil},
		"wrong password":    {"alice", "wrong", "", false, ErrAuthFailed},
		"unknown user":      {"nobody", "secret", "", false, ErrAuthFailed},
	}
	for mech, h := range scramMechs {
		for name, tt := range tests {
			t.Run(mech+"/"+name, func(t *testing.T) {
				client, err := h.NewClient(tt.user, tt.pass, tt.authzid)
				if err != nil {
					t.Fatal(err)
				}
				conv := client.NewConversation()
				if tt.advertiseCB {
					conv = client.NewConversationAdvertisingChannelBinding()
				}
				m, err := testAuth().Start(mech, loopback)
				if err != nil {
					t.Fatal(err)
				}
				msg, _ := conv.Step("")
				if strings.HasPrefix(msg, "y,") != tt.advertiseCB {
					t.Fatalf("client-first-message %q", msg)
				}
				var out []byte
				for !conv.Done() {
					var done bool
					out, done, err = m.Step([]byte(msg))
					if err != nil || done {
						break
					}
					if msg, err = conv.Step(string(out)); err != nil {
						t.Fatalf("xdg client Step: %v", err)
					}
				}
				if err != tt.wantErr && !(tt.wantErr != nil && errors.Is(err, tt.wantErr)) {
					t.Fatalf("server err = %v, want %v", err, tt.wantErr)
				}
				if err != nil {
					return
				}
				if _, err := conv.Step(string(out)); err != nil || !conv.Valid() {
					t.Fatalf("xdg client rejects our server-final-message %q: %v", out, err)
				}
				if id := m.Identity(); id != (Identity{User: "alice", Mechanism: mech}) {
					t.Errorf("Identity = %+v", id)
				}
			})
		}
	}
}

func TestScramServerMalformed(t *testing.T) {
	tests := map[string]struct {
		first   string
		final   string // sent only if first is accepted
		wantErr error
	}{
		"channel binding tls-exporter": {"p=tls-exporter,,n=alice,r=abc", "", ErrChannelBinding},
		"channel binding server-end":   {"p=tls-server-end-point,,n=alice,r=abc", "", ErrChannelBinding},
		"unknown channel binding type": {"p=foo,,n=alice,r=abc", "", ErrMalformed},
		"bad gs2 flag":                 {"x,,n=alice,r=abc", "", ErrMalformed},
		"extension":                    {"n,,m=ext,n=alice,r=abc", "", ErrMalformed},
		"bad name escape":              {"n,,n=al=ice,r=abc", "", ErrMalformed},
		"too few attributes":           {"n,,n=alice", "", ErrMalformed},
		"empty":                        {"", "", ErrMalformed},
		"final: wrong nonce":           {"n,,n=alice,r=abc", "c=biws,r=zzz,p=AAAA", ErrMalformed},
		"final: wrong channel binding": {"n,,n=alice,r=abc", "c=eSws,r=abc,p=AAAA", ErrMalformed},
		"final: empty":                 {"n,,n=alice,r=abc", "", ErrMalformed},
		"final: garbage":               {"n,,n=alice,r=abc", "\x00\xff,,", ErrMalformed},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			m, err := testAuth().Start(ScramSHA256, loopback)
			if err != nil {
				t.Fatal(err)
			}
			_, _, err = m.Step([]byte(tt.first))
			if err == nil {
				_, _, err = m.Step([]byte(tt.final))
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func TestScramNoInitialResponse(t *testing.T) {
	c, _ := NewScramClient(ScramSHA512, "bob", "hunter2")
	m, _ := testAuth().Start(ScramSHA512, loopback)
	if ch, done, err := m.Step(nil); ch == nil || len(ch) != 0 || done || err != nil {
		t.Fatalf("Step(nil) = %q, %v, %v; want empty challenge", ch, done, err)
	}
	first, _ := c.InitialResponse()
	s1, _, err := m.Step(first)
	if err != nil {
		t.Fatal(err)
	}
	final, _ := c.Step(s1)
	s2, done, err := m.Step(final)
	if err != nil || !done || c.Verify(s2) != nil {
		t.Fatalf("final = %q, %v, %v", s2, done, err)
	}
}

func TestNewScramClientErrors(t *testing.T) {
	tests := map[string]struct {
		mech, user, pass string
		wantErr          error
	}{
		"SCRAM-SHA-1":         {"SCRAM-SHA-1", "alice", "secret", ErrUnsupportedMechanism},
		"PLAIN":               {Plain, "alice", "secret", ErrUnsupportedMechanism},
		"empty user":          {ScramSHA256, "", "secret", ErrInvalidCredentials},
		"empty password":      {ScramSHA256, "alice", "", ErrInvalidCredentials},
		"password fails prep": {ScramSHA256, "alice", "bell\u0007", ErrInvalidCredentials},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			if c, err := NewScramClient(tt.mech, tt.user, tt.pass); c != nil || !errors.Is(err, tt.wantErr) {
				t.Fatalf("NewScramClient = %v, %v; want %v", c, err, tt.wantErr)
			}
		})
	}
}

func TestScramClientOrder(t *testing.T) {
	c, _ := NewScramClient(ScramSHA256, "alice", "secret")
	if _, err := c.Step([]byte("r=x,s=c2FsdA==,i=4096")); !errors.Is(err, ErrOutOfOrder) {
		t.Errorf("Step before InitialResponse = %v, want ErrOutOfOrder", err)
	}
	if err := c.Verify([]byte("v=AAAA")); !errors.Is(err, ErrOutOfOrder) {
		t.Errorf("Verify before InitialResponse = %v, want ErrOutOfOrder", err)
	}
	first, err := c.InitialResponse()
	if err != nil || !strings.HasPrefix(string(first), "n,,n=alice,r=") {
		t.Fatalf("InitialResponse = %q, %v", first, err)
	}
	if _, err := c.InitialResponse(); !errors.Is(err, ErrOutOfOrder) {
		t.Errorf("second InitialResponse = %v, want ErrOutOfOrder", err)
	}
}

// TestScramClientServerFirst: the client refuses server-first-messages it
// cannot or should not answer.
func TestScramClientServerFirst(t *testing.T) {
	tests := map[string]string{
		"too many iterations": "r=%s+srv,s=c2FsdA==,i=2000000",
		"too few iterations":  "r=%s+srv,s=c2FsdA==,i=1000",
		"nonce not extended":  "r=other,s=c2FsdA==,i=4096",
		"garbage":             "\xff%s",
	}
	for name, format := range tests {
		t.Run(name, func(t *testing.T) {
			c, _ := NewScramClient(ScramSHA256, "alice", "secret")
			first, _ := c.InitialResponse()
			nonce := string(first[strings.Index(string(first), ",r=")+3:])
			msg := strings.Replace(format, "%s", nonce, 1)
			if _, err := c.Step([]byte(msg)); !errors.Is(err, ErrUnexpectedServerData) {
				t.Fatalf("Step(%q) = %v, want ErrUnexpectedServerData", msg, err)
			}
		})
	}
}
