package sasl

import (
	"bytes"
	"errors"
	"testing"

	"github.com/xdg-go/scram"
)

// TestDeriveScramMatchesXdg checks our RFC 5802 §3 derivation against the
// xdg-go/scram client's.
func TestDeriveScramMatchesXdg(t *testing.T) {
	for mech, h := range scramMechs {
		c, err := h.NewClient("alice", "pencil", "")
		if err != nil {
			t.Fatal(err)
		}
		kf := scram.KeyFactors{Salt: "0123456789abcdef", Iters: 4096}
		want, err := c.GetStoredCredentialsWithError(kf)
		if err != nil {
			t.Fatal(err)
		}
		got, err := deriveScram(h, "pencil", []byte(kf.Salt), kf.Iters)
		if err != nil || got.KeyFactors != want.KeyFactors ||
			!bytes.Equal(got.StoredKey, want.StoredKey) || !bytes.Equal(got.ServerKey, want.ServerKey) {
			t.Errorf("%s: derived %+v, %v; xdg-go/scram %+v", mech, got, err, want)
		}
	}
}

func TestNewPasswordCredentials(t *testing.T) {
	c := testUsers()["alice"] // "secret"
	tests := map[string]struct {
		password string
		want     bool
	}{
		"right":                 {"secret", true},
		"wrong":                 {"Secret", false},
		"prefix":                {"secre", false},
		"empty":                 {"", false},
		"mapped to nothing":     {"sec\u00adret", true}, // RFC 4013 §2.2, table B.1
		"fails SASLprep":        {"secret\u0007", false},
		"non-ASCII space → ' '": {"sec\u00a0ret", false},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			if got := c.VerifyPassword(tt.password); got != tt.want {
				t.Errorf("VerifyPassword(%q) = %v, want %v", tt.password, got, tt.want)
			}
		})
	}

	s256, ok256 := c.Scram(ScramSHA256)
	s512, ok512 := c.Scram(ScramSHA512)
	if !ok256 || !ok512 {
		t.Fatalf("Scram: SHA-256 %v, SHA-512 %v", ok256, ok512)
	}
	if s256.Iters != 4096 || s512.Iters != 4096 || len(s256.Salt) != saltSize || len(s512.Salt) != saltSize {
		t.Errorf("key factors %d/%d iterations, %d/%d byte salts", s256.Iters, s512.Iters, len(s256.Salt), len(s512.Salt))
	}
	if len(s256.StoredKey) != 32 || len(s512.StoredKey) != 64 || len(s512.ServerKey) != 64 {
		t.Errorf("key sizes %d, %d, %d", len(s256.StoredKey), len(s512.StoredKey), len(s512.ServerKey))
	}
	if s256.Salt == s512.Salt {
		t.Errorf("SHA-256 and SHA-512 credentials share a salt")
	}
	if _, ok := c.Scram("SCRAM-SHA-1"); ok {
		t.Errorf("Scram(SCRAM-SHA-1) found")
	}
	if other, _ := testUsers()["bob"].Scram(ScramSHA256); other.Salt == s256.Salt {
		t.Errorf("two users share a salt")
	}
}

func TestNewPasswordCredentialsRefuses(t *testing.T) {
	for name, pw := range map[string]string{
		"empty":             "",
		"mapped to nothing": "\u00ad",
		"control character": "bell\u0007",
		"unassigned":        "\U000e0080x",
	} {
		t.Run(name, func(t *testing.T) {
			if c, err := NewPasswordCredentials(pw); c != nil || !errors.Is(err, ErrInvalidCredentials) {
				t.Errorf("NewPasswordCredentials(%q) = %v, %v; want ErrInvalidCredentials", pw, c, err)
			}
		})
	}
}

func TestMemoryUsers(t *testing.T) {
	users := MemoryUsers{"alice": testUsers()["alice"], "ghost": nil}
	for user, want := range map[string]bool{"alice": true, "ghost": false, "nobody": false, "": false} {
		if c, ok := users.Lookup(user); ok != want || (ok && c == nil) {
			t.Errorf("Lookup(%q) = %v, %v; want found=%v", user, c, ok, want)
		}
	}
}
