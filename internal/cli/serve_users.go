package cli

import (
	"strings"
	"sync/atomic"

	"github.com/enmasse-go/enmasse/internal/amqp/sasl"
	"github.com/enmasse-go/enmasse/internal/controlplane/credentials"
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
	reg := u.reg.Load()
	if reg == nil {
		return nil, false
	}
	name, space, ns := user, "default", "default"
	if i := strings.LastIndexByte(user, '@'); i >= 0 {
		name, space = user[:i], user[i+1:]
		if j := strings.IndexByte(space, '.'); j >= 0 {
			space, ns = space[:j], space[j+1:]
		}
	}
	if name == "" || space == "" || ns == "" {
		return nil, false
	}
	return credentials.Store{Registry: reg}.Users(ns, space).Lookup(name)
}
