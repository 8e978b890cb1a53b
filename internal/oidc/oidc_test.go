package oidc_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/enmasse-go/enmasse/internal/oidc"
	"github.com/enmasse-go/enmasse/internal/oidc/oidctest"
)

const aud = "enmasse"

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newValidator(t *testing.T, iss *oidctest.Issuer, mod func(*oidc.Options)) (*oidc.Validator, *clock) {
	t.Helper()
	clk := &clock{t: time.Now()}
	o := oidc.Options{Issuer: iss.URL, Audience: aud, Now: clk.now}
	if mod != nil {
		mod(&o)
	}
	v, err := oidc.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return v, clk
}

func TestValidateRSAAndEC(t *testing.T) {
	iss := oidctest.New(t)
	v, _ := newValidator(t, iss, nil)
	for name, tok := range map[string]string{
		"RS256": iss.Token(t, iss.Claims("alice", aud)),
		"ES256": iss.ECToken(t, iss.Claims("alice", aud)),
	} {
		c, err := v.Validate(context.Background(), tok)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if c.Username != "alice" || c.Subject != "id-alice" || c.Issuer != iss.URL {
			t.Errorf("%s: claims %+v", name, c)
		}
	}
	if n := iss.JWKSFetches.Load(); n != 1 {
		t.Errorf("key set fetched %d times for two tokens, want 1 (cached)", n)
	}
}

func TestValidateAudienceList(t *testing.T) {
	iss := oidctest.New(t)
	v, _ := newValidator(t, iss, nil)
	cl := iss.Claims("alice", "")
	cl["aud"] = []string{"account", aud}
	if _, err := v.Validate(context.Background(), iss.Token(t, cl)); err != nil {
		t.Fatal(err)
	}
}

func TestValidateUsernameClaim(t *testing.T) {
	iss := oidctest.New(t)
	v, _ := newValidator(t, iss, func(o *oidc.Options) { o.UsernameClaim = "email" })
	cl := iss.Claims("alice", aud)
	cl["email"] = "alice@example.com"
	c, err := v.Validate(context.Background(), iss.Token(t, cl))
	if err != nil || c.Username != "alice@example.com" {
		t.Fatalf("email claim: %+v %v", c, err)
	}
	delete(cl, "email")
	c, err = v.Validate(context.Background(), iss.Token(t, cl))
	if err != nil || c.Username != "id-alice" {
		t.Fatalf("fallback to sub: %+v %v", c, err)
	}
	delete(cl, "sub")
	if _, err := v.Validate(context.Background(), iss.Token(t, cl)); !errors.Is(err, oidc.ErrNoUsername) {
		t.Fatalf("neither claim: %v, want ErrNoUsername", err)
	}
}

func TestValidateRefused(t *testing.T) {
	iss := oidctest.New(t)
	v, _ := newValidator(t, iss, nil)
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	otherEC, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	good := iss.Claims("alice", aud)
	with := func(k string, val any) map[string]any {
		c := map[string]any{}
		for k, v := range good {
			c[k] = v
		}
		if val == nil {
			delete(c, k)
		} else {
			c[k] = val
		}
		return c
	}
	pubDER, _ := x509.MarshalPKIXPublicKey(&iss.RSA.PublicKey)
	now := time.Now()
	for _, tc := range []struct {
		name  string
		token string
		want  error
	}{
		{"expired", iss.Token(t, with("exp", now.Add(-time.Minute).Unix())), oidc.ErrExpired},
		{"no exp", iss.Token(t, with("exp", nil)), oidc.ErrExpired},
		{"nbf in the future", iss.Token(t, with("nbf", now.Add(time.Hour).Unix())), oidc.ErrNotYetValid},
		{"wrong signature", oidctest.Sign(t, jose.RS256, other, "rsa", good), oidc.ErrSignature},
		{"wrong EC signature", oidctest.Sign(t, jose.ES256, otherEC, "ec", good), oidc.ErrSignature},
		{"RSA key named as the EC key", oidctest.Sign(t, jose.RS256, iss.RSA, "ec", good), oidc.ErrSignature},
		{"unknown key", oidctest.Sign(t, jose.RS256, other, "rotated", good), oidc.ErrUnknownKey},
		{"wrong audience", iss.Token(t, with("aud", "someone-else")), oidc.ErrAudience},
		{"no audience", iss.Token(t, with("aud", nil)), oidc.ErrAudience},
		{"wrong issuer", iss.Token(t, with("iss", "https://evil.example")), oidc.ErrIssuer},
		{"alg none", oidctest.Unsigned(good), oidc.ErrAlgorithm},
		// HS256 keyed with the public key: the classic confusion attack.
		{"HS256 with the public key", oidctest.Sign(t, jose.HS256, pubDER, "rsa", good), oidc.ErrAlgorithm},
		{"garbage", "not.a.token", oidc.ErrMalformed},
		{"empty", "", oidc.ErrMalformed},
	} {
		_, err := v.Validate(context.Background(), tc.token)
		if !errors.Is(err, tc.want) || !errors.Is(err, oidc.ErrInvalidToken) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	// The validator still accepts good tokens afterwards.
	if _, err := v.Validate(context.Background(), iss.Token(t, good)); err != nil {
		t.Fatal(err)
	}
}

func TestUnknownKidRefetchRateLimited(t *testing.T) {
	iss := oidctest.New(t)
	v, clk := newValidator(t, iss, nil)
	ctx := context.Background()
	if _, err := v.Validate(ctx, iss.Token(t, iss.Claims("alice", aud))); err != nil {
		t.Fatal(err)
	}
	rotated, _ := rsa.GenerateKey(rand.Reader, 2048)
	tok := oidctest.Sign(t, jose.RS256, rotated, "k2", iss.Claims("alice", aud))
	// Within MinRefetch of the first fetch an unknown kid fails without a
	// fetch, however many such tokens arrive.
	for range 20 {
		if _, err := v.Validate(ctx, tok); !errors.Is(err, oidc.ErrUnknownKey) {
			t.Fatalf("unknown kid: %v", err)
		}
	}
	if n := iss.JWKSFetches.Load(); n != 1 {
		t.Fatalf("%d fetches, want 1", n)
	}
	// The issuer rotates in k2; after MinRefetch the unknown kid triggers
	// one fetch and the token is good.
	iss.AddKey("k2", &rotated.PublicKey, jose.RS256)
	clk.add(oidc.DefaultMinRefetch + time.Second)
	if _, err := v.Validate(ctx, tok); err != nil {
		t.Fatalf("after rotation: %v", err)
	}
	if n := iss.JWKSFetches.Load(); n != 2 {
		t.Fatalf("%d fetches, want 2", n)
	}
	// Old keys go when the cache is older than MaxAge.
	clk.add(oidc.DefaultMaxAge)
	if _, err := v.Validate(ctx, tok); err != nil {
		t.Fatal(err)
	}
	if n := iss.JWKSFetches.Load(); n != 3 {
		t.Fatalf("%d fetches after MaxAge, want 3", n)
	}
}

func TestJWKSFile(t *testing.T) {
	iss := oidctest.New(t)
	path := filepath.Join(t.TempDir(), "jwks.json")
	if err := os.WriteFile(path, iss.JWKS(), 0o600); err != nil {
		t.Fatal(err)
	}
	iss.Server.Close() // no discovery: the file alone must do
	v, _ := newValidator(t, iss, func(o *oidc.Options) { o.JWKS = path })
	if _, err := v.Validate(context.Background(), iss.ECToken(t, iss.Claims("bob", aud))); err != nil {
		t.Fatal(err)
	}
}

func TestKeysUnavailable(t *testing.T) {
	iss := oidctest.New(t)
	v, _ := newValidator(t, iss, nil)
	tok := iss.Token(t, iss.Claims("alice", aud))
	iss.Server.Close()
	_, err := v.Validate(context.Background(), tok)
	if !errors.Is(err, oidc.ErrKeysUnavailable) || errors.Is(err, oidc.ErrInvalidToken) {
		t.Fatalf("issuer down: %v, want ErrKeysUnavailable only", err)
	}
	if err := v.Refresh(context.Background()); !errors.Is(err, oidc.ErrKeysUnavailable) {
		t.Fatalf("Refresh: %v", err)
	}
}

func TestDiscoveryIssuerMismatch(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]string{"issuer": "https://other.example", "jwks_uri": "https://other.example/keys"})
	}))
	defer srv.Close()
	v, err := oidc.New(oidc.Options{Issuer: srv.URL, Audience: aud})
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Refresh(context.Background()); err == nil || !errors.Is(err, oidc.ErrKeysUnavailable) {
		t.Fatalf("mismatched discovery: %v", err)
	}
}

func TestNewNeedsIssuerAndAudience(t *testing.T) {
	if _, err := oidc.New(oidc.Options{Audience: aud}); err == nil {
		t.Error("no issuer accepted")
	}
	if _, err := oidc.New(oidc.Options{Issuer: "https://x"}); err == nil {
		t.Error("no audience accepted")
	}
}

// FuzzValidate: no input makes Validate panic, and none is accepted
// without a signature from the issuer's keys.
func FuzzValidate(f *testing.F) {
	iss := oidctest.New(f)
	f.Add(iss.Token(f, iss.Claims("alice", aud)))
	f.Add(oidctest.Unsigned(iss.Claims("alice", aud)))
	f.Add("e30.e30.")
	f.Add("a.b.c.d.e")
	v, err := oidc.New(oidc.Options{Issuer: iss.URL, Audience: aud})
	if err != nil {
		f.Fatal(err)
	}
	if err := v.Refresh(context.Background()); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		// Only the issuer's signature makes a token pass, and the only
		// claims it signed are alice's.
		c, err := v.Validate(context.Background(), tok)
		if err == nil && c.Username != "alice" {
			t.Fatalf("accepted %q as %+v", tok, c)
		}
	})
}

// TestConcurrentValidateOneFetch: many tokens at once, before any key is
// cached, cause a single key set fetch.
func TestConcurrentValidateOneFetch(t *testing.T) {
	iss := oidctest.New(t)
	v, _ := newValidator(t, iss, nil)
	tok := iss.Token(t, iss.Claims("alice", aud))
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for range 32 {
		wg.Go(func() {
			if _, err := v.Validate(context.Background(), tok); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := iss.JWKSFetches.Load(); n != 1 {
		t.Fatalf("%d fetches for 32 concurrent tokens, want 1", n)
	}
}

// BenchmarkValidate: the cost of one token check with cached keys.
func BenchmarkValidate(b *testing.B) {
	iss := oidctest.New(b)
	v, err := oidc.New(oidc.Options{Issuer: iss.URL, Audience: aud})
	if err != nil {
		b.Fatal(err)
	}
	for name, tok := range map[string]string{
		"RS256": iss.Token(b, iss.Claims("alice", aud)),
		"ES256": iss.ECToken(b, iss.Claims("alice", aud)),
	} {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				if _, err := v.Validate(context.Background(), tok); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestNoKid: a token without kid is checked against the matching keys.
func TestNoKid(t *testing.T) {
	iss := oidctest.New(t)
	v, _ := newValidator(t, iss, nil)
	if _, err := v.Validate(context.Background(), oidctest.Sign(t, jose.ES256, iss.EC, "", iss.Claims("alice", aud))); err != nil {
		t.Fatalf("ES256 without kid: %v", err)
	}
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if _, err := v.Validate(context.Background(), oidctest.Sign(t, jose.ES256, other, "", iss.Claims("alice", aud))); !errors.Is(err, oidc.ErrSignature) {
		t.Fatalf("foreign key without kid: %v, want ErrSignature", err)
	}
}
