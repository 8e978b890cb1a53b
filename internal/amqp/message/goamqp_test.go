package message

// Differential tests against github.com/Azure/go-amqp v1.7.0, an independent
// AMQP 1.0 implementation used here only as a test oracle.
//
// go-amqp represents values differently, so both sides are compared through
// canon, which renders a decoded value as text both decoders can agree on.
// Known representation differences, which canon absorbs or reports as not
// comparable:
//   - go-amqp decodes symbols as Go strings, so canon does not distinguish
//     string from symbol;
//   - go-amqp decodes arrays to typed slices ([]int32, []Symbol, ...) and maps
//     to map[string]any or map[any]any, last duplicate key winning; maps whose
//     keys collide after the symbol/string merge are not compared;
//   - go-amqp has no char or decimal values and decodes described values to
//     its own frame types, so those are not compared;
//   - go-amqp cannot tell an amqp-value holding null from no amqp-value.

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	amqp "github.com/Azure/go-amqp"

	"github.com/enmasse-go/enmasse/internal/amqp/types"
)

// canon renders v, decoded by either implementation, for comparison; ok is
// false when v holds something the two represent too differently to compare.
func canon(v any) (s string, ok bool) {
	switch v := v.(type) {
	case nil, amqp.Null:
		return "null", true
	case bool, uint8, uint16, uint32, uint64, int8, int16, int32, int64, float32, float64:
		return fmt.Sprintf("%T(%v)", v, v), true
	case string:
		return strconv.Quote(v), true
	case types.Symbol:
		return strconv.Quote(string(v)), true
	case amqp.Symbol:
		return strconv.Quote(string(v)), true
	case []byte:
		return "bin:" + hex.EncodeToString(v), true
	case types.Timestamp:
		return fmt.Sprintf("ts(%d)", int64(v)), true
	case time.Time:
		return fmt.Sprintf("ts(%d)", v.UnixMilli()), true
	case types.UUID:
		return "uuid:" + hex.EncodeToString(v[:]), true
	case amqp.UUID:
		return "uuid:" + hex.EncodeToString(v[:]), true
	case []any:
		return canonList("[", v, "]")
	case types.Array:
		if v.Descriptor != nil {
			return "", false
		}
		return canonList("array[", v.Elems, "]")
	case types.Map:
		keys, vals := make([]any, len(v)), make([]any, len(v))
		for i, kv := range v {
			keys[i], vals[i] = kv.Key, kv.Value
		}
		return canonMap(keys, vals)
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Slice: // go-amqp's typed arrays
		elems := make([]any, rv.Len())
		for i := range elems {
			elems[i] = rv.Index(i).Interface()
		}
		return canonList("array[", elems, "]")
	case reflect.Map: // map[string]any, map[any]any, amqp.Annotations
		var keys, vals []any
		for it := rv.MapRange(); it.Next(); {
			keys, vals = append(keys, it.Key().Interface()), append(vals, it.Value().Interface())
		}
		return canonMap(keys, vals)
	}
	return "", false // char, decimal, described values
}

func canonList(open string, elems []any, end string) (string, bool) {
	parts := make([]string, len(elems))
	for i, e := range elems {
		var ok bool
		if parts[i], ok = canon(e); !ok {
			return "", false
		}
	}
	return open + strings.Join(parts, ",") + end, true
}

// canonMap sorts the entries; a map whose canonical keys repeat is not
// comparable (go-amqp keeps one of them, in Go map order).
func canonMap(keys, vals []any) (string, bool) {
	parts := make([]string, len(keys))
	seen := map[string]bool{}
	for i := range keys {
		k, ok := canon(keys[i])
		if !ok || seen[k] {
			return "", false
		}
		seen[k] = true
		v, ok := canon(vals[i])
		if !ok {
			return "", false
		}
		parts[i] = k + ":" + v
	}
	slices.Sort(parts)
	return "{" + strings.Join(parts, ",") + "}", true
}

// differ collects the differences between our decoding and go-amqp's.
type differ struct{ diffs []string }

func (d *differ) add(format string, args ...any) {
	d.diffs = append(d.diffs, fmt.Sprintf(format, args...))
}

func (d *differ) value(field string, ours, theirs any) {
	a, okA := canon(ours)
	b, okB := canon(theirs)
	if okA && okB && a != b {
		d.add("%s: ours %s, go-amqp %s", field, a, b)
	}
}

func (d *differ) presence(field string, ours, theirs bool) bool {
	if ours != theirs {
		d.add("%s present: ours %v, go-amqp %v", field, ours, theirs)
	}
	return ours && theirs
}

func deref[T any](p *T) (v T) {
	if p != nil {
		v = *p
	}
	return v
}

// header compares the header fields; a nil go-amqp header is the default.
func (d *differ) header(h Header, gh *amqp.MessageHeader) {
	want := amqp.MessageHeader{Priority: DefaultPriority}
	if gh != nil {
		want = *gh
	}
	if h.Durable != want.Durable || h.Priority != want.Priority || h.FirstAcquirer != want.FirstAcquirer ||
		h.DeliveryCount != want.DeliveryCount || time.Duration(h.TTL)*time.Millisecond != want.TTL {
		d.add("header: ours %+v, go-amqp %+v", h, want)
	}
}

func (d *differ) properties(p *Properties, gp *amqp.MessageProperties) {
	if !d.presence("properties", p != nil, gp != nil) {
		return
	}
	strs := [][3]string{
		{"to", p.To, deref(gp.To)}, {"subject", p.Subject, deref(gp.Subject)},
		{"reply-to", p.ReplyTo, deref(gp.ReplyTo)}, {"group-id", p.GroupID, deref(gp.GroupID)},
		{"reply-to-group-id", p.ReplyToGroupID, deref(gp.ReplyToGroupID)},
		{"content-type", string(p.ContentType), deref(gp.ContentType)},
		{"content-encoding", string(p.ContentEncoding), deref(gp.ContentEncoding)},
	}
	for _, s := range strs {
		if s[1] != s[2] {
			d.add("%s: ours %q, go-amqp %q", s[0], s[1], s[2])
		}
	}
	d.value("message-id", p.MessageID, gp.MessageID)
	d.value("correlation-id", p.CorrelationID, gp.CorrelationID)
	if !bytes.Equal(p.UserID, gp.UserID) {
		d.add("user-id: ours %x, go-amqp %x", p.UserID, gp.UserID)
	}
	d.timestamp("absolute-expiry-time", p.HasAbsoluteExpiry, p.AbsoluteExpiryTime, gp.AbsoluteExpiryTime)
	d.timestamp("creation-time", p.HasCreationTime, p.CreationTime, gp.CreationTime)
	if d.presence("group-sequence", p.HasGroupSequence, gp.GroupSequence != nil) && p.GroupSequence != *gp.GroupSequence {
		d.add("group-sequence: ours %d, go-amqp %d", p.GroupSequence, *gp.GroupSequence)
	}
}

func (d *differ) timestamp(field string, has bool, ts types.Timestamp, gt *time.Time) {
	if d.presence(field, has, gt != nil) && int64(ts) != gt.UnixMilli() {
		d.add("%s: ours %d, go-amqp %v", field, ts, gt)
	}
}

func (d *differ) annotations(field string, m types.Map, gm amqp.Annotations) {
	if d.presence(field, m != nil, gm != nil) {
		d.value(field, m, gm)
	}
}

// body compares the body sections.
func (d *differ) body(m *Message, gm *amqp.Message) {
	if len(m.Data) != len(gm.Data) {
		d.add("data sections: ours %d, go-amqp %d", len(m.Data), len(gm.Data))
	} else {
		for i := range m.Data {
			if !bytes.Equal(m.Data[i], gm.Data[i]) {
				d.add("data[%d]: ours %x, go-amqp %x", i, m.Data[i], gm.Data[i])
			}
		}
	}
	if len(m.Sequence) != len(gm.Sequence) {
		d.add("sequence sections: ours %d, go-amqp %d", len(m.Sequence), len(gm.Sequence))
	} else {
		for i := range m.Sequence {
			d.value(fmt.Sprintf("sequence[%d]", i), m.Sequence[i], gm.Sequence[i])
		}
	}
	if !m.HasValue && gm.Value != nil {
		d.add("amqp-value: ours absent, go-amqp %#v", gm.Value)
	}
	d.value("amqp-value", m.Value, gm.Value)
}

// compareAll compares every section.
func compareAll(m *Message, gm *amqp.Message) []string {
	var d differ
	h := DefaultHeader()
	if m.Header != nil {
		h = *m.Header
	}
	d.presence("header", m.Header != nil, gm.Header != nil)
	d.header(h, gm.Header)
	d.annotations("delivery-annotations", m.DeliveryAnnotations, gm.DeliveryAnnotations)
	d.annotations("message-annotations", m.MessageAnnotations, gm.Annotations)
	d.properties(m.Properties, gm.Properties)
	if d.presence("application-properties", m.ApplicationProperties != nil, gm.ApplicationProperties != nil) {
		d.value("application-properties", m.ApplicationProperties, gm.ApplicationProperties)
	}
	d.body(m, gm)
	d.annotations("footer", m.Footer, gm.Footer)
	return d.diffs
}

func ptr[T any](v T) *T { return &v }

// goAMQPMessages are built with go-amqp's own types.
func goAMQPMessages() map[string]*amqp.Message {
	created := time.UnixMilli(1700000000123)
	full := &amqp.Message{
		Header:              &amqp.MessageHeader{Durable: true, Priority: 9, TTL: 1500 * time.Millisecond, FirstAcquirer: true, DeliveryCount: 300},
		DeliveryAnnotations: amqp.Annotations{"x-opt-lock-token": amqp.UUID{1, 2, 3}},
		Annotations:         amqp.Annotations{"x-opt-partition-key": "p", "x-opt-seq": int64(-4)},
		Properties: &amqp.MessageProperties{
			MessageID: "id", UserID: []byte("user"), To: ptr("queue/a"), Subject: ptr("subj"),
			ReplyTo: ptr("reply"), CorrelationID: uint64(42), ContentType: ptr("text/plain"),
			ContentEncoding: ptr("identity-not"), AbsoluteExpiryTime: ptr(created.Add(time.Hour)),
			CreationTime: ptr(created), GroupID: ptr("grp"), GroupSequence: ptr(uint32(7)),
			ReplyToGroupID: ptr("rgrp"),
		},
		ApplicationProperties: map[string]any{
			"bool": true, "ubyte": uint8(1), "ushort": uint16(2), "uint": uint32(3), "ulong": uint64(1 << 40),
			"byte": int8(-1), "short": int16(-2), "int": int32(-3), "long": int64(-1 << 40),
			"float": float32(0.5), "double": 0.25, "string": "s", "binary": []byte{9},
			"timestamp": created, "uuid": amqp.UUID{15: 1}, "symbol": amqp.Symbol("sym"),
		},
		Data:   [][]byte{[]byte("one"), bytes.Repeat([]byte{2}, 1000)},
		Footer: amqp.Annotations{"x-sig": []byte{0xde, 0xad}},
	}
	return map[string]*amqp.Message{
		"full":               full,
		"data only":          {Data: [][]byte{[]byte("hello")}},
		"empty data":         {Data: [][]byte{{}}},
		"header defaults":    {Header: &amqp.MessageHeader{Priority: 4}, Data: [][]byte{{1}}},
		"header zero":        {Header: &amqp.MessageHeader{}, Data: [][]byte{{1}}},
		"properties to only": {Properties: &amqp.MessageProperties{To: ptr("t")}},
		"message-id ulong":   {Properties: &amqp.MessageProperties{MessageID: uint64(7)}},
		"message-id uuid":    {Properties: &amqp.MessageProperties{MessageID: amqp.UUID{7}}},
		"message-id binary":  {Properties: &amqp.MessageProperties{MessageID: []byte{7}}},
		"value string":       {Value: "v"},
		"value null":         {Value: amqp.Null{}},
		"value int64":        {Value: int64(math.MinInt64)},
		"value double":       {Value: math.Pi},
		"value timestamp":    {Value: created},
		"value uuid":         {Value: amqp.UUID{1}},
		"value binary":       {Value: []byte{1, 2}},
		"value symbol":       {Value: amqp.Symbol("s")},
		"value list":         {Value: []any{"a", int32(1), []any{true}}},
		"value map":          {Value: map[string]any{"k": "v", "n": map[string]any{}}},
		"value int array":    {Value: []int32{1, 2, 300}},
		"value symbol array": {Value: []amqp.Symbol{"a", "b"}},
		"value long string":  {Value: strings.Repeat("x", 70000)},
		"sequence":           {Sequence: [][]any{{"a", uint64(1)}, {}}},
		"annotations only":   {Annotations: amqp.Annotations{"x-opt-a": nil}},
		"footer only":        {Footer: amqp.Annotations{}},
	}
}

// TestGoAMQPToOurs decodes go-amqp encodings with Parse and Decode.
func TestGoAMQPToOurs(t *testing.T) {
	for name, gm := range goAMQPMessages() {
		t.Run(name, func(t *testing.T) {
			b, err := gm.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			r, err := Parse(b)
			if err != nil {
				t.Fatalf("Parse(%x): %v", b, err)
			}
			m, err := r.Decode()
			if err != nil {
				t.Fatal(err)
			}
			// Compare against go-amqp's own decoding too, which fills in
			// what it implies (priority 4 for a null priority).
			var back amqp.Message
			if err := back.UnmarshalBinary(b); err != nil {
				t.Fatal(err)
			}
			for _, want := range []*amqp.Message{gm, &back} {
				if diffs := compareAll(m, want); len(diffs) > 0 {
					t.Fatalf("ours and go-amqp disagree on %x:\n%s", b, strings.Join(diffs, "\n"))
				}
			}
			checkLazy(t, &r, m)
		})
	}
}

// checkLazy checks that the lazy accessors agree with the full decoding.
func checkLazy(t *testing.T, r *Raw, m *Message) {
	t.Helper()
	h, ok, err := r.Header()
	if err != nil || ok != (m.Header != nil) || (ok && h != *m.Header) {
		t.Errorf("Header() = %+v, %v, %v; Decode %+v", h, ok, err, m.Header)
	}
	var p Properties
	if m.Properties != nil {
		p = *m.Properties
	}
	if to, _, err := r.To(); to != p.To || err != nil {
		t.Errorf("To() = %q, %v; Decode %q", to, err, p.To)
	}
	if id, err := r.MessageID(); err != nil || !reflect.DeepEqual(id, p.MessageID) {
		t.Errorf("MessageID() = %#v, %v; Decode %#v", id, err, p.MessageID)
	}
	if ts, ok, err := r.AbsoluteExpiry(); err != nil || ok != p.HasAbsoluteExpiry || ts != p.AbsoluteExpiryTime {
		t.Errorf("AbsoluteExpiry() = %v, %v, %v", ts, ok, err)
	}
}

// TestOursToGoAMQP encodes with Marshal and decodes with go-amqp.
func TestOursToGoAMQP(t *testing.T) {
	tests := map[string]*Message{
		"typical":     typicalMessage(),
		"everything":  fullMessage(),
		"value map":   {Value: types.Map{{Key: "a", Value: []any{uint32(1), types.Symbol("s")}}}, HasValue: true},
		"value array": {Value: types.Array{Type: types.CodeInt, Elems: []any{int32(1), int32(-1 << 20)}}, HasValue: true},
		"value null":  {HasValue: true},
		"sequences":   {Sequence: [][]any{{uint64(1)}, {"two", nil}}},
		"properties": {Properties: allProperties(), ApplicationProperties: map[string]any{
			"uuid": types.UUID{3}, "ts": types.Timestamp(5), "bin": []byte{}, "f": float32(1),
		}},
		"message-id uuid": {Properties: &Properties{MessageID: types.UUID{1}, CorrelationID: []byte{2}}},
		"header zero":     {Header: &Header{}},
		"header ttl":      {Header: &Header{Priority: 4, TTL: math.MaxUint32}},
	}
	for name, m := range tests {
		t.Run(name, func(t *testing.T) {
			b := marshal(t, m)
			var gm amqp.Message
			if err := gm.UnmarshalBinary(b); err != nil {
				t.Fatalf("go-amqp UnmarshalBinary(%x): %v", b, err)
			}
			if diffs := compareAll(m, &gm); len(diffs) > 0 {
				t.Fatalf("ours and go-amqp disagree on %x:\n%s", b, strings.Join(diffs, "\n"))
			}
		})
	}
}

// TestCompareAllDetects guards the oracle: each mutation of a decoded message
// must be reported as a difference.
func TestCompareAllDetects(t *testing.T) {
	gm := goAMQPMessages()["full"]
	b, err := gm.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	mutations := map[string]func(m *Message){
		"ttl":            func(m *Message) { m.Header.TTL++ },
		"no header":      func(m *Message) { m.Header = nil },
		"to":             func(m *Message) { m.Properties.To = "elsewhere" },
		"message-id":     func(m *Message) { m.Properties.MessageID = "other" },
		"creation-time":  func(m *Message) { m.Properties.CreationTime++ },
		"group-sequence": func(m *Message) { m.Properties.HasGroupSequence = false },
		"annotation":     func(m *Message) { m.MessageAnnotations[0].Value = "changed" },
		"app property":   func(m *Message) { m.ApplicationProperties["int"] = int64(-3) },
		"data":           func(m *Message) { m.Data[0] = []byte("two") },
		"data count":     func(m *Message) { m.Data = m.Data[:1] },
		"value appears":  func(m *Message) { m.Value, m.HasValue, m.Data = "v", true, nil },
		"footer":         func(m *Message) { m.Footer = nil },
		"delivery annots": func(m *Message) {
			m.DeliveryAnnotations = append(m.DeliveryAnnotations, types.KV{Key: types.Symbol("x"), Value: nil})
		},
	}
	for name, mutate := range mutations {
		t.Run(name, func(t *testing.T) {
			m, err := Unmarshal(b)
			if err != nil {
				t.Fatal(err)
			}
			mutate(m)
			if diffs := compareAll(m, gm); len(diffs) == 0 {
				t.Fatal("mutation not detected")
			}
		})
	}
}
