package types

import (
	"encoding/binary"
	"fmt"
	"math"
)

func maxInt(a, b int) int {
	if a > b {
		return a
	}
	return b
}

func beginArray(b []byte) ([]byte, Compound) {
	c := Compound{start: len(b)}
	return append(b, CodeArray32, 0, 0, 0, 0, 0, 0, 0, 0), c
}

// endArray completes an array whose constructor and elements follow the
// reserved header, shrinking it to array8 when it fits.
func endArray(b []byte, c Compound, count int) []byte {
	return endCompound(b, c, count, 0, CodeArray8, CodeArray32)
}

// AppendArray appends a as an AMQP array, choosing the smallest element
// encoding that holds every element (AMQP 1.0 §1.6.24). All elements must
// have the same Go type.
func AppendArray(b []byte, a Array) ([]byte, error) {
	code, err := arrayCode(a)
	if err != nil {
		return b, err
	}
	start := len(b)
	b, c := beginArray(b)
	if a.Descriptor != nil {
		if b, err = appendDescribed(b[:len(b)], Described{Descriptor: a.Descriptor}); err != nil {
			return b[:start], err
		}
		b = b[:len(b)-1] // drop the null written for the absent value
	}
	b = append(b, code)
	for _, e := range a.Elems {
		if b, err = appendElement(b, code, e); err != nil {
			return b[:start], err
		}
	}
	return endArray(b, c, len(a.Elems)), nil
}

// arrayCode picks the element constructor for a.
func arrayCode(a Array) (byte, error) {
	if len(a.Elems) == 0 {
		if a.Type == 0 {
			return CodeNull, nil
		}
		return a.Type, nil
	}
	var wide, small, zero = false, true, true
	for i, e := range a.Elems {
		if fmt.Sprintf("%T", e) != fmt.Sprintf("%T", a.Elems[0]) {
			return 0, fmt.Errorf("amqp types: array element %d is %T, element 0 is %T", i, e, a.Elems[0])
		}
		switch v := e.(type) {
		case uint32:
			small, zero = small && v < 256, zero && v == 0
		case uint64:
			small, zero = small && v < 256, zero && v == 0
		case int32:
			small = small && v >= -128 && v <= 127
		case int64:
			small = small && v >= -128 && v <= 127
		case []byte:
			wide = wide || len(v) > 255
		case string:
			wide = wide || len(v) > 255
		case Symbol:
			wide = wide || len(v) > 255
		case []any, Map, Array:
			enc, err := AppendAny(nil, e)
			if err != nil {
				return 0, err
			}
			wide = wide || enc[0] == CodeList32 || enc[0] == CodeMap32 || enc[0] == CodeArray32
		}
	}
	pick := func(c0, cs, cw byte) byte {
		switch {
		case zero:
			return c0
		case small:
			return cs
		}
		return cw
	}
	width := func(c8, c32 byte) byte {
		if wide {
			return c32
		}
		return c8
	}
	switch a.Elems[0].(type) {
	case nil:
		return CodeNull, nil
	case bool:
		return CodeBool, nil
	case uint8:
		return CodeUbyte, nil
	case uint16:
		return CodeUshort, nil
	case uint32:
		return pick(CodeUint0, CodeSmallUint, CodeUint), nil
	case uint64:
		return pick(CodeUlong0, CodeSmallUlong, CodeUlong), nil
	case int8:
		return CodeByte, nil
	case int16:
		return CodeShort, nil
	case int32:
		zero = false
		return pick(0, CodeSmallInt, CodeInt), nil
	case int64:
		zero = false
		return pick(0, CodeSmallLong, CodeLong), nil
	case float32:
		return CodeFloat, nil
	case float64:
		return CodeDouble, nil
	case Decimal32:
		return CodeDecimal32, nil
	case Decimal64:
		return CodeDecimal64, nil
	case Decimal128:
		return CodeDecimal128, nil
	case Char:
		return CodeChar, nil
	case Timestamp:
		return CodeTimestamp, nil
	case UUID:
		return CodeUUID, nil
	case []byte:
		return width(CodeVbin8, CodeVbin32), nil
	case string:
		return width(CodeStr8, CodeStr32), nil
	case Symbol:
		return width(CodeSym8, CodeSym32), nil
	case []any:
		return width(CodeList8, CodeList32), nil
	case Map:
		return width(CodeMap8, CodeMap32), nil
	case Array:
		return width(CodeArray8, CodeArray32), nil
	}
	return 0, fmt.Errorf("amqp types: cannot encode array of Go type %T", a.Elems[0])
}

// appendElement appends e without its constructor, in the encoding code.
func appendElement(b []byte, code byte, e any) ([]byte, error) {
	switch code {
	case CodeNull, CodeUint0, CodeUlong0:
		return b, nil
	case CodeBool:
		if e.(bool) {
			return append(b, 1), nil
		}
		return append(b, 0), nil
	case CodeUbyte:
		return append(b, e.(uint8)), nil
	case CodeByte:
		return append(b, byte(e.(int8))), nil
	case CodeUshort:
		return binary.BigEndian.AppendUint16(b, e.(uint16)), nil
	case CodeShort:
		return binary.BigEndian.AppendUint16(b, uint16(e.(int16))), nil
	case CodeSmallUint:
		return append(b, byte(e.(uint32))), nil
	case CodeUint:
		return binary.BigEndian.AppendUint32(b, e.(uint32)), nil
	case CodeSmallUlong:
		return append(b, byte(e.(uint64))), nil
	case CodeUlong:
		return binary.BigEndian.AppendUint64(b, e.(uint64)), nil
	case CodeSmallInt:
		return append(b, byte(e.(int32))), nil
	case CodeInt:
		return binary.BigEndian.AppendUint32(b, uint32(e.(int32))), nil
	case CodeSmallLong:
		return append(b, byte(e.(int64))), nil
	case CodeLong:
		return binary.BigEndian.AppendUint64(b, uint64(e.(int64))), nil
	case CodeFloat:
		return binary.BigEndian.AppendUint32(b, math.Float32bits(e.(float32))), nil
	case CodeDouble:
		return binary.BigEndian.AppendUint64(b, math.Float64bits(e.(float64))), nil
	case CodeDecimal32:
		v := e.(Decimal32)
		return append(b, v[:]...), nil
	case CodeDecimal64:
		v := e.(Decimal64)
		return append(b, v[:]...), nil
	case CodeDecimal128:
		v := e.(Decimal128)
		return append(b, v[:]...), nil
	case CodeChar:
		return binary.BigEndian.AppendUint32(b, uint32(e.(Char))), nil
	case CodeTimestamp:
		return binary.BigEndian.AppendUint64(b, uint64(e.(Timestamp))), nil
	case CodeUUID:
		v := e.(UUID)
		return append(b, v[:]...), nil
	case CodeVbin8, CodeStr8, CodeSym8:
		s := variableBytes(e)
		return append(append(b, byte(len(s))), s...), nil
	case CodeVbin32, CodeStr32, CodeSym32:
		s := variableBytes(e)
		return append(binary.BigEndian.AppendUint32(b, uint32(len(s))), s...), nil
	case CodeList8, CodeList32, CodeMap8, CodeMap32, CodeArray8, CodeArray32:
		enc, err := AppendAny(nil, e)
		if err != nil {
			return b, err
		}
		return appendCompoundAs(b, enc, code == CodeList32 || code == CodeMap32 || code == CodeArray32), nil
	}
	return b, fmt.Errorf("amqp types: cannot encode array element code %#x", code)
}

func variableBytes(e any) string {
	switch v := e.(type) {
	case []byte:
		return string(v)
	case string:
		return v
	case Symbol:
		return string(v)
	}
	return ""
}

// appendCompoundAs appends the compound encoding enc (with its constructor)
// without the constructor, in the 8-bit or 32-bit size form.
func appendCompoundAs(b, enc []byte, wide bool) []byte {
	var count uint32
	var rest []byte
	switch enc[0] {
	case CodeList0:
	case CodeList8, CodeMap8, CodeArray8:
		count, rest = uint32(enc[2]), enc[3:]
	default:
		count, rest = binary.BigEndian.Uint32(enc[5:]), enc[9:]
	}
	if wide {
		b = binary.BigEndian.AppendUint32(b, uint32(len(rest)+4))
		b = binary.BigEndian.AppendUint32(b, count)
	} else {
		b = append(b, byte(len(rest)+1), byte(count))
	}
	return append(b, rest...)
}
