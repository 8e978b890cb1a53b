package packets

// PropID is an MQTT 5.0 property identifier (MQTT 5.0 §2.2.2.2, Table 2-4).
type PropID byte

// Property identifiers.
const (
	PropPayloadFormatIndicator          PropID = 0x01
	PropMessageExpiryInterval           PropID = 0x02
	PropContentType                     PropID = 0x03
	PropResponseTopic                   PropID = 0x08
	PropCorrelationData                 PropID = 0x09
	PropSubscriptionIdentifier          PropID = 0x0B
	PropSessionExpiryInterval           PropID = 0x11
	PropAssignedClientIdentifier        PropID = 0x12
	PropServerKeepAlive                 PropID = 0x13
	PropAuthenticationMethod            PropID = 0x15
	PropAuthenticationData              PropID = 0x16
	PropRequestProblemInformation       PropID = 0x17
	PropWillDelayInterval               PropID = 0x18
	PropRequestResponseInformation      PropID = 0x19
	PropResponseInformation             PropID = 0x1A
	PropServerReference                 PropID = 0x1C
	PropReasonString                    PropID = 0x1F
	PropReceiveMaximum                  PropID = 0x21
	PropTopicAliasMaximum               PropID = 0x22
	PropTopicAlias                      PropID = 0x23
	PropMaximumQoS                      PropID = 0x24
	PropRetainAvailable                 PropID = 0x25
	PropUserProperty                    PropID = 0x26
	PropMaximumPacketSize               PropID = 0x27
	PropWildcardSubscriptionAvailable   PropID = 0x28
	PropSubscriptionIdentifierAvailable PropID = 0x29
	PropSharedSubscriptionAvailable     PropID = 0x2A
)

// propType is the data type of a property value.
type propType byte

const (
	ptNone   propType = iota
	ptByte            // Byte
	ptUint16          // Two Byte Integer
	ptUint32          // Four Byte Integer
	ptVBI             // Variable Byte Integer
	ptString          // UTF-8 Encoded String
	ptBinary          // Binary Data
	ptPair            // UTF-8 String Pair
)

// kindWill stands for the Will Properties of a CONNECT payload in the
// allow-lists below; the other kinds are packet types.
const kindWill = 0

func kinds(ts ...PacketType) uint16 {
	var m uint16
	for _, t := range ts {
		m |= 1 << t
	}
	return m
}

type propInfo struct {
	name    string
	typ     propType
	allowed uint16 // bit t set: allowed in packet type t (bit 0: Will Properties)
}

// propTable is Table 2-4 of MQTT 5.0 §2.2.2.2: the type of each property
// and the packets it may appear in.
var propTable = [0x2B]propInfo{
	PropPayloadFormatIndicator:          {"Payload Format Indicator", ptByte, kinds(TypePublish, kindWill)},
	PropMessageExpiryInterval:           {"Message Expiry Interval", ptUint32, kinds(TypePublish, kindWill)},
	PropContentType:                     {"Content Type", ptString, kinds(TypePublish, kindWill)},
	PropResponseTopic:                   {"Response Topic", ptString, kinds(TypePublish, kindWill)},
	PropCorrelationData:                 {"Correlation Data", ptBinary, kinds(TypePublish, kindWill)},
	PropSubscriptionIdentifier:          {"Subscription Identifier", ptVBI, kinds(TypePublish, TypeSubscribe)},
	PropSessionExpiryInterval:           {"Session Expiry Interval", ptUint32, kinds(TypeConnect, TypeConnack, TypeDisconnect)},
	PropAssignedClientIdentifier:        {"Assigned Client Identifier", ptString, kinds(TypeConnack)},
	PropServerKeepAlive:                 {"Server Keep Alive", ptUint16, kinds(TypeConnack)},
	PropAuthenticationMethod:            {"Authentication Method", ptString, kinds(TypeConnect, TypeConnack, TypeAuth)},
	PropAuthenticationData:              {"Authentication Data", ptBinary, kinds(TypeConnect, TypeConnack, TypeAuth)},
	PropRequestProblemInformation:       {"Request Problem Information", ptByte, kinds(TypeConnect)},
	PropWillDelayInterval:               {"Will Delay Interval", ptUint32, kinds(kindWill)},
	PropRequestResponseInformation:      {"Request Response Information", ptByte, kinds(TypeConnect)},
	PropResponseInformation:             {"Response Information", ptString, kinds(TypeConnack)},
	PropServerReference:                 {"Server Reference", ptString, kinds(TypeConnack, TypeDisconnect)},
	PropReasonString:                    {"Reason String", ptString, kinds(TypeConnack, TypePuback, TypePubrec, TypePubrel, TypePubcomp, TypeSuback, TypeUnsuback, TypeDisconnect, TypeAuth)},
	PropReceiveMaximum:                  {"Receive Maximum", ptUint16, kinds(TypeConnect, TypeConnack)},
	PropTopicAliasMaximum:               {"Topic Alias Maximum", ptUint16, kinds(TypeConnect, TypeConnack)},
	PropTopicAlias:                      {"Topic Alias", ptUint16, kinds(TypePublish)},
	PropMaximumQoS:                      {"Maximum QoS", ptByte, kinds(TypeConnack)},
	PropRetainAvailable:                 {"Retain Available", ptByte, kinds(TypeConnack)},
	PropUserProperty:                    {"User Property", ptPair, kinds(kindWill, TypeConnect, TypeConnack, TypePublish, TypePuback, TypePubrec, TypePubrel, TypePubcomp, TypeSubscribe, TypeSuback, TypeUnsubscribe, TypeUnsuback, TypeDisconnect, TypeAuth)},
	PropMaximumPacketSize:               {"Maximum Packet Size", ptUint32, kinds(TypeConnect, TypeConnack)},
	PropWildcardSubscriptionAvailable:   {"Wildcard Subscription Available", ptByte, kinds(TypeConnack)},
	PropSubscriptionIdentifierAvailable: {"Subscription Identifier Available", ptByte, kinds(TypeConnack)},
	PropSharedSubscriptionAvailable:     {"Shared Subscription Available", ptByte, kinds(TypeConnack)},
}

func (id PropID) info() *propInfo {
	if int(id) < len(propTable) && propTable[id].typ != ptNone {
		return &propTable[id]
	}
	return nil
}

// String returns the spec's name of the property.
func (id PropID) String() string {
	if in := id.info(); in != nil {
		return in.name
	}
	return "property 0x" + hex2(byte(id))
}

// UserProperty is one User Property, a UTF-8 string pair (MQTT 5.0
// §3.3.2.3.7). The same name may appear more than once, and the order is
// kept.
type UserProperty struct {
	Key, Value string
}

// Properties holds the MQTT 5.0 properties of a packet (or of a CONNECT's
// Will message). Which properties a packet may carry is fixed by the spec
// (MQTT 5.0 §2.2.2.2, Table 2-4); Decode rejects others with Protocol Error
// and Append refuses them.
//
// A property is absent when its field has the zero value, and Append sends
// only present properties. Where a zero value means something other than
// absence, a Has field marks a present zero (HasMessageExpiryInterval,
// HasSessionExpiryInterval, HasServerKeepAlive, HasRequestProblemInformation,
// HasMaximumQoS, HasRetainAvailable, HasWildcardSubscriptionAvailable,
// HasSubscriptionIdentifierAvailable, HasSharedSubscriptionAvailable): such a
// property is present when its Has field is set or its value is non-zero,
// and Decode sets the Has field of every one it finds. For the other
// properties the zero value is the default the spec gives an absent one, or a
// value the spec forbids (Receive Maximum, Topic Alias, Maximum Packet Size
// and Subscription Identifier cannot be 0), so a received property with a
// zero-length string or binary value, or such a zero, decodes to the same
// value as its absence.
//
// Byte slices alias the decoded buffer.
type Properties struct {
	// PUBLISH and Will properties.
	PayloadFormatIndicator   byte // 0x01: 0 unspecified bytes, 1 UTF-8
	MessageExpiryInterval    uint32
	HasMessageExpiryInterval bool   // 0x02
	ContentType              string // 0x03
	ResponseTopic            string // 0x08: a topic name, no wildcards [MQTT-3.3.2-14]
	CorrelationData          []byte // 0x09
	// SubscriptionIdentifiers (0x0B): any number in a PUBLISH (server to
	// client), at most one in a SUBSCRIBE; each 1..268435455.
	SubscriptionIdentifiers []uint32

	// CONNECT, CONNACK, DISCONNECT and AUTH properties.
	SessionExpiryInterval              uint32
	HasSessionExpiryInterval           bool   // 0x11: absent in CONNACK or DISCONNECT means the CONNECT's value
	AssignedClientIdentifier           string // 0x12
	ServerKeepAlive                    uint16
	HasServerKeepAlive                 bool           // 0x13
	AuthenticationMethod               string         // 0x15
	AuthenticationData                 []byte         // 0x16: only with an Authentication Method
	RequestProblemInformation          byte           // 0 or 1; absent means 1
	HasRequestProblemInformation       bool           // 0x17
	WillDelayInterval                  uint32         // 0x18: Will properties only
	RequestResponseInformation         byte           // 0x19: 0 or 1
	ResponseInformation                string         // 0x1A
	ServerReference                    string         // 0x1C
	ReasonString                       string         // 0x1F
	ReceiveMaximum                     uint16         // 0x21: 1..65535; absent means 65535
	TopicAliasMaximum                  uint16         // 0x22
	TopicAlias                         uint16         // 0x23: PUBLISH only, 1..65535
	MaximumQoS                         byte           // 0 or 1; absent means 2
	HasMaximumQoS                      bool           // 0x24
	RetainAvailable                    byte           // 0 or 1; absent means 1
	HasRetainAvailable                 bool           // 0x25
	User                               []UserProperty // 0x26, any packet but PINGREQ/PINGRESP
	MaximumPacketSize                  uint32         // 0x27: absent means no limit
	WildcardSubscriptionAvailable      byte           // 0 or 1; absent means 1
	HasWildcardSubscriptionAvailable   bool           // 0x28
	SubscriptionIdentifierAvailable    byte           // 0 or 1; absent means 1
	HasSubscriptionIdentifierAvailable bool           // 0x29
	SharedSubscriptionAvailable        byte           // 0 or 1; absent means 1
	HasSharedSubscriptionAvailable     bool           // 0x2A
}

// reset clears p and keeps the backing arrays of its slices for reuse.
func (p *Properties) reset() {
	*p = Properties{User: p.User[:0], SubscriptionIdentifiers: p.SubscriptionIdentifiers[:0]}
}

// decode reads a property length and the properties after it (MQTT 5.0
// §2.2.2) into p, which must have been reset, for packet kind (a PacketType,
// or kindWill).
func (p *Properties) decode(b []byte, off int, kind PacketType) (int, error) {
	n, off, err := readVBI(b, off, "property length")
	if err != nil {
		return off, err
	}
	if uint64(n) > uint64(len(b)-off) {
		return off, malformed("", "property length "+itoa(int(n))+" is longer than the rest of the packet")
	}
	end := off + int(n)
	b = b[:end] // no property value may run past the property length
	var seen uint64
	for off < end {
		idb := b[off]
		off++
		id := PropID(idb)
		in := id.info()
		if in == nil {
			// Identifiers are one byte in 5.0; a multi-byte or unknown one
			// gives a value whose type, and so length, is unknown.
			return off, malformed("", "unknown property identifier 0x"+hex2(idb))
		}
		if in.allowed&(1<<kind) == 0 {
			return off, protocolErr("", in.name+" is not allowed in "+kindName(kind))
		}
		if seen&(1<<id) != 0 && id != PropUserProperty && !(id == PropSubscriptionIdentifier && kind == TypePublish) {
			return off, protocolErr("", in.name+" included more than once")
		}
		seen |= 1 << id
		var (
			u   uint32
			s   []byte
			k   []byte
			err error
		)
		switch in.typ {
		case ptByte:
			var v byte
			v, off, err = readByte(b, off, in.name)
			u = uint32(v)
		case ptUint16:
			var v uint16
			v, off, err = readUint16(b, off, in.name)
			u = uint32(v)
		case ptUint32:
			u, off, err = readUint32(b, off, in.name)
		case ptVBI:
			u, off, err = readVBI(b, off, in.name)
		case ptString:
			s, off, err = readString(b, off, in.name)
		case ptBinary:
			s, off, err = readBinary(b, off, in.name)
		case ptPair:
			k, off, err = readString(b, off, in.name+" name")
			if err == nil {
				s, off, err = readString(b, off, in.name+" value")
			}
		}
		if err != nil {
			return off, err
		}
		if err := p.set(id, u, k, s); err != nil {
			return off, err
		}
	}
	if seen&(1<<PropAuthenticationData) != 0 && p.AuthenticationMethod == "" {
		// MQTT 5.0 §3.1.2.11.10. An empty method counts as none, so that
		// what decodes also encodes.
		return off, protocolErr("", "Authentication Data without an Authentication Method")
	}
	return off, nil
}

func kindName(kind PacketType) string {
	if kind == kindWill {
		return "Will Properties"
	}
	return kind.String()
}

// set stores one decoded property value and checks the value rules.
func (p *Properties) set(id PropID, u uint32, k, s []byte) error {
	bool01 := func(what string) error {
		if u > 1 {
			return protocolErr("", what+" is "+itoa(int(u))+", not 0 or 1")
		}
		return nil
	}
	switch id {
	case PropPayloadFormatIndicator:
		p.PayloadFormatIndicator = byte(u)
		return bool01("Payload Format Indicator")
	case PropMessageExpiryInterval:
		p.MessageExpiryInterval, p.HasMessageExpiryInterval = u, true
	case PropContentType:
		p.ContentType = string(s)
	case PropResponseTopic:
		p.ResponseTopic = string(s)
		if len(s) == 0 {
			return protocolErr("MQTT-3.3.2-13", "empty Response Topic")
		}
		if err := checkTopicNameChars(p.ResponseTopic); err != nil {
			return protocolErr("MQTT-3.3.2-14", "wildcard character in Response Topic")
		}
	case PropCorrelationData:
		p.CorrelationData = s
	case PropSubscriptionIdentifier:
		if u == 0 {
			return protocolErr("", "Subscription Identifier 0")
		}
		p.SubscriptionIdentifiers = append(p.SubscriptionIdentifiers, u)
	case PropSessionExpiryInterval:
		p.SessionExpiryInterval, p.HasSessionExpiryInterval = u, true
	case PropAssignedClientIdentifier:
		p.AssignedClientIdentifier = string(s)
	case PropServerKeepAlive:
		p.ServerKeepAlive, p.HasServerKeepAlive = uint16(u), true
	case PropAuthenticationMethod:
		p.AuthenticationMethod = string(s)
	case PropAuthenticationData:
		p.AuthenticationData = s
	case PropRequestProblemInformation:
		p.RequestProblemInformation, p.HasRequestProblemInformation = byte(u), true
		return bool01("Request Problem Information")
	case PropWillDelayInterval:
		p.WillDelayInterval = u
	case PropRequestResponseInformation:
		p.RequestResponseInformation = byte(u)
		return bool01("Request Response Information")
	case PropResponseInformation:
		p.ResponseInformation = string(s)
	case PropServerReference:
		p.ServerReference = string(s)
	case PropReasonString:
		p.ReasonString = string(s)
	case PropReceiveMaximum:
		if u == 0 {
			return protocolErr("", "Receive Maximum 0")
		}
		p.ReceiveMaximum = uint16(u)
	case PropTopicAliasMaximum:
		p.TopicAliasMaximum = uint16(u)
	case PropTopicAlias:
		if u == 0 {
			return errorf(ReasonTopicAliasInvalid, "MQTT-3.3.2-8", "Topic Alias 0")
		}
		p.TopicAlias = uint16(u)
	case PropMaximumQoS:
		p.MaximumQoS, p.HasMaximumQoS = byte(u), true
		return bool01("Maximum QoS")
	case PropRetainAvailable:
		p.RetainAvailable, p.HasRetainAvailable = byte(u), true
		return bool01("Retain Available")
	case PropUserProperty:
		p.User = append(p.User, UserProperty{string(k), string(s)})
	case PropMaximumPacketSize:
		if u == 0 {
			return protocolErr("", "Maximum Packet Size 0")
		}
		p.MaximumPacketSize = u
	case PropWildcardSubscriptionAvailable:
		p.WildcardSubscriptionAvailable, p.HasWildcardSubscriptionAvailable = byte(u), true
		return bool01("Wildcard Subscription Available")
	case PropSubscriptionIdentifierAvailable:
		p.SubscriptionIdentifierAvailable, p.HasSubscriptionIdentifierAvailable = byte(u), true
		return bool01("Subscription Identifier Available")
	case PropSharedSubscriptionAvailable:
		p.SharedSubscriptionAvailable, p.HasSharedSubscriptionAvailable = byte(u), true
		return bool01("Shared Subscription Available")
	}
	return nil
}

// Has reports whether the property is present by the rules of the
// Properties doc comment.
func (p *Properties) Has(id PropID) bool {
	switch id {
	case PropPayloadFormatIndicator:
		return p.PayloadFormatIndicator != 0
	case PropMessageExpiryInterval:
		return p.HasMessageExpiryInterval || p.MessageExpiryInterval != 0
	case PropContentType:
		return p.ContentType != ""
	case PropResponseTopic:
		return p.ResponseTopic != ""
	case PropCorrelationData:
		return len(p.CorrelationData) > 0
	case PropSubscriptionIdentifier:
		return len(p.SubscriptionIdentifiers) > 0
	case PropSessionExpiryInterval:
		return p.HasSessionExpiryInterval || p.SessionExpiryInterval != 0
	case PropAssignedClientIdentifier:
		return p.AssignedClientIdentifier != ""
	case PropServerKeepAlive:
		return p.HasServerKeepAlive || p.ServerKeepAlive != 0
	case PropAuthenticationMethod:
		return p.AuthenticationMethod != ""
	case PropAuthenticationData:
		return len(p.AuthenticationData) > 0
	case PropRequestProblemInformation:
		return p.HasRequestProblemInformation || p.RequestProblemInformation != 0
	case PropWillDelayInterval:
		return p.WillDelayInterval != 0
	case PropRequestResponseInformation:
		return p.RequestResponseInformation != 0
	case PropResponseInformation:
		return p.ResponseInformation != ""
	case PropServerReference:
		return p.ServerReference != ""
	case PropReasonString:
		return p.ReasonString != ""
	case PropReceiveMaximum:
		return p.ReceiveMaximum != 0
	case PropTopicAliasMaximum:
		return p.TopicAliasMaximum != 0
	case PropTopicAlias:
		return p.TopicAlias != 0
	case PropMaximumQoS:
		return p.HasMaximumQoS || p.MaximumQoS != 0
	case PropRetainAvailable:
		return p.HasRetainAvailable || p.RetainAvailable != 0
	case PropUserProperty:
		return len(p.User) > 0
	case PropMaximumPacketSize:
		return p.MaximumPacketSize != 0
	case PropWildcardSubscriptionAvailable:
		return p.HasWildcardSubscriptionAvailable || p.WildcardSubscriptionAvailable != 0
	case PropSubscriptionIdentifierAvailable:
		return p.HasSubscriptionIdentifierAvailable || p.SubscriptionIdentifierAvailable != 0
	case PropSharedSubscriptionAvailable:
		return p.HasSharedSubscriptionAvailable || p.SharedSubscriptionAvailable != 0
	}
	return false
}

// propOrder lists the identifiers in the order Append writes them.
var propOrder = func() []PropID {
	var ids []PropID
	for id := range propTable {
		if propTable[id].typ != ptNone {
			ids = append(ids, PropID(id))
		}
	}
	return ids
}()

// size validates p for packet kind and returns the length of its encoding
// without the property length prefix.
func (p *Properties) size(kind PacketType) (int, error) {
	if p.empty() {
		return 0, nil
	}
	n := 0
	for _, id := range propOrder {
		if !p.Has(id) {
			continue
		}
		in := &propTable[id]
		if in.allowed&(1<<kind) == 0 {
			return 0, protocolErr("", in.name+" is not allowed in "+kindName(kind))
		}
		switch in.typ {
		case ptByte:
			n += 2
		case ptUint16:
			n += 3
		case ptUint32:
			n += 5
		}
		switch id {
		case PropPayloadFormatIndicator, PropRequestProblemInformation, PropRequestResponseInformation,
			PropMaximumQoS, PropRetainAvailable, PropWildcardSubscriptionAvailable,
			PropSubscriptionIdentifierAvailable, PropSharedSubscriptionAvailable:
			if v := p.byteValue(id); v > 1 {
				return 0, protocolErr("", in.name+" is "+itoa(int(v))+", not 0 or 1")
			}
		case PropContentType, PropAssignedClientIdentifier, PropAuthenticationMethod,
			PropResponseInformation, PropServerReference, PropReasonString, PropResponseTopic:
			s := p.stringValue(id)
			if err := checkEncString(s, in.name); err != nil {
				return 0, err
			}
			if id == PropResponseTopic && checkTopicNameChars(s) != nil {
				return 0, protocolErr("MQTT-3.3.2-14", "wildcard character in Response Topic")
			}
			n += 3 + len(s)
		case PropCorrelationData, PropAuthenticationData:
			b := p.CorrelationData
			if id == PropAuthenticationData {
				b = p.AuthenticationData
				if p.AuthenticationMethod == "" {
					return 0, protocolErr("", "Authentication Data without an Authentication Method")
				}
			}
			if err := checkEncBinary(b, in.name); err != nil {
				return 0, err
			}
			n += 3 + len(b)
		case PropSubscriptionIdentifier:
			if kind != TypePublish && len(p.SubscriptionIdentifiers) > 1 {
				return 0, protocolErr("", "more than one Subscription Identifier")
			}
			for _, v := range p.SubscriptionIdentifiers {
				if v == 0 || v > MaxRemainingLength {
					return 0, protocolErr("", "Subscription Identifier "+itoa(int(v))+" out of range 1..268435455")
				}
				n += 1 + vbiLen(v)
			}
		case PropUserProperty:
			for _, u := range p.User {
				if err := checkEncString(u.Key, "User Property name"); err != nil {
					return 0, err
				}
				if err := checkEncString(u.Value, "User Property value"); err != nil {
					return 0, err
				}
				n += 5 + len(u.Key) + len(u.Value)
			}
		}
	}
	if n > MaxRemainingLength {
		return 0, errorf(ReasonPacketTooLarge, "", "properties longer than 268435455 bytes")
	}
	return n, nil
}

func (p *Properties) byteValue(id PropID) byte {
	switch id {
	case PropPayloadFormatIndicator:
		return p.PayloadFormatIndicator
	case PropRequestProblemInformation:
		return p.RequestProblemInformation
	case PropRequestResponseInformation:
		return p.RequestResponseInformation
	case PropMaximumQoS:
		return p.MaximumQoS
	case PropRetainAvailable:
		return p.RetainAvailable
	case PropWildcardSubscriptionAvailable:
		return p.WildcardSubscriptionAvailable
	case PropSubscriptionIdentifierAvailable:
		return p.SubscriptionIdentifierAvailable
	case PropSharedSubscriptionAvailable:
		return p.SharedSubscriptionAvailable
	}
	return 0
}

func (p *Properties) stringValue(id PropID) string {
	switch id {
	case PropContentType:
		return p.ContentType
	case PropResponseTopic:
		return p.ResponseTopic
	case PropAssignedClientIdentifier:
		return p.AssignedClientIdentifier
	case PropAuthenticationMethod:
		return p.AuthenticationMethod
	case PropResponseInformation:
		return p.ResponseInformation
	case PropServerReference:
		return p.ServerReference
	case PropReasonString:
		return p.ReasonString
	}
	return ""
}

// appendProps appends the property length n (from size) and the properties.
func (p *Properties) append(dst []byte, n int) []byte {
	dst = appendVBI(dst, uint32(n))
	if n == 0 {
		return dst
	}
	for _, id := range propOrder {
		if !p.Has(id) {
			continue
		}
		switch propTable[id].typ {
		case ptByte:
			dst = append(dst, byte(id), p.byteValue(id))
		case ptUint16:
			var v uint16
			switch id {
			case PropServerKeepAlive:
				v = p.ServerKeepAlive
			case PropReceiveMaximum:
				v = p.ReceiveMaximum
			case PropTopicAliasMaximum:
				v = p.TopicAliasMaximum
			case PropTopicAlias:
				v = p.TopicAlias
			}
			dst = appendUint16(append(dst, byte(id)), v)
		case ptUint32:
			var v uint32
			switch id {
			case PropMessageExpiryInterval:
				v = p.MessageExpiryInterval
			case PropSessionExpiryInterval:
				v = p.SessionExpiryInterval
			case PropWillDelayInterval:
				v = p.WillDelayInterval
			case PropMaximumPacketSize:
				v = p.MaximumPacketSize
			}
			dst = appendUint32(append(dst, byte(id)), v)
		case ptString:
			dst = appendString(append(dst, byte(id)), p.stringValue(id))
		case ptBinary:
			b := p.CorrelationData
			if id == PropAuthenticationData {
				b = p.AuthenticationData
			}
			dst = appendBinary(append(dst, byte(id)), b)
		case ptVBI:
			for _, v := range p.SubscriptionIdentifiers {
				dst = appendVBI(append(dst, byte(id)), v)
			}
		case ptPair:
			for _, u := range p.User {
				dst = appendString(append(dst, byte(id)), u.Key)
				dst = appendString(dst, u.Value)
			}
		}
	}
	return dst
}

// empty reports whether no property is present: every field is zero. It is
// the fast path of encoding packets without properties.
func (p *Properties) empty() bool {
	return p.PayloadFormatIndicator == 0 && p.MessageExpiryInterval == 0 && !p.HasMessageExpiryInterval &&
		p.ContentType == "" && p.ResponseTopic == "" && len(p.CorrelationData) == 0 &&
		len(p.SubscriptionIdentifiers) == 0 && p.SessionExpiryInterval == 0 && !p.HasSessionExpiryInterval &&
		p.AssignedClientIdentifier == "" && p.ServerKeepAlive == 0 && !p.HasServerKeepAlive &&
		p.AuthenticationMethod == "" && len(p.AuthenticationData) == 0 && p.RequestProblemInformation == 0 &&
		!p.HasRequestProblemInformation && p.WillDelayInterval == 0 && p.RequestResponseInformation == 0 &&
		p.ResponseInformation == "" && p.ServerReference == "" && p.ReasonString == "" &&
		p.ReceiveMaximum == 0 && p.TopicAliasMaximum == 0 && p.TopicAlias == 0 && p.MaximumQoS == 0 &&
		!p.HasMaximumQoS && p.RetainAvailable == 0 && !p.HasRetainAvailable && len(p.User) == 0 &&
		p.MaximumPacketSize == 0 && p.WildcardSubscriptionAvailable == 0 && !p.HasWildcardSubscriptionAvailable &&
		p.SubscriptionIdentifierAvailable == 0 && !p.HasSubscriptionIdentifierAvailable &&
		p.SharedSubscriptionAvailable == 0 && !p.HasSharedSubscriptionAvailable
}
