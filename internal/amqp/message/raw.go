package message

import (
	"bytes"
	"fmt"

	"github.com/enmasse-go/enmasse/internal/amqp/types"
)

// Bytes returns the whole message as received.
func (r *Raw) Bytes() []byte { return r.b }

// Bare returns the bare message (§3.2): the properties,
// application-properties and body sections exactly as received, without
// the header and annotations before them or the footer after them. It is
// empty when the message has none of those sections.
func (r *Raw) Bare() []byte { return r.b[r.bare:r.foot] }

// Body returns the encoded body sections (every data or amqp-sequence
// section, or the amqp-value section), or nil without a body.
func (r *Raw) Body() []byte { return r.section(rankBody) }

// BodyKind returns the descriptor shared by the body sections
// (DescriptorData, DescriptorAMQPSequence or DescriptorAMQPValue), or 0
// without a body.
func (r *Raw) BodyKind() uint64 { return r.body }

// section returns the encoded section of rank, or nil when it is absent.
func (r *Raw) section(rank int) []byte {
	s := r.sec[rank]
	if !s.present() {
		return nil
	}
	return r.b[s.start:s.end]
}

// decoder returns a decoder over the value of the section of rank.
func (r *Raw) decoder(rank int) (types.Decoder, bool) {
	var d types.Decoder
	s := r.sec[rank]
	if !s.present() {
		return d, false
	}
	d.Reset(r.b[s.val:s.end])
	return d, true
}

// fail wraps an error met while decoding the section of rank. Parse has
// already validated what the accessors read, so this happens only if the
// caller modified the bytes.
func (r *Raw) fail(rank int, code uint64, err error) error {
	return invalid(code, r.sec[rank].start, err)
}

// Header decodes the header section (§3.2.1). Without one it returns
// DefaultHeader and false. It does not allocate.
func (r *Raw) Header() (Header, bool, error) {
	d, ok := r.decoder(rankHeader)
	if !ok {
		return DefaultHeader(), false, nil
	}
	h, err := readHeader(&d)
	if err != nil {
		return DefaultHeader(), true, r.fail(rankHeader, DescriptorHeader, err)
	}
	return h, true, nil
}

// property positions a decoder at field i of the properties list, skipping
// the fields before it without decoding them, and reports whether the field
// is present (the section exists, the list is long enough and the field is
// not null).
func (r *Raw) property(i int) (types.Decoder, bool, error) {
	d, ok := r.decoder(rankProperties)
	if !ok {
		return d, false, nil
	}
	l, err := d.ReadListHeader()
	if err != nil || i >= l.Count {
		return d, false, r.propFail(err)
	}
	for range i {
		if err := d.Skip(); err != nil {
			return d, false, r.propFail(err)
		}
	}
	null, err := nullField(&d, l)
	return d, !null && err == nil, r.propFail(err)
}

func (r *Raw) propFail(err error) error {
	if err == nil {
		return nil
	}
	return r.fail(rankProperties, DescriptorProperties, err)
}

// stringProperty returns properties field i, a string, aliasing the input.
func (r *Raw) stringProperty(i int) ([]byte, bool, error) {
	d, ok, err := r.property(i)
	if !ok || err != nil {
		return nil, false, err
	}
	b, err := d.ReadStringBytes()
	if err != nil {
		return nil, false, r.propFail(err)
	}
	return b, true, nil
}

// ToBytes returns properties.to, the destination address a router forwards
// on, aliasing the message bytes; nil when absent. It does not allocate.
func (r *Raw) ToBytes() []byte {
	b, _, _ := r.stringProperty(propTo)
	return b
}

// To returns properties.to and whether it is present. Only the fields
// before it are walked and only the returned string is allocated.
func (r *Raw) To() (string, bool, error) {
	b, ok, err := r.stringProperty(propTo)
	return string(b), ok, err
}

// ReplyToBytes returns properties.reply-to aliasing the message bytes; nil
// when absent.
func (r *Raw) ReplyToBytes() []byte {
	b, _, _ := r.stringProperty(propReplyTo)
	return b
}

// ReplyTo returns properties.reply-to and whether it is present.
func (r *Raw) ReplyTo() (string, bool, error) {
	b, ok, err := r.stringProperty(propReplyTo)
	return string(b), ok, err
}

// MessageID returns properties.message-id as a uint64, types.UUID, []byte
// (aliasing the message bytes) or string, or nil when absent.
func (r *Raw) MessageID() (any, error) {
	d, ok, err := r.property(propMessageID)
	if !ok || err != nil {
		return nil, err
	}
	id, err := readMessageID(&d, true)
	return id, r.propFail(err)
}

// AbsoluteExpiry returns properties.absolute-expiry-time and whether it is
// present. It does not allocate.
func (r *Raw) AbsoluteExpiry() (types.Timestamp, bool, error) {
	d, ok, err := r.property(propAbsoluteExpiryTime)
	if !ok || err != nil {
		return 0, false, err
	}
	t, err := d.ReadTimestamp()
	if err != nil {
		return 0, false, r.propFail(err)
	}
	return t, true, nil
}

// Properties decodes the properties section (§3.2.4), or returns nil when
// it is absent. UserID and a binary message-id or correlation-id alias the
// message bytes.
func (r *Raw) Properties() (*Properties, error) {
	d, ok := r.decoder(rankProperties)
	if !ok {
		return nil, nil
	}
	p := new(Properties)
	if err := readProperties(&d, p); err != nil {
		return nil, r.propFail(err)
	}
	return p, nil
}

// DeliveryAnnotations decodes the delivery-annotations section (§3.2.2), or
// returns nil when it is absent.
func (r *Raw) DeliveryAnnotations() (types.Map, error) {
	return r.annotations(rankDeliveryAnnotations, DescriptorDeliveryAnnotations)
}

// MessageAnnotations decodes the message-annotations section (§3.2.3), or
// returns nil when it is absent. Keys are types.Symbol or uint64.
func (r *Raw) MessageAnnotations() (types.Map, error) {
	return r.annotations(rankMessageAnnotations, DescriptorMessageAnnotations)
}

// MessageAnnotationsBytes returns the encoded message-annotations
// section, aliasing the message bytes, or nil when it is absent: a cheap
// look for a key before MessageAnnotations decodes the section.
func (r *Raw) MessageAnnotationsBytes() []byte { return r.section(rankMessageAnnotations) }

// AnnotationTrue reports whether the message annotations hold key = true
// (a flag such as x-opt-retain). The section is decoded only when its
// bytes contain the key's name; a section that fails to decode holds no
// flag.
func (r *Raw) AnnotationTrue(key types.Symbol) bool {
	sec := r.section(rankMessageAnnotations)
	if sec == nil || !bytes.Contains(sec, []byte(key)) {
		return false
	}
	ma, err := r.MessageAnnotations()
	if err != nil {
		return false
	}
	for _, kv := range ma {
		if kv.Key == key {
			v, _ := kv.Value.(bool)
			return v
		}
	}
	return false
}

// Footer decodes the footer section (§3.2.9), or returns nil when it is
// absent.
func (r *Raw) Footer() (types.Map, error) {
	return r.annotations(rankFooter, DescriptorFooter)
}

func (r *Raw) annotations(rank int, code uint64) (types.Map, error) {
	d, ok := r.decoder(rank)
	if !ok {
		return nil, nil
	}
	v, err := d.ReadAny()
	if err != nil {
		return nil, r.fail(rank, code, err)
	}
	m, ok := v.(types.Map)
	if !ok {
		return nil, r.fail(rank, code, fmt.Errorf("value of Go type %T, want a map", v))
	}
	return m, nil
}

// ApplicationProperties decodes the application-properties section
// (§3.2.5), or returns nil when it is absent. A key that occurs twice is an
// error: §1.6.23 requires distinct keys and a Go map cannot keep both.
func (r *Raw) ApplicationProperties() (map[string]any, error) {
	d, ok := r.decoder(rankApplicationProperties)
	if !ok {
		return nil, nil
	}
	h, err := d.ReadMapHeader()
	if err != nil {
		return nil, r.fail(rankApplicationProperties, DescriptorApplicationProperties, err)
	}
	m := make(map[string]any, h.Count/2)
	for i := 0; i < h.Count; i += 2 {
		k, err := d.ReadString()
		if err != nil {
			return nil, r.fail(rankApplicationProperties, DescriptorApplicationProperties, err)
		}
		v, err := d.ReadAny()
		if err != nil {
			return nil, r.fail(rankApplicationProperties, DescriptorApplicationProperties, err)
		}
		if _, dup := m[k]; dup {
			return nil, invalidf(DescriptorApplicationProperties, r.sec[rankApplicationProperties].start, "key %q repeated", k)
		}
		m[k] = v
	}
	return m, nil
}

// AppendRewrite appends to dst the message with its annotated parts
// replaced, as a forwarding intermediary sends it on: the header is h (nil
// removes it), the delivery-annotations are kept as received only when
// keepDeliveryAnnotations is set (they are addressed to the receiving peer,
// §3.2.2), the message-annotations are ma (nil keeps the received section;
// an empty non-nil map removes it), and the bare message and footer are
// copied byte for byte, so Bare of the result equals r.Bare. dst must not
// overlap r.Bytes. It does not allocate when dst has room and ma is nil.
func (r *Raw) AppendRewrite(dst []byte, h *Header, ma types.Map, keepDeliveryAnnotations bool) ([]byte, error) {
	start := len(dst)
	if h != nil {
		dst = AppendHeader(dst, *h)
	}
	if keepDeliveryAnnotations {
		dst = append(dst, r.section(rankDeliveryAnnotations)...)
	}
	switch {
	case ma == nil:
		dst = append(dst, r.section(rankMessageAnnotations)...)
	case len(ma) > 0:
		var err error
		if dst, err = appendAnnotations(dst, DescriptorMessageAnnotations, ma); err != nil {
			return dst[:start], err
		}
	}
	return append(dst, r.b[r.bare:]...), nil
}

// appendAnnotations appends an annotations section (§3.2.10) whose keys
// must be types.Symbol or uint64.
func appendAnnotations(b []byte, code uint64, m types.Map) ([]byte, error) {
	b = types.AppendDescriptor(b, code)
	b, c := types.BeginMap(b)
	var err error
	for _, kv := range m {
		switch k := kv.Key.(type) {
		case types.Symbol:
			b, err = appendSymbol(b, k)
		case uint64:
			b = types.AppendUlong(b, k)
		default:
			err = fmt.Errorf("key of Go type %T, want types.Symbol or uint64", kv.Key)
		}
		if err == nil {
			b, err = types.AppendAny(b, kv.Value)
		}
		if err != nil {
			return b, fmt.Errorf("%w: %s: %w", ErrInvalidMessage, sectionName(code), err)
		}
	}
	return types.EndMap(b, c, len(m)), nil
}
