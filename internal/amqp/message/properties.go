package message

import (
	"fmt"
	"unicode/utf8"

	"github.com/enmasse-go/enmasse/internal/amqp/types"
)

// Properties holds the immutable standard properties of AMQP 1.0 §3.2.4.
// They belong to the bare message: an intermediary forwards them byte for
// byte and never re-encodes them (see the package documentation).
//
// An empty string, nil slice or nil MessageID/CorrelationID means the field
// is absent, so a field present on the wire with an empty value decodes as
// absent. Timestamps and the group sequence have a Has flag because zero is
// a valid value; they are encoded when the flag is set or the value is
// non-zero, and decoding sets the flag.
type Properties struct {
	// MessageID identifies the message within the system; it is a uint64,
	// types.UUID, []byte or string (§3.2.11-14).
	MessageID any
	// UserID is the identity of the producing user, which a node may
	// authenticate.
	UserID []byte
	// To is the address of the node the message is destined for (an
	// address-string, §3.2.15); a router forwards on it.
	To string
	// Subject summarises the message for the application.
	Subject string
	// ReplyTo is the address replies should be sent to.
	ReplyTo string
	// CorrelationID has the types allowed for MessageID and typically
	// repeats the MessageID of the request a reply answers.
	CorrelationID any
	// ContentType is the RFC 2046 MIME type of a data body.
	ContentType types.Symbol
	// ContentEncoding is the RFC 2616 content coding applied to a data body.
	ContentEncoding types.Symbol
	// AbsoluteExpiryTime is when the message expires regardless of TTL.
	AbsoluteExpiryTime types.Timestamp
	// HasAbsoluteExpiry reports that AbsoluteExpiryTime is present.
	HasAbsoluteExpiry bool
	// CreationTime is when the message was created.
	CreationTime types.Timestamp
	// HasCreationTime reports that CreationTime is present.
	HasCreationTime bool
	// GroupID is the group the message belongs to.
	GroupID string
	// GroupSequence is the RFC 1982 position of the message in its group.
	GroupSequence uint32
	// HasGroupSequence reports that GroupSequence is present.
	HasGroupSequence bool
	// ReplyToGroupID is the group replies should carry.
	ReplyToGroupID string
}

// Indexes of the properties fields, §3.2.4.
const (
	propMessageID = iota
	propUserID
	propTo
	propSubject
	propReplyTo
	propCorrelationID
	propContentType
	propContentEncoding
	propAbsoluteExpiryTime
	propCreationTime
	propGroupID
	propGroupSequence
	propReplyToGroupID
	numProps
)

// present reports, for each field, whether it is encoded.
func (p *Properties) present() [numProps]bool {
	return [numProps]bool{
		p.MessageID != nil, p.UserID != nil, p.To != "", p.Subject != "",
		p.ReplyTo != "", p.CorrelationID != nil, p.ContentType != "",
		p.ContentEncoding != "", p.HasAbsoluteExpiry || p.AbsoluteExpiryTime != 0,
		p.HasCreationTime || p.CreationTime != 0, p.GroupID != "",
		p.HasGroupSequence || p.GroupSequence != 0, p.ReplyToGroupID != "",
	}
}

// appendProperties appends p as a properties section, omitting trailing
// absent fields and writing null for absent fields before present ones.
func appendProperties(b []byte, p *Properties) ([]byte, error) {
	has := p.present()
	n := numProps
	for n > 0 && !has[n-1] {
		n--
	}
	b = types.AppendDescriptor(b, DescriptorProperties)
	if n == 0 {
		return append(b, types.CodeList0), nil
	}
	b, c := types.BeginList(b)
	var err error
	for i := range n {
		if !has[i] {
			b = types.AppendNull(b)
			continue
		}
		if b, err = appendProperty(b, p, i); err != nil {
			return b, fmt.Errorf("%w: properties field %d: %w", ErrInvalidMessage, i, err)
		}
	}
	return types.EndList(b, c, n), nil
}

func appendProperty(b []byte, p *Properties, i int) ([]byte, error) {
	switch i {
	case propMessageID:
		return appendMessageID(b, p.MessageID)
	case propUserID:
		return types.AppendBinary(b, p.UserID), nil
	case propTo:
		return appendString(b, p.To)
	case propSubject:
		return appendString(b, p.Subject)
	case propReplyTo:
		return appendString(b, p.ReplyTo)
	case propCorrelationID:
		return appendMessageID(b, p.CorrelationID)
	case propContentType:
		return appendSymbol(b, p.ContentType)
	case propContentEncoding:
		return appendSymbol(b, p.ContentEncoding)
	case propAbsoluteExpiryTime:
		return types.AppendTimestamp(b, p.AbsoluteExpiryTime), nil
	case propCreationTime:
		return types.AppendTimestamp(b, p.CreationTime), nil
	case propGroupID:
		return appendString(b, p.GroupID)
	case propGroupSequence:
		return types.AppendUint(b, p.GroupSequence), nil
	}
	return appendString(b, p.ReplyToGroupID)
}

// appendString refuses strings the decoder would reject: AMQP strings are
// UTF-8 (AMQP 1.0 §1.6.20) and types.AppendString leaves that to the caller.
func appendString(b []byte, s string) ([]byte, error) {
	if !utf8.ValidString(s) {
		return b, fmt.Errorf("string %q is not valid UTF-8", s)
	}
	return types.AppendString(b, s), nil
}

// appendSymbol refuses symbols that are not ASCII (AMQP 1.0 §1.6.21).
func appendSymbol(b []byte, s types.Symbol) ([]byte, error) {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return b, fmt.Errorf("symbol %q is not ASCII", s)
		}
	}
	return types.AppendSymbol(b, s), nil
}

// appendMessageID appends a message-id or correlation-id, which must be one
// of the four types of §3.2.11-14.
func appendMessageID(b []byte, id any) ([]byte, error) {
	switch v := id.(type) {
	case uint64:
		return types.AppendUlong(b, v), nil
	case types.UUID:
		return types.AppendUUID(b, v), nil
	case []byte:
		return types.AppendBinary(b, v), nil
	case string:
		return appendString(b, v)
	}
	return b, fmt.Errorf("message-id of Go type %T, want uint64, types.UUID, []byte or string", id)
}

// readProperties decodes the list of a properties section into p, or only
// validates it when p is nil, in which case it does not allocate. Fields
// past the thirteen of §3.2.4 are skipped (§1.4).
func readProperties(d *types.Decoder, p *Properties) error {
	var sink Properties // receives the fields when only validating
	decode := p != nil
	if !decode {
		p = &sink
	}
	l, err := d.ReadListHeader()
	if err != nil {
		return err
	}
	for i := range l.Count {
		if null, err := nullField(d, l); err != nil {
			return err
		} else if null {
			continue
		}
		if err := readProperty(d, p, i, decode); err != nil {
			return fmt.Errorf("field %d: %w", i, err)
		}
	}
	return d.EndCompound(l)
}

// readProperty decodes field i into p, converting strings and ids only
// when decode is set; see readProperties.
func readProperty(d *types.Decoder, p *Properties, i int, decode bool) error {
	var err error
	switch i {
	case propMessageID:
		p.MessageID, err = readMessageID(d, decode)
	case propUserID:
		p.UserID, err = d.ReadBinaryBytes()
	case propTo:
		p.To, err = readString(d, decode)
	case propSubject:
		p.Subject, err = readString(d, decode)
	case propReplyTo:
		p.ReplyTo, err = readString(d, decode)
	case propCorrelationID:
		p.CorrelationID, err = readMessageID(d, decode)
	case propContentType:
		p.ContentType, err = readSymbol(d, decode)
	case propContentEncoding:
		p.ContentEncoding, err = readSymbol(d, decode)
	case propAbsoluteExpiryTime:
		p.AbsoluteExpiryTime, err = d.ReadTimestamp()
		p.HasAbsoluteExpiry = true
	case propCreationTime:
		p.CreationTime, err = d.ReadTimestamp()
		p.HasCreationTime = true
	case propGroupID:
		p.GroupID, err = readString(d, decode)
	case propGroupSequence:
		p.GroupSequence, err = d.ReadUint()
		p.HasGroupSequence = true
	case propReplyToGroupID:
		p.ReplyToGroupID, err = readString(d, decode)
	default:
		err = d.Skip()
	}
	return err
}

// readString reads a string, converting it only when decode is set.
func readString(d *types.Decoder, decode bool) (string, error) {
	b, err := d.ReadStringBytes()
	if err != nil || !decode {
		return "", err
	}
	return string(b), nil
}

// readSymbol reads a symbol, converting it only when decode is set.
func readSymbol(d *types.Decoder, decode bool) (types.Symbol, error) {
	b, err := d.ReadSymbolBytes()
	if err != nil || !decode {
		return "", err
	}
	return types.Symbol(b), nil
}

// readMessageID reads a message-id or correlation-id, rejecting the types
// §3.2.11-14 do not allow. Without decode it validates and returns nil.
func readMessageID(d *types.Decoder, decode bool) (any, error) {
	c, err := d.PeekCode()
	if err != nil {
		return nil, err
	}
	switch c {
	case types.CodeUlong, types.CodeSmallUlong, types.CodeUlong0:
		v, err := d.ReadUlong()
		if err != nil || !decode {
			return nil, err
		}
		return v, nil
	case types.CodeUUID, types.CodeVbin8, types.CodeVbin32, types.CodeStr8, types.CodeStr32:
		if !decode {
			return nil, d.Skip()
		}
		return d.ReadAny()
	}
	return nil, fmt.Errorf("message-id of format code %#02x, want ulong, uuid, binary or string", c)
}
