package mqtt

import (
	"reflect"
	"testing"

	"github.com/enmasse-go/enmasse/internal/amqp/message"

	"github.com/enmasse-go/enmasse/internal/mqtt/packets"
)

func BenchmarkDecodeAMQP(b *testing.B) {
	body, err := toAMQPFrom(nil, &packets.Publish{Topic: "bench/x", Payload: make([]byte, 100)}, "")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for range b.N {
		if _, err := decodeAMQP(body); err != nil {
			b.Fatal(err)
		}
	}
}

// TestDecodeAMQPIntoReuse: a subscription decodes every delivery into the
// same scratch; each result equals decodeAMQP's and stays intact when the
// next message is decoded (nothing in it points into the scratch).
func TestDecodeAMQPIntoReuse(t *testing.T) {
	pubs := []*packets.Publish{
		{Topic: "a/b", QoS: 1, Retain: true, Payload: []byte("first"), Properties: packets.Properties{
			ContentType: "text/plain", ResponseTopic: "r/t", CorrelationData: []byte{1, 2},
			HasMessageExpiryInterval: true, MessageExpiryInterval: 9, PayloadFormatIndicator: 1,
			User: []packets.UserProperty{{Key: "k", Value: "v"}}}},
		{Topic: "c", Payload: []byte("second")},
	}
	var scratch message.Decoded
	var got []fromAMQP
	for _, p := range pubs {
		b, err := toAMQPFrom(nil, p, "origin")
		if err != nil {
			t.Fatal(err)
		}
		f, err := decodeAMQPInto(b, &scratch)
		if err != nil {
			t.Fatal(err)
		}
		want, err := decodeAMQP(b)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(f, want) {
			t.Fatalf("decodeAMQPInto %+v, decodeAMQP %+v", f, want)
		}
		got = append(got, f)
	}
	b, _ := toAMQPFrom(nil, pubs[0], "origin")
	want, _ := decodeAMQP(b)
	if !reflect.DeepEqual(got[0], want) {
		t.Fatalf("first result changed by the second decode: %+v, want %+v", got[0], want)
	}
}

// TestToAMQPAllocatesOnlyOutput: encoding a PUBLISH into a buffer with
// room allocates nothing (the sections come from a pool), so a QoS 0
// publication costs the gateway no garbage; QoS 1 adds nothing either
// (its annotation's value is a small integer).
func TestToAMQPAllocatesOnlyOutput(t *testing.T) {
	buf := make([]byte, 0, 1024)
	for _, p := range []*packets.Publish{
		{Topic: "bench/x", Payload: make([]byte, 100)},
		{Topic: "bench/x", QoS: 1, Payload: make([]byte, 100)},
	} {
		var err error
		n := testing.AllocsPerRun(100, func() { _, err = toAMQPFrom(buf[:0], p, "") })
		if err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Errorf("QoS %d: %v allocations per encoding, want 0", p.QoS, n)
		}
	}
}

func BenchmarkToAMQP(b *testing.B) {
	p := &packets.Publish{Topic: "bench/x", Payload: make([]byte, 100)}
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for range b.N {
		if _, err := toAMQPFrom(buf[:0], p, ""); err != nil {
			b.Fatal(err)
		}
	}
}
