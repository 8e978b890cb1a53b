package packets

import (
	"bytes"
	"errors"
	"io"
	"testing"

	mochi "github.com/mochi-mqtt/server/v2/packets"
)

// splitSource delivers a stream in two chunks, as a socket may split it
// anywhere. It is not a ByteReader, so NewReader adds a bufio.Reader.
type splitSource struct{ chunks [][]byte }

func (s *splitSource) Read(p []byte) (int, error) {
	for len(s.chunks) > 0 && len(s.chunks[0]) == 0 {
		s.chunks = s.chunks[1:]
	}
	if len(s.chunks) == 0 {
		return 0, io.EOF
	}
	n := copy(p, s.chunks[0])
	s.chunks[0] = s.chunks[0][n:]
	return n, nil
}

// fuzzMax is the maximum packet size of the fuzzed Reader.
const fuzzMax = 1 << 16

// mochiCrashStream is the input class of the mochi v2.7.9 remote crash: a
// v5 CONNECT, then a SUBSCRIBE whose topic filter has no options byte.
var mochiCrashStream = cat(
	pkt(0x10, str("MQTT"), []byte{5, 0x02, 0, 60}, []byte{0}, str("c")),
	[]byte{0x82, 0x06, 0x00, 0x01, 0x00, 0x00, 0x01, 'a'},
)

// FuzzReader feeds a byte stream, split in two at a fuzzer-chosen point, to
// a Reader and decodes every packet in it with protocol level 0 (learn it
// from the CONNECT), 4 or 5. It checks that nothing panics, that the Reader
// never holds a buffer out of proportion to the input, that every error is a
// reason code, and that every decoded packet re-encodes and decodes to the
// same value, also when decoded into a reused value.
func FuzzReader(f *testing.F) {
	for _, tc := range golden {
		f.Add(tc.raw, uint16(len(tc.raw)/2), tc.version)
	}
	for _, tc := range rejects {
		f.Add(tc.raw, uint16(1), tc.version)
	}
	for _, cases := range mochi.TPacketData {
		for _, c := range cases {
			if len(c.RawBytes) > 0 {
				v := byte(4)
				if c.Packet != nil && c.Packet.ProtocolVersion == 5 {
					v = 5
				}
				f.Add(c.RawBytes, uint16(len(c.RawBytes)-1), v)
			}
		}
	}
	f.Add(mochiCrashStream, uint16(len(mochiCrashStream)-3), byte(0))
	// A whole v5 session in one stream.
	var session []byte
	for _, name := range []string{"v5 CONNECT every CONNECT and Will property", "v5 SUBSCRIBE options, identifier, shared",
		"v5 PUBLISH QoS 1 every PUBLISH property", "v5 PUBACK reason code without properties", "v5 PINGREQ",
		"v5 DISCONNECT session taken over with properties"} {
		session = append(session, golden[name].raw...)
	}
	f.Add(session, uint16(100), byte(0))

	f.Fuzz(func(t *testing.T, data []byte, cut uint16, level byte) {
		version := [3]byte{0, Version311, Version5}[level%3]
		k := int(cut) % (len(data) + 1)
		r := NewReader(&splitSource{chunks: [][]byte{data[:k], data[k:]}}, fuzzMax)
		r.Version = version
		reused := map[PacketType]Packet{}
		for range 64 {
			fh, body, err := r.Next()
			if limit := max(4096, 2*len(data)); cap(r.buf) > limit {
				t.Fatalf("buffer of %d bytes for %d bytes of input", cap(r.buf), len(data))
			}
			if err != nil {
				if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
					checkReasonError(t, err)
				}
				return
			}
			if len(body) != fh.RemainingLength || len(body) > fuzzMax {
				t.Fatalf("body of %d bytes, remaining length %d", len(body), fh.RemainingLength)
			}
			p, err := Decode(r.Version, fh, body)
			if err != nil {
				checkReasonError(t, err)
				continue
			}
			v := r.Version
			if c, ok := p.(*Connect); ok {
				v = c.ProtocolVersion
				if r.Version == 0 {
					r.Version = v
				}
			}
			// The same bytes into a value that held an earlier packet.
			if old, ok := reused[fh.Type]; ok {
				if err := old.Decode(v, fh, body); err != nil || !equal(old, p) {
					t.Fatalf("decode into a reused value: %v\n got %s\nwant %s", err, show(old), show(p))
				}
			} else {
				reused[fh.Type] = New(fh.Type)
				_ = reused[fh.Type].Decode(v, fh, body)
			}
			enc, err := Append(nil, p, v)
			if err != nil {
				t.Fatalf("decoded %s but cannot encode it: %v", show(p), err)
			}
			back, err := decodeRaw(v, enc)
			if err != nil {
				t.Fatalf("re-encoded % x does not decode: %v", enc, err)
			}
			if !equal(back, p) {
				t.Fatalf("round trip changed the packet:\n got %s\nwant %s", show(back), show(p))
			}
			if again, err := Append(nil, back, v); err != nil || !bytes.Equal(again, enc) {
				t.Fatalf("encoding is not stable: % x vs % x (%v)", again, enc, err)
			}
		}
	})
}

func checkReasonError(t *testing.T, err error) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %T is not an *Error: %v", err, err)
	}
	if !e.Code.IsError() || !e.Code.Defined() {
		t.Fatalf("error with code %v: %v", e.Code, err)
	}
}
