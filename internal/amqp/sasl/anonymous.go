package sasl

import (
	"strings"
	"unicode/utf8"
)

// maxTraceRunes is the longest ANONYMOUS trace (RFC 4505 §2: 1*255TCHAR, or
// an email address, which is shorter).
const maxTraceRunes = 255

// anonymousServer accepts any ANONYMOUS message (RFC 4505 §2). The trace
// information is neither checked nor kept: it is unauthenticated text that
// the client chose.
type anonymousServer struct{}

// step completes on the first message. A nil initial response is taken as
// an empty trace rather than answered with an empty challenge (RFC 4422 §5):
// the trace is optional, and some AMQP clients encode an empty
// initial-response as null.
func (anonymousServer) step([]byte) ([]byte, bool, error) {
	return nil, true, nil
}

func (anonymousServer) identity() Identity {
	return Identity{Mechanism: Anonymous, Anonymous: true}
}

// NewAnonymousClient returns an ANONYMOUS client (RFC 4505) sending trace,
// which may be empty, as its message. A trace that is not UTF-8, contains
// NUL or is longer than 255 characters is reported by InitialResponse.
func NewAnonymousClient(trace string) ClientMech {
	c := &oneShotClient{name: Anonymous, msg: []byte(trace)}
	if !utf8.ValidString(trace) || strings.IndexByte(trace, 0) >= 0 || utf8.RuneCountInString(trace) > maxTraceRunes {
		c.msg, c.err = nil, ErrInvalidCredentials
	}
	return c
}
