package packets

// Pingreq is a PINGREQ packet (MQTT 5.0 §3.12): no variable header, no
// payload.
type Pingreq struct{}

// Pingresp is a PINGRESP packet (MQTT 5.0 §3.13): no variable header, no
// payload.
type Pingresp struct{}

// Type returns TypePingreq.
func (*Pingreq) Type() PacketType { return TypePingreq }

// Type returns TypePingresp.
func (*Pingresp) Type() PacketType { return TypePingresp }

// Decode checks that a PINGREQ is empty.
func (*Pingreq) Decode(version byte, fh FixedHeader, body []byte) error {
	return inPacket(decodeEmpty(TypePingreq, version, fh, body), TypePingreq)
}

// Decode checks that a PINGRESP is empty.
func (*Pingresp) Decode(version byte, fh FixedHeader, body []byte) error {
	return inPacket(decodeEmpty(TypePingresp, version, fh, body), TypePingresp)
}

func decodeEmpty(t PacketType, version byte, fh FixedHeader, b []byte) error {
	if err := checkHeader(t, version, fh); err != nil {
		return err
	}
	return endCheck(b, 0)
}

// Append encodes a PINGREQ.
func (*Pingreq) Append(dst []byte, version byte) ([]byte, error) {
	if err := checkVersion(version); err != nil {
		return dst, inPacket(err, TypePingreq)
	}
	return append(dst, byte(TypePingreq)<<4, 0), nil
}

// Append encodes a PINGRESP.
func (*Pingresp) Append(dst []byte, version byte) ([]byte, error) {
	if err := checkVersion(version); err != nil {
		return dst, inPacket(err, TypePingresp)
	}
	return append(dst, byte(TypePingresp)<<4, 0), nil
}

// Disconnect is a DISCONNECT packet (MQTT 5.0 §3.14; in 3.1.1 §3.14 it is
// empty and only a client sends it).
type Disconnect struct {
	ReasonCode ReasonCode // 5.0 only; 0 is Normal disconnection
	Properties Properties // 5.0 only
}

// Type returns TypeDisconnect.
func (*Disconnect) Type() PacketType { return TypeDisconnect }

// Decode decodes a DISCONNECT. In 5.0 a remaining length of 0 means Normal
// disconnection without properties, 1 a reason code without properties
// (MQTT 5.0 §3.14.2.1).
func (d *Disconnect) Decode(version byte, fh FixedHeader, body []byte) error {
	return inPacket(decodeReason(TypeDisconnect, &disconnectReasons, version, fh, body, &d.ReasonCode, &d.Properties), TypeDisconnect)
}

// Append encodes a DISCONNECT.
func (d *Disconnect) Append(dst []byte, version byte) ([]byte, error) {
	out, err := appendReason(dst, TypeDisconnect, &disconnectReasons, version, d.ReasonCode, &d.Properties)
	return out, inPacket(err, TypeDisconnect)
}

// Auth is an AUTH packet (MQTT 5.0 §3.15), for extended authentication. It
// does not exist in 3.1.1.
type Auth struct {
	ReasonCode ReasonCode // Success, Continue authentication or Re-authenticate
	// Properties must hold the Authentication Method unless the packet is
	// empty (Success without properties).
	Properties Properties
}

// Type returns TypeAuth.
func (*Auth) Type() PacketType { return TypeAuth }

// Decode decodes an AUTH. A remaining length of 0 means Success without
// properties (MQTT 5.0 §3.15.2.1); otherwise the reason code and the
// properties are both present.
func (a *Auth) Decode(version byte, fh FixedHeader, body []byte) error {
	return inPacket(decodeReason(TypeAuth, &authReasons, version, fh, body, &a.ReasonCode, &a.Properties), TypeAuth)
}

// Append encodes an AUTH.
func (a *Auth) Append(dst []byte, version byte) ([]byte, error) {
	if version != Version5 {
		return dst, &Error{Code: ReasonProtocolError, Packet: TypeAuth, Detail: "AUTH exists only in 5.0"}
	}
	out, err := appendReason(dst, TypeAuth, &authReasons, version, a.ReasonCode, &a.Properties)
	return out, inPacket(err, TypeAuth)
}

// decodeReason decodes DISCONNECT and AUTH: in 5.0 an optional reason code
// and optional properties; in 3.1.1 nothing (AUTH is rejected by
// checkHeader).
func decodeReason(t PacketType, codes *reasonSet, version byte, fh FixedHeader, b []byte, rc *ReasonCode,
	props *Properties) error {
	props.reset()
	*rc = 0
	if err := checkHeader(t, version, fh); err != nil {
		return err
	}
	if version != Version5 || len(b) == 0 {
		return endCheck(b, 0)
	}
	*rc = ReasonCode(b[0])
	if !codes.has(*rc) {
		return protocolErr("", "reason code 0x"+hex2(b[0])+" is not a "+t.String()+" reason code")
	}
	off := 1
	if t == TypeAuth || off < len(b) {
		// AUTH has no "omitted properties" form besides the empty packet.
		var err error
		if off, err = props.decode(b, off, t); err != nil {
			return err
		}
	}
	if t == TypeAuth && props.AuthenticationMethod == "" && (*rc != ReasonSuccess || !props.empty()) {
		// MQTT 5.0 §3.15.2.2.2. Success without properties is the empty
		// AUTH of §3.15.2.1 written in full, as paho does.
		return protocolErr("", "AUTH without an Authentication Method")
	}
	return endCheck(b, off)
}

func appendReason(dst []byte, t PacketType, codes *reasonSet, version byte, rc ReasonCode, props *Properties) ([]byte, error) {
	if err := checkVersion(version); err != nil {
		return dst, err
	}
	first := byte(t) << 4
	if version != Version5 {
		return append(dst, first, 0), nil
	}
	if !codes.has(rc) {
		return dst, protocolErr("", rc.String()+" is not a "+t.String()+" reason code")
	}
	pl, err := props.size(t)
	if err != nil {
		return dst, err
	}
	if t == TypeAuth {
		if rc == ReasonSuccess && pl == 0 {
			return append(dst, first, 0), nil
		}
		if props.AuthenticationMethod == "" {
			return dst, protocolErr("", "AUTH without an Authentication Method")
		}
	} else if pl == 0 {
		if rc == ReasonSuccess {
			return append(dst, first, 0), nil
		}
		return append(dst, first, 1, byte(rc)), nil
	}
	if dst, err = appendHeader(dst, first, 1+vbiLen(uint32(pl))+pl); err != nil {
		return dst, err
	}
	dst = append(dst, byte(rc))
	return props.append(dst, pl), nil
}
