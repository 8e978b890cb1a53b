package message

import (
	"fmt"

	"github.com/enmasse-go/enmasse/internal/amqp/types"
)

// span locates one section (for the body: all body sections) in a Raw.
type span struct {
	start int // offset of the section's descriptor constructor (0x00)
	val   int // offset of the section's value
	end   int // offset just past the section
}

// present reports whether the span was found; every section takes at least
// two bytes, so a found span never ends at offset 0.
func (s span) present() bool { return s.end > 0 }

// Raw is a received message kept as its encoded bytes. Parse locates the
// sections in one validating pass without decoding values; the accessors
// decode only what they are asked for, each time they are called. A Raw
// aliases the slice it was parsed from, which the caller must not modify
// while the Raw is in use; a Raw is never modified after Parse, so
// concurrent readers need no lock. The zero Raw is an empty message.
type Raw struct {
	b    []byte
	sec  [numRanks]span // indexed by rank; the body span covers every body section
	body uint64         // descriptor of the body sections, 0 without a body
	nb   int            // number of body sections
	bare int            // offset of the bare message (first of properties .. body)
	foot int            // offset of the footer, len(b) without one
}

// Parse validates b as an AMQP 1.0 message (§3.2) and returns a Raw that
// aliases it. It checks that every top-level value is a section, that the
// sections are in order and not repeated, that the body has one kind, and
// that each section has the shape §3.2 gives it: header and properties
// fields of the right types (message-id included), annotation keys that are
// symbols or ulongs, string keys and simple values in
// application-properties. Every other value is walked with types.Decoder.Skip,
// which checks its structure and the UTF-8 of its strings without decoding
// it. Duplicate map keys are not looked for here; Decode rejects them in
// application-properties. A message without body sections is accepted, as
// peers send them although §3.2 asks for a body. On success Parse does not
// allocate, except for sections with symbolic descriptors.
func Parse(b []byte) (Raw, error) {
	r := Raw{b: b}
	var d types.Decoder
	d.Reset(b)
	last := -1
	for d.Len() > 0 {
		start := d.Pos()
		code, err := readSectionDescriptor(&d)
		if err != nil {
			return Raw{}, err
		}
		rank := sectionRank(code)
		if err := r.checkOrder(code, rank, last, start); err != nil {
			return Raw{}, err
		}
		val := d.Pos()
		if err := validateSection(&d, code); err != nil {
			return Raw{}, invalid(code, start, err)
		}
		if rank == rankBody && r.nb > 0 {
			r.sec[rank].end = d.Pos()
		} else {
			r.sec[rank] = span{start: start, val: val, end: d.Pos()}
		}
		if rank == rankBody {
			r.body = code
			r.nb++
		}
		last = rank
	}
	r.bare, r.foot = len(b), len(b)
	if s := r.sec[rankFooter]; s.present() {
		r.bare, r.foot = s.start, s.start
	}
	for rank := rankBody; rank >= rankProperties; rank-- {
		if s := r.sec[rank]; s.present() {
			r.bare = s.start
		}
	}
	return r, nil
}

// checkOrder enforces the section order of §3.2: each section at most once
// and in rank order, except that a body of data or amqp-sequence sections
// may have several of them (of one kind).
func (r *Raw) checkOrder(code uint64, rank, last, off int) error {
	switch {
	case rank > last:
		return nil
	case rank < last || rank != rankBody:
		return fmt.Errorf("%w: %s section at offset %d", ErrSectionOrder, sectionName(code), off)
	case code != r.body:
		return fmt.Errorf("%w: %s section at offset %d follows %s", ErrBody, sectionName(code), off, sectionName(r.body))
	case code == DescriptorAMQPValue:
		return fmt.Errorf("%w: second amqp-value section at offset %d", ErrBody, off)
	}
	return nil
}

// readSectionDescriptor reads the descriptor of a top-level value and maps
// it to a section code. Only the ulong and symbol descriptor forms of
// AMQP 1.0 §1.5 are accepted (types.Decoder.ReadDescriptor would also take a
// uint or ubyte code).
func readSectionDescriptor(d *types.Decoder) (uint64, error) {
	off := d.Pos()
	rest := d.Rest()
	if len(rest) < 2 || rest[0] != types.CodeDescribed {
		if len(rest) == 1 && rest[0] == types.CodeDescribed {
			return 0, fmt.Errorf("%w at offset %d: truncated descriptor", ErrUnknownSection, off)
		}
		return 0, fmt.Errorf("%w at offset %d: format code %#02x is not a described type", ErrUnknownSection, off, rest[0])
	}
	switch rest[1] {
	case types.CodeUlong, types.CodeSmallUlong, types.CodeUlong0:
		code, _, err := d.ReadDescriptor()
		if err != nil {
			return 0, fmt.Errorf("%w at offset %d: %w", ErrUnknownSection, off, err)
		}
		if sectionRank(code) < 0 {
			return 0, fmt.Errorf("%w at offset %d: descriptor %#x", ErrUnknownSection, off, code)
		}
		return code, nil
	case types.CodeSym8, types.CodeSym32:
		_, sym, err := d.ReadDescriptor()
		if err != nil {
			return 0, fmt.Errorf("%w at offset %d: %w", ErrUnknownSection, off, err)
		}
		code, ok := symbolicCode(sym)
		if !ok {
			return 0, fmt.Errorf("%w at offset %d: descriptor %q", ErrUnknownSection, off, sym)
		}
		return code, nil
	}
	return 0, fmt.Errorf("%w at offset %d: descriptor of format code %#02x, want ulong or symbol", ErrUnknownSection, off, rest[1])
}

// validateSection checks the value of the section code without keeping
// anything; see Parse for what is checked.
func validateSection(d *types.Decoder, code uint64) error {
	switch code {
	case DescriptorHeader:
		_, err := readHeader(d)
		return err
	case DescriptorDeliveryAnnotations, DescriptorMessageAnnotations, DescriptorFooter:
		return skipAnnotations(d)
	case DescriptorProperties:
		return readProperties(d, nil)
	case DescriptorApplicationProperties:
		return skipApplicationProperties(d)
	case DescriptorData:
		_, err := d.ReadBinaryBytes()
		return err
	case DescriptorAMQPSequence:
		c, err := d.PeekCode()
		if err != nil {
			return err
		}
		if !isList(c) {
			return fmt.Errorf("amqp-sequence of format code %#02x, want a list", c)
		}
	}
	return d.Skip()
}

func isList(c byte) bool {
	return c == types.CodeList0 || c == types.CodeList8 || c == types.CodeList32
}

// isCompound reports whether c constructs a list, map or array, which
// application-properties values must not be (§3.2.5).
func isCompound(c byte) bool {
	switch c {
	case types.CodeMap8, types.CodeMap32, types.CodeArray8, types.CodeArray32:
		return true
	}
	return isList(c)
}

// skipAnnotations validates an annotations map (§3.2.10): keys are symbols
// or ulongs, values anything.
func skipAnnotations(d *types.Decoder) error {
	h, err := d.ReadMapHeader()
	if err != nil {
		return err
	}
	for i := 0; i < h.Count; i += 2 {
		c, err := d.PeekCode()
		if err != nil {
			return err
		}
		switch c {
		case types.CodeSym8, types.CodeSym32:
			_, err = d.ReadSymbolBytes()
		case types.CodeUlong, types.CodeSmallUlong, types.CodeUlong0:
			_, err = d.ReadUlong()
		default:
			return fmt.Errorf("annotation key of format code %#02x, want symbol or ulong", c)
		}
		if err != nil {
			return err
		}
		if err := d.Skip(); err != nil {
			return err
		}
	}
	return d.EndCompound(h)
}

// skipApplicationProperties validates application-properties (§3.2.5): keys
// are strings, values are not lists, maps or arrays.
func skipApplicationProperties(d *types.Decoder) error {
	h, err := d.ReadMapHeader()
	if err != nil {
		return err
	}
	for i := 0; i < h.Count; i += 2 {
		if _, err := d.ReadStringBytes(); err != nil {
			return fmt.Errorf("application property key: %w", err)
		}
		c, err := d.PeekCode()
		if err != nil {
			return err
		}
		if isCompound(c) {
			return fmt.Errorf("application property value of format code %#02x, want a simple type", c)
		}
		if err := d.Skip(); err != nil {
			return err
		}
	}
	return d.EndCompound(h)
}
