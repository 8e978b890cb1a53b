package packets

import (
	"bufio"
	"errors"
	"io"
)

// ByteReader is the stream a Reader reads from; *bufio.Reader is one.
type ByteReader interface {
	io.Reader
	io.ByteReader
}

// Reader reads packets one at a time from a byte stream.
//
// It reads the fixed header byte by byte, rejects a packet type of 0 and a
// remaining length longer than four bytes as Malformed Packet, and rejects a
// packet larger than the configured maximum as Packet too large as soon as
// the remaining length is known, before it allocates or reads the body. The
// body buffer then grows with the bytes that actually arrive, so a peer
// announcing a large packet and sending nothing costs no memory.
//
// The body buffer is reused: the slices returned by Next, and the byte
// slices in packets returned by ReadPacket (Publish.Payload, passwords,
// binary properties), are valid only until the next call.
//
// After an error from the stream or in the fixed header (framing errors),
// the Reader returns that error from every later call: the stream position
// inside the packet is lost. After a decode error from ReadPacket the
// stream is still at a packet boundary, but MQTT requires closing the
// connection anyway (MQTT 5.0 §4.13, 3.1.1 [MQTT-4.8.0-1]).
type Reader struct {
	// Version is the protocol level packets are decoded with (Version311
	// or Version5). When it is 0, ReadPacket sets it from the first
	// CONNECT it decodes, and rejects anything else first [MQTT-3.1.0-1].
	Version byte

	src ByteReader
	max int
	buf []byte
	err error
}

// keepBuf is the largest body buffer kept between packets; a larger one is
// dropped once a smaller packet arrives.
const keepBuf = 64 << 10

// NewReader returns a Reader over r that accepts packets of at most
// maxPacketSize bytes (fixed header included, as MQTT 5.0 §3.1.2.11.4
// counts). maxPacketSize <= 0 or above MaxPacketSize means the protocol
// maximum. r is wrapped in a bufio.Reader unless it is a ByteReader.
func NewReader(r io.Reader, maxPacketSize int) *Reader {
	br, ok := r.(ByteReader)
	if !ok {
		br = bufio.NewReader(r)
	}
	rd := &Reader{src: br}
	rd.SetMaxPacketSize(maxPacketSize)
	return rd
}

// SetMaxPacketSize changes the maximum packet size for the next packets.
func (r *Reader) SetMaxPacketSize(n int) {
	if n <= 0 || n > MaxPacketSize {
		n = MaxPacketSize
	}
	r.max = n
}

// MaxPacketSize returns the maximum packet size in force.
func (r *Reader) MaxPacketSize() int { return r.max }

func (r *Reader) fail(err error) error {
	r.err = err
	return err
}

// Next reads the next packet's fixed header and body without decoding it.
// body aliases the Reader's buffer until the next call. At a clean end of
// stream before a packet starts, err is io.EOF; inside a packet it is
// io.ErrUnexpectedEOF.
func (r *Reader) Next() (fh FixedHeader, body []byte, err error) {
	if r.err != nil {
		return fh, nil, r.err
	}
	b0, err := r.src.ReadByte()
	if err != nil {
		return fh, nil, r.fail(err)
	}
	fh.Type, fh.Flags = PacketType(b0>>4), b0&0x0F
	if fh.Type == 0 {
		// [MQTT-2.2.2-2]; 5.0 §2.1.2: type 0 is reserved.
		return fh, nil, r.fail(&Error{Code: ReasonMalformedPacket, Detail: "reserved packet type 0"})
	}
	var n uint32
	hdr := 1
	for i := 0; ; i++ {
		c, err := r.src.ReadByte()
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return fh, nil, r.fail(err)
		}
		hdr++
		n |= uint32(c&0x7F) << (7 * i)
		if c&0x80 == 0 {
			break
		}
		if i == 3 {
			return fh, nil, r.fail(&Error{Code: ReasonMalformedPacket, Packet: fh.Type,
				Detail: "remaining length longer than 4 bytes"})
		}
	}
	fh.RemainingLength = int(n)
	if hdr+int(n) > r.max {
		// MQTT 5.0 §3.1.2.11.4 (server limit) and §3.2.2.3.6 (client limit).
		return fh, nil, r.fail(&Error{Code: ReasonPacketTooLarge, Packet: fh.Type,
			Detail: "packet of " + itoa(hdr+int(n)) + " bytes exceeds the maximum of " + itoa(r.max)})
	}
	body, err = r.readBody(int(n))
	if err != nil {
		return fh, nil, r.fail(err)
	}
	return fh, body, nil
}

// Release drops the body buffer kept between packets (the last packet's
// body must no longer be used): for a connection that will be idle.
func (r *Reader) Release() { r.buf = nil }

// readBody reads n bytes into the reused buffer, growing it no faster than
// the data arrives.
func (r *Reader) readBody(n int) ([]byte, error) {
	if cap(r.buf) > keepBuf && n <= keepBuf {
		r.buf = nil
	}
	if n <= cap(r.buf) {
		b := r.buf[:n]
		if _, err := io.ReadFull(r.src, b); err != nil {
			return nil, unexpected(err)
		}
		return b, nil
	}
	b := r.buf[:0]
	for len(b) < n {
		if len(b) == cap(b) {
			c := min(n, max(2*cap(b), 4096))
			nb := make([]byte, len(b), c)
			copy(nb, b)
			b = nb
		}
		k, err := io.ReadFull(r.src, b[len(b):cap(b)])
		b = b[:len(b)+k]
		if err != nil {
			r.buf = b[:0]
			return nil, unexpected(err)
		}
	}
	r.buf = b[:0]
	return b, nil
}

func unexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// ReadPacketInto is ReadPacket with a PUBLISH decoded into pub, which it
// returns: a loop that is done with each packet before reading the next
// then allocates nothing for a stream of PUBLISH packets with a repeating
// topic (see Decode). Other packets are new values.
func (r *Reader) ReadPacketInto(pub *Publish) (Packet, error) {
	fh, body, err := r.Next()
	if err != nil {
		return nil, err
	}
	if fh.Type != TypePublish {
		return r.decoded(fh, body)
	}
	if err := pub.Decode(r.Version, fh, body); err != nil {
		return nil, err
	}
	return pub, nil
}

// ReadPacket reads and decodes the next packet with r.Version. The returned
// packet is newly allocated, but its byte slices alias the Reader's buffer
// until the next call. Decode errors are *Error values; see Reader for
// which errors leave the stream usable. As with Decode, a CONNECT that fails
// to decode is returned with the error, holding the fields read so far.
func (r *Reader) ReadPacket() (Packet, error) {
	fh, body, err := r.Next()
	if err != nil {
		return nil, err
	}
	return r.decoded(fh, body)
}

// decoded decodes a packet Next returned; a CONNECT sets the Reader's
// Version when it has none.
func (r *Reader) decoded(fh FixedHeader, body []byte) (Packet, error) {
	p, err := Decode(r.Version, fh, body)
	if err != nil {
		return p, err
	}
	if c, ok := p.(*Connect); ok && r.Version == 0 {
		r.Version = c.ProtocolVersion
	}
	return p, nil
}
