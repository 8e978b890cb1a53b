package sasl

import (
	"errors"
	"strings"
	"testing"
)

func TestAnonymousServer(t *testing.T) {
	for name, msg := range map[string][]byte{
		"no initial response": nil,
		"empty trace":         {},
		"email trace":         []byte("someone@example.com"),
		"garbage is ignored":  []byte("\xff\x00\xfe"),
	} {
		t.Run(name, func(t *testing.T) {
			m, err := testAuth().Start(Anonymous, loopback)
			if err != nil {
				t.Fatal(err)
			}
			if data, done, err := m.Step(msg); data != nil || !done || err != nil {
				t.Fatalf("Step = %q, %v, %v; want nil, done", data, done, err)
			}
			if got := m.Identity(); got != (Identity{Mechanism: Anonymous, Anonymous: true}) {
				t.Errorf("Identity = %+v", got)
			}
		})
	}
}

func TestAnonymousClient(t *testing.T) {
	tests := map[string]struct {
		trace   string
		wantErr error
	}{
		"empty":          {"", nil},
		"token":          {"enmasse-probe", nil},
		"255 characters": {strings.Repeat("é", 255), nil},
		"256 characters": {strings.Repeat("é", 256), ErrInvalidCredentials},
		"NUL":            {"a\x00b", ErrInvalidCredentials},
		"invalid UTF-8":  {"\xff", ErrInvalidCredentials},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			c := NewAnonymousClient(tt.trace)
			msg, err := c.InitialResponse()
			if !errors.Is(err, tt.wantErr) || (err == nil) != (tt.wantErr == nil) {
				t.Fatalf("InitialResponse err = %v, want %v", err, tt.wantErr)
			}
			if err == nil && (msg == nil || string(msg) != tt.trace) {
				t.Errorf("InitialResponse = %q (nil %v), want %q", msg, msg == nil, tt.trace)
			}
		})
	}
	id, err := exchange(t, testAuth(), loopback, NewAnonymousClient("x"))
	if err != nil || !id.Anonymous || id.User != "" {
		t.Errorf("exchange = %+v, %v", id, err)
	}
}
