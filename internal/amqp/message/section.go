package message

import (
	"errors"
	"fmt"

	"github.com/enmasse-go/enmasse/internal/amqp/types"
)

// Descriptor codes of the message sections, AMQP 1.0 §3.2. The domain (the
// high 32 bits of the descriptor) is 0 for every section the specification
// defines, so a code with a non-zero domain is not a message section.
const (
	DescriptorHeader                uint64 = 0x70 // §3.2.1, list
	DescriptorDeliveryAnnotations   uint64 = 0x71 // §3.2.2, annotations map
	DescriptorMessageAnnotations    uint64 = 0x72 // §3.2.3, annotations map
	DescriptorProperties            uint64 = 0x73 // §3.2.4, list
	DescriptorApplicationProperties uint64 = 0x74 // §3.2.5, map of string to simple value
	DescriptorData                  uint64 = 0x75 // §3.2.6, binary
	DescriptorAMQPSequence          uint64 = 0x76 // §3.2.7, list
	DescriptorAMQPValue             uint64 = 0x77 // §3.2.8, any value
	DescriptorFooter                uint64 = 0x78 // §3.2.9, annotations map
)

// Errors returned while decoding a message. Each wraps types.ErrDecode, so
// errors.Is(err, types.ErrDecode) holds for every decoding failure and the
// link can answer with amqp:decode-error; the finer sentinels say which rule
// of AMQP 1.0 §3.2 the input broke.
var (
	// ErrUnknownSection reports a top-level value that is not one of the
	// nine sections of §3.2: a value that is not described, a descriptor
	// that is neither a ulong nor a symbol, or an unknown descriptor. Bytes
	// after the last section are reported this way too.
	ErrUnknownSection = fmt.Errorf("%w: not a message section", types.ErrDecode)

	// ErrSectionOrder reports sections out of the order §3.2 prescribes
	// (header, delivery-annotations, message-annotations, properties,
	// application-properties, body, footer) or a section that occurs twice.
	ErrSectionOrder = fmt.Errorf("%w: message sections out of order or repeated", types.ErrDecode)

	// ErrBody reports a body that mixes data, amqp-sequence and amqp-value
	// sections or has more than one amqp-value section (§3.2).
	ErrBody = fmt.Errorf("%w: message body mixes section kinds or repeats amqp-value", types.ErrDecode)

	// ErrInvalidSection reports a section whose value has the wrong shape:
	// a field of the wrong type (for example a message-id that is not a
	// ulong, uuid, binary or string, §3.2.11-14), an annotation key that is
	// not a symbol or ulong (§3.2.10), an application property whose key is
	// not a string or whose value is a list, map or array (§3.2.5), or a
	// malformed encoding inside the section.
	ErrInvalidSection = fmt.Errorf("%w: malformed message section", types.ErrDecode)
)

// ErrInvalidMessage is returned by the encoders (Message.Marshal,
// Raw.AppendRewrite) for a Go value the message format cannot carry: two
// body kinds at once, a message-id of another Go type, an annotation key that
// is not a Symbol or uint64, or a value the types package cannot encode.
var ErrInvalidMessage = errors.New("message: cannot encode")

// rank orders the sections as §3.2 requires; the three body kinds share a
// rank.
const (
	rankHeader = iota
	rankDeliveryAnnotations
	rankMessageAnnotations
	rankProperties
	rankApplicationProperties
	rankBody
	rankFooter
	numRanks
)

// sectionRank maps a descriptor code to its rank, or -1 when code is not a
// section.
func sectionRank(code uint64) int {
	switch code {
	case DescriptorData, DescriptorAMQPSequence, DescriptorAMQPValue:
		return rankBody
	case DescriptorFooter:
		return rankFooter
	}
	if code >= DescriptorHeader && code <= DescriptorApplicationProperties {
		return int(code - DescriptorHeader)
	}
	return -1
}

// sectionName names a section for error messages.
func sectionName(code uint64) string {
	switch code {
	case DescriptorHeader:
		return "header"
	case DescriptorDeliveryAnnotations:
		return "delivery-annotations"
	case DescriptorMessageAnnotations:
		return "message-annotations"
	case DescriptorProperties:
		return "properties"
	case DescriptorApplicationProperties:
		return "application-properties"
	case DescriptorData:
		return "data"
	case DescriptorAMQPSequence:
		return "amqp-sequence"
	case DescriptorAMQPValue:
		return "amqp-value"
	case DescriptorFooter:
		return "footer"
	}
	return "unknown"
}

// symbolicCode maps the symbolic descriptors of §3.2 to their codes; a
// sender may use either form (AMQP 1.0 §1.5).
func symbolicCode(s types.Symbol) (uint64, bool) {
	switch s {
	case "amqp:header:list":
		return DescriptorHeader, true
	case "amqp:delivery-annotations:map":
		return DescriptorDeliveryAnnotations, true
	case "amqp:message-annotations:map":
		return DescriptorMessageAnnotations, true
	case "amqp:properties:list":
		return DescriptorProperties, true
	case "amqp:application-properties:map":
		return DescriptorApplicationProperties, true
	case "amqp:data:binary":
		return DescriptorData, true
	case "amqp:amqp-sequence:list":
		return DescriptorAMQPSequence, true
	case "amqp:amqp-value:*":
		return DescriptorAMQPValue, true
	case "amqp:footer:map":
		return DescriptorFooter, true
	}
	return 0, false
}

// invalid wraps a decoding failure inside the section described by code that
// starts at off.
func invalid(code uint64, off int, err error) error {
	return fmt.Errorf("%w: %s section at offset %d: %w", ErrInvalidSection, sectionName(code), off, err)
}

// invalidf reports a rule of §3.2 broken inside a section.
func invalidf(code uint64, off int, format string, args ...any) error {
	return fmt.Errorf("%w: %s section at offset %d: %s", ErrInvalidSection, sectionName(code), off, fmt.Sprintf(format, args...))
}
