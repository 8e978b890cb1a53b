package transport

import (
	"net"
	"sync"
	"time"

	"github.com/enmasse-go/enmasse/internal/amqp/frames"
)

// Read buffer sizes. A connection starts with a small buffer and keeps it
// while frames trickle in (handshakes, heartbeats, a few messages per
// second); a read that fills it switches to a large buffer from a pool,
// and the large buffer goes back to the pool once everything read has been
// consumed and the last read was small again. So an idle connection — the
// common case for MQTT clients behind the gateway and for IoT AMQP clients
// — holds smallReadBuf bytes instead of largeReadBuf while it waits, and a
// busy one reads in large batches.
const (
	smallReadBuf = 512
	largeReadBuf = 16 << 10
)

var largeReadBufs = sync.Pool{New: func() any { return new([largeReadBuf]byte) }}

// frameReader reads protocol headers and frames from a socket through one
// buffer, so bytes a peer pipelines after a header are not lost. Its buffer
// grows beyond largeReadBuf only to the size of the largest frame allowed,
// and only once a frame header has declared that size.
type frameReader struct {
	nc       net.Conn
	buf      []byte
	r, w     int           // unread bytes are buf[r:w]
	max      uint32        // max frame size accepted
	idle     time.Duration // read deadline per read; 0 = none
	small    []byte        // the small buffer, kept while the large one is pooled
	pooled   *[largeReadBuf]byte
	lastRead int  // bytes the last read returned
	lastFull bool // the last read filled the buffer
}

func newFrameReader(nc net.Conn, max uint32) *frameReader {
	fr := &frameReader{nc: nc, small: make([]byte, smallReadBuf), max: max}
	fr.buf = fr.small
	return fr
}

// swap moves the unread bytes into nb, which becomes the buffer; a pooled
// large buffer it replaces goes back to the pool.
func (fr *frameReader) swap(nb []byte, pooled *[largeReadBuf]byte) {
	n := copy(nb, fr.buf[fr.r:fr.w])
	fr.buf, fr.r, fr.w = nb, 0, n
	if fr.pooled != nil {
		largeReadBufs.Put(fr.pooled)
	}
	fr.pooled = pooled
}

// fill reads at least one more byte, making room for need bytes in total.
func (fr *frameReader) fill(need int) error {
	if fr.r == fr.w {
		fr.r, fr.w = 0, 0
		if len(fr.buf) > smallReadBuf && !fr.lastFull && fr.lastRead < smallReadBuf && need <= smallReadBuf {
			fr.swap(fr.small, nil) // trickling or idle: release the large buffer
		}
	}
	if fr.r > 0 && len(fr.buf)-fr.r < need {
		n := copy(fr.buf, fr.buf[fr.r:fr.w])
		fr.r, fr.w = 0, n
	}
	switch {
	case need > largeReadBuf && need > len(fr.buf):
		nb := make([]byte, max(need, 2*len(fr.buf)))
		if uint64(len(nb)) > uint64(fr.max)+frames.HeaderSize {
			nb = nb[:need]
		}
		fr.swap(nb, nil)
	case len(fr.buf) < largeReadBuf && (need > len(fr.buf) || fr.lastFull):
		p := largeReadBufs.Get().(*[largeReadBuf]byte)
		fr.swap(p[:], p)
	}
	if fr.idle > 0 {
		fr.nc.SetReadDeadline(time.Now().Add(fr.idle))
	}
	n, err := fr.nc.Read(fr.buf[fr.w:])
	fr.lastRead, fr.lastFull = n, n == len(fr.buf)-fr.w
	fr.w += n
	if n > 0 {
		return nil
	}
	return err
}

// release returns a pooled buffer once the reader is done; the reader must
// not be used afterwards.
func (fr *frameReader) release() {
	if fr.pooled != nil {
		largeReadBufs.Put(fr.pooled)
		fr.pooled, fr.buf, fr.r, fr.w = nil, nil, 0, 0
	}
}

// protoHeader reads an 8-byte protocol header.
func (fr *frameReader) protoHeader() ([]byte, error) {
	for fr.w-fr.r < 8 {
		if err := fr.fill(8); err != nil {
			return nil, err
		}
	}
	h := fr.buf[fr.r : fr.r+8]
	fr.r += 8
	return h, nil
}

// next returns the next frame. The frame's body aliases the buffer and is
// valid until the next call.
func (fr *frameReader) next() (frames.Frame, error) {
	for {
		f, n, need, err := frames.ParseFrame(fr.buf[fr.r:fr.w], fr.max)
		if err != nil {
			return frames.Frame{}, err
		}
		if n > 0 {
			fr.r += n
			return f, nil
		}
		if err := fr.fill(need); err != nil {
			return frames.Frame{}, err
		}
	}
}

// buffered returns bytes read but not consumed (for handing over to TLS).
func (fr *frameReader) buffered() []byte { return fr.buf[fr.r:fr.w] }

// prefixConn replays bytes read ahead before reading from the socket; used
// when a client pipelines its TLS handshake after the TLS protocol header.
type prefixConn struct {
	net.Conn
	prefix []byte
}

func (p *prefixConn) Read(b []byte) (int, error) {
	if len(p.prefix) > 0 {
		n := copy(b, p.prefix)
		p.prefix = p.prefix[n:]
		return n, nil
	}
	return p.Conn.Read(b)
}
