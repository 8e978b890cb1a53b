package frames

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/enmasse-go/enmasse/internal/amqp/types"
)

// Protocol identifiers of the three layers, AMQP 1.0 §2.2, §5.2.1, §5.3.1.
const (
	ProtoAMQP byte = 0
	ProtoTLS  byte = 2
	ProtoSASL byte = 3
)

// HeaderSize is the size of a protocol header and of a frame header.
const HeaderSize = 8

// ProtoHeader returns the 8-byte protocol header "AMQP" id 1 0 0.
func ProtoHeader(id byte) [8]byte { return [8]byte{'A', 'M', 'Q', 'P', id, 1, 0, 0} }

// ParseProtoHeader checks an 8-byte protocol header and returns its protocol
// id. It fails for anything that is not AMQP version 1.0.0.
func ParseProtoHeader(b []byte) (byte, error) {
	if len(b) < 8 || string(b[:4]) != "AMQP" {
		return 0, ErrNotAMQP
	}
	if b[5] != 1 || b[6] != 0 || b[7] != 0 {
		return b[4], fmt.Errorf("%w: version %d.%d.%d", ErrVersion, b[5], b[6], b[7])
	}
	switch b[4] {
	case ProtoAMQP, ProtoTLS, ProtoSASL:
		return b[4], nil
	}
	return b[4], fmt.Errorf("%w: protocol id %d", ErrVersion, b[4])
}

// Frame types, AMQP 1.0 §2.3.1 and §5.3.2.
const (
	TypeAMQP byte = 0x00
	TypeSASL byte = 0x01
)

var (
	// ErrNotAMQP: the peer's first bytes are not an AMQP protocol header.
	ErrNotAMQP = errors.New("not an AMQP protocol header")
	// ErrVersion: an AMQP header for a version or layer we do not speak.
	ErrVersion = errors.New("unsupported AMQP protocol header")
	// ErrFrameTooLarge: a frame header declares more than the negotiated
	// max-frame-size (AMQP 1.0 §2.7.1), answered with framing-error.
	ErrFrameTooLarge = errors.New("frame exceeds max-frame-size")
	// ErrMalformedFrame: a frame header that cannot be valid (size below 8,
	// data offset below 2 or beyond the frame).
	ErrMalformedFrame = errors.New("malformed frame header")
)

// Frame is one decoded frame header with its raw body. An empty Body is a
// heartbeat (AMQP 1.0 §2.4.5).
type Frame struct {
	Type    byte
	Channel uint16
	Body    []byte // the frame body after the extended header; aliases the input
}

// ParseFrame reads one frame from the start of b. It returns the frame and
// the number of bytes it occupied; n is 0 (with a nil error) when b does not
// yet hold the whole frame, and need then reports how many bytes the frame
// takes so a reader can size its buffer. A declared size above max fails
// with ErrFrameTooLarge before any more input is awaited.
func ParseFrame(b []byte, max uint32) (f Frame, n int, need int, err error) {
	if len(b) < HeaderSize {
		return Frame{}, 0, HeaderSize, nil
	}
	size := binary.BigEndian.Uint32(b)
	doff := int(b[4])
	if size > max {
		return Frame{}, 0, 0, fmt.Errorf("%w: %d bytes declared, limit %d", ErrFrameTooLarge, size, max)
	}
	if size < HeaderSize || doff < 2 || uint32(doff*4) > size {
		return Frame{}, 0, 0, fmt.Errorf("%w: size %d, data offset %d", ErrMalformedFrame, size, doff)
	}
	if uint32(len(b)) < size {
		return Frame{}, 0, int(size), nil
	}
	f = Frame{Type: b[5], Channel: binary.BigEndian.Uint16(b[6:]), Body: b[doff*4 : size]}
	return f, int(size), int(size), nil
}

// BeginFrame reserves a frame header at the end of b; append the body and
// call EndFrame with the returned offset.
func BeginFrame(b []byte) ([]byte, int) {
	return append(b, 0, 0, 0, 0, 2, 0, 0, 0), len(b)
}

// EndFrame fills in the frame header reserved at start.
func EndFrame(b []byte, start int, typ byte, channel uint16) []byte {
	binary.BigEndian.PutUint32(b[start:], uint32(len(b)-start))
	b[start+4] = 2
	b[start+5] = typ
	binary.BigEndian.PutUint16(b[start+6:], channel)
	return b
}

// AppendFrame appends a whole frame holding body (nil: an empty frame).
func AppendFrame(b []byte, typ byte, channel uint16, body Body) []byte {
	b, start := BeginFrame(b)
	if body != nil {
		b = body.AppendTo(b)
	}
	return EndFrame(b, start, typ, channel)
}

// Decode decodes a frame body into a performative (TypeAMQP) or a SASL frame
// (TypeSASL). Errors match types.ErrDecode. For transfers, prefer
// DecodeTransfer into a reused value on hot paths.
func Decode(typ byte, body []byte) (Body, error) {
	d := types.NewDecoder(body)
	code, _, err := d.ReadDescriptor()
	if err != nil {
		return nil, err
	}
	var v interface {
		Body
		unmarshal(*types.Decoder) error
	}
	if typ == TypeSASL {
		switch code {
		case CodeSASLMechanisms:
			v = new(SASLMechanisms)
		case CodeSASLInit:
			v = new(SASLInit)
		case CodeSASLChallenge:
			v = new(SASLChallenge)
		case CodeSASLResponse:
			v = new(SASLResponse)
		case CodeSASLOutcome:
			v = new(SASLOutcome)
		}
	} else {
		switch code {
		case CodeOpen:
			v = new(Open)
		case CodeBegin:
			v = new(Begin)
		case CodeAttach:
			v = new(Attach)
		case CodeFlow:
			v = new(Flow)
		case CodeTransfer:
			v = new(Transfer)
		case CodeDisposition:
			v = new(Disposition)
		case CodeDetach:
			v = new(Detach)
		case CodeEnd:
			v = new(End)
		case CodeClose:
			v = new(Close)
		}
	}
	if v == nil {
		return nil, &types.DecodeError{Reason: fmt.Sprintf("descriptor %#x is not a frame body of type %d", code, typ)}
	}
	if err := v.unmarshal(d); err != nil {
		return nil, err
	}
	if _, ok := v.(*Transfer); !ok && d.Len() != 0 {
		return nil, &types.DecodeError{Offset: d.Pos(), Reason: fmt.Sprintf("%d bytes after the %T performative", d.Len(), v)}
	}
	return v, nil
}

// PeekDescriptor returns the descriptor code of a frame body.
func PeekDescriptor(body []byte) (uint64, error) {
	d := types.NewDecoder(body)
	code, _, err := d.ReadDescriptor()
	return code, err
}

// DecodeTransfer decodes a transfer frame body into t without allocating;
// t.DeliveryTag and t.Payload alias body.
func DecodeTransfer(body []byte, t *Transfer) error {
	var d types.Decoder
	d.Reset(body)
	code, _, err := d.ReadDescriptor()
	if err != nil {
		return err
	}
	if code != CodeTransfer {
		return &types.DecodeError{Reason: fmt.Sprintf("descriptor %#x is not a transfer", code)}
	}
	return t.unmarshal(&d)
}

// DecodeFlow decodes a flow frame body into f, reusing it.
func DecodeFlow(body []byte, f *Flow) error {
	var d types.Decoder
	d.Reset(body)
	code, _, err := d.ReadDescriptor()
	if err != nil {
		return err
	}
	if code != CodeFlow {
		return &types.DecodeError{Reason: fmt.Sprintf("descriptor %#x is not a flow", code)}
	}
	if err := f.unmarshal(&d); err != nil {
		return err
	}
	return trailing(&d, "flow")
}

// DecodeDisposition decodes a disposition frame body into p, reusing it.
func DecodeDisposition(body []byte, p *Disposition) error {
	var d types.Decoder
	d.Reset(body)
	code, _, err := d.ReadDescriptor()
	if err != nil {
		return err
	}
	if code != CodeDisposition {
		return &types.DecodeError{Reason: fmt.Sprintf("descriptor %#x is not a disposition", code)}
	}
	if err := p.unmarshal(&d); err != nil {
		return err
	}
	return trailing(&d, "disposition")
}

func trailing(d *types.Decoder, perf string) error {
	if d.Len() != 0 {
		return &types.DecodeError{Offset: d.Pos(), Reason: fmt.Sprintf("%d bytes after the %s performative", d.Len(), perf)}
	}
	return nil
}
