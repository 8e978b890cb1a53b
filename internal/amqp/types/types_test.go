package types

import (
	"bytes"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
)

func enc(t testing.TB, v any) []byte {
	t.Helper()
	b, err := AppendAny(nil, v)
	if err != nil {
		t.Fatalf("AppendAny(%#v): %v", v, err)
	}
	return b
}

func TestTypesRoundTrip(t *testing.T) {
	tests := map[string]any{
		"null":        nil,
		"true":        true,
		"false":       false,
		"ubyte":       uint8(200),
		"ushort":      uint16(65000),
		"uint0":       uint32(0),
		"smalluint":   uint32(7),
		"uint":        uint32(1 << 30),
		"ulong0":      uint64(0),
		"smallulong":  uint64(255),
		"ulong":       uint64(math.MaxUint64),
		"byte":        int8(-5),
		"short":       int16(-30000),
		"smallint":    int32(-128),
		"int":         int32(math.MinInt32),
		"smalllong":   int64(127),
		"long":        int64(math.MinInt64),
		"float":       float32(1.5),
		"double":      math.Pi,
		"decimal32":   Decimal32{1, 2, 3, 4},
		"decimal64":   Decimal64{1, 2, 3, 4, 5, 6, 7, 8},
		"decimal128":  Decimal128{15: 9},
		"char":        Char('€'),
		"timestamp":   Timestamp(1700000000123),
		"uuid":        UUID{0: 1, 15: 2},
		"vbin8":       []byte("hello"),
		"vbin32":      bytes.Repeat([]byte{7}, 300),
		"empty bin":   []byte{},
		"str8":        "héllo",
		"str32":       strings.Repeat("x", 256),
		"sym8":        Symbol("amqp:decode-error"),
		"sym32":       Symbol(strings.Repeat("s", 300)),
		"list0":       []any{},
		"list8":       []any{uint32(1), "two", nil, true},
		"list32":      []any{strings.Repeat("y", 300)},
		"nested list": []any{[]any{[]any{int64(-1)}}, Map{{Key: "k", Value: []any{}}}},
		"map8":        Map{{Key: Symbol("a"), Value: int32(1)}, {Key: []byte{1}, Value: nil}},
		"map32":       Map{{Key: "big", Value: strings.Repeat("z", 400)}},
		"empty map":   Map{},
		"described":   Described{Descriptor: uint64(0x70), Value: []any{true}},
		"sym desc":    Described{Descriptor: Symbol("apache.org:selector-filter:string"), Value: "a = 1"},
		"sym array":   Array{Type: CodeSym8, Elems: []any{Symbol("a"), Symbol("bb")}},
		"sym32 array": Array{Type: CodeSym32, Elems: []any{Symbol(strings.Repeat("q", 256))}},
		"empty array": Array{Type: CodeSym8, Elems: []any{}},
		"uint array":  Array{Type: CodeSmallUint, Elems: []any{uint32(1), uint32(2)}},
		"uint0 array": Array{Type: CodeUint0, Elems: []any{uint32(0), uint32(0)}},
		"int array":   Array{Type: CodeInt, Elems: []any{int32(1), int32(100000)}},
		"bool array":  Array{Type: CodeBool, Elems: []any{true, false}},
		"uuid array":  Array{Type: CodeUUID, Elems: []any{UUID{1}, UUID{2}}},
		"list array":  Array{Type: CodeList8, Elems: []any{[]any{uint32(1)}, []any{}}},
		"list32 array": Array{Type: CodeList32, Elems: []any{
			[]any{strings.Repeat("w", 300)}, []any{uint32(1)}}},
		"map array":   Array{Type: CodeMap8, Elems: []any{Map{{Key: "a", Value: "b"}}}},
		"array array": Array{Type: CodeArray8, Elems: []any{Array{Type: CodeSym8, Elems: []any{Symbol("x")}}}},
		"described array": Array{Descriptor: uint64(0x73), Type: CodeList8,
			Elems: []any{[]any{"a"}, []any{"b"}}},
	}
	for name, v := range tests {
		t.Run(name, func(t *testing.T) {
			b := enc(t, v)
			d := NewDecoder(b)
			got, err := d.ReadAny()
			if err != nil {
				t.Fatalf("decode %x: %v", b, err)
			}
			if d.Len() != 0 {
				t.Fatalf("%d bytes left over", d.Len())
			}
			if !reflect.DeepEqual(got, v) {
				t.Fatalf("round trip:\n got %#v\nwant %#v", got, v)
			}
			// Skip walks the same bytes.
			d.Reset(b)
			if err := d.Skip(); err != nil || d.Len() != 0 {
				t.Fatalf("Skip: %v, %d left", err, d.Len())
			}
			// Re-encoding the decoded value gives the same bytes.
			if b2 := enc(t, got); !bytes.Equal(b, b2) {
				t.Fatalf("re-encode differs:\n%x\n%x", b, b2)
			}
		})
	}
}

func TestTypesSmallestEncoding(t *testing.T) {
	tests := map[string]struct {
		v    any
		want []byte
	}{
		"uint0":      {uint32(0), []byte{0x43}},
		"smalluint":  {uint32(255), []byte{0x52, 0xff}},
		"uint":       {uint32(256), []byte{0x70, 0, 0, 1, 0}},
		"ulong0":     {uint64(0), []byte{0x44}},
		"smallulong": {uint64(0x53), []byte{0x53, 0x53}},
		"smallint":   {int32(-1), []byte{0x54, 0xff}},
		"smalllong":  {int64(-128), []byte{0x55, 0x80}},
		"true":       {true, []byte{0x41}},
		"list0":      {[]any{}, []byte{0x45}},
		"list8":      {[]any{nil}, []byte{0xc0, 2, 1, 0x40}},
		"map8":       {Map{}, []byte{0xc1, 1, 0}},
		"str8":       {"a", []byte{0xa1, 1, 'a'}},
		"sym array":  {[]Symbol{"a"}, []byte{0xe0, 4, 1, 0xa3, 1, 'a'}},
		"described":  {Described{Descriptor: uint64(0x10), Value: nil}, []byte{0, 0x53, 0x10, 0x40}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := enc(t, tc.v); !bytes.Equal(got, tc.want) {
				t.Fatalf("got %x want %x", got, tc.want)
			}
		})
	}
}

func TestTypesListShrinkBoundary(t *testing.T) {
	for n := 250; n < 260; n++ {
		l := []any{strings.Repeat("a", n)}
		b := enc(t, l)
		got, err := NewDecoder(b).ReadAny()
		if err != nil || !reflect.DeepEqual(got, l) {
			t.Fatalf("n=%d: %v %v", n, err, got)
		}
	}
	// 255 elements fit a list8 only if the size fits too.
	many := make([]any, 300)
	b := enc(t, many)
	if b[0] != CodeList32 {
		t.Fatalf("300 elements encoded with %#x", b[0])
	}
}

func TestTypesWidening(t *testing.T) {
	d := NewDecoder([]byte{0x50, 9, 0x60, 0, 9, 0x52, 9})
	for i := range 3 {
		v, err := d.ReadUlong()
		if err != nil || v != 9 {
			t.Fatalf("read %d: %v %v", i, v, err)
		}
	}
	// A ulong does not narrow to a uint.
	d = NewDecoder([]byte{0x80, 0, 0, 0, 0, 0, 0, 0, 1})
	if _, err := d.ReadUint(); !errors.Is(err, ErrDecode) {
		t.Fatalf("ulong read as uint: %v", err)
	}
}

func TestTypesBadInput(t *testing.T) {
	deep := bytes.Repeat([]byte{0xc0, 0xff, 1}, 10000) // list8 nested 10,000 deep
	deepDescribed := bytes.Repeat([]byte{0x00}, 10000)
	tests := map[string][]byte{
		"empty":               {},
		"invalid code":        {0x01},
		"reserved code":       {0xff},
		"truncated uint":      {0x70, 0, 0},
		"truncated str8":      {0xa1, 5, 'a'},
		"str32 4GiB":          {0xb1, 0xff, 0xff, 0xff, 0xff, 'a'},
		"list32 4GiB":         {0xd0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 1},
		"count exceeds size":  {0xc0, 1, 200},
		"array count huge":    {0xf0, 0, 0, 0, 5, 0xff, 0xff, 0xff, 0xff, 0x40},
		"odd map":             {0xc1, 2, 1, 0x40},
		"invalid utf8":        {0xa1, 2, 0xc3, 0x28},
		"non ascii symbol":    {0xa3, 1, 0xe9},
		"size mismatch":       {0xc0, 3, 1, 0x40, 0x40},
		"deep lists":          deep,
		"deep described":      deepDescribed,
		"bool not 0 or 1":     {0x56, 2},
		"bad char":            {0x73, 0, 0x11, 0, 0},
		"array bad elem code": {0xe0, 2, 1, 0x01},
		"array desc elem":     {0xe0, 3, 1, 0x00, 0x00},
		"described truncated": {0x00, 0x53},
	}
	for name, b := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := NewDecoder(b).ReadAny()
			if !errors.Is(err, ErrDecode) {
				t.Fatalf("ReadAny(%x) = %v, want decode error", b[:min(len(b), 16)], err)
			}
			if err := NewDecoder(b).Skip(); !errors.Is(err, ErrDecode) {
				t.Fatalf("Skip(%x) = %v, want decode error", b[:min(len(b), 16)], err)
			}
		})
	}
}

func TestTypesMultiSymbol(t *testing.T) {
	for _, syms := range [][]Symbol{nil, {"one"}, {"a", "b", "c"}} {
		b := AppendMultiSymbol(nil, syms)
		got, err := NewDecoder(b).ReadMultiSymbol()
		if err != nil || !reflect.DeepEqual(got, syms) {
			t.Fatalf("%v: got %v %v", syms, got, err)
		}
	}
}

func TestTypesMapGet(t *testing.T) {
	m := Map{{Key: []byte("x"), Value: 1}, {Key: Symbol("k"), Value: 2}}
	if v, ok := m.Get(Symbol("k")); !ok || v != 2 {
		t.Fatalf("Get = %v %v", v, ok)
	}
	if _, ok := m.Get("k"); ok {
		t.Fatal("string key matched a symbol")
	}
}

func TestTypesUUIDString(t *testing.T) {
	u := UUID{0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88}
	if got := u.String(); got != "12345678-9abc-def0-1122-334455667788" {
		t.Fatal(got)
	}
}
