package message

import (
	"fmt"
	"slices"

	"github.com/enmasse-go/enmasse/internal/amqp/types"
)

// Message is a fully decoded message, for clients and tests; intermediaries
// should keep a Raw instead so the bare message is forwarded unchanged.
// A nil pointer, map or slice field means the section is absent; a non-nil
// empty map is an empty section.
//
// The body is one of three kinds (§3.2): Data (one data section per
// element), Sequence (one amqp-sequence section per element) or a single
// amqp-value section holding Value, present when HasValue is set or Value is
// non-nil. A message may also have no body.
type Message struct {
	Header              *Header   // §3.2.1
	DeliveryAnnotations types.Map // §3.2.2; keys are types.Symbol or uint64
	MessageAnnotations  types.Map // §3.2.3; keys are types.Symbol or uint64
	Properties          *Properties
	// ApplicationProperties (§3.2.5) maps to simple values, never lists,
	// maps or arrays. Marshal writes the keys in sorted order, so equal
	// maps encode to the same bytes.
	ApplicationProperties map[string]any
	Data                  [][]byte  // §3.2.6
	Sequence              [][]any   // §3.2.7
	Value                 any       // §3.2.8
	HasValue              bool      // an amqp-value section is present (Value may be nil)
	Footer                types.Map // §3.2.9; keys are types.Symbol or uint64
}

// Marshal appends the encoding of m to b. On error (see ErrInvalidMessage)
// it returns b unchanged.
func (m *Message) Marshal(b []byte) ([]byte, error) {
	start := len(b)
	b, err := m.appendSections(b)
	if err != nil {
		return b[:start], err
	}
	return b, nil
}

func (m *Message) hasValue() bool { return m.HasValue || m.Value != nil }

func (m *Message) appendSections(b []byte) ([]byte, error) {
	kinds := 0
	for _, set := range []bool{len(m.Data) > 0, len(m.Sequence) > 0, m.hasValue()} {
		if set {
			kinds++
		}
	}
	if kinds > 1 {
		return b, fmt.Errorf("%w: more than one body kind (data, sequence, value)", ErrInvalidMessage)
	}
	if m.Header != nil {
		b = AppendHeader(b, *m.Header)
	}
	var err error
	if m.DeliveryAnnotations != nil {
		if b, err = appendAnnotations(b, DescriptorDeliveryAnnotations, m.DeliveryAnnotations); err != nil {
			return b, err
		}
	}
	if m.MessageAnnotations != nil {
		if b, err = appendAnnotations(b, DescriptorMessageAnnotations, m.MessageAnnotations); err != nil {
			return b, err
		}
	}
	if m.Properties != nil {
		if b, err = appendProperties(b, m.Properties); err != nil {
			return b, err
		}
	}
	if m.ApplicationProperties != nil {
		if b, err = appendApplicationProperties(b, m.ApplicationProperties); err != nil {
			return b, err
		}
	}
	if b, err = m.appendBody(b); err != nil {
		return b, err
	}
	if m.Footer != nil {
		return appendAnnotations(b, DescriptorFooter, m.Footer)
	}
	return b, nil
}

func (m *Message) appendBody(b []byte) ([]byte, error) {
	for _, d := range m.Data {
		b = types.AppendBinary(types.AppendDescriptor(b, DescriptorData), d)
	}
	var err error
	for _, s := range m.Sequence {
		if b, err = types.AppendAny(types.AppendDescriptor(b, DescriptorAMQPSequence), s); err != nil {
			return b, fmt.Errorf("%w: amqp-sequence: %w", ErrInvalidMessage, err)
		}
	}
	if m.hasValue() {
		if b, err = types.AppendAny(types.AppendDescriptor(b, DescriptorAMQPValue), m.Value); err != nil {
			return b, fmt.Errorf("%w: amqp-value: %w", ErrInvalidMessage, err)
		}
	}
	return b, nil
}

// appendApplicationProperties appends the section with sorted keys, and
// refuses values that encode as a list, map or array (§3.2.5).
func appendApplicationProperties(b []byte, ap map[string]any) ([]byte, error) {
	var small [16]string
	keys := small[:0]
	for k := range ap {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = types.AppendDescriptor(b, DescriptorApplicationProperties)
	b, c := types.BeginMap(b)
	var err error
	for _, k := range keys {
		if b, err = appendString(b, k); err != nil {
			return b, fmt.Errorf("%w: application-properties key: %w", ErrInvalidMessage, err)
		}
		at := len(b)
		if b, err = types.AppendAny(b, ap[k]); err != nil {
			return b, fmt.Errorf("%w: application property %q: %w", ErrInvalidMessage, k, err)
		}
		if isCompound(b[at]) {
			return b, fmt.Errorf("%w: application property %q is a %T, want a simple type", ErrInvalidMessage, k, ap[k])
		}
	}
	return types.EndMap(b, c, len(keys)), nil
}

// Unmarshal decodes a whole message strictly: it is Parse followed by
// Decode, so every rule Parse checks applies. Binary values in the result
// alias b.
func Unmarshal(b []byte) (*Message, error) {
	r, err := Parse(b)
	if err != nil {
		return nil, err
	}
	return r.Decode()
}

// Decode decodes every section. Binary values (Data, UserID, binary ids and
// binary values in maps and the body) alias the message bytes; strings are
// copied.
// The message, its header, its properties and a single data section's
// slice share one allocation.
func (r *Raw) Decode() (*Message, error) { return r.DecodeInto(new(Decoded)) }

// Decoded is the storage of a decoded message: the message, its header,
// its properties and a single data section's slice.
type Decoded struct {
	m    Message
	h    Header
	p    Properties
	data [1][]byte
}

// DecodeInto is Decode into lm, which it overwrites: a caller decoding
// one message after another, and keeping none of the results past the
// next, can reuse one Decoded and allocate nothing for it. The result
// points into lm.
func (r *Raw) DecodeInto(lm *Decoded) (*Message, error) {
	*lm = Decoded{}
	m := &lm.m
	var err error
	if h, ok, err := r.Header(); err != nil {
		return nil, err
	} else if ok {
		lm.h = h
		m.Header = &lm.h
	}
	if r.body == DescriptorData && r.nb == 1 {
		m.Data = lm.data[:0]
	}
	if m.DeliveryAnnotations, err = r.DeliveryAnnotations(); err != nil {
		return nil, err
	}
	if m.MessageAnnotations, err = r.MessageAnnotations(); err != nil {
		return nil, err
	}
	if d, ok := r.decoder(rankProperties); ok {
		if err := readProperties(&d, &lm.p); err != nil {
			return nil, r.propFail(err)
		}
		m.Properties = &lm.p
	}
	if m.ApplicationProperties, err = r.ApplicationProperties(); err != nil {
		return nil, err
	}
	if err := r.decodeBody(m); err != nil {
		return nil, err
	}
	if m.Footer, err = r.Footer(); err != nil {
		return nil, err
	}
	return m, nil
}

// decodeBody walks the body sections, which Parse found to be of one kind.
func (r *Raw) decodeBody(m *Message) error {
	s := r.sec[rankBody]
	if !s.present() {
		return nil
	}
	var d types.Decoder
	d.Reset(r.b[s.start:s.end])
	if r.body == DescriptorData && m.Data == nil {
		m.Data = make([][]byte, 0, r.nb)
	} else if r.body == DescriptorAMQPSequence {
		m.Sequence = make([][]any, 0, r.nb)
	}
	for d.Len() > 0 {
		off := s.start + d.Pos()
		if _, err := readSectionDescriptor(&d); err != nil {
			return err
		}
		switch r.body {
		case DescriptorData:
			b, err := d.ReadBinaryBytes()
			if err != nil {
				return invalid(r.body, off, err)
			}
			m.Data = append(m.Data, b)
		case DescriptorAMQPSequence:
			v, err := d.ReadAny()
			l, ok := v.([]any)
			if err == nil && !ok {
				err = fmt.Errorf("value of Go type %T, want a list", v)
			}
			if err != nil {
				return invalid(r.body, off, err)
			}
			m.Sequence = append(m.Sequence, l)
		default:
			v, err := d.ReadAny()
			if err != nil {
				return invalid(r.body, off, err)
			}
			m.Value, m.HasValue = v, true
		}
	}
	return nil
}
