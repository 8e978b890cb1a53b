package packets

import (
	"bytes"
	"fmt"
	"io"
	"sort"
	"strings"
	"testing"

	mochi "github.com/mochi-mqtt/server/v2/packets"
)

// Differential tests against mochi-mqtt v2.7.9's packets package, a test-only
// oracle (see /work/shared/research/libraries.md Q2). Its TPacketData holds
// 179 cases: raw bytes with the packet mochi expects, including malformed
// input. Each case with raw bytes is decoded by mochi's decoder and by ours
// on the same body, and the outcomes are compared:
//
//   - mochi rejects: we must reject too (no exception is allowed);
//   - both accept: the decoded fields must agree;
//   - mochi accepts, we reject: allowed only for the cases listed in
//     mochiDeliberate, each with the reason. The list is checked both ways,
//     so a fix on either side shows up.

// mochiDeliberate lists the cases mochi accepts and we reject, by case
// number (the TPacketCase.Case byte), with why we differ.
var mochiDeliberate = map[byte]string{
	mochi.TConnectMqtt31: "MQTT 3.1 (\"MQIsdp\", level 3) is outside the product's scope (3.1.1 and 5.0): " +
		"Unsupported Protocol Version, which a gateway answers with 3.1.1 return code 0x01 [MQTT-3.1.2-2]",

	// 3.1.1 CONNACKs carrying 5.0 reason codes. 3.1.1 defines return
	// codes 0-5 only (§3.2.2.3, "6-255 Reserved for future use"), and most
	// of these cases also set Session Present with a refusal, which
	// [MQTT-3.2.2-4] forbids. mochi's decoder checks neither.
	mochi.TConnackBadProtocolVersion:         v3ConnackReserved,
	mochi.TConnackProtocolViolationNoSession: v3ConnackReserved,
	mochi.TConnackBadClientID:                v3ConnackReserved,
	mochi.TConnackServerUnavailable:          v3ConnackReserved,
	mochi.TConnackBadUsernamePassword:        v3ConnackReserved,
	mochi.TConnackNotAuthorised:              v3ConnackReserved,

	// Encode-only cases whose RawBytes are the input to mochi's property
	// trimming, not a well-formed packet: the remaining length (40) is two
	// more than the bytes present, and the property length (19) leaves 16
	// bytes over. mochi's decoder checks neither; we require a packet's
	// fields to fill its remaining length exactly.
	mochi.TConnackDropProperties:        inconsistentLength,
	mochi.TConnackDropPropertiesPartial: inconsistentLength,
	mochi.TDisconnectDropProperties:     inconsistentLength,
	mochi.TPublishSpecQos0NoPacketID: "encode-only case (packet id must be 0 if qos is 0): the remaining length " +
		"says 12 bytes, 14 follow, so the last two bytes start a second, truncated packet",

	mochi.TSubackInvalidSharedNoLocal: "0x82 (Protocol Error) is not a SUBACK reason code (MQTT 5.0 §3.9.3, " +
		"Table 3-8); mochi sends it when No Local is set on a shared subscription, which [MQTT-3.8.3-4] makes " +
		"a Protocol Error to be answered with DISCONNECT",
}

const (
	v3ConnackReserved  = "3.1.1 CONNACK return codes above 5 are reserved; see the comment above"
	inconsistentLength = "remaining length and property length disagree with the bytes; see the comment above"
)

// mochiDecode runs mochi's decoder the way its server does: the fixed header
// byte first, then the body decoder of the case's packet type. A panic is
// reported as such (mochi has no recover).
func mochiDecode(typ byte, version byte, first byte, remaining int, body []byte) (pk *mochi.Packet, err error, panicked any) {
	defer func() {
		if r := recover(); r != nil {
			panicked = r
		}
	}()
	pk = &mochi.Packet{FixedHeader: mochi.FixedHeader{Type: typ}, ProtocolVersion: version}
	if err := pk.FixedHeader.Decode(first); err != nil {
		return pk, err, nil
	}
	pk.FixedHeader.Type = typ
	pk.FixedHeader.Remaining = remaining
	switch typ {
	case mochi.Connect:
		err = pk.ConnectDecode(body)
	case mochi.Connack:
		err = pk.ConnackDecode(body)
	case mochi.Publish:
		err = pk.PublishDecode(body)
	case mochi.Puback:
		err = pk.PubackDecode(body)
	case mochi.Pubrec:
		err = pk.PubrecDecode(body)
	case mochi.Pubrel:
		err = pk.PubrelDecode(body)
	case mochi.Pubcomp:
		err = pk.PubcompDecode(body)
	case mochi.Subscribe:
		err = pk.SubscribeDecode(body)
	case mochi.Suback:
		err = pk.SubackDecode(body)
	case mochi.Unsubscribe:
		err = pk.UnsubscribeDecode(body)
	case mochi.Unsuback:
		err = pk.UnsubackDecode(body)
	case mochi.Pingreq:
		err = pk.PingreqDecode(body)
	case mochi.Pingresp:
		err = pk.PingrespDecode(body)
	case mochi.Disconnect:
		err = pk.DisconnectDecode(body)
	case mochi.Auth:
		err = pk.AuthDecode(body)
	}
	return pk, err, nil
}

type mochiCase struct {
	typ byte
	c   mochi.TPacketCase
}

func mochiCases() []mochiCase {
	var out []mochiCase
	for typ, cases := range mochi.TPacketData {
		for _, c := range cases {
			out = append(out, mochiCase{typ, c})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].c.Case < out[j].c.Case })
	return out
}

// ourVersion is the protocol level we decode a mochi case with: mochi's
// ProtocolVersion 0 means "not 5", which for us is 3.1.1; AUTH exists only
// in 5.0.
func ourVersion(typ byte, c mochi.TPacketCase) byte {
	if c.Packet != nil && c.Packet.ProtocolVersion == 5 || typ == mochi.Auth {
		return Version5
	}
	return Version311
}

// mochiHarness decodes a catalog case with mochi the way mochi's own tests
// do: a one-byte remaining length, and everything after it as the body.
func mochiHarness(typ, version byte, raw []byte) (*mochi.Packet, error, any) {
	return mochiDecode(typ, version, raw[0], int(raw[1]), raw[2:])
}

func TestMochiDifferential(t *testing.T) {
	var total, withRaw, rejectMochi, rejectCatalog, bothAccept, deliberate int
	seen := map[byte]bool{}
	for _, mc := range mochiCases() {
		total++
		c := mc.c
		if len(c.RawBytes) < 2 {
			continue // validate-only cases: packet values, no bytes
		}
		withRaw++
		name := fmt.Sprintf("%s #%d %s", PacketType(mc.typ), c.Case, c.Desc)
		t.Run(name, func(t *testing.T) {
			version := ourVersion(mc.typ, c)
			mp, merr, mpanic := mochiHarness(mc.typ, version, c.RawBytes)
			if mpanic != nil {
				t.Fatalf("mochi panicked: %v", mpanic)
			}
			// Our verdict is the wire's: the raw bytes through a Reader
			// (with the case's size limit when the expected error is about
			// size), exactly one packet.
			expectErr := c.FailFirst != nil || c.Expect != nil
			if code, ok := c.Expect.(mochi.Code); ok && code.Code < 0x80 {
				expectErr = false // "deny publishing to $SYS topics" expects CodeSuccess
			}
			maxSize := 0
			if c.FailFirst == mochi.ErrPacketTooLarge && c.Packet != nil {
				maxSize = int(c.Packet.Mods.MaxSize)
			}
			r := NewReader(bytes.NewReader(c.RawBytes), maxSize)
			r.Version = version
			fh, body, err := r.Next()
			var ours Packet
			if err == nil {
				if fh.Type != PacketType(mc.typ) {
					// A few mochi cases put another packet type's first
					// byte in front (mochi's harness decodes by table).
					fh.Type = PacketType(mc.typ)
				}
				ours, err = Decode(version, fh, body)
			}
			if err == nil {
				if _, _, e := r.Next(); e != io.EOF {
					err = fmt.Errorf("bytes after the packet (%v)", e)
				}
			}
			why, listed := mochiDeliberate[c.Case]
			switch {
			case merr != nil || expectErr:
				if err == nil {
					t.Fatalf("mochi rejects (decoder: %v; catalog: %v %v), we accept %s", merr, c.FailFirst, c.Expect, show(ours))
				}
				if merr != nil {
					rejectMochi++
				} else {
					rejectCatalog++
				}
				if listed {
					t.Errorf("listed as deliberate (%s), but both reject", why)
				}
			case err != nil:
				if !listed {
					t.Fatalf("mochi accepts, we reject: %v", err)
				}
				deliberate++
				seen[c.Case] = true
				t.Logf("deliberate: %v; %s", err, why)
			default:
				bothAccept++
				if listed {
					t.Errorf("listed as deliberate (%s), but both accept", why)
				}
				if a, b := viewOurs(ours, version), viewMochi(mp, version); a != b {
					t.Fatalf("decoded values differ:\nours  %s\nmochi %s", a, b)
				}
				checkRoundTrip(t, version, ours)
			}
		})
	}
	for c, why := range mochiDeliberate {
		if !seen[c] {
			t.Errorf("deliberate difference for case %d not observed (%s)", c, why)
		}
	}
	t.Logf("mochi TPacketData: %d cases, %d with raw bytes: %d rejected by mochi's decoder and by us, "+
		"%d accepted by mochi's decoder but marked as errors in the catalog and rejected by us, "+
		"%d accepted by both with equal values, %d deliberate differences (mochi accepts, we reject)",
		total, withRaw, rejectMochi, rejectCatalog, bothAccept, deliberate)
	if total != 179 {
		t.Errorf("TPacketData has %d cases, expected 179", total)
	}
}

// checkRoundTrip: an accepted packet survives encode and decode.
func checkRoundTrip(t *testing.T, version byte, ours Packet) {
	t.Helper()
	enc, err := Append(nil, ours, version)
	if err != nil {
		t.Fatalf("re-encode: %v", err)
	}
	back, err := decodeRaw(version, enc)
	if err != nil || !equal(back, ours) {
		t.Fatalf("round trip: %s, %v", show(back), err)
	}
}

// TestMochiCrashInput is the one-packet remote crash of mochi v2.7.9 found
// in the library survey: a v5 SUBSCRIBE whose topic filter has no
// subscription options byte. mochi indexes past the buffer; we report a
// Malformed Packet.
func TestMochiCrashInput(t *testing.T) {
	raw := []byte{0x82, 0x06, 0x00, 0x01, 0x00, 0x00, 0x01, 'a'}
	_, _, panicked := mochiHarness(mochi.Subscribe, 5, raw)
	if panicked == nil {
		t.Log("mochi no longer panics on this input")
	} else {
		t.Logf("mochi v2.7.9 panics: %v", panicked)
	}
	_, err := decodeRaw(Version5, raw)
	if codeOf(err) != ReasonMalformedPacket {
		t.Fatalf("got %v", err)
	}
}

// view renders the fields both codecs decode, normalized to one format.
type view struct {
	b strings.Builder
}

func (v *view) add(k string, val any) { fmt.Fprintf(&v.b, "%s=%v ", k, val) }

func (v *view) props(prefix string, p Properties) {
	opt := func(has bool, val byte) int {
		if !has {
			return -1
		}
		return int(val)
	}
	pf := -1
	if p.PayloadFormatIndicator != 0 {
		pf = int(p.PayloadFormatIndicator)
	}
	var subIDs []int
	for _, id := range p.SubscriptionIdentifiers {
		subIDs = append(subIDs, int(id))
	}
	var user []string
	for _, u := range p.User {
		user = append(user, u.Key+"="+u.Value)
	}
	ska := -1
	if p.HasServerKeepAlive {
		ska = int(p.ServerKeepAlive)
	}
	v.add(prefix+"pf", pf)
	v.add(prefix+"mei", p.MessageExpiryInterval)
	v.add(prefix+"ct", p.ContentType)
	v.add(prefix+"rt", p.ResponseTopic)
	v.add(prefix+"cd", fmt.Sprintf("%x", p.CorrelationData))
	v.add(prefix+"sid", subIDs)
	v.add(prefix+"sei", p.SessionExpiryInterval)
	v.add(prefix+"aci", p.AssignedClientIdentifier)
	v.add(prefix+"ska", ska)
	v.add(prefix+"am", p.AuthenticationMethod)
	v.add(prefix+"ad", fmt.Sprintf("%x", p.AuthenticationData))
	v.add(prefix+"rpi", opt(p.HasRequestProblemInformation, p.RequestProblemInformation))
	v.add(prefix+"wdi", p.WillDelayInterval)
	v.add(prefix+"rri", p.RequestResponseInformation)
	v.add(prefix+"ri", p.ResponseInformation)
	v.add(prefix+"sr", p.ServerReference)
	v.add(prefix+"rs", p.ReasonString)
	v.add(prefix+"rm", p.ReceiveMaximum)
	v.add(prefix+"tam", p.TopicAliasMaximum)
	v.add(prefix+"ta", p.TopicAlias)
	v.add(prefix+"mqos", opt(p.HasMaximumQoS, p.MaximumQoS))
	v.add(prefix+"ra", opt(p.HasRetainAvailable, p.RetainAvailable))
	v.add(prefix+"user", user)
	v.add(prefix+"mps", p.MaximumPacketSize)
	v.add(prefix+"wsa", opt(p.HasWildcardSubscriptionAvailable, p.WildcardSubscriptionAvailable))
	v.add(prefix+"sida", opt(p.HasSubscriptionIdentifierAvailable, p.SubscriptionIdentifierAvailable))
	v.add(prefix+"ssa", opt(p.HasSharedSubscriptionAvailable, p.SharedSubscriptionAvailable))
}

// fromMochiProps converts mochi's properties to ours, for the view.
func fromMochiProps(m mochi.Properties) Properties {
	p := Properties{
		MessageExpiryInterval: m.MessageExpiryInterval, ContentType: m.ContentType, ResponseTopic: m.ResponseTopic,
		CorrelationData: m.CorrelationData, SessionExpiryInterval: m.SessionExpiryInterval,
		AssignedClientIdentifier: m.AssignedClientID, AuthenticationMethod: m.AuthenticationMethod,
		AuthenticationData: m.AuthenticationData, WillDelayInterval: m.WillDelayInterval,
		RequestResponseInformation: m.RequestResponseInfo, ResponseInformation: m.ResponseInfo,
		ServerReference: m.ServerReference, ReasonString: m.ReasonString, ReceiveMaximum: m.ReceiveMaximum,
		TopicAliasMaximum: m.TopicAliasMaximum, TopicAlias: m.TopicAlias, MaximumPacketSize: m.MaximumPacketSize,
		ServerKeepAlive: m.ServerKeepAlive, HasServerKeepAlive: m.ServerKeepAliveFlag,
		RequestProblemInformation: m.RequestProblemInfo, HasRequestProblemInformation: m.RequestProblemInfoFlag,
		MaximumQoS: m.MaximumQos, HasMaximumQoS: m.MaximumQosFlag,
		RetainAvailable: m.RetainAvailable, HasRetainAvailable: m.RetainAvailableFlag,
		WildcardSubscriptionAvailable: m.WildcardSubAvailable, HasWildcardSubscriptionAvailable: m.WildcardSubAvailableFlag,
		SubscriptionIdentifierAvailable: m.SubIDAvailable, HasSubscriptionIdentifierAvailable: m.SubIDAvailableFlag,
		SharedSubscriptionAvailable: m.SharedSubAvailable, HasSharedSubscriptionAvailable: m.SharedSubAvailableFlag,
	}
	if m.PayloadFormatFlag {
		p.PayloadFormatIndicator = m.PayloadFormat
	}
	for _, id := range m.SubscriptionIdentifier {
		p.SubscriptionIdentifiers = append(p.SubscriptionIdentifiers, uint32(id))
	}
	for _, u := range m.User {
		p.User = append(p.User, UserProperty{u.Key, u.Val})
	}
	return p
}

func viewOurs(p Packet, version byte) string {
	var v view
	v.add("type", p.Type())
	switch p := p.(type) {
	case *Connect:
		v.add("ver", p.ProtocolVersion)
		v.add("clean", p.CleanStart)
		v.add("ka", p.KeepAlive)
		v.add("id", p.ClientID)
		v.add("uflag", p.HasUsername)
		v.add("user", p.Username)
		v.add("pflag", p.HasPassword)
		v.add("pass", string(p.Password))
		w := p.Will
		if w == nil {
			w = &Will{}
		}
		v.add("will", p.Will != nil)
		v.add("wtopic", w.Topic)
		v.add("wpayload", string(w.Payload))
		v.add("wqos", w.QoS)
		v.add("wretain", w.Retain)
		v.props("w.", w.Properties)
		v.props("", p.Properties)
	case *Connack:
		code := byte(p.ReasonCode)
		if version != Version5 {
			code, _ = p.ReasonCode.V3ConnackCode()
		}
		v.add("sp", p.SessionPresent)
		v.add("rc", code)
		v.props("", p.Properties)
	case *Publish:
		v.add("topic", p.Topic)
		v.add("qos", p.QoS)
		v.add("retain", p.Retain)
		v.add("dup", p.Dup)
		v.add("pid", p.PacketID)
		v.add("payload", string(p.Payload))
		v.props("", p.Properties)
	case *Puback:
		ack(&v, p.PacketID, p.ReasonCode, p.Properties)
	case *Pubrec:
		ack(&v, p.PacketID, p.ReasonCode, p.Properties)
	case *Pubrel:
		ack(&v, p.PacketID, p.ReasonCode, p.Properties)
	case *Pubcomp:
		ack(&v, p.PacketID, p.ReasonCode, p.Properties)
	case *Subscribe:
		v.add("pid", p.PacketID)
		for _, s := range p.Subscriptions {
			v.add("sub", fmt.Sprintf("%s|%d|%v|%v|%d", s.Filter, s.QoS, s.NoLocal, s.RetainAsPublished, s.RetainHandling))
		}
		v.props("", p.Properties)
	case *Suback:
		codes(&v, p.PacketID, p.ReasonCodes, p.Properties)
	case *Unsubscribe:
		v.add("pid", p.PacketID)
		for _, f := range p.Filters {
			v.add("sub", f)
		}
		v.props("", p.Properties)
	case *Unsuback:
		codes(&v, p.PacketID, p.ReasonCodes, p.Properties)
	case *Disconnect:
		v.add("rc", byte(p.ReasonCode))
		v.props("", p.Properties)
	case *Auth:
		v.add("rc", byte(p.ReasonCode))
		v.props("", p.Properties)
	}
	return v.b.String()
}

func ack(v *view, id uint16, rc ReasonCode, p Properties) {
	v.add("pid", id)
	v.add("rc", byte(rc))
	v.props("", p)
}

func codes(v *view, id uint16, rcs []ReasonCode, p Properties) {
	v.add("pid", id)
	var b []byte
	for _, c := range rcs {
		b = append(b, byte(c))
	}
	v.add("codes", fmt.Sprintf("%x", b))
	v.props("", p)
}

func viewMochi(m *mochi.Packet, version byte) string {
	// Build the same view from mochi's fields by mapping them onto ours.
	var p Packet
	props := fromMochiProps(m.Properties)
	switch m.FixedHeader.Type {
	case mochi.Connect:
		c := &Connect{ProtocolVersion: m.ProtocolVersion, CleanStart: m.Connect.Clean, KeepAlive: m.Connect.Keepalive,
			ClientID: m.Connect.ClientIdentifier, HasUsername: m.Connect.UsernameFlag, Username: string(m.Connect.Username),
			HasPassword: m.Connect.PasswordFlag, Password: m.Connect.Password, Properties: props}
		if m.Connect.WillFlag {
			c.Will = &Will{Topic: m.Connect.WillTopic, Payload: m.Connect.WillPayload, QoS: m.Connect.WillQos,
				Retain: m.Connect.WillRetain, Properties: fromMochiProps(m.Connect.WillProperties)}
		}
		p = c
	case mochi.Connack:
		var view view
		view.add("type", TypeConnack)
		view.add("sp", m.SessionPresent)
		view.add("rc", m.ReasonCode)
		view.props("", props)
		return view.b.String()
	case mochi.Publish:
		p = &Publish{Topic: m.TopicName, QoS: m.FixedHeader.Qos, Retain: m.FixedHeader.Retain, Dup: m.FixedHeader.Dup,
			PacketID: m.PacketID, Payload: m.Payload, Properties: props}
	case mochi.Puback:
		p = &Puback{PacketID: m.PacketID, ReasonCode: ReasonCode(m.ReasonCode), Properties: props}
	case mochi.Pubrec:
		p = &Pubrec{PacketID: m.PacketID, ReasonCode: ReasonCode(m.ReasonCode), Properties: props}
	case mochi.Pubrel:
		p = &Pubrel{PacketID: m.PacketID, ReasonCode: ReasonCode(m.ReasonCode), Properties: props}
	case mochi.Pubcomp:
		p = &Pubcomp{PacketID: m.PacketID, ReasonCode: ReasonCode(m.ReasonCode), Properties: props}
	case mochi.Subscribe:
		s := &Subscribe{PacketID: m.PacketID, Properties: props}
		for _, f := range m.Filters {
			s.Subscriptions = append(s.Subscriptions, Subscription{Filter: f.Filter, QoS: f.Qos, NoLocal: f.NoLocal,
				RetainAsPublished: f.RetainAsPublished, RetainHandling: f.RetainHandling})
		}
		p = s
	case mochi.Suback, mochi.Unsuback:
		var rcs []ReasonCode
		for _, c := range m.ReasonCodes {
			rcs = append(rcs, ReasonCode(c))
		}
		if m.FixedHeader.Type == mochi.Suback {
			p = &Suback{PacketID: m.PacketID, ReasonCodes: rcs, Properties: props}
		} else {
			p = &Unsuback{PacketID: m.PacketID, ReasonCodes: rcs, Properties: props}
		}
	case mochi.Unsubscribe:
		u := &Unsubscribe{PacketID: m.PacketID, Properties: props}
		for _, f := range m.Filters {
			u.Filters = append(u.Filters, f.Filter)
		}
		p = u
	case mochi.Pingreq:
		p = &Pingreq{}
	case mochi.Pingresp:
		p = &Pingresp{}
	case mochi.Disconnect:
		p = &Disconnect{ReasonCode: ReasonCode(m.ReasonCode), Properties: props}
	case mochi.Auth:
		p = &Auth{ReasonCode: ReasonCode(m.ReasonCode), Properties: props}
	default:
		return fmt.Sprintf("mochi type %d", m.FixedHeader.Type)
	}
	return viewOurs(p, version)
}

// mochiBugs lists golden cases that mochi v2.7.9 decodes against the spec.
var mochiBugs = map[string]string{
	"v5 AUTH success, empty": "mochi requires a reason code, but an AUTH with Success and no properties " +
		"has remaining length 0 (MQTT 5.0 §3.15.2.1)",
	"v5 DISCONNECT with will, no properties": "mochi reads the reason code only when the remaining length is " +
		"above 1 and reports Normal disconnection; §3.14.2.1 puts it in any DISCONNECT with remaining length 1 or more",
}

// TestMochiEncodesWhatWeDecode: mochi's decoder accepts every packet of our
// golden catalog with the same values, except for the mochi bugs listed
// above. This checks our encoder's output with an independent decoder.
func TestMochiEncodesWhatWeDecode(t *testing.T) {
	for name, tc := range golden {
		t.Run(name, func(t *testing.T) {
			fh, body := splitPacket(t, tc.raw)
			mp, err, panicked := mochiDecode(byte(fh.Type), tc.version, tc.raw[0], fh.RemainingLength, body)
			if panicked != nil {
				t.Fatalf("mochi panicked: %v", panicked)
			}
			same := err == nil && viewOurs(tc.want, tc.version) == viewMochi(mp, tc.version)
			if bug, ok := mochiBugs[name]; ok {
				if same {
					t.Errorf("mochi bug no longer seen: %s", bug)
				}
				return
			}
			if err != nil {
				t.Fatalf("mochi: %v", err)
			}
			if !same {
				t.Fatalf("values differ:\nours  %s\nmochi %s", viewOurs(tc.want, tc.version), viewMochi(mp, tc.version))
			}
		})
	}
}

// mochiEncode encodes a mochi packet with mochi's encoder.
func mochiEncode(typ byte, pk *mochi.Packet) (raw []byte, err error, panicked any) {
	defer func() {
		if r := recover(); r != nil {
			panicked = r
		}
	}()
	var buf bytes.Buffer
	switch typ {
	case mochi.Connect:
		err = pk.ConnectEncode(&buf)
	case mochi.Connack:
		err = pk.ConnackEncode(&buf)
	case mochi.Publish:
		err = pk.PublishEncode(&buf)
	case mochi.Puback:
		err = pk.PubackEncode(&buf)
	case mochi.Pubrec:
		err = pk.PubrecEncode(&buf)
	case mochi.Pubrel:
		err = pk.PubrelEncode(&buf)
	case mochi.Pubcomp:
		err = pk.PubcompEncode(&buf)
	case mochi.Subscribe:
		err = pk.SubscribeEncode(&buf)
	case mochi.Suback:
		err = pk.SubackEncode(&buf)
	case mochi.Unsubscribe:
		err = pk.UnsubscribeEncode(&buf)
	case mochi.Unsuback:
		err = pk.UnsubackEncode(&buf)
	case mochi.Disconnect:
		err = pk.DisconnectEncode(&buf)
	case mochi.Auth:
		err = pk.AuthEncode(&buf)
	default:
		err = fmt.Errorf("no encoder for type %d", typ)
	}
	return buf.Bytes(), err, nil
}

// mochiAccepted lists validate-only cases where mochi's validator reports
// an error but the bytes are a valid packet, so we accept them: either the
// rule is server policy or session state that the gateway applies, or
// mochi's encoder leaves the invalid field out, so it never reaches the wire.
var mochiAccepted = map[byte]string{
	mochi.TPublishInvalidExcessTopicAlias: "policy: Topic Alias above the negotiated Topic Alias Maximum is session state",
	mochi.TPublishInvalidSurplusSubID:     "policy: a Subscription Identifier in a PUBLISH from a client [MQTT-3.3.4-6] depends on the direction",
	mochi.TSubscribeInvalidIdentifierOversize: "policy: the Subscription Identifier is above mochi's configured limit, " +
		"within the protocol's 1..268435455",
	mochi.TPublishInvalidQos0NoPacketID: "not on the wire: mochi's encoder writes no packet identifier at QoS 0",
	mochi.TPublishInvalidTopicAlias:     "not on the wire: mochi's encoder leaves out a Topic Alias of 0",
	mochi.TPubrecInvalidReason:          "not on the wire: a 3.1.1 PUBREC carries no reason code",
}

// TestMochiValidateCases covers the 33 catalog cases that hold a packet
// value instead of bytes, most of them invalid packets that mochi's
// validators reject. Each one mochi can encode is decoded by us: where
// mochi expects an error we must reject the bytes, unless listed in
// mochiAccepted.
func TestMochiValidateCases(t *testing.T) {
	var encoded, rejected, accepted, unencodable, noError int
	for _, mc := range mochiCases() {
		c := mc.c
		if len(c.RawBytes) >= 2 || c.Packet == nil {
			continue
		}
		name := fmt.Sprintf("%s #%d %s", PacketType(mc.typ), c.Case, c.Desc)
		t.Run(name, func(t *testing.T) {
			expect := c.Expect
			if expect == nil {
				expect = c.FailFirst
			}
			if expect == nil {
				noError++ // "reference" cases for mochi's server tests
				return
			}
			pk := *c.Packet
			raw, err, panicked := mochiEncode(mc.typ, &pk)
			if panicked != nil || err != nil || len(raw) < 2 {
				unencodable++
				t.Logf("mochi cannot encode it (%v %v); nothing on the wire to decode", err, panicked)
				return
			}
			encoded++
			version := ourVersion(mc.typ, c)
			_, ourErr := decodeRaw(version, raw)
			if len(raw) > 40 {
				raw = raw[:40]
			}
			why, ok := mochiAccepted[c.Case]
			switch {
			case ourErr != nil:
				rejected++
				if ok {
					t.Errorf("listed as accepted (%s), but we reject: %v", why, ourErr)
				}
				t.Logf("mochi expects %v; we reject % x...: %v", expect, raw, ourErr)
			case ok:
				accepted++
				t.Logf("accepted: %s", why)
			default:
				t.Fatalf("mochi expects %v; we accept % x", expect, raw)
			}
		})
	}
	t.Logf("validate-only cases: %d without an expected error; %d encoded by mochi: %d rejected by us, "+
		"%d accepted (policy or not on the wire); %d mochi cannot encode", noError, encoded, rejected, accepted, unencodable)
}
