package router

import (
	"bytes"

	"github.com/enmasse-go/enmasse/internal/amqp/frames"
	"github.com/enmasse-go/enmasse/internal/amqp/message"
	"github.com/enmasse-go/enmasse/internal/amqp/transport"
	"github.com/enmasse-go/enmasse/internal/amqp/types"
)

// annotationRetain is the message annotation asking a topic to keep the
// message as the retained message of its name (the MQTT RETAIN flag; the
// broker's AnnotationRetain).
const annotationRetain types.Symbol = "x-opt-retain"

// refuseRetained refuses a message asking to be retained on a multicast
// address, which keeps no messages: an unsettled one is rejected with
// amqp:not-implemented (the MQTT gateway answers PUBACK/PUBREC 0x83), a
// pre-settled one (MQTT QoS 0) is dropped. Delivering it without keeping
// it would break the retain contract [MQTT-3.3.1-5]; only topics keep
// retained messages. It reports whether d was refused. raw is d's payload
// parsed, or nil when the caller has not parsed it; only a multicast
// address parses it. A payload that does not parse asks for nothing.
func (a *address) refuseRetained(d *transport.Delivery, raw *message.Raw) bool {
	if a.typ != Multicast {
		return false
	}
	if raw == nil {
		if !bytes.Contains(d.Payload(), []byte(annotationRetain)) {
			return false // the common case: no parse
		}
		r, err := message.Parse(d.Payload())
		if err != nil {
			return false
		}
		raw = &r
	}
	if !raw.AnnotationTrue(annotationRetain) {
		return false
	}
	if _, settled := d.RemoteState(); !settled {
		d.Settle(frames.Rejected{Error: frames.Errorf(frames.ErrNotImplemented,
			"multicast address %q keeps no retained messages; a topic address does", a.name)})
	}
	return true
}
