package frames

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

const maxFrame64K = 64 << 10

// TestParseFramePartial feeds every catalog frame one byte at a time: until
// the frame is complete ParseFrame consumes nothing and reports how many
// bytes it needs (8 for the header, then the frame size).
func TestParseFramePartial(t *testing.T) {
	for name, tc := range catalog {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			for i := range len(tc.raw) {
				f, n, need, err := ParseFrame(tc.raw[:i], maxFrame64K)
				if err != nil || n != 0 || !reflect.DeepEqual(f, Frame{}) {
					t.Fatalf("%d of %d bytes: n %d, frame %+v, err %v", i, len(tc.raw), n, f, err)
				}
				want := HeaderSize
				if i >= HeaderSize {
					want = len(tc.raw)
				}
				if need != want {
					t.Fatalf("%d of %d bytes: need %d, want %d", i, len(tc.raw), need, want)
				}
			}
			f, n, need, err := ParseFrame(tc.raw, maxFrame64K)
			if err != nil || n != len(tc.raw) || need != len(tc.raw) {
				t.Fatalf("whole frame: n %d need %d err %v", n, need, err)
			}
			doff := int(tc.raw[4]) * 4
			if f.Type != tc.raw[5] || f.Channel != uint16(tc.raw[6])<<8|uint16(tc.raw[7]) ||
				!bytes.Equal(f.Body, tc.raw[doff:]) {
				t.Fatalf("frame %+v", f)
			}
		})
	}
}

// TestParseFrameBackToBack parses the whole catalog as one stream, with a
// trailing partial frame.
func TestParseFrameBackToBack(t *testing.T) {
	var stream []byte
	var want []Frame
	for _, name := range catalogNames() {
		raw := catalog[name].raw
		stream = append(stream, raw...)
		want = append(want, Frame{Type: raw[5], Channel: uint16(raw[6])<<8 | uint16(raw[7]), Body: raw[int(raw[4])*4:]})
	}
	stream = append(stream, catalog["open minimal"].raw[:11]...) // a frame still arriving
	var got []Frame
	rest := stream
	for {
		f, n, need, err := ParseFrame(rest, maxFrame64K)
		if err != nil {
			t.Fatalf("after %d frames: %v", len(got), err)
		}
		if n == 0 {
			if len(rest) != 11 || need != len(catalog["open minimal"].raw) {
				t.Fatalf("stopped with %d bytes left, need %d", len(rest), need)
			}
			break
		}
		got = append(got, f)
		rest = rest[n:]
	}
	if len(got) != len(want) {
		t.Fatalf("%d frames, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i].Type != want[i].Type || got[i].Channel != want[i].Channel || !bytes.Equal(got[i].Body, want[i].Body) {
			t.Fatalf("frame %d (%s): %+v, want %+v", i, catalogNames()[i], got[i], want[i])
		}
	}
}

func TestParseFrameErrors(t *testing.T) {
	tests := map[string]struct {
		in      []byte
		max     uint32
		wantErr error
	}{
		// The size is checked from the header alone: nothing more is
		// buffered for a frame that can never be accepted.
		"4 GiB frame, 64 KiB limit":   {bs(0xff, 0xff, 0xff, 0xff, 0x02, 0x00, 0x00, 0x00), maxFrame64K, ErrFrameTooLarge},
		"one byte over the limit":     {bs(0x00, 0x01, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00), maxFrame64K, ErrFrameTooLarge},
		"over a 512-byte limit":       {bs(0x00, 0x00, 0x02, 0x01, 0x02, 0x00, 0x00, 0x00), 512, ErrFrameTooLarge},
		"too large with body":         {cat(bs(0x00, 0x00, 0x02, 0x01, 0x02, 0x00, 0x00, 0x00), make([]byte, 600)), 512, ErrFrameTooLarge},
		"size 0":                      {bs(0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00), maxFrame64K, ErrMalformedFrame},
		"size 7":                      {bs(0x00, 0x00, 0x00, 0x07, 0x02, 0x00, 0x00, 0x00), maxFrame64K, ErrMalformedFrame},
		"doff 0":                      {bs(0x00, 0x00, 0x00, 0x08, 0x00, 0x00, 0x00, 0x00), maxFrame64K, ErrMalformedFrame},
		"doff 1":                      {bs(0x00, 0x00, 0x00, 0x10, 0x01, 0x00, 0x00, 0x00), maxFrame64K, ErrMalformedFrame},
		"doff 3 in an 8-byte frame":   {bs(0x00, 0x00, 0x00, 0x08, 0x03, 0x00, 0x00, 0x00), maxFrame64K, ErrMalformedFrame},
		"doff 255 beyond the frame":   {bs(0x00, 0x00, 0x03, 0xe8, 0xff, 0x00, 0x00, 0x00), maxFrame64K, ErrMalformedFrame},
		"doff*4 one past the size":    {bs(0x00, 0x00, 0x00, 0x0b, 0x03, 0x00, 0x00, 0x00), maxFrame64K, ErrMalformedFrame},
		"malformed with body":         {cat(bs(0x00, 0x00, 0x00, 0x07, 0x02, 0x00, 0x00, 0x00), make([]byte, 20)), maxFrame64K, ErrMalformedFrame},
		"doff 1 with a complete body": {cat(bs(0x00, 0x00, 0x00, 0x0c, 0x01, 0x00, 0x00, 0x00), bs(0x00, 0x53, 0x18, 0x45)), maxFrame64K, ErrMalformedFrame},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			f, n, _, err := ParseFrame(tc.in, tc.max)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err %v, want %v", err, tc.wantErr)
			}
			if n != 0 || !reflect.DeepEqual(f, Frame{}) {
				t.Fatalf("n %d frame %+v with an error", n, f)
			}
		})
	}
}

func TestParseFrameLimits(t *testing.T) {
	// A frame of exactly max bytes is accepted.
	frame := make([]byte, 512)
	frame[2], frame[3], frame[4] = 0x02, 0x00, 0x02
	f, n, need, err := ParseFrame(frame[:8], 512)
	if err != nil || n != 0 || need != 512 {
		t.Fatalf("header of a 512-byte frame: n %d need %d err %v", n, need, err)
	}
	f, n, _, err = ParseFrame(frame, 512)
	if err != nil || n != 512 || len(f.Body) != 504 {
		t.Fatalf("512-byte frame: n %d body %d err %v", n, len(f.Body), err)
	}
	// doff*4 == size: an extended header and no body.
	f, n, _, err = ParseFrame(bs(0x00, 0x00, 0x00, 0x0c, 0x03, 0x01, 0x00, 0x05, 1, 2, 3, 4), 512)
	if err != nil || n != 12 || len(f.Body) != 0 || f.Type != TypeSASL || f.Channel != 5 {
		t.Fatalf("doff 3, size 12: %+v n %d err %v", f, n, err)
	}
	// Unknown frame types are passed up; the connection decides.
	f, _, _, err = ParseFrame(bs(0x00, 0x00, 0x00, 0x08, 0x02, 0x07, 0xff, 0xff), 512)
	if err != nil || f.Type != 7 || f.Channel != 65535 {
		t.Fatalf("type 7: %+v %v", f, err)
	}
}

func TestAppendFrame(t *testing.T) {
	// Frames are appended after existing bytes.
	b := []byte("prefix")
	b = AppendFrame(b, TypeAMQP, 0x0102, &Close{})
	b = AppendFrame(b, TypeSASL, 0, nil)
	want := cat(str("prefix"),
		bs(0x00, 0x00, 0x00, 0x0c, 0x02, 0x00, 0x01, 0x02, 0x00, 0x53, 0x18, 0x45),
		bs(0x00, 0x00, 0x00, 0x08, 0x02, 0x01, 0x00, 0x00))
	if !bytes.Equal(b, want) {
		t.Fatalf("got % x\nwant % x", b, want)
	}
	// BeginFrame/EndFrame around a transfer and its payload.
	tr := Transfer{Handle: 1, Payload: []byte("p")}
	b, start := BeginFrame([]byte{0xff})
	b = tr.AppendPerformative(b)
	b = append(b, tr.Payload...)
	b = EndFrame(b, start, TypeAMQP, 3)
	if got := AppendFrame([]byte{0xff}, TypeAMQP, 3, &tr); !bytes.Equal(b, got) {
		t.Fatalf("BeginFrame/EndFrame % x, AppendFrame % x", b, got)
	}
}

func TestParseProtoHeader(t *testing.T) {
	tests := map[string]struct {
		in      []byte
		wantID  byte
		wantErr error
	}{
		"AMQP":                  {cat(str("AMQP"), bs(0, 1, 0, 0)), ProtoAMQP, nil},
		"TLS":                   {cat(str("AMQP"), bs(2, 1, 0, 0)), ProtoTLS, nil},
		"SASL":                  {cat(str("AMQP"), bs(3, 1, 0, 0)), ProtoSASL, nil},
		"longer input":          {cat(str("AMQP"), bs(3, 1, 0, 0), bs(0, 0, 0, 0x08)), ProtoSASL, nil},
		"unknown protocol id":   {cat(str("AMQP"), bs(1, 1, 0, 0)), 1, ErrVersion},
		"version 1.0.1":         {cat(str("AMQP"), bs(0, 1, 0, 1)), 0, ErrVersion},
		"version 2.0.0":         {cat(str("AMQP"), bs(0, 2, 0, 0)), 0, ErrVersion},
		"AMQP 0-9-1":            {cat(str("AMQP"), bs(0, 0, 9, 1)), 0, ErrVersion},
		"AMQP 0-10":             {cat(str("AMQP"), bs(1, 1, 0, 10)), 1, ErrVersion},
		"HTTP request":          {str("HTTP/1.1"), 0, ErrNotAMQP},
		"GET":                   {str("GET / HTTP/1.1\r\n"), 0, ErrNotAMQP},
		"TLS ClientHello":       {bs(0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01), 0, ErrNotAMQP},
		"lower case":            {cat(str("amqp"), bs(0, 1, 0, 0)), 0, ErrNotAMQP},
		"short":                 {str("AMQP"), 0, ErrNotAMQP},
		"empty":                 {nil, 0, ErrNotAMQP},
		"a frame, not a header": {catalog["open minimal"].raw, 0, ErrNotAMQP},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			id, err := ParseProtoHeader(tc.in)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err %v, want %v", err, tc.wantErr)
			}
			if tc.wantErr != ErrNotAMQP && id != tc.wantID {
				t.Fatalf("id %d, want %d", id, tc.wantID)
			}
		})
	}
	for _, id := range []byte{ProtoAMQP, ProtoTLS, ProtoSASL} {
		h := ProtoHeader(id)
		if got, err := ParseProtoHeader(h[:]); err != nil || got != id {
			t.Errorf("ProtoHeader(%d) parses as %d, %v", id, got, err)
		}
	}
}
