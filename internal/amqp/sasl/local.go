package sasl

import (
	"fmt"
	"slices"
)

// maxLocalSteps bounds the challenges of one Authenticate exchange; the
// mechanisms here need at most two.
const maxLocalSteps = 8

// Authenticate runs a whole exchange between the client mechanism m and
// the server policy a in process, without a connection: for a gateway
// that checks its own clients' credentials exactly as its AMQP listener
// would (package mqtt's Backend.Login). m must be among the mechanisms a
// offers for info. The error is the server's *Error (CodeAuth for wrong
// credentials, never saying whether the user exists) or the client's.
func Authenticate(a Authenticator, info ConnInfo, m ClientMech) (Identity, error) {
	if !slices.Contains(a.Mechanisms(info), m.Name()) {
		return Identity{}, refine(ErrUnsupportedMechanism, "%s is not offered", m.Name())
	}
	sm, err := a.Start(m.Name(), info)
	if err != nil {
		return Identity{}, err
	}
	resp, err := m.InitialResponse()
	if err != nil {
		return Identity{}, err
	}
	for range maxLocalSteps {
		challenge, done, err := sm.Step(resp)
		if err != nil {
			return Identity{}, err
		}
		if done {
			if err := m.Verify(challenge); err != nil {
				return Identity{}, err
			}
			return sm.Identity(), nil
		}
		if resp, err = m.Step(challenge); err != nil {
			return Identity{}, err
		}
	}
	return Identity{}, fmt.Errorf("sasl: %s: no outcome after %d challenges", m.Name(), maxLocalSteps)
}
