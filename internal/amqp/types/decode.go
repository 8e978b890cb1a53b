package types

import (
	"encoding/binary"
	"math"
	"unicode/utf8"
)

// Decoder reads AMQP values from a byte slice. The zero value reads nothing;
// use NewDecoder or Reset. A Decoder never reads past its input and never
// allocates more than the input could describe.
type Decoder struct {
	buf   []byte
	pos   int
	depth int
}

// NewDecoder returns a Decoder over b.
func NewDecoder(b []byte) *Decoder { return &Decoder{buf: b} }

// Reset makes d read b from its start.
func (d *Decoder) Reset(b []byte) { d.buf, d.pos, d.depth = b, 0, 0 }

// Len reports how many unread bytes remain.
func (d *Decoder) Len() int { return len(d.buf) - d.pos }

// Pos reports the offset of the next unread byte.
func (d *Decoder) Pos() int { return d.pos }

// Rest returns the unread bytes without consuming them.
func (d *Decoder) Rest() []byte { return d.buf[d.pos:] }

// Bytes returns the input between offsets from and to; it aliases the input.
func (d *Decoder) Bytes(from, to int) []byte { return d.buf[from:to] }

func (d *Decoder) errf(reason string) error {
	return &DecodeError{Offset: d.pos, Reason: reason}
}

func (d *Decoder) need(n int) error {
	if n < 0 || len(d.buf)-d.pos < n {
		return d.errf("truncated input")
	}
	return nil
}

func (d *Decoder) byte1() (byte, error) {
	if d.pos >= len(d.buf) {
		return 0, d.errf("truncated input")
	}
	c := d.buf[d.pos]
	d.pos++
	return c, nil
}

func (d *Decoder) take(n int) ([]byte, error) {
	if err := d.need(n); err != nil {
		return nil, err
	}
	b := d.buf[d.pos : d.pos+n]
	d.pos += n
	return b, nil
}

func (d *Decoder) u16() (uint16, error) {
	b, err := d.take(2)
	if err != nil {
		return 0, err
	}
	return binary.BigEndian.Uint16(b), nil
}

func (d *Decoder) u32() (uint32, error) {
	b, err := d.take(4)
	if err != nil {
		return 0, err
	}
	return binary.BigEndian.Uint32(b), nil
}

func (d *Decoder) u64() (uint64, error) {
	b, err := d.take(8)
	if err != nil {
		return 0, err
	}
	return binary.BigEndian.Uint64(b), nil
}

// PeekCode returns the next format code without consuming it.
func (d *Decoder) PeekCode() (byte, error) {
	if d.pos >= len(d.buf) {
		return 0, d.errf("truncated input")
	}
	return d.buf[d.pos], nil
}

// ReadNull consumes a null and reports true if the next value is null;
// otherwise it consumes nothing and reports false. At the end of input it
// reports true, which is how absent trailing list fields read.
func (d *Decoder) ReadNull() bool {
	if d.pos >= len(d.buf) {
		return true
	}
	if d.buf[d.pos] == CodeNull {
		d.pos++
		return true
	}
	return false
}

func (d *Decoder) typeErr(code byte, want string) error {
	d.pos-- // point at the constructor
	return &DecodeError{Offset: d.pos, Reason: "format code " + hexByte(code) + " is not " + want}
}

func hexByte(c byte) string {
	const digits = "0123456789abcdef"
	return "0x" + string([]byte{digits[c>>4], digits[c&15]})
}

// ReadBool reads a boolean.
func (d *Decoder) ReadBool() (bool, error) {
	c, err := d.byte1()
	if err != nil {
		return false, err
	}
	return d.boolWith(c)
}

func (d *Decoder) boolWith(c byte) (bool, error) {
	switch c {
	case CodeTrue:
		return true, nil
	case CodeFalse:
		return false, nil
	case CodeBool:
		v, err := d.byte1()
		if err != nil {
			return false, err
		}
		if v > 1 {
			d.pos--
			return false, d.errf("boolean byte is not 0 or 1")
		}
		return v == 1, nil
	}
	return false, d.typeErr(c, "a boolean")
}

// ReadUlong reads a ulong, or any narrower unsigned integer.
func (d *Decoder) ReadUlong() (uint64, error) {
	c, err := d.byte1()
	if err != nil {
		return 0, err
	}
	return d.unsignedWith(c, 64)
}

// ReadUint reads a uint, or a narrower unsigned integer.
func (d *Decoder) ReadUint() (uint32, error) {
	c, err := d.byte1()
	if err != nil {
		return 0, err
	}
	v, err := d.unsignedWith(c, 32)
	return uint32(v), err
}

// ReadUshort reads a ushort or a ubyte.
func (d *Decoder) ReadUshort() (uint16, error) {
	c, err := d.byte1()
	if err != nil {
		return 0, err
	}
	v, err := d.unsignedWith(c, 16)
	return uint16(v), err
}

// ReadUbyte reads a ubyte.
func (d *Decoder) ReadUbyte() (uint8, error) {
	c, err := d.byte1()
	if err != nil {
		return 0, err
	}
	v, err := d.unsignedWith(c, 8)
	return uint8(v), err
}

func (d *Decoder) unsignedWith(c byte, bits int) (uint64, error) {
	switch {
	case c == CodeUbyte:
		b, err := d.byte1()
		return uint64(b), err
	case c == CodeUshort && bits >= 16:
		v, err := d.u16()
		return uint64(v), err
	case c == CodeUint0 && bits >= 32, c == CodeUlong0 && bits >= 64:
		return 0, nil
	case c == CodeSmallUint && bits >= 32, c == CodeSmallUlong && bits >= 64:
		b, err := d.byte1()
		return uint64(b), err
	case c == CodeUint && bits >= 32:
		v, err := d.u32()
		return uint64(v), err
	case c == CodeUlong && bits >= 64:
		return d.u64()
	}
	return 0, d.typeErr(c, "an unsigned integer of at most "+itoa(bits)+" bits")
}

// ReadLong reads a long or any narrower signed integer.
func (d *Decoder) ReadLong() (int64, error) {
	c, err := d.byte1()
	if err != nil {
		return 0, err
	}
	return d.signedWith(c, 64)
}

// ReadInt reads an int or a narrower signed integer.
func (d *Decoder) ReadInt() (int32, error) {
	c, err := d.byte1()
	if err != nil {
		return 0, err
	}
	v, err := d.signedWith(c, 32)
	return int32(v), err
}

func (d *Decoder) signedWith(c byte, bits int) (int64, error) {
	switch {
	case c == CodeByte:
		b, err := d.byte1()
		return int64(int8(b)), err
	case c == CodeShort && bits >= 16:
		v, err := d.u16()
		return int64(int16(v)), err
	case c == CodeSmallInt && bits >= 32, c == CodeSmallLong && bits >= 64:
		b, err := d.byte1()
		return int64(int8(b)), err
	case c == CodeInt && bits >= 32:
		v, err := d.u32()
		return int64(int32(v)), err
	case c == CodeLong && bits >= 64:
		v, err := d.u64()
		return int64(v), err
	}
	return 0, d.typeErr(c, "a signed integer of at most "+itoa(bits)+" bits")
}

// ReadTimestamp reads a timestamp.
func (d *Decoder) ReadTimestamp() (Timestamp, error) {
	c, err := d.byte1()
	if err != nil {
		return 0, err
	}
	if c != CodeTimestamp {
		return 0, d.typeErr(c, "a timestamp")
	}
	v, err := d.u64()
	return Timestamp(v), err
}

// variable reads the length prefix of a vbin/str/sym encoding with code c and
// returns the value bytes, aliasing the input.
func (d *Decoder) variable(c byte) ([]byte, error) {
	var n int
	switch c {
	case CodeVbin8, CodeStr8, CodeSym8:
		b, err := d.byte1()
		if err != nil {
			return nil, err
		}
		n = int(b)
	case CodeVbin32, CodeStr32, CodeSym32:
		v, err := d.u32()
		if err != nil {
			return nil, err
		}
		if uint64(v) > uint64(d.Len()) {
			return nil, d.errf("declared length " + itoa(int(v)) + " exceeds the remaining input")
		}
		n = int(v)
	}
	return d.take(n)
}

// ReadBinaryBytes reads binary data; the result aliases the input.
func (d *Decoder) ReadBinaryBytes() ([]byte, error) {
	c, err := d.byte1()
	if err != nil {
		return nil, err
	}
	if c != CodeVbin8 && c != CodeVbin32 {
		return nil, d.typeErr(c, "binary")
	}
	return d.variable(c)
}

// ReadStringBytes reads a string and checks that it is valid UTF-8; the
// result aliases the input.
func (d *Decoder) ReadStringBytes() ([]byte, error) {
	c, err := d.byte1()
	if err != nil {
		return nil, err
	}
	return d.stringWith(c)
}

func (d *Decoder) stringWith(c byte) ([]byte, error) {
	if c != CodeStr8 && c != CodeStr32 {
		return nil, d.typeErr(c, "a string")
	}
	start := d.pos
	b, err := d.variable(c)
	if err != nil {
		return nil, err
	}
	if !utf8.Valid(b) {
		d.pos = start
		return nil, d.errf("string is not valid UTF-8")
	}
	return b, nil
}

// ReadString reads a string.
func (d *Decoder) ReadString() (string, error) {
	b, err := d.ReadStringBytes()
	return string(b), err
}

// ReadSymbolBytes reads a symbol and checks that it is ASCII; the result
// aliases the input.
func (d *Decoder) ReadSymbolBytes() ([]byte, error) {
	c, err := d.byte1()
	if err != nil {
		return nil, err
	}
	return d.symbolWith(c)
}

func (d *Decoder) symbolWith(c byte) ([]byte, error) {
	if c != CodeSym8 && c != CodeSym32 {
		return nil, d.typeErr(c, "a symbol")
	}
	start := d.pos
	b, err := d.variable(c)
	if err != nil {
		return nil, err
	}
	for _, ch := range b {
		if ch >= 0x80 {
			d.pos = start
			return nil, d.errf("symbol is not ASCII")
		}
	}
	return b, nil
}

// ReadSymbol reads a symbol.
func (d *Decoder) ReadSymbol() (Symbol, error) {
	b, err := d.ReadSymbolBytes()
	return Symbol(b), err
}

// ReadMultiSymbol reads a field of type symbol with multiple="true"
// (AMQP 1.0 §1.4): null, one symbol, or an array of symbols.
func (d *Decoder) ReadMultiSymbol() ([]Symbol, error) {
	if d.ReadNull() {
		return nil, nil
	}
	c, err := d.PeekCode()
	if err != nil {
		return nil, err
	}
	if c == CodeSym8 || c == CodeSym32 {
		s, err := d.ReadSymbol()
		return []Symbol{s}, err
	}
	return d.ReadSymbolArray()
}

// ReadSymbolArray reads an array of symbols.
func (d *Decoder) ReadSymbolArray() ([]Symbol, error) {
	h, err := d.ReadArrayHeader()
	if err != nil {
		return nil, err
	}
	if h.Descriptor != nil {
		return nil, d.errf("symbol array must not be described")
	}
	if h.Count > 0 && h.Type != CodeSym8 && h.Type != CodeSym32 {
		return nil, d.errf("array of " + hexByte(h.Type) + " where symbols were expected")
	}
	out := make([]Symbol, 0, h.Count)
	for range h.Count {
		b, err := d.variable(h.Type)
		if err != nil {
			return nil, err
		}
		for _, ch := range b {
			if ch >= 0x80 {
				return nil, d.errf("symbol is not ASCII")
			}
		}
		out = append(out, Symbol(b))
	}
	return out, d.endCompound(h.End)
}

// Descriptor reads the constructor of a described value (0x00 followed by a
// ulong or symbol). It returns the numeric code, or the symbol when the
// descriptor is symbolic.
func (d *Decoder) ReadDescriptor() (code uint64, sym Symbol, err error) {
	c, err := d.byte1()
	if err != nil {
		return 0, "", err
	}
	if c != CodeDescribed {
		return 0, "", d.typeErr(c, "a described type")
	}
	c, err = d.PeekCode()
	if err != nil {
		return 0, "", err
	}
	if c == CodeSym8 || c == CodeSym32 {
		sym, err = d.ReadSymbol()
		return 0, sym, err
	}
	code, err = d.ReadUlong()
	return code, "", err
}

// CompoundHeader describes a list or map whose elements follow.
type CompoundHeader struct {
	Count int // number of elements (for maps, keys plus values)
	End   int // offset just past the compound value
}

// ReadListHeader reads the header of a list; the caller reads Count elements
// and then calls EndCompound. A list0 has Count 0.
func (d *Decoder) ReadListHeader() (CompoundHeader, error) {
	c, err := d.byte1()
	if err != nil {
		return CompoundHeader{}, err
	}
	return d.listWith(c)
}

func (d *Decoder) listWith(c byte) (CompoundHeader, error) {
	switch c {
	case CodeList0:
		return CompoundHeader{End: d.pos}, nil
	case CodeList8, CodeList32:
		return d.compoundWith(c == CodeList32)
	}
	return CompoundHeader{}, d.typeErr(c, "a list")
}

// ReadMapHeader reads the header of a map; Count is even.
func (d *Decoder) ReadMapHeader() (CompoundHeader, error) {
	c, err := d.byte1()
	if err != nil {
		return CompoundHeader{}, err
	}
	return d.mapWith(c)
}

func (d *Decoder) mapWith(c byte) (CompoundHeader, error) {
	if c != CodeMap8 && c != CodeMap32 {
		return CompoundHeader{}, d.typeErr(c, "a map")
	}
	h, err := d.compoundWith(c == CodeMap32)
	if err == nil && h.Count%2 != 0 {
		return h, d.errf("map has an odd number of elements")
	}
	return h, err
}

// compoundWith reads size and count of a list/map (the code already read).
func (d *Decoder) compoundWith(wide bool) (CompoundHeader, error) {
	h, err := d.sizeCount(wide)
	if err != nil {
		return h, err
	}
	// Every element of a list or map takes at least one byte (its
	// constructor).
	if h.Count > h.End-d.pos {
		return CompoundHeader{}, d.errf("element count " + itoa(h.Count) + " exceeds compound size")
	}
	return h, nil
}

// maxZeroWidthElems bounds arrays of zero-width elements (null, uint0,
// ulong0), whose count the byte size cannot bound.
const maxZeroWidthElems = 1 << 16

func (d *Decoder) sizeCount(wide bool) (CompoundHeader, error) {
	var size, count uint32
	if wide {
		s, err := d.u32()
		if err != nil {
			return CompoundHeader{}, err
		}
		if s < 4 || uint64(s) > uint64(d.Len()) {
			return CompoundHeader{}, d.errf("compound size " + itoa(int(s)) + " does not fit the input")
		}
		if count, err = d.u32(); err != nil {
			return CompoundHeader{}, err
		}
		size = s - 4
	} else {
		s, err := d.byte1()
		if err != nil {
			return CompoundHeader{}, err
		}
		if s < 1 || int(s) > d.Len() {
			return CompoundHeader{}, d.errf("compound size " + itoa(int(s)) + " does not fit the input")
		}
		c, err := d.byte1()
		if err != nil {
			return CompoundHeader{}, err
		}
		size, count = uint32(s-1), uint32(c)
	}
	return CompoundHeader{Count: int(count), End: d.pos + int(size)}, nil
}

// EndCompound checks that exactly the bytes of a compound value were read.
func (d *Decoder) EndCompound(h CompoundHeader) error { return d.endCompound(h.End) }

func (d *Decoder) endCompound(end int) error {
	if d.pos != end {
		return d.errf("compound value size does not match its elements")
	}
	return nil
}

// SkipTo moves past the remaining elements of a compound value, for readers
// that ignore trailing fields they do not know (AMQP 1.0 §1.4 extensibility).
func (d *Decoder) SkipTo(h CompoundHeader) error {
	if h.End < d.pos || h.End > len(d.buf) {
		return d.errf("compound value size does not match its elements")
	}
	d.pos = h.End
	return nil
}

// ArrayHeader describes an array whose elements follow, each without a
// constructor.
type ArrayHeader struct {
	Descriptor any  // non-nil for arrays of described values
	Type       byte // element format code
	Count      int
	End        int
}

// ReadArrayHeader reads the header and element constructor of an array.
func (d *Decoder) ReadArrayHeader() (ArrayHeader, error) {
	c, err := d.byte1()
	if err != nil {
		return ArrayHeader{}, err
	}
	if c != CodeArray8 && c != CodeArray32 {
		return ArrayHeader{}, d.typeErr(c, "an array")
	}
	return d.arrayWith(c == CodeArray32)
}

func (d *Decoder) arrayWith(wide bool) (ArrayHeader, error) {
	h, err := d.sizeCount(wide)
	if err != nil {
		return ArrayHeader{}, err
	}
	ah := ArrayHeader{Count: h.Count, End: h.End}
	c, err := d.byte1()
	if err != nil {
		return ArrayHeader{}, err
	}
	if c == CodeDescribed {
		d.depth++
		if d.depth > MaxDepth {
			return ArrayHeader{}, d.errf("values nested deeper than " + itoa(MaxDepth))
		}
		desc, err := d.ReadAny()
		d.depth--
		if err != nil {
			return ArrayHeader{}, err
		}
		if desc == nil {
			desc = Described{} // a null descriptor is still a descriptor
		}
		ah.Descriptor = desc
		if c, err = d.byte1(); err != nil {
			return ArrayHeader{}, err
		}
	}
	if !validElementCode(c) {
		d.pos--
		return ArrayHeader{}, d.errf("invalid array element constructor " + hexByte(c))
	}
	if d.pos > ah.End {
		return ArrayHeader{}, d.errf("array constructor overruns the array")
	}
	ah.Type = c
	// Array elements carry no constructor. Elements of non-zero width take
	// at least a byte each, so the size bounds the count; zero-width ones
	// get a fixed bound instead.
	if w, _ := fixedWidth(c); w == 0 {
		if ah.Count > maxZeroWidthElems {
			return ArrayHeader{}, d.errf("array of " + itoa(ah.Count) + " zero-width elements")
		}
	} else if ah.Count > ah.End-d.pos {
		return ArrayHeader{}, d.errf("element count " + itoa(ah.Count) + " exceeds array size")
	}
	return ah, nil
}

func validElementCode(c byte) bool {
	switch c {
	case CodeDescribed, CodeTrue, CodeFalse, CodeList0:
		// Element constructors must be a single concrete encoding that can
		// carry a value; nested descriptors inside the element constructor
		// and the zero-width boolean/list0 codes are rejected.
		return false
	}
	_, ok := fixedWidth(c)
	return ok
}

// fixedWidth reports the width of the value part for fixed-width codes, -1
// for variable and compound codes, and false for unknown codes.
func fixedWidth(c byte) (int, bool) {
	switch c {
	case CodeNull, CodeTrue, CodeFalse, CodeUint0, CodeUlong0, CodeList0:
		return 0, true
	case CodeUbyte, CodeByte, CodeBool, CodeSmallUint, CodeSmallUlong, CodeSmallInt, CodeSmallLong:
		return 1, true
	case CodeUshort, CodeShort:
		return 2, true
	case CodeUint, CodeInt, CodeFloat, CodeChar, CodeDecimal32:
		return 4, true
	case CodeUlong, CodeLong, CodeDouble, CodeTimestamp, CodeDecimal64:
		return 8, true
	case CodeDecimal128, CodeUUID:
		return 16, true
	case CodeVbin8, CodeVbin32, CodeStr8, CodeStr32, CodeSym8, CodeSym32,
		CodeList8, CodeList32, CodeMap8, CodeMap32, CodeArray8, CodeArray32:
		return -1, true
	}
	return 0, false
}

// Skip consumes one value of any type without decoding it, checking only its
// structure.
func (d *Decoder) Skip() error {
	c, err := d.byte1()
	if err != nil {
		return err
	}
	return d.skipWith(c)
}

func (d *Decoder) skipWith(c byte) error {
	if c == CodeDescribed {
		if err := d.enter(); err != nil {
			return err
		}
		defer func() { d.depth-- }()
		if err := d.Skip(); err != nil {
			return err
		}
		return d.Skip()
	}
	w, ok := fixedWidth(c)
	if !ok {
		d.pos--
		return d.errf("invalid format code " + hexByte(c))
	}
	switch {
	case w >= 0:
		if c == CodeBool || c == CodeChar {
			_, err := d.scalarWith(c)
			return err
		}
		_, err := d.take(w)
		return err
	case c == CodeStr8 || c == CodeStr32:
		_, err := d.stringWith(c)
		return err
	case c == CodeSym8 || c == CodeSym32:
		_, err := d.symbolWith(c)
		return err
	case c == CodeVbin8 || c == CodeVbin32:
		_, err := d.variable(c)
		return err
	}
	// Compound values are walked element by element so that their
	// structure (and UTF-8 of nested strings) is validated, not just
	// their size.
	if err := d.enter(); err != nil {
		return err
	}
	defer func() { d.depth-- }()
	switch c {
	case CodeArray8, CodeArray32:
		h, err := d.arrayWith(c == CodeArray32)
		if err != nil {
			return err
		}
		for range h.Count {
			if err := d.skipWith(h.Type); err != nil {
				return err
			}
		}
		return d.endCompound(h.End)
	}
	var h CompoundHeader
	var err error
	if c == CodeMap8 || c == CodeMap32 {
		h, err = d.mapWith(c)
	} else {
		h, err = d.listWith(c)
	}
	if err != nil {
		return err
	}
	for range h.Count {
		if err := d.Skip(); err != nil {
			return err
		}
	}
	return d.EndCompound(h)
}

func itoa(v int) string {
	if v == 0 {
		return "0"
	}
	neg := v < 0
	if neg {
		v = -v
	}
	var b [20]byte
	i := len(b)
	for v > 0 {
		i--
		b[i] = byte('0' + v%10)
		v /= 10
	}
	if neg {
		i--
		b[i] = '-'
	}
	return string(b[i:])
}

func f32(v uint32) float32 { return math.Float32frombits(v) }
func f64(v uint64) float64 { return math.Float64frombits(v) }
