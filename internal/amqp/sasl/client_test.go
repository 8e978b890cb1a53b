package sasl

import (
	"errors"
	"strings"
	"testing"
)

func TestSelectClient(t *testing.T) {
	scram256, _ := NewScramClient(ScramSHA256, "alice", "secret")
	plain := NewPlainClient("", "alice", "secret")
	anon := NewAnonymousClient("")
	tests := map[string]struct {
		offered []string
		prefs   []ClientMech
		want    ClientMech // nil: ErrNoCommonMechanism
	}{
		"first preference offered": {[]string{Plain, ScramSHA256}, []ClientMech{scram256, plain}, scram256},
		"client order wins":        {[]string{Anonymous, Plain}, []ClientMech{plain, anon}, plain},
		"fall back":                {[]string{Anonymous, Plain}, []ClientMech{scram256, plain}, plain},
		"case-insensitive":         {[]string{"plain"}, []ClientMech{plain}, plain},
		"nil preferences skipped":  {[]string{Plain}, []ClientMech{nil, plain}, plain},
		"nothing in common":        {[]string{External, ScramSHA512}, []ClientMech{scram256, plain}, nil},
		"server offers nothing":    {nil, []ClientMech{anon}, nil},
		"client has nothing":       {[]string{Plain}, nil, nil},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := SelectClient(tt.offered, tt.prefs...)
			if got != tt.want {
				t.Fatalf("SelectClient = %v, want %v", got, tt.want)
			}
			if tt.want != nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, ErrNoCommonMechanism) {
				t.Fatalf("err = %v, want ErrNoCommonMechanism", err)
			}
			for _, o := range tt.offered {
				if !strings.Contains(err.Error(), o) {
					t.Errorf("error %q does not name offered %s", err, o)
				}
			}
		})
	}
}

func TestOneShotClientOrder(t *testing.T) {
	c := NewPlainClient("", "alice", "secret")
	if _, err := c.Step(nil); !errors.Is(err, ErrOutOfOrder) {
		t.Errorf("Step before InitialResponse = %v, want ErrOutOfOrder", err)
	}
	msg, err := c.InitialResponse()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.InitialResponse(); !errors.Is(err, ErrOutOfOrder) {
		t.Errorf("second InitialResponse = %v, want ErrOutOfOrder", err)
	}
	// One empty challenge is answered with the message again...
	if again, err := c.Step([]byte{}); err != nil || string(again) != string(msg) {
		t.Errorf("Step(empty) = %q, %v; want the message", again, err)
	}
	// ...but not a second, nor any non-empty challenge.
	if _, err := c.Step(nil); !errors.Is(err, ErrUnexpectedServerData) {
		t.Errorf("second Step = %v, want ErrUnexpectedServerData", err)
	}
	if _, err := NewAnonymousClient("").Step([]byte("x")); !errors.Is(err, ErrOutOfOrder) {
		t.Errorf("Step before InitialResponse = %v", err)
	}
	e := NewExternalClient("")
	e.InitialResponse()
	if _, err := e.Step([]byte("challenge")); !errors.Is(err, ErrUnexpectedServerData) {
		t.Errorf("Step(non-empty) = %v, want ErrUnexpectedServerData", err)
	}
	if err := e.Verify(nil); err != nil {
		t.Errorf("Verify(nil) = %v", err)
	}
	if err := e.Verify([]byte{}); err != nil {
		t.Errorf("Verify(empty) = %v", err)
	}
	if err := e.Verify([]byte("v=x")); !errors.Is(err, ErrUnexpectedServerData) {
		t.Errorf("Verify(data) = %v, want ErrUnexpectedServerData", err)
	}
}
