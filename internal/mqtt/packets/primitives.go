package packets

import (
	"bytes"
	"encoding/binary"
	"strings"
	"unicode/utf8"
)

// The data representations of MQTT 5.0 §1.5 (3.1.1 §1.5). Every reader
// takes the buffer and an offset, checks that the bytes are there before it
// reads them, and returns the value and the offset after it.

func readByte(b []byte, off int, what string) (byte, int, error) {
	if off >= len(b) {
		return 0, off, malformed("", "packet ends before the "+what)
	}
	return b[off], off + 1, nil
}

func readUint16(b []byte, off int, what string) (uint16, int, error) {
	if len(b)-off < 2 {
		return 0, off, malformed("", "packet ends inside the "+what)
	}
	return binary.BigEndian.Uint16(b[off:]), off + 2, nil
}

func readUint32(b []byte, off int, what string) (uint32, int, error) {
	if len(b)-off < 4 {
		return 0, off, malformed("", "packet ends inside the "+what)
	}
	return binary.BigEndian.Uint32(b[off:]), off + 4, nil
}

// readVBI reads a variable byte integer (MQTT 5.0 §1.5.5). More than four
// bytes is a Malformed Packet. An encoding longer than needed (a sender
// violating [MQTT-1.5.5-1]) is accepted: it is unambiguous and bounded.
func readVBI(b []byte, off int, what string) (uint32, int, error) {
	var v uint32
	for i := 0; i < 4; i++ {
		if off >= len(b) {
			return 0, off, malformed("", "packet ends inside the "+what)
		}
		c := b[off]
		off++
		v |= uint32(c&0x7F) << (7 * i)
		if c&0x80 == 0 {
			return v, off, nil
		}
	}
	return 0, off, malformed("", what+" is a variable byte integer longer than 4 bytes") // §1.5.5
}

// readBinary reads two-byte-length-prefixed binary data (§1.5.6). The result
// aliases b.
func readBinary(b []byte, off int, what string) ([]byte, int, error) {
	if len(b)-off < 2 {
		return nil, off, malformed("", "packet ends inside the length of the "+what)
	}
	n := int(binary.BigEndian.Uint16(b[off:]))
	off += 2
	if len(b)-off < n {
		return nil, off, malformed("", "the "+what+" is longer than the rest of the packet")
	}
	return b[off : off+n : off+n], off + n, nil
}

// readString reads a UTF-8 encoded string (§1.5.4) and validates it. The
// result aliases b.
func readString(b []byte, off int, what string) ([]byte, int, error) {
	s, off, err := readBinary(b, off, what)
	if err != nil {
		return nil, off, err
	}
	if err := checkUTF8(s, what); err != nil {
		return nil, off, err
	}
	return s, off, nil
}

// checkUTF8 applies the rules for UTF-8 encoded strings: well-formed UTF-8
// with no surrogate code points (U+D800..U+DFFF) [MQTT-1.5.4-1], no
// U+0000 [MQTT-1.5.4-2] (3.1.1: [MQTT-1.5.3-1], [MQTT-1.5.3-2]). A
// byte order mark is data like any other character and is kept
// [MQTT-1.5.4-3]. Both violations are a Malformed Packet. unicode/utf8
// rejects overlong forms, surrogate halves and code points above U+10FFFF.
//
// The other characters the spec discourages (control characters and
// non-characters, "SHOULD NOT") are accepted.
func checkUTF8(s []byte, what string) error {
	if bytes.IndexByte(s, 0) >= 0 {
		return malformed("MQTT-1.5.4-2", what+" contains U+0000")
	}
	if !utf8.Valid(s) {
		return malformed("MQTT-1.5.4-1", what+" is not well-formed UTF-8")
	}
	return nil
}

func checkUTF8String(s string, what string) error {
	if strings.IndexByte(s, 0) >= 0 {
		return malformed("MQTT-1.5.4-2", what+" contains U+0000")
	}
	if !utf8.ValidString(s) {
		return malformed("MQTT-1.5.4-1", what+" is not well-formed UTF-8")
	}
	return nil
}

// ValidString reports whether s may be sent as an MQTT UTF-8 encoded string:
// at most 65535 bytes of well-formed UTF-8 without U+0000 [MQTT-1.5.4-1]
// [MQTT-1.5.4-2].
func ValidString(s string) error {
	if len(s) > 0xFFFF {
		return malformed("", "string of "+itoa(len(s))+" bytes is longer than 65535")
	}
	return checkUTF8String(s, "string")
}

// reuse returns old if it holds the same bytes as b, and string(b)
// otherwise. Decoding into a reused value then does not allocate for a
// string that repeats from packet to packet, such as the topic of a stream
// of PUBLISH packets.
func reuse(old string, b []byte) string {
	if old == string(b) { // compiled without a conversion
		return old
	}
	return string(b)
}

func appendUint16(dst []byte, v uint16) []byte { return append(dst, byte(v>>8), byte(v)) }

func appendUint32(dst []byte, v uint32) []byte {
	return append(dst, byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
}

// appendVBI appends v as a variable byte integer with the fewest bytes
// [MQTT-1.5.5-1]. v must not exceed MaxRemainingLength.
func appendVBI(dst []byte, v uint32) []byte {
	for {
		c := byte(v & 0x7F)
		v >>= 7
		if v == 0 {
			return append(dst, c)
		}
		dst = append(dst, c|0x80)
	}
}

func vbiLen(v uint32) int {
	switch {
	case v < 1<<7:
		return 1
	case v < 1<<14:
		return 2
	case v < 1<<21:
		return 3
	}
	return 4
}

// appendString appends a two-byte length and s. Callers check the length.
func appendString(dst []byte, s string) []byte {
	dst = appendUint16(dst, uint16(len(s)))
	return append(dst, s...)
}

func appendBinary(dst []byte, b []byte) []byte {
	dst = appendUint16(dst, uint16(len(b)))
	return append(dst, b...)
}

// checkEncString validates a string about to be encoded.
func checkEncString(s string, what string) error {
	if len(s) > 0xFFFF {
		return malformed("", what+" is longer than 65535 bytes")
	}
	return checkUTF8String(s, what)
}

func checkEncBinary(b []byte, what string) error {
	if len(b) > 0xFFFF {
		return malformed("", what+" is longer than 65535 bytes")
	}
	return nil
}
