package packets

import (
	"bytes"
	"io"
	"testing"
)

// benchPublish is a QoS 1 PUBLISH with a 100-byte payload.
var benchPublish = &Publish{Topic: "sensors/building-1/floor-2/temperature", QoS: 1, PacketID: 4242,
	Payload: bytes.Repeat([]byte{'x'}, 100)}

func BenchmarkDecodePublishQoS1(b *testing.B) {
	for _, version := range []byte{Version311, Version5} {
		b.Run(map[byte]string{4: "v3.1.1", 5: "v5"}[version], func(b *testing.B) {
			raw, err := Append(nil, benchPublish, version)
			if err != nil {
				b.Fatal(err)
			}
			fh, body := splitPacket(b, raw)
			var p Publish
			b.SetBytes(int64(len(raw)))
			b.ReportAllocs()
			for b.Loop() {
				if err := p.Decode(version, fh, body); err != nil {
					b.Fatal(err)
				}
			}
			if p.PacketID != 4242 || len(p.Payload) != 100 {
				b.Fatal("bad decode")
			}
		})
	}
}

func BenchmarkEncodePublishQoS1(b *testing.B) {
	for _, version := range []byte{Version311, Version5} {
		b.Run(map[byte]string{4: "v3.1.1", 5: "v5"}[version], func(b *testing.B) {
			buf := make([]byte, 0, 256)
			b.ReportAllocs()
			var n int
			for b.Loop() {
				out, err := benchPublish.Append(buf[:0], version)
				if err != nil {
					b.Fatal(err)
				}
				n = len(out)
			}
			b.SetBytes(int64(n))
		})
	}
}

// repeatReader serves the same bytes forever.
type repeatReader struct {
	data []byte
	off  int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		c := copy(p[n:], r.data[r.off:])
		n += c
		r.off = (r.off + c) % len(r.data)
	}
	return n, nil
}

// BenchmarkReaderPublishQoS1 reads and decodes a stream of QoS 1 PUBLISH
// packets through a Reader into one reused value, as a gateway would.
func BenchmarkReaderPublishQoS1(b *testing.B) {
	raw, err := Append(nil, benchPublish, Version5)
	if err != nil {
		b.Fatal(err)
	}
	r := NewReader(&repeatReader{data: raw}, 1<<20)
	r.Version = Version5
	var p Publish
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		fh, body, err := r.Next()
		if err != nil {
			b.Fatal(err)
		}
		if err := p.Decode(r.Version, fh, body); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkWriteToPublishQoS1(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := WriteTo(io.Discard, benchPublish, Version5); err != nil {
			b.Fatal(err)
		}
	}
}
