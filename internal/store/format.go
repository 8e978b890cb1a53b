package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// On-disk constants; doc.go describes the format.
const (
	segMagic      = "ENMJRNL\x00"
	formatVersion = 1
	segHeaderSize = 32
	recHeaderSize = 17

	typePut       = 1
	typeDelete    = 2
	flagBatchMore = 0x80

	// MaxDataSize is the largest data a record may carry (256 MiB).
	MaxDataSize = 1 << 28
	// maxBatchBytes bounds one PutBatch, so that a segment file stays
	// below 4 GiB and offsets fit the index's uint32.
	maxBatchBytes = 1 << 30
	// maxSegmentSize is the largest Options.SegmentSize.
	maxSegmentSize = 1 << 30
	// minSegmentSize is the smallest Options.SegmentSize (useful in tests).
	minSegmentSize = 256
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// segHeader returns the file header of segment seq.
func segHeader(seq uint64) []byte {
	h := make([]byte, segHeaderSize)
	copy(h, segMagic)
	binary.LittleEndian.PutUint16(h[8:], formatVersion)
	binary.LittleEndian.PutUint16(h[10:], segHeaderSize)
	binary.LittleEndian.PutUint64(h[16:], seq)
	binary.LittleEndian.PutUint32(h[24:], crc32.Checksum(h[:24], castagnoli))
	return h
}

var errBadHeader = errors.New("bad segment header")

// checkSegHeader validates h as the header of segment seq.
func checkSegHeader(h []byte, seq uint64) error {
	if len(h) < segHeaderSize {
		return fmt.Errorf("%w: file is %d bytes, shorter than the header", errBadHeader, len(h))
	}
	switch {
	case string(h[:8]) != segMagic:
		return fmt.Errorf("%w: bad magic %q", errBadHeader, h[:8])
	case crc32.Checksum(h[:24], castagnoli) != binary.LittleEndian.Uint32(h[24:]):
		return fmt.Errorf("%w: header CRC mismatch", errBadHeader)
	case binary.LittleEndian.Uint16(h[8:]) != formatVersion:
		return fmt.Errorf("%w: unsupported version %d", errBadHeader, binary.LittleEndian.Uint16(h[8:]))
	case binary.LittleEndian.Uint16(h[10:]) != segHeaderSize:
		return fmt.Errorf("%w: header size %d", errBadHeader, binary.LittleEndian.Uint16(h[10:]))
	case binary.LittleEndian.Uint64(h[16:]) != seq:
		return fmt.Errorf("%w: sequence %d in a file named for %d", errBadHeader, binary.LittleEndian.Uint64(h[16:]), seq)
	}
	return nil
}

// recHeader is a decoded record header.
type recHeader struct {
	n    uint32 // data length
	typ  byte   // typePut or typeDelete, flag bits removed
	more bool   // flagBatchMore
	key  uint64
	crc  uint32
}

// appendRecord appends the framing and data of one record to buf.
func appendRecord(buf []byte, typ byte, key uint64, data []byte) []byte {
	start := len(buf)
	buf = binary.LittleEndian.AppendUint32(buf, uint32(len(data)))
	buf = append(buf, typ)
	buf = binary.LittleEndian.AppendUint64(buf, key)
	crc := crc32.Update(0, castagnoli, buf[start:start+13])
	crc = crc32.Update(crc, castagnoli, data)
	buf = binary.LittleEndian.AppendUint32(buf, crc)
	return append(buf, data...)
}

// decodeRecHeader parses the 17 bytes of h. It checks the type but not the
// CRC, which needs the data (see recHeader.verify).
func decodeRecHeader(h []byte) (recHeader, error) {
	r := recHeader{
		n:    binary.LittleEndian.Uint32(h[0:]),
		typ:  h[4] &^ flagBatchMore,
		more: h[4]&flagBatchMore != 0,
		key:  binary.LittleEndian.Uint64(h[5:]),
		crc:  binary.LittleEndian.Uint32(h[13:]),
	}
	switch {
	case r.typ != typePut && r.typ != typeDelete:
		return r, fmt.Errorf("unknown record type %#x", h[4])
	case r.n > MaxDataSize:
		return r, fmt.Errorf("record length %d over the limit", r.n)
	case r.typ == typeDelete && r.n != 0:
		return r, fmt.Errorf("delete record with %d data bytes", r.n)
	}
	return r, nil
}

// verify checks the CRC of the record whose header bytes are h and data is
// data.
func (r recHeader) verify(h, data []byte) error {
	crc := crc32.Update(0, castagnoli, h[:13])
	crc = crc32.Update(crc, castagnoli, data)
	if crc != r.crc {
		return errors.New("record CRC mismatch")
	}
	return nil
}
