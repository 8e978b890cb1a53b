package message

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	amqp "github.com/Azure/go-amqp"

	"github.com/enmasse-go/enmasse/internal/amqp/types"
)

// maxSeed keeps large test messages out of the seed corpus: the fuzzer
// spends up to a minute minimizing each interesting input, and shrinking a
// 70 KB one stalls it for that long.
const maxSeed = 2048

// seedMessages returns encodings worth starting a fuzzer from: our own
// messages, go-amqp's and some hand-made edge cases.
func seedMessages(f *testing.F) [][]byte {
	var seeds [][]byte
	for _, m := range []*Message{
		fullMessage(), typicalMessage(), {}, {HasValue: true},
		{Properties: allProperties(), Value: types.Map{{Key: types.Symbol("k"), Value: []any{"v"}}}},
		{Header: &Header{}, Sequence: [][]any{{uint32(1)}, {}}},
		{MessageAnnotations: types.Map{{Key: uint64(1), Value: types.Array{Type: types.CodeSym8, Elems: []any{types.Symbol("a")}}}}},
		{Value: types.Described{Descriptor: uint64(0x24), Value: []any{}}, HasValue: true},
	} {
		b, err := m.Marshal(nil)
		if err != nil {
			f.Fatal(err)
		}
		seeds = append(seeds, b)
	}
	for _, gm := range goAMQPMessages() {
		b, err := gm.MarshalBinary()
		if err != nil {
			f.Fatal(err)
		}
		seeds = append(seeds, b)
	}
	return append(seeds,
		cat(types.AppendSymbolDescriptor(nil, "amqp:header:list"), val([]any{true})),
		sec(DescriptorProperties, val([]any{nil, nil, "to", nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, "extra"})),
		sec(DescriptorApplicationProperties, val(types.Map{{Key: "k", Value: 1}, {Key: "k", Value: 2}})),
		[]byte{0x00, 0x53, 0x70, 0xd0, 0, 0, 0, 5, 0, 0, 0, 1, 0x41},
	)
}

// FuzzParse checks that Parse never panics, that every error matches
// types.ErrDecode, that what Parse accepts the accessors can read, that a
// decoded message re-encodes stably, and that AppendRewrite output parses
// and keeps the bare message and footer byte for byte.
func FuzzParse(f *testing.F) {
	for _, b := range seedMessages(f) {
		if len(b) <= maxSeed {
			f.Add(b)
			f.Add(b[:len(b)/2])
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := Parse(b)
		if err != nil {
			if !errors.Is(err, types.ErrDecode) {
				t.Fatalf("Parse error %v is not ErrDecode", err)
			}
			return
		}
		h := checkAccessors(t, &r)
		checkDecode(t, &r)
		checkRewrite(t, &r, h)
	})
}

// checkAccessors calls every accessor; after a successful Parse only
// ApplicationProperties may fail (on a repeated key).
func checkAccessors(t *testing.T, r *Raw) Header {
	h, _, err := r.Header()
	errs := []error{err}
	_, _, err = r.To()
	errs = append(errs, err)
	_, _, err = r.ReplyTo()
	errs = append(errs, err)
	_, err = r.MessageID()
	errs = append(errs, err)
	_, _, err = r.AbsoluteExpiry()
	errs = append(errs, err)
	_, err = r.Properties()
	errs = append(errs, err)
	_, err = r.DeliveryAnnotations()
	errs = append(errs, err)
	_, err = r.MessageAnnotations()
	errs = append(errs, err)
	_, err = r.Footer()
	errs = append(errs, err)
	for i, err := range errs {
		if err != nil {
			t.Fatalf("accessor %d failed after Parse succeeded: %v", i, err)
		}
	}
	if _, err := r.ApplicationProperties(); err != nil && !errors.Is(err, types.ErrDecode) {
		t.Fatalf("ApplicationProperties: %v is not ErrDecode", err)
	}
	return h
}

// checkDecode decodes fully and checks that the result encodes, decodes
// again and encodes to the same bytes.
func checkDecode(t *testing.T, r *Raw) {
	m, err := r.Decode()
	if err != nil {
		if !errors.Is(err, types.ErrDecode) {
			t.Fatalf("Decode: %v is not ErrDecode", err)
		}
		return
	}
	to, _, _ := r.To()
	if m.Properties != nil && m.Properties.To != to {
		t.Fatalf("To() = %q, Decode %q", to, m.Properties.To)
	}
	enc, err := m.Marshal(nil)
	if err != nil {
		t.Fatalf("Marshal of a decoded message: %v\n%#v", err, m)
	}
	m2, err := Unmarshal(enc)
	if err != nil {
		t.Fatalf("Unmarshal(Marshal(m)) = %v\n%x", err, enc)
	}
	if enc2, err := m2.Marshal(nil); err != nil || !bytes.Equal(enc, enc2) {
		t.Fatalf("re-encoding differs (%v):\n%x\n%x", err, enc, enc2)
	}
}

// checkRewrite rewrites the header and annotations as a broker would and
// checks that the result parses with the bare message and footer intact.
func checkRewrite(t *testing.T, r *Raw, h Header) {
	ma, _ := r.MessageAnnotations()
	ma = append(ma[:len(ma):len(ma)], types.KV{Key: types.Symbol("x-opt-fuzz"), Value: uint64(1)})
	h.DeliveryCount++
	cases := []struct {
		h    *Header
		ma   types.Map
		keep bool
	}{{&h, ma, false}, {&h, nil, true}, {nil, types.Map{}, true}}
	for _, c := range cases {
		out, err := r.AppendRewrite(nil, c.h, c.ma, c.keep)
		if err != nil {
			t.Fatalf("AppendRewrite: %v", err)
		}
		nr, err := Parse(out)
		if err != nil {
			t.Fatalf("Parse(AppendRewrite) = %v\n%x", err, out)
		}
		if !bytes.Equal(nr.Bare(), r.Bare()) || !bytes.Equal(nr.b[nr.foot:], r.b[r.foot:]) {
			t.Fatalf("bare message or footer changed:\n%x\n%x", out, r.Bytes())
		}
		got, ok, err := nr.Header()
		if err != nil || ok != (c.h != nil) || (ok && got != *c.h) {
			t.Fatalf("rewritten Header() = %+v, %v, %v; want %+v", got, ok, err, c.h)
		}
	}
}

// goUnmarshal decodes b with go-amqp, turning a panic into an error: the
// oracle's crashes are not ours to fix.
func goUnmarshal(b []byte) (m *amqp.Message, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("go-amqp panicked: %v", p)
		}
	}()
	m = new(amqp.Message)
	return m, m.UnmarshalBinary(b)
}

// FuzzDifferential compares what we and go-amqp read from the same bytes,
// where both accept them: to, durable, ttl, priority, message-id and the
// body. Where only one side accepts, nothing is compared, because go-amqp is
// lax where we follow §3.2: it ignores section order and repeats (the last
// section wins), mixes body kinds, truncates descriptor codes to their low
// byte, does not check list, map and array sizes against their contents,
// strings for UTF-8, symbols for ASCII or boolean bytes for 0 and 1, reads
// symbols where strings are required and accepts any message-id or
// annotation key type. It is also stricter in places we are
// liberal: it rejects symbolic section descriptors, extra trailing fields in
// header and properties, chars, decimals and most described values.
func FuzzDifferential(f *testing.F) {
	for _, b := range seedMessages(f) {
		if len(b) <= maxSeed {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		gm, gerr := goUnmarshal(b)
		r, err := Parse(b)
		if gerr != nil || err != nil {
			return
		}
		var d differ
		h, _, _ := r.Header()
		d.header(h, gm.Header)
		to, hasTo, _ := r.To()
		var gto *string
		if gm.Properties != nil {
			gto = gm.Properties.To
		}
		if d.presence("to", hasTo, gto != nil) && to != *gto {
			d.add("to: ours %q, go-amqp %q", to, *gto)
		}
		if gm.Properties != nil {
			id, _ := r.MessageID()
			d.value("message-id", id, gm.Properties.MessageID)
		}
		var m Message
		if err := r.decodeBody(&m); err != nil {
			t.Fatalf("decodeBody after Parse: %v", err)
		}
		d.body(&m, gm)
		if len(d.diffs) > 0 {
			t.Fatalf("ours and go-amqp disagree on %x:\n%s", b, strings.Join(d.diffs, "\n"))
		}
	})
}

// TestGoAMQPHeaderTTL pins a unit mismatch the differential test relies on:
// go-amqp's TTL is a time.Duration and ours milliseconds.
func TestGoAMQPHeaderTTL(t *testing.T) {
	b, err := (&amqp.Message{Header: &amqp.MessageHeader{TTL: 2500 * time.Millisecond}}).MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	r := parse(t, b)
	if h, _, _ := r.Header(); h.TTL != 2500 || !h.HasTTL {
		t.Fatalf("TTL = %d (has %v), want 2500", h.TTL, h.HasTTL)
	}
}
