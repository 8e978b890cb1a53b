package sasl

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"hash"

	"github.com/xdg-go/scram"
	"github.com/xdg-go/stringprep"
)

// scramIterations is the PBKDF2 iteration count of new SCRAM credentials and
// of the decoy credentials of unknown users: the minimum RFC 7677 §4 asks
// for, and what clients (including xdg-go/scram) require at least.
const scramIterations = 4096

// saltSize is the salt length of new SCRAM credentials and of decoys.
const saltSize = 16

// scramHashes maps each SCRAM mechanism to its hash function.
var scramHashes = map[string]scram.HashGeneratorFcn{
	ScramSHA256: scram.SHA256,
	ScramSHA512: scram.SHA512,
}

// Credentials are one user's stored secrets, as returned by UserStore.
// Implementations must be safe for concurrent use.
type Credentials interface {
	// VerifyPassword reports whether password, as the PLAIN client sent
	// it, is the user's. Implementations should normalize it the way they
	// normalized the password at creation (SASLprep, RFC 4013) and compare
	// in constant time. Unknown users are checked against a
	// NewPasswordCredentials decoy instead, so an implementation much
	// faster or slower than that lets response times reveal which users
	// exist.
	VerifyPassword(password string) bool
	// Scram returns the stored credentials for a SCRAM mechanism
	// (ScramSHA256 or ScramSHA512), computed when the user was created; a
	// store never needs the password itself. false means the user cannot
	// use that mechanism, which fails like a wrong password.
	Scram(mech string) (scram.StoredCredentials, bool)
}

// UserStore finds the credentials of password users. User names are looked
// up exactly as the client sent them (after SCRAM's "=2C"/"=3D" decoding);
// SCRAM clients SASLprep them first (RFC 5802 §5.1), so a store should hold
// normalized names. Implementations must be safe for concurrent use.
type UserStore interface {
	Lookup(user string) (Credentials, bool)
}

// MemoryUsers is a UserStore over a map from user name to credentials. It
// must not be modified while an Authenticator uses it.
type MemoryUsers map[string]Credentials

// Lookup implements UserStore.
func (m MemoryUsers) Lookup(user string) (Credentials, bool) {
	c, ok := m[user]
	return c, ok && c != nil
}

// passwordCredentials keeps SCRAM StoredCredentials for each hash and nothing
// else: PLAIN is checked by recomputing the SCRAM-SHA-256 StoredKey from
// the offered password, so no password or password-equivalent is stored.
// It is immutable, hence safe for concurrent use.
type passwordCredentials struct {
	scram map[string]scram.StoredCredentials // by mechanism name
}

// NewPasswordCredentials derives in-memory credentials from password: for
// each of SCRAM-SHA-256 and SCRAM-SHA-512 a fresh random salt, 4096
// iterations and the StoredKey and ServerKey of RFC 5802 §3. The password is
// normalized with SASLprep (RFC 4013) first, as RFC 5802 §2.2 requires; a
// password that fails SASLprep or is empty after it is refused with
// ErrInvalidCredentials. Deriving costs two PBKDF2 runs, so callers creating
// many users should do it once, at user creation.
func NewPasswordCredentials(password string) (Credentials, error) {
	prepped, err := stringprep.SASLprep.Prepare(password)
	if err != nil {
		return nil, fmt.Errorf("%w: password: %v", ErrInvalidCredentials, err)
	}
	if prepped == "" {
		return nil, fmt.Errorf("%w: empty password", ErrInvalidCredentials)
	}
	c := &passwordCredentials{scram: map[string]scram.StoredCredentials{}}
	for mech, h := range scramHashes {
		salt := make([]byte, saltSize)
		rand.Read(salt) // never fails since Go 1.24
		sc, err := deriveScram(h, prepped, salt, scramIterations)
		if err != nil {
			return nil, fmt.Errorf("sasl: %s credentials: %w", mech, err)
		}
		c.scram[mech] = sc
	}
	return c, nil
}

// VerifyPassword implements Credentials.
func (c *passwordCredentials) VerifyPassword(password string) bool {
	want := c.scram[ScramSHA256]
	prepped, err := stringprep.SASLprep.Prepare(password)
	if err != nil {
		return false
	}
	got, err := deriveScram(sha256.New, prepped, []byte(want.Salt), want.Iters)
	return err == nil && subtle.ConstantTimeCompare(got.StoredKey, want.StoredKey) == 1
}

// Scram implements Credentials.
func (c *passwordCredentials) Scram(mech string) (scram.StoredCredentials, bool) {
	sc, ok := c.scram[mech]
	return sc, ok
}

// deriveScram computes the values a SCRAM server stores (RFC 5802 §3):
//
//	SaltedPassword := Hi(Normalize(password), salt, i)
//	ClientKey      := HMAC(SaltedPassword, "Client Key")
//	StoredKey      := H(ClientKey)
//	ServerKey      := HMAC(SaltedPassword, "Server Key")
//
// Hi is PBKDF2 with HMAC-H and an output as long as H's. prepped must
// already be normalized.
func deriveScram(h func() hash.Hash, prepped string, salt []byte, iters int) (scram.StoredCredentials, error) {
	salted, err := pbkdf2.Key(h, prepped, salt, iters, h().Size())
	if err != nil {
		return scram.StoredCredentials{}, err
	}
	clientKey := hmacSum(h, salted, "Client Key")
	storedKey := h()
	storedKey.Write(clientKey)
	return scram.StoredCredentials{
		KeyFactors: scram.KeyFactors{Salt: string(salt), Iters: iters},
		StoredKey:  storedKey.Sum(nil),
		ServerKey:  hmacSum(h, salted, "Server Key"),
	}, nil
}

func hmacSum(h func() hash.Hash, key []byte, msg string) []byte {
	m := hmac.New(h, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}
