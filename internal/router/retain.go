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

// retainRequested reports whether a message carries x-opt-retain = true.
// Most messages do not contain the name at all and cost one scan.
func retainRequested(payload []byte) bool {
	if !bytes.Contains(payload, []byte(annotationRetain)) {
		return false
	}
	raw, err := message.Parse(payload)
	if err != nil {
		return false
	}
	ma, err := raw.MessageAnnotations()
	if err != nil {
		return false
	}
	for _, kv := range ma {
		if kv.Key == annotationRetain {
			v, _ := kv.Value.(bool)
			return v
		}
	}
	return false
}

// refuseRetained refuses a message asking to be retained on a multicast
// address, which keeps no messages: an unsettled one is rejected with
// amqp:not-implemented (the MQTT gateway answers PUBACK/PUBREC 0x83), a
// pre-settled one (MQTT QoS 0) is dropped. Delivering it without keeping
// it would break the retain contract [MQTT-3.3.1-5]; only topics keep
// retained messages. It reports whether d was refused.
func (a *address) refuseRetained(d *transport.Delivery) bool {
	if a.typ != Multicast || !retainRequested(d.Payload()) {
		return false
	}
	if _, settled := d.RemoteState(); !settled {
		d.Settle(frames.Rejected{Error: frames.Errorf(frames.ErrNotImplemented,
			"multicast address %q keeps no retained messages; a topic address does", a.name)})
	}
	return true
}
