package types

import (
	"encoding/binary"
	"fmt"
	"math"
	"time"
)

// AppendNull appends null.
func AppendNull(b []byte) []byte { return append(b, CodeNull) }

// AppendBool appends a boolean in its one-byte form (true/false codes).
func AppendBool(b []byte, v bool) []byte {
	if v {
		return append(b, CodeTrue)
	}
	return append(b, CodeFalse)
}

// AppendUbyte appends a ubyte.
func AppendUbyte(b []byte, v uint8) []byte { return append(b, CodeUbyte, v) }

// AppendUshort appends a ushort.
func AppendUshort(b []byte, v uint16) []byte {
	return binary.BigEndian.AppendUint16(append(b, CodeUshort), v)
}

// AppendUint appends a uint as uint0, smalluint or uint.
func AppendUint(b []byte, v uint32) []byte {
	switch {
	case v == 0:
		return append(b, CodeUint0)
	case v < 256:
		return append(b, CodeSmallUint, byte(v))
	}
	return binary.BigEndian.AppendUint32(append(b, CodeUint), v)
}

// AppendUlong appends a ulong as ulong0, smallulong or ulong.
func AppendUlong(b []byte, v uint64) []byte {
	switch {
	case v == 0:
		return append(b, CodeUlong0)
	case v < 256:
		return append(b, CodeSmallUlong, byte(v))
	}
	return binary.BigEndian.AppendUint64(append(b, CodeUlong), v)
}

// AppendByte appends a signed byte.
func AppendByte(b []byte, v int8) []byte { return append(b, CodeByte, byte(v)) }

// AppendShort appends a short.
func AppendShort(b []byte, v int16) []byte {
	return binary.BigEndian.AppendUint16(append(b, CodeShort), uint16(v))
}

// AppendInt appends an int as smallint or int.
func AppendInt(b []byte, v int32) []byte {
	if v >= -128 && v <= 127 {
		return append(b, CodeSmallInt, byte(int8(v)))
	}
	return binary.BigEndian.AppendUint32(append(b, CodeInt), uint32(v))
}

// AppendLong appends a long as smalllong or long.
func AppendLong(b []byte, v int64) []byte {
	if v >= -128 && v <= 127 {
		return append(b, CodeSmallLong, byte(int8(v)))
	}
	return binary.BigEndian.AppendUint64(append(b, CodeLong), uint64(v))
}

// AppendFloat appends an IEEE 754 binary32.
func AppendFloat(b []byte, v float32) []byte {
	return binary.BigEndian.AppendUint32(append(b, CodeFloat), math.Float32bits(v))
}

// AppendDouble appends an IEEE 754 binary64.
func AppendDouble(b []byte, v float64) []byte {
	return binary.BigEndian.AppendUint64(append(b, CodeDouble), math.Float64bits(v))
}

// AppendChar appends a char (UTF-32BE).
func AppendChar(b []byte, v Char) []byte {
	return binary.BigEndian.AppendUint32(append(b, CodeChar), uint32(v))
}

// AppendTimestamp appends a timestamp.
func AppendTimestamp(b []byte, v Timestamp) []byte {
	return binary.BigEndian.AppendUint64(append(b, CodeTimestamp), uint64(v))
}

// AppendUUID appends a uuid.
func AppendUUID(b []byte, v UUID) []byte { return append(append(b, CodeUUID), v[:]...) }

// AppendBinary appends binary data as vbin8 or vbin32.
func AppendBinary(b []byte, v []byte) []byte {
	if len(v) < 256 {
		b = append(b, CodeVbin8, byte(len(v)))
	} else {
		b = binary.BigEndian.AppendUint32(append(b, CodeVbin32), uint32(len(v)))
	}
	return append(b, v...)
}

// AppendString appends a UTF-8 string as str8 or str32. The caller is
// responsible for v being valid UTF-8.
func AppendString(b []byte, v string) []byte {
	if len(v) < 256 {
		b = append(b, CodeStr8, byte(len(v)))
	} else {
		b = binary.BigEndian.AppendUint32(append(b, CodeStr32), uint32(len(v)))
	}
	return append(b, v...)
}

// AppendSymbol appends a symbol as sym8 or sym32.
func AppendSymbol(b []byte, v Symbol) []byte {
	if len(v) < 256 {
		b = append(b, CodeSym8, byte(len(v)))
	} else {
		b = binary.BigEndian.AppendUint32(append(b, CodeSym32), uint32(len(v)))
	}
	return append(b, v...)
}

// AppendDescriptor appends the constructor of a described type with a
// numeric descriptor (0x00 followed by the ulong code).
func AppendDescriptor(b []byte, code uint64) []byte {
	return AppendUlong(append(b, CodeDescribed), code)
}

// AppendSymbolDescriptor appends the constructor of a described type with a
// symbolic descriptor.
func AppendSymbolDescriptor(b []byte, name Symbol) []byte {
	return AppendSymbol(append(b, CodeDescribed), name)
}

// Compound is the position of an open list or map; see BeginList.
type Compound struct {
	start int // offset of the format code
	count int
}

const compoundHeader = 9 // code + 4-byte size + 4-byte count

// BeginList reserves a list header. Append the elements, counting them, and
// finish with EndList.
func BeginList(b []byte) ([]byte, Compound) {
	c := Compound{start: len(b)}
	return append(b, CodeList32, 0, 0, 0, 0, 0, 0, 0, 0), c
}

// EndList completes the list begun at c, which holds count elements, and
// shrinks it to list0 or list8 when possible.
func EndList(b []byte, c Compound, count int) []byte {
	return endCompound(b, c, count, CodeList0, CodeList8, CodeList32)
}

// BeginMap reserves a map header; see BeginList.
func BeginMap(b []byte) ([]byte, Compound) {
	c := Compound{start: len(b)}
	return append(b, CodeMap32, 0, 0, 0, 0, 0, 0, 0, 0), c
}

// EndMap completes a map holding pairs key/value pairs (2*pairs elements).
func EndMap(b []byte, c Compound, pairs int) []byte {
	return endCompound(b, c, 2*pairs, 0, CodeMap8, CodeMap32)
}

func endCompound(b []byte, c Compound, count int, code0, code8, code32 byte) []byte {
	body := len(b) - c.start - compoundHeader
	if count == 0 && code0 != 0 {
		return append(b[:c.start], code0)
	}
	if body+1 <= 255 && count <= 255 {
		b[c.start] = code8
		b[c.start+1] = byte(body + 1)
		b[c.start+2] = byte(count)
		n := copy(b[c.start+3:], b[c.start+compoundHeader:])
		return b[:c.start+3+n]
	}
	b[c.start] = code32
	binary.BigEndian.PutUint32(b[c.start+1:], uint32(body+4))
	binary.BigEndian.PutUint32(b[c.start+5:], uint32(count))
	return b
}

// AppendSymbolArray appends syms as an array of symbols, or null when syms is
// nil.
func AppendSymbolArray(b []byte, syms []Symbol) []byte {
	if syms == nil {
		return AppendNull(b)
	}
	code, max := CodeSym8, 0
	for _, s := range syms {
		max = maxInt(max, len(s))
	}
	if max > 255 {
		code = CodeSym32
	}
	b, c := beginArray(b)
	b = append(b, code)
	for _, s := range syms {
		if code == CodeSym8 {
			b = append(b, byte(len(s)))
		} else {
			b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
		}
		b = append(b, s...)
	}
	return endArray(b, c, len(syms))
}

// AppendMultiSymbol appends a "multiple" symbol field (AMQP 1.0 §1.4): null
// for none, a single symbol for one, an array for several.
func AppendMultiSymbol(b []byte, syms []Symbol) []byte {
	switch len(syms) {
	case 0:
		return AppendNull(b)
	case 1:
		return AppendSymbol(b, syms[0])
	}
	return AppendSymbolArray(b, syms)
}

// AppendAny appends v, which must be one of the Go representations listed in
// the package documentation (plus int, uint, time.Time, []Symbol, []string,
// map[string]any and map[Symbol]any for convenience). It returns an error for
// any other Go type.
func AppendAny(b []byte, v any) ([]byte, error) {
	switch v := v.(type) {
	case nil:
		return AppendNull(b), nil
	case bool:
		return AppendBool(b, v), nil
	case uint8:
		return AppendUbyte(b, v), nil
	case uint16:
		return AppendUshort(b, v), nil
	case uint32:
		return AppendUint(b, v), nil
	case uint64:
		return AppendUlong(b, v), nil
	case uint:
		return AppendUlong(b, uint64(v)), nil
	case int8:
		return AppendByte(b, v), nil
	case int16:
		return AppendShort(b, v), nil
	case int32:
		return AppendInt(b, v), nil
	case int64:
		return AppendLong(b, v), nil
	case int:
		return AppendLong(b, int64(v)), nil
	case float32:
		return AppendFloat(b, v), nil
	case float64:
		return AppendDouble(b, v), nil
	case Decimal32:
		return append(append(b, CodeDecimal32), v[:]...), nil
	case Decimal64:
		return append(append(b, CodeDecimal64), v[:]...), nil
	case Decimal128:
		return append(append(b, CodeDecimal128), v[:]...), nil
	case Char:
		return AppendChar(b, v), nil
	case Timestamp:
		return AppendTimestamp(b, v), nil
	case time.Time:
		return AppendTimestamp(b, TimestampOf(v)), nil
	case UUID:
		return AppendUUID(b, v), nil
	case []byte:
		return AppendBinary(b, v), nil
	case string:
		return AppendString(b, v), nil
	case Symbol:
		return AppendSymbol(b, v), nil
	case []Symbol:
		return AppendSymbolArray(b, v), nil
	case []string:
		elems := make([]any, len(v))
		for i, s := range v {
			elems[i] = s
		}
		return AppendArray(b, Array{Type: CodeStr8, Elems: elems})
	case []any:
		return appendList(b, v)
	case Map:
		return appendMap(b, v)
	case map[string]any:
		return appendGoMap(b, v, func(k string) any { return k })
	case map[Symbol]any:
		return appendGoMap(b, v, func(k Symbol) any { return k })
	case Array:
		return AppendArray(b, v)
	case *Array:
		return AppendArray(b, *v)
	case Described:
		return appendDescribed(b, v)
	case *Described:
		return appendDescribed(b, *v)
	}
	return b, fmt.Errorf("amqp types: cannot encode Go type %T", v)
}

func appendDescribed(b []byte, v Described) ([]byte, error) {
	b = append(b, CodeDescribed)
	switch d := v.Descriptor.(type) {
	case uint64:
		b = AppendUlong(b, d)
	case Symbol:
		b = AppendSymbol(b, d)
	default:
		var err error
		if b, err = AppendAny(b, d); err != nil {
			return b, err
		}
	}
	return AppendAny(b, v.Value)
}

func appendList(b []byte, v []any) ([]byte, error) {
	b, c := BeginList(b)
	var err error
	for _, e := range v {
		if b, err = AppendAny(b, e); err != nil {
			return b, err
		}
	}
	return EndList(b, c, len(v)), nil
}

func appendMap(b []byte, m Map) ([]byte, error) {
	b, c := BeginMap(b)
	var err error
	for _, kv := range m {
		if b, err = AppendAny(b, kv.Key); err != nil {
			return b, err
		}
		if b, err = AppendAny(b, kv.Value); err != nil {
			return b, err
		}
	}
	return EndMap(b, c, len(m)), nil
}

func appendGoMap[K comparable](b []byte, m map[K]any, key func(K) any) ([]byte, error) {
	b, c := BeginMap(b)
	var err error
	for k, v := range m {
		if b, err = AppendAny(b, key(k)); err != nil {
			return b, err
		}
		if b, err = AppendAny(b, v); err != nil {
			return b, err
		}
	}
	return EndMap(b, c, len(m)), nil
}
