// Package oidctest is an OpenID Connect issuer for tests: an httptest
// server with a discovery document and a key set holding one RSA (kid
// "rsa") and one P-256 (kid "ec") key, and helpers that sign tokens with
// them or with keys the issuer does not publish.
package oidctest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// Issuer is a running test issuer.
type Issuer struct {
	URL    string // the issuer identifier and base URL
	RSA    *rsa.PrivateKey
	EC     *ecdsa.PrivateKey
	Server *httptest.Server
	// JWKSFetches counts GETs of the key set.
	JWKSFetches atomic.Int64
	// Extra keys served in the key set besides RSA and EC, settable
	// before a fetch.
	extra atomic.Pointer[[]jose.JSONWebKey]
}

// New starts an issuer; it stops when the test ends.
func New(t testing.TB) *Issuer {
	t.Helper()
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ek, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	iss := &Issuer{RSA: rk, EC: ek}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]string{"issuer": iss.URL, "jwks_uri": iss.URL + "/keys"})
	})
	mux.HandleFunc("GET /keys", func(w http.ResponseWriter, r *http.Request) {
		iss.JWKSFetches.Add(1)
		w.Write(iss.JWKS())
	})
	iss.Server = httptest.NewServer(mux)
	iss.URL = iss.Server.URL
	t.Cleanup(iss.Server.Close)
	return iss
}

// AddKey publishes one more public key under kid from the next fetch on.
func (iss *Issuer) AddKey(kid string, key any, alg jose.SignatureAlgorithm) {
	ks := []jose.JSONWebKey{{Key: key, KeyID: kid, Algorithm: string(alg), Use: "sig"}}
	if p := iss.extra.Load(); p != nil {
		ks = append(ks, *p...)
	}
	iss.extra.Store(&ks)
}

// JWKS is the key set document the issuer serves.
func (iss *Issuer) JWKS() []byte {
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
		{Key: &iss.RSA.PublicKey, KeyID: "rsa", Algorithm: string(jose.RS256), Use: "sig"},
		{Key: &iss.EC.PublicKey, KeyID: "ec", Algorithm: string(jose.ES256), Use: "sig"},
	}}
	if p := iss.extra.Load(); p != nil {
		set.Keys = append(set.Keys, *p...)
	}
	b, _ := json.Marshal(set)
	return b
}

// Claims returns valid claims for user and audience: issued now, expiring
// in an hour.
func (iss *Issuer) Claims(user, audience string) map[string]any {
	now := time.Now()
	return map[string]any{
		"iss": iss.URL, "sub": "id-" + user, "aud": audience,
		"preferred_username": user,
		"iat":                now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}
}

// Token signs claims with the RSA key (RS256, kid "rsa").
func (iss *Issuer) Token(t testing.TB, claims map[string]any) string {
	return Sign(t, jose.RS256, iss.RSA, "rsa", claims)
}

// ECToken signs claims with the EC key (ES256, kid "ec").
func (iss *Issuer) ECToken(t testing.TB, claims map[string]any) string {
	return Sign(t, jose.ES256, iss.EC, "ec", claims)
}

// Sign signs claims with key under alg and kid ("" for none).
func Sign(t testing.TB, alg jose.SignatureAlgorithm, key any, kid string, claims map[string]any) string {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithType("JWT")
	if kid != "" {
		opts = opts.WithHeader(jose.HeaderKey("kid"), kid)
	}
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.Signed(sig).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// Unsigned returns a token with "alg":"none" and no signature (RFC 7519
// §6), which validators must refuse.
func Unsigned(claims map[string]any) string {
	enc := base64.RawURLEncoding
	h, _ := json.Marshal(map[string]string{"alg": "none", "typ": "JWT"})
	c, _ := json.Marshal(claims)
	return enc.EncodeToString(h) + "." + enc.EncodeToString(c) + "."
}
