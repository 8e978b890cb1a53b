package oidc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// Errors of Validate. All but ErrKeysUnavailable wrap ErrInvalidToken.
var (
	ErrInvalidToken    = errors.New("invalid token")
	ErrMalformed       = fmt.Errorf("%w: malformed", ErrInvalidToken)
	ErrAlgorithm       = fmt.Errorf("%w: signature algorithm not accepted", ErrInvalidToken)
	ErrUnknownKey      = fmt.Errorf("%w: signing key not in the issuer's key set", ErrInvalidToken)
	ErrSignature       = fmt.Errorf("%w: bad signature", ErrInvalidToken)
	ErrIssuer          = fmt.Errorf("%w: wrong issuer", ErrInvalidToken)
	ErrAudience        = fmt.Errorf("%w: wrong audience", ErrInvalidToken)
	ErrExpired         = fmt.Errorf("%w: expired", ErrInvalidToken)
	ErrNotYetValid     = fmt.Errorf("%w: not valid yet", ErrInvalidToken)
	ErrNoUsername      = fmt.Errorf("%w: no user name claim", ErrInvalidToken)
	ErrKeysUnavailable = errors.New("issuer key set unavailable")
)

// Algorithms are the accepted JWS "alg" values: public-key signatures only.
var Algorithms = []jose.SignatureAlgorithm{
	jose.RS256, jose.RS384, jose.RS512,
	jose.PS256, jose.PS384, jose.PS512,
	jose.ES256, jose.ES384, jose.ES512,
	jose.EdDSA,
}

// Defaults of Options.
const (
	DefaultLeeway        = 30 * time.Second
	DefaultMinRefetch    = 10 * time.Second
	DefaultMaxAge        = time.Hour
	DefaultUsernameClaim = "preferred_username"
	maxDocument          = 1 << 20
	// maxTries bounds the signature checks of one token (without a kid,
	// every key of the set is a candidate).
	maxTries = 8
	// MaxTokenSize bounds the tokens Validate parses.
	MaxTokenSize = 16 << 10
)

// Options configure a Validator.
type Options struct {
	// Issuer is the "iss" every token must carry, and the base of
	// discovery when JWKS is empty. Required.
	Issuer string
	// JWKS is a key set file or http(s) URL used instead of discovery.
	JWKS string
	// Audience must be among the token's "aud". Required.
	Audience string
	// UsernameClaim names the claim holding the user name; "" is
	// "preferred_username". "sub" is the fallback when it is absent.
	UsernameClaim string
	// Leeway, MinRefetch and MaxAge default to DefaultLeeway,
	// DefaultMinRefetch and DefaultMaxAge when zero.
	Leeway, MinRefetch, MaxAge time.Duration
	// HTTPClient fetches discovery and key sets; nil uses a client with a
	// 10 s timeout.
	HTTPClient *http.Client
	// Now is the clock; nil is time.Now.
	Now func() time.Time
}

// Claims are the validated token's identity.
type Claims struct {
	Issuer   string
	Subject  string
	Username string // Options.UsernameClaim, or sub
	Expiry   time.Time
}

// Validator checks tokens of one issuer. It is safe for concurrent use.
type Validator struct {
	opts Options

	keys atomic.Pointer[keySet] // nil until the first fetch succeeds

	fetchMu   sync.Mutex // serializes fetches; guards lastFetch and jwksURI
	lastFetch time.Time  // last fetch attempt, successful or not
	jwksURI   string     // from discovery or Options.JWKS
}

type keySet struct {
	set     jose.JSONWebKeySet
	fetched time.Time
}

// New returns a Validator. It fetches nothing yet.
func New(opts Options) (*Validator, error) {
	if opts.Issuer == "" {
		return nil, errors.New("oidc: an issuer is required")
	}
	if opts.Audience == "" {
		return nil, errors.New("oidc: an audience is required")
	}
	if opts.UsernameClaim == "" {
		opts.UsernameClaim = DefaultUsernameClaim
	}
	if opts.Leeway == 0 {
		opts.Leeway = DefaultLeeway
	}
	if opts.MinRefetch == 0 {
		opts.MinRefetch = DefaultMinRefetch
	}
	if opts.MaxAge == 0 {
		opts.MaxAge = DefaultMaxAge
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Validator{opts: opts, jwksURI: opts.JWKS}, nil
}

// DiscoveryURL is the issuer's OpenID configuration document, for error
// responses that point clients at it (RFC 7628 §3.2.2).
func (v *Validator) DiscoveryURL() string {
	return strings.TrimSuffix(v.opts.Issuer, "/") + "/.well-known/openid-configuration"
}

// Leeway is how long after its "exp" a token is still accepted.
func (v *Validator) Leeway() time.Duration { return v.opts.Leeway }

// Validate checks token and returns its claims. Errors wrap
// ErrInvalidToken, or are ErrKeysUnavailable.
func (v *Validator) Validate(ctx context.Context, token string) (Claims, error) {
	if len(token) > MaxTokenSize {
		return Claims{}, fmt.Errorf("%w: %d bytes", ErrMalformed, len(token))
	}
	tok, err := jwt.ParseSigned(token, Algorithms)
	if err != nil {
		if _, ok := errors.AsType[*jose.ErrUnexpectedSignatureAlgorithm](err); ok {
			return Claims{}, fmt.Errorf("%w: %v", ErrAlgorithm, err)
		}
		return Claims{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if len(tok.Headers) != 1 {
		return Claims{}, fmt.Errorf("%w: %d signatures", ErrMalformed, len(tok.Headers))
	}
	hdr := tok.Headers[0]
	keys, err := v.keysFor(ctx, hdr.KeyID)
	if err != nil {
		return Claims{}, err
	}
	var (
		std   jwt.Claims
		extra map[string]any
		ok    bool
	)
	tries := 0
	for _, k := range keys {
		if k.Use != "" && k.Use != "sig" || k.Algorithm != "" && k.Algorithm != hdr.Algorithm {
			continue
		}
		if tries++; tries > maxTries {
			break // a token without kid against a huge key set: bounded work
		}
		pub := k.Public() // empty for a symmetric key: never a verifier here
		if pub.Key == nil {
			continue
		}
		if err := tok.Claims(pub.Key, &std, &extra); err == nil {
			ok = true
			break
		}
	}
	if !ok {
		if len(keys) == 0 {
			return Claims{}, ErrUnknownKey
		}
		return Claims{}, ErrSignature
	}
	if err := std.ValidateWithLeeway(jwt.Expected{Issuer: v.opts.Issuer, AnyAudience: jwt.Audience{v.opts.Audience}, Time: v.opts.Now()}, v.opts.Leeway); err != nil {
		switch {
		case errors.Is(err, jwt.ErrInvalidIssuer):
			return Claims{}, fmt.Errorf("%w: %q", ErrIssuer, std.Issuer)
		case errors.Is(err, jwt.ErrInvalidAudience):
			return Claims{}, fmt.Errorf("%w: %q", ErrAudience, []string(std.Audience))
		case errors.Is(err, jwt.ErrExpired):
			return Claims{}, fmt.Errorf("%w at %s", ErrExpired, std.Expiry.Time().UTC().Format(time.RFC3339))
		default: // nbf or iat in the future
			return Claims{}, fmt.Errorf("%w: %v", ErrNotYetValid, err)
		}
	}
	if std.Expiry == nil {
		return Claims{}, fmt.Errorf("%w: no exp claim", ErrExpired)
	}
	c := Claims{Issuer: std.Issuer, Subject: std.Subject, Expiry: std.Expiry.Time()}
	if s, _ := extra[v.opts.UsernameClaim].(string); s != "" {
		c.Username = s
	} else if std.Subject != "" {
		c.Username = std.Subject
	} else {
		return Claims{}, ErrNoUsername
	}
	return c, nil
}

// keysFor returns the cached keys with id kid (every key when kid is ""),
// refetching the key set when kid is unknown or the cache is old, at most
// once per MinRefetch.
func (v *Validator) keysFor(ctx context.Context, kid string) ([]jose.JSONWebKey, error) {
	lookup := func(ks *keySet) []jose.JSONWebKey {
		if ks == nil {
			return nil
		}
		if kid == "" {
			return ks.set.Keys
		}
		return ks.set.Key(kid)
	}
	ks := v.keys.Load()
	if k := lookup(ks); len(k) > 0 && v.opts.Now().Sub(ks.fetched) < v.opts.MaxAge {
		return k, nil
	}
	v.fetchMu.Lock()
	defer v.fetchMu.Unlock()
	if cur := v.keys.Load(); cur != ks {
		// Someone fetched while we waited: use theirs.
		if k := lookup(cur); len(k) > 0 {
			return k, nil
		}
		return nil, ErrUnknownKey
	}
	now := v.opts.Now()
	if !v.lastFetch.IsZero() && now.Sub(v.lastFetch) < v.opts.MinRefetch {
		if ks == nil {
			return nil, fmt.Errorf("%w: last fetch failed %s ago", ErrKeysUnavailable, now.Sub(v.lastFetch).Round(time.Millisecond))
		}
		return lookup(ks), nil // the stale cache, or nothing: ErrUnknownKey
	}
	v.lastFetch = now
	set, err := v.fetch(ctx)
	if err != nil {
		if ks != nil {
			return lookup(ks), nil
		}
		return nil, fmt.Errorf("%w: %v", ErrKeysUnavailable, err)
	}
	ks = &keySet{set: set, fetched: now}
	v.keys.Store(ks)
	return lookup(ks), nil
}

// Refresh fetches the key set now (rate limits aside); serve calls it at
// start to report a misconfigured issuer early.
func (v *Validator) Refresh(ctx context.Context) error {
	v.fetchMu.Lock()
	defer v.fetchMu.Unlock()
	now := v.opts.Now()
	v.lastFetch = now
	set, err := v.fetch(ctx)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrKeysUnavailable, err)
	}
	v.keys.Store(&keySet{set: set, fetched: now})
	return nil
}

// fetch loads the key set, discovering its URI first if needed. Called
// with fetchMu held.
func (v *Validator) fetch(ctx context.Context) (jose.JSONWebKeySet, error) {
	var set jose.JSONWebKeySet
	if v.jwksURI == "" {
		var doc struct {
			Issuer  string `json:"issuer"`
			JWKSURI string `json:"jwks_uri"`
		}
		if err := v.get(ctx, v.DiscoveryURL(), &doc); err != nil {
			return set, err
		}
		if doc.Issuer != v.opts.Issuer {
			return set, fmt.Errorf("discovery document %s names issuer %q, want %q", v.DiscoveryURL(), doc.Issuer, v.opts.Issuer)
		}
		if doc.JWKSURI == "" {
			return set, fmt.Errorf("discovery document %s has no jwks_uri", v.DiscoveryURL())
		}
		v.jwksURI = doc.JWKSURI
	}
	if err := v.get(ctx, v.jwksURI, &set); err != nil {
		if v.opts.JWKS == "" {
			v.jwksURI = "" // discover again next time: the issuer may have moved it
		}
		return set, err
	}
	return set, nil
}

// get decodes the JSON document at loc, an http(s) URL or a file.
func (v *Validator) get(ctx context.Context, loc string, dst any) error {
	var r io.Reader
	if strings.HasPrefix(loc, "https://") || strings.HasPrefix(loc, "http://") {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, loc, nil)
		if err != nil {
			return err
		}
		req.Header.Set("Accept", "application/json")
		resp, err := v.opts.HTTPClient.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET %s: %s", loc, resp.Status)
		}
		r = resp.Body
	} else {
		f, err := os.Open(loc)
		if err != nil {
			return err
		}
		defer f.Close()
		r = f
	}
	data, err := io.ReadAll(io.LimitReader(r, maxDocument+1))
	if err != nil {
		return fmt.Errorf("reading %s: %w", loc, err)
	}
	if len(data) > maxDocument {
		return fmt.Errorf("%s is larger than %d bytes", loc, maxDocument)
	}
	if err := json.Unmarshal(data, dst); err != nil {
		return fmt.Errorf("%s: %w", loc, err)
	}
	return nil
}
