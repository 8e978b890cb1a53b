package mqtt

import (
	"bytes"
	"io"
	"net"
	"testing"
)

// TestConnReader: bytes come out as written, whatever the sizes of the
// writes and reads; the reader holds the small buffer after small reads,
// the large one while reads fill the buffer, and the small one again once
// the writes are small.
func TestConnReader(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	cr := newConnReader(a)
	defer cr.release()
	var want []byte
	writes := make(chan []byte)
	go func() {
		for w := range writes {
			b.Write(w)
		}
	}()
	defer close(writes)
	read := func(n int, bytewise bool) {
		t.Helper()
		got := make([]byte, n)
		if bytewise {
			for i := range got {
				c, err := cr.ReadByte()
				if err != nil {
					t.Fatal(err)
				}
				got[i] = c
			}
		} else if _, err := io.ReadFull(cr, got); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want[:n]) {
			t.Fatalf("read %d bytes: mismatch", n)
		}
		want = want[n:]
	}
	write := func(n int) {
		w := make([]byte, n)
		for i := range w {
			w[i] = byte(len(want) + i*7)
		}
		want = append(want, w...)
		go func() { writes <- w }()
	}
	write(10)
	read(10, true)
	if len(cr.buf) != smallReadBuf {
		t.Fatalf("buffer of %d bytes after a small packet", len(cr.buf))
	}
	write(3000)
	read(1, true)
	read(2999, false)
	write(20000)
	read(100, false)
	read(5, true)
	if len(cr.buf) != largeReadBuf {
		t.Fatalf("buffer of %d bytes during a large write", len(cr.buf))
	}
	read(19895, false)
	for range 2 {
		write(12)
		read(12, true)
	}
	if len(cr.buf) != smallReadBuf || cr.pooled != nil {
		t.Fatalf("buffer of %d bytes once writes are small again", len(cr.buf))
	}
}

// emptyReads returns (0, nil) twice before every read, as a WebSocket
// message boundary can.
type emptyReads struct {
	net.Conn
	n int
}

func (e *emptyReads) Read(p []byte) (int, error) {
	if e.n++; e.n%3 != 0 {
		return 0, nil
	}
	return e.Conn.Read(p)
}

// TestConnReaderEmptyReads: empty reads without an error are not the end
// of the stream (bufio.Reader's rule).
func TestConnReaderEmptyReads(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	cr := newConnReader(&emptyReads{Conn: a})
	go b.Write([]byte("abc"))
	for _, want := range []byte("abc") {
		c, err := cr.ReadByte()
		if err != nil || c != want {
			t.Fatalf("ReadByte = %q, %v; want %q", c, err, want)
		}
	}
}
