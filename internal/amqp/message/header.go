package message

import (
	"fmt"

	"github.com/enmasse-go/enmasse/internal/amqp/types"
)

// DefaultPriority is the priority of a message without a header or whose
// header leaves priority null (AMQP 1.0 §3.2.1).
const DefaultPriority = 4

// Header carries the delivery details of AMQP 1.0 §3.2.1. It belongs to the
// annotated part of the message, so intermediaries may rewrite it (a broker
// counts redeliveries in DeliveryCount). The zero value is not the default
// header: its Priority is 0; start from DefaultHeader.
type Header struct {
	// Durable asks intermediaries not to lose the message across restarts.
	Durable bool
	// Priority orders delivery; 0 is lowest, 4 the default, 9 the highest
	// level a node is required to distinguish.
	Priority uint8
	// TTL is the time to live in milliseconds, counted from when the
	// message reaches a node. It is on the wire when HasTTL is set or TTL is
	// non-zero; set HasTTL with TTL 0 for an explicit zero (expire at once).
	TTL uint32
	// HasTTL reports that the ttl field is present; decoding sets it.
	HasTTL bool
	// FirstAcquirer tells the receiver no other link acquired the message.
	FirstAcquirer bool
	// DeliveryCount is the number of earlier unsuccessful delivery attempts.
	DeliveryCount uint32
}

// DefaultHeader returns the header a receiver assumes when the section is
// absent: every field at its §3.2.1 default (priority 4).
func DefaultHeader() Header { return Header{Priority: DefaultPriority} }

func (h *Header) hasTTL() bool { return h.HasTTL || h.TTL != 0 }

// fields reports how many leading fields the encoding needs: trailing fields
// at their default are omitted (AMQP 1.0 §1.4).
func (h *Header) fields() int {
	switch {
	case h.DeliveryCount != 0:
		return 5
	case h.FirstAcquirer:
		return 4
	case h.hasTTL():
		return 3
	case h.Priority != DefaultPriority:
		return 2
	case h.Durable:
		return 1
	}
	return 0
}

// AppendHeader appends h as a header section in its smallest encoding:
// trailing fields at their default are omitted and fields at their default
// before a set one are null, so DefaultHeader encodes as a list0.
func AppendHeader(dst []byte, h Header) []byte {
	dst = types.AppendDescriptor(dst, DescriptorHeader)
	n := h.fields()
	if n == 0 {
		return append(dst, types.CodeList0)
	}
	dst, c := types.BeginList(dst)
	for i := range n {
		switch {
		case i == 0 && h.Durable:
			dst = types.AppendBool(dst, true)
		case i == 1 && h.Priority != DefaultPriority:
			dst = types.AppendUbyte(dst, h.Priority)
		case i == 2 && h.hasTTL():
			dst = types.AppendUint(dst, h.TTL)
		case i == 3 && h.FirstAcquirer:
			dst = types.AppendBool(dst, true)
		case i == 4:
			dst = types.AppendUint(dst, h.DeliveryCount)
		default:
			dst = types.AppendNull(dst)
		}
	}
	return types.EndList(dst, c, n)
}

// readHeader decodes the list of a header section. Fields past the five
// §3.2.1 defines are skipped (§1.4 lets later versions add fields).
func readHeader(d *types.Decoder) (Header, error) {
	h := DefaultHeader()
	l, err := d.ReadListHeader()
	if err != nil {
		return h, err
	}
	for i := range l.Count {
		if null, err := nullField(d, l); err != nil {
			return h, err
		} else if null {
			continue
		}
		switch i {
		case 0:
			h.Durable, err = d.ReadBool()
		case 1:
			h.Priority, err = d.ReadUbyte()
		case 2:
			h.TTL, err = d.ReadUint()
			h.HasTTL = true
		case 3:
			h.FirstAcquirer, err = d.ReadBool()
		case 4:
			h.DeliveryCount, err = d.ReadUint()
		default:
			err = d.Skip()
		}
		if err != nil {
			return h, err
		}
	}
	return h, d.EndCompound(l)
}

// nullField reports whether the next field of the list l is null. It fails
// when the list has run out of bytes: types.Decoder.ReadNull reports true at
// the end of the decoder's input rather than of the list, so a list that
// ends the input could otherwise claim more fields than it holds and have
// the missing ones read as null.
func nullField(d *types.Decoder, l types.CompoundHeader) (bool, error) {
	if d.Pos() >= l.End {
		return false, fmt.Errorf("list holds fewer than its %d fields", l.Count)
	}
	return d.ReadNull(), nil
}
