package cli

import (
	"context"
	"strings"
	"testing"

	"github.com/enmasse-go/enmasse/internal/controlplane/model"
	"github.com/enmasse-go/enmasse/internal/controlplane/registry"
	"github.com/enmasse-go/enmasse/internal/oidc"
	"github.com/enmasse-go/enmasse/internal/oidc/oidctest"
)

func mappingUsers(t *testing.T) *messagingUsers {
	t.Helper()
	reg, err := registry.Open(registry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })
	user := func(ns, space, name string, a model.UserAuthentication) *model.MessagingUser {
		return &model.MessagingUser{
			TypeMeta: model.TypeMeta{APIVersion: model.MessagingUserKind.APIVersion(), Kind: model.MessagingUserKind.Kind},
			Metadata: model.ObjectMeta{Name: space + "." + name, Namespace: ns},
			Spec:     model.MessagingUserSpec{Username: name, Authentication: &a},
		}
	}
	fed := func(provider, id, name string) model.UserAuthentication {
		return model.UserAuthentication{Type: model.AuthFederated, Provider: provider, FederatedUserid: id, FederatedUsername: name}
	}
	err = reg.Update(context.Background(), func(tx *registry.Tx) error {
		for _, u := range []*model.MessagingUser{
			user("default", "default", "alice", model.UserAuthentication{Type: model.AuthPassword}),
			user("default", "default", "robot", model.UserAuthentication{Type: model.AuthServiceAccount}),
			user("default", "default", "fred", fed("keycloak", "", "fred.external")),
			user("default", "default", "gina", fed("github", "sub-gina", "")),
			user("default", "default", "twin1", fed("keycloak", "", "twin")),
			user("default", "default", "twin2", fed("keycloak", "", "twin")),
			user("default", "beta", "alice", model.UserAuthentication{Type: model.AuthPassword}),
			user("team", "gamma", "hank", fed("keycloak", "", "hank.ext")),
		} {
			if err := tx.Create(u, nil); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	u := &messagingUsers{}
	u.reg.Store(reg)
	return u
}

// TestTokenUserMapping: which MessagingUser a validated token maps to,
// for each rule of tokenUsers and its refusals.
func TestTokenUserMapping(t *testing.T) {
	users := mappingUsers(t)
	tu := &tokenUsers{users: users}
	claims := func(name, sub string) oidc.Claims { return oidc.Claims{Username: name, Subject: sub} }
	for _, tc := range []struct {
		name     string
		provider string
		claims   oidc.Claims
		authzid  string
		want     string // identity, or "!" + part of the error
	}{
		{"password user by username", "", claims("alice", "s1"), "", "alice@default"},
		{"authzid naming the user", "", claims("alice", "s1"), "alice", "alice@default"},
		{"space by authzid", "", claims("alice", "s1"), "@beta", "alice@beta"},
		{"user and space by authzid", "", claims("alice", "s1"), "alice@beta", "alice@beta"},
		{"service account never", "", claims("robot", "s2"), "", "!matches no MessagingUser"},
		{"federated by federatedUsername", "", claims("fred.external", "s3"), "", "fred@default"},
		{"federated by its username", "", claims("fred", "s3"), "", "fred@default"},
		{"federated by federatedUserid", "", claims("someone", "sub-gina"), "", "gina@default"},
		{"provider filter keeps", "keycloak", claims("fred.external", "s3"), "", "fred@default"},
		{"provider filter drops", "keycloak", claims("someone", "sub-gina"), "", "!matches no MessagingUser"},
		{"two federated matches", "", claims("twin", "s4"), "", "!matches federated users"},
		{"authzid naming someone else", "", claims("alice", "s1"), "fred", "!may not act as"},
		{"space without the user", "", claims("fred.external", "s3"), "@beta", "!matches no MessagingUser"},
		{"other namespace", "", claims("hank.ext", "s5"), "@gamma.team", "hank@gamma.team"},
		{"empty space", "", claims("alice", "s1"), "alice@", "!names no address space"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tu.provider = tc.provider
			id, _, err := tu.mapClaims(tc.claims, tc.authzid)
			if wantErr, isErr := strings.CutPrefix(tc.want, "!"); isErr {
				if err == nil || !strings.Contains(err.Error(), wantErr) {
					t.Fatalf("got %q, %v; want an error with %q", id, err, wantErr)
				}
				return
			}
			if err != nil || id != tc.want {
				t.Fatalf("got %q, %v; want %q", id, err, tc.want)
			}
		})
	}
}

// TestTokenUserMappingHTTP: a REST API token has no authorization
// identity; the space is the one holding its user, and a user name found
// in two spaces is refused.
func TestTokenUserMappingHTTP(t *testing.T) {
	iss := oidctest.New(t)
	v, err := oidc.New(oidc.Options{Issuer: iss.URL, Audience: oidcAudience})
	if err != nil {
		t.Fatal(err)
	}
	tu := &tokenUsers{users: mappingUsers(t), v: v}
	ctx := context.Background()
	if id, _, err := tu.resolveHTTP(ctx, iss.Token(t, iss.Claims("hank.ext", oidcAudience))); err != nil || id != "hank@gamma.team" {
		t.Fatalf("hank: %q %v", id, err)
	}
	if id, _, err := tu.resolveHTTP(ctx, iss.Token(t, iss.Claims("alice", oidcAudience))); err == nil || !strings.Contains(err.Error(), "several address spaces (beta.default, default.default)") {
		t.Fatalf("alice in two spaces: %q %v", id, err)
	}
}
