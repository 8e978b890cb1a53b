package bench

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
)

// TestReadBufferedKeepsWritev: packets written as net.Buffers from several
// goroutines through a readBuffered connection arrive whole, as they do
// on the bare TCPConn (one writev each), and reads go through the buffer.
func TestReadBufferedKeepsWritev(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	rb := newReadBuffered(nc.(*net.TCPConn))
	defer rb.Close()
	far := <-accepted
	defer far.Close()

	// A record: 4-byte writer id | 4-byte sequence | 56 bytes of the
	// writer id, in three buffers, as paho writes a packet.
	const writers, each = 8, 2000
	var wg sync.WaitGroup
	werr := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				var h1, h2 [4]byte
				binary.BigEndian.PutUint32(h1[:], uint32(w))
				binary.BigEndian.PutUint32(h2[:], uint32(i))
				bufs := net.Buffers{h1[:], h2[:], bytes.Repeat([]byte{byte(w)}, 56)}
				if _, err := bufs.WriteTo(rb); err != nil {
					werr <- err
					return
				}
			}
		}()
	}
	got := make([]int, writers)
	rec := make([]byte, 64)
	var bad error
	for range writers * each {
		if _, err := io.ReadFull(far, rec); err != nil {
			bad = err
			break
		}
		w := binary.BigEndian.Uint32(rec[:4])
		seq := binary.BigEndian.Uint32(rec[4:8])
		if w >= writers || int(seq) != got[w] || !bytes.Equal(rec[8:], bytes.Repeat([]byte{byte(w)}, 56)) {
			bad = fmt.Errorf("interleaved or out of order record: %x", rec)
			break
		}
		got[w]++
	}
	if bad != nil {
		far.Close() // the writers fail and end
		wg.Wait()
		t.Fatal(bad)
	}
	wg.Wait()
	select {
	case err := <-werr:
		t.Fatal(err)
	default:
	}

	// Reads come through the buffer.
	far.Write([]byte("abcdef"))
	b := make([]byte, 1)
	if _, err := io.ReadFull(rb, b); err != nil || b[0] != 'a' {
		t.Fatalf("read %q, %v", b, err)
	}
	if n := rb.r.Buffered(); n != 5 {
		t.Fatalf("%d bytes buffered after a 1-byte read of 6, want 5", n)
	}
	// io.Copy from it (WriteTo) gets the buffered bytes first.
	far.Close()
	var rest bytes.Buffer
	if _, err := io.Copy(&rest, rb); err != nil || rest.String() != "bcdef" {
		t.Fatalf("copied %q, %v; want the buffered \"bcdef\"", rest.String(), err)
	}
}
