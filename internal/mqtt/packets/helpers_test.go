package packets

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"testing"
)

// Byte builders for hand-written packets. They encode independently of the
// codec, so the catalog stays a check on it.

// cat joins byte pieces.
func cat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// str is a UTF-8 string or binary field: two-byte big-endian length, then
// the bytes.
func str(s string) []byte { return append([]byte{byte(len(s) >> 8), byte(len(s))}, s...) }

// vbi is a variable byte integer, written out by hand.
func vbi(v int) []byte {
	var out []byte
	for {
		c := byte(v % 128)
		v /= 128
		if v > 0 {
			c |= 128
		}
		out = append(out, c)
		if v == 0 {
			return out
		}
	}
}

// pkt builds a packet from its first byte and body pieces, computing the
// remaining length.
func pkt(first byte, body ...[]byte) []byte {
	b := cat(body...)
	return cat([]byte{first}, vbi(len(b)), b)
}

// props builds a property section: length, then the properties.
func props(parts ...[]byte) []byte {
	b := cat(parts...)
	return cat(vbi(len(b)), b)
}

// splitPacket splits a whole packet into its fixed header and body.
func splitPacket(t testing.TB, raw []byte) (FixedHeader, []byte) {
	t.Helper()
	r := NewReader(bytes.NewReader(raw), 0)
	fh, body, err := r.Next()
	if err != nil {
		t.Fatalf("framing % x: %v", raw, err)
	}
	return fh, body
}

// decodeRaw frames and decodes one whole packet.
func decodeRaw(version byte, raw []byte) (Packet, error) {
	r := NewReader(bytes.NewReader(raw), 0)
	r.Version = version
	p, err := r.ReadPacket()
	if err != nil {
		return nil, err
	}
	if _, _, err := r.Next(); err == nil {
		return nil, fmt.Errorf("bytes left after the packet")
	}
	return p, nil
}

// codeOf returns the reason code an error carries, or 0xFF if none.
func codeOf(err error) ReasonCode {
	var rc ReasonCode
	if errors.As(err, &rc) {
		return rc
	}
	return 0xFF
}

// equal compares packets deeply, treating nil and empty slices as equal
// (Decode produces nil for absent byte fields, tests write either).
func equal(a, b any) bool { return deepEqual(reflect.ValueOf(a), reflect.ValueOf(b)) }

func deepEqual(a, b reflect.Value) bool {
	if a.IsValid() != b.IsValid() {
		return false
	}
	if !a.IsValid() {
		return true
	}
	if a.Type() != b.Type() {
		return false
	}
	switch a.Kind() {
	case reflect.Pointer, reflect.Interface:
		if a.IsNil() || b.IsNil() {
			return a.IsNil() == b.IsNil()
		}
		return deepEqual(a.Elem(), b.Elem())
	case reflect.Slice:
		if a.Len() != b.Len() {
			return false
		}
		for i := 0; i < a.Len(); i++ {
			if !deepEqual(a.Index(i), b.Index(i)) {
				return false
			}
		}
		return true
	case reflect.Struct:
		for i := 0; i < a.NumField(); i++ {
			if !deepEqual(a.Field(i), b.Field(i)) {
				return false
			}
		}
		return true
	}
	return a.Equal(b)
}

// show formats a packet for failure messages.
func show(p any) string {
	if p == nil {
		return "<nil>"
	}
	return fmt.Sprintf("%T%+v", p, deref(p))
}

func deref(p any) any {
	v := reflect.ValueOf(p)
	if v.Kind() == reflect.Pointer && !v.IsNil() {
		return v.Elem().Interface()
	}
	return p
}
