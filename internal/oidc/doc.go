// Package oidc validates bearer tokens: JSON Web Tokens (RFC 7519) signed
// by an OpenID Connect issuer such as Keycloak, for SASL OAUTHBEARER (RFC
// 7628) and XOAUTH2 on AMQP and for `Authorization: Bearer` (RFC 6750) on
// the REST API. It knows nothing of either protocol: Validator.Validate
// takes the token and returns its claims or an error.
//
// # What is checked
//
//   - The JWS compact serialization (RFC 7515 §7.1) with one signature,
//     algorithm RS256/384/512, PS256/384/512, ES256/384/512 or EdDSA. Any
//     other "alg" — "none" and the HMAC algorithms HS* in particular, which
//     would let anyone holding the public key forge tokens — is refused
//     before a key is looked at (ErrAlgorithm).
//   - The signature, against the issuer's JSON Web Key Set (RFC 7517): the
//     key named by the header's "kid" (every key when there is none, at
//     most 8 tried) whose "use" is "sig" or absent and whose "alg", if set,
//     is the header's.
//     A key set holding no such key is ErrUnknownKey, a bad signature
//     ErrSignature.
//   - "iss" equals Options.Issuer exactly (ErrIssuer); "aud" contains
//     Options.Audience (ErrAudience); "exp" is present and not past, "nbf"
//     and "iat" are not in the future, each with Options.Leeway (default
//     30 s) for clock skew (ErrExpired, ErrNotYetValid).
//   - The user name: the claim Options.UsernameClaim (default
//     "preferred_username", what Keycloak sets to the user's login name),
//     falling back to "sub"; one that is missing, empty or not a string is
//     ErrNoUsername.
//
// Every failure wraps ErrInvalidToken except ErrKeysUnavailable (the key
// set could not be fetched: the token may be fine, so callers answer "try
// again later", not "bad credentials").
//
// # Keys
//
// Keys come from Options.JWKS (a file path or an http(s) URL) or, without
// it, from OpenID Connect discovery: GET Issuer +
// "/.well-known/openid-configuration" (OpenID Connect Discovery 1.0 §4),
// whose "issuer" must equal Issuer (§4.3) and whose "jwks_uri" is the key
// set. Both are fetched on first use, not by New, so a server starts while
// its issuer is down.
//
// The key set is cached. A token whose "kid" is not in the cache, or a
// cache older than Options.MaxAge (default 1 h, so removed keys stop
// working), makes Validate fetch it again — at most once per
// Options.MinRefetch (default 10 s), so a stream of tokens with made-up
// key ids cannot turn the server into a load generator against the issuer.
// Between refetches such tokens fail at once with ErrUnknownKey. A failed
// fetch keeps the previous key set. Responses over 1 MiB are refused.
//
// # Concurrency
//
// A Validator is safe for concurrent use. The key set is read through an
// atomic pointer; fetches are serialized by fetchMu, and a caller waiting
// for one uses its result instead of fetching again. Validate holds no lock
// while verifying.
package oidc
