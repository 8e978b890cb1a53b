package message

import (
	"bytes"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/enmasse-go/enmasse/internal/amqp/types"
)

// marshal encodes m or fails the test.
func marshal(t testing.TB, m *Message) []byte {
	t.Helper()
	b, err := m.Marshal(nil)
	if err != nil {
		t.Fatalf("Marshal: %v", err)
	}
	return b
}

// sec encodes one section from a descriptor code and an already encoded
// value.
func sec(code uint64, value []byte) []byte {
	return append(types.AppendDescriptor(nil, code), value...)
}

// val encodes v with the types package or panics (test inputs only).
func val(v any) []byte {
	b, err := types.AppendAny(nil, v)
	if err != nil {
		panic(err)
	}
	return b
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// fullMessage has every section and every properties field.
func fullMessage() *Message {
	return &Message{
		Header: &Header{Durable: true, Priority: 7, TTL: 30000, HasTTL: true, FirstAcquirer: true, DeliveryCount: 3},
		DeliveryAnnotations: types.Map{
			{Key: types.Symbol("x-opt-hop"), Value: "a"},
		},
		MessageAnnotations: types.Map{
			{Key: types.Symbol("x-opt-partition"), Value: int32(4)},
			{Key: uint64(77), Value: types.Symbol("numeric key")},
		},
		Properties: allProperties(),
		ApplicationProperties: map[string]any{
			"colour": "red", "count": int64(5),
		},
		Data:   [][]byte{[]byte("first"), bytes.Repeat([]byte{0xee}, 300), {}},
		Footer: types.Map{{Key: types.Symbol("x-hmac"), Value: []byte{1, 2, 3}}},
	}
}

func allProperties() *Properties {
	return &Properties{
		MessageID:          "id-1",
		UserID:             []byte("alice"),
		To:                 "queue/orders",
		Subject:            "new order",
		ReplyTo:            "replies/alice",
		CorrelationID:      uint64(99),
		ContentType:        "application/json",
		ContentEncoding:    "gzip",
		AbsoluteExpiryTime: 1700000060000, HasAbsoluteExpiry: true,
		CreationTime: 1700000000000, HasCreationTime: true,
		GroupID:       "g",
		GroupSequence: 12, HasGroupSequence: true,
		ReplyToGroupID: "rg",
	}
}

func TestMessageRoundTrip(t *testing.T) {
	simple := map[string]any{
		"null": nil, "bool": true, "ubyte": uint8(1), "ushort": uint16(2),
		"uint": uint32(70000), "ulong": uint64(math.MaxUint64), "byte": int8(-1),
		"short": int16(-2), "int": int32(-70000), "long": int64(math.MinInt64),
		"float": float32(1.5), "double": 2.25, "decimal32": types.Decimal32{1, 2, 3, 4},
		"decimal64": types.Decimal64{7: 3}, "decimal128": types.Decimal128{15: 1},
		"char": types.Char('€'), "timestamp": types.Timestamp(-5), "uuid": types.UUID{1, 15: 2},
		"binary": []byte{0, 1}, "string": "héllo", "symbol": types.Symbol("sym"),
		"long string": strings.Repeat("z", 300),
	}
	tests := map[string]*Message{
		"empty":               {},
		"default header":      {Header: &Header{Priority: 4}},
		"zero header":         {Header: &Header{}},
		"header ttl zero":     {Header: &Header{Priority: 4, HasTTL: true}},
		"header count only":   {Header: &Header{Priority: 4, DeliveryCount: 1 << 20}},
		"all sections":        fullMessage(),
		"all properties":      {Properties: allProperties()},
		"empty properties":    {Properties: &Properties{}},
		"sparse properties":   {Properties: &Properties{ReplyToGroupID: "only the last"}},
		"message-id ulong":    {Properties: &Properties{MessageID: uint64(1 << 40), CorrelationID: uint64(0)}},
		"message-id uuid":     {Properties: &Properties{MessageID: types.UUID{9: 9}, CorrelationID: types.UUID{}}},
		"message-id binary":   {Properties: &Properties{MessageID: []byte{0xff}, CorrelationID: []byte{}}},
		"message-id string":   {Properties: &Properties{MessageID: "m", CorrelationID: strings.Repeat("c", 256)}},
		"zero timestamps":     {Properties: &Properties{HasAbsoluteExpiry: true, HasCreationTime: true, HasGroupSequence: true}},
		"app properties":      {ApplicationProperties: simple},
		"empty app props":     {ApplicationProperties: map[string]any{}},
		"empty annotations":   {DeliveryAnnotations: types.Map{}, MessageAnnotations: types.Map{}, Footer: types.Map{}},
		"data one":            {Data: [][]byte{[]byte("payload")}},
		"data several":        {Data: [][]byte{[]byte("a"), []byte("b"), bytes.Repeat([]byte("c"), 70000)}},
		"data empty section":  {Data: [][]byte{{}}},
		"sequence one":        {Sequence: [][]any{{uint32(1), "two", nil}}},
		"sequence several":    {Sequence: [][]any{{}, {types.Map{{Key: "k", Value: []any{int64(1)}}}}, {true}}},
		"value null":          {HasValue: true},
		"value string":        {Value: "hello", HasValue: true},
		"value symbol":        {Value: types.Symbol("s"), HasValue: true},
		"value ulong":         {Value: uint64(7), HasValue: true},
		"value double":        {Value: math.Inf(-1), HasValue: true},
		"value binary":        {Value: []byte("bin"), HasValue: true},
		"value timestamp":     {Value: types.Timestamp(1), HasValue: true},
		"value list":          {Value: []any{uint8(1), []any{}, "x"}, HasValue: true},
		"value map":           {Value: types.Map{{Key: int32(1), Value: "one"}, {Key: nil, Value: []byte{}}}, HasValue: true},
		"value array":         {Value: types.Array{Type: types.CodeSym8, Elems: []any{types.Symbol("a"), types.Symbol("b")}}, HasValue: true},
		"value described":     {Value: types.Described{Descriptor: types.Symbol("com.example:point"), Value: []any{int32(1), int32(2)}}, HasValue: true},
		"value empty list":    {Value: []any{}, HasValue: true},
		"footer only":         {Footer: types.Map{{Key: uint64(1), Value: nil}}},
		"header and value":    {Header: &Header{Durable: true, Priority: 4}, Value: "v", HasValue: true},
		"properties and data": {Properties: &Properties{To: "t"}, Data: [][]byte{{1}}},
	}
	for name, m := range tests {
		t.Run(name, func(t *testing.T) {
			b := marshal(t, m)
			got, err := Unmarshal(b)
			if err != nil {
				t.Fatalf("Unmarshal(%x): %v", b, err)
			}
			if !reflect.DeepEqual(got, m) {
				t.Fatalf("round trip changed the message:\n got %#v\nwant %#v", got, m)
			}
			// Encoding is deterministic, so the decoded message encodes to
			// the same bytes.
			if again := marshal(t, got); !bytes.Equal(again, b) {
				t.Fatalf("re-encoding differs:\n%x\n%x", again, b)
			}
		})
	}
}

func TestMarshalAppends(t *testing.T) {
	prefix := []byte("prefix")
	b, err := (&Message{Value: "v"}).Marshal(prefix)
	if err != nil || !bytes.HasPrefix(b, prefix) {
		t.Fatalf("Marshal(prefix) = %x, %v", b, err)
	}
	if _, err := Unmarshal(b[len(prefix):]); err != nil {
		t.Fatal(err)
	}
}

func TestMarshalErrors(t *testing.T) {
	tests := map[string]*Message{
		"data and value":           {Data: [][]byte{{1}}, Value: "v"},
		"data and sequence":        {Data: [][]byte{{1}}, Sequence: [][]any{{}}},
		"sequence and null value":  {Sequence: [][]any{{}}, HasValue: true},
		"message-id int":           {Properties: &Properties{MessageID: 5}},
		"correlation-id symbol":    {Properties: &Properties{CorrelationID: types.Symbol("s")}},
		"to invalid UTF-8":         {Properties: &Properties{To: "\xff"}},
		"content-type not ASCII":   {Properties: &Properties{ContentType: "é"}},
		"annotation string key":    {MessageAnnotations: types.Map{{Key: "x-opt", Value: 1}}},
		"delivery annotation int":  {DeliveryAnnotations: types.Map{{Key: int64(1), Value: 1}}},
		"footer unencodable":       {Footer: types.Map{{Key: types.Symbol("k"), Value: struct{}{}}}},
		"app property list":        {ApplicationProperties: map[string]any{"l": []any{}}},
		"app property map":         {ApplicationProperties: map[string]any{"m": types.Map{}}},
		"app property array":       {ApplicationProperties: map[string]any{"a": []types.Symbol{"x"}}},
		"app property key UTF-8":   {ApplicationProperties: map[string]any{"\xc0": 1}},
		"app property unencodable": {ApplicationProperties: map[string]any{"c": make(chan int)}},
		"value unencodable":        {Value: func() {}, HasValue: true},
		"sequence unencodable":     {Sequence: [][]any{{struct{}{}}}},
	}
	for name, m := range tests {
		t.Run(name, func(t *testing.T) {
			prefix := []byte{1, 2, 3}
			b, err := m.Marshal(prefix)
			if !errors.Is(err, ErrInvalidMessage) {
				t.Fatalf("Marshal err = %v, want ErrInvalidMessage", err)
			}
			if !bytes.Equal(b, prefix) {
				t.Fatalf("Marshal left %x after an error, want the input %x", b, prefix)
			}
		})
	}
}

func TestAppendHeader(t *testing.T) {
	desc := []byte{0x00, 0x53, 0x70}
	tests := map[string]struct {
		h    Header
		want []byte // the list after the descriptor
	}{
		"defaults":       {DefaultHeader(), []byte{0x45}},
		"durable":        {Header{Durable: true, Priority: 4}, []byte{0xc0, 2, 1, 0x41}},
		"zero priority":  {Header{}, []byte{0xc0, 4, 2, 0x40, 0x50, 0}},
		"ttl":            {Header{Priority: 4, TTL: 1000}, []byte{0xc0, 8, 3, 0x40, 0x40, 0x70, 0, 0, 0x03, 0xe8}},
		"explicit ttl 0": {Header{Priority: 4, HasTTL: true}, []byte{0xc0, 4, 3, 0x40, 0x40, 0x43}},
		"first acquirer": {Header{Priority: 4, FirstAcquirer: true}, []byte{0xc0, 5, 4, 0x40, 0x40, 0x40, 0x41}},
		"delivery count": {Header{Priority: 4, DeliveryCount: 2}, []byte{0xc0, 7, 5, 0x40, 0x40, 0x40, 0x40, 0x52, 2}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			got := AppendHeader(nil, tt.h)
			if want := cat(desc, tt.want); !bytes.Equal(got, want) {
				t.Fatalf("AppendHeader = %x, want %x", got, want)
			}
			r, err := Parse(got)
			if err != nil {
				t.Fatal(err)
			}
			h, ok, err := r.Header()
			want := tt.h
			want.HasTTL = want.hasTTL()
			if !ok || err != nil || h != want {
				t.Fatalf("Header() = %+v, %v, %v; want %+v", h, ok, err, want)
			}
		})
	}
}

func TestParseRejects(t *testing.T) {
	header := AppendHeader(nil, Header{Durable: true, Priority: 4})
	props := sec(DescriptorProperties, val([]any{"id", nil, "to"}))
	data := sec(DescriptorData, val([]byte("body")))
	value := sec(DescriptorAMQPValue, val("v"))
	seq := sec(DescriptorAMQPSequence, val([]any{}))
	valid := cat(header, props, data)
	propsWith := func(fields ...any) []byte { return sec(DescriptorProperties, val(fields)) }
	appProps := func(m types.Map) []byte { return sec(DescriptorApplicationProperties, val(m)) }
	badUTF8 := []byte{0x00, 0x53, 0x73, 0xc0, 5, 3, 0x40, 0x40, 0xa1, 1, 0xff}
	tests := map[string]struct {
		in   []byte
		want error
	}{
		"properties before header":    {cat(props, header), ErrSectionOrder},
		"body before properties":      {cat(data, props), ErrSectionOrder},
		"footer before body":          {cat(sec(DescriptorFooter, val(types.Map{})), data), ErrSectionOrder},
		"annotations out of order":    {cat(sec(DescriptorMessageAnnotations, val(types.Map{})), sec(DescriptorDeliveryAnnotations, val(types.Map{}))), ErrSectionOrder},
		"two headers":                 {cat(header, header), ErrSectionOrder},
		"two properties":              {cat(props, props), ErrSectionOrder},
		"data then value":             {cat(data, value), ErrBody},
		"value then sequence":         {cat(value, seq), ErrBody},
		"sequence then data":          {cat(seq, data), ErrBody},
		"two values":                  {cat(value, value), ErrBody},
		"non-section described value": {cat(header, sec(0x1d, val([]any{types.Symbol("amqp:internal-error")}))), ErrUnknownSection},
		"descriptor with domain":      {sec(0x1_0000_0070, val([]any{})), ErrUnknownSection},
		"unknown symbolic descriptor": {cat(types.AppendSymbolDescriptor(nil, "amqp:header:map"), val([]any{})), ErrUnknownSection},
		"descriptor as uint":          {[]byte{0x00, 0x52, 0x70, 0x45}, ErrUnknownSection},
		"descriptor as string":        {cat([]byte{0x00}, val("amqp:header:list"), val([]any{})), ErrUnknownSection},
		"not described":               {val("just a string"), ErrUnknownSection},
		"trailing garbage":            {cat(valid, []byte{0xff, 0xff}), ErrUnknownSection},
		"trailing descriptor byte":    {cat(valid, []byte{0x00}), ErrUnknownSection},
		"truncated header":            {header[:len(header)-1], types.ErrDecode},
		"truncated data":              {valid[:len(valid)-1], ErrInvalidSection},
		"truncated descriptor":        {cat(valid, []byte{0x00, 0x80, 0}), ErrUnknownSection},
		"section without value":       {cat(header, types.AppendDescriptor(nil, DescriptorData)), ErrInvalidSection},
		"header not a list":           {sec(DescriptorHeader, val(types.Map{})), ErrInvalidSection},
		"header durable a string":     {sec(DescriptorHeader, val([]any{"yes"})), ErrInvalidSection},
		"header priority a uint":      {sec(DescriptorHeader, val([]any{nil, uint32(4)})), ErrInvalidSection},
		"header count past its end":   {[]byte{0x00, 0x53, 0x70, 0xc0, 2, 5, 0x41}, ErrInvalidSection},
		"properties count past end":   {cat(header, []byte{0x00, 0x53, 0x73, 0xc0, 4, 13, 0xa1, 1, 'x'}), ErrInvalidSection},
		"header list size mismatch":   {[]byte{0x00, 0x53, 0x70, 0xc0, 3, 1, 0x41}, ErrInvalidSection},
		"invalid UTF-8 in to":         {badUTF8, ErrInvalidSection},
		"to a symbol":                 {propsWith(nil, nil, types.Symbol("q")), ErrInvalidSection},
		"message-id a long":           {propsWith(int64(1)), ErrInvalidSection},
		"message-id a symbol":         {propsWith(types.Symbol("id")), ErrInvalidSection},
		"message-id a uint":           {propsWith(uint32(1)), ErrInvalidSection},
		"correlation-id a list":       {propsWith(nil, nil, nil, nil, nil, []any{}), ErrInvalidSection},
		"user-id a string":            {propsWith(nil, "alice"), ErrInvalidSection},
		"content-type a string":       {propsWith(nil, nil, nil, nil, nil, nil, "text/plain"), ErrInvalidSection},
		"creation-time a long":        {propsWith(nil, nil, nil, nil, nil, nil, nil, nil, nil, int64(1)), ErrInvalidSection},
		"properties not a list":       {sec(DescriptorProperties, val("to")), ErrInvalidSection},
		"app property symbol key":     {appProps(types.Map{{Key: types.Symbol("k"), Value: 1}}), ErrInvalidSection},
		"app property ulong key":      {appProps(types.Map{{Key: uint64(1), Value: 1}}), ErrInvalidSection},
		"app property null key":       {appProps(types.Map{{Key: nil, Value: 1}}), ErrInvalidSection},
		"app property list value":     {appProps(types.Map{{Key: "k", Value: []any{}}}), ErrInvalidSection},
		"app property map value":      {appProps(types.Map{{Key: "k", Value: types.Map{}}}), ErrInvalidSection},
		"app property array value":    {appProps(types.Map{{Key: "k", Value: []types.Symbol{"a"}}}), ErrInvalidSection},
		"app properties a list":       {sec(DescriptorApplicationProperties, val([]any{})), ErrInvalidSection},
		"annotation string key":       {sec(DescriptorMessageAnnotations, val(types.Map{{Key: "k", Value: 1}})), ErrInvalidSection},
		"annotation long key":         {sec(DescriptorDeliveryAnnotations, val(types.Map{{Key: int64(1), Value: 1}})), ErrInvalidSection},
		"annotation uint key":         {sec(DescriptorFooter, val(types.Map{{Key: uint32(1), Value: 1}})), ErrInvalidSection},
		"annotations a list":          {sec(DescriptorMessageAnnotations, val([]any{})), ErrInvalidSection},
		"annotations odd map":         {[]byte{0x00, 0x53, 0x72, 0xc1, 2, 1, 0x40}, ErrInvalidSection},
		"data a string":               {sec(DescriptorData, val("text")), ErrInvalidSection},
		"sequence a map":              {sec(DescriptorAMQPSequence, val(types.Map{})), ErrInvalidSection},
		"value invalid UTF-8":         {sec(DescriptorAMQPValue, []byte{0xa1, 2, 0xc3, 0x28}), ErrInvalidSection},
		"value invalid format code":   {sec(DescriptorAMQPValue, []byte{0x01}), ErrInvalidSection},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			r, err := Parse(tt.in)
			if err == nil {
				t.Fatalf("Parse(%x) accepted: %+v", tt.in, r)
			}
			if !errors.Is(err, types.ErrDecode) {
				t.Fatalf("Parse(%x) = %v, which is not ErrDecode", tt.in, err)
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("Parse(%x) = %v, want %v", tt.in, err, tt.want)
			}
			if _, err := Unmarshal(tt.in); !errors.Is(err, tt.want) {
				t.Fatalf("Unmarshal(%x) = %v, want %v", tt.in, err, tt.want)
			}
		})
	}
}

// TestParseTruncated cuts a full message at every length: each prefix either
// ends on a section boundary and parses, or fails with ErrDecode.
func TestParseTruncated(t *testing.T) {
	b := marshal(t, fullMessage())
	boundaries := map[int]bool{}
	r, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range r.sec {
		boundaries[s.start] = true
	}
	for i := range 3 { // data sections inside the body span
		prefix := (&Message{Data: fullMessage().Data[:i]})
		boundaries[r.sec[rankBody].start+len(marshal(t, prefix))] = true
	}
	for n := 0; n < len(b); n++ {
		_, err := Parse(b[:n])
		switch {
		case boundaries[n] && err != nil:
			t.Errorf("Parse of %d bytes ending on a section boundary: %v", n, err)
		case !boundaries[n] && !errors.Is(err, types.ErrDecode):
			t.Errorf("Parse of %d of %d bytes = %v, want ErrDecode", n, len(b), err)
		}
	}
}

func TestDecodeDuplicateApplicationProperty(t *testing.T) {
	b := sec(DescriptorApplicationProperties, val(types.Map{{Key: "k", Value: 1}, {Key: "k", Value: 2}}))
	r, err := Parse(b)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if _, err := r.ApplicationProperties(); !errors.Is(err, ErrInvalidSection) {
		t.Fatalf("ApplicationProperties = %v, want ErrInvalidSection", err)
	}
	if _, err := Unmarshal(b); !errors.Is(err, types.ErrDecode) {
		t.Fatalf("Unmarshal = %v, want ErrDecode", err)
	}
}

// TestLiberalInput covers the input Parse accepts beyond what Marshal
// writes: symbolic descriptors, extra trailing list fields, non-minimal
// encodings and narrower integers where the types package allows them.
func TestLiberalInput(t *testing.T) {
	symHeader := cat(types.AppendSymbolDescriptor(nil, "amqp:header:list"), val([]any{true}))
	symData := cat(types.AppendSymbolDescriptor(nil, "amqp:data:binary"), val([]byte("x")))
	tests := map[string]struct {
		in   []byte
		want *Message
	}{
		"symbolic descriptors": {cat(symHeader, symData, symData), &Message{
			Header: &Header{Durable: true, Priority: 4}, Data: [][]byte{[]byte("x"), []byte("x")}}},
		"extra header field": {sec(DescriptorHeader, val([]any{nil, nil, nil, nil, nil, "future"})), &Message{
			Header: &Header{Priority: 4}}},
		"extra properties field": {sec(DescriptorProperties, val([]any{nil, nil, "to", nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, uint64(1)})), &Message{
			Properties: &Properties{To: "to"}}},
		"ulong descriptor": {cat([]byte{0x00, 0x80, 0, 0, 0, 0, 0, 0, 0, 0x77}, val("v")), &Message{Value: "v", HasValue: true}},
		"list32 header":    {[]byte{0x00, 0x53, 0x70, 0xd0, 0, 0, 0, 5, 0, 0, 0, 1, 0x41}, &Message{Header: &Header{Durable: true, Priority: 4}}},
		"ttl as ubyte":     {sec(DescriptorHeader, val([]any{nil, nil, uint8(9)})), &Message{Header: &Header{Priority: 4, TTL: 9, HasTTL: true}}},
		"null value":       {sec(DescriptorAMQPValue, val(nil)), &Message{HasValue: true}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := Unmarshal(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %#v\nwant %#v", got, tt.want)
			}
		})
	}
}
