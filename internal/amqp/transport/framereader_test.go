package transport

import (
	"bytes"
	"encoding/binary"
	"net"
	"testing"
)

func plainFrame(body []byte) []byte {
	f := make([]byte, 8, 8+len(body))
	binary.BigEndian.PutUint32(f, uint32(8+len(body)))
	f[4] = 2
	return append(f, body...)
}

// TestFrameReaderBuffers: the reader keeps the small buffer while frames
// trickle in, switches to a large one for a batch and for a large frame,
// and releases it once reads are small again; every frame arrives intact.
func TestFrameReaderBuffers(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	fr := newFrameReader(a, 1<<20)
	defer fr.release()
	body := func(i, n int) []byte { return bytes.Repeat([]byte{byte(i)}, n) }
	writes := make(chan []byte, 1)
	go func() {
		for w := range writes {
			if _, err := b.Write(w); err != nil {
				return
			}
		}
	}()
	defer close(writes)
	expect := func(i, n int) {
		t.Helper()
		f, err := fr.next()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(f.Body, body(i, n)) {
			t.Fatalf("frame %d: got %d bytes %.8x…, want %d bytes of %d", i, len(f.Body), f.Body, n, i)
		}
	}
	for i := range 3 {
		writes <- plainFrame(body(i, 20))
		expect(i, 20)
		if len(fr.buf) != smallReadBuf {
			t.Fatalf("after small frame %d: buffer of %d bytes, want %d", i, len(fr.buf), smallReadBuf)
		}
	}
	var batch []byte
	for i := range 100 {
		batch = append(batch, plainFrame(body(i, 100))...)
	}
	writes <- batch
	for i := range 100 {
		expect(i, 100)
		if i == 10 && len(fr.buf) != largeReadBuf {
			t.Fatalf("during a batch: buffer of %d bytes, want %d", len(fr.buf), largeReadBuf)
		}
	}
	writes <- plainFrame(body(7, 40<<10))
	expect(7, 40<<10)
	if len(fr.buf) < 40<<10 {
		t.Fatalf("large frame read into a buffer of %d bytes", len(fr.buf))
	}
	for i := range 2 {
		writes <- plainFrame(body(i, 30))
		expect(i, 30)
	}
	if len(fr.buf) != smallReadBuf || fr.pooled != nil {
		t.Fatalf("idle again: buffer of %d bytes (pooled %v), want the small one", len(fr.buf), fr.pooled != nil)
	}
	// A frame split over writes.
	f := plainFrame(body(9, 3000))
	go func() { writes <- f[:5]; writes <- f[5:1000]; writes <- f[1000:] }()
	expect(9, 3000)
}
