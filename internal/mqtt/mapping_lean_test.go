package mqtt

import (
	"testing"

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
