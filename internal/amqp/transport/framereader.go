package transport

import (
	"net"
	"time"

	"github.com/enmasse-go/enmasse/internal/amqp/frames"
)

// frameReader reads protocol headers and frames from a socket through one
// buffer, so bytes a peer pipelines after a header are not lost. Its buffer
// grows only to the size of the largest frame allowed, and only once a frame
// header has declared that size.
type frameReader struct {
	nc      net.Conn
	buf     []byte
	r, w    int           // unread bytes are buf[r:w]
	max     uint32        // max frame size accepted
	idle    time.Duration // read deadline per read; 0 = none
	minGrow int
}

func newFrameReader(nc net.Conn, max uint32) *frameReader {
	return &frameReader{nc: nc, buf: make([]byte, 16<<10), max: max}
}

// fill reads at least one more byte, making room for need bytes in total.
func (fr *frameReader) fill(need int) error {
	if fr.r > 0 && (fr.r == fr.w || len(fr.buf)-fr.r < need) {
		n := copy(fr.buf, fr.buf[fr.r:fr.w])
		fr.r, fr.w = 0, n
	}
	if need > len(fr.buf) {
		nb := make([]byte, max(need, 2*len(fr.buf)))
		if uint64(len(nb)) > uint64(fr.max)+frames.HeaderSize {
			nb = nb[:need]
		}
		copy(nb, fr.buf[fr.r:fr.w])
		fr.buf, fr.w, fr.r = nb, fr.w-fr.r, 0
	}
	if fr.idle > 0 {
		fr.nc.SetReadDeadline(time.Now().Add(fr.idle))
	}
	n, err := fr.nc.Read(fr.buf[fr.w:])
	fr.w += n
	if n > 0 {
		return nil
	}
	return err
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
