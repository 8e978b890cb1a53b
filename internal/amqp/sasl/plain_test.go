package sasl

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestPlainServer(t *testing.T) {
	long := strings.Repeat("x", maxPlainField+1)
	max := strings.Repeat("x", maxPlainField)
	tests := map[string]struct {
		msg      string
		wantErr  error
		wantUser string
	}{
		"ok":                        {"\x00alice\x00secret", nil, "alice"},
		"ok, authzid is authcid":    {"alice\x00alice\x00secret", nil, "alice"},
		"other user":                {"\x00bob\x00hunter2", nil, "bob"},
		"SASLprep'd password":       {"\x00alice\x00se\u00adcret", nil, "alice"}, // RFC 4013: soft hyphen maps to nothing
		"authzid is someone else":   {"bob\x00alice\x00secret", ErrAuthzDenied, ""},
		"wrong password":            {"\x00alice\x00hunter2", ErrAuthFailed, ""},
		"password case":             {"\x00alice\x00SECRET", ErrAuthFailed, ""},
		"unknown user":              {"\x00mallory\x00secret", ErrAuthFailed, ""},
		"authcid case matters":      {"\x00Alice\x00secret", ErrAuthFailed, ""},
		"255-octet fields parse":    {max + "\x00" + max + "\x00" + max, ErrAuthFailed, ""},
		"empty":                     {"", ErrMalformed, ""},
		"no NUL":                    {"alice secret", ErrMalformed, ""},
		"one NUL":                   {"alice\x00secret", ErrMalformed, ""},
		"three NULs":                {"\x00alice\x00sec\x00ret", ErrMalformed, ""},
		"only NULs":                 {"\x00\x00", ErrMalformed, ""},
		"empty authcid":             {"\x00\x00secret", ErrMalformed, ""},
		"empty passwd":              {"\x00alice\x00", ErrMalformed, ""},
		"authzid over 255 octets":   {long + "\x00alice\x00secret", ErrMalformed, ""},
		"authcid over 255 octets":   {"\x00" + long + "\x00secret", ErrMalformed, ""},
		"passwd over 255 octets":    {"\x00alice\x00" + long, ErrMalformed, ""},
		"invalid UTF-8 in passwd":   {"\x00alice\x00\xff\xfe", ErrMalformed, ""},
		"invalid UTF-8 in authcid":  {"\x00al\xc0ice\x00secret", ErrMalformed, ""},
		"password failing SASLprep": {"\x00alice\x00bad\u0007", ErrAuthFailed, ""},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			m, err := testAuth().Start(Plain, loopback)
			if err != nil {
				t.Fatal(err)
			}
			challenge, done, err := m.Step([]byte(tt.msg))
			if !done || challenge != nil {
				t.Errorf("Step = %q, done=%v; want nil, done", challenge, done)
			}
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				if se, ok := err.(*Error); !ok || se.Code != CodeAuth {
					t.Errorf("err = %#v, want an *Error with CodeAuth", err)
				}
				if strings.Contains(err.Error(), "secret") {
					t.Errorf("error %q quotes the password", err)
				}
			}
			if want := (Identity{User: tt.wantUser, Mechanism: Plain}); err == nil && m.Identity() != want {
				t.Errorf("Identity = %+v, want %+v", m.Identity(), want)
			}
		})
	}
}

// TestPlainUnknownUserLikeWrongPassword: the outcome and the logged error are
// the same, so nothing tells whether the user exists.
func TestPlainUnknownUserLikeWrongPassword(t *testing.T) {
	step := func(msg string) error {
		m, err := testAuth().Start(Plain, loopback)
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = m.Step([]byte(msg))
		return err
	}
	wrong, unknown := step("\x00alice\x00wrong"), step("\x00nobody\x00wrong")
	if wrong != ErrAuthFailed || unknown != ErrAuthFailed || wrong.Error() != unknown.Error() {
		t.Errorf("wrong password: %v; unknown user: %v; want both ErrAuthFailed", wrong, unknown)
	}
}

func TestPlainNoInitialResponse(t *testing.T) {
	m, err := testAuth().Start(Plain, loopback)
	if err != nil {
		t.Fatal(err)
	}
	challenge, done, err := m.Step(nil)
	if challenge == nil || len(challenge) != 0 || done || err != nil {
		t.Fatalf("Step(nil) = %q, %v, %v; want empty challenge", challenge, done, err)
	}
	// A second nil is not a PLAIN message.
	if _, _, err := m.Step(nil); !errors.Is(err, ErrMalformed) {
		t.Fatalf("Step(nil) again = %v, want ErrMalformed", err)
	}

	m, _ = testAuth().Start(Plain, loopback)
	m.Step(nil)
	if _, done, err := m.Step([]byte("\x00alice\x00secret")); !done || err != nil {
		t.Fatalf("Step(message) = %v, %v", done, err)
	}
	if m.Identity().User != "alice" {
		t.Errorf("Identity = %+v", m.Identity())
	}
}

func TestPlainClient(t *testing.T) {
	long := strings.Repeat("x", maxPlainField+1)
	tests := map[string]struct {
		authzid, user, pass string
		want                string // "" means ErrInvalidCredentials
	}{
		"no authzid":         {"", "alice", "secret", "\x00alice\x00secret"},
		"authzid":            {"admin", "alice", "secret", "admin\x00alice\x00secret"},
		"empty user":         {"", "", "secret", ""},
		"empty password":     {"", "alice", "", ""},
		"NUL in user":        {"", "al\x00ice", "secret", ""},
		"NUL in authzid":     {"a\x00", "alice", "secret", ""},
		"long password":      {"", "alice", long, ""},
		"long authzid":       {long, "alice", "secret", ""},
		"invalid UTF-8 user": {"", "\xff", "secret", ""},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			c := NewPlainClient(tt.authzid, tt.user, tt.pass)
			if c.Name() != Plain {
				t.Errorf("Name = %q", c.Name())
			}
			msg, err := c.InitialResponse()
			if tt.want == "" {
				if !errors.Is(err, ErrInvalidCredentials) {
					t.Errorf("InitialResponse err = %v, want ErrInvalidCredentials", err)
				}
				return
			}
			if err != nil || !bytes.Equal(msg, []byte(tt.want)) {
				t.Errorf("InitialResponse = %q, %v; want %q", msg, err, tt.want)
			}
		})
	}
}

func TestPlainRoundTrip(t *testing.T) {
	id, err := exchange(t, testAuth(), loopback, NewPlainClient("", "alice", "secret"))
	if err != nil || id != (Identity{User: "alice", Mechanism: Plain}) {
		t.Fatalf("exchange = %+v, %v", id, err)
	}
	if _, err := exchange(t, testAuth(), loopback, NewPlainClient("", "alice", "nope")); err != ErrAuthFailed {
		t.Fatalf("wrong password: %v", err)
	}
}
