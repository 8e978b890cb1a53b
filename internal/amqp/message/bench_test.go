package message

import (
	"bytes"
	"testing"

	"github.com/enmasse-go/enmasse/internal/amqp/types"
)

// typicalMessage is the ~100-byte message the benchmarks measure: a durable
// header, the properties a request carries, two application properties and
// a 100-byte data body.
func typicalMessage() *Message {
	return &Message{
		Header: &Header{Durable: true, Priority: DefaultPriority},
		Properties: &Properties{
			MessageID:   uint64(123456789),
			To:          "orders",
			ReplyTo:     "replies/client-7",
			ContentType: "application/octet-stream",
		},
		ApplicationProperties: map[string]any{"region": "eu", "attempt": int32(1)},
		Data:                  [][]byte{bytes.Repeat([]byte{'x'}, 100)},
	}
}

func BenchmarkMessageEncode(b *testing.B) {
	m := typicalMessage()
	buf, _ := m.Marshal(nil)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = m.Marshal(buf[:0]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMessageDecode(b *testing.B) {
	enc, _ := typicalMessage().Marshal(nil)
	b.SetBytes(int64(len(enc)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Unmarshal(enc); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRawParseTo(b *testing.B) {
	enc, _ := typicalMessage().Marshal(nil)
	b.SetBytes(int64(len(enc)))
	b.ReportAllocs()
	for b.Loop() {
		r, err := Parse(enc)
		if err != nil {
			b.Fatal(err)
		}
		if to := r.ToBytes(); len(to) == 0 {
			b.Fatal("no to")
		}
	}
}

func BenchmarkRawRewriteHeader(b *testing.B) {
	enc, _ := typicalMessage().Marshal(nil)
	r, err := Parse(enc)
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 0, 2*len(enc))
	b.SetBytes(int64(len(enc)))
	b.ReportAllocs()
	for b.Loop() {
		h, _, err := r.Header()
		if err != nil {
			b.Fatal(err)
		}
		h.DeliveryCount++
		if buf, err = r.AppendRewrite(buf[:0], &h, nil, false); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRawAnnotate(b *testing.B) {
	enc, _ := typicalMessage().Marshal(nil)
	r, err := Parse(enc)
	if err != nil {
		b.Fatal(err)
	}
	ma := types.Map{{Key: types.Symbol("x-opt-ingress"), Value: "router-1"}}
	buf := make([]byte, 0, 2*len(enc))
	b.ReportAllocs()
	for b.Loop() {
		if buf, err = r.AppendRewrite(buf[:0], nil, ma, false); err != nil {
			b.Fatal(err)
		}
	}
}
