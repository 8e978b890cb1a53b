package sasl

import (
	"errors"
	"testing"

	"github.com/xdg-go/scram"
)

// cheapCredentials are real passwordCredentials with one PBKDF2 iteration.
// Fuzzing uses them so that inputs near a valid PLAIN message, which reach
// the password check, do not each spend milliseconds in PBKDF2; the
// SASLprep and comparison code still runs on every such input.
func cheapCredentials(t testing.TB, password string) Credentials {
	c := &passwordCredentials{scram: map[string]scram.StoredCredentials{}}
	for mech, h := range scramHashes {
		sc, err := deriveScram(h, password, []byte("fuzz-salt-16byte"), 1)
		if err != nil {
			t.Fatal(err)
		}
		c.scram[mech] = sc
	}
	return c
}

// FuzzServerMechs feeds 1–3 arbitrary client messages to every server
// mechanism. Bit 2 of flags sends the first message as nil (no
// initial-response). No input may panic, every failure must be an *Error
// with a failure code that ends the exchange, and a mechanism must never
// report an identity it did not establish.
func FuzzServerMechs(f *testing.F) {
	f.Add(uint8(0), []byte("\x00alice\x00secret"), []byte(nil), []byte(nil))
	f.Add(uint8(1), []byte("n,,n=alice,r=fyko+d2lbbFgONRv9qkxdawL"), []byte("c=biws,r=fyko+d2lbbFgONRv9qkxdawL,p=AAAA"), []byte(nil))
	f.Add(uint8(1), []byte("y,a=bob,n=al=2Cice,r=x"), []byte("c=eSxhPWJvYiw=,r=x,p=dGVzdA=="), []byte(nil))
	f.Add(uint8(0), []byte("p=tls-exporter,,n=alice,r=abc"), []byte(nil), []byte(nil))
	f.Add(uint8(6), []byte(nil), []byte("alice\x00alice\x00secret"), []byte("again"))
	f.Add(uint8(2), []byte("device-1"), []byte{}, []byte{0xff})
	f.Add(uint8(0), []byte("trace@example.com"), []byte(nil), []byte(nil))
	f.Add(uint8(1), []byte("n,a=alice,\x01auth=Bearer good-token\x01\x01"), []byte("\x01"), []byte(nil))
	f.Add(uint8(1), []byte("user=alice\x01auth=Bearer bad\x01\x01"), []byte{}, []byte(nil))
	f.Add(uint8(0), []byte("n,a=a=2Cb=3D,\x01host=x\x01port=5672\x01auth=bearer  down\x01\x01"), []byte(nil), []byte(nil))

	users := MemoryUsers{"alice": cheapCredentials(f, "secret")}
	a := NewAuthenticator(Config{AllowAnonymous: true, Users: users, AllowPlainWithoutTLS: true, Tokens: fakeTokens{}}).(*authenticator)
	a.decoy = cheapCredentials(f, "decoy")
	if !users["alice"].VerifyPassword("secret") || a.decoy.VerifyPassword("secret") {
		f.Fatal("cheapCredentials do not check passwords")
	}
	info := serverInfo(f)

	f.Fuzz(func(t *testing.T, flags uint8, m1, m2, m3 []byte) {
		msgs := [][]byte{m1, m2, m3}[:1+int(flags%3)]
		if flags&4 != 0 {
			msgs[0] = nil
		}
		for _, mech := range allMechs {
			m, err := a.Start(mech, info)
			if err != nil {
				t.Fatalf("Start(%s): %v", mech, err)
			}
			finished, ok := false, false
			for i, msg := range msgs {
				_, done, err := m.Step(msg)
				if finished {
					if !errors.Is(err, ErrExchangeDone) {
						t.Fatalf("%s step %d after the end: %v", mech, i, err)
					}
					continue
				}
				if err != nil {
					var se *Error
					if !errors.As(err, &se) || se.Code == CodeOK || !done {
						t.Fatalf("%s step %d: err %v (done %v) is not a finished *Error failure", mech, i, err, done)
					}
				}
				finished, ok = done, done && err == nil
			}
			id := m.Identity()
			if ok != (id != Identity{}) || (ok && id.Mechanism != mech) {
				t.Fatalf("%s: success %v but Identity %+v", mech, ok, id)
			}
		}
	})
}
