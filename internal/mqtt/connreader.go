package mqtt

import (
	"io"
	"net"
	"sync"
)

// Read buffer sizes of connReader: an idle MQTT connection holds the small
// one; a large one is borrowed from a pool while reads fill the buffer.
const (
	smallReadBuf = 256
	largeReadBuf = 4096
)

var largeReadBufs = sync.Pool{New: func() any { return new([largeReadBuf]byte) }}

// connReader is the buffered reader under a connection's packets.Reader,
// in place of a bufio.Reader that would hold 4 KiB for the life of every
// connection. It reads into a 256-byte buffer while packets trickle in,
// switches to a pooled 4 KiB buffer after a read that filled the small
// one, and gives that back once it is drained after a small read. Only the
// connection's reader goroutine uses it.
type connReader struct {
	nc       net.Conn
	buf      []byte
	r, w     int // unread bytes are buf[r:w]
	small    []byte
	pooled   *[largeReadBuf]byte
	lastRead int
}

func newConnReader(nc net.Conn) *connReader {
	cr := &connReader{nc: nc, small: make([]byte, smallReadBuf)}
	cr.buf = cr.small
	return cr
}

// fill reads into the empty buffer, choosing its size first.
func (cr *connReader) fill() error {
	cr.r, cr.w = 0, 0
	if cr.buf == nil { // parked
		cr.small = make([]byte, smallReadBuf)
		cr.buf, cr.lastRead = cr.small, 0
	}
	switch {
	case cr.pooled == nil && cr.lastRead == len(cr.buf):
		cr.pooled = largeReadBufs.Get().(*[largeReadBuf]byte)
		cr.buf = cr.pooled[:]
	case cr.pooled != nil && cr.lastRead < smallReadBuf:
		cr.release()
	}
	// Like bufio.Reader, tolerate a few empty reads without an error
	// (a WebSocket message boundary can give one).
	for range 100 {
		n, err := cr.nc.Read(cr.buf)
		cr.lastRead, cr.w = n, n
		if n > 0 {
			return nil
		}
		if err != nil {
			return err
		}
	}
	return io.ErrNoProgress
}

// release gives the large buffer back; the buffer must be empty.
func (cr *connReader) release() {
	if cr.pooled != nil {
		largeReadBufs.Put(cr.pooled)
		cr.pooled, cr.buf = nil, cr.small
	}
}

func (cr *connReader) ReadByte() (byte, error) {
	if cr.r == cr.w {
		if err := cr.fill(); err != nil {
			return 0, err
		}
	}
	b := cr.buf[cr.r]
	cr.r++
	return b, nil
}

func (cr *connReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if cr.r == cr.w {
		if len(p) >= largeReadBuf {
			// A large packet body: straight into it.
			return cr.nc.Read(p)
		}
		if err := cr.fill(); err != nil {
			return 0, err
		}
	}
	n := copy(p, cr.buf[cr.r:cr.w])
	cr.r += n
	return n, nil
}

// buffered reports whether unread bytes are buffered.
func (cr *connReader) buffered() bool { return cr.r < cr.w }

// wait reads more when nothing is buffered, consuming nothing: for a read
// deadline that must not fall within a packet (idle.go).
func (cr *connReader) wait() error {
	if cr.r < cr.w {
		return nil
	}
	return cr.fill()
}

// park gives up the buffers, which must be empty, while the connection
// is parked; the next fill allocates the small one again.
func (cr *connReader) park() {
	cr.release()
	cr.small, cr.buf = nil, nil
}
