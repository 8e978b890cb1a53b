package sasl

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"strconv"
	"strings"

	"github.com/xdg-go/scram"
)

// scramServer runs one SCRAM exchange (RFC 5802 §3, §5) through an
// xdg-go/scram server conversation:
//
//	client-first-message  → sasl-init initial-response
//	server-first-message  ← sasl-challenge
//	client-final-message  → sasl-response
//	server-final-message  ← sasl-outcome additional-data (code ok)
type scramServer struct {
	mech string
	conv *scram.ServerConversation

	challenged bool // an empty challenge asked for the client-first-message
	first      bool // the client-first-message was accepted
}

func (s *scramServer) step(response []byte) ([]byte, bool, error) {
	if !s.first {
		if response == nil && !s.challenged {
			// SCRAM is client-first (RFC 5802 §5); without an initial
			// response, ask for it (RFC 4422 §5, step 3).
			s.challenged = true
			return []byte{}, false, nil
		}
		serverFirst, err := s.conv.Step(string(response))
		if err != nil {
			return nil, true, s.failure(serverFirst, err)
		}
		s.first = true
		return []byte(serverFirst), false, nil
	}
	serverFinal, err := s.conv.Step(string(response))
	if err != nil || !s.conv.Valid() {
		return nil, true, s.failure(serverFinal, err)
	}
	// The proof is checked before the authzid, so ErrAuthzDenied means the
	// password was right.
	if authz := s.conv.AuthzID(); authz != "" && authz != s.conv.Username() {
		return nil, true, refine(ErrAuthzDenied, "%s user %q asked to act as %q", s.mech, s.conv.Username(), authz)
	}
	return []byte(serverFinal), true, nil
}

func (s *scramServer) identity() Identity {
	return Identity{User: s.conv.Username(), Mechanism: s.mech}
}

// failure maps an xdg-go/scram failure, given as its RFC 5802 §7 server-error
// value (e.g. "e=invalid-proof", possibly empty) and Go error, to ours. The
// "e=" value is not sent: AMQP has no failed outcome with additional-data.
func (s *scramServer) failure(serverError string, err error) *Error {
	switch serverError {
	case scram.ErrInvalidProof, scram.ErrUnknownUser:
		return ErrAuthFailed
	case scram.ErrChannelBindingNotSupported, scram.ErrUnsupportedChannelBindingType,
		scram.ErrServerDoesSupportChannelBinding:
		return ErrChannelBinding
	}
	if err == nil {
		// Step succeeded but the conversation is not valid; xdg-go/scram
		// never does this, but a missing proof must not pass.
		return ErrAuthFailed
	}
	return refine(ErrMalformed, "%s: %v", s.mech, err)
}

// scramLookup is the xdg-go/scram CredentialLookup for mech. It never fails:
// users that are unknown, or have no credentials for mech, get decoy
// credentials, so the exchange runs to the proof check and fails there
// exactly like a wrong password, in the same time.
func (a *authenticator) scramLookup(mech string) scram.CredentialLookup {
	return func(user string) (scram.StoredCredentials, error) {
		if a.cfg.Users != nil {
			if creds, ok := a.cfg.Users.Lookup(user); ok && creds != nil {
				if sc, ok := creds.Scram(mech); ok {
					return sc, nil
				}
			}
		}
		return a.decoyScram(mech, user), nil
	}
}

// decoyScram returns credentials no password matches. The salt is derived
// from a per-Authenticator secret and the user name, so repeated attempts
// for one unknown user see the same salt, as they would for a real user; a
// salt that changed on every attempt would reveal that the user does not
// exist. (Across restarts the secret, hence the salt, changes.)
func (a *authenticator) decoyScram(mech, user string) scram.StoredCredentials {
	m := hmac.New(sha256.New, a.decoyKey[:])
	m.Write([]byte(mech))
	m.Write([]byte{0})
	m.Write([]byte(user))
	size := scramHashes[mech]().Size()
	keys := make([]byte, 2*size)
	rand.Read(keys) // never fails since Go 1.24
	return scram.StoredCredentials{
		KeyFactors: scram.KeyFactors{Salt: string(m.Sum(nil)[:saltSize]), Iters: scramIterations},
		StoredKey:  keys[:size],
		ServerKey:  keys[size:],
	}
}

// scramClient states.
const (
	scramNew       = iota
	scramSentFirst // client-first-message sent, expecting server-first-message
	scramSentFinal // client-final-message sent, expecting server-final-message
	scramVerified  // server-final-message checked out
	scramFailed
)

// scramClient is the client side of SCRAM-SHA-256/512 over an xdg-go/scram
// client conversation. It only ever uses gs2 flag 'n': no channel binding.
type scramClient struct {
	mech  string
	conv  *scram.ClientConversation
	state int
}

// NewScramClient returns a SCRAM client for mech (ScramSHA256 or
// ScramSHA512) with no authorization identity. user and pass are normalized
// with SASLprep (RFC 5802 §2.2); an empty one, or one SASLprep refuses,
// fails with ErrInvalidCredentials. An unknown mech fails with
// ErrUnsupportedMechanism.
func NewScramClient(mech, user, pass string) (ClientMech, error) {
	h, ok := scramHashes[mech]
	if !ok {
		return nil, refine(ErrUnsupportedMechanism, "%q is not a SCRAM mechanism", mech)
	}
	if user == "" || pass == "" {
		return nil, fmt.Errorf("%w: empty user name or password", ErrInvalidCredentials)
	}
	c, err := h.NewClient(user, pass, "")
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidCredentials, err)
	}
	return &scramClient{mech: mech, conv: c.NewConversation()}, nil
}

// Name implements ClientMech.
func (c *scramClient) Name() string { return c.mech }

// InitialResponse returns the client-first-message.
func (c *scramClient) InitialResponse() ([]byte, error) {
	if c.state != scramNew {
		return nil, fmt.Errorf("%w: %s InitialResponse called twice", ErrOutOfOrder, c.mech)
	}
	first, err := c.conv.Step("")
	if err != nil {
		c.state = scramFailed
		return nil, fmt.Errorf("sasl: %s client-first-message: %w", c.mech, err)
	}
	c.state = scramSentFirst
	return []byte(first), nil
}

// Step answers the server-first-message with the client-final-message. A
// server that sends the server-final-message as a further challenge, as RFC
// 4422 §5 allows when additional data cannot go in the outcome, is verified
// here and answered with an empty response.
func (c *scramClient) Step(challenge []byte) ([]byte, error) {
	switch c.state {
	case scramSentFirst:
		if err := checkIterations(challenge); err != nil {
			c.state = scramFailed
			return nil, fmt.Errorf("%w: %s server-first-message: %v", ErrUnexpectedServerData, c.mech, err)
		}
		final, err := c.conv.Step(string(challenge))
		if err != nil {
			c.state = scramFailed
			return nil, fmt.Errorf("%w: %s server-first-message: %v", ErrUnexpectedServerData, c.mech, err)
		}
		c.state = scramSentFinal
		return []byte(final), nil
	case scramSentFinal:
		if err := c.verify(challenge); err != nil {
			return nil, err
		}
		return []byte{}, nil
	}
	return nil, fmt.Errorf("%w: %s challenge in state %d", ErrOutOfOrder, c.mech, c.state)
}

// maxScramIterations bounds the iteration count a client accepts. The
// client pays for every iteration the server asks for; without a bound a
// hostile server could make it spin for hours. xdg-go/scram enforces only
// the minimum (4096).
const maxScramIterations = 1 << 20

// checkIterations refuses a server-first-message ("r=...,s=...,i=...", RFC
// 5802 §7) whose iteration count exceeds maxScramIterations. Everything
// else is left to xdg-go/scram.
func checkIterations(serverFirst []byte) error {
	for _, attr := range strings.Split(string(serverFirst), ",") {
		v, ok := strings.CutPrefix(attr, "i=")
		if !ok {
			continue
		}
		if n, err := strconv.Atoi(v); err == nil && n > maxScramIterations {
			return fmt.Errorf("iteration count %d above %d", n, maxScramIterations)
		}
	}
	return nil
}

// Verify checks the server-final-message from sasl-outcome additional-data
// (AMQP 1.0 §5.3.3.5). Empty data is accepted only if Step already verified
// the server-final-message.
func (c *scramClient) Verify(additionalData []byte) error {
	switch c.state {
	case scramSentFinal:
		return c.verify(additionalData)
	case scramVerified:
		if len(additionalData) != 0 {
			return fmt.Errorf("%w: %s outcome data after server-final-message", ErrUnexpectedServerData, c.mech)
		}
		return nil
	}
	return fmt.Errorf("%w: %s outcome in state %d", ErrOutOfOrder, c.mech, c.state)
}

// verify checks a server-final-message: "v=" and the ServerSignature of RFC
// 5802 §3, compared in constant time by xdg-go/scram.
func (c *scramClient) verify(serverFinal []byte) error {
	if len(serverFinal) == 0 {
		c.state = scramFailed
		return fmt.Errorf("%w: %s: no server-final-message", ErrServerVerification, c.mech)
	}
	_, err := c.conv.Step(string(serverFinal))
	if err != nil || !c.conv.Valid() {
		c.state = scramFailed
		return fmt.Errorf("%w: %s: %v", ErrServerVerification, c.mech, err)
	}
	c.state = scramVerified
	return nil
}
