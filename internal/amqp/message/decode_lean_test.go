package message

import (
	"reflect"
	"testing"

	"github.com/enmasse-go/enmasse/internal/amqp/types"
)

// TestDecodeAllocations: a message with a header and one data section
// decodes in one allocation (message, header and the section's slice
// together); a properties section shares it too, only its strings
// (copied) cost one each. The result is what was marshalled.
func TestDecodeAllocations(t *testing.T) {
	h := DefaultHeader()
	h.Priority = 7
	for _, tc := range []struct {
		name   string
		msg    *Message
		allocs float64
	}{
		{"header and data", &Message{Header: &h, Data: [][]byte{[]byte("payload")}}, 1},
		{"properties", &Message{Header: &h, Properties: &Properties{To: "topic/a", GroupSequence: 9, HasGroupSequence: true}, Data: [][]byte{[]byte("payload")}}, 2}, // the message, the string To
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := marshal(t, tc.msg)
			got, err := Unmarshal(b)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.msg) {
				t.Fatalf("got %+v, want %+v", got, tc.msg)
			}
			allocs := testing.AllocsPerRun(100, func() {
				if _, err := Unmarshal(b); err != nil {
					t.Fatal(err)
				}
			})
			if allocs != tc.allocs {
				t.Fatalf("Unmarshal allocates %v times, want %v", allocs, tc.allocs)
			}
		})
	}
}

// TestDecodeIntoReuse: decoding one message after another into the same
// Decoded gives each exactly what Decode gives, nothing left over from
// the one before, and allocates nothing for the message itself.
func TestDecodeIntoReuse(t *testing.T) {
	h := DefaultHeader()
	h.TTL, h.HasTTL = 5000, true
	msgs := []*Message{
		{Header: &h, Properties: &Properties{To: "a/b", ReplyTo: "r"}, MessageAnnotations: types.Map{{Key: types.Symbol("x-opt-k"), Value: true}}, Data: [][]byte{[]byte("one")}},
		{Data: [][]byte{[]byte("two"), []byte("three")}},
		{Value: "text"},
		{Properties: &Properties{GroupSequence: 2, HasGroupSequence: true}, Data: [][]byte{nil}},
	}
	var lm Decoded
	for i, want := range msgs {
		b := marshal(t, want)
		r := parse(t, b)
		got, err := r.DecodeInto(&lm)
		if err != nil {
			t.Fatal(err)
		}
		fresh, err := Unmarshal(b)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, fresh) {
			t.Fatalf("message %d: DecodeInto %+v, Decode %+v", i, got, fresh)
		}
	}
	r := parse(t, marshal(t, msgs[0]))
	into := testing.AllocsPerRun(100, func() { r.DecodeInto(&lm) })
	fresh := testing.AllocsPerRun(100, func() { r.Decode() })
	if into != fresh-1 {
		// Both copy strings and build the annotations map.
		t.Fatalf("DecodeInto allocates %v times, Decode %v: want one fewer", into, fresh)
	}
}
