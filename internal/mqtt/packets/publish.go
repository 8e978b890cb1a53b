package packets

// Publish is a PUBLISH packet (MQTT 5.0 §3.3, 3.1.1 §3.3).
//
// Payload aliases the buffer the packet was decoded from: with a Reader it
// is valid only until the next read. Copy it to keep it.
type Publish struct {
	Topic    string // may be empty in 5.0 when Properties.TopicAlias is set
	QoS      byte   // 0, 1 or 2
	Retain   bool
	Dup      bool
	PacketID uint16 // non-zero for QoS 1 and 2, absent (0) for QoS 0
	Payload  []byte
	// Properties (5.0 only). A PUBLISH from a client must not carry
	// Subscription Identifiers [MQTT-3.3.4-6]; that depends on the
	// direction, which the codec does not know, so the receiver checks it.
	Properties Properties
}

// Type returns TypePublish.
func (*Publish) Type() PacketType { return TypePublish }

// PUBLISH fixed header flags (MQTT 5.0 §3.3.1).
const (
	pubRetain = 0x01
	pubQoS    = 0x06
	pubDup    = 0x08
)

// Decode decodes a PUBLISH. Decoding into the same value again does not
// allocate when the topic repeats and there are no string properties
// (the topic string is reused when it is equal).
func (p *Publish) Decode(version byte, fh FixedHeader, body []byte) error {
	return inPacket(p.decode(version, fh, body), TypePublish)
}

func (p *Publish) decode(version byte, fh FixedHeader, b []byte) error {
	p.Properties.reset()
	topic := p.Topic
	p.Topic, p.QoS, p.Retain, p.Dup, p.PacketID, p.Payload = "", 0, false, false, 0, nil
	if fh.Type != TypePublish {
		return protocolErr("", "a "+fh.Type.String()+" header passed to the PUBLISH decoder")
	}
	if err := checkVersion(version); err != nil {
		return err
	}
	if fh.Flags > 0x0F {
		return malformed("", "flags wider than 4 bits")
	}
	p.QoS = (fh.Flags & pubQoS) >> 1
	p.Retain = fh.Flags&pubRetain != 0
	p.Dup = fh.Flags&pubDup != 0
	if p.QoS == 3 {
		return malformed("MQTT-3.3.1-4", "QoS 3")
	}
	if p.Dup && p.QoS == 0 {
		return malformed("MQTT-3.3.1-2", "DUP set on a QoS 0 message")
	}
	t, off, err := readString(b, 0, "topic name") // [MQTT-3.3.2-1]
	if err != nil {
		return err
	}
	p.Topic = reuse(topic, t)
	if err := checkTopicNameChars(p.Topic); err != nil {
		return err
	}
	if p.QoS > 0 { // [MQTT-2.3.1-5]: no identifier at QoS 0
		if p.PacketID, off, err = readUint16(b, off, "packet identifier"); err != nil {
			return err
		}
		if err := checkPacketID(p.PacketID); err != nil {
			return err
		}
	}
	if version == Version5 {
		if off, err = p.Properties.decode(b, off, TypePublish); err != nil {
			return err
		}
	}
	if p.Topic == "" && p.Properties.TopicAlias == 0 {
		// 3.1.1: [MQTT-4.7.3-1]. 5.0 §3.3.2.3.4: a zero-length topic
		// without a Topic Alias is a Protocol Error.
		return protocolErr("MQTT-4.7.3-1", "empty topic name without a Topic Alias")
	}
	if off < len(b) {
		p.Payload = b[off:len(b):len(b)]
	}
	return nil
}

// Append encodes the PUBLISH.
func (p *Publish) Append(dst []byte, version byte) ([]byte, error) {
	out, err := p.append(dst, version)
	return out, inPacket(err, TypePublish)
}

func (p *Publish) append(dst []byte, version byte) ([]byte, error) {
	if err := checkVersion(version); err != nil {
		return dst, err
	}
	if p.QoS > 2 {
		return dst, malformed("MQTT-3.3.1-4", "QoS "+itoa(int(p.QoS)))
	}
	first := byte(TypePublish)<<4 | p.QoS<<1
	if p.Retain {
		first |= pubRetain
	}
	if p.Dup {
		if p.QoS == 0 {
			return dst, malformed("MQTT-3.3.1-2", "DUP set on a QoS 0 message")
		}
		first |= pubDup
	}
	if err := checkEncString(p.Topic, "topic name"); err != nil {
		return dst, err
	}
	if err := checkTopicNameChars(p.Topic); err != nil {
		return dst, err
	}
	n := 2 + len(p.Topic) + len(p.Payload)
	if p.QoS > 0 {
		if err := checkPacketID(p.PacketID); err != nil {
			return dst, err
		}
		n += 2
	}
	pl := 0
	if version == Version5 {
		var err error
		if pl, err = p.Properties.size(TypePublish); err != nil {
			return dst, err
		}
		n += vbiLen(uint32(pl)) + pl
	}
	if p.Topic == "" && (version != Version5 || p.Properties.TopicAlias == 0) {
		return dst, protocolErr("MQTT-4.7.3-1", "empty topic name without a Topic Alias")
	}
	dst, err := appendHeader(dst, first, n)
	if err != nil {
		return dst, err
	}
	dst = appendString(dst, p.Topic)
	if p.QoS > 0 {
		dst = appendUint16(dst, p.PacketID)
	}
	if version == Version5 {
		dst = p.Properties.append(dst, pl)
	}
	return append(dst, p.Payload...), nil
}

// Puback is a PUBACK packet (MQTT 5.0 §3.4), the answer to a QoS 1 PUBLISH.
type Puback struct {
	PacketID   uint16
	ReasonCode ReasonCode // 5.0 only
	Properties Properties // 5.0 only
}

// Pubrec is a PUBREC packet (MQTT 5.0 §3.5), the first answer to a QoS 2
// PUBLISH.
type Pubrec struct {
	PacketID   uint16
	ReasonCode ReasonCode // 5.0 only
	Properties Properties // 5.0 only
}

// Pubrel is a PUBREL packet (MQTT 5.0 §3.6), the answer to a PUBREC.
type Pubrel struct {
	PacketID   uint16
	ReasonCode ReasonCode // 5.0 only
	Properties Properties // 5.0 only
}

// Pubcomp is a PUBCOMP packet (MQTT 5.0 §3.7), the answer to a PUBREL.
type Pubcomp struct {
	PacketID   uint16
	ReasonCode ReasonCode // 5.0 only
	Properties Properties // 5.0 only
}

// Type returns TypePuback.
func (*Puback) Type() PacketType { return TypePuback }

// Type returns TypePubrec.
func (*Pubrec) Type() PacketType { return TypePubrec }

// Type returns TypePubrel.
func (*Pubrel) Type() PacketType { return TypePubrel }

// Type returns TypePubcomp.
func (*Pubcomp) Type() PacketType { return TypePubcomp }

// Decode decodes a PUBACK.
func (a *Puback) Decode(version byte, fh FixedHeader, body []byte) error {
	return decodeAck(TypePuback, &pubackReasons, version, fh, body, &a.PacketID, &a.ReasonCode, &a.Properties)
}

// Decode decodes a PUBREC.
func (a *Pubrec) Decode(version byte, fh FixedHeader, body []byte) error {
	return decodeAck(TypePubrec, &pubackReasons, version, fh, body, &a.PacketID, &a.ReasonCode, &a.Properties)
}

// Decode decodes a PUBREL.
func (a *Pubrel) Decode(version byte, fh FixedHeader, body []byte) error {
	return decodeAck(TypePubrel, &pubrelReasons, version, fh, body, &a.PacketID, &a.ReasonCode, &a.Properties)
}

// Decode decodes a PUBCOMP.
func (a *Pubcomp) Decode(version byte, fh FixedHeader, body []byte) error {
	return decodeAck(TypePubcomp, &pubrelReasons, version, fh, body, &a.PacketID, &a.ReasonCode, &a.Properties)
}

// Append encodes the PUBACK.
func (a *Puback) Append(dst []byte, version byte) ([]byte, error) {
	return appendAck(dst, TypePuback, &pubackReasons, version, a.PacketID, a.ReasonCode, &a.Properties)
}

// Append encodes the PUBREC.
func (a *Pubrec) Append(dst []byte, version byte) ([]byte, error) {
	return appendAck(dst, TypePubrec, &pubackReasons, version, a.PacketID, a.ReasonCode, &a.Properties)
}

// Append encodes the PUBREL.
func (a *Pubrel) Append(dst []byte, version byte) ([]byte, error) {
	return appendAck(dst, TypePubrel, &pubrelReasons, version, a.PacketID, a.ReasonCode, &a.Properties)
}

// Append encodes the PUBCOMP.
func (a *Pubcomp) Append(dst []byte, version byte) ([]byte, error) {
	return appendAck(dst, TypePubcomp, &pubrelReasons, version, a.PacketID, a.ReasonCode, &a.Properties)
}

// decodeAck decodes the shared layout of PUBACK, PUBREC, PUBREL and PUBCOMP:
// a packet identifier, then in 5.0 an optional reason code and optional
// properties. A remaining length of 2 means Success without properties, 3
// a reason code without properties (MQTT 5.0 §3.4.2.1).
func decodeAck(t PacketType, codes *reasonSet, version byte, fh FixedHeader, b []byte,
	id *uint16, rc *ReasonCode, props *Properties) error {
	props.reset()
	*id, *rc = 0, 0
	err := func() error {
		if err := checkHeader(t, version, fh); err != nil {
			return err
		}
		v, off, err := readUint16(b, 0, "packet identifier")
		if err != nil {
			return err
		}
		*id = v
		if err := checkPacketID(v); err != nil {
			return err
		}
		if version == Version5 && off < len(b) {
			*rc = ReasonCode(b[off])
			off++
			if !codes.has(*rc) {
				return protocolErr("", "reason code 0x"+hex2(byte(*rc))+" is not a "+t.String()+" reason code")
			}
			if off < len(b) {
				if off, err = props.decode(b, off, t); err != nil {
					return err
				}
			}
		}
		return endCheck(b, off)
	}()
	return inPacket(err, t)
}

func appendAck(dst []byte, t PacketType, codes *reasonSet, version byte, id uint16, rc ReasonCode,
	props *Properties) ([]byte, error) {
	if err := checkVersion(version); err != nil {
		return dst, inPacket(err, t)
	}
	if err := checkPacketID(id); err != nil {
		return dst, inPacket(err, t)
	}
	first := byte(t) << 4
	if t == TypePubrel {
		first |= 0x02 // [MQTT-3.6.1-1]
	}
	if version != Version5 {
		return append(dst, first, 2, byte(id>>8), byte(id)), nil
	}
	if !codes.has(rc) {
		return dst, inPacket(protocolErr("", rc.String()+" is not a "+t.String()+" reason code"), t)
	}
	pl, err := props.size(t)
	if err != nil {
		return dst, inPacket(err, t)
	}
	switch {
	case pl == 0 && rc == ReasonSuccess:
		return append(dst, first, 2, byte(id>>8), byte(id)), nil
	case pl == 0:
		return append(dst, first, 3, byte(id>>8), byte(id), byte(rc)), nil
	}
	if dst, err = appendHeader(dst, first, 3+vbiLen(uint32(pl))+pl); err != nil {
		return dst, inPacket(err, t)
	}
	dst = append(dst, byte(id>>8), byte(id), byte(rc))
	return props.append(dst, pl), nil
}
