package sasl

import (
	"crypto/tls"
	"net"
	"time"
)

// Mechanism names as registered with IANA and sent in sasl-mechanisms and
// sasl-init (AMQP 1.0 §5.3.3.1, §5.3.3.2).
const (
	Anonymous   = "ANONYMOUS"     // RFC 4505
	Plain       = "PLAIN"         // RFC 4616
	External    = "EXTERNAL"      // RFC 4422 Appendix A
	ScramSHA256 = "SCRAM-SHA-256" // RFC 7677
	ScramSHA512 = "SCRAM-SHA-512" // RFC 5802 with SHA-512, same construction as RFC 7677
	OAuthBearer = "OAUTHBEARER"   // RFC 7628
	XOAuth2     = "XOAUTH2"       // Google's pre-RFC 7628 bearer token mechanism
)

// MaxMessageSize bounds every client message a server mechanism accepts. No
// mechanism here needs more than a few hundred bytes; a larger message is
// refused with CodeAuth before it is parsed.
const MaxMessageSize = 64 << 10

// ConnInfo is what the server knows about the connection when SASL runs.
type ConnInfo struct {
	// TLS is the state of the completed handshake, or nil when the
	// connection is not TLS. It counts as TLS only if HandshakeComplete is
	// set; EXTERNAL also needs a verified peer chain (VerifiedChains).
	TLS        *tls.ConnectionState
	RemoteAddr net.Addr
	LocalAddr  net.Addr
	// Hostname is the sasl-init hostname field (AMQP 1.0 §5.3.3.2), if the
	// client sent one. The built-in Authenticator ignores it; a multi-tenant
	// one can use it to pick the address space.
	Hostname string
}

// Identity is the authenticated peer.
type Identity struct {
	User      string // "" for anonymous
	Mechanism string // the mechanism that authenticated it, e.g. ScramSHA256
	Anonymous bool   // true only for ANONYMOUS
	// Expires is when the credential stops being valid (a bearer token's
	// expiry); the connection it authenticated ends then. Zero: never.
	Expires time.Time
}

// Authenticator is the server-side policy: which mechanisms a connection is
// offered and how each one checks credentials. NewAuthenticator returns the
// built-in one; a later security layer implements it against MessagingUsers.
// Implementations must be safe for concurrent use by many connections.
type Authenticator interface {
	// Mechanisms lists the mechanisms offered on this connection in
	// preference order, for sasl-mechanisms (AMQP 1.0 §5.3.3.1).
	Mechanisms(info ConnInfo) []string
	// Start begins one exchange for the mechanism the client chose in
	// sasl-init. It fails with an error matching ErrUnsupportedMechanism if
	// mech is not among Mechanisms(info).
	Start(mech string, info ConnInfo) (ServerMech, error)
}

// ServerMech is one server-side exchange. It is driven by one goroutine and
// is not safe for concurrent use.
type ServerMech interface {
	// Step consumes the client's next message: first the sasl-init
	// initial-response (nil if none was sent), then each sasl-response. It
	// returns either a challenge to send in sasl-challenge (done=false), or
	// done=true with the additional-data for a sasl-outcome with CodeOK
	// (nil when the mechanism has none).
	//
	// On failure err is an *Error whose Code goes into sasl-outcome and done
	// is true; the exchange is over and every later Step fails with
	// ErrExchangeDone. A failed authentication is CodeAuth and never reveals
	// whether the user exists.
	Step(response []byte) (challenge []byte, done bool, err error)
	// Identity is the authenticated peer; it is valid only after Step
	// returned done with a nil error, and the zero Identity otherwise.
	Identity() Identity
}

// ClientMech is one client-side exchange. It is driven by one goroutine and
// is not safe for concurrent use; create a new one for each connection
// attempt.
type ClientMech interface {
	// Name is the mechanism name to put in sasl-init.
	Name() string
	// InitialResponse is the sasl-init initial-response. It is called once,
	// before any Step.
	InitialResponse() ([]byte, error)
	// Step answers one sasl-challenge with the next sasl-response.
	Step(challenge []byte) ([]byte, error)
	// Verify checks the additional-data of a sasl-outcome with CodeOK. For
	// SCRAM it is the server-final-message and Verify fails unless it proves
	// the server knows the credentials; for the other mechanisms nil or
	// empty data is accepted and anything else is an error.
	Verify(additionalData []byte) error
}
