package types

import (
	"encoding/hex"
	"errors"
	"fmt"
	"time"
)

// Format codes of the primitive encodings, AMQP 1.0 §1.6.
const (
	CodeDescribed  byte = 0x00
	CodeNull       byte = 0x40
	CodeBool       byte = 0x56
	CodeTrue       byte = 0x41
	CodeFalse      byte = 0x42
	CodeUbyte      byte = 0x50
	CodeUshort     byte = 0x60
	CodeUint       byte = 0x70
	CodeSmallUint  byte = 0x52
	CodeUint0      byte = 0x43
	CodeUlong      byte = 0x80
	CodeSmallUlong byte = 0x53
	CodeUlong0     byte = 0x44
	CodeByte       byte = 0x51
	CodeShort      byte = 0x61
	CodeInt        byte = 0x71
	CodeSmallInt   byte = 0x54
	CodeLong       byte = 0x81
	CodeSmallLong  byte = 0x55
	CodeFloat      byte = 0x72
	CodeDouble     byte = 0x82
	CodeDecimal32  byte = 0x74
	CodeDecimal64  byte = 0x84
	CodeDecimal128 byte = 0x94
	CodeChar       byte = 0x73
	CodeTimestamp  byte = 0x83
	CodeUUID       byte = 0x98
	CodeVbin8      byte = 0xa0
	CodeVbin32     byte = 0xb0
	CodeStr8       byte = 0xa1
	CodeStr32      byte = 0xb1
	CodeSym8       byte = 0xa3
	CodeSym32      byte = 0xb3
	CodeList0      byte = 0x45
	CodeList8      byte = 0xc0
	CodeList32     byte = 0xd0
	CodeMap8       byte = 0xc1
	CodeMap32      byte = 0xd1
	CodeArray8     byte = 0xe0
	CodeArray32    byte = 0xf0
)

// MaxDepth bounds the nesting of compound and described values a Decoder
// accepts, so hostile input cannot exhaust the stack.
const MaxDepth = 100

// ErrDecode is matched (errors.Is) by every decoding failure. The transport
// answers it with the amqp:decode-error condition (AMQP 1.0 §2.8.15).
var ErrDecode = errors.New("amqp:decode-error")

// DecodeError describes where and why decoding failed.
type DecodeError struct {
	Offset int    // byte offset into the decoder's input
	Reason string // what was wrong
}

func (e *DecodeError) Error() string {
	return fmt.Sprintf("amqp:decode-error: %s at offset %d", e.Reason, e.Offset)
}

// Is makes errors.Is(err, ErrDecode) true for every DecodeError.
func (e *DecodeError) Is(target error) bool { return target == ErrDecode }

// Symbol is an AMQP symbol: an ASCII string from a constrained domain
// (AMQP 1.0 §1.6.21), used for names of conditions, capabilities and keys.
type Symbol string

// Char is a single Unicode code point encoded as UTF-32BE (AMQP 1.0 §1.6.16).
type Char rune

// Timestamp is an AMQP timestamp: milliseconds since the Unix epoch
// (AMQP 1.0 §1.6.17).
type Timestamp int64

// Time converts t to a time.Time in UTC.
func (t Timestamp) Time() time.Time { return time.UnixMilli(int64(t)).UTC() }

// TimestampOf converts a time.Time to an AMQP timestamp, truncating to
// milliseconds.
func TimestampOf(t time.Time) Timestamp { return Timestamp(t.UnixMilli()) }

// UUID is an RFC 4122 UUID in network byte order (AMQP 1.0 §1.6.18).
type UUID [16]byte

func (u UUID) String() string {
	var b [36]byte
	hex.Encode(b[0:8], u[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], u[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], u[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], u[8:10])
	b[23] = '-'
	hex.Encode(b[24:], u[10:])
	return string(b[:])
}

// Decimal32 holds an IEEE 754-2008 decimal32 in its wire bytes; the engine
// carries decimals without interpreting them.
type Decimal32 [4]byte

// Decimal64 holds an IEEE 754-2008 decimal64 in its wire bytes.
type Decimal64 [8]byte

// Decimal128 holds an IEEE 754-2008 decimal128 in its wire bytes.
type Decimal128 [16]byte

// Described is a value annotated with a descriptor (AMQP 1.0 §1.2), which is
// either a Symbol or a uint64 code.
type Described struct {
	Descriptor any
	Value      any
}

// KV is one entry of a Map.
type KV struct {
	Key   any
	Value any
}

// Map is an AMQP map. It keeps the wire order and allows keys that Go maps
// cannot hold (binary, lists), as the specification does (AMQP 1.0 §1.6.23).
type Map []KV

// Get returns the value for the first key equal to k (compared with ==, so
// only comparable keys are found) and whether it was present.
func (m Map) Get(k any) (any, bool) {
	for _, kv := range m {
		if comparableEqual(kv.Key, k) {
			return kv.Value, true
		}
	}
	return nil, false
}

func comparableEqual(a, b any) (eq bool) {
	defer func() {
		if recover() != nil {
			eq = false
		}
	}()
	return a == b
}

// Array is an AMQP array: a sequence of values that share one constructor
// (AMQP 1.0 §1.6.24). Elems all have the Go type of that constructor (for
// example Symbol for sym8/sym32). Descriptor is non-nil for arrays of
// described values, in which case Elems hold the undescribed values. Type is
// the element format code; the encoder uses it only when Elems is empty and
// otherwise chooses the smallest code that fits every element.
type Array struct {
	Descriptor any
	Type       byte
	Elems      []any
}
