package sasl

import (
	"crypto/rand"
	"crypto/x509"
	"fmt"
	"net"
	"net/netip"
	"slices"

	"github.com/xdg-go/scram"
)

// Config is the policy of the built-in Authenticator. The zero value offers
// nothing, so every connection fails SASL.
type Config struct {
	// AllowAnonymous offers ANONYMOUS on every connection.
	AllowAnonymous bool
	// Users holds the password users for PLAIN and SCRAM. nil means no
	// password users: neither PLAIN nor SCRAM is offered.
	Users UserStore
	// AllowPlainWithoutTLS offers PLAIN on connections that are not TLS.
	// Without it PLAIN is offered only over TLS or when the remote address
	// is a loopback IP (RFC 4616 §3: PLAIN SHOULD NOT be offered without
	// confidentiality).
	AllowPlainWithoutTLS bool
	// ExternalUser maps a verified client certificate to a user name for
	// EXTERNAL, or reports false to refuse it. nil uses the Subject
	// CommonName and refuses certificates without one.
	ExternalUser func(cert *x509.Certificate) (string, bool)
	// Tokens checks OAUTHBEARER and XOAUTH2 bearer tokens. nil means
	// neither is offered; otherwise they are offered where PLAIN would
	// be (a bearer token is as much a secret as a password, RFC 7628 §5).
	Tokens TokenVerifier
	// TokenDiscoveryURL is the issuer's OpenID configuration URL, sent in
	// OAUTHBEARER error responses (RFC 7628 §3.2.2); "" leaves it out.
	TokenDiscoveryURL string
}

// NewAuthenticator returns an Authenticator implementing cfg. It offers, in
// this order: EXTERNAL (TLS with a verified client certificate that
// ExternalUser maps), SCRAM-SHA-512 and SCRAM-SHA-256 (Users set),
// OAUTHBEARER and XOAUTH2 (Tokens set), PLAIN (Users set) — these three
// only over TLS, from loopback or with AllowPlainWithoutTLS — and ANONYMOUS
// (AllowAnonymous). It is safe for concurrent use as long as cfg.Users and
// cfg.Tokens are.
func NewAuthenticator(cfg Config) Authenticator {
	if cfg.ExternalUser == nil {
		cfg.ExternalUser = commonName
	}
	a := &authenticator{cfg: cfg}
	rand.Read(a.decoyKey[:]) // never fails since Go 1.24
	if cfg.Users != nil {
		// The decoy costs what a real PLAIN check costs. Random base32
		// text always passes SASLprep, so this cannot fail.
		a.decoy, _ = NewPasswordCredentials(rand.Text())
	}
	a.scram = map[string]*scram.Server{}
	for mech, h := range scramHashes {
		srv, err := h.NewServer(a.scramLookup(mech))
		if err != nil {
			panic(fmt.Sprintf("sasl: scram.NewServer: %v", err)) // only fails on a nil hash
		}
		a.scram[mech] = srv
	}
	return a
}

// authenticator is immutable after NewAuthenticator, so any number of
// connections may use it at once.
type authenticator struct {
	cfg Config
	// decoy is checked instead of a real user's credentials when a PLAIN
	// user is unknown, so the check takes as long as for a known user.
	decoy Credentials
	// decoyKey derives the stable fake SCRAM salts of unknown users.
	decoyKey [32]byte
	scram    map[string]*scram.Server // by mechanism name
}

func commonName(cert *x509.Certificate) (string, bool) {
	cn := cert.Subject.CommonName
	return cn, cn != ""
}

// Mechanisms implements Authenticator.
func (a *authenticator) Mechanisms(info ConnInfo) []string {
	var mechs []string
	if _, ok := a.externalUser(info); ok {
		mechs = append(mechs, External)
	}
	confidential := isTLS(info) || a.cfg.AllowPlainWithoutTLS || isLoopback(info.RemoteAddr)
	if a.cfg.Users != nil {
		mechs = append(mechs, ScramSHA512, ScramSHA256)
	}
	if a.cfg.Tokens != nil && confidential {
		mechs = append(mechs, OAuthBearer, XOAuth2)
	}
	if a.cfg.Users != nil && confidential {
		mechs = append(mechs, Plain)
	}
	if a.cfg.AllowAnonymous {
		mechs = append(mechs, Anonymous)
	}
	return mechs
}

// Start implements Authenticator.
func (a *authenticator) Start(mech string, info ConnInfo) (ServerMech, error) {
	if !slices.Contains(a.Mechanisms(info), mech) {
		return nil, refine(ErrUnsupportedMechanism, "mechanism %q not offered", mech)
	}
	var m stepper
	switch mech {
	case Anonymous:
		m = &anonymousServer{}
	case Plain:
		m = &plainServer{users: a.cfg.Users, decoy: a.decoy}
	case External:
		user, _ := a.externalUser(info)
		m = &externalServer{user: user}
	case ScramSHA256, ScramSHA512:
		m = &scramServer{mech: mech, conv: a.scram[mech].NewConversation()}
	case OAuthBearer, XOAuth2:
		m = &oauthServer{mech: mech, tokens: a.cfg.Tokens, info: info, discovery: a.cfg.TokenDiscoveryURL}
	}
	return &guard{mech: m}, nil
}

// externalUser is the user EXTERNAL would authenticate on this connection,
// and whether EXTERNAL is possible at all.
func (a *authenticator) externalUser(info ConnInfo) (string, bool) {
	if !isTLS(info) || len(info.TLS.VerifiedChains) == 0 || len(info.TLS.VerifiedChains[0]) == 0 {
		return "", false
	}
	user, ok := a.cfg.ExternalUser(info.TLS.VerifiedChains[0][0])
	return user, ok && user != ""
}

func isTLS(info ConnInfo) bool {
	return info.TLS != nil && info.TLS.HandshakeComplete
}

// isLoopback reports whether addr is a loopback IP address. Anything that is
// not an IP (a pipe, a Unix socket) does not count.
func isLoopback(addr net.Addr) bool {
	switch a := addr.(type) {
	case nil:
		return false
	case *net.TCPAddr:
		return a.IP.IsLoopback()
	}
	ap, err := netip.ParseAddrPort(addr.String())
	return err == nil && ap.Addr().IsLoopback()
}

// stepper is one mechanism's state machine. guard wraps it with the checks
// every mechanism needs, so a stepper sees at most MaxMessageSize bytes and
// is never stepped after it finished.
type stepper interface {
	step(response []byte) (challenge []byte, done bool, err error)
	identity() Identity
}

// guard is the ServerMech returned by Start.
type guard struct {
	mech     stepper
	finished bool // done or failed; further Steps are refused
	ok       bool // finished with success
}

// Step implements ServerMech.
func (g *guard) Step(response []byte) ([]byte, bool, error) {
	if g.finished {
		return nil, true, ErrExchangeDone
	}
	if len(response) > MaxMessageSize {
		g.finished = true
		return nil, true, refine(ErrMessageTooLarge, "SASL message of %d bytes exceeds %d", len(response), MaxMessageSize)
	}
	challenge, done, err := g.mech.step(response)
	if err != nil {
		g.finished = true
		return nil, true, err
	}
	if done {
		g.finished, g.ok = true, true
	}
	return challenge, done, nil
}

// Identity implements ServerMech.
func (g *guard) Identity() Identity {
	if !g.ok {
		return Identity{}
	}
	return g.mech.identity()
}
