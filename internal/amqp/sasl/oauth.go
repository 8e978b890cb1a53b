package sasl

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// TokenVerifier checks the bearer tokens of OAUTHBEARER and XOAUTH2.
// Implementations must be safe for concurrent use.
type TokenVerifier interface {
	// VerifyToken returns the user token authenticates when the client
	// asks to act as authzid ("" if it named nobody). A failure that is an
	// *Error keeps its code (CodeSysTemp: the token could not be checked
	// now); any other error is ErrAuthFailed, with its text as the
	// reason for the server's logs. expires is when the token stops
	// being accepted (zero: never); the connection ends then.
	VerifyToken(token, authzid string, info ConnInfo) (user string, expires time.Time, err error)
}

// Error responses sent as the sasl-challenge after a refused token: RFC
// 7628 §3.2.2 for OAUTHBEARER, Google's XOAUTH2 protocol for XOAUTH2. They
// never say why the token was refused.
const (
	xoauth2ErrorJSON = `{"status":"401","schemes":"bearer"}`
	kvsep            = "\x01"
)

func oauthBearerErrorJSON(discovery string) []byte {
	if discovery == "" {
		return []byte(`{"status":"invalid_token"}`)
	}
	return fmt.Appendf(nil, `{"status":"invalid_token","openid-configuration":%q}`, discovery)
}

// oauthServer runs OAUTHBEARER (RFC 7628 §3) or XOAUTH2:
//
//	client: the token message           (in sasl-init, or after an empty challenge)
//	server: ok                          (sasl-outcome)
//	   or:  error JSON                  (sasl-challenge)
//	client: kvsep (OAUTHBEARER) or ""   (sasl-response)
//	server: auth                        (sasl-outcome)
type oauthServer struct {
	mech      string
	tokens    TokenVerifier
	info      ConnInfo
	discovery string

	challenged bool   // the empty challenge asking for the message was sent
	failure    *Error // the token was refused and the error JSON sent
	user       string
	expires    time.Time
}

func (o *oauthServer) step(response []byte) ([]byte, bool, error) {
	if o.failure != nil {
		// The client acknowledged the error response (RFC 7628 §3.2.3
		// wants a single kvsep; whatever it sent, the outcome is the same).
		return nil, true, o.failure
	}
	if response == nil && !o.challenged {
		o.challenged = true
		return []byte{}, false, nil
	}
	var authzid, token string
	var err error
	if o.mech == OAuthBearer {
		authzid, token, err = parseOAuthBearer(response)
	} else {
		authzid, token, err = parseXOAuth2(response)
	}
	if err != nil {
		return nil, true, err
	}
	user, expires, err := o.tokens.VerifyToken(token, authzid, o.info)
	if err != nil {
		var se *Error
		switch {
		case errors.As(err, &se) && se.Code != CodeAuth:
			return nil, true, se // not the token's fault: no error response
		case errors.As(err, &se):
			o.failure = se
		default:
			o.failure = refine(ErrAuthFailed, "%s token refused: %v", o.mech, err)
		}
		if o.mech == OAuthBearer {
			return oauthBearerErrorJSON(o.discovery), false, nil
		}
		return []byte(xoauth2ErrorJSON), false, nil
	}
	if user == "" {
		return nil, true, refine(ErrAuthFailed, "%s token maps to no user", o.mech)
	}
	o.user, o.expires = user, expires
	return nil, true, nil
}

func (o *oauthServer) identity() Identity {
	return Identity{User: o.user, Mechanism: o.mech, Expires: o.expires}
}

// parseOAuthBearer reads an OAUTHBEARER client response (RFC 7628 §3.1):
//
//	gs2-header kvsep *kvpair kvsep, gs2-header = cbflag "," ["a=" saslname] ","
//	kvpair = key "=" value kvsep, one of them auth="Bearer" 1*SP token
func parseOAuthBearer(msg []byte) (authzid, token string, err error) {
	if !utf8.Valid(msg) {
		return "", "", refine(ErrMalformed, "OAUTHBEARER message is not valid UTF-8")
	}
	s := string(msg)
	cb, rest, ok := strings.Cut(s, ",")
	switch {
	case !ok:
		return "", "", refine(ErrMalformed, "OAUTHBEARER message has no gs2 header")
	case strings.HasPrefix(cb, "p="):
		return "", "", refine(ErrChannelBinding, "OAUTHBEARER client requires channel binding")
	case cb != "n" && cb != "y":
		return "", "", refine(ErrMalformed, "OAUTHBEARER gs2 channel binding flag is not n, y or p=")
	}
	az, rest, ok := strings.Cut(rest, ",")
	if !ok {
		return "", "", refine(ErrMalformed, "OAUTHBEARER gs2 header is not terminated")
	}
	if az != "" {
		v, ok := strings.CutPrefix(az, "a=")
		if !ok {
			return "", "", refine(ErrMalformed, "OAUTHBEARER gs2 header has no a= authzid")
		}
		if authzid, ok = unescapeSaslname(v); !ok || authzid == "" {
			return "", "", refine(ErrMalformed, "OAUTHBEARER authzid is badly escaped")
		}
	}
	pairs, err := parseKVPairs("OAUTHBEARER", rest)
	if err != nil {
		return "", "", err
	}
	token, err = bearerToken("OAUTHBEARER", pairs["auth"])
	return authzid, token, err
}

// parseXOAuth2 reads an XOAUTH2 client response:
// "user=" user kvsep "auth=Bearer " token kvsep kvsep.
func parseXOAuth2(msg []byte) (user, token string, err error) {
	if !utf8.Valid(msg) {
		return "", "", refine(ErrMalformed, "XOAUTH2 message is not valid UTF-8")
	}
	pairs, err := parseKVPairs("XOAUTH2", kvsep+string(msg))
	if err != nil {
		return "", "", err
	}
	token, err = bearerToken("XOAUTH2", pairs["auth"])
	return pairs["user"], token, err
}

// parseKVPairs reads kvsep *kvpair kvsep (RFC 7628 §3.1). Keys are
// letters, each at most once; values contain no control characters but
// HTAB, CR and LF.
func parseKVPairs(mech, s string) (map[string]string, error) {
	body, ok := strings.CutPrefix(s, kvsep)
	if !ok || !strings.HasSuffix(body, kvsep) {
		return nil, refine(ErrMalformed, "%s key/value pairs are not framed by \\x01", mech)
	}
	body = strings.TrimSuffix(body, kvsep) // the final kvsep
	pairs := map[string]string{}
	if body == "" {
		return pairs, nil
	}
	if !strings.HasSuffix(body, kvsep) {
		return nil, refine(ErrMalformed, "%s key/value pair not terminated", mech)
	}
	for kv := range strings.SplitSeq(strings.TrimSuffix(body, kvsep), kvsep) {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" || strings.ContainsFunc(k, func(r rune) bool { return !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z') }) {
			return nil, refine(ErrMalformed, "%s key/value pair without a key", mech)
		}
		if strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 && r != '\t' && r != '\r' && r != '\n' || r == 0x7f }) {
			return nil, refine(ErrMalformed, "%s value of %q has control characters", mech, k)
		}
		if _, dup := pairs[k]; dup {
			return nil, refine(ErrMalformed, "%s key %q given twice", mech, k)
		}
		pairs[k] = v
	}
	return pairs, nil
}

// bearerToken takes the token from an auth value: "Bearer" (any case) 1*SP
// b64token (RFC 6750 §2.1).
func bearerToken(mech, auth string) (string, error) {
	scheme, tok, ok := strings.Cut(auth, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", refine(ErrMalformed, "%s auth value is not a bearer token", mech)
	}
	tok = strings.TrimLeft(tok, " ")
	if tok == "" || strings.ContainsFunc(tok, func(r rune) bool { return r <= ' ' || r > '~' }) {
		return "", refine(ErrMalformed, "%s bearer token is empty or not b64token", mech)
	}
	return tok, nil
}

// unescapeSaslname undoes RFC 5801's saslname escaping: "=2C" is ",",
// "=3D" is "=", and any other "=" is an error.
func unescapeSaslname(s string) (string, bool) {
	if !strings.Contains(s, "=") {
		return s, true
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '=' {
			b.WriteByte(s[i])
			continue
		}
		switch {
		case strings.HasPrefix(s[i:], "=2C"):
			b.WriteByte(',')
		case strings.HasPrefix(s[i:], "=3D"):
			b.WriteByte('=')
		default:
			return "", false
		}
		i += 2
	}
	return b.String(), true
}

func escapeSaslname(s string) string {
	return strings.NewReplacer("=", "=3D", ",", "=2C").Replace(s)
}

// bearerClient is the client side of OAUTHBEARER and XOAUTH2.
type bearerClient struct {
	oneShotClient
	failure []byte // the server's error response, for FailureDetail
}

// NewOAuthBearerClient returns an OAUTHBEARER client (RFC 7628) sending
// token and asking to act as authzid ("" for the token's user). A token
// that is not a b64token is reported by InitialResponse.
func NewOAuthBearerClient(authzid, token string) ClientMech {
	msg := "n," + "," + kvsep + "auth=Bearer " + token + kvsep + kvsep
	if authzid != "" {
		msg = "n,a=" + escapeSaslname(authzid) + "," + kvsep + "auth=Bearer " + token + kvsep + kvsep
	}
	c := &bearerClient{oneShotClient: oneShotClient{name: OAuthBearer, msg: []byte(msg)}}
	if _, err := bearerToken(OAuthBearer, "Bearer "+token); err != nil || !utf8.ValidString(authzid) || strings.ContainsRune(authzid, 0) {
		c.msg, c.err = nil, ErrInvalidCredentials
	}
	return c
}

// NewXOAuth2Client returns an XOAUTH2 client sending user and token.
func NewXOAuth2Client(user, token string) ClientMech {
	c := &bearerClient{oneShotClient: oneShotClient{name: XOAuth2, msg: []byte("user=" + user + kvsep + "auth=Bearer " + token + kvsep + kvsep)}}
	if _, err := bearerToken(XOAuth2, "Bearer "+token); err != nil || !utf8.ValidString(user) || strings.ContainsAny(user, "\x00\x01") {
		c.msg, c.err = nil, ErrInvalidCredentials
	}
	return c
}

// Step answers an empty challenge with the message (the server did not get
// it in sasl-init) and an error response with the acknowledgement the
// mechanism defines, keeping the response for FailureDetail.
func (c *bearerClient) Step(challenge []byte) ([]byte, error) {
	if len(challenge) == 0 || !c.sent || c.err != nil {
		return c.oneShotClient.Step(challenge)
	}
	if c.failure != nil {
		return nil, fmt.Errorf("%w: %s sent a second error response", ErrUnexpectedServerData, c.name)
	}
	c.failure = append([]byte{}, challenge...)
	if c.name == OAuthBearer {
		return []byte(kvsep), nil
	}
	return []byte{}, nil
}

// FailureDetail is the server's error response ("" if none), which the
// transport adds to the authentication error.
func (c *bearerClient) FailureDetail() string { return string(c.failure) }
