package frames

import (
	"bytes"
	"reflect"
	"sort"
	"testing"

	"github.com/enmasse-go/enmasse/internal/amqp/types"
)

// catalogCase is one entry of the golden byte catalog (STYLE d.5): a whole
// frame written out by hand, one field per line, and the value it decodes to.
type catalogCase struct {
	spec string // the specification section the frame body follows
	raw  []byte // the whole frame, header included
	want Body   // nil for an empty (heartbeat) frame
	// canonical marks frames whose bytes are the smallest encoding of want,
	// which is what the encoder produces: encode(want) == raw.
	canonical bool
}

// cat joins the annotated pieces of a frame.
func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// bs is a short spelling of []byte{...} for one annotated line.
func bs(v ...byte) []byte { return v }

// str is the bytes of a string, for the text part of an annotated line.
func str(s string) []byte { return []byte(s) }

// selectorFilter is the descriptor code of the JMS-style selector filter,
// 0x0000468C:0x00000004 (AMQP filters registry, apache.org:selector-filter:string).
const selectorFilter uint64 = 0x0000468C00000004

var catalog = map[string]catalogCase{
	// ---- open ---------------------------------------------------------
	"open minimal": {
		spec: "AMQP 1.0 §2.7.1 open",
		raw: cat(
			bs(0x00, 0x00, 0x00, 0x12), // frame size 18
			bs(0x02, 0x00, 0x00, 0x00), // doff 2, type AMQP, channel 0
			bs(0x00, 0x53, 0x10),       // descriptor amqp:open:list
			bs(0xc0, 0x05, 0x01),       // list8, size 5, 1 field
			bs(0xa1, 0x02), str("c1"),  // container-id "c1"
		),
		want:      &Open{ContainerID: "c1", MaxFrameSize: DefaultMaxFrameSize, ChannelMax: DefaultChannelMax},
		canonical: true,
	},
	"open with every field": {
		spec: "AMQP 1.0 §2.7.1 open",
		raw: cat(
			bs(0x00, 0x00, 0x00, 0x9d),         // frame size 157
			bs(0x02, 0x00, 0x00, 0x00),         // doff 2, type AMQP, channel 0
			bs(0x00, 0x53, 0x10),               // descriptor amqp:open:list
			bs(0xc0, 0x90, 0x0a),               // list8, size 144, 10 fields
			bs(0xa1, 0x0b), str("container-1"), // container-id
			bs(0xa1, 0x0b), str("example.com"), // hostname
			bs(0x70, 0x00, 0x01, 0x00, 0x00), // max-frame-size uint 65536
			bs(0x60, 0x00, 0xff),             // channel-max ushort 255
			bs(0x70, 0x00, 0x00, 0x75, 0x30), // idle-time-out uint 30000 ms
			bs(0xa3, 0x05), str("en-US"),     // outgoing-locales: one symbol
			bs(0xe0, 0x08, 0x02, 0xa3), // incoming-locales: array8, size 8, 2 × sym8
			bs(0x02), str("en"),        //   "en"
			bs(0x02), str("de"), //   "de"
			bs(0xa3, 0x0f), str("ANONYMOUS-RELAY"), // offered-capabilities: one symbol
			bs(0xe0, 0x1f, 0x02, 0xa3),        // desired-capabilities: array8, size 31, 2 × sym8
			bs(0x10), str("DELAYED_DELIVERY"), //   "DELAYED_DELIVERY"
			bs(0x0b), str("SHARED-SUBS"), //   "SHARED-SUBS"
			bs(0xc1, 0x23, 0x04),           // properties: map8, size 35, 4 elements
			bs(0xa3, 0x07), str("product"), //   key :product
			bs(0xa1, 0x07), str("enmasse"), //   value "enmasse"
			bs(0xa3, 0x07), str("version"), //   key :version
			bs(0xa1, 0x05), str("0.1.0"), //   value "0.1.0"
		),
		want: &Open{
			ContainerID:         "container-1",
			Hostname:            "example.com",
			MaxFrameSize:        65536,
			ChannelMax:          255,
			IdleTimeout:         30000,
			OutgoingLocales:     []types.Symbol{"en-US"},
			IncomingLocales:     []types.Symbol{"en", "de"},
			OfferedCapabilities: []types.Symbol{"ANONYMOUS-RELAY"},
			DesiredCapabilities: []types.Symbol{"DELAYED_DELIVERY", "SHARED-SUBS"},
			Properties: types.Map{
				{Key: types.Symbol("product"), Value: "enmasse"},
				{Key: types.Symbol("version"), Value: "0.1.0"},
			},
		},
		canonical: true,
	},
	"open with explicit defaults in a list32": {
		spec: "AMQP 1.0 §2.7.1 open, §1.6.22 list32",
		raw: cat(
			bs(0x00, 0x00, 0x00, 0x21),       // frame size 33
			bs(0x02, 0x00, 0x00, 0x00),       // doff 2, type AMQP, channel 0
			bs(0x00, 0x53, 0x10),             // descriptor amqp:open:list
			bs(0xd0, 0x00, 0x00, 0x00, 0x11), // list32, size 17
			bs(0x00, 0x00, 0x00, 0x04),       //   4 fields
			bs(0xa1, 0x02), str("c1"),        // container-id "c1"
			bs(0x40),                         // hostname null
			bs(0x70, 0xff, 0xff, 0xff, 0xff), // max-frame-size 4294967295 (the default, sent anyway)
			bs(0x60, 0xff, 0xff),             // channel-max 65535 (the default, sent anyway)
		),
		want: &Open{ContainerID: "c1", MaxFrameSize: DefaultMaxFrameSize, ChannelMax: DefaultChannelMax},
	},

	// ---- begin --------------------------------------------------------
	"begin without remote-channel": {
		spec: "AMQP 1.0 §2.7.2 begin",
		raw: cat(
			bs(0x00, 0x00, 0x00, 0x1b),       // frame size 27
			bs(0x02, 0x00, 0x00, 0x01),       // doff 2, type AMQP, channel 1
			bs(0x00, 0x53, 0x11),             // descriptor amqp:begin:list
			bs(0xc0, 0x0e, 0x04),             // list8, size 14, 4 fields
			bs(0x40),                         // remote-channel null: we initiate
			bs(0x52, 0x01),                   // next-outgoing-id smalluint 1
			bs(0x70, 0x00, 0x00, 0x08, 0x00), // incoming-window 2048
			bs(0x70, 0x00, 0x00, 0x08, 0x00), // outgoing-window 2048
		),
		want:      &Begin{NextOutgoingID: 1, IncomingWindow: 2048, OutgoingWindow: 2048, HandleMax: DefaultHandleMax},
		canonical: true,
	},
	"begin with remote-channel and handle-max": {
		spec: "AMQP 1.0 §2.7.2 begin",
		raw: cat(
			bs(0x00, 0x00, 0x00, 0x21),       // frame size 33
			bs(0x02, 0x00, 0x00, 0x00),       // doff 2, type AMQP, channel 0
			bs(0x00, 0x53, 0x11),             // descriptor amqp:begin:list
			bs(0xc0, 0x14, 0x05),             // list8, size 20, 5 fields
			bs(0x60, 0x00, 0x01),             // remote-channel ushort 1: we answer
			bs(0x43),                         // next-outgoing-id uint0
			bs(0x70, 0x00, 0x00, 0x13, 0x88), // incoming-window 5000
			bs(0x70, 0x7f, 0xff, 0xff, 0xff), // outgoing-window 2147483647
			bs(0x70, 0x00, 0x00, 0x03, 0xff), // handle-max 1023
		),
		want: &Begin{RemoteChannel: 1, HasRemoteChannel: true, NextOutgoingID: 0, IncomingWindow: 5000,
			OutgoingWindow: 2147483647, HandleMax: 1023},
		canonical: true,
	},

	// ---- attach -------------------------------------------------------
	"attach receiver with dynamic source": {
		spec: "AMQP 1.0 §2.7.3 attach, §3.5.3 source, §3.5.4 target",
		raw: cat(
			bs(0x00, 0x00, 0x00, 0x4f),      // frame size 79
			bs(0x02, 0x00, 0x00, 0x00),      // doff 2, type AMQP, channel 0
			bs(0x00, 0x53, 0x12),            // descriptor amqp:attach:list
			bs(0xc0, 0x42, 0x07),            // list8, size 66, 7 fields
			bs(0xa1, 0x08), str("dyn-recv"), // name
			bs(0x43),                           // handle uint0
			bs(0x41),                           // role true: receiver
			bs(0x40),                           // snd-settle-mode null: mixed
			bs(0x40),                           // rcv-settle-mode null: first
			bs(0x00, 0x53, 0x28),               // source: descriptor amqp:source:list
			bs(0xc0, 0x2a, 0x06),               //   list8, size 42, 6 fields
			bs(0x40),                           //   address null (dynamic)
			bs(0x40),                           //   durable null: none
			bs(0xa3, 0x0b), str("link-detach"), //   expiry-policy :link-detach
			bs(0x40),                               //   timeout null: 0
			bs(0x41),                               //   dynamic true
			bs(0xc1, 0x16, 0x02),                   //   dynamic-node-properties: map8, size 22, 2 elements
			bs(0xa3, 0x0f), str("lifetime-policy"), //     key :lifetime-policy
			bs(0x00, 0x53, 0x2b, 0x45), //     value delete-on-close (§3.5.10), list0
			bs(0x00, 0x53, 0x29, 0x45), // target: amqp:target:list, list0 (null address)
		),
		want: &Attach{
			Name: "dyn-recv", Handle: 0, Role: RoleReceiver, SndSettleMode: SndMixed, RcvSettleMode: RcvFirst,
			Source: &Source{
				ExpiryPolicy: ExpiryLinkDetach,
				Dynamic:      true,
				DynamicNodeProperties: types.Map{{
					Key:   types.Symbol("lifetime-policy"),
					Value: types.Described{Descriptor: uint64(0x2b), Value: []any{}},
				}},
			},
			Target: &Target{ExpiryPolicy: ExpirySessionEnd},
		},
		canonical: true,
	},
	"attach receiver with durable selector subscription": {
		spec: "AMQP 1.0 §2.7.3 attach, §3.5.3 source, §3.5.8 filter-set",
		raw: cat(
			bs(0x00, 0x00, 0x00, 0xdf),        // frame size 223
			bs(0x02, 0x00, 0x00, 0x00),        // doff 2, type AMQP, channel 0
			bs(0x00, 0x53, 0x12),              // descriptor amqp:attach:list
			bs(0xc0, 0xd2, 0x0d),              // list8, size 210, 13 fields
			bs(0xa1, 0x0a), str("sub-orders"), // name
			bs(0x52, 0x01),                // handle 1
			bs(0x41),                      // role true: receiver
			bs(0x40),                      // snd-settle-mode null: mixed
			bs(0x50, 0x01),                // rcv-settle-mode ubyte 1: second
			bs(0x00, 0x53, 0x28),          // source: descriptor amqp:source:list
			bs(0xc0, 0x9c, 0x0b),          //   list8, size 156, 11 fields
			bs(0xa1, 0x06), str("orders"), //   address "orders"
			bs(0x52, 0x02),               //   durable 2: unsettled-state
			bs(0xa3, 0x05), str("never"), //   expiry-policy :never
			bs(0x40),                    //   timeout null
			bs(0x40),                    //   dynamic null: false
			bs(0x40),                    //   dynamic-node-properties null
			bs(0xa3, 0x04), str("copy"), //   distribution-mode :copy
			bs(0xc1, 0x3d, 0x02),                                     //   filter: map8, size 61, 2 elements
			bs(0xa3, 0x21), str("apache.org:selector-filter:string"), //     key
			bs(0x00, 0x80, 0x00, 0x00, 0x46, 0x8c, 0x00, 0x00, 0x00, 0x04), //     described, ulong 0x0000468C:0x00000004
			bs(0xa1, 0x0d), str("color = 'red'"), //     selector string
			bs(0x00, 0x53, 0x27, 0xc0, 0x02, 0x01, 0x41), //   default-outcome modified{delivery-failed}
			bs(0xe0, 0x28, 0x02, 0xa3),                   //   outcomes: array8, size 40, 2 × sym8
			bs(0x12), str("amqp:accepted:list"),          //     accepted
			bs(0x12), str("amqp:rejected:list"), //     rejected
			bs(0xe0, 0x0f, 0x02, 0xa3), //   capabilities: array8, size 15, 2 × sym8
			bs(0x05), str("topic"),     //     topic
			bs(0x06), str("shared"), //     shared
			bs(0x00, 0x53, 0x29, 0x45), // target: amqp:target:list, list0
			bs(0x40),                   // unsettled null
			bs(0x40),                   // incomplete-unsettled null
			bs(0x40),                   // initial-delivery-count null (receiver)
			bs(0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00), // max-message-size ulong 1048576
			bs(0x40),                           // offered-capabilities null
			bs(0xa3, 0x0b), str("SHARED-SUBS"), // desired-capabilities: one symbol
		),
		want: &Attach{
			Name: "sub-orders", Handle: 1, Role: RoleReceiver, SndSettleMode: SndMixed, RcvSettleMode: RcvSecond,
			Source: &Source{
				Address:          "orders",
				Durable:          DurableUnsettled,
				ExpiryPolicy:     ExpiryNever,
				DistributionMode: DistCopy,
				Filter: types.Map{{
					Key:   types.Symbol("apache.org:selector-filter:string"),
					Value: types.Described{Descriptor: selectorFilter, Value: "color = 'red'"},
				}},
				DefaultOutcome: Modified{DeliveryFailed: true},
				Outcomes:       []types.Symbol{"amqp:accepted:list", "amqp:rejected:list"},
				Capabilities:   []types.Symbol{"topic", "shared"},
			},
			Target:              &Target{ExpiryPolicy: ExpirySessionEnd},
			MaxMessageSize:      1048576,
			DesiredCapabilities: []types.Symbol{"SHARED-SUBS"},
		},
		canonical: true,
	},
	"attach sender resuming with unsettled map": {
		spec: "AMQP 1.0 §2.7.3 attach, §2.6.13 resuming deliveries",
		raw: cat(
			bs(0x00, 0x00, 0x00, 0x70),    // frame size 112
			bs(0x02, 0x00, 0x00, 0x00),    // doff 2, type AMQP, channel 0
			bs(0x00, 0x53, 0x12),          // descriptor amqp:attach:list
			bs(0xc0, 0x63, 0x0e),          // list8, size 99, 14 fields
			bs(0xa1, 0x06), str("sender"), // name
			bs(0x52, 0x02),               // handle 2
			bs(0x42),                     // role false: sender
			bs(0x50, 0x00),               // snd-settle-mode ubyte 0: unsettled
			bs(0x40),                     // rcv-settle-mode null: first
			bs(0x00, 0x53, 0x28),         // source: descriptor amqp:source:list
			bs(0xc0, 0x08, 0x01),         //   list8, size 8, 1 field
			bs(0xa1, 0x05), str("local"), //   address "local"
			bs(0x00, 0x53, 0x29),          // target: descriptor amqp:target:list
			bs(0xc0, 0x1a, 0x07),          //   list8, size 26, 7 fields
			bs(0xa1, 0x06), str("orders"), //   address "orders"
			bs(0x52, 0x01),                   //   durable 1: configuration
			bs(0x40),                         //   expiry-policy null: session-end
			bs(0x70, 0x00, 0x00, 0x0e, 0x10), //   timeout 3600 s
			bs(0x40),                         //   dynamic null
			bs(0x40),                         //   dynamic-node-properties null
			bs(0xa3, 0x05), str("queue"),     //   capabilities: one symbol
			bs(0xc1, 0x0b, 0x02),                   // unsettled: map8, size 11, 2 elements
			bs(0xa0, 0x04, 0x01, 0x02, 0x03, 0x04), //   key: delivery-tag 01020304
			bs(0x00, 0x53, 0x24, 0x45),             //   value: accepted
			bs(0x41),                               // incomplete-unsettled true
			bs(0x43),                               // initial-delivery-count uint0
			bs(0x40),                               // max-message-size null
			bs(0x40),                               // offered-capabilities null
			bs(0x40),                               // desired-capabilities null
			bs(0xc1, 0x14, 0x02),                   // properties: map8, size 20, 2 elements
			bs(0xa3, 0x0a), str("x-opt-user"),      //   key :x-opt-user
			bs(0xa1, 0x05), str("alice"), //   value "alice"
		),
		want: &Attach{
			Name: "sender", Handle: 2, Role: RoleSender, SndSettleMode: SndUnsettled, RcvSettleMode: RcvFirst,
			Source: &Source{Address: "local", ExpiryPolicy: ExpirySessionEnd},
			Target: &Target{Address: "orders", Durable: DurableConfiguration, ExpiryPolicy: ExpirySessionEnd,
				Timeout: 3600, Capabilities: []types.Symbol{"queue"}},
			Unsettled: types.Map{{
				Key:   []byte{1, 2, 3, 4},
				Value: types.Described{Descriptor: uint64(0x24), Value: []any{}},
			}},
			IncompleteUnsettled:     true,
			InitialDeliveryCount:    0,
			HasInitialDeliveryCount: true,
			Properties:              types.Map{{Key: types.Symbol("x-opt-user"), Value: "alice"}},
		},
		canonical: true,
	},
	"attach sender to a transaction coordinator": {
		spec: "AMQP 1.0 §2.7.3 attach, §4.5.1 coordinator",
		raw: cat(
			bs(0x00, 0x00, 0x00, 0x6f), // frame size 111
			bs(0x02, 0x00, 0x00, 0x00), // doff 2, type AMQP, channel 0
			bs(0x00, 0x53, 0x12),       // descriptor amqp:attach:list
			bs(0xc0, 0x62, 0x07),       // list8, size 98, 7 fields
			bs(0xa1, 0x03), str("txn"), // name
			bs(0x43),                            // handle uint0
			bs(0x42),                            // role false: sender
			bs(0x40),                            // snd-settle-mode null
			bs(0x40),                            // rcv-settle-mode null
			bs(0x00, 0x53, 0x28),                // source: descriptor amqp:source:list
			bs(0xc0, 0x34, 0x0a),                //   list8, size 52, 10 fields
			bs(0x40, 0x40, 0x40, 0x40, 0x40),    //   address … dynamic: null
			bs(0x40, 0x40, 0x40, 0x40),          //   dynamic-node-properties … default-outcome: null
			bs(0xe0, 0x28, 0x02, 0xa3),          //   outcomes: array8, size 40, 2 × sym8
			bs(0x12), str("amqp:accepted:list"), //     accepted
			bs(0x12), str("amqp:rejected:list"), //     rejected
			bs(0x00, 0x53, 0x30),                           // target: descriptor amqp:coordinator:list
			bs(0xc0, 0x1a, 0x01),                           //   list8, size 26, 1 field
			bs(0xa3, 0x17), str("amqp:local-transactions"), //   capabilities: one symbol
		),
		want: &Attach{
			Name: "txn", Handle: 0, Role: RoleSender, SndSettleMode: SndMixed,
			Source: &Source{ExpiryPolicy: ExpirySessionEnd,
				Outcomes: []types.Symbol{"amqp:accepted:list", "amqp:rejected:list"}},
			// The decoder fills in the terminus default expiry policy for a
			// coordinator too; it is not encoded.
			Target: &Target{Coordinator: true, ExpiryPolicy: ExpirySessionEnd,
				Capabilities: []types.Symbol{"amqp:local-transactions"}},
		},
		canonical: true,
	},
	"attach refusing a link (no source or target)": {
		spec: "AMQP 1.0 §2.7.3 attach, §2.6.3 establishing a link",
		raw: cat(
			bs(0x00, 0x00, 0x00, 0x1a),     // frame size 26
			bs(0x02, 0x00, 0x00, 0x00),     // doff 2, type AMQP, channel 0
			bs(0x00, 0x53, 0x12),           // descriptor amqp:attach:list
			bs(0xc0, 0x0d, 0x03),           // list8, size 13, 3 fields: the rest is null
			bs(0xa1, 0x07), str("refused"), // name
			bs(0x52, 0x03), // handle 3
			bs(0x42),       // role false: sender
		),
		want:      &Attach{Name: "refused", Handle: 3, Role: RoleSender, SndSettleMode: SndMixed},
		canonical: true,
	},

	// ---- flow ---------------------------------------------------------
	"flow session only": {
		spec: "AMQP 1.0 §2.7.4 flow",
		raw: cat(
			bs(0x00, 0x00, 0x00, 0x1c),       // frame size 28
			bs(0x02, 0x00, 0x00, 0x00),       // doff 2, type AMQP, channel 0
			bs(0x00, 0x53, 0x13),             // descriptor amqp:flow:list
			bs(0xc0, 0x0f, 0x04),             // list8, size 15, 4 fields
			bs(0x52, 0x01),                   // next-incoming-id 1
			bs(0x70, 0x00, 0x00, 0x08, 0x00), // incoming-window 2048
			bs(0x52, 0x01),                   // next-outgoing-id 1
			bs(0x70, 0x00, 0x00, 0x08, 0x00), // outgoing-window 2048
		),
		want: &Flow{NextIncomingID: 1, HasNextIncomingID: true, IncomingWindow: 2048,
			NextOutgoingID: 1, OutgoingWindow: 2048},
		canonical: true,
	},
	"flow with link state, drain and echo": {
		spec: "AMQP 1.0 §2.7.4 flow, §2.6.7 flow control",
		raw: cat(
			bs(0x00, 0x00, 0x00, 0x24),       // frame size 36
			bs(0x02, 0x00, 0x00, 0x01),       // doff 2, type AMQP, channel 1
			bs(0x00, 0x53, 0x13),             // descriptor amqp:flow:list
			bs(0xc0, 0x17, 0x0a),             // list8, size 23, 10 fields
			bs(0x52, 0x0a),                   // next-incoming-id 10
			bs(0x70, 0x00, 0x00, 0x08, 0x00), // incoming-window 2048
			bs(0x52, 0x03),                   // next-outgoing-id 3
			bs(0x70, 0x00, 0x00, 0x08, 0x00), // outgoing-window 2048
			bs(0x43),                         // handle 0
			bs(0x52, 0x0a),                   // delivery-count 10
			bs(0x52, 0x64),                   // link-credit 100
			bs(0x43),                         // available 0
			bs(0x41),                         // drain true
			bs(0x41),                         // echo true
		),
		want: &Flow{NextIncomingID: 10, HasNextIncomingID: true, IncomingWindow: 2048,
			NextOutgoingID: 3, OutgoingWindow: 2048, Handle: 0, HasHandle: true,
			DeliveryCount: 10, HasDeliveryCount: true, LinkCredit: 100, HasLinkCredit: true,
			Available: 0, HasAvailable: true, Drain: true, Echo: true},
		canonical: true,
	},

	// ---- transfer -----------------------------------------------------
	"transfer settled": {
		spec: "AMQP 1.0 §2.7.5 transfer",
		raw: cat(
			bs(0x00, 0x00, 0x00, 0x22),             // frame size 34
			bs(0x02, 0x00, 0x00, 0x00),             // doff 2, type AMQP, channel 0
			bs(0x00, 0x53, 0x14),                   // descriptor amqp:transfer:list
			bs(0xc0, 0x0b, 0x05),                   // list8, size 11, 5 fields
			bs(0x43),                               // handle 0
			bs(0x43),                               // delivery-id 0
			bs(0xa0, 0x04, 0xde, 0xad, 0xbe, 0xef), // delivery-tag deadbeef
			bs(0x43),                               // message-format 0
			bs(0x41),                               // settled true
			bs(0x00, 0x53, 0x75),                   // payload: data section (§3.2.6)
			bs(0xa0, 0x05), str("hello"),           //   vbin8 "hello"
		),
		want: &Transfer{Handle: 0, DeliveryID: 0, HasDeliveryID: true, DeliveryTag: []byte{0xde, 0xad, 0xbe, 0xef},
			MessageFormat: 0, HasMessageFormat: true, Settled: true, HasSettled: true,
			Payload: cat(bs(0x00, 0x53, 0x75, 0xa0, 0x05), str("hello"))},
		canonical: true,
	},
	"transfer first frame of several (more)": {
		spec: "AMQP 1.0 §2.7.5 transfer, §2.6.14 transferring a message",
		raw: cat(
			bs(0x00, 0x00, 0x00, 0x20),                   // frame size 32
			bs(0x02, 0x00, 0x00, 0x00),                   // doff 2, type AMQP, channel 0
			bs(0x00, 0x53, 0x14),                         // descriptor amqp:transfer:list
			bs(0xc0, 0x0b, 0x06),                         // list8, size 11, 6 fields
			bs(0x52, 0x01),                               // handle 1
			bs(0x52, 0x07),                               // delivery-id 7
			bs(0xa0, 0x01, 0x07),                         // delivery-tag 07
			bs(0x43),                                     // message-format 0
			bs(0x42),                                     // settled false (sent explicitly)
			bs(0x41),                                     // more true
			bs(0x00, 0x53, 0x75, 0xa0, 0x03), str("abc"), // payload: first part of a data section
		),
		want: &Transfer{Handle: 1, DeliveryID: 7, HasDeliveryID: true, DeliveryTag: []byte{7},
			MessageFormat: 0, HasMessageFormat: true, Settled: false, HasSettled: true, More: true,
			Payload: cat(bs(0x00, 0x53, 0x75, 0xa0, 0x03), str("abc"))},
		canonical: true,
	},
	"transfer continuation aborted": {
		spec: "AMQP 1.0 §2.7.5 transfer (aborted)",
		raw: cat(
			bs(0x00, 0x00, 0x00, 0x19), // frame size 25
			bs(0x02, 0x00, 0x00, 0x00), // doff 2, type AMQP, channel 0
			bs(0x00, 0x53, 0x14),       // descriptor amqp:transfer:list
			bs(0xc0, 0x0c, 0x0a),       // list8, size 12, 10 fields
			bs(0x52, 0x01),             // handle 1
			bs(0x40, 0x40, 0x40, 0x40), // delivery-id, delivery-tag, message-format, settled: null
			bs(0x40, 0x40, 0x40, 0x40), // more, rcv-settle-mode, state, resume: null
			bs(0x41),                   // aborted true
			// no payload
		),
		want:      &Transfer{Handle: 1, Aborted: true, Payload: []byte{}},
		canonical: true,
	},
	"transfer resumed with state, rcv-settle-mode and batchable": {
		spec: "AMQP 1.0 §2.7.5 transfer, §3.4.2 accepted",
		raw: cat(
			bs(0x00, 0x00, 0x00, 0x27), // frame size 39
			bs(0x02, 0x00, 0x00, 0x00), // doff 2, type AMQP, channel 0
			bs(0x00, 0x53, 0x14),       // descriptor amqp:transfer:list
			bs(0xc0, 0x13, 0x0b),       // list8, size 19, 11 fields
			bs(0x43),                   // handle 0
			bs(0x52, 0x05),             // delivery-id 5
			bs(0xa0, 0x01, 0x05),       // delivery-tag 05
			bs(0x43),                   // message-format 0
			bs(0x40),                   // settled null
			bs(0x40),                   // more null
			bs(0x50, 0x01),             // rcv-settle-mode 1: second
			bs(0x00, 0x53, 0x24, 0x45), // state accepted
			bs(0x41),                   // resume true
			bs(0x40),                   // aborted null
			bs(0x41),                   // batchable true
			bs(0x00, 0x53, 0x77),       // payload: amqp-value section (§3.2.8)
			bs(0xa1, 0x02), str("hi"),  //   "hi"
		),
		want: &Transfer{Handle: 0, DeliveryID: 5, HasDeliveryID: true, DeliveryTag: []byte{5},
			MessageFormat: 0, HasMessageFormat: true, RcvSettleMode: RcvSecond, HasRcvSettleMode: true,
			State: Accepted{}, Resume: true, Batchable: true,
			Payload: cat(bs(0x00, 0x53, 0x77, 0xa1, 0x02), str("hi"))},
		canonical: true,
	},
	"transfer with transactional state": {
		spec: "AMQP 1.0 §2.7.5 transfer, §4.5.5 transactional-state",
		raw: cat(
			bs(0x00, 0x00, 0x00, 0x2d),  // frame size 45
			bs(0x02, 0x00, 0x00, 0x00),  // doff 2, type AMQP, channel 0
			bs(0x00, 0x53, 0x14),        // descriptor amqp:transfer:list
			bs(0xc0, 0x1a, 0x08),        // list8, size 26, 8 fields
			bs(0x43),                    // handle 0
			bs(0x43),                    // delivery-id 0
			bs(0xa0, 0x01, 0x00),        // delivery-tag 00
			bs(0x40, 0x40, 0x40, 0x40),  // message-format, settled, more, rcv-settle-mode: null
			bs(0x00, 0x53, 0x34),        // state: amqp:transactional-state:list
			bs(0xc0, 0x0b, 0x02),        //   list8, size 11, 2 fields
			bs(0xa0, 0x04), str("txn1"), //   txn-id
			bs(0x00, 0x53, 0x24, 0x45),            //   outcome accepted
			bs(0x00, 0x53, 0x75, 0xa0, 0x01, 'x'), // payload: data section "x"
		),
		want: &Transfer{Handle: 0, DeliveryID: 0, HasDeliveryID: true, DeliveryTag: []byte{0},
			State: OtherState{Descriptor: CodeTxState, Value: []any{
				[]byte("txn1"),
				types.Described{Descriptor: uint64(0x24), Value: []any{}},
			}},
			Payload: bs(0x00, 0x53, 0x75, 0xa0, 0x01, 'x')},
		canonical: true,
	},
	"transfer with a message-format": {
		spec: "AMQP 1.0 §2.7.5 transfer, §2.8.11 message-format",
		raw: cat(
			bs(0x00, 0x00, 0x00, 0x1d),       // frame size 29
			bs(0x02, 0x00, 0x00, 0x03),       // doff 2, type AMQP, channel 3
			bs(0x00, 0x53, 0x14),             // descriptor amqp:transfer:list
			bs(0xc0, 0x0d, 0x05),             // list8, size 13, 5 fields
			bs(0x43),                         // handle 0
			bs(0x52, 0x02),                   // delivery-id 2
			bs(0xa0, 0x01, 0x02),             // delivery-tag 02
			bs(0x70, 0x80, 0x01, 0x37, 0x00), // message-format 0x80013700: vendor 0x800137, version 0
			bs(0x41),                         // settled true
			bs(0x01, 0x02, 0x03),             // payload: opaque bytes of that format
		),
		want: &Transfer{Handle: 0, DeliveryID: 2, HasDeliveryID: true, DeliveryTag: []byte{2},
			MessageFormat: 0x80013700, HasMessageFormat: true, Settled: true, HasSettled: true,
			Payload: bs(0x01, 0x02, 0x03)},
		canonical: true,
	},

	// ---- disposition ---------------------------------------------------
	"disposition single accepted": {
		spec: "AMQP 1.0 §2.7.6 disposition, §3.4.2 accepted",
		raw: cat(
			bs(0x00, 0x00, 0x00, 0x17), // frame size 23
			bs(0x02, 0x00, 0x00, 0x00), // doff 2, type AMQP, channel 0
			bs(0x00, 0x53, 0x15),       // descriptor amqp:disposition:list
			bs(0xc0, 0x0a, 0x05),       // list8, size 10, 5 fields
			bs(0x41),                   // role true: receiver
			bs(0x52, 0x05),             // first 5
			bs(0x40),                   // last null: just first
			bs(0x41),                   // settled true
			bs(0x00, 0x53, 0x24, 0x45), // state accepted
		),
		want:      &Disposition{Role: RoleReceiver, First: 5, Settled: true, State: Accepted{}},
		canonical: true,
	},
	"disposition range released batchable": {
		spec: "AMQP 1.0 §2.7.6 disposition, §3.4.4 released",
		raw: cat(
			bs(0x00, 0x00, 0x00, 0x18), // frame size 24
			bs(0x02, 0x00, 0x00, 0x00), // doff 2, type AMQP, channel 0
			bs(0x00, 0x53, 0x15),       // descriptor amqp:disposition:list
			bs(0xc0, 0x0b, 0x06),       // list8, size 11, 6 fields
			bs(0x41),                   // role true: receiver
			bs(0x43),                   // first 0
			bs(0x52, 0x09),             // last 9
			bs(0x41),                   // settled true
			bs(0x00, 0x53, 0x26, 0x45), // state released
			bs(0x41),                   // batchable true
		),
		want: &Disposition{Role: RoleReceiver, First: 0, Last: 9, HasLast: true, Settled: true,
			State: Released{}, Batchable: true},
		canonical: true,
	},
	"disposition rejected with error and info": {
		spec: "AMQP 1.0 §2.7.6 disposition, §3.4.3 rejected, §2.8.14 error",
		raw: cat(
			bs(0x00, 0x00, 0x00, 0x52),                // frame size 82
			bs(0x02, 0x00, 0x00, 0x00),                // doff 2, type AMQP, channel 0
			bs(0x00, 0x53, 0x15),                      // descriptor amqp:disposition:list
			bs(0xc0, 0x45, 0x05),                      // list8, size 69, 5 fields
			bs(0x41),                                  // role true: receiver
			bs(0x52, 0x03),                            // first 3
			bs(0x40),                                  // last null
			bs(0x41),                                  // settled true
			bs(0x00, 0x53, 0x25),                      // state: amqp:rejected:list
			bs(0xc0, 0x3a, 0x01),                      //   list8, size 58, 1 field
			bs(0x00, 0x53, 0x1d),                      //   error: amqp:error:list
			bs(0xc0, 0x34, 0x03),                      //     list8, size 52, 3 fields
			bs(0xa3, 0x12), str("amqp:invalid-field"), //     condition
			bs(0xa1, 0x0e), str("bad header ttl"), //     description
			bs(0xc1, 0x0d, 0x02),         //     info: map8, size 13, 2 elements
			bs(0xa3, 0x05), str("field"), //       key :field
			bs(0xa1, 0x03), str("ttl"), //       value "ttl"
		),
		want: &Disposition{Role: RoleReceiver, First: 3, Settled: true,
			State: Rejected{Error: &Error{Condition: ErrInvalidField, Description: "bad header ttl",
				Info: types.Map{{Key: types.Symbol("field"), Value: "ttl"}}}}},
		canonical: true,
	},
	"disposition modified with annotations": {
		spec: "AMQP 1.0 §2.7.6 disposition, §3.4.5 modified",
		raw: cat(
			bs(0x00, 0x00, 0x00, 0x2f),           // frame size 47
			bs(0x02, 0x00, 0x00, 0x00),           // doff 2, type AMQP, channel 0
			bs(0x00, 0x53, 0x15),                 // descriptor amqp:disposition:list
			bs(0xc0, 0x22, 0x05),                 // list8, size 34, 5 fields
			bs(0x41),                             // role true: receiver
			bs(0x52, 0x04),                       // first 4
			bs(0x40),                             // last null
			bs(0x41),                             // settled true
			bs(0x00, 0x53, 0x27),                 // state: amqp:modified:list
			bs(0xc0, 0x17, 0x03),                 //   list8, size 23, 3 fields
			bs(0x41),                             //   delivery-failed true
			bs(0x41),                             //   undeliverable-here true
			bs(0xc1, 0x12, 0x02),                 //   message-annotations: map8, size 18, 2 elements
			bs(0xa3, 0x0d), str("x-opt-retries"), //     key :x-opt-retries
			bs(0x52, 0x03), //     value uint 3
		),
		want: &Disposition{Role: RoleReceiver, First: 4, Settled: true,
			State: Modified{DeliveryFailed: true, UndeliverableHere: true,
				MessageAnnotations: types.Map{{Key: types.Symbol("x-opt-retries"), Value: uint32(3)}}}},
		canonical: true,
	},
	"disposition received": {
		spec: "AMQP 1.0 §2.7.6 disposition, §3.4.1 received",
		raw: cat(
			bs(0x00, 0x00, 0x00, 0x23), // frame size 35
			bs(0x02, 0x00, 0x00, 0x00), // doff 2, type AMQP, channel 0
			bs(0x00, 0x53, 0x15),       // descriptor amqp:disposition:list
			bs(0xc0, 0x16, 0x05),       // list8, size 22, 5 fields
			bs(0x41),                   // role true: receiver
			bs(0x52, 0x06),             // first 6
			bs(0x40),                   // last null
			bs(0x40),                   // settled null: false
			bs(0x00, 0x53, 0x23),       // state: amqp:received:list
			bs(0xc0, 0x0b, 0x02),       //   list8, size 11, 2 fields
			bs(0x43),                   //   section-number 0
			bs(0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00), //   section-offset ulong 1024
		),
		want: &Disposition{Role: RoleReceiver, First: 6,
			State: Received{SectionNumber: 0, SectionOffset: 1024}},
		canonical: true,
	},

	// ---- detach, end, close ----------------------------------------------
	"detach closed with error": {
		spec: "AMQP 1.0 §2.7.7 detach, §2.8.14 error",
		raw: cat(
			bs(0x00, 0x00, 0x00, 0x3d),            // frame size 61
			bs(0x02, 0x00, 0x00, 0x00),            // doff 2, type AMQP, channel 0
			bs(0x00, 0x53, 0x16),                  // descriptor amqp:detach:list
			bs(0xc0, 0x30, 0x03),                  // list8, size 48, 3 fields
			bs(0x52, 0x01),                        // handle 1
			bs(0x41),                              // closed true
			bs(0x00, 0x53, 0x1d),                  // error: amqp:error:list
			bs(0xc0, 0x27, 0x02),                  //   list8, size 39, 2 fields
			bs(0xa3, 0x0e), str("amqp:not-found"), //   condition
			bs(0xa1, 0x14), str("no such node: orders"), //   description
		),
		want: &Detach{Handle: 1, Closed: true,
			Error: &Error{Condition: ErrNotFound, Description: "no such node: orders"}},
		canonical: true,
	},
	"end": {
		spec: "AMQP 1.0 §2.7.8 end",
		raw: cat(
			bs(0x00, 0x00, 0x00, 0x0c), // frame size 12
			bs(0x02, 0x00, 0x00, 0x02), // doff 2, type AMQP, channel 2
			bs(0x00, 0x53, 0x17),       // descriptor amqp:end:list
			bs(0x45),                   // list0: no error
		),
		want:      &End{},
		canonical: true,
	},
	"end with error": {
		spec: "AMQP 1.0 §2.7.8 end, §2.8.16 session errors",
		raw: cat(
			bs(0x00, 0x00, 0x00, 0x33),                           // frame size 51
			bs(0x02, 0x00, 0x00, 0x00),                           // doff 2, type AMQP, channel 0
			bs(0x00, 0x53, 0x17),                                 // descriptor amqp:end:list
			bs(0xc0, 0x26, 0x01),                                 // list8, size 38, 1 field
			bs(0x00, 0x53, 0x1d),                                 // error: amqp:error:list
			bs(0xc0, 0x20, 0x01),                                 //   list8, size 32, 1 field
			bs(0xa3, 0x1d), str("amqp:session:window-violation"), //   condition
		),
		want:      &End{Error: &Error{Condition: ErrWindowViolation}},
		canonical: true,
	},
	"close": {
		spec: "AMQP 1.0 §2.7.9 close",
		raw: cat(
			bs(0x00, 0x00, 0x00, 0x0c), // frame size 12
			bs(0x02, 0x00, 0x00, 0x00), // doff 2, type AMQP, channel 0
			bs(0x00, 0x53, 0x18),       // descriptor amqp:close:list
			bs(0x45),                   // list0: no error
		),
		want:      &Close{},
		canonical: true,
	},
	"close with redirect error": {
		spec: "AMQP 1.0 §2.7.9 close, §2.8.17 connection errors (redirect)",
		raw: cat(
			bs(0x00, 0x00, 0x00, 0x63),                      // frame size 99
			bs(0x02, 0x00, 0x00, 0x00),                      // doff 2, type AMQP, channel 0
			bs(0x00, 0x53, 0x18),                            // descriptor amqp:close:list
			bs(0xc0, 0x56, 0x01),                            // list8, size 86, 1 field
			bs(0x00, 0x53, 0x1d),                            // error: amqp:error:list
			bs(0xc0, 0x50, 0x03),                            //   list8, size 80, 3 fields
			bs(0xa3, 0x18), str("amqp:connection:redirect"), //   condition
			bs(0xa1, 0x0f), str("use the standby"), //   description
			bs(0xc1, 0x22, 0x04),                //   info: map8, size 34, 4 elements
			bs(0xa3, 0x0c), str("network-host"), //     key :network-host
			bs(0xa1, 0x08), str("10.0.0.1"), //     value "10.0.0.1"
			bs(0xa3, 0x04), str("port"), //     key :port
			bs(0x60, 0x16, 0x28), //     value ushort 5672
		),
		want: &Close{Error: &Error{Condition: ErrRedirect, Description: "use the standby",
			Info: types.Map{
				{Key: types.Symbol("network-host"), Value: "10.0.0.1"},
				{Key: types.Symbol("port"), Value: uint16(5672)},
			}}},
		canonical: true,
	},

	// ---- SASL -----------------------------------------------------------
	"sasl-mechanisms two": {
		spec: "AMQP 1.0 §5.3.3.1 sasl-mechanisms",
		raw: cat(
			bs(0x00, 0x00, 0x00, 0x22), // frame size 34
			bs(0x02, 0x01, 0x00, 0x00), // doff 2, type SASL, channel 0
			bs(0x00, 0x53, 0x40),       // descriptor amqp:sasl-mechanisms:list
			bs(0xc0, 0x15, 0x01),       // list8, size 21, 1 field
			bs(0xe0, 0x12, 0x02, 0xa3), // sasl-server-mechanisms: array8, size 18, 2 × sym8
			bs(0x05), str("PLAIN"),     //   PLAIN
			bs(0x09), str("ANONYMOUS"), //   ANONYMOUS
		),
		want:      &SASLMechanisms{Mechanisms: []types.Symbol{"PLAIN", "ANONYMOUS"}},
		canonical: true,
	},
	"sasl-mechanisms one symbol": {
		spec: "AMQP 1.0 §5.3.3.1 sasl-mechanisms, §1.4 multiple",
		raw: cat(
			bs(0x00, 0x00, 0x00, 0x19),       // frame size 25
			bs(0x02, 0x01, 0x00, 0x00),       // doff 2, type SASL, channel 0
			bs(0x00, 0x53, 0x40),             // descriptor amqp:sasl-mechanisms:list
			bs(0xc0, 0x0c, 0x01),             // list8, size 12, 1 field
			bs(0xa3, 0x09), str("ANONYMOUS"), // sasl-server-mechanisms: one symbol
		),
		want:      &SASLMechanisms{Mechanisms: []types.Symbol{"ANONYMOUS"}},
		canonical: true,
	},
	"sasl-init": {
		spec: "AMQP 1.0 §5.3.3.2 sasl-init",
		raw: cat(
			bs(0x00, 0x00, 0x00, 0x31),   // frame size 49
			bs(0x02, 0x01, 0x00, 0x00),   // doff 2, type SASL, channel 0
			bs(0x00, 0x53, 0x41),         // descriptor amqp:sasl-init:list
			bs(0xc0, 0x24, 0x03),         // list8, size 36, 3 fields
			bs(0xa3, 0x05), str("PLAIN"), // mechanism
			bs(0xa0, 0x0d), str("\x00alice\x00secret"), // initial-response (RFC 4616)
			bs(0xa1, 0x0b), str("example.com"), // hostname
		),
		want: &SASLInit{Mechanism: "PLAIN", InitialResponse: []byte("\x00alice\x00secret"),
			Hostname: "example.com"},
		canonical: true,
	},
	"sasl-challenge": {
		spec: "AMQP 1.0 §5.3.3.3 sasl-challenge",
		raw: cat(
			bs(0x00, 0x00, 0x00, 0x18),      // frame size 24
			bs(0x02, 0x01, 0x00, 0x00),      // doff 2, type SASL, channel 0
			bs(0x00, 0x53, 0x42),            // descriptor amqp:sasl-challenge:list
			bs(0xc0, 0x0b, 0x01),            // list8, size 11, 1 field
			bs(0xa0, 0x08), str("nonce-01"), // challenge
		),
		want:      &SASLChallenge{Challenge: []byte("nonce-01")},
		canonical: true,
	},
	"sasl-response": {
		spec: "AMQP 1.0 §5.3.3.4 sasl-response",
		raw: cat(
			bs(0x00, 0x00, 0x00, 0x1a),        // frame size 26
			bs(0x02, 0x01, 0x00, 0x00),        // doff 2, type SASL, channel 0
			bs(0x00, 0x53, 0x43),              // descriptor amqp:sasl-response:list
			bs(0xc0, 0x0d, 0x01),              // list8, size 13, 1 field
			bs(0xa0, 0x0a), str("c=biws,r=x"), // response
		),
		want:      &SASLResponse{Response: []byte("c=biws,r=x")},
		canonical: true,
	},
	"sasl-outcome ok with additional data": {
		spec: "AMQP 1.0 §5.3.3.5 sasl-outcome",
		raw: cat(
			bs(0x00, 0x00, 0x00, 0x15), // frame size 21
			bs(0x02, 0x01, 0x00, 0x00), // doff 2, type SASL, channel 0
			bs(0x00, 0x53, 0x44),       // descriptor amqp:sasl-outcome:list
			bs(0xc0, 0x08, 0x02),       // list8, size 8, 2 fields
			bs(0x50, 0x00),             // code ubyte 0: ok
			bs(0xa0, 0x03), str("v=1"), // additional-data
		),
		want:      &SASLOutcome{Code: 0, AdditionalData: []byte("v=1")},
		canonical: true,
	},
	"sasl-outcome auth": {
		spec: "AMQP 1.0 §5.3.3.5 sasl-outcome, §5.3.3.6 sasl-code",
		raw: cat(
			bs(0x00, 0x00, 0x00, 0x10), // frame size 16
			bs(0x02, 0x01, 0x00, 0x00), // doff 2, type SASL, channel 0
			bs(0x00, 0x53, 0x44),       // descriptor amqp:sasl-outcome:list
			bs(0xc0, 0x03, 0x01),       // list8, size 3, 1 field
			bs(0x50, 0x01),             // code ubyte 1: auth
		),
		want:      &SASLOutcome{Code: 1},
		canonical: true,
	},

	// ---- framing ----------------------------------------------------------
	"empty frame (heartbeat)": {
		spec: "AMQP 1.0 §2.3.2 empty frames, §2.4.5 idle time-out",
		raw: cat(
			bs(0x00, 0x00, 0x00, 0x08), // frame size 8: no body
			bs(0x02, 0x00, 0x00, 0x00), // doff 2, type AMQP, channel 0
		),
		want:      nil,
		canonical: true,
	},
	"extended header (doff 3)": {
		spec: "AMQP 1.0 §2.3.1 frame layout (extended header)",
		raw: cat(
			bs(0x00, 0x00, 0x00, 0x10), // frame size 16
			bs(0x03, 0x00, 0x00, 0x00), // doff 3: body starts at byte 12; type AMQP, channel 0
			bs(0xde, 0xad, 0xbe, 0xef), // extended header, ignored
			bs(0x00, 0x53, 0x18),       // descriptor amqp:close:list
			bs(0x45),                   // list0
		),
		want: &Close{},
	},
}

// catalogNames returns the catalog's names in a fixed order, for seeds and
// benchmarks that must not depend on map iteration.
func catalogNames() []string {
	names := make([]string, 0, len(catalog))
	for name := range catalog {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// parseWhole parses raw as exactly one frame.
func parseWhole(t *testing.T, raw []byte) Frame {
	t.Helper()
	f, n, need, err := ParseFrame(raw, 1<<20)
	if err != nil {
		t.Fatalf("ParseFrame: %v", err)
	}
	if n != len(raw) || need != len(raw) {
		t.Fatalf("ParseFrame took %d bytes (need %d) of %d: the size in the header is wrong", n, need, len(raw))
	}
	return f
}

// decodeFrame decodes a frame's body; an empty body decodes to nil.
func decodeFrame(f Frame) (Body, error) {
	if len(f.Body) == 0 {
		return nil, nil
	}
	return Decode(f.Type, f.Body)
}

func TestCatalogDecode(t *testing.T) {
	for name, tc := range catalog {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := parseWhole(t, tc.raw)
			got, err := decodeFrame(f)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("%s: decoded\n got %#v\nwant %#v", tc.spec, got, tc.want)
			}
			// A transfer decodes the same way into a reused value.
			if want, ok := tc.want.(*Transfer); ok {
				tr := Transfer{Handle: 99, Aborted: true, State: Released{}} // stale fields must be cleared
				if err := DecodeTransfer(f.Body, &tr); err != nil {
					t.Fatalf("DecodeTransfer: %v", err)
				}
				if !reflect.DeepEqual(&tr, want) {
					t.Fatalf("DecodeTransfer\n got %#v\nwant %#v", &tr, want)
				}
			}
		})
	}
}

func TestCatalogEncode(t *testing.T) {
	for name, tc := range catalog {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			in := parseWhole(t, tc.raw)
			enc := AppendFrame(nil, in.Type, in.Channel, tc.want)
			f := parseWhole(t, enc)
			if f.Type != in.Type || f.Channel != in.Channel {
				t.Fatalf("header: type %d channel %d, want %d %d", f.Type, f.Channel, in.Type, in.Channel)
			}
			got, err := decodeFrame(f)
			if err != nil {
				t.Fatalf("decode of encoding % x: %v", enc, err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("round trip\n got %#v\nwant %#v", got, tc.want)
			}
			if tc.canonical && !bytes.Equal(enc, tc.raw) {
				t.Fatalf("%s: encoding differs from the catalog\n got % x\nwant % x", tc.spec, enc, tc.raw)
			}
			if !tc.canonical && bytes.Equal(enc, tc.raw) {
				t.Fatalf("encoding equals the catalog bytes: mark the case canonical")
			}
		})
	}
}

// TestCatalogCoverage keeps the catalog covering every body type.
func TestCatalogCoverage(t *testing.T) {
	seen := map[string]bool{}
	for _, tc := range catalog {
		if tc.want != nil {
			seen[reflect.TypeOf(tc.want).Elem().Name()] = true
		}
	}
	for _, want := range []string{"Open", "Begin", "Attach", "Flow", "Transfer", "Disposition", "Detach", "End",
		"Close", "SASLMechanisms", "SASLInit", "SASLChallenge", "SASLResponse", "SASLOutcome"} {
		if !seen[want] {
			t.Errorf("no catalog case decodes to %s", want)
		}
	}
	for name, tc := range catalog {
		if tc.spec == "" {
			t.Errorf("%s: no spec reference", name)
		}
	}
}
