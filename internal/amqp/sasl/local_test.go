package sasl

import (
	"errors"
	"testing"
)

// TestAuthenticateInProcess: Authenticate gives the identity a connection
// would get, refuses wrong credentials with CodeAuth and a mechanism that
// is not offered, and runs SCRAM's challenges to the end.
func TestAuthenticateInProcess(t *testing.T) {
	cred, err := NewPasswordCredentials("pw")
	if err != nil {
		t.Fatal(err)
	}
	a := NewAuthenticator(Config{Users: MemoryUsers{"alice": cred}})
	info := loopback // PLAIN needs TLS or loopback
	id, err := Authenticate(a, info, NewPlainClient("", "alice", "pw"))
	if err != nil || id.User != "alice" || id.Anonymous || id.Mechanism != Plain {
		t.Fatalf("PLAIN: %+v, %v", id, err)
	}
	var se *Error
	if _, err := Authenticate(a, info, NewPlainClient("", "alice", "nope")); !errors.As(err, &se) || se.Code != CodeAuth {
		t.Fatalf("wrong password: %v, want CodeAuth", err)
	}
	if _, err := Authenticate(a, info, NewAnonymousClient("")); !errors.Is(err, ErrUnsupportedMechanism) {
		t.Fatalf("ANONYMOUS not offered: %v", err)
	}
	sc, err := NewScramClient(ScramSHA256, "alice", "pw")
	if err != nil {
		t.Fatal(err)
	}
	if id, err := Authenticate(a, info, sc); err != nil || id.User != "alice" {
		t.Fatalf("SCRAM-SHA-256: %+v, %v", id, err)
	}
}
