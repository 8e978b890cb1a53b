package sasl

import (
	"fmt"
	"slices"
	"strings"
)

// SelectClient returns the first of prefs whose Name the server offered in
// sasl-mechanisms, so prefs is the client's preference order. Names compare
// case-insensitively; nil entries are skipped. If none matches, the error
// matches ErrNoCommonMechanism and lists both sides.
func SelectClient(offered []string, prefs ...ClientMech) (ClientMech, error) {
	var ours []string
	for _, m := range prefs {
		if m == nil {
			continue
		}
		name := m.Name()
		if slices.ContainsFunc(offered, func(o string) bool { return strings.EqualFold(o, name) }) {
			return m, nil
		}
		ours = append(ours, name)
	}
	return nil, fmt.Errorf("%w: server offers [%s], client has [%s]",
		ErrNoCommonMechanism, strings.Join(offered, " "), strings.Join(ours, " "))
}

// oneShotClient is the client side of the mechanisms that consist of one
// client message and nothing else: ANONYMOUS, PLAIN and EXTERNAL.
type oneShotClient struct {
	name string
	msg  []byte
	err  error // why msg cannot be sent; returned by InitialResponse

	sent     bool // InitialResponse was called
	answered bool // one empty challenge was answered
}

// Name implements ClientMech.
func (c *oneShotClient) Name() string { return c.name }

// InitialResponse implements ClientMech.
func (c *oneShotClient) InitialResponse() ([]byte, error) {
	if c.sent {
		return nil, fmt.Errorf("%w: %s InitialResponse called twice", ErrOutOfOrder, c.name)
	}
	c.sent = true
	if c.err != nil {
		return nil, fmt.Errorf("%s: %w", c.name, c.err)
	}
	return c.msg, nil
}

// Step answers the one challenge these mechanisms allow: an empty one from a
// server that did not receive the initial response (RFC 4422 §5, step 3)
// gets the message again. Anything else is a server error.
func (c *oneShotClient) Step(challenge []byte) ([]byte, error) {
	if !c.sent || c.err != nil {
		return nil, fmt.Errorf("%w: %s Step before a successful InitialResponse", ErrOutOfOrder, c.name)
	}
	if len(challenge) != 0 || c.answered {
		return nil, fmt.Errorf("%w: %s takes no challenge", ErrUnexpectedServerData, c.name)
	}
	c.answered = true
	return c.msg, nil
}

// Verify implements ClientMech; these mechanisms define no additional data
// on success.
func (c *oneShotClient) Verify(additionalData []byte) error {
	if len(additionalData) != 0 {
		return fmt.Errorf("%w: %s defines no outcome additional-data", ErrUnexpectedServerData, c.name)
	}
	return nil
}
