package packets

import (
	"io"
	"sync"
)

// Protocol levels (the "Protocol Version" byte of CONNECT).
const (
	Version311 byte = 4 // MQTT 3.1.1
	Version5   byte = 5 // MQTT 5.0
)

// MaxRemainingLength is the largest remaining length a four-byte variable
// byte integer can express (MQTT 5.0 §1.5.5, MQTT 3.1.1 §2.2.3).
const MaxRemainingLength = 268_435_455

// MaxPacketSize is the size of the largest possible packet: one type byte,
// four remaining-length bytes and MaxRemainingLength bytes.
const MaxPacketSize = 1 + 4 + MaxRemainingLength

// PacketType is the MQTT control packet type, the high nibble of the first
// byte of every packet (MQTT 5.0 §2.1.2).
type PacketType byte

// Control packet types.
const (
	TypeConnect     PacketType = 1
	TypeConnack     PacketType = 2
	TypePublish     PacketType = 3
	TypePuback      PacketType = 4
	TypePubrec      PacketType = 5
	TypePubrel      PacketType = 6
	TypePubcomp     PacketType = 7
	TypeSubscribe   PacketType = 8
	TypeSuback      PacketType = 9
	TypeUnsubscribe PacketType = 10
	TypeUnsuback    PacketType = 11
	TypePingreq     PacketType = 12
	TypePingresp    PacketType = 13
	TypeDisconnect  PacketType = 14
	TypeAuth        PacketType = 15 // MQTT 5.0 only
)

var typeNames = [16]string{"Reserved", "CONNECT", "CONNACK", "PUBLISH", "PUBACK", "PUBREC", "PUBREL",
	"PUBCOMP", "SUBSCRIBE", "SUBACK", "UNSUBSCRIBE", "UNSUBACK", "PINGREQ", "PINGRESP", "DISCONNECT", "AUTH"}

func (t PacketType) String() string {
	if t < 16 {
		return typeNames[t]
	}
	return "packet type " + itoa(int(t))
}

// FixedHeader is the first part of every packet (MQTT 5.0 §2.1.1): the
// packet type, the four flag bits and the remaining length (the number of
// bytes after the fixed header).
type FixedHeader struct {
	Type            PacketType
	Flags           byte // low nibble of the first byte
	RemainingLength int
}

// Packet is one MQTT control packet. The concrete types are *Connect,
// *Connack, *Publish, *Puback, *Pubrec, *Pubrel, *Pubcomp, *Subscribe,
// *Suback, *Unsubscribe, *Unsuback, *Pingreq, *Pingresp, *Disconnect and
// *Auth.
type Packet interface {
	// Type returns the control packet type.
	Type() PacketType
	// Decode overwrites the packet with the one in body, read with the
	// given protocol level (Version311 or Version5; CONNECT carries its own
	// level and ignores it). fh gives the type and flags; body is the
	// variable header and payload, and its length is the remaining length
	// (fh.RemainingLength is not consulted). Byte slices in the result
	// alias body. Slices the value held before are reused.
	Decode(version byte, fh FixedHeader, body []byte) error
	// Append appends the encoded packet (fixed header included) to dst.
	Append(dst []byte, version byte) ([]byte, error)
}

// New returns a new zero packet of type t, or nil if t is not a packet type.
func New(t PacketType) Packet {
	switch t {
	case TypeConnect:
		return new(Connect)
	case TypeConnack:
		return new(Connack)
	case TypePublish:
		return new(Publish)
	case TypePuback:
		return new(Puback)
	case TypePubrec:
		return new(Pubrec)
	case TypePubrel:
		return new(Pubrel)
	case TypePubcomp:
		return new(Pubcomp)
	case TypeSubscribe:
		return new(Subscribe)
	case TypeSuback:
		return new(Suback)
	case TypeUnsubscribe:
		return new(Unsubscribe)
	case TypeUnsuback:
		return new(Unsuback)
	case TypePingreq:
		return new(Pingreq)
	case TypePingresp:
		return new(Pingresp)
	case TypeDisconnect:
		return new(Disconnect)
	case TypeAuth:
		return new(Auth)
	}
	return nil
}

// Decode decodes one packet from its fixed header and body (the bytes after
// the fixed header) for the given protocol level. Byte slices in the result
// (Publish.Payload, passwords, binary properties) alias body.
//
// version is the level the connection's CONNECT announced: Version311 or
// Version5. A CONNECT is decoded whatever version says, since it carries its
// own level. With any other version, packets other than CONNECT are
// rejected with Protocol Error: the first packet on a connection must be a
// CONNECT [MQTT-3.1.0-1].
//
// On error the packet is nil, except for a CONNECT: then the *Connect holds
// the fields read before the failure, notably ProtocolVersion, so that a
// server can refuse it with a CONNACK the client understands.
func Decode(version byte, fh FixedHeader, body []byte) (Packet, error) {
	p := New(fh.Type)
	if p == nil {
		return nil, &Error{Code: ReasonMalformedPacket, Detail: "reserved packet type 0"}
	}
	if err := p.Decode(version, fh, body); err != nil {
		if fh.Type == TypeConnect {
			return p, err
		}
		return nil, err
	}
	return p, nil
}

// Append appends the encoding of p for the given protocol level to dst. It
// refuses to encode a packet that Decode would reject, returning an *Error
// whose code says why. Fields that the version cannot carry (properties and
// reason codes in 3.1.1) are left out. A CONNECT is encoded with its own
// ProtocolVersion when that is set.
func Append(dst []byte, p Packet, version byte) ([]byte, error) {
	return p.Append(dst, version)
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// WriteTo encodes p for the given protocol level and writes it to w with a
// single Write call, so that concurrent writers holding a lock per call do
// not interleave packets.
func WriteTo(w io.Writer, p Packet, version byte) (int64, error) {
	bp := bufPool.Get().(*[]byte)
	b, err := p.Append((*bp)[:0], version)
	var n int
	if err == nil {
		n, err = w.Write(b)
	}
	if cap(b) <= 64<<10 {
		*bp = b[:0]
		bufPool.Put(bp)
	}
	return int64(n), err
}

// checkVersion validates the protocol level for a packet other than CONNECT.
func checkVersion(version byte) error {
	switch version {
	case Version311, Version5:
		return nil
	case 0:
		return protocolErr("MQTT-3.1.0-1", "protocol level unknown: the first packet must be a CONNECT")
	}
	return errorf(ReasonUnsupportedProtocolVersion, "", "unsupported protocol level "+itoa(int(version)))
}

// checkHeader validates the protocol level and the fixed-header flags of
// every packet type except PUBLISH, whose flags carry DUP, QoS and RETAIN.
func checkHeader(t PacketType, version byte, fh FixedHeader) error {
	if fh.Type != t {
		return protocolErr("", "a "+fh.Type.String()+" header passed to the "+t.String()+" decoder")
	}
	if t != TypeConnect {
		if err := checkVersion(version); err != nil {
			return err
		}
	}
	if t == TypeAuth && version != Version5 {
		// Packet type 15 is reserved in 3.1.1.
		return malformed("", "packet type 15 (AUTH) is reserved in 3.1.1")
	}
	want := byte(0)
	if t == TypePubrel || t == TypeSubscribe || t == TypeUnsubscribe {
		want = 0x02
	}
	if fh.Flags != want {
		// [MQTT-2.2.2-1] [MQTT-2.2.2-2] in 3.1.1; [MQTT-2.1.3-1] in 5.0.
		return malformed("MQTT-2.2.2-1", "reserved fixed header flags 0x"+hex2(fh.Flags)+", want 0x"+hex2(want))
	}
	return nil
}

// appendHeader appends the fixed header of a packet with n bytes of body.
func appendHeader(dst []byte, first byte, n int) ([]byte, error) {
	if n > MaxRemainingLength {
		return dst, errorf(ReasonPacketTooLarge, "", "remaining length "+itoa(n)+" exceeds 268435455")
	}
	dst = append(dst, first)
	return appendVBI(dst, uint32(n)), nil
}

// endCheck reports a packet whose fields do not fill its remaining length.
func endCheck(body []byte, off int) error {
	if off != len(body) {
		return malformed("", itoa(len(body)-off)+" bytes left over after the last field")
	}
	return nil
}

// checkPacketID validates a packet identifier that must be present:
// identifiers are non-zero [MQTT-2.3.1-1] (5.0: [MQTT-2.2.1-3]).
func checkPacketID(id uint16) error {
	if id == 0 {
		return protocolErr("MQTT-2.3.1-1", "packet identifier 0")
	}
	return nil
}
