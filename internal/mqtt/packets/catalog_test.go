package packets

import (
	"bytes"
	"strings"
	"testing"
)

// goldenCase is one packet of the golden catalog: the raw bytes, one field
// per line, and the value they decode to. Raw bytes are canonical (what
// Append produces), so every case is checked in both directions.
type goldenCase struct {
	spec    string
	version byte
	raw     []byte
	want    Packet
}

var payload200 = bytes.Repeat([]byte{0xAB}, 200)

// golden is the catalog, keyed by name. The same cases seed FuzzReader and
// feed the paho round trips.
var golden = map[string]goldenCase{
	// ---- MQTT 3.1.1 ----
	"v4 CONNECT minimal": {
		spec: "3.1.1 §3.1", version: 4,
		raw: []byte{
			0x10, 14, // CONNECT, remaining length
			0x00, 0x04, 'M', 'Q', 'T', 'T', // protocol name
			0x04,       // protocol level 4
			0x02,       // flags: clean session
			0x00, 0x3C, // keep alive 60
			0x00, 0x02, 'c', '1', // client identifier
		},
		want: &Connect{ProtocolVersion: 4, CleanStart: true, KeepAlive: 60, ClientID: "c1"},
	},
	"v4 CONNECT will, user name and password": {
		spec: "3.1.1 §3.1.2.3, §3.1.3", version: 4,
		raw: []byte{
			0x10, 35, // CONNECT
			0x00, 0x04, 'M', 'Q', 'T', 'T', // protocol name
			0x04,       // level 4
			0xEC,       // flags: user name, password, will retain, will QoS 1, will
			0x00, 0x00, // keep alive 0
			0x00, 0x02, 'c', '2', // client identifier
			0x00, 0x03, 'l', '/', 'w', // will topic
			0x00, 0x03, 'b', 'y', 'e', // will payload
			0x00, 0x04, 'u', 's', 'e', 'r', // user name
			0x00, 0x03, 0x01, 0x00, 0xFF, // password (binary)
		},
		want: &Connect{ProtocolVersion: 4, ClientID: "c2",
			Will:        &Will{Topic: "l/w", Payload: []byte("bye"), QoS: 1, Retain: true},
			HasUsername: true, Username: "user", HasPassword: true, Password: []byte{1, 0, 0xFF}},
	},
	"v4 CONNECT empty client identifier with clean session": {
		spec: "3.1.1 [MQTT-3.1.3-7]", version: 4,
		raw: []byte{
			0x10, 12, // CONNECT
			0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, // protocol name, level
			0x02,       // clean session
			0x00, 0x0A, // keep alive 10
			0x00, 0x00, // empty client identifier
		},
		want: &Connect{ProtocolVersion: 4, CleanStart: true, KeepAlive: 10},
	},
	"v4 CONNACK accepted, session present": {
		spec: "3.1.1 §3.2", version: 4,
		raw:  []byte{0x20, 2, 0x01 /* session present */, 0x00 /* accepted */},
		want: &Connack{SessionPresent: true},
	},
	"v4 CONNACK bad user name or password": {
		spec: "3.1.1 §3.2.2.3", version: 4,
		raw:  []byte{0x20, 2, 0x00, 0x04 /* return code 4 */},
		want: &Connack{ReasonCode: ReasonBadUserNameOrPassword},
	},
	"v4 CONNACK identifier rejected": {
		spec: "3.1.1 §3.2.2.3", version: 4,
		raw:  []byte{0x20, 2, 0x00, 0x02},
		want: &Connack{ReasonCode: ReasonClientIdentifierNotValid},
	},
	"v4 PUBLISH QoS 0": {
		spec: "3.1.1 §3.3", version: 4,
		raw: []byte{
			0x30, 7, // PUBLISH QoS 0
			0x00, 0x03, 'a', '/', 'b', // topic name
			'h', 'i', // payload
		},
		want: &Publish{Topic: "a/b", Payload: []byte("hi")},
	},
	"v4 PUBLISH QoS 1 retain dup, empty payload": {
		spec: "3.1.1 §3.3.1", version: 4,
		raw: []byte{
			0x3B, 5, // PUBLISH, DUP, QoS 1, RETAIN
			0x00, 0x01, 't', // topic name
			0x00, 0x0A, // packet identifier 10
		},
		want: &Publish{Topic: "t", QoS: 1, Retain: true, Dup: true, PacketID: 10},
	},
	"v4 PUBLISH QoS 2, two-byte remaining length": {
		spec: "3.1.1 §2.2.3", version: 4,
		raw: cat([]byte{
			0x34, 0xCF, 0x01, // PUBLISH QoS 2, remaining length 207 (0xCF 0x01)
			0x00, 0x03, 'x', '/', 'y', // topic name
			0xFF, 0xFF, // packet identifier 65535
		}, payload200),
		want: &Publish{Topic: "x/y", QoS: 2, PacketID: 0xFFFF, Payload: payload200},
	},
	"v4 PUBLISH topic with multi-byte UTF-8 and a byte order mark": {
		spec: "3.1.1 [MQTT-1.5.3-3]", version: 4,
		raw: []byte{
			0x30, 9, // PUBLISH QoS 0
			0x00, 0x07, 0xEF, 0xBB, 0xBF, 'a', '/', 0xC3, 0xA9, // "\uFEFFa/é": the BOM is kept
		},
		want: &Publish{Topic: "\uFEFFa/é"},
	},
	"v4 PUBACK":  {spec: "3.1.1 §3.4", version: 4, raw: []byte{0x40, 2, 0x00, 0x01}, want: &Puback{PacketID: 1}},
	"v4 PUBREC":  {spec: "3.1.1 §3.5", version: 4, raw: []byte{0x50, 2, 0x01, 0x02}, want: &Pubrec{PacketID: 0x0102}},
	"v4 PUBREL":  {spec: "3.1.1 §3.6", version: 4, raw: []byte{0x62 /* flags 0010 */, 2, 0x00, 0x03}, want: &Pubrel{PacketID: 3}},
	"v4 PUBCOMP": {spec: "3.1.1 §3.7", version: 4, raw: []byte{0x70, 2, 0x00, 0x04}, want: &Pubcomp{PacketID: 4}},
	"v4 SUBSCRIBE two filters": {
		spec: "3.1.1 §3.8", version: 4,
		raw: []byte{
			0x82, 12, // SUBSCRIBE, flags 0010
			0x00, 0x05, // packet identifier
			0x00, 0x03, 'a', '/', '+', 0x01, // filter, QoS 1
			0x00, 0x01, '#', 0x02, // filter, QoS 2
		},
		want: &Subscribe{PacketID: 5, Subscriptions: []Subscription{{Filter: "a/+", QoS: 1}, {Filter: "#", QoS: 2}}},
	},
	"v4 SUBSCRIBE $share is a plain filter": {
		spec: "3.1.1 §4.7", version: 4,
		raw: []byte{
			0x82, 9, 0x00, 0x06, // SUBSCRIBE, packet identifier
			0x00, 0x04, '$', 's', 'h', 'a', 0x00, // "$sha", QoS 0
		},
		want: &Subscribe{PacketID: 6, Subscriptions: []Subscription{{Filter: "$sha"}}},
	},
	"v4 SUBACK": {
		spec: "3.1.1 §3.9", version: 4,
		raw:  []byte{0x90, 5, 0x00, 0x05, 0x01 /* granted QoS 1 */, 0x80 /* failure */, 0x00},
		want: &Suback{PacketID: 5, ReasonCodes: []ReasonCode{ReasonGrantedQoS1, ReasonUnspecifiedError, ReasonGrantedQoS0}},
	},
	"v4 UNSUBSCRIBE": {
		spec: "3.1.1 §3.10", version: 4,
		raw: []byte{
			0xA2, 10, 0x00, 0x07, // UNSUBSCRIBE, flags 0010, packet identifier
			0x00, 0x01, '#', // filter
			0x00, 0x03, 'a', '/', 'b', // filter
		},
		want: &Unsubscribe{PacketID: 7, Filters: []string{"#", "a/b"}},
	},
	"v4 UNSUBACK":                          {spec: "3.1.1 §3.11", version: 4, raw: []byte{0xB0, 2, 0x00, 0x07}, want: &Unsuback{PacketID: 7}},
	"v4 PINGREQ":                           {spec: "3.1.1 §3.12", version: 4, raw: []byte{0xC0, 0}, want: &Pingreq{}},
	"v4 PINGRESP":                          {spec: "3.1.1 §3.13", version: 4, raw: []byte{0xD0, 0}, want: &Pingresp{}},
	"v4 DISCONNECT":                        {spec: "3.1.1 §3.14", version: 4, raw: []byte{0xE0, 0}, want: &Disconnect{}},
	"v5 PINGREQ":                           {spec: "5.0 §3.12", version: 5, raw: []byte{0xC0, 0}, want: &Pingreq{}},
	"v5 PINGRESP":                          {spec: "5.0 §3.13", version: 5, raw: []byte{0xD0, 0}, want: &Pingresp{}},
	"v5 DISCONNECT normal, no reason code": {spec: "5.0 §3.14.2.1", version: 5, raw: []byte{0xE0, 0}, want: &Disconnect{}},

	// ---- MQTT 5.0 ----
	"v5 CONNECT minimal, empty client identifier, no clean start": {
		spec: "5.0 §3.1.3.1", version: 5,
		raw: []byte{
			0x10, 13, // CONNECT
			0x00, 0x04, 'M', 'Q', 'T', 'T', 0x05, // protocol name, level 5
			0x00,       // flags: nothing (5.0 lets the server assign an identifier)
			0x00, 0x1E, // keep alive 30
			0x00,       // property length 0
			0x00, 0x00, // empty client identifier
		},
		want: &Connect{ProtocolVersion: 5, KeepAlive: 30},
	},
	"v5 CONNECT every CONNECT and Will property": {
		spec: "5.0 §3.1.2.11, §3.1.3.2", version: 5,
		raw: pkt(0x10, // CONNECT
			str("MQTT"), []byte{0x05}, // protocol name, level
			[]byte{0xF6},       // flags: user name, password, will retain, will QoS 2, will, clean start
			[]byte{0x01, 0x00}, // keep alive 256
			props(
				[]byte{0x11, 0, 0, 0x0E, 0x10}, // Session Expiry Interval 3600
				[]byte{0x15}, str("SCRAM"),     // Authentication Method
				[]byte{0x16}, str("\x01\x02"), // Authentication Data
				[]byte{0x17, 0x00},               // Request Problem Information 0
				[]byte{0x19, 0x01},               // Request Response Information 1
				[]byte{0x21, 0x00, 0x14},         // Receive Maximum 20
				[]byte{0x22, 0x00, 0x0A},         // Topic Alias Maximum 10
				[]byte{0x26}, str("k"), str("v"), // User Property
				[]byte{0x26}, str("k"), str("w"), // User Property, same name again
				[]byte{0x27, 0, 0, 0x10, 0}, // Maximum Packet Size 4096
			),
			str("client"), // client identifier
			props( // Will Properties
				[]byte{0x01, 0x01},              // Payload Format Indicator 1
				[]byte{0x02, 0, 0, 0, 0},        // Message Expiry Interval 0 (present)
				[]byte{0x03}, str("text/plain"), // Content Type
				[]byte{0x08}, str("re/x"), // Response Topic
				[]byte{0x09}, str("id"), // Correlation Data
				[]byte{0x18, 0, 0, 0, 5},        // Will Delay Interval 5
				[]byte{0x26}, str("a"), str(""), // User Property with an empty value
			),
			str("will/t"), // will topic
			str("gone"),   // will payload
			str("üser"),   // user name
			str("pw"),     // password
		),
		want: &Connect{ProtocolVersion: 5, CleanStart: true, KeepAlive: 256, ClientID: "client",
			Will: &Will{Topic: "will/t", Payload: []byte("gone"), QoS: 2, Retain: true, Properties: Properties{
				PayloadFormatIndicator: 1, HasMessageExpiryInterval: true, ContentType: "text/plain",
				ResponseTopic: "re/x", CorrelationData: []byte("id"), WillDelayInterval: 5,
				User: []UserProperty{{"a", ""}}}},
			HasUsername: true, Username: "üser", HasPassword: true, Password: []byte("pw"),
			Properties: Properties{SessionExpiryInterval: 3600, HasSessionExpiryInterval: true, AuthenticationMethod: "SCRAM",
				AuthenticationData: []byte{1, 2}, HasRequestProblemInformation: true, RequestResponseInformation: 1,
				ReceiveMaximum: 20, TopicAliasMaximum: 10, User: []UserProperty{{"k", "v"}, {"k", "w"}},
				MaximumPacketSize: 4096}},
	},
	"v5 CONNECT password without user name": {
		spec: "5.0 §3.1.2.9", version: 5,
		raw: pkt(0x10,
			str("MQTT"), []byte{0x05},
			[]byte{0x42},       // flags: password, clean start
			[]byte{0x00, 0x00}, // keep alive
			[]byte{0x00},       // property length
			str("c"),           // client identifier
			str("pw"),          // password
		),
		want: &Connect{ProtocolVersion: 5, CleanStart: true, ClientID: "c", HasPassword: true, Password: []byte("pw")},
	},
	"v5 CONNACK every CONNACK property": {
		spec: "5.0 §3.2.2.3", version: 5,
		raw: pkt(0x20, // CONNACK
			[]byte{0x00, 0x00}, // no session, Success
			props(
				[]byte{0x11, 0, 0, 0, 60},   // Session Expiry Interval 60
				[]byte{0x12}, str("auto-1"), // Assigned Client Identifier
				[]byte{0x13, 0x00, 0x00}, // Server Keep Alive 0 (present)
				[]byte{0x15}, str("M"),   // Authentication Method
				[]byte{0x16}, str("d"), // Authentication Data
				[]byte{0x1A}, str("resp/"), // Response Information
				[]byte{0x1C}, str("other:1883"), // Server Reference
				[]byte{0x1F}, str("ok"), // Reason String
				[]byte{0x21, 0x00, 0x0A},         // Receive Maximum 10
				[]byte{0x22, 0x00, 0x05},         // Topic Alias Maximum 5
				[]byte{0x24, 0x01},               // Maximum QoS 1
				[]byte{0x25, 0x00},               // Retain Available 0
				[]byte{0x26}, str("n"), str("v"), // User Property
				[]byte{0x27, 0, 1, 0, 0}, // Maximum Packet Size 65536
				[]byte{0x28, 0x00},       // Wildcard Subscription Available 0
				[]byte{0x29, 0x00},       // Subscription Identifier Available 0
				[]byte{0x2A, 0x01},       // Shared Subscription Available 1
			)),
		want: &Connack{Properties: Properties{SessionExpiryInterval: 60, HasSessionExpiryInterval: true, AssignedClientIdentifier: "auto-1",
			HasServerKeepAlive: true, AuthenticationMethod: "M", AuthenticationData: []byte("d"),
			ResponseInformation: "resp/", ServerReference: "other:1883", ReasonString: "ok", ReceiveMaximum: 10,
			TopicAliasMaximum: 5, MaximumQoS: 1, HasMaximumQoS: true, HasRetainAvailable: true,
			User: []UserProperty{{"n", "v"}}, MaximumPacketSize: 65536, HasWildcardSubscriptionAvailable: true,
			HasSubscriptionIdentifierAvailable: true, SharedSubscriptionAvailable: 1, HasSharedSubscriptionAvailable: true}},
	},
	"v5 CONNACK not authorized": {
		spec: "5.0 §3.2.2.2", version: 5,
		raw: cat(
			[]byte{0x20, 9},
			[]byte{0x00, 0x87},       // no session, Not authorized
			[]byte{6},                // property length
			[]byte{0x1F}, str("acl"), // Reason String
		),
		want: &Connack{ReasonCode: ReasonNotAuthorized, Properties: Properties{ReasonString: "acl"}},
	},
	"v5 CONNACK session present, no properties": {
		spec: "5.0 §3.2.2.1.1", version: 5,
		raw:  []byte{0x20, 3, 0x01, 0x00, 0x00},
		want: &Connack{SessionPresent: true},
	},
	"v5 PUBLISH QoS 1 every PUBLISH property": {
		spec: "5.0 §3.3.2.3", version: 5,
		raw: pkt(0x33, // PUBLISH QoS 1 RETAIN
			str("s/1"),         // topic name
			[]byte{0x00, 0x2A}, // packet identifier 42
			props(
				[]byte{0x01, 0x01},        // Payload Format Indicator 1
				[]byte{0x02, 0, 0, 0, 0},  // Message Expiry Interval 0 (present)
				[]byte{0x03}, str("json"), // Content Type
				[]byte{0x08}, str("reply/1"), // Response Topic
				[]byte{0x09}, str("\x00\x01"), // Correlation Data
				[]byte{0x0B, 0x01},                   // Subscription Identifier 1
				[]byte{0x0B, 0xFF, 0xFF, 0xFF, 0x7F}, // Subscription Identifier 268435455
				[]byte{0x23, 0x00, 0x03},             // Topic Alias 3
				[]byte{0x26}, str("a"), str("1"),     // User Property
				[]byte{0x26}, str("b"), str("2"), // User Property
			),
			[]byte("{}\n"), // payload
		),
		want: &Publish{Topic: "s/1", QoS: 1, Retain: true, PacketID: 42, Payload: []byte("{}\n"),
			Properties: Properties{PayloadFormatIndicator: 1, HasMessageExpiryInterval: true, ContentType: "json",
				ResponseTopic: "reply/1", CorrelationData: []byte{0, 1}, SubscriptionIdentifiers: []uint32{1, 268435455},
				TopicAlias: 3, User: []UserProperty{{"a", "1"}, {"b", "2"}}}},
	},
	"v5 PUBLISH empty topic with a Topic Alias": {
		spec: "5.0 §3.3.2.3.4", version: 5,
		raw: []byte{
			0x30, 7, // PUBLISH QoS 0
			0x00, 0x00, // empty topic name
			0x03, 0x23, 0x00, 0x09, // properties: Topic Alias 9
			'x', // payload
		},
		want: &Publish{Payload: []byte("x"), Properties: Properties{TopicAlias: 9}},
	},
	"v5 PUBLISH QoS 2 no properties": {
		spec: "5.0 §3.3", version: 5,
		raw: []byte{
			0x34, 8, // PUBLISH QoS 2
			0x00, 0x01, 'q', // topic
			0x12, 0x34, // packet identifier
			0x00,     // property length
			'p', 'l', // payload
		},
		want: &Publish{Topic: "q", QoS: 2, PacketID: 0x1234, Payload: []byte("pl")},
	},
	"v5 PUBACK success, short form": {
		spec: "5.0 §3.4.2.1", version: 5,
		raw:  []byte{0x40, 2, 0x00, 0x01},
		want: &Puback{PacketID: 1},
	},
	"v5 PUBACK reason code without properties": {
		spec: "5.0 §3.4.2.1", version: 5,
		raw:  []byte{0x40, 3, 0x00, 0x02, 0x10 /* No matching subscribers */},
		want: &Puback{PacketID: 2, ReasonCode: ReasonNoMatchingSubscribers},
	},
	"v5 PUBREC quota exceeded with a reason string": {
		spec: "5.0 §3.5", version: 5,
		raw: cat([]byte{0x50, 12, 0x00, 0x03, 0x97}, // PUBREC, packet identifier, Quota exceeded
			[]byte{8}, []byte{0x1F}, str("full!"), // properties: Reason String
		),
		want: &Pubrec{PacketID: 3, ReasonCode: ReasonQuotaExceeded, Properties: Properties{ReasonString: "full!"}},
	},
	"v5 PUBREL packet identifier not found": {
		spec: "5.0 §3.6", version: 5,
		raw:  []byte{0x62, 3, 0x00, 0x04, 0x92},
		want: &Pubrel{PacketID: 4, ReasonCode: ReasonPacketIdentifierNotFound},
	},
	"v5 PUBCOMP success with a user property": {
		spec: "5.0 §3.7", version: 5,
		raw: cat([]byte{0x70, 11, 0x00, 0x05, 0x00},
			[]byte{7}, []byte{0x26}, str("x"), str("y"),
		),
		want: &Pubcomp{PacketID: 5, Properties: Properties{User: []UserProperty{{"x", "y"}}}},
	},
	"v5 SUBSCRIBE options, identifier, shared": {
		spec: "5.0 §3.8.3.1, §4.8.2", version: 5,
		raw: pkt(0x82, // SUBSCRIBE
			[]byte{0x00, 0x0B},       // packet identifier 11
			[]byte{3, 0x0B, 0x80, 1}, // properties: Subscription Identifier 128
			str("a/#"), []byte{0x2D}, // Retain Handling 2, Retain As Published, No Local, QoS 1
			str("$share/grp/s/+"), []byte{0x1A}, // Retain Handling 1, Retain As Published, QoS 2
			str("b"), []byte{0x00}, // QoS 0
		),
		want: &Subscribe{PacketID: 11, Properties: Properties{SubscriptionIdentifiers: []uint32{128}},
			Subscriptions: []Subscription{
				{Filter: "a/#", QoS: 1, NoLocal: true, RetainAsPublished: true, RetainHandling: 2},
				{Filter: "$share/grp/s/+", QoS: 2, RetainAsPublished: true, RetainHandling: 1},
				{Filter: "b"}}},
	},
	"v5 SUBACK": {
		spec: "5.0 §3.9", version: 5,
		raw: cat([]byte{0x90, 13, 0x00, 0x0B},
			[]byte{5}, []byte{0x1F}, str("hm"), // Reason String
			[]byte{0x00, 0x01, 0x02, 0x8F, 0xA2}, // granted 0, 1, 2, Topic Filter invalid, Wildcard not supported
		),
		want: &Suback{PacketID: 11, Properties: Properties{ReasonString: "hm"}, ReasonCodes: []ReasonCode{
			ReasonGrantedQoS0, ReasonGrantedQoS1, ReasonGrantedQoS2, ReasonTopicFilterInvalid,
			ReasonWildcardSubscriptionsNotSupported}},
	},
	"v5 UNSUBSCRIBE": {
		spec: "5.0 §3.10", version: 5,
		raw: pkt(0xA2, []byte{0x00, 0x0C},
			props([]byte{0x26}, str("u"), str("p")),
			str("a/+"), str("$share/g/#"),
		),
		want: &Unsubscribe{PacketID: 12, Properties: Properties{User: []UserProperty{{"u", "p"}}},
			Filters: []string{"a/+", "$share/g/#"}},
	},
	"v5 UNSUBACK": {
		spec: "5.0 §3.11", version: 5,
		raw:  []byte{0xB0, 5, 0x00, 0x0C, 0x00 /* property length */, 0x00, 0x11 /* No subscription existed */},
		want: &Unsuback{PacketID: 12, ReasonCodes: []ReasonCode{ReasonSuccess, ReasonNoSubscriptionExisted}},
	},
	"v5 DISCONNECT with will, no properties": {
		spec: "5.0 §3.14.2.1", version: 5,
		raw:  []byte{0xE0, 1, 0x04},
		want: &Disconnect{ReasonCode: ReasonDisconnectWithWill},
	},
	"v5 DISCONNECT session taken over with properties": {
		spec: "5.0 §3.14.2.2", version: 5,
		raw: cat([]byte{0xE0, 18, 0x8E},
			[]byte{16},
			[]byte{0x11, 0, 0, 0, 0x0A}, // Session Expiry Interval 10
			[]byte{0x1C}, str("s2"),     // Server Reference
			[]byte{0x1F}, str("new"), // Reason String
		),
		want: &Disconnect{ReasonCode: ReasonSessionTakenOver, Properties: Properties{SessionExpiryInterval: 10, HasSessionExpiryInterval: true,
			ServerReference: "s2", ReasonString: "new"}},
	},
	"v5 AUTH success, empty": {
		spec: "5.0 §3.15.2.1", version: 5,
		raw:  []byte{0xF0, 0},
		want: &Auth{},
	},
	"v5 AUTH continue": {
		spec: "5.0 §3.15", version: 5,
		raw: pkt(0xF0, []byte{0x18}, // AUTH, Continue authentication
			props(
				[]byte{0x15}, str("SCRAM-1"), // Authentication Method
				[]byte{0x16}, str("r=x"), // Authentication Data
			)),
		want: &Auth{ReasonCode: ReasonContinueAuthentication, Properties: Properties{AuthenticationMethod: "SCRAM-1",
			AuthenticationData: []byte("r=x")}},
	},
}

func TestGoldenDecode(t *testing.T) {
	for name, tc := range golden {
		t.Run(name, func(t *testing.T) {
			got, err := decodeRaw(tc.version, tc.raw)
			if err != nil {
				t.Fatalf("decode % x: %v", tc.raw, err)
			}
			if !equal(got, tc.want) {
				t.Fatalf("decode:\n got %s\nwant %s", show(got), show(tc.want))
			}
		})
	}
}

func TestGoldenEncode(t *testing.T) {
	for name, tc := range golden {
		t.Run(name, func(t *testing.T) {
			got, err := Append(nil, tc.want, tc.version)
			if err != nil {
				t.Fatalf("encode: %v", err)
			}
			if !bytes.Equal(got, tc.raw) {
				t.Fatalf("encode:\n got % x\nwant % x", got, tc.raw)
			}
			// Append appends.
			pre := []byte("prefix")
			got2, err := Append(pre, tc.want, tc.version)
			if err != nil || !bytes.Equal(got2, append([]byte("prefix"), tc.raw...)) {
				t.Fatalf("append after a prefix: % x, %v", got2, err)
			}
			// WriteTo writes the same bytes in one call.
			var w countingWriter
			n, err := WriteTo(&w, tc.want, tc.version)
			if err != nil || n != int64(len(tc.raw)) || w.calls != 1 || !bytes.Equal(w.buf.Bytes(), tc.raw) {
				t.Fatalf("WriteTo: n=%d calls=%d err=%v", n, w.calls, err)
			}
		})
	}
}

type countingWriter struct {
	buf   bytes.Buffer
	calls int
}

func (w *countingWriter) Write(p []byte) (int, error) { w.calls++; return w.buf.Write(p) }

// TestGoldenReuse decodes every catalog case into one reused value per type,
// after decoding another case of the same type into it, and expects the
// same result as a fresh decode: nothing leaks from the previous packet.
func TestGoldenReuse(t *testing.T) {
	byType := map[PacketType][]string{}
	for name, tc := range golden {
		byType[tc.want.Type()] = append(byType[tc.want.Type()], name)
	}
	for typ, names := range byType {
		for _, first := range names {
			for _, second := range names {
				p := New(typ)
				a, b := golden[first], golden[second]
				fh, body := splitPacket(t, a.raw)
				if err := p.Decode(a.version, fh, body); err != nil {
					t.Fatalf("%s: %v", first, err)
				}
				fh, body = splitPacket(t, b.raw)
				if err := p.Decode(b.version, fh, body); err != nil {
					t.Fatalf("%s: %v", second, err)
				}
				if !equal(p, b.want) {
					t.Errorf("%s after %s:\n got %s\nwant %s", second, first, show(p), show(b.want))
				}
			}
		}
	}
}

// TestGoldenCrossVersion encodes every catalog packet with the other
// protocol level, where it exists there, and decodes it back: what the
// level cannot carry is dropped, the rest survives.
func TestGoldenCrossVersion(t *testing.T) {
	for name, tc := range golden {
		other := Version5 + Version311 - tc.version
		p := tc.want
		if c, ok := p.(*Connect); ok {
			cc := *c
			cc.ProtocolVersion = other
			if other == Version311 && cc.ClientID == "" {
				cc.CleanStart = true // [MQTT-3.1.3-8]
			}
			p = &cc
		}
		_, isAuth := p.(*Auth)
		_, isUnsuback := p.(*Unsuback)
		switch {
		case isAuth, strings.Contains(name, "password without user name"), strings.Contains(name, "empty topic"):
			// No 3.1.1 form.
			if _, err := Append(nil, p, Version311); err == nil {
				t.Errorf("%s: encoded for 3.1.1", name)
			}
		case isUnsuback && other == Version5:
			// A 5.0 UNSUBACK needs the reason codes 3.1.1 does not have.
			if _, err := Append(nil, p, Version5); err == nil {
				t.Errorf("%s: encoded for 5.0 without reason codes", name)
			}
		default:
			roundTripOnce(t, name, p, other)
		}
	}
}

func roundTripOnce(t *testing.T, name string, p Packet, version byte) {
	t.Helper()
	raw, err := Append(nil, p, version)
	if err != nil {
		t.Errorf("%s: encode for level %d: %v", name, version, err)
		return
	}
	got, err := decodeRaw(version, raw)
	if err != nil {
		t.Errorf("%s: decode at level %d: %v", name, version, err)
		return
	}
	again, err := Append(nil, got, version)
	if err != nil || !bytes.Equal(again, raw) {
		t.Errorf("%s: re-encode at level %d differs: % x vs % x (%v)", name, version, again, raw, err)
	}
}
