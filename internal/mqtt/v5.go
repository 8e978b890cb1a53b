package mqtt

import (
	"strings"
	"time"

	"github.com/enmasse-go/enmasse/internal/mqtt/packets"
)

// connackV5 applies what only shapes the v5 exchange: Server Keep Alive
// (Options.MaxKeepAlive), the client's Topic Alias Maximum, Request
// Problem Information [MQTT-3.1.2-29] and Request Response Information
// (MQTT 5.0 §3.1.2.11.7).
func (c *conn) connackV5(cp *packets.Connect, ack *packets.Connack) {
	pr := &cp.Properties
	if ka := c.s.opts.MaxKeepAlive; ka > 0 && (cp.KeepAlive == 0 || cp.KeepAlive > ka) {
		// Server Keep Alive: the client must use it [MQTT-3.2.2-21].
		ack.Properties.ServerKeepAlive, ack.Properties.HasServerKeepAlive = ka, true
		c.keepAlive = time.Duration(ka) * time.Second
	}
	c.aliasMax = min(pr.TopicAliasMaximum, maxOutAliases)
	c.noProblemInfo = pr.HasRequestProblemInformation && pr.RequestProblemInformation == 0
	if pr.RequestResponseInformation == 1 {
		if info := c.s.responseInformation(c.clientID); info != "" {
			ack.Properties.ResponseInformation = info
		}
	}
}

// responseInformation is the Response Information for a client: the
// topic Options.ResponseTopicRoot/<client identifier>, under which the
// client may build its response topics; "" (none is sent) when the
// client identifier cannot be a topic level.
func (s *Server) responseInformation(clientID string) string {
	root := s.opts.ResponseTopicRoot
	if root == "" || clientID == "" || strings.ContainsAny(clientID, "/+#") {
		return ""
	}
	t := root + "/" + clientID
	if packets.ValidTopicName(t) != nil {
		return ""
	}
	return t
}

// stripProblemInfo removes the Reason String and User Properties from
// packets other than PUBLISH, CONNACK and DISCONNECT, for a client that
// set Request Problem Information to 0 [MQTT-3.1.2-29].
func stripProblemInfo(p packets.Packet) {
	var pr *packets.Properties
	switch p := p.(type) {
	case *packets.Puback:
		pr = &p.Properties
	case *packets.Pubrec:
		pr = &p.Properties
	case *packets.Pubrel:
		pr = &p.Properties
	case *packets.Pubcomp:
		pr = &p.Properties
	case *packets.Suback:
		pr = &p.Properties
	case *packets.Unsuback:
		pr = &p.Properties
	default:
		return
	}
	pr.ReasonString, pr.User = "", nil
}

// maxOutAliases bounds the topic aliases kept per connection.
const maxOutAliases = 64

// aliasLocked gives a PUBLISH to the client a topic alias (MQTT 5.0
// §3.3.2.3.4): the first aliasMax distinct topic names get the aliases
// 1..aliasMax in the order they are written (never above the client's
// Topic Alias Maximum [MQTT-3.3.2-11]); a later PUBLISH of one of them
// carries the alias and an empty topic. Aliases are never reassigned.
// It returns a copy in c.aliasPub (valid until send clears it); p stays
// as it was. c.wmu is held, so aliases follow the order of the bytes on
// the wire.
func (c *conn) aliasLocked(p *packets.Publish) *packets.Publish {
	if p.Topic == "" {
		return p
	}
	a, ok := c.outAliases[p.Topic]
	switch {
	case ok:
	case len(c.outAliases) < int(c.aliasMax):
		if c.outAliases == nil {
			c.outAliases = map[string]uint16{}
		}
		a = uint16(len(c.outAliases) + 1)
		c.outAliases[p.Topic] = a
	default:
		return p
	}
	if c.aliasPub == nil {
		c.aliasPub = new(packets.Publish) // only clients that take aliases
	}
	q := c.aliasPub
	*q = *p
	if ok {
		q.Topic = "" // the alias alone
	}
	q.Properties.TopicAlias = a
	return q
}
