package packets

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

// countingSource is a ByteReader that records how many bytes were taken
// from it and can serve at most chunk bytes per Read.
type countingSource struct {
	data  []byte
	off   int
	chunk int
}

func (s *countingSource) Read(p []byte) (int, error) {
	if s.off == len(s.data) {
		return 0, io.EOF
	}
	n := len(p)
	if s.chunk > 0 && n > s.chunk {
		n = s.chunk
	}
	n = copy(p[:n], s.data[s.off:])
	s.off += n
	return n, nil
}

func (s *countingSource) ReadByte() (byte, error) {
	if s.off == len(s.data) {
		return 0, io.EOF
	}
	s.off++
	return s.data[s.off-1], nil
}

func TestReaderPacketTooLargeBeforeReadingBody(t *testing.T) {
	for name, tc := range map[string]struct {
		max    int
		header []byte
	}{
		"1 MiB announced, limit 1000":      {1000, []byte{0x30, 0x80, 0x80, 0x40}},
		"protocol maximum announced":       {64 << 10, []byte{0x30, 0xFF, 0xFF, 0xFF, 0x7F}},
		"one byte over, two-byte header":   {101, []byte{0x30, 100}},
		"one byte over, three-byte header": {202, []byte{0x30, 0xC8, 0x01}},
	} {
		t.Run(name, func(t *testing.T) {
			src := &countingSource{data: cat(tc.header, bytes.Repeat([]byte{0}, 300))}
			r := NewReader(src, tc.max)
			_, _, err := r.Next()
			var e *Error
			if !errors.As(err, &e) || e.Code != ReasonPacketTooLarge || e.Packet != TypePublish {
				t.Fatalf("got %v", err)
			}
			if src.off != len(tc.header) {
				t.Fatalf("read %d bytes, want only the %d-byte fixed header", src.off, len(tc.header))
			}
			if cap(r.buf) != 0 {
				t.Fatalf("allocated a %d-byte buffer", cap(r.buf))
			}
			// The error sticks: the stream is inside a packet.
			if _, _, err2 := r.Next(); err2 != err {
				t.Fatalf("second call: %v", err2)
			}
		})
	}
}

func TestReaderMaxPacketSizeBoundary(t *testing.T) {
	raw := pkt(0x30, str("t"), bytes.Repeat([]byte{'x'}, 97)) // 2 + 100 bytes
	if len(raw) != 102 {
		t.Fatal(len(raw))
	}
	r := NewReader(bytes.NewReader(raw), 102)
	r.Version = 4
	if _, err := r.ReadPacket(); err != nil {
		t.Fatalf("packet of exactly the maximum: %v", err)
	}
	r = NewReader(bytes.NewReader(raw), 101)
	r.Version = 4
	if _, err := r.ReadPacket(); codeOf(err) != ReasonPacketTooLarge {
		t.Fatalf("one byte over: %v", err)
	}
	r.SetMaxPacketSize(0)
	if r.MaxPacketSize() != MaxPacketSize {
		t.Fatal(r.MaxPacketSize())
	}
}

// TestReaderGrowsWithData: a peer that announces a large packet and then
// sends little makes the Reader allocate in proportion to what arrived.
func TestReaderGrowsWithData(t *testing.T) {
	for _, sent := range []int{0, 10, 5000, 100_000} {
		src := &countingSource{data: cat([]byte{0x30, 0xFF, 0xFF, 0xFF, 0x7F}, bytes.Repeat([]byte{1}, sent)), chunk: 1000}
		r := NewReader(src, 0)
		_, _, err := r.Next()
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("sent %d: %v", sent, err)
		}
		if limit := max(4096, 2*sent); cap(r.buf) > limit {
			t.Fatalf("sent %d bytes, buffer grew to %d (limit %d)", sent, cap(r.buf), limit)
		}
	}
}

func TestReaderBadRemainingLength(t *testing.T) {
	r := NewReader(bytes.NewReader([]byte{0x30, 0x80, 0x80, 0x80, 0x80, 0x01, 0, 0}), 0)
	_, _, err := r.Next()
	if codeOf(err) != ReasonMalformedPacket {
		t.Fatalf("got %v", err)
	}
	if !strings.Contains(err.Error(), "longer than 4 bytes") {
		t.Fatal(err)
	}
}

// TestReaderOnePacketAtATime: Next consumes exactly one packet from the
// stream, whatever follows it.
func TestReaderOnePacketAtATime(t *testing.T) {
	first := []byte{0x40, 2, 0, 1}
	second := pkt(0x30, str("a"), []byte("payload"))
	src := &countingSource{data: cat(first, second, []byte{0xC0})}
	r := NewReader(src, 0)
	r.Version = 4
	p, err := r.ReadPacket()
	if err != nil || !equal(p, &Puback{PacketID: 1}) {
		t.Fatalf("%s %v", show(p), err)
	}
	if src.off != len(first) {
		t.Fatalf("consumed %d bytes after the first packet, want %d", src.off, len(first))
	}
	p, err = r.ReadPacket()
	if err != nil || !equal(p, &Publish{Topic: "a", Payload: []byte("payload")}) {
		t.Fatalf("%s %v", show(p), err)
	}
	if src.off != len(first)+len(second) {
		t.Fatalf("consumed %d bytes", src.off)
	}
	// A lone first byte, then end of stream.
	if _, err = r.ReadPacket(); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("truncated header: %v", err)
	}
}

func TestReaderEOF(t *testing.T) {
	for name, tc := range map[string]struct {
		data []byte
		want error
	}{
		"empty stream":            {nil, io.EOF},
		"inside the fixed header": {[]byte{0x30}, io.ErrUnexpectedEOF},
		"inside the length":       {[]byte{0x30, 0x80}, io.ErrUnexpectedEOF},
		"inside the body":         {[]byte{0x30, 5, 0, 1}, io.ErrUnexpectedEOF},
	} {
		t.Run(name, func(t *testing.T) {
			r := NewReader(bytes.NewReader(tc.data), 0)
			_, _, err := r.Next()
			if err != tc.want {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

// TestReaderSplitStream feeds the whole catalog through a stream that
// delivers one byte per Read.
func TestReaderSplitStream(t *testing.T) {
	for _, version := range []byte{4, 5} {
		var stream []byte
		var want []Packet
		for _, tc := range golden {
			if tc.version == version {
				stream = append(stream, tc.raw...)
				want = append(want, tc.want)
			}
		}
		r := NewReader(&countingSource{data: stream, chunk: 1}, 0)
		r.Version = version
		for i, w := range want {
			p, err := r.ReadPacket()
			if err != nil {
				t.Fatalf("v%d packet %d: %v", version, i, err)
			}
			if !equal(p, w) {
				t.Fatalf("v%d packet %d:\n got %s\nwant %s", version, i, show(p), show(w))
			}
		}
		if _, err := r.ReadPacket(); err != io.EOF {
			t.Fatalf("end: %v", err)
		}
	}
}

// TestReaderVersionFromConnect: a Reader without a version accepts only a
// CONNECT first, and then decodes with its level.
func TestReaderVersionFromConnect(t *testing.T) {
	stream := cat(golden["v5 CONNECT minimal, empty client identifier, no clean start"].raw,
		golden["v5 PUBLISH QoS 2 no properties"].raw)
	r := NewReader(bytes.NewReader(stream), 0)
	if _, err := r.ReadPacket(); err != nil || r.Version != 5 {
		t.Fatalf("version %d, %v", r.Version, err)
	}
	p, err := r.ReadPacket()
	if err != nil || p.(*Publish).PacketID != 0x1234 {
		t.Fatal(err)
	}

	r = NewReader(bytes.NewReader(golden["v4 PUBACK"].raw), 0)
	if _, err := r.ReadPacket(); codeOf(err) != ReasonProtocolError {
		t.Fatalf("PUBACK before CONNECT: %v", err)
	}
}

// TestReaderDecodeErrorKeepsStream: after a packet that frames but does not
// decode, the next packet is still read correctly.
func TestReaderDecodeErrorKeepsStream(t *testing.T) {
	stream := cat(pkt(0x30, str("a/#")), golden["v4 PINGREQ"].raw)
	r := NewReader(bufio.NewReader(bytes.NewReader(stream)), 0)
	r.Version = 4
	if _, err := r.ReadPacket(); codeOf(err) != ReasonTopicNameInvalid {
		t.Fatal(err)
	}
	if p, err := r.ReadPacket(); err != nil || p.Type() != TypePingreq {
		t.Fatalf("%v %v", p, err)
	}
}

// TestReaderBufferReuse: the body buffer is reused between packets, and a
// large one is dropped when a small packet follows.
func TestReaderBufferReuse(t *testing.T) {
	big := pkt(0x30, str("t"), bytes.Repeat([]byte{1}, 200_000))
	small := pkt(0x30, str("t"), []byte("x"))
	r := NewReader(bytes.NewReader(cat(small, small, big, small)), 0)
	r.Version = 4
	_, b1, _ := r.Next()
	_, b2, _ := r.Next()
	if &b1[0] != &b2[0] {
		t.Fatal("buffer not reused between small packets")
	}
	if _, b, err := r.Next(); err != nil || len(b) != 200_003 {
		t.Fatal(err)
	}
	if _, _, err := r.Next(); err != nil {
		t.Fatal(err)
	}
	if cap(r.buf) > keepBuf {
		t.Fatalf("kept a %d-byte buffer", cap(r.buf))
	}
}

func TestNewReaderWrapsPlainReader(t *testing.T) {
	r := NewReader(io.MultiReader(bytes.NewReader([]byte{0xC0}), bytes.NewReader([]byte{0})), 0)
	r.Version = 5
	if p, err := r.ReadPacket(); err != nil || p.Type() != TypePingreq {
		t.Fatalf("%v %v", p, err)
	}
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

func TestReaderStreamErrorSticks(t *testing.T) {
	boom := errors.New("boom")
	r := NewReader(errReader{boom}, 0)
	for i := 0; i < 2; i++ {
		if _, _, err := r.Next(); err != boom {
			t.Fatalf("call %d: %v", i, err)
		}
	}
}

// TestReadPacketInto: from a stream of CONNECT, PUBLISH, SUBSCRIBE and
// PUBLISH, ReadPacketInto returns the same packets as ReadPacket, the
// PUBLISH packets in the one value given (nothing left over from the
// first in the second), the others as new values; the CONNECT sets the
// Reader's version.
func TestReadPacketInto(t *testing.T) {
	stream := []Packet{
		&Connect{ProtocolVersion: Version5, ClientID: "c", CleanStart: true},
		&Publish{Topic: "a/b", QoS: 1, PacketID: 7, Payload: []byte("one"), Properties: Properties{
			ContentType: "text/plain", User: []UserProperty{{Key: "k", Value: "v"}}, TopicAlias: 3}},
		&Subscribe{PacketID: 2, Subscriptions: []Subscription{{Filter: "x/#", QoS: 1}}},
		&Publish{Topic: "c", Payload: []byte("two")},
	}
	var b bytes.Buffer
	for _, p := range stream {
		if _, err := WriteTo(&b, p, Version5); err != nil {
			t.Fatal(err)
		}
	}
	want := NewReader(bytes.NewReader(b.Bytes()), 0)
	got := NewReader(bytes.NewReader(b.Bytes()), 0)
	var pub Publish
	for i := range stream {
		w, err := want.ReadPacket()
		if err != nil {
			t.Fatal(err)
		}
		g, err := got.ReadPacketInto(&pub)
		if err != nil {
			t.Fatal(err)
		}
		if _, isPub := w.(*Publish); isPub != (g == Packet(&pub)) {
			t.Fatalf("packet %d (%T): returned %p, the given value is %p", i, w, g, &pub)
		}
		if !equal(g, w) { // an empty slice reused equals a nil one
			t.Fatalf("packet %d: got %+v, want %+v", i, g, w)
		}
		if got.Version != want.Version {
			t.Fatalf("packet %d: version %d, want %d", i, got.Version, want.Version)
		}
	}
}
