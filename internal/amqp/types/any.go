package types

// ReadAny decodes the next value into its Go representation (see the package
// documentation). Strings and symbols are copied; binary values alias the
// input.
func (d *Decoder) ReadAny() (any, error) {
	c, err := d.byte1()
	if err != nil {
		return nil, err
	}
	return d.anyWith(c)
}

func (d *Decoder) enter() error {
	d.depth++
	if d.depth > MaxDepth {
		return d.errf("values nested deeper than " + itoa(MaxDepth))
	}
	return nil
}

func (d *Decoder) anyWith(c byte) (any, error) {
	switch c {
	case CodeDescribed:
		if err := d.enter(); err != nil {
			return nil, err
		}
		defer func() { d.depth-- }()
		desc, err := d.ReadAny()
		if err != nil {
			return nil, err
		}
		v, err := d.ReadAny()
		if err != nil {
			return nil, err
		}
		return Described{Descriptor: desc, Value: v}, nil
	case CodeList0, CodeList8, CodeList32:
		if err := d.enter(); err != nil {
			return nil, err
		}
		defer func() { d.depth-- }()
		h, err := d.listWith(c)
		if err != nil {
			return nil, err
		}
		l := make([]any, 0, h.Count)
		for range h.Count {
			v, err := d.ReadAny()
			if err != nil {
				return nil, err
			}
			l = append(l, v)
		}
		return l, d.EndCompound(h)
	case CodeMap8, CodeMap32:
		if err := d.enter(); err != nil {
			return nil, err
		}
		defer func() { d.depth-- }()
		h, err := d.mapWith(c)
		if err != nil {
			return nil, err
		}
		m := make(Map, 0, h.Count/2)
		for range h.Count / 2 {
			k, err := d.ReadAny()
			if err != nil {
				return nil, err
			}
			v, err := d.ReadAny()
			if err != nil {
				return nil, err
			}
			m = append(m, KV{Key: k, Value: v})
		}
		return m, d.EndCompound(h)
	case CodeArray8, CodeArray32:
		if err := d.enter(); err != nil {
			return nil, err
		}
		defer func() { d.depth-- }()
		h, err := d.arrayWith(c == CodeArray32)
		if err != nil {
			return nil, err
		}
		a := Array{Descriptor: h.Descriptor, Type: h.Type, Elems: make([]any, 0, min(h.Count, h.End-d.pos+1))}
		for range h.Count {
			v, err := d.anyWith(h.Type)
			if err != nil {
				return nil, err
			}
			a.Elems = append(a.Elems, v)
		}
		return a, d.endCompound(h.End)
	}
	return d.scalarWith(c)
}

func (d *Decoder) scalarWith(c byte) (any, error) {
	switch c {
	case CodeNull:
		return nil, nil
	case CodeTrue, CodeFalse, CodeBool:
		return d.boolWith(c)
	case CodeUbyte:
		v, err := d.unsignedWith(c, 8)
		return uint8(v), err
	case CodeUshort:
		v, err := d.unsignedWith(c, 16)
		return uint16(v), err
	case CodeUint, CodeSmallUint, CodeUint0:
		v, err := d.unsignedWith(c, 32)
		return uint32(v), err
	case CodeUlong, CodeSmallUlong, CodeUlong0:
		return d.unsignedWith(c, 64)
	case CodeByte:
		v, err := d.signedWith(c, 8)
		return int8(v), err
	case CodeShort:
		v, err := d.signedWith(c, 16)
		return int16(v), err
	case CodeInt, CodeSmallInt:
		v, err := d.signedWith(c, 32)
		return int32(v), err
	case CodeLong, CodeSmallLong:
		return d.signedWith(c, 64)
	case CodeFloat:
		v, err := d.u32()
		return f32(v), err
	case CodeDouble:
		v, err := d.u64()
		return f64(v), err
	case CodeDecimal32:
		var v Decimal32
		b, err := d.take(4)
		copy(v[:], b)
		return v, err
	case CodeDecimal64:
		var v Decimal64
		b, err := d.take(8)
		copy(v[:], b)
		return v, err
	case CodeDecimal128:
		var v Decimal128
		b, err := d.take(16)
		copy(v[:], b)
		return v, err
	case CodeChar:
		v, err := d.u32()
		if err == nil && (v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)) {
			d.pos -= 4
			return nil, d.errf("char is not a Unicode scalar value")
		}
		return Char(v), err
	case CodeTimestamp:
		v, err := d.u64()
		return Timestamp(v), err
	case CodeUUID:
		var v UUID
		b, err := d.take(16)
		copy(v[:], b)
		return v, err
	case CodeVbin8, CodeVbin32:
		return d.variable(c)
	case CodeStr8, CodeStr32:
		b, err := d.stringWith(c)
		return string(b), err
	case CodeSym8, CodeSym32:
		b, err := d.symbolWith(c)
		return Symbol(b), err
	}
	d.pos--
	return nil, d.errf("invalid format code " + hexByte(c))
}
