package frames

import (
	"fmt"

	"github.com/enmasse-go/enmasse/internal/amqp/types"
)

// Descriptor codes of delivery states and the error type.
const (
	CodeError    uint64 = 0x1d // AMQP 1.0 §2.8.14
	CodeReceived uint64 = 0x23 // §3.4.1
	CodeAccepted uint64 = 0x24 // §3.4.2
	CodeRejected uint64 = 0x25 // §3.4.3
	CodeReleased uint64 = 0x26 // §3.4.4
	CodeModified uint64 = 0x27 // §3.4.5
	CodeDeclared uint64 = 0x33 // §4.5.3 (transactions)
	CodeTxState  uint64 = 0x34 // §4.5.5
)

// Error conditions, AMQP 1.0 §2.8.15-18.
const (
	ErrInternal              types.Symbol = "amqp:internal-error"
	ErrNotFound              types.Symbol = "amqp:not-found"
	ErrUnauthorizedAccess    types.Symbol = "amqp:unauthorized-access"
	ErrDecodeError           types.Symbol = "amqp:decode-error"
	ErrResourceLimitExceeded types.Symbol = "amqp:resource-limit-exceeded"
	ErrNotAllowed            types.Symbol = "amqp:not-allowed"
	ErrInvalidField          types.Symbol = "amqp:invalid-field"
	ErrNotImplemented        types.Symbol = "amqp:not-implemented"
	ErrResourceLocked        types.Symbol = "amqp:resource-locked"
	ErrPreconditionFailed    types.Symbol = "amqp:precondition-failed"
	ErrResourceDeleted       types.Symbol = "amqp:resource-deleted"
	ErrIllegalState          types.Symbol = "amqp:illegal-state"
	ErrFrameSizeTooSmall     types.Symbol = "amqp:frame-size-too-small"

	ErrConnectionForced types.Symbol = "amqp:connection:forced"
	ErrFramingError     types.Symbol = "amqp:connection:framing-error"
	ErrRedirect         types.Symbol = "amqp:connection:redirect"

	ErrWindowViolation  types.Symbol = "amqp:session:window-violation"
	ErrErrantLink       types.Symbol = "amqp:session:errant-link"
	ErrHandleInUse      types.Symbol = "amqp:session:handle-in-use"
	ErrUnattachedHandle types.Symbol = "amqp:session:unattached-handle"

	ErrDetachForced          types.Symbol = "amqp:link:detach-forced"
	ErrTransferLimitExceeded types.Symbol = "amqp:link:transfer-limit-exceeded"
	ErrMessageSizeExceeded   types.Symbol = "amqp:link:message-size-exceeded"
	ErrLinkRedirect          types.Symbol = "amqp:link:redirect"
	ErrStolen                types.Symbol = "amqp:link:stolen"
)

// Error is the AMQP error type (AMQP 1.0 §2.8.14). It implements error so a
// condition can travel through Go error returns unchanged.
type Error struct {
	Condition   types.Symbol
	Description string
	Info        types.Map
}

// Errorf returns an Error with condition cond and a formatted description.
func Errorf(cond types.Symbol, format string, args ...any) *Error {
	return &Error{Condition: cond, Description: fmt.Sprintf(format, args...)}
}

func (e *Error) Error() string {
	if e.Description == "" {
		return string(e.Condition)
	}
	return string(e.Condition) + ": " + e.Description
}

func (e *Error) appendTo(b []byte) []byte {
	w := beginPerformative(b, CodeError)
	w.field()
	w.b = types.AppendSymbol(w.b, e.Condition)
	w.str(e.Description)
	w.fields(e.Info)
	return w.end()
}

func readError(d *types.Decoder) (*Error, error) {
	code, _, err := d.ReadDescriptor()
	if err != nil {
		return nil, err
	}
	if code != CodeError {
		return nil, &types.DecodeError{Offset: d.Pos(), Reason: fmt.Sprintf("descriptor %#x where an error was expected", code)}
	}
	e := &Error{}
	seen := false
	err = fieldList(d, func(i int) (err error) {
		switch i {
		case 0:
			seen = true
			e.Condition, err = d.ReadSymbol()
		case 1:
			e.Description, err = d.ReadString()
		case 2:
			e.Info, err = readFields(d)
		default:
			err = skipUnknown(d)
		}
		return err
	})
	if err == nil && !seen {
		err = missing("error", "condition")
	}
	return e, err
}

// DeliveryState is the state of a delivery: an outcome (Accepted, Rejected,
// Released, Modified), Received, or a transactional state carried opaquely.
type DeliveryState interface {
	appendTo(b []byte) []byte
	fmt.Stringer
}

// Accepted is the accepted outcome (AMQP 1.0 §3.4.2).
type Accepted struct{}

// Rejected is the rejected outcome (AMQP 1.0 §3.4.3).
type Rejected struct{ Error *Error }

// Released is the released outcome (AMQP 1.0 §3.4.4).
type Released struct{}

// Modified is the modified outcome (AMQP 1.0 §3.4.5).
type Modified struct {
	DeliveryFailed     bool
	UndeliverableHere  bool
	MessageAnnotations types.Map
}

// Received is the received delivery state (AMQP 1.0 §3.4.1).
type Received struct {
	SectionNumber uint32
	SectionOffset uint64
}

// OtherState is a delivery state this package does not interpret (for
// example transactional-state); it is kept so it can be reported.
type OtherState struct {
	Descriptor uint64
	Value      any
}

func (Accepted) String() string { return "Accepted" }
func (r Rejected) String() string {
	if r.Error == nil {
		return "Rejected"
	}
	return "Rejected(" + r.Error.Error() + ")"
}
func (Released) String() string { return "Released" }
func (m Modified) String() string {
	return fmt.Sprintf("Modified{DeliveryFailed:%v UndeliverableHere:%v Annotations:%v}", m.DeliveryFailed, m.UndeliverableHere, m.MessageAnnotations)
}
func (r Received) String() string {
	return fmt.Sprintf("Received{%d,%d}", r.SectionNumber, r.SectionOffset)
}
func (o OtherState) String() string { return fmt.Sprintf("State(%#x)", o.Descriptor) }

// Shared encodings of the states without fields.
var (
	acceptedBytes = []byte{0x00, 0x53, 0x24, 0x45}
	releasedBytes = []byte{0x00, 0x53, 0x26, 0x45}
)

func (Accepted) appendTo(b []byte) []byte { return append(b, acceptedBytes...) }
func (Released) appendTo(b []byte) []byte { return append(b, releasedBytes...) }
func (r Rejected) appendTo(b []byte) []byte {
	w := beginPerformative(b, CodeRejected)
	w.errField(r.Error)
	return w.end()
}
func (m Modified) appendTo(b []byte) []byte {
	w := beginPerformative(b, CodeModified)
	w.boolean(m.DeliveryFailed, false)
	w.boolean(m.UndeliverableHere, false)
	w.fields(m.MessageAnnotations)
	return w.end()
}
func (r Received) appendTo(b []byte) []byte {
	w := beginPerformative(b, CodeReceived)
	w.uint(r.SectionNumber, true)
	w.ulong(r.SectionOffset, true)
	return w.end()
}
func (o OtherState) appendTo(b []byte) []byte {
	b = types.AppendDescriptor(b, o.Descriptor)
	out, err := types.AppendAny(b, o.Value)
	if err != nil {
		out = types.AppendNull(b) // drop the partial encoding AppendAny left
	}
	return out
}

// IsOutcome reports whether s is a terminal outcome (§3.4).
func IsOutcome(s DeliveryState) bool {
	switch s.(type) {
	case Accepted, *Accepted, Rejected, *Rejected, Released, *Released, Modified, *Modified:
		return true
	}
	return false
}

func readDeliveryState(d *types.Decoder) (DeliveryState, error) {
	start := d.Pos()
	code, _, err := d.ReadDescriptor()
	if err != nil {
		return nil, err
	}
	switch code {
	case CodeAccepted:
		return Accepted{}, fieldList(d, func(int) error { return skipUnknown(d) })
	case CodeReleased:
		return Released{}, fieldList(d, func(int) error { return skipUnknown(d) })
	case CodeRejected:
		var r Rejected
		err := fieldList(d, func(i int) (err error) {
			if i == 0 {
				r.Error, err = readError(d)
				return err
			}
			return skipUnknown(d)
		})
		return r, err
	case CodeModified:
		var m Modified
		err := fieldList(d, func(i int) (err error) {
			switch i {
			case 0:
				m.DeliveryFailed, err = d.ReadBool()
			case 1:
				m.UndeliverableHere, err = d.ReadBool()
			case 2:
				m.MessageAnnotations, err = readFields(d)
			default:
				err = skipUnknown(d)
			}
			return err
		})
		return m, err
	case CodeReceived:
		var r Received
		var seen [2]bool
		err := fieldList(d, func(i int) (err error) {
			switch i {
			case 0:
				seen[0] = true
				r.SectionNumber, err = d.ReadUint()
			case 1:
				seen[1] = true
				r.SectionOffset, err = d.ReadUlong()
			default:
				err = skipUnknown(d)
			}
			return err
		})
		if err == nil && (!seen[0] || !seen[1]) {
			err = missing("received", "section-number or section-offset")
		}
		return r, err
	case CodeDeclared, CodeTxState:
		v, err := d.ReadAny()
		return OtherState{Descriptor: code, Value: v}, err
	}
	return nil, &types.DecodeError{Offset: start, Reason: fmt.Sprintf("descriptor %#x is not a delivery state", code)}
}
