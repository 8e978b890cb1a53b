package mqtt

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/enmasse-go/enmasse/internal/amqp/message"
	"github.com/enmasse-go/enmasse/internal/amqp/types"
	"github.com/enmasse-go/enmasse/internal/mqtt/packets"
)

// Message annotations the gateway sets on messages it publishes.
const (
	// annotationRetain marks a message published with the MQTT RETAIN flag.
	annotationRetain types.Symbol = "x-opt-retain"
	// annotationQoS carries the MQTT QoS the message was published with, so
	// that a QoS 2 publication reaches QoS 2 subscribers at QoS 2.
	annotationQoS types.Symbol = "x-opt-mqtt-qos"
	// annotationPayloadFormat carries a v5 Payload Format Indicator of 1
	// (the payload is UTF-8 text); the payload stays a data section, so
	// AMQP receivers reading bytes are unaffected.
	annotationPayloadFormat types.Symbol = "x-opt-mqtt-payload-format"
	// annotationRetained marks a retained message the broker delivers
	// because the subscription asked for them (broker.AnnotationRetained).
	annotationRetained types.Symbol = "x-opt-retained"
	// annotationOrigin carries the client identifier of the publishing
	// connection while it has a No Local subscription.
	annotationOrigin types.Symbol = "x-opt-mqtt-origin"
	// capabilityRetained on a receiver's source asks the broker for the
	// retained messages first (broker.CapabilityRetained).
	capabilityRetained types.Symbol = "retained"
	// capabilityRetainedOnly asks for the retained messages alone, then
	// an end marker with annotationRetainedEnd
	// (broker.CapabilityRetainedOnly).
	capabilityRetainedOnly types.Symbol = "retained-only"
	annotationRetainedEnd  types.Symbol = "x-opt-retained-end"
	// capabilityShared and capabilityGlobal on a non-durable source join
	// the shared subscription named by the link (JMS 2.0 shared consumers).
	capabilityShared types.Symbol = "shared"
	capabilityGlobal types.Symbol = "global"
)

// toAMQP encodes an MQTT PUBLISH (or a Will, as a PUBLISH) as an AMQP
// message for the topic (SPEC §5).
func toAMQP(dst []byte, p *packets.Publish) ([]byte, error) { return toAMQPFrom(dst, p, "") }

// toAMQPFrom is toAMQP with the publishing client identifier in the
// x-opt-mqtt-origin annotation (for No Local) when origin is not empty.
func toAMQPFrom(dst []byte, p *packets.Publish, origin string) ([]byte, error) {
	s := encodePool.Get().(*encodeScratch)
	defer func() {
		*s = encodeScratch{} // no payload or topic kept alive by the pool
		encodePool.Put(s)
	}()
	h := &s.h
	*h = message.DefaultHeader()
	h.Durable = p.QoS >= 1
	pr := &p.Properties
	if pr.HasMessageExpiryInterval {
		ms := uint64(pr.MessageExpiryInterval) * 1000
		if ms > 0xFFFFFFFF {
			ms = 0xFFFFFFFF
		}
		h.TTL, h.HasTTL = uint32(ms), true
	}
	s.pr = message.Properties{
		To:          p.Topic,
		ContentType: types.Symbol(pr.ContentType),
		ReplyTo:     pr.ResponseTopic,
	}
	s.data[0] = p.Payload
	m := &s.m
	*m = message.Message{Header: h, Properties: &s.pr, Data: s.data[:]}
	if pr.CorrelationData != nil {
		m.Properties.CorrelationID = slices.Clone(pr.CorrelationData)
	}
	if p.Retain || p.QoS > 0 || pr.PayloadFormatIndicator == 1 || origin != "" {
		m.MessageAnnotations = s.ann[:0]
		if p.Retain {
			m.MessageAnnotations = append(m.MessageAnnotations, types.KV{Key: annotationRetain, Value: true})
		}
		if p.QoS > 0 {
			m.MessageAnnotations = append(m.MessageAnnotations, types.KV{Key: annotationQoS, Value: p.QoS})
		}
		if pr.PayloadFormatIndicator == 1 {
			m.MessageAnnotations = append(m.MessageAnnotations, types.KV{Key: annotationPayloadFormat, Value: uint8(1)})
		}
		if origin != "" {
			m.MessageAnnotations = append(m.MessageAnnotations, types.KV{Key: annotationOrigin, Value: origin})
		}
	}
	if len(pr.User) > 0 {
		// AMQP application-properties is a map: a repeated name keeps
		// its last value.
		m.ApplicationProperties = make(map[string]any, len(pr.User))
		for _, u := range pr.User {
			m.ApplicationProperties[u.Key] = u.Value
		}
	}
	if dst == nil {
		// One allocation of about the right size instead of the
		// encoder's doublings: sections, annotations and properties
		// take well under 160 bytes besides these.
		dst = make([]byte, 0, 160+len(p.Payload)+len(p.Topic)+len(origin)+len(pr.ContentType)+len(pr.ResponseTopic)+len(pr.CorrelationData))
	}
	return m.Marshal(dst)
}

// encodeScratch is what toAMQPFrom describes a message with: pooled, so
// that encoding a PUBLISH allocates nothing besides its output (and the
// boxed correlation data and application-properties map when it has
// them).
type encodeScratch struct {
	m    message.Message
	h    message.Header
	pr   message.Properties
	data [1][]byte
	ann  [4]types.KV // retain, QoS, payload format, origin
}

var encodePool = sync.Pool{New: func() any { return new(encodeScratch) }}

// bodyPool holds the buffers QoS 0 publications are encoded in: the
// transport copies a pre-settled message into its output when it can send
// it at once, and the buffer is free again.
var bodyPool = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// publishSettled sends a QoS 0 PUBLISH as a pre-settled AMQP message
// encoded in a pooled buffer, which goes back to the pool unless the
// transport kept it (queued behind the session window). encErr is an
// encoding failure (the message is dropped), sendErr a failed send.
func (c *conn) publishSettled(p *packets.Publish, origin string) (encErr, sendErr error) {
	h := bodyPool.Get().(*[]byte)
	body, err := toAMQPFrom((*h)[:0], p, origin)
	if err != nil {
		bodyPool.Put(h)
		return err, nil
	}
	kept, err := c.sender.SendSettled(c.ctx, body)
	if !kept && cap(body) <= 64<<10 {
		*h = body[:0]
		bodyPool.Put(h)
	}
	return nil, err
}

// fromAMQP is an AMQP message as the parts of an MQTT PUBLISH.
type fromAMQP struct {
	to         string // properties.to, or subject
	payload    []byte
	retain     bool   // published with RETAIN
	retained   bool   // a retained message delivered on subscribe
	end        bool   // the end marker of a retained-only link
	origin     string // client identifier of the MQTT publisher, when tagged
	qos        byte   // the publisher's QoS when the annotation says so
	hasQoS     bool
	properties packets.Properties
}

// decodeAMQP maps an AMQP message to MQTT (SPEC §5). The payload is the
// concatenated data sections, or a string or binary amqp-value; other
// bodies are formatted as text. The Payload Format Indicator is 1 (UTF-8)
// for a string amqp-value and for a message published with it (the
// x-opt-mqtt-payload-format annotation), when the payload is valid UTF-8.
func decodeAMQP(b []byte) (fromAMQP, error) { return decodeAMQPInto(b, new(message.Decoded)) }

// decodeAMQPInto is decodeAMQP with the decoded message in scratch (a
// subscription's, reused for every delivery: nothing in the result points
// into it).
func decodeAMQPInto(b []byte, scratch *message.Decoded) (fromAMQP, error) {
	var f fromAMQP
	r, err := message.Parse(b)
	if err != nil {
		return f, err
	}
	m, err := r.DecodeInto(scratch)
	if err != nil {
		return f, err
	}
	switch {
	case len(m.Data) == 1:
		f.payload = m.Data[0]
	case len(m.Data) > 1:
		f.payload = slices.Concat(m.Data...)
	case m.HasValue || m.Value != nil:
		switch v := m.Value.(type) {
		case string:
			f.payload = []byte(v)
			f.properties.PayloadFormatIndicator = 1
		case []byte:
			f.payload = v
		case nil:
		default:
			f.payload = fmt.Appendf(nil, "%v", v)
		}
	case len(m.Sequence) > 0:
		f.payload = fmt.Appendf(nil, "%v", m.Sequence)
	}
	for _, kv := range m.MessageAnnotations {
		switch kv.Key {
		case annotationRetain:
			f.retain, _ = kv.Value.(bool)
		case annotationRetained:
			f.retained, _ = kv.Value.(bool)
		case annotationRetainedEnd:
			f.end, _ = kv.Value.(bool)
		case annotationOrigin:
			f.origin, _ = kv.Value.(string)
		case annotationQoS:
			if q, ok := kv.Value.(uint8); ok && q <= 2 {
				f.qos, f.hasQoS = q, true
			}
		case annotationPayloadFormat:
			if v, ok := kv.Value.(uint8); ok && v == 1 {
				f.properties.PayloadFormatIndicator = 1
			}
		}
	}
	pr := &f.properties
	if pr.PayloadFormatIndicator == 1 && !utf8.Valid(f.payload) {
		pr.PayloadFormatIndicator = 0 // [MQTT-3.3.2-4] would not hold
	}
	if m.Header != nil && (m.Header.HasTTL || m.Header.TTL > 0) {
		pr.MessageExpiryInterval, pr.HasMessageExpiryInterval = (m.Header.TTL+999)/1000, true
	}
	if p := m.Properties; p != nil {
		f.to = p.To
		if f.to == "" {
			f.to = p.Subject
		}
		pr.ContentType = string(p.ContentType)
		if p.ReplyTo != "" && packets.ValidTopicName(p.ReplyTo) == nil {
			pr.ResponseTopic = p.ReplyTo
		}
		switch id := p.CorrelationID.(type) {
		case nil:
		case []byte:
			pr.CorrelationData = id
		case string:
			pr.CorrelationData = []byte(id)
		case types.UUID:
			pr.CorrelationData = id[:]
		default:
			pr.CorrelationData = fmt.Appendf(nil, "%v", id)
		}
	}
	if len(m.ApplicationProperties) > 0 {
		keys := make([]string, 0, len(m.ApplicationProperties))
		for k := range m.ApplicationProperties {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			v := fmt.Sprint(m.ApplicationProperties[k])
			if packets.ValidString(k) != nil || packets.ValidString(v) != nil {
				continue
			}
			pr.User = append(pr.User, packets.UserProperty{Key: k, Value: v})
		}
	}
	return f, nil
}

// topicFor picks the MQTT topic name of a message received on a
// subscription with filter: the message's own topic when it names one
// that the filter matches, else the filter when it has no wildcards, else
// the filter's levels before the first wildcard.
func topicFor(to, filter string) string {
	if to != "" && packets.ValidTopicName(to) == nil && matchFilter(filter, to) {
		return to
	}
	if !strings.ContainsAny(filter, "+#") {
		return filter
	}
	i := strings.IndexAny(filter, "+#")
	t := strings.TrimSuffix(filter[:i], "/")
	if t == "" {
		return "unknown"
	}
	return t
}

// matchFilter reports whether topic matches the MQTT topic filter.
// It walks both level by level without allocating: it runs for every
// message delivered (topicFor).
func matchFilter(filter, topic string) bool {
	for {
		fl, frest, fmore := strings.Cut(filter, "/")
		if fl == "#" {
			return true
		}
		tl, trest, tmore := strings.Cut(topic, "/")
		if fl != "+" && fl != tl {
			return false
		}
		switch {
		case fmore && tmore:
			filter, topic = frest, trest
		case fmore:
			// The topic has no more levels: only `#` matches none
			// ("a/#" matches "a").
			next, _, _ := strings.Cut(frest, "/")
			return next == "#"
		default:
			return fmore == tmore
		}
	}
}

// rootOf returns the first level of a topic name or filter.
func rootOf(name string) string {
	if i := strings.IndexByte(name, '/'); i >= 0 {
		return name[:i]
	}
	return name
}
