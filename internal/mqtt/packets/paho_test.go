package packets

import (
	"bytes"
	"reflect"
	"testing"

	paho "github.com/eclipse/paho.golang/packets"
)

// Round trips of MQTT 5.0 packets through github.com/eclipse/paho.golang
// v0.23.0's codec (a v5-only client codec, test-only oracle).

// pahoLimits lists golden cases paho cannot carry through unchanged.
var pahoLimits = map[string]string{
	"v5 DISCONNECT normal, no reason code": "paho's Disconnect.Unpack reads a reason code even when the remaining " +
		"length is 0, which §3.14.2.1 allows, and fails with EOF",
	"v5 PUBLISH QoS 1 every PUBLISH property": "paho keeps one Subscription Identifier per packet (the last); " +
		"§3.3.4 lets a server send several",
	"v5 CONNECT every CONNECT and Will property": "paho writes Will Properties with its CONNECT property " +
		"list and drops Payload Format Indicator, Message Expiry Interval, Content Type, Response Topic and " +
		"Correlation Data, which §3.1.3.2 allows in a Will",
}

func pahoRead(raw []byte) (*paho.ControlPacket, error) {
	return paho.ReadPacket(bytes.NewReader(raw))
}

func pahoWrite(t *testing.T, cp *paho.ControlPacket) []byte {
	t.Helper()
	var buf bytes.Buffer
	if _, err := cp.WriteTo(&buf); err != nil {
		t.Fatalf("paho write: %v", err)
	}
	return buf.Bytes()
}

// TestPahoRoundTrip: every v5 catalog packet goes ours → paho decode → paho
// encode → ours and comes back equal; and paho decodes our re-encoding to
// the same paho value.
func TestPahoRoundTrip(t *testing.T) {
	for name, tc := range golden {
		if tc.version != Version5 {
			continue
		}
		t.Run(name, func(t *testing.T) {
			cp, err := pahoRead(tc.raw)
			limit, limited := pahoLimits[name]
			if err != nil {
				if limited {
					t.Logf("paho limitation: %s (%v)", limit, err)
					return
				}
				t.Fatalf("paho read: %v", err)
			}
			raw2 := pahoWrite(t, cp)
			got, err := decodeRaw(Version5, raw2)
			if err != nil {
				t.Fatalf("decode paho's % x: %v", raw2, err)
			}
			want := tc.want
			switch w := want.(type) {
			case *Publish:
				if limited { // paho keeps the last Subscription Identifier
					p := *w
					ids := p.Properties.SubscriptionIdentifiers
					p.Properties.SubscriptionIdentifiers = ids[len(ids)-1:]
					want = &p
				}
			case *Connect:
				if limited { // paho drops the PUBLISH-like Will properties
					c, will := *w, *w.Will
					kept := Properties{WillDelayInterval: will.Properties.WillDelayInterval, User: will.Properties.User}
					will.Properties = kept
					c.Will = &will
					want = &c
				}
			}
			if limited {
				t.Logf("paho limitation: %s", limit)
			}
			if !equal(got, want) {
				t.Fatalf("after paho:\n got %s\nwant %s", show(got), show(want))
			}
			again, err := Append(nil, got, Version5)
			if err != nil {
				t.Fatal(err)
			}
			cp2, err := pahoRead(again)
			if err != nil {
				t.Fatalf("paho read of our re-encoding: %v", err)
			}
			ref, err := pahoRead(raw2) // paho's view of its own output
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(ref.Content, cp2.Content) {
				t.Fatalf("paho values differ:\n%v\n%v", ref.Content, cp2.Content)
			}
		})
	}
}

func u8p(v byte) *byte      { return &v }
func u16p(v uint16) *uint16 { return &v }
func u32p(v uint32) *uint32 { return &v }
func intp(v int) *int       { return &v }
func pahoUser(kv ...string) []paho.User {
	var u []paho.User
	for i := 0; i+1 < len(kv); i += 2 {
		u = append(u, paho.User{Key: kv[i], Value: kv[i+1]})
	}
	return u
}

// TestPahoBuilt: packets built with paho's types and written by paho decode
// with ours, re-encode, and read back in paho to the same values.
func TestPahoBuilt(t *testing.T) {
	build := map[string]func() *paho.ControlPacket{
		"CONNECT with will and properties": func() *paho.ControlPacket {
			cp := paho.NewControlPacket(paho.CONNECT)
			c := cp.Content.(*paho.Connect)
			c.ClientID, c.KeepAlive, c.CleanStart = "paho-1", 30, true
			c.UsernameFlag, c.Username, c.PasswordFlag, c.Password = true, "u", true, []byte("p")
			c.WillFlag, c.WillTopic, c.WillMessage, c.WillQOS, c.WillRetain = true, "w/t", []byte("bye"), 1, true
			c.WillProperties = &paho.Properties{WillDelayInterval: u32p(9), ContentType: "text/plain",
				PayloadFormat: u8p(1), MessageExpiry: u32p(100), ResponseTopic: "r", CorrelationData: []byte{1},
				User: pahoUser("a", "b")}
			c.Properties = &paho.Properties{SessionExpiryInterval: u32p(60), ReceiveMaximum: u16p(10),
				MaximumPacketSize: u32p(1 << 20), TopicAliasMaximum: u16p(5), RequestResponseInfo: u8p(1),
				RequestProblemInfo: u8p(0), AuthMethod: "PLAIN", AuthData: []byte("x"), User: pahoUser("k", "v", "k", "v2")}
			return cp
		},
		"CONNACK with server properties": func() *paho.ControlPacket {
			cp := paho.NewControlPacket(paho.CONNACK)
			c := cp.Content.(*paho.Connack)
			c.SessionPresent = true
			c.Properties = &paho.Properties{AssignedClientID: "a-1", ServerKeepAlive: u16p(0), MaximumQOS: u8p(1),
				RetainAvailable: u8p(0), WildcardSubAvailable: u8p(1), SubIDAvailable: u8p(0), SharedSubAvailable: u8p(1),
				ReceiveMaximum: u16p(100), TopicAliasMaximum: u16p(7), MaximumPacketSize: u32p(65536),
				ResponseInfo: "resp/", ServerReference: "s", ReasonString: "ok", SessionExpiryInterval: u32p(0)}
			return cp
		},
		"CONNACK refused": func() *paho.ControlPacket {
			cp := paho.NewControlPacket(paho.CONNACK)
			c := cp.Content.(*paho.Connack)
			c.ReasonCode = 0x86
			c.Properties = &paho.Properties{ReasonString: "nope"}
			return cp
		},
		"PUBLISH QoS 2 with properties": func() *paho.ControlPacket {
			cp := paho.NewControlPacket(paho.PUBLISH)
			p := cp.Content.(*paho.Publish)
			p.Topic, p.QoS, p.PacketID, p.Retain, p.Payload = "x/y", 2, 77, true, []byte("hello")
			p.Properties = &paho.Properties{PayloadFormat: u8p(1), MessageExpiry: u32p(0), ContentType: "c",
				ResponseTopic: "re/p", CorrelationData: []byte("id"), SubscriptionIdentifier: intp(300),
				TopicAlias: u16p(4), User: pahoUser("x", "1")}
			return cp
		},
		"PUBLISH alias only": func() *paho.ControlPacket {
			cp := paho.NewControlPacket(paho.PUBLISH)
			p := cp.Content.(*paho.Publish)
			p.Properties = &paho.Properties{TopicAlias: u16p(1)}
			p.Payload = []byte{0}
			return cp
		},
		"PUBACK with reason": func() *paho.ControlPacket {
			cp := paho.NewControlPacket(paho.PUBACK)
			p := cp.Content.(*paho.Puback)
			p.PacketID, p.ReasonCode = 5, 0x97
			p.Properties = &paho.Properties{ReasonString: "quota", User: pahoUser("a", "b")}
			return cp
		},
		"PUBREC": func() *paho.ControlPacket {
			cp := paho.NewControlPacket(paho.PUBREC)
			cp.Content.(*paho.Pubrec).PacketID = 6
			return cp
		},
		"PUBREL not found": func() *paho.ControlPacket {
			cp := paho.NewControlPacket(paho.PUBREL)
			p := cp.Content.(*paho.Pubrel)
			p.PacketID, p.ReasonCode = 7, 0x92
			return cp
		},
		"PUBCOMP": func() *paho.ControlPacket {
			cp := paho.NewControlPacket(paho.PUBCOMP)
			cp.Content.(*paho.Pubcomp).PacketID = 8
			return cp
		},
		"SUBSCRIBE with options": func() *paho.ControlPacket {
			cp := paho.NewControlPacket(paho.SUBSCRIBE)
			s := cp.Content.(*paho.Subscribe)
			s.PacketID = 9
			s.Properties = &paho.Properties{SubscriptionIdentifier: intp(268435455), User: pahoUser("u", "v")}
			s.Subscriptions = []paho.SubOptions{
				{Topic: "a/+/c", QoS: 1, NoLocal: true, RetainAsPublished: true, RetainHandling: 2},
				{Topic: "$share/g/#", QoS: 2, RetainHandling: 1},
			}
			return cp
		},
		"SUBACK": func() *paho.ControlPacket {
			cp := paho.NewControlPacket(paho.SUBACK)
			s := cp.Content.(*paho.Suback)
			s.PacketID, s.Reasons = 9, []byte{0x01, 0x02, 0x87, 0x9E}
			s.Properties = &paho.Properties{ReasonString: "r"}
			return cp
		},
		"UNSUBSCRIBE": func() *paho.ControlPacket {
			cp := paho.NewControlPacket(paho.UNSUBSCRIBE)
			u := cp.Content.(*paho.Unsubscribe)
			u.PacketID, u.Topics = 10, []string{"a/+/c", "$share/g/#"}
			return cp
		},
		"UNSUBACK": func() *paho.ControlPacket {
			cp := paho.NewControlPacket(paho.UNSUBACK)
			u := cp.Content.(*paho.Unsuback)
			u.PacketID, u.Reasons = 10, []byte{0x00, 0x11}
			return cp
		},
		"PINGREQ":  func() *paho.ControlPacket { return paho.NewControlPacket(paho.PINGREQ) },
		"PINGRESP": func() *paho.ControlPacket { return paho.NewControlPacket(paho.PINGRESP) },
		"DISCONNECT with properties": func() *paho.ControlPacket {
			cp := paho.NewControlPacket(paho.DISCONNECT)
			d := cp.Content.(*paho.Disconnect)
			d.ReasonCode = 0x9C
			d.Properties = &paho.Properties{ServerReference: "other", SessionExpiryInterval: u32p(5), ReasonString: "move"}
			return cp
		},
		"AUTH continue": func() *paho.ControlPacket {
			cp := paho.NewControlPacket(paho.AUTH)
			cp.Flags = 0 // paho's NewControlPacket sets AUTH flags to 0001, which §2.1.3 reserves as 0000
			a := cp.Content.(*paho.Auth)
			a.ReasonCode = 0x18
			a.Properties = &paho.Properties{AuthMethod: "SCRAM-SHA-256", AuthData: []byte("c=biws"), ReasonString: "go on"}
			return cp
		},
	}
	for name, mk := range build {
		t.Run(name, func(t *testing.T) {
			cp := mk()
			raw := pahoWrite(t, cp)
			p, err := decodeRaw(Version5, raw)
			if err != nil {
				t.Fatalf("decode paho's % x: %v", raw, err)
			}
			ours, err := Append(nil, p, Version5)
			if err != nil {
				t.Fatal(err)
			}
			back, err := pahoRead(ours)
			if err != nil {
				t.Fatalf("paho read of ours % x: %v", ours, err)
			}
			orig, err := pahoRead(raw) // paho's own view of its bytes, for a like-for-like comparison
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(orig.Content, back.Content) {
				t.Fatalf("paho values differ:\n%v\n%v", orig.Content, back.Content)
			}
		})
	}
}

// TestPahoAuthFlags documents a paho bug our decoder catches: paho's
// NewControlPacket(AUTH) writes the fixed header flags as 0001.
func TestPahoAuthFlags(t *testing.T) {
	cp := paho.NewControlPacket(paho.AUTH)
	cp.Content.(*paho.Auth).Properties = &paho.Properties{AuthMethod: "m"}
	raw := pahoWrite(t, cp)
	if raw[0] != 0xF1 {
		t.Skipf("paho now writes AUTH as 0x%02X", raw[0])
	}
	if _, err := decodeRaw(Version5, raw); codeOf(err) != ReasonMalformedPacket {
		t.Fatalf("got %v", err)
	}
}
