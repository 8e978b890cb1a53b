package mqtt

import (
	"reflect"
	"testing"

	"github.com/enmasse-go/enmasse/internal/amqp/message"
	"github.com/enmasse-go/enmasse/internal/amqp/types"
	"github.com/enmasse-go/enmasse/internal/mqtt/packets"
)

// TestUnmarshalLean: unmarshalLean decodes exactly what message.Unmarshal
// does, and refuses what it refuses, for gateway messages, AMQP messages
// with every section, other bodies, and every truncation of them.
func TestUnmarshalLean(t *testing.T) {
	var msgs [][]byte
	add := func(b []byte, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, b)
	}
	add(toAMQPFrom(nil, &packets.Publish{Topic: "a/b", Payload: []byte("hello")}, ""))
	add(toAMQPFrom(nil, &packets.Publish{Topic: "a/b", QoS: 1, Retain: true, Payload: []byte("x"), Properties: packets.Properties{
		ContentType: "text/plain", ResponseTopic: "r/t", CorrelationData: []byte{1, 2}, PayloadFormatIndicator: 1,
		HasMessageExpiryInterval: true, MessageExpiryInterval: 60,
		User: []packets.UserProperty{{Key: "k", Value: "v"}}}}, "client-1"))
	h := message.DefaultHeader()
	h.Priority = 7
	full := message.Message{
		Header:                &h,
		DeliveryAnnotations:   types.Map{{Key: types.Symbol("x-opt-d"), Value: "d"}},
		MessageAnnotations:    types.Map{{Key: types.Symbol("x-opt-m"), Value: int64(3)}},
		Properties:            &message.Properties{To: "t", Subject: "s"},
		ApplicationProperties: map[string]any{"n": int32(1)},
		Data:                  [][]byte{[]byte("one"), []byte("two")},
		Footer:                types.Map{{Key: types.Symbol("f"), Value: true}},
	}
	add(full.Marshal(nil))
	add((&message.Message{Data: [][]byte{{}}}).Marshal(nil))
	add((&message.Message{Value: "a string", HasValue: true}).Marshal(nil))
	add((&message.Message{Sequence: [][]any{{int32(1)}}}).Marshal(nil))
	add((&message.Message{}).Marshal(nil))
	for _, full := range msgs {
		for n := len(full); n >= 0; n-- {
			b := full[:n]
			want, werr := message.Unmarshal(b)
			got, gerr := unmarshalLean(b)
			if (werr == nil) != (gerr == nil) {
				t.Fatalf("%x: Unmarshal error %v, unmarshalLean error %v", b, werr, gerr)
			}
			if werr != nil {
				continue
			}
			if len(got.Data) == 0 && len(want.Data) == 0 {
				got.Data, want.Data = nil, nil // empty either way
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("%x:\n got %+v\nwant %+v", b, got, want)
			}
		}
	}
}

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
