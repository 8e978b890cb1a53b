package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/enmasse-go/enmasse/internal/amqp/sasl"
	"github.com/enmasse-go/enmasse/internal/controlplane/model"
	"github.com/enmasse-go/enmasse/internal/oidc"
)

// oidcOptions are the --oidc-* flags.
type oidcOptions struct {
	issuer, jwks, audience, usernameClaim, provider string
}

func (o oidcOptions) configured() bool { return o.issuer != "" || o.jwks != "" || o.audience != "" }

func (o oidcOptions) check() error {
	switch {
	case !o.configured():
		return nil
	case o.issuer == "":
		return usageErrorf("--oidc-jwks and --oidc-audience need --oidc-issuer (the iss every token must carry)")
	case o.audience == "":
		return usageErrorf("--oidc-issuer needs --oidc-audience (the aud a token must name to be accepted here)")
	case !strings.HasPrefix(o.issuer, "https://") && !strings.HasPrefix(o.issuer, "http://"):
		return usageErrorf("--oidc-issuer %q is not an http(s) URL", o.issuer)
	}
	return nil
}

// tokenTimeout bounds one token check, key set fetch included.
const tokenTimeout = 10 * time.Second

// tokenUsers validates bearer tokens with an OIDC issuer's keys and maps
// them to MessagingUsers (docs/configuration.md, Security):
//
//  1. the space is the one the client names as authorization identity
//     (`[name]@{space}[.{namespace}]`: OAUTHBEARER's a=, XOAUTH2's user=),
//     else `default` (REST API requests, which have none: the one space
//     holding a user the token maps to, see resolveHTTP);
//  2. in that space, the user `{space}.{name}` whose spec.username is the
//     token's user name claim (EnMasse with Keycloak: preferred_username is
//     the MessagingUser's username), of type password or federated;
//  3. else the one federated user (spec.authentication.type federated,
//     provider --oidc-provider if given) whose federatedUserid is the
//     token's sub or whose federatedUsername is its user name.
//
// A name given before `@` must be the user found. The identity is
// `{spec.username}@{space}[.{namespace}]`, so authorization, limits and
// audit lines treat it as the same user PLAIN would log in.
type tokenUsers struct {
	users    *messagingUsers
	v        *oidc.Validator
	provider string
}

// newTokenValidator builds the validator and loads the issuer's keys in
// the background, logging whether that worked: a server whose issuer is
// down starts anyway and fetches the keys at the first token.
func newTokenValidator(ctx context.Context, o oidcOptions, logger *slog.Logger) (*oidc.Validator, error) {
	v, err := oidc.New(oidc.Options{Issuer: o.issuer, JWKS: o.jwks, Audience: o.audience, UsernameClaim: o.usernameClaim})
	if err != nil {
		return nil, &usageError{err}
	}
	go func() {
		ctx, cancel := context.WithTimeout(ctx, tokenTimeout)
		defer cancel()
		if err := v.Refresh(ctx); err != nil {
			logger.Warn("OIDC issuer keys not loaded; bearer tokens fail until they are", "issuer", o.issuer, "err", err)
			return
		}
		logger.Info("OIDC issuer keys loaded", "issuer", o.issuer)
	}()
	return v, nil
}

// newTokenUsers returns nil when opts has no token validator.
func newTokenUsers(opts serveOptions, users *messagingUsers) *tokenUsers {
	if opts.tokens == nil {
		return nil
	}
	return &tokenUsers{users: users, v: opts.tokens, provider: opts.oidc.provider}
}

// VerifyToken implements sasl.TokenVerifier.
// The connection ends when the token would no longer be accepted: at
// its expiry plus the verifier's leeway.
func (t *tokenUsers) VerifyToken(token, authzid string, _ sasl.ConnInfo) (string, time.Time, error) {
	ctx, cancel := context.WithTimeout(context.Background(), tokenTimeout)
	defer cancel()
	c, err := t.v.Validate(ctx, token)
	if errors.Is(err, oidc.ErrKeysUnavailable) {
		return "", time.Time{}, &sasl.Error{Code: sasl.CodeSysTemp, Reason: err.Error()}
	}
	if err != nil {
		return "", time.Time{}, err
	}
	id, _, err := t.mapClaims(c, authzid)
	if err != nil {
		return "", time.Time{}, err
	}
	return id, c.Expiry.Add(t.v.Leeway()), nil
}

// mapClaims finds the MessagingUser of validated claims c in the space
// authzid names (see tokenUsers).
func (t *tokenUsers) mapClaims(c oidc.Claims, authzid string) (id string, mu *model.MessagingUser, err error) {
	reg := t.users.reg.Load()
	if reg == nil {
		return "", nil, errors.New("control plane not open yet")
	}
	want, space, ns, _ := splitUser(authzid) // want may be empty: "@space"
	if authzid == c.Username {
		want, space, ns = "", "default", "default"
	} else if space == "" || ns == "" {
		return "", nil, fmt.Errorf("authorization identity %q names no address space", authzid)
	}
	if o, ok := reg.Get(model.MessagingUserKind, ns, space+"."+c.Username); ok && t.byUsername(o.(*model.MessagingUser), c) {
		mu = o.(*model.MessagingUser)
	}
	if mu == nil {
		objs, _ := reg.List(model.MessagingUserKind, ns)
		for _, o := range objs {
			u := o.(*model.MessagingUser)
			if !strings.HasPrefix(u.Metadata.Name, space+".") {
				continue
			}
			if t.byFederation(u, c) {
				if mu != nil {
					return "", nil, fmt.Errorf("token of %q (sub %q) matches federated users %s and %s", c.Username, c.Subject, mu.Metadata.Name, u.Metadata.Name)
				}
				mu = u
			}
		}
	}
	if mu == nil {
		return "", nil, fmt.Errorf("token of %q (sub %q) matches no MessagingUser of address space %s/%s", c.Username, c.Subject, ns, space)
	}
	if want != "" && want != mu.Spec.Username && want != c.Username {
		return "", nil, fmt.Errorf("token of %q may not act as %q", c.Username, authzid)
	}
	id = mu.Spec.Username + "@" + space
	if ns != "default" {
		id += "." + ns
	}
	return id, mu, nil
}

// byUsername: rule 2, u's username is the token's user name.
func (t *tokenUsers) byUsername(u *model.MessagingUser, c oidc.Claims) bool {
	a := u.Spec.Authentication
	return a != nil && (a.Type == model.AuthPassword || a.Type == model.AuthFederated) && u.Spec.Username == c.Username
}

// byFederation: rule 3, u is federated and its account at the identity
// provider is the token's subject or user name.
func (t *tokenUsers) byFederation(u *model.MessagingUser, c oidc.Claims) bool {
	a := u.Spec.Authentication
	if a == nil || a.Type != model.AuthFederated || t.provider != "" && a.Provider != t.provider {
		return false
	}
	return a.FederatedUserid != "" && a.FederatedUserid == c.Subject || a.FederatedUsername != "" && a.FederatedUsername == c.Username
}

// resolveHTTP validates a REST API bearer token. HTTP has no
// authorization identity, so the address space is the one space (of any
// namespace) with a MessagingUser the token maps to; a token that maps to
// users of several spaces is refused as ambiguous.
func (t *tokenUsers) resolveHTTP(ctx context.Context, token string) (id string, mu *model.MessagingUser, err error) {
	c, err := t.v.Validate(ctx, token)
	if err != nil {
		return "", nil, err
	}
	reg := t.users.reg.Load()
	if reg == nil {
		return "", nil, errors.New("control plane not open yet")
	}
	objs, _ := reg.List(model.MessagingUserKind, "")
	var spaces []string // "space.namespace"
	for _, o := range objs {
		u := o.(*model.MessagingUser)
		space, _, ok := strings.Cut(u.Metadata.Name, ".")
		if !ok || !t.byUsername(u, c) && !t.byFederation(u, c) {
			continue
		}
		if s := space + "." + u.Metadata.Namespace; !slices.Contains(spaces, s) {
			spaces = append(spaces, s)
		}
	}
	switch len(spaces) {
	case 0:
		return "", nil, fmt.Errorf("token of %q (sub %q) matches no MessagingUser", c.Username, c.Subject)
	case 1:
		return t.mapClaims(c, "@"+spaces[0])
	}
	return "", nil, fmt.Errorf("token of %q matches users of several address spaces (%s)", c.Username, strings.Join(spaces, ", "))
}
