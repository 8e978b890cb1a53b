package packets

// Subscription is one topic filter of a SUBSCRIBE with its options
// (MQTT 5.0 §3.8.3.1; 3.1.1 has only the QoS).
type Subscription struct {
	// Filter is the topic filter as sent, including a "$share/{name}/"
	// prefix; see SplitShared.
	Filter            string
	QoS               byte // maximum QoS, 0..2
	NoLocal           bool // 5.0 only; not allowed on a shared subscription [MQTT-3.8.3-4]
	RetainAsPublished bool // 5.0 only
	RetainHandling    byte // 5.0 only: 0, 1 or 2
}

// Subscribe is a SUBSCRIBE packet (MQTT 5.0 §3.8, 3.1.1 §3.8).
type Subscribe struct {
	PacketID      uint16
	Subscriptions []Subscription // at least one
	// Properties (5.0 only): at most one Subscription Identifier, in
	// SubscriptionIdentifiers[0], and User Properties.
	Properties Properties
}

// Type returns TypeSubscribe.
func (*Subscribe) Type() PacketType { return TypeSubscribe }

// Subscription options (MQTT 5.0 §3.8.3.1).
const (
	optQoS               = 0x03
	optNoLocal           = 0x04
	optRetainAsPublished = 0x08
	optRetainHandling    = 0x30
	optReserved          = 0xC0
	optReservedV3        = 0xFC
)

// Decode decodes a SUBSCRIBE. Topic filters are validated: bad UTF-8 is a
// Malformed Packet, bad wildcards or a bad shared subscription (5.0) give
// Topic Filter invalid.
func (s *Subscribe) Decode(version byte, fh FixedHeader, body []byte) error {
	return inPacket(s.decode(version, fh, body), TypeSubscribe)
}

func (s *Subscribe) decode(version byte, fh FixedHeader, b []byte) error {
	s.Properties.reset()
	old := s.Subscriptions
	s.PacketID, s.Subscriptions = 0, old[:0]
	if err := checkHeader(TypeSubscribe, version, fh); err != nil {
		return err
	}
	v5 := version == Version5
	var off int
	var err error
	if s.PacketID, off, err = readUint16(b, 0, "packet identifier"); err != nil {
		return err
	}
	if err := checkPacketID(s.PacketID); err != nil {
		return err
	}
	if v5 {
		if off, err = s.Properties.decode(b, off, TypeSubscribe); err != nil {
			return err
		}
	}
	if off == len(b) {
		// 3.1.1: [MQTT-3.8.3-3]; 5.0: [MQTT-3.8.3-2], a Protocol Error.
		return protocolErr("MQTT-3.8.3-3", "no topic filter")
	}
	for off < len(b) {
		f, next, err := readString(b, off, "topic filter") // [MQTT-3.8.3-1]
		if err != nil {
			return err
		}
		// The options byte must be there before it is read: a filter
		// without it is the one-packet crash of mochi v2.7.9.
		opts, next, err := readByte(b, next, "subscription options")
		if err != nil {
			return err
		}
		off = next
		var sub Subscription
		if i := len(s.Subscriptions); i < len(old) {
			sub.Filter = reuse(old[i].Filter, f)
		} else {
			sub.Filter = string(f)
		}
		sub.QoS = opts & optQoS
		if v5 {
			if opts&optReserved != 0 {
				return malformed("MQTT-3.8.3-5", "reserved subscription option bits set")
			}
			if sub.QoS == 3 {
				return protocolErr("", "maximum QoS 3") // MQTT 5.0 §3.8.3.1
			}
			sub.NoLocal = opts&optNoLocal != 0
			sub.RetainAsPublished = opts&optRetainAsPublished != 0
			sub.RetainHandling = (opts & optRetainHandling) >> 4
			if sub.RetainHandling == 3 {
				return protocolErr("", "Retain Handling 3") // MQTT 5.0 §3.8.3.1
			}
		} else if opts&optReservedV3 != 0 || sub.QoS == 3 {
			return malformed("MQTT-3-8.3-4", "reserved bits or QoS 3 in the requested QoS byte")
		}
		shared, err := checkFilter(sub.Filter, version)
		if err != nil {
			return err
		}
		if shared && sub.NoLocal {
			return protocolErr("MQTT-3.8.3-4", "No Local on a shared subscription")
		}
		s.Subscriptions = append(s.Subscriptions, sub)
	}
	return nil
}

// Append encodes the SUBSCRIBE. In 3.1.1 only the QoS of each subscription
// is sent.
func (s *Subscribe) Append(dst []byte, version byte) ([]byte, error) {
	out, err := s.append(dst, version)
	return out, inPacket(err, TypeSubscribe)
}

func (s *Subscribe) append(dst []byte, version byte) ([]byte, error) {
	if err := checkVersion(version); err != nil {
		return dst, err
	}
	if err := checkPacketID(s.PacketID); err != nil {
		return dst, err
	}
	if len(s.Subscriptions) == 0 {
		return dst, protocolErr("MQTT-3.8.3-3", "no topic filter")
	}
	v5 := version == Version5
	n := 2
	pl := 0
	if v5 {
		var err error
		if pl, err = s.Properties.size(TypeSubscribe); err != nil {
			return dst, err
		}
		n += vbiLen(uint32(pl)) + pl
	}
	for i := range s.Subscriptions {
		sub := &s.Subscriptions[i]
		if err := checkEncString(sub.Filter, "topic filter"); err != nil {
			return dst, err
		}
		shared, err := checkFilter(sub.Filter, version)
		if err != nil {
			return dst, err
		}
		if sub.QoS > 2 {
			return dst, malformed("MQTT-3-8.3-4", "maximum QoS "+itoa(int(sub.QoS)))
		}
		if v5 {
			if sub.RetainHandling > 2 {
				return dst, protocolErr("", "Retain Handling "+itoa(int(sub.RetainHandling)))
			}
			if shared && sub.NoLocal {
				return dst, protocolErr("MQTT-3.8.3-4", "No Local on a shared subscription")
			}
		}
		n += 2 + len(sub.Filter) + 1
	}
	dst, err := appendHeader(dst, byte(TypeSubscribe)<<4|0x02, n) // [MQTT-3.8.1-1]
	if err != nil {
		return dst, err
	}
	dst = appendUint16(dst, s.PacketID)
	if v5 {
		dst = s.Properties.append(dst, pl)
	}
	for i := range s.Subscriptions {
		sub := &s.Subscriptions[i]
		dst = appendString(dst, sub.Filter)
		opts := sub.QoS
		if v5 {
			if sub.NoLocal {
				opts |= optNoLocal
			}
			if sub.RetainAsPublished {
				opts |= optRetainAsPublished
			}
			opts |= sub.RetainHandling << 4
		}
		dst = append(dst, opts)
	}
	return dst, nil
}

// Suback is a SUBACK packet (MQTT 5.0 §3.9, 3.1.1 §3.9).
type Suback struct {
	PacketID uint16
	// ReasonCodes has one code per subscription, in order. In 3.1.1 only
	// 0x00, 0x01, 0x02 and 0x80 exist [MQTT-3.9.3-2]; Append sends any
	// other failure code as 0x80.
	ReasonCodes []ReasonCode
	Properties  Properties // 5.0 only
}

// Type returns TypeSuback.
func (*Suback) Type() PacketType { return TypeSuback }

// Decode decodes a SUBACK.
func (s *Suback) Decode(version byte, fh FixedHeader, body []byte) error {
	return inPacket(decodeCodes(TypeSuback, version, fh, body, &s.PacketID, &s.ReasonCodes, &s.Properties), TypeSuback)
}

// Append encodes the SUBACK.
func (s *Suback) Append(dst []byte, version byte) ([]byte, error) {
	out, err := appendCodes(dst, TypeSuback, version, s.PacketID, s.ReasonCodes, &s.Properties)
	return out, inPacket(err, TypeSuback)
}

// Unsubscribe is an UNSUBSCRIBE packet (MQTT 5.0 §3.10, 3.1.1 §3.10).
type Unsubscribe struct {
	PacketID   uint16
	Filters    []string   // at least one
	Properties Properties // 5.0 only: User Properties
}

// Type returns TypeUnsubscribe.
func (*Unsubscribe) Type() PacketType { return TypeUnsubscribe }

// Decode decodes an UNSUBSCRIBE, validating the filters like
// Subscribe.Decode.
func (u *Unsubscribe) Decode(version byte, fh FixedHeader, body []byte) error {
	return inPacket(u.decode(version, fh, body), TypeUnsubscribe)
}

func (u *Unsubscribe) decode(version byte, fh FixedHeader, b []byte) error {
	u.Properties.reset()
	old := u.Filters
	u.PacketID, u.Filters = 0, old[:0]
	if err := checkHeader(TypeUnsubscribe, version, fh); err != nil {
		return err
	}
	var off int
	var err error
	if u.PacketID, off, err = readUint16(b, 0, "packet identifier"); err != nil {
		return err
	}
	if err := checkPacketID(u.PacketID); err != nil {
		return err
	}
	if version == Version5 {
		if off, err = u.Properties.decode(b, off, TypeUnsubscribe); err != nil {
			return err
		}
	}
	if off == len(b) {
		return protocolErr("MQTT-3.10.3-2", "no topic filter")
	}
	for off < len(b) {
		f, next, err := readString(b, off, "topic filter") // [MQTT-3.10.3-1]
		if err != nil {
			return err
		}
		off = next
		var s string
		if i := len(u.Filters); i < len(old) {
			s = reuse(old[i], f)
		} else {
			s = string(f)
		}
		if _, err := checkFilter(s, version); err != nil {
			return err
		}
		u.Filters = append(u.Filters, s)
	}
	return nil
}

// Append encodes the UNSUBSCRIBE.
func (u *Unsubscribe) Append(dst []byte, version byte) ([]byte, error) {
	out, err := u.append(dst, version)
	return out, inPacket(err, TypeUnsubscribe)
}

func (u *Unsubscribe) append(dst []byte, version byte) ([]byte, error) {
	if err := checkVersion(version); err != nil {
		return dst, err
	}
	if err := checkPacketID(u.PacketID); err != nil {
		return dst, err
	}
	if len(u.Filters) == 0 {
		return dst, protocolErr("MQTT-3.10.3-2", "no topic filter")
	}
	n, pl := 2, 0
	if version == Version5 {
		var err error
		if pl, err = u.Properties.size(TypeUnsubscribe); err != nil {
			return dst, err
		}
		n += vbiLen(uint32(pl)) + pl
	}
	for _, f := range u.Filters {
		if err := checkEncString(f, "topic filter"); err != nil {
			return dst, err
		}
		if _, err := checkFilter(f, version); err != nil {
			return dst, err
		}
		n += 2 + len(f)
	}
	dst, err := appendHeader(dst, byte(TypeUnsubscribe)<<4|0x02, n) // [MQTT-3.10.1-1]
	if err != nil {
		return dst, err
	}
	dst = appendUint16(dst, u.PacketID)
	if version == Version5 {
		dst = u.Properties.append(dst, pl)
	}
	for _, f := range u.Filters {
		dst = appendString(dst, f)
	}
	return dst, nil
}

// Unsuback is an UNSUBACK packet (MQTT 5.0 §3.11, 3.1.1 §3.11).
type Unsuback struct {
	PacketID uint16
	// ReasonCodes (5.0 only) has one code per topic filter, in order.
	ReasonCodes []ReasonCode
	Properties  Properties // 5.0 only
}

// Type returns TypeUnsuback.
func (*Unsuback) Type() PacketType { return TypeUnsuback }

// Decode decodes an UNSUBACK.
func (u *Unsuback) Decode(version byte, fh FixedHeader, body []byte) error {
	return inPacket(decodeCodes(TypeUnsuback, version, fh, body, &u.PacketID, &u.ReasonCodes, &u.Properties), TypeUnsuback)
}

// Append encodes the UNSUBACK.
func (u *Unsuback) Append(dst []byte, version byte) ([]byte, error) {
	out, err := appendCodes(dst, TypeUnsuback, version, u.PacketID, u.ReasonCodes, &u.Properties)
	return out, inPacket(err, TypeUnsuback)
}

// decodeCodes decodes SUBACK and UNSUBACK: a packet identifier, properties
// (5.0), and a list of reason codes (all of SUBACK; 5.0 UNSUBACK). A 3.1.1
// UNSUBACK has only the packet identifier.
func decodeCodes(t PacketType, version byte, fh FixedHeader, b []byte, id *uint16, codes *[]ReasonCode,
	props *Properties) error {
	props.reset()
	*id, *codes = 0, (*codes)[:0]
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
	v5 := version == Version5
	if !v5 && t == TypeUnsuback {
		return endCheck(b, off)
	}
	if v5 {
		if off, err = props.decode(b, off, t); err != nil {
			return err
		}
	}
	valid := &subackReasons
	switch {
	case t == TypeUnsuback:
		valid = &unsubackReasons
	case !v5:
		valid = &subackV3Reasons
	}
	if off == len(b) {
		return protocolErr("", "no reason code")
	}
	for _, c := range b[off:] {
		if !valid.has(ReasonCode(c)) {
			rule := ""
			if !v5 {
				rule = "MQTT-3.9.3-2"
			}
			return protocolErr(rule, "reason code 0x"+hex2(c)+" is not a "+t.String()+" reason code")
		}
		*codes = append(*codes, ReasonCode(c))
	}
	return nil
}

func appendCodes(dst []byte, t PacketType, version byte, id uint16, codes []ReasonCode, props *Properties) ([]byte, error) {
	if err := checkVersion(version); err != nil {
		return dst, err
	}
	if err := checkPacketID(id); err != nil {
		return dst, err
	}
	v5 := version == Version5
	if !v5 && t == TypeUnsuback {
		return append(dst, byte(t)<<4, 2, byte(id>>8), byte(id)), nil
	}
	if len(codes) == 0 {
		return dst, protocolErr("", "no reason code")
	}
	valid := &subackReasons
	if t == TypeUnsuback {
		valid = &unsubackReasons
	}
	for _, c := range codes {
		if !valid.has(c) {
			return dst, protocolErr("", c.String()+" is not a "+t.String()+" reason code")
		}
	}
	n, pl := 2+len(codes), 0
	if v5 {
		var err error
		if pl, err = props.size(t); err != nil {
			return dst, err
		}
		n += vbiLen(uint32(pl)) + pl
	}
	dst, err := appendHeader(dst, byte(t)<<4, n)
	if err != nil {
		return dst, err
	}
	dst = appendUint16(dst, id)
	if v5 {
		dst = props.append(dst, pl)
	}
	for _, c := range codes {
		if !v5 && c.IsError() {
			c = ReasonUnspecifiedError // the 3.1.1 Failure return code
		}
		dst = append(dst, byte(c))
	}
	return dst, nil
}
