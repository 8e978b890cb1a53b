package packets

// Connect is a CONNECT packet (MQTT 5.0 §3.1, 3.1.1 §3.1).
type Connect struct {
	// ProtocolVersion is the protocol level: Version311 (4) or Version5 (5).
	// When decoding fails with Unsupported Protocol Version it still holds
	// the level the client sent, so the caller can answer in a format the
	// client understands.
	ProtocolVersion byte
	CleanStart      bool   // "Clean Session" in 3.1.1
	KeepAlive       uint16 // seconds, 0 disables
	ClientID        string // may be empty; see [MQTT-3.1.3-8]
	Will            *Will  // nil when the Will Flag is 0
	HasUsername     bool
	Username        string
	HasPassword     bool
	Password        []byte     // aliases the decoded buffer
	Properties      Properties // 5.0 only
}

// Will is the Will message of a CONNECT (MQTT 5.0 §3.1.2.5, §3.1.3.2-4).
type Will struct {
	Topic      string
	Payload    []byte // aliases the decoded buffer
	QoS        byte
	Retain     bool
	Properties Properties // 5.0 only: the Will Properties
}

// Type returns TypeConnect.
func (*Connect) Type() PacketType { return TypeConnect }

// Connect flags (MQTT 5.0 §3.1.2.3).
const (
	flagReserved   = 0x01
	flagCleanStart = 0x02
	flagWill       = 0x04
	flagWillQoS    = 0x18
	flagWillRetain = 0x20
	flagPassword   = 0x40
	flagUsername   = 0x80
)

// Decode decodes a CONNECT. The version argument is ignored: the packet
// carries its own protocol level.
func (c *Connect) Decode(_ byte, fh FixedHeader, body []byte) error {
	return inPacket(c.decode(fh, body), TypeConnect)
}

func (c *Connect) decode(fh FixedHeader, b []byte) error {
	props := c.Properties
	props.reset()
	clientID, username := c.ClientID, c.Username
	*c = Connect{Properties: props}
	if err := checkHeader(TypeConnect, 0, fh); err != nil {
		return err
	}
	name, off, err := readBinary(b, 0, "protocol name")
	if err != nil {
		return err
	}
	level, off, err := readByte(b, off, "protocol level")
	if err != nil {
		return err
	}
	c.ProtocolVersion = level
	if string(name) != "MQTT" {
		// [MQTT-3.1.2-1]: 5.0 lets the server answer 0x84. This also
		// refuses MQTT 3.1 ("MQIsdp", level 3).
		return errorf(ReasonUnsupportedProtocolVersion, "MQTT-3.1.2-1", "protocol name "+quote(string(name)))
	}
	if level != Version311 && level != Version5 {
		return errorf(ReasonUnsupportedProtocolVersion, "MQTT-3.1.2-2", "protocol level "+itoa(int(level)))
	}
	v5 := level == Version5
	flags, off, err := readByte(b, off, "connect flags")
	if err != nil {
		return err
	}
	if flags&flagReserved != 0 {
		return malformed("MQTT-3.1.2-3", "reserved connect flag set")
	}
	willQoS := (flags & flagWillQoS) >> 3
	if flags&flagWill == 0 {
		if willQoS != 0 {
			return malformed("MQTT-3.1.2-11", "Will QoS without the Will Flag")
		}
		if flags&flagWillRetain != 0 {
			return malformed("MQTT-3.1.2-13", "Will Retain without the Will Flag") // 3.1.1: [MQTT-3.1.2-15]
		}
	} else if willQoS == 3 {
		return malformed("MQTT-3.1.2-12", "Will QoS 3") // 3.1.1: [MQTT-3.1.2-14]
	}
	if !v5 && flags&flagPassword != 0 && flags&flagUsername == 0 {
		return malformed("MQTT-3.1.2-22", "password flag without the user name flag")
	}
	c.CleanStart = flags&flagCleanStart != 0
	c.HasUsername = flags&flagUsername != 0
	c.HasPassword = flags&flagPassword != 0
	if c.KeepAlive, off, err = readUint16(b, off, "keep alive"); err != nil {
		return err
	}
	if v5 {
		if off, err = c.Properties.decode(b, off, TypeConnect); err != nil {
			return err
		}
	}
	id, off, err := readString(b, off, "client identifier") // [MQTT-3.1.3-4]
	if err != nil {
		return err
	}
	c.ClientID = reuse(clientID, id)
	if !v5 && len(id) == 0 && !c.CleanStart {
		return errorf(ReasonClientIdentifierNotValid, "MQTT-3.1.3-8", "empty client identifier without Clean Session")
	}
	if flags&flagWill != 0 { // [MQTT-3.1.2-9]
		w := &Will{QoS: willQoS, Retain: flags&flagWillRetain != 0}
		if v5 {
			if off, err = w.Properties.decode(b, off, kindWill); err != nil {
				return err
			}
		}
		topic, off2, err := readString(b, off, "will topic")
		if err != nil {
			return err
		}
		off = off2
		w.Topic = string(topic)
		if err := checkWillTopic(w.Topic); err != nil {
			return err
		}
		if w.Payload, off, err = readBinary(b, off, "will payload"); err != nil {
			return err
		}
		c.Will = w
	}
	if c.HasUsername { // [MQTT-3.1.2-19] (5.0: [MQTT-3.1.2-17])
		u, off2, err := readString(b, off, "user name")
		if err != nil {
			return err
		}
		off = off2
		c.Username = reuse(username, u)
	}
	if c.HasPassword { // [MQTT-3.1.2-21] (5.0: [MQTT-3.1.2-19])
		if c.Password, off, err = readBinary(b, off, "password"); err != nil {
			return err
		}
	}
	return endCheck(b, off)
}

func checkWillTopic(t string) error {
	if t == "" {
		return errorf(ReasonTopicNameInvalid, "MQTT-4.7.3-1", "empty will topic")
	}
	return checkTopicNameChars(t)
}

// Append encodes the CONNECT with c.ProtocolVersion, or with version when
// that is 0.
func (c *Connect) Append(dst []byte, version byte) ([]byte, error) {
	out, err := c.append(dst, version)
	return out, inPacket(err, TypeConnect)
}

func (c *Connect) append(dst []byte, version byte) ([]byte, error) {
	if c.ProtocolVersion != 0 {
		version = c.ProtocolVersion
	}
	if err := checkVersion(version); err != nil {
		return dst, err
	}
	v5 := version == Version5
	flags := byte(0)
	if c.CleanStart {
		flags |= flagCleanStart
	}
	if c.HasUsername {
		flags |= flagUsername
	}
	if c.HasPassword {
		flags |= flagPassword
		if !v5 && !c.HasUsername {
			return dst, malformed("MQTT-3.1.2-22", "password without a user name")
		}
	}
	if !c.HasUsername && c.Username != "" || !c.HasPassword && len(c.Password) > 0 {
		return dst, malformed("MQTT-3.1.2-18", "user name or password set without its flag")
	}
	n := 2 + 4 + 1 + 1 + 2 // protocol name, level, flags, keep alive
	var propLen, willPropLen int
	var err error
	if v5 {
		if propLen, err = c.Properties.size(TypeConnect); err != nil {
			return dst, err
		}
		n += vbiLen(uint32(propLen)) + propLen
	}
	if err := checkEncString(c.ClientID, "client identifier"); err != nil {
		return dst, err
	}
	if !v5 && c.ClientID == "" && !c.CleanStart {
		return dst, errorf(ReasonClientIdentifierNotValid, "MQTT-3.1.3-8", "empty client identifier without Clean Session")
	}
	n += 2 + len(c.ClientID)
	if w := c.Will; w != nil {
		flags |= flagWill | w.QoS<<3
		if w.Retain {
			flags |= flagWillRetain
		}
		if w.QoS > 2 {
			return dst, malformed("MQTT-3.1.2-12", "Will QoS "+itoa(int(w.QoS)))
		}
		if err := checkEncString(w.Topic, "will topic"); err != nil {
			return dst, err
		}
		if err := checkWillTopic(w.Topic); err != nil {
			return dst, err
		}
		if err := checkEncBinary(w.Payload, "will payload"); err != nil {
			return dst, err
		}
		if v5 {
			if willPropLen, err = w.Properties.size(kindWill); err != nil {
				return dst, err
			}
			n += vbiLen(uint32(willPropLen)) + willPropLen
		}
		n += 2 + len(w.Topic) + 2 + len(w.Payload)
	}
	if c.HasUsername {
		if err := checkEncString(c.Username, "user name"); err != nil {
			return dst, err
		}
		n += 2 + len(c.Username)
	}
	if c.HasPassword {
		if err := checkEncBinary(c.Password, "password"); err != nil {
			return dst, err
		}
		n += 2 + len(c.Password)
	}
	if dst, err = appendHeader(dst, byte(TypeConnect)<<4, n); err != nil {
		return dst, err
	}
	dst = appendString(dst, "MQTT")
	dst = append(dst, version, flags)
	dst = appendUint16(dst, c.KeepAlive)
	if v5 {
		dst = c.Properties.append(dst, propLen)
	}
	dst = appendString(dst, c.ClientID)
	if w := c.Will; w != nil {
		if v5 {
			dst = w.Properties.append(dst, willPropLen)
		}
		dst = appendString(dst, w.Topic)
		dst = appendBinary(dst, w.Payload)
	}
	if c.HasUsername {
		dst = appendString(dst, c.Username)
	}
	if c.HasPassword {
		dst = appendBinary(dst, c.Password)
	}
	return dst, nil
}

// Connack is a CONNACK packet (MQTT 5.0 §3.2, 3.1.1 §3.2).
//
// ReasonCode is a 5.0 reason code for both versions: a 3.1.1 return code is
// decoded to the reason code with the same meaning, and encoded back with
// ReasonCode.V3ConnackCode (Append fails for codes 3.1.1 cannot express).
type Connack struct {
	SessionPresent bool
	ReasonCode     ReasonCode
	Properties     Properties // 5.0 only
}

// Type returns TypeConnack.
func (*Connack) Type() PacketType { return TypeConnack }

// Decode decodes a CONNACK.
func (c *Connack) Decode(version byte, fh FixedHeader, body []byte) error {
	return inPacket(c.decode(version, fh, body), TypeConnack)
}

func (c *Connack) decode(version byte, fh FixedHeader, b []byte) error {
	c.Properties.reset()
	c.SessionPresent, c.ReasonCode = false, 0
	if err := checkHeader(TypeConnack, version, fh); err != nil {
		return err
	}
	flags, off, err := readByte(b, 0, "acknowledge flags")
	if err != nil {
		return err
	}
	if flags&^1 != 0 {
		return malformed("MQTT-3.2.2-1", "reserved acknowledge flags set")
	}
	c.SessionPresent = flags == 1
	code, off, err := readByte(b, off, "reason code")
	if err != nil {
		return err
	}
	if version == Version5 {
		c.ReasonCode = ReasonCode(code)
		if !connackReasons.has(c.ReasonCode) {
			return protocolErr("", "reason code 0x"+hex2(code)+" is not a CONNACK reason code")
		}
		if off, err = c.Properties.decode(b, off, TypeConnack); err != nil {
			return err
		}
	} else {
		rc, ok := ReasonFromV3Connack(code)
		if !ok {
			return protocolErr("", "reserved CONNACK return code "+itoa(int(code)))
		}
		c.ReasonCode = rc
	}
	if c.SessionPresent && c.ReasonCode != ReasonSuccess {
		// 3.1.1: [MQTT-3.2.2-4]; 5.0: [MQTT-3.2.2-6].
		return protocolErr("MQTT-3.2.2-4", "session present with a refusal")
	}
	return endCheck(b, off)
}

// Append encodes the CONNACK.
func (c *Connack) Append(dst []byte, version byte) ([]byte, error) {
	out, err := c.append(dst, version)
	return out, inPacket(err, TypeConnack)
}

func (c *Connack) append(dst []byte, version byte) ([]byte, error) {
	if err := checkVersion(version); err != nil {
		return dst, err
	}
	if c.SessionPresent && c.ReasonCode != ReasonSuccess {
		return dst, protocolErr("MQTT-3.2.2-4", "session present with a refusal")
	}
	flags := byte(0)
	if c.SessionPresent {
		flags = 1
	}
	if version != Version5 {
		code, ok := c.ReasonCode.V3ConnackCode()
		if !ok {
			return dst, protocolErr("", c.ReasonCode.String()+" has no 3.1.1 CONNACK return code")
		}
		return append(dst, byte(TypeConnack)<<4, 2, flags, code), nil
	}
	if !connackReasons.has(c.ReasonCode) {
		return dst, protocolErr("", c.ReasonCode.String()+" is not a CONNACK reason code")
	}
	pl, err := c.Properties.size(TypeConnack)
	if err != nil {
		return dst, err
	}
	if dst, err = appendHeader(dst, byte(TypeConnack)<<4, 2+vbiLen(uint32(pl))+pl); err != nil {
		return dst, err
	}
	dst = append(dst, flags, byte(c.ReasonCode))
	return c.Properties.append(dst, pl), nil
}
