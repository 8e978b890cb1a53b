package sasl

import (
	"bytes"
	"unicode/utf8"
)

// maxPlainField is the longest authzid, authcid or passwd accepted (RFC 4616
// §2 requires accepting "up to 255 octets"; we accept no more).
const maxPlainField = 255

// plainServer checks one PLAIN message (RFC 4616 §2):
//
//	message = [authzid] UTF8NUL authcid UTF8NUL passwd
type plainServer struct {
	users UserStore
	decoy Credentials // checked for unknown users, see authenticator.decoy

	challenged bool // the empty challenge asking for the message was sent
	user       string
}

func (p *plainServer) step(response []byte) ([]byte, bool, error) {
	if response == nil && !p.challenged {
		// No initial response: PLAIN is client-first, so ask for the
		// message with an empty challenge (RFC 4422 §5, step 3).
		p.challenged = true
		return []byte{}, false, nil
	}
	authzid, authcid, passwd, err := parsePlain(response)
	if err != nil {
		return nil, true, err
	}
	creds, known := p.users.Lookup(authcid)
	if !known || creds == nil {
		known, creds = false, p.decoy
	}
	// Always run the password check so unknown users take as long as
	// known ones.
	if ok := creds.VerifyPassword(passwd); !ok || !known {
		return nil, true, ErrAuthFailed
	}
	if authzid != "" && authzid != authcid {
		return nil, true, refine(ErrAuthzDenied, "PLAIN user %q asked to act as %q", authcid, authzid)
	}
	p.user = authcid
	return nil, true, nil
}

func (p *plainServer) identity() Identity {
	return Identity{User: p.user, Mechanism: Plain}
}

// parsePlain splits a PLAIN message into its three fields and enforces the
// grammar of RFC 4616 §2: exactly two NULs, valid UTF-8, a non-empty authcid
// and passwd, and at most maxPlainField octets per field. Errors never
// quote the fields, since one of them is a password.
func parsePlain(msg []byte) (authzid, authcid, passwd string, err error) {
	fields := bytes.Split(msg, []byte{0})
	switch {
	case len(fields) != 3:
		return "", "", "", refine(ErrMalformed, "PLAIN message has %d NUL separators, want 2", len(fields)-1)
	case !utf8.Valid(msg):
		return "", "", "", refine(ErrMalformed, "PLAIN message is not valid UTF-8")
	case len(fields[1]) == 0:
		return "", "", "", refine(ErrMalformed, "PLAIN authcid is empty")
	case len(fields[2]) == 0:
		return "", "", "", refine(ErrMalformed, "PLAIN passwd is empty")
	}
	for i, f := range fields {
		if len(f) > maxPlainField {
			return "", "", "", refine(ErrMalformed, "PLAIN %s is %d octets, more than %d",
				[]string{"authzid", "authcid", "passwd"}[i], len(f), maxPlainField)
		}
	}
	return string(fields[0]), string(fields[1]), string(fields[2]), nil
}

// plainMessage encodes a PLAIN message, refusing what parsePlain would.
func plainMessage(authzid, user, pass string) ([]byte, error) {
	for _, f := range []string{authzid, user, pass} {
		if len(f) > maxPlainField || !utf8.ValidString(f) || bytes.IndexByte([]byte(f), 0) >= 0 {
			return nil, ErrInvalidCredentials
		}
	}
	if user == "" || pass == "" {
		return nil, ErrInvalidCredentials
	}
	msg := make([]byte, 0, len(authzid)+len(user)+len(pass)+2)
	msg = append(msg, authzid...)
	msg = append(msg, 0)
	msg = append(msg, user...)
	msg = append(msg, 0)
	return append(msg, pass...), nil
}

// NewPlainClient returns a PLAIN client (RFC 4616). authzid may be empty,
// meaning "act as user"; this package's server refuses any other value.
// Invalid fields (see ErrInvalidCredentials) are reported by
// InitialResponse.
func NewPlainClient(authzid, user, pass string) ClientMech {
	msg, err := plainMessage(authzid, user, pass)
	return &oneShotClient{name: Plain, msg: msg, err: err}
}
