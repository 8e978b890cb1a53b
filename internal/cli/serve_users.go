package cli

import (
	"crypto/rand"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/enmasse-go/enmasse/internal/amqp/sasl"
	"github.com/enmasse-go/enmasse/internal/controlplane/credentials"
	"github.com/enmasse-go/enmasse/internal/controlplane/model"
	"github.com/enmasse-go/enmasse/internal/controlplane/registry"
)

// messagingUsers resolves SASL usernames to MessagingUser credentials
// (SPEC §4): `user@{space}` or `user@{space}.{namespace}` names the address
// space, a bare `user` is a user of the `default` space. The registry is
// set once the control plane has opened it; until then nobody is found.
type messagingUsers struct {
	reg atomic.Pointer[registry.Registry]
}

// Lookup implements sasl.UserStore.
func (u *messagingUsers) Lookup(user string) (sasl.Credentials, bool) {
	reg, name, space, ns, ok := u.resolve(user)
	if !ok {
		return nil, false
	}
	return credentials.Store{Registry: reg}.Users(ns, space).Lookup(name)
}

// user returns the MessagingUser of a user name (`user`,
// `user@space` or `user@space.namespace`).
func (u *messagingUsers) user(user string) (*model.MessagingUser, bool) {
	reg, name, space, ns, ok := u.resolve(user)
	if !ok {
		return nil, false
	}
	o, ok := reg.Get(model.MessagingUserKind, ns, space+"."+name)
	if !ok {
		return nil, false
	}
	return o.(*model.MessagingUser), true
}

// resolve splits a user name (splitUser) and returns the registry to look
// it up in; false without a registry or for a malformed name.
func (u *messagingUsers) resolve(user string) (reg *registry.Registry, name, space, ns string, ok bool) {
	if reg = u.reg.Load(); reg == nil {
		return nil, "", "", "", false
	}
	name, space, ns, ok = splitUser(user)
	return reg, name, space, ns, ok
}

// splitUser splits `user@{space}` or `user@{space}.{namespace}`; a bare
// `user` is of the `default` space in namespace `default`.
func splitUser(user string) (name, space, ns string, ok bool) {
	name, space, ns = user, "default", "default"
	if i := strings.LastIndexByte(user, '@'); i >= 0 {
		name, space = user[:i], user[i+1:]
		if j := strings.IndexByte(space, '.'); j >= 0 {
			space, ns = space[:j], space[j+1:]
		}
	}
	return name, space, ns, name != "" && space != "" && ns != ""
}

// decoyCredentials are checked instead of an unknown user's, so that a
// failed HTTP login takes as long whether or not the user exists.
var decoyCredentials = sync.OnceValue(func() sasl.Credentials {
	c, _ := sasl.NewPasswordCredentials(rand.Text())
	return c
})

func decoyVerify(password string) { decoyCredentials().VerifyPassword(password) }

// messagingUserAuthz enforces MessagingUser spec.authorization (SPEC §4):
// `send`/`recv` per address pattern, where a pattern ending in `*` matches
// every address with that prefix.
type messagingUserAuthz struct{ users *messagingUsers }

// Allowed implements router.Authorizer. user is the SASL name
// (`user@space[.namespace]` or `user`); space is the data-plane space the
// connection was placed in. A user has rights only in its own space: one
// placed elsewhere (by SNI or the open hostname) has none there, so a
// user of space A never gets the rights of B's user of the same name.
func (a messagingUserAuthz) Allowed(user, space, address, op string) bool {
	_, uspace, ns, ok := splitUser(user)
	if !ok || model.DataPlaneSpace(ns, uspace) != space {
		return false
	}
	mu, ok := a.users.user(user)
	if !ok {
		return false
	}
	for _, rule := range mu.Spec.Authorization {
		if !slices.Contains(rule.Operations, op) {
			continue
		}
		for _, p := range rule.Addresses {
			if p == address || strings.HasSuffix(p, "*") && strings.HasPrefix(address, strings.TrimSuffix(p, "*")) {
				return true
			}
		}
	}
	return false
}
