// Package credentials stores MessagingUser passwords as salted SCRAM
// credentials (RFC 5802 §3, the form a SCRAM server needs, PBKDF2 with
// 4096 iterations and a random 16-byte salt per mechanism) and serves them
// to the AMQP SASL layer as a sasl.UserStore. No password or
// password-equivalent is kept: PLAIN is checked by recomputing the
// SCRAM-SHA-256 StoredKey.
//
// The stored form is a small JSON document kept by the registry beside the
// MessagingUser (registry "secret"), never returned by the API.
//
// Store.Users gives the sasl.UserStore of one address space; serve
// resolves `user@space` names to it for AMQP PLAIN and SCRAM.
package credentials

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"hash"

	"github.com/xdg-go/scram"
	"github.com/xdg-go/stringprep"

	"github.com/enmasse-go/enmasse/internal/amqp/sasl"
	"github.com/enmasse-go/enmasse/internal/controlplane/model"
	"github.com/enmasse-go/enmasse/internal/controlplane/registry"
)

// Iterations is the PBKDF2 iteration count of new credentials (RFC 7677
// §4 minimum, which SCRAM clients require).
const Iterations = 4096

const saltSize = 16

var hashes = map[string]func() hash.Hash{
	sasl.ScramSHA256: sha256.New,
	sasl.ScramSHA512: sha512.New,
}

// mech is one mechanism's stored credentials.
type mech struct {
	Salt      []byte `json:"salt"`
	Iters     int    `json:"iterations"`
	StoredKey []byte `json:"storedKey"`
	ServerKey []byte `json:"serverKey"`
}

type stored struct {
	Scram map[string]mech `json:"scram"`
}

// Hash derives the stored form of a password. The password is normalized
// with SASLprep first; one that fails it or is empty after it is refused.
func Hash(password string) ([]byte, error) {
	prepped, err := stringprep.SASLprep.Prepare(password)
	if err != nil {
		return nil, fmt.Errorf("password cannot be used with SCRAM: %v", err)
	}
	if prepped == "" {
		return nil, errors.New("password is empty")
	}
	s := stored{Scram: map[string]mech{}}
	for name, h := range hashes {
		salt := make([]byte, saltSize)
		rand.Read(salt)
		m, err := derive(h, prepped, salt, Iterations)
		if err != nil {
			return nil, err
		}
		s.Scram[name] = m
	}
	return json.Marshal(s)
}

func derive(h func() hash.Hash, prepped string, salt []byte, iters int) (mech, error) {
	salted, err := pbkdf2.Key(h, prepped, salt, iters, h().Size())
	if err != nil {
		return mech{}, err
	}
	clientKey := hmacSum(h, salted, "Client Key")
	sk := h()
	sk.Write(clientKey)
	return mech{Salt: salt, Iters: iters, StoredKey: sk.Sum(nil), ServerKey: hmacSum(h, salted, "Server Key")}, nil
}

func hmacSum(h func() hash.Hash, key []byte, msg string) []byte {
	m := hmac.New(h, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}

// Parse turns the stored form back into sasl.Credentials.
func Parse(data []byte) (sasl.Credentials, error) {
	var s stored
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("credentials: %w", err)
	}
	if _, ok := s.Scram[sasl.ScramSHA256]; !ok {
		return nil, errors.New("credentials: no SCRAM-SHA-256 entry")
	}
	return &creds{s}, nil
}

type creds struct{ s stored }

// VerifyPassword implements sasl.Credentials.
func (c *creds) VerifyPassword(password string) bool {
	want := c.s.Scram[sasl.ScramSHA256]
	prepped, err := stringprep.SASLprep.Prepare(password)
	if err != nil {
		return false
	}
	got, err := derive(sha256.New, prepped, want.Salt, want.Iters)
	return err == nil && subtle.ConstantTimeCompare(got.StoredKey, want.StoredKey) == 1
}

// Scram implements sasl.Credentials.
func (c *creds) Scram(name string) (scram.StoredCredentials, bool) {
	m, ok := c.s.Scram[name]
	if !ok {
		return scram.StoredCredentials{}, false
	}
	return scram.StoredCredentials{
		KeyFactors: scram.KeyFactors{Salt: string(m.Salt), Iters: m.Iters},
		StoredKey:  m.StoredKey, ServerKey: m.ServerKey,
	}, true
}

// Store looks users up in the registry.
type Store struct{ Registry *registry.Registry }

// Users returns the password users of one address space, looked up by
// spec.username. Users of other authentication types are not found.
func (s Store) Users(namespace, addressSpace string) sasl.UserStore {
	return spaceUsers{reg: s.Registry, ns: namespace, space: addressSpace}
}

type spaceUsers struct {
	reg       *registry.Registry
	ns, space string
}

// Lookup implements sasl.UserStore.
func (u spaceUsers) Lookup(user string) (sasl.Credentials, bool) {
	name := u.space + "." + user
	o, ok := u.reg.Get(model.MessagingUserKind, u.ns, name)
	if !ok {
		return nil, false
	}
	mu := o.(*model.MessagingUser)
	if mu.Spec.Authentication == nil || mu.Spec.Authentication.Type != model.AuthPassword {
		return nil, false
	}
	secret, ok := u.reg.Secret(model.MessagingUserKind, u.ns, name)
	if !ok {
		return nil, false
	}
	c, err := Parse(secret)
	if err != nil {
		return nil, false
	}
	return c, true
}
