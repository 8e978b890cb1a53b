// Package sasl implements the SASL mechanisms of enmasse's AMQP 1.0 engine,
// server and client side, at the byte level: ANONYMOUS (RFC 4505), PLAIN
// (RFC 4616), EXTERNAL (RFC 4422 Appendix A), SCRAM-SHA-256/-512 (RFC
// 5802, RFC 7677), OAUTHBEARER (RFC 7628) and XOAUTH2 (Google's bearer
// token mechanism, which Keycloak-era EnMasse offered). It knows nothing of
// AMQP framing; the transport package
// carries the SASL frames and calls in here for their contents.
//
// # The AMQP 1.0 exchange
//
// SASL runs after the SASL protocol header ("AMQP" 3 1 0 0, AMQP 1.0 §5.3.1)
// and before the AMQP one, as a fixed sequence of frames (§5.3.2):
//
//	server                                 client
//	sasl-mechanisms (§5.3.3.1)       →
//	  Authenticator.Mechanisms             SelectClient picks one
//	                                 ←     sasl-init (§5.3.3.2): mechanism,
//	                                         ClientMech.InitialResponse, hostname
//	Authenticator.Start, then
//	ServerMech.Step(initial-response)
//	sasl-challenge (§5.3.3.3)        →     ClientMech.Step
//	                                 ←     sasl-response (§5.3.3.4)
//	ServerMech.Step(response)
//	   … as many rounds as the mechanism needs …
//	sasl-outcome (§5.3.3.5): code,   →     ClientMech.Verify(additional-data)
//	  additional-data                        when the code is ok
//
// A Step that returns done=true with a nil error ends with sasl-outcome code
// ok and the returned bytes as additional-data (none if nil); a Step that
// fails ends with the code of the *Error it returns and no additional-data,
// since AMQP sets that field only on success. The outcome codes (sasl-code,
// §5.3.3.6) are:
//
//	ok        CodeOK       authenticated; ServerMech.Identity is the peer
//	auth      CodeAuth     bad credentials, bad message or mechanism not
//	                       offered; retrying the same thing will fail again
//	sys       CodeSys      a system error on the server (here: a caller bug)
//	sys-perm  CodeSysPerm  a system error needing intervention
//	sys-temp  CodeSysTemp  a system error that may clear; retry later
//
// sasl-outcome carries no text, so Error.Reason is for the server's logs,
// never the peer. Even so, an unknown user and a wrong password produce the
// same error value (ErrAuthFailed), so logs cannot be mined for which users
// exist either.
//
// An empty Mechanisms list means the connection cannot authenticate at all;
// AMQP forbids an empty sasl-server-mechanisms (§5.3.3.1), so the transport
// closes the connection instead of sending one.
//
// # Mechanisms on the wire
//
//	ANONYMOUS      sasl-init carries optional trace text, which is ignored;
//	               outcome ok at once. Offered only if Config.AllowAnonymous.
//	PLAIN          sasl-init carries authzid NUL authcid NUL passwd (each at
//	               most 255 octets); outcome at once. Offered only over TLS,
//	               from a loopback address or with AllowPlainWithoutTLS
//	               (RFC 4616 §3).
//	EXTERNAL       sasl-init carries the authorization identity, usually
//	               empty; the identity itself comes from the verified TLS
//	               client certificate. Offered only when there is one and
//	               Config.ExternalUser maps it to a user.
//	OAUTHBEARER    sasl-init carries gs2-header ("n,a=authzid,") kvsep
//	               "auth=Bearer " token kvsep kvsep (RFC 7628 §3.1);
//	XOAUTH2        sasl-init carries "user=" user kvsep "auth=Bearer "
//	               token kvsep kvsep (kvsep is 0x01). Config.Tokens checks
//	               the token (for serve: JWT validation, internal/oidc,
//	               and the MessagingUser mapping). Offered only with
//	               Config.Tokens, and where PLAIN would be (RFC 7628 §5).
//	               Success is outcome ok at once. A refused token is
//	               answered with a sasl-challenge carrying the error JSON
//	               (RFC 7628 §3.2.2: {"status":"invalid_token",
//	               "openid-configuration":URL}; XOAUTH2:
//	               {"status":"401","schemes":"bearer"}), the client
//	               acknowledges it (kvsep, or empty for XOAUTH2) and the
//	               outcome is auth. The JSON never says why; the Error's
//	               Reason (expired, bad signature, ...) is for the logs.
//	               A token that could not be checked (issuer keys
//	               unavailable) fails at once with sys-temp. The client
//	               side keeps the error JSON (FailureDetail) and the
//	               transport puts it in its SASLError.
//	SCRAM-SHA-*    sasl-init carries the client-first-message, the one
//	               sasl-challenge the server-first-message, the
//	               sasl-response the client-final-message, and the
//	               server-final-message ("v=" ServerSignature) travels in
//	               sasl-outcome's additional-data. The client's Verify checks
//	               it, so a client knows it reached a server holding its
//	               credentials, not an impostor that merely said "ok".
//
// The client-first mechanisms expect their first message in sasl-init. If a
// client sends no initial-response (null), PLAIN and SCRAM answer with an
// empty challenge and take the message from the sasl-response (RFC 4422 §5);
// ANONYMOUS and EXTERNAL, whose message may be empty anyway, take null as
// the empty message, because some clients encode an empty initial-response
// as null. The client side accepts the reverse variations: an empty
// challenge is answered with the message again, and a SCRAM
// server-final-message sent as a challenge (with a data-less outcome after
// it, as RFC 4422 §5 allows) is verified there.
//
// Authorization identities: every mechanism that carries one accepts it only
// if it is empty or equal to the authenticated user (ErrAuthzDenied
// otherwise). Acting as someone else is a policy this layer does not have.
// OAUTHBEARER and XOAUTH2 are the exception: their authorization identity
// goes to the TokenVerifier, which decides (serve uses it to name the
// address space, `[user]@space`, as PLAIN's user name does).
//
// # SCRAM details
//
// The SCRAM state machines are github.com/xdg-go/scram's; this package adds
// the policy around them. Channel binding is not supported and no -PLUS
// mechanism is offered, so per RFC 5802 §6 the gs2 flag 'n' (client does not
// support it) and 'y' (client supports it but thinks the server does not)
// are accepted and 'p' (client requires it) is refused with
// ErrChannelBinding. SCRAM extensions ("m=") are refused.
//
// A user the store does not know, or one without credentials for the chosen
// hash, gets decoy credentials: a salt derived from a per-Authenticator
// secret and the user name (so it is stable across attempts, like a real
// salt), 4096 iterations and random keys. The exchange then runs to the
// proof check and fails there with ErrAuthFailed, exactly as a wrong
// password does and in about the same time. PLAIN does the same with a decoy
// password check. (Across a restart the secret changes, so an unknown
// user's salt changes where a real one's would not.)
//
// Stored credentials never include the password: NewPasswordCredentials
// keeps, per hash, the salt, iteration count, StoredKey and ServerKey of RFC
// 5802 §3, and checks PLAIN passwords by recomputing the SCRAM-SHA-256
// StoredKey and comparing in constant time. Passwords are normalized with
// SASLprep (RFC 4013) on both sides, as RFC 5802 §2.2 requires, so PLAIN
// and SCRAM agree on which passwords are equal.
//
// # Limits and concurrency
//
// A server mechanism refuses any message over MaxMessageSize (64 KiB) with
// ErrMessageTooLarge before parsing it, refuses every Step after it
// finished with ErrExchangeDone, and never panics on any input
// (FuzzServerMechs). The SCRAM client refuses iteration counts above 2^20,
// which would otherwise let a hostile server burn the client's CPU.
//
// An Authenticator is immutable and safe for concurrent use; each
// ServerMech and ClientMech is one exchange, driven by one goroutine.
package sasl
