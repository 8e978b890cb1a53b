package sasl

import (
	"bytes"
	"strings"
	"unicode/utf8"
)

// externalServer completes EXTERNAL (RFC 4422 Appendix A) for a user already
// established by the TLS layer: Start only creates one when the connection
// has a verified client certificate that Config.ExternalUser mapped to user.
type externalServer struct {
	user string
}

// step reads the client's authorization identity (possibly empty). As for
// ANONYMOUS, a nil initial response is taken as the empty message
// instead of being answered with an empty challenge.
func (e *externalServer) step(authzid []byte) ([]byte, bool, error) {
	if !utf8.Valid(authzid) || bytes.IndexByte(authzid, 0) >= 0 {
		return nil, true, refine(ErrMalformed, "EXTERNAL authzid is not a UTF-8 string without NUL")
	}
	if len(authzid) != 0 && string(authzid) != e.user {
		return nil, true, refine(ErrAuthzDenied, "EXTERNAL user %q asked to act as %q", e.user, authzid)
	}
	return nil, true, nil
}

func (e *externalServer) identity() Identity {
	return Identity{User: e.user, Mechanism: External}
}

// NewExternalClient returns an EXTERNAL client (RFC 4422 Appendix A) that
// relies on the TLS client certificate and asks to act as authzid; empty
// means "whoever the certificate says". An authzid that is not UTF-8 or
// contains NUL is reported by InitialResponse.
func NewExternalClient(authzid string) ClientMech {
	c := &oneShotClient{name: External, msg: []byte(authzid)}
	if !utf8.ValidString(authzid) || strings.IndexByte(authzid, 0) >= 0 {
		c.msg, c.err = nil, ErrInvalidCredentials
	}
	return c
}
