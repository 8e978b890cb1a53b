package sasl

import (
	"errors"
	"fmt"
)

// Code is the code field of sasl-outcome (AMQP 1.0 §5.3.3.5), of type
// sasl-code (§5.3.3.6).
type Code uint8

// Outcome codes, AMQP 1.0 §5.3.3.6.
const (
	// CodeOK: authentication succeeded.
	CodeOK Code = 0
	// CodeAuth: the credentials were rejected (bad user, password,
	// certificate, message or authorization identity). Retrying with the
	// same credentials will fail again.
	CodeAuth Code = 1
	// CodeSys: an unspecified system error on the server.
	CodeSys Code = 2
	// CodeSysPerm: a system error unlikely to be corrected without
	// intervention.
	CodeSysPerm Code = 3
	// CodeSysTemp: a system error likely to clear by itself; the client may
	// retry later.
	CodeSysTemp Code = 4
)

// String returns the code's name in AMQP 1.0 §5.3.3.6 ("ok", "auth", ...).
func (c Code) String() string {
	switch c {
	case CodeOK:
		return "ok"
	case CodeAuth:
		return "auth"
	case CodeSys:
		return "sys"
	case CodeSysPerm:
		return "sys-perm"
	case CodeSysTemp:
		return "sys-temp"
	}
	return fmt.Sprintf("sasl-code(%d)", uint8(c))
}

// Error is a failed SASL exchange. On the server, Code is what the transport
// puts in sasl-outcome; Reason is for local logs only, since sasl-outcome
// carries no text and must not tell the peer why. On the client, the
// transport builds an Error from the sasl-outcome code it received.
//
// Every error from Authenticator.Start and ServerMech.Step is an *Error:
// either one of the server-side sentinels below or an Error that refines one
// with a more specific Reason and matches it with errors.Is.
type Error struct {
	Code   Code
	Reason string

	base *Error // the sentinel this error refines, for errors.Is
}

// Error implements error.
func (e *Error) Error() string {
	return "sasl " + e.Code.String() + ": " + e.Reason
}

// Unwrap returns the sentinel e refines, or nil if e is a sentinel.
func (e *Error) Unwrap() error {
	if e.base == nil {
		return nil
	}
	return e.base
}

// refine returns an Error with base's code and a more specific reason that
// still matches base with errors.Is.
func refine(base *Error, format string, args ...any) *Error {
	return &Error{Code: base.Code, Reason: fmt.Sprintf(format, args...), base: base}
}

// Server-side failures. Each is an *Error, so the transport can always find
// the outcome code with errors.As.
var (
	// ErrUnsupportedMechanism: the client chose a mechanism that was not
	// offered on this connection (or the name is unknown to NewScramClient).
	ErrUnsupportedMechanism = &Error{Code: CodeAuth, Reason: "mechanism not offered"}
	// ErrAuthFailed: the credentials did not check out. Unknown users, wrong
	// passwords, missing SCRAM credentials and unmapped certificates all
	// return this same value, so neither the outcome nor the logs reveal
	// which one it was.
	ErrAuthFailed = &Error{Code: CodeAuth, Reason: "authentication failed"}
	// ErrAuthzDenied: the credentials were right but the client asked to act
	// as a different authorization identity, which this package never
	// allows (RFC 4422 §3.4.1).
	ErrAuthzDenied = &Error{Code: CodeAuth, Reason: "authorization identity not permitted"}
	// ErrMalformed: the client's message does not follow the mechanism's
	// grammar. Refined errors say which rule was broken.
	ErrMalformed = &Error{Code: CodeAuth, Reason: "malformed SASL message"}
	// ErrMessageTooLarge: a client message exceeded MaxMessageSize and was
	// refused unread.
	ErrMessageTooLarge = &Error{Code: CodeAuth, Reason: "SASL message too large"}
	// ErrChannelBinding: a SCRAM client demanded channel binding (gs2 flag
	// 'p', RFC 5802 §6); no -PLUS mechanism is offered, so it is refused.
	ErrChannelBinding = &Error{Code: CodeAuth, Reason: "SCRAM channel binding not supported"}
	// ErrExchangeDone: Step was called after the exchange had finished or
	// failed. This is a bug in the caller, hence CodeSys.
	ErrExchangeDone = &Error{Code: CodeSys, Reason: "SASL exchange already finished"}
)

// Client-side failures. They do not carry an outcome code because the client
// never sends one.
var (
	// ErrNoCommonMechanism: SelectClient found none of the client's
	// mechanisms among those the server offered.
	ErrNoCommonMechanism = errors.New("sasl: no mechanism in common with the server")
	// ErrServerVerification: the server failed to prove it knows the SCRAM
	// credentials (missing, malformed or wrong server-final-message, RFC 5802
	// §3 ServerSignature), or reported a SCRAM error ("e=").
	ErrServerVerification = errors.New("sasl: server verification failed")
	// ErrUnexpectedServerData: the server sent a challenge or outcome
	// additional-data the mechanism does not define.
	ErrUnexpectedServerData = errors.New("sasl: unexpected data from server")
	// ErrInvalidCredentials: a user name, password or authorization identity
	// cannot be sent with the mechanism (empty, too long, contains NUL, or
	// fails SASLprep, RFC 4013).
	ErrInvalidCredentials = errors.New("sasl: invalid credentials")
	// ErrOutOfOrder: a ClientMech method was called out of sequence (Step
	// before InitialResponse, InitialResponse twice, ...).
	ErrOutOfOrder = errors.New("sasl: client exchange out of order")
)
