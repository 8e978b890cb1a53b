package types

import (
	"bytes"
	"reflect"
	"testing"
)

// FuzzDecode checks that any input either fails with a decode error or
// decodes to a value that re-encodes and decodes to the same value, and that
// Skip agrees with ReadAny on how many bytes a value takes.
func FuzzDecode(f *testing.F) {
	seeds := []any{
		nil, true, uint32(300), int64(-5), "héllo", Symbol("sym"), []byte{1, 2},
		[]any{uint64(1), "a", []any{}}, Map{{Key: Symbol("k"), Value: int32(9)}},
		Array{Type: CodeSym8, Elems: []any{Symbol("a"), Symbol("b")}},
		Described{Descriptor: uint64(0x70), Value: []any{true, nil}},
		Array{Descriptor: Symbol("d"), Type: CodeList8, Elems: []any{[]any{"x"}}},
		Timestamp(1), UUID{1}, Char('x'), float32(1), 2.5, Decimal128{},
	}
	for _, s := range seeds {
		b, err := AppendAny(nil, s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		f.Add(b[:len(b)/2]) // partial input
	}
	f.Add([]byte{0xc1, 2, 1, 0x40})
	f.Add(bytes.Repeat([]byte{0xc0, 0xff, 1}, 200))
	f.Fuzz(func(t *testing.T, b []byte) {
		d := NewDecoder(b)
		v, err := d.ReadAny()
		s := NewDecoder(b)
		serr := s.Skip()
		if (err == nil) != (serr == nil) {
			t.Fatalf("ReadAny err %v, Skip err %v", err, serr)
		}
		if err != nil {
			return
		}
		if d.Pos() != s.Pos() {
			t.Fatalf("ReadAny consumed %d, Skip %d", d.Pos(), s.Pos())
		}
		re, err := AppendAny(nil, v)
		if err != nil {
			t.Fatalf("re-encode %#v: %v", v, err)
		}
		v2, err := NewDecoder(re).ReadAny()
		if err != nil {
			t.Fatalf("decode of re-encoding %x: %v", re, err)
		}
		if !equalValues(v, v2) {
			t.Fatalf("round trip changed value:\n%#v\n%#v", v, v2)
		}
	})
}

// equalValues is reflect.DeepEqual except that NaN equals NaN bitwise and
// empty arrays compare by element type only.
func equalValues(a, b any) bool {
	ea, _ := AppendAny(nil, a)
	eb, _ := AppendAny(nil, b)
	return bytes.Equal(ea, eb) || reflect.DeepEqual(a, b)
}
