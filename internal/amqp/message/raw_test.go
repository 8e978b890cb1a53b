package message

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
	"unsafe"

	"github.com/enmasse-go/enmasse/internal/amqp/types"
)

func parse(t testing.TB, b []byte) Raw {
	t.Helper()
	r, err := Parse(b)
	if err != nil {
		t.Fatalf("Parse(%x): %v", b, err)
	}
	return r
}

// aliases reports whether sub lies inside b.
func aliases(sub, b []byte) bool {
	if len(sub) == 0 || len(b) == 0 {
		return false
	}
	s, lo := uintptr(unsafe.Pointer(unsafe.SliceData(sub))), uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	return s >= lo && s+uintptr(len(sub)) <= lo+uintptr(len(b))
}

func TestRawAccessors(t *testing.T) {
	m := fullMessage()
	b := marshal(t, m)
	r := parse(t, b)

	if !bytes.Equal(r.Bytes(), b) {
		t.Fatal("Bytes differs from the input")
	}
	h, ok, err := r.Header()
	if err != nil || !ok || h != *m.Header {
		t.Errorf("Header() = %+v, %v, %v; want %+v", h, ok, err, *m.Header)
	}
	if to, ok, err := r.To(); to != m.Properties.To || !ok || err != nil {
		t.Errorf("To() = %q, %v, %v", to, ok, err)
	}
	if tb := r.ToBytes(); string(tb) != m.Properties.To || !aliases(tb, b) {
		t.Errorf("ToBytes() = %q, aliasing %v", tb, aliases(tb, b))
	}
	if rt, ok, err := r.ReplyTo(); rt != m.Properties.ReplyTo || !ok || err != nil {
		t.Errorf("ReplyTo() = %q, %v, %v", rt, ok, err)
	}
	if rt := r.ReplyToBytes(); string(rt) != m.Properties.ReplyTo || !aliases(rt, b) {
		t.Errorf("ReplyToBytes() = %q", rt)
	}
	if id, err := r.MessageID(); id != m.Properties.MessageID || err != nil {
		t.Errorf("MessageID() = %#v, %v", id, err)
	}
	if ts, ok, err := r.AbsoluteExpiry(); ts != m.Properties.AbsoluteExpiryTime || !ok || err != nil {
		t.Errorf("AbsoluteExpiry() = %v, %v, %v", ts, ok, err)
	}
	if p, err := r.Properties(); err != nil || !reflect.DeepEqual(p, m.Properties) {
		t.Errorf("Properties() = %+v, %v", p, err)
	}
	if ma, err := r.MessageAnnotations(); err != nil || !reflect.DeepEqual(ma, m.MessageAnnotations) {
		t.Errorf("MessageAnnotations() = %#v, %v", ma, err)
	}
	if da, err := r.DeliveryAnnotations(); err != nil || !reflect.DeepEqual(da, m.DeliveryAnnotations) {
		t.Errorf("DeliveryAnnotations() = %#v, %v", da, err)
	}
	if f, err := r.Footer(); err != nil || !reflect.DeepEqual(f, m.Footer) {
		t.Errorf("Footer() = %#v, %v", f, err)
	}
	if ap, err := r.ApplicationProperties(); err != nil || !reflect.DeepEqual(ap, m.ApplicationProperties) {
		t.Errorf("ApplicationProperties() = %#v, %v", ap, err)
	}
	if r.BodyKind() != DescriptorData {
		t.Errorf("BodyKind() = %#x", r.BodyKind())
	}
	body := marshal(t, &Message{Data: m.Data})
	if !bytes.Equal(r.Body(), body) {
		t.Errorf("Body() = %x, want %x", r.Body(), body)
	}
	bare := marshal(t, &Message{Properties: m.Properties, ApplicationProperties: m.ApplicationProperties, Data: m.Data})
	if !bytes.Equal(r.Bare(), bare) {
		t.Errorf("Bare() = %x, want %x", r.Bare(), bare)
	}
}

func TestRawAbsentFields(t *testing.T) {
	tests := map[string]*Message{
		"empty":              {},
		"no properties":      {Header: &Header{Durable: true, Priority: 4}, Data: [][]byte{{1}}},
		"empty properties":   {Properties: &Properties{}},
		"short properties":   {Properties: &Properties{MessageID: "only"}},
		"null to":            {Properties: &Properties{Subject: "s"}},
		"footer only":        {Footer: types.Map{}},
		"annotations only":   {MessageAnnotations: types.Map{}},
		"value without bare": {HasValue: true},
	}
	for name, m := range tests {
		t.Run(name, func(t *testing.T) {
			r := parse(t, marshal(t, m))
			if h, ok, err := r.Header(); (m.Header == nil) == ok || err != nil || (!ok && h != DefaultHeader()) {
				t.Errorf("Header() = %+v, %v, %v", h, ok, err)
			}
			if to, ok, err := r.To(); to != "" || ok || err != nil {
				t.Errorf("To() = %q, %v, %v", to, ok, err)
			}
			if r.ToBytes() != nil || r.ReplyToBytes() != nil {
				t.Errorf("ToBytes/ReplyToBytes not nil")
			}
			if _, ok, err := r.AbsoluteExpiry(); ok || err != nil {
				t.Errorf("AbsoluteExpiry() = %v, %v", ok, err)
			}
			wantID := any(nil)
			if m.Properties != nil {
				wantID = m.Properties.MessageID
			}
			if id, err := r.MessageID(); id != wantID || err != nil {
				t.Errorf("MessageID() = %#v, %v", id, err)
			}
			if ap, err := r.ApplicationProperties(); ap != nil || err != nil {
				t.Errorf("ApplicationProperties() = %v, %v", ap, err)
			}
		})
	}
	var zero Raw
	if _, ok, err := zero.Header(); ok || err != nil {
		t.Errorf("zero Raw Header() = %v, %v", ok, err)
	}
	if len(zero.Bare()) != 0 || zero.Body() != nil {
		t.Error("zero Raw has a bare message or body")
	}
	if m, err := zero.Decode(); err != nil || !reflect.DeepEqual(m, &Message{}) {
		t.Errorf("zero Raw Decode() = %#v, %v", m, err)
	}
}

func TestAppendRewrite(t *testing.T) {
	orig := fullMessage()
	b := marshal(t, orig)
	r := parse(t, b)
	added := append(types.Map{{Key: types.Symbol("x-opt-via"), Value: "router-1"}}, orig.MessageAnnotations...)
	next := *orig.Header
	next.DeliveryCount++
	tests := map[string]struct {
		h      *Header
		ma     types.Map
		keepDA bool
		want   *Message // the annotated sections expected after rewrite
	}{
		"count delivery and annotate": {&next, added, false, &Message{Header: &next, MessageAnnotations: added}},
		"keep everything":             {orig.Header, nil, true, &Message{Header: orig.Header, DeliveryAnnotations: orig.DeliveryAnnotations, MessageAnnotations: orig.MessageAnnotations}},
		"remove header":               {nil, nil, true, &Message{DeliveryAnnotations: orig.DeliveryAnnotations, MessageAnnotations: orig.MessageAnnotations}},
		"remove annotations":          {&next, types.Map{}, false, &Message{Header: &next}},
		"default header":              {&Header{Priority: 4}, nil, false, &Message{Header: &Header{Priority: 4}, MessageAnnotations: orig.MessageAnnotations}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			prefix := []byte("frame")
			out, err := r.AppendRewrite(prefix, tt.h, tt.ma, tt.keepDA)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(out, prefix) {
				t.Fatal("AppendRewrite did not append")
			}
			nr := parse(t, out[len(prefix):])
			if !bytes.Equal(nr.Bare(), r.Bare()) {
				t.Fatalf("bare message changed:\n%x\n%x", nr.Bare(), r.Bare())
			}
			if !bytes.HasSuffix(out, r.Bytes()[r.foot:]) || nr.foot == len(nr.b) {
				t.Fatal("footer not copied")
			}
			got, err := nr.Decode()
			if err != nil {
				t.Fatal(err)
			}
			want := *tt.want
			want.Properties, want.ApplicationProperties, want.Data, want.Footer = orig.Properties, orig.ApplicationProperties, orig.Data, orig.Footer
			if !reflect.DeepEqual(got, &want) {
				t.Fatalf("rewritten message:\n got %#v\nwant %#v", got, &want)
			}
		})
	}
}

func TestAppendRewriteBareOnly(t *testing.T) {
	// Without annotated sections the rewrite is the header plus the input.
	b := marshal(t, &Message{Properties: &Properties{To: "q"}, Value: "v", HasValue: true})
	r := parse(t, b)
	out, err := r.AppendRewrite(nil, &Header{Durable: true, Priority: 4}, nil, true)
	if err != nil {
		t.Fatal(err)
	}
	if want := cat(AppendHeader(nil, Header{Durable: true, Priority: 4}), b); !bytes.Equal(out, want) {
		t.Fatalf("AppendRewrite = %x, want %x", out, want)
	}
}

func TestAppendRewriteErrors(t *testing.T) {
	r := parse(t, marshal(t, fullMessage()))
	tests := map[string]types.Map{
		"string key":      {{Key: "x-opt", Value: 1}},
		"non-ASCII key":   {{Key: types.Symbol("x-é"), Value: 1}},
		"unencodable":     {{Key: types.Symbol("x"), Value: struct{}{}}},
		"later bad entry": {{Key: types.Symbol("x"), Value: 1}, {Key: int32(1), Value: 1}},
	}
	for name, ma := range tests {
		t.Run(name, func(t *testing.T) {
			dst := []byte("keep")
			out, err := r.AppendRewrite(dst, &Header{}, ma, true)
			if !errors.Is(err, ErrInvalidMessage) || !bytes.Equal(out, dst) {
				t.Fatalf("AppendRewrite = %x, %v; want the input and ErrInvalidMessage", out, err)
			}
		})
	}
}

// TestRawDoesNotAllocate pins the zero-allocation paths a router relies on.
func TestRawDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under the race detector")
	}
	b := marshal(t, typicalMessage())
	r := parse(t, b)
	buf := make([]byte, 0, 2*len(b))
	h, _, _ := r.Header()
	h.DeliveryCount++
	tests := map[string]func(){
		"Parse+ToBytes": func() {
			r, _ := Parse(b)
			_ = r.ToBytes()
		},
		"Header":         func() { _, _, _ = r.Header() },
		"AbsoluteExpiry": func() { _, _, _ = r.AbsoluteExpiry() },
		"AppendRewrite":  func() { buf, _ = r.AppendRewrite(buf[:0], &h, nil, false) },
		"AppendHeader":   func() { buf = AppendHeader(buf[:0], h) },
	}
	for name, f := range tests {
		if n := testing.AllocsPerRun(100, f); n != 0 {
			t.Errorf("%s: %v allocations, want 0", name, n)
		}
	}
}
