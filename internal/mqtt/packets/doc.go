// Package packets is the MQTT control packet codec for MQTT 3.1.1 (protocol
// level 4, OASIS Standard 29 October 2014) and MQTT 5.0 (level 5, OASIS
// Standard 7 March 2019). It decodes and encodes all fifteen packet types,
// the 5.0 properties and reason codes, and validates everything that can be
// checked on one packet alone. It knows nothing of sessions, connections or
// the broker: it is a leaf package that imports only the standard library.
//
// # Layout
//
//   - codec.go: packet types, FixedHeader, the Packet interface, Decode,
//     Append, WriteTo, fixed-header flag rules.
//   - reader.go: Reader, the incremental stream reader with the maximum
//     packet size.
//   - primitives.go: the data representations of §1.5 (integers, variable
//     byte integers, binary data, UTF-8 strings and their validation).
//   - topics.go: topic names, topic filters, shared subscriptions.
//   - properties.go: the property table (type and allowed packets of every
//     identifier) and Properties.
//   - codes.go: ReasonCode, the 3.1.1 CONNACK return codes, Error.
//   - connect.go, publish.go, subscribe.go, control.go: one struct per
//     packet type with Decode and Append methods.
//
// # Decoding
//
// A packet is a fixed header (type, four flag bits, remaining length) and
// a body of remaining-length bytes. Reader.Next reads one fixed header and
// its body; Decode (or the Decode method of a reused packet value) turns
// them into a packet for a protocol level. The level comes from the
// connection's CONNECT: a CONNECT carries its own, every other packet needs
// it from the caller, and Reader.ReadPacket remembers the first CONNECT's.
//
// Every read checks its bounds first. A packet whose fields run past the
// body, or leave bytes over where the layout has no room for them, is a
// Malformed Packet; the PUBLISH payload and the reason-code lists of
// SUBACK and UNSUBACK are the only open-ended fields. A v5 SUBSCRIBE whose
// last topic filter lacks its options byte is Malformed here; the same
// packet crashes mochi-mqtt v2.7.9 (TestMochiCrashInput, and the
// mochi-v2.7.9-crash-* seeds of FuzzReader).
//
// # Errors
//
// Every decode and encode failure is an *Error carrying the ReasonCode to
// report, the packet type, a conformance statement tag like
// [MQTT-3.3.1-4] when the spec has one, and a description. *Error unwraps to
// its ReasonCode, so a gateway can do
//
//	var rc packets.ReasonCode
//	if errors.As(err, &rc) { /* CONNACK (during CONNECT) or DISCONNECT with rc */ }
//
// The codes follow MQTT 5.0 §4.13 and §1.2: Malformed Packet (0x81) when a
// packet cannot be parsed by the spec (truncated fields, bad UTF-8, a
// variable byte integer longer than 4 bytes, reserved bits or QoS 3 in the
// fixed header, CONNECT flags or subscription option bits that cannot be
// interpreted, bytes left over); Protocol Error (0x82) when it parses but
// carries something the protocol forbids (packet identifier 0, a property
// that is not allowed in the packet or appears twice, a property value out
// of range, a reason code not defined for the packet, no topic filter,
// Retain Handling 3, No Local on a shared subscription, an empty topic
// without a Topic Alias); Topic Name invalid (0x90) for wildcards in a
// topic name; Topic Filter invalid (0x8F) for a filter with misplaced
// wildcards or a bad $share form; Topic Alias invalid (0x94) for Topic
// Alias 0; Packet too large (0x95) from the Reader; Unsupported Protocol
// Version (0x84) and Client Identifier not valid (0x85) from CONNECT. For
// a 3.1.1 client the gateway maps a CONNECT failure to a CONNACK return
// code with ReasonCode.V3ConnackCode, or closes the connection.
//
// Rules that need state beyond one packet are left to the caller: a second
// CONNECT, Topic Alias above the negotiated maximum, packet identifiers in
// use, Subscription Identifiers in a PUBLISH from a client, the Session
// Expiry Interval of a DISCONNECT after a CONNECT with 0.
//
// # Encoding
//
// Append appends a packet to a byte slice and WriteTo writes it with one
// Write. Encoding validates like decoding: Append refuses what Decode would
// reject, so a packet the codec sends is one it would accept. Fields the
// version cannot carry (properties, 5.0 reason codes and subscription
// options in 3.1.1) are dropped, except that a CONNACK reason code with no
// 3.1.1 return code is an error. Properties are written in identifier order.
//
// # Aliasing and reuse
//
// Decoded byte slices (Publish.Payload, Will.Payload, Connect.Password,
// Correlation Data, Authentication Data) alias the body passed to Decode;
// with a Reader they are valid until the next read. Copy them to keep them.
// Strings are always copies.
//
// Decode methods overwrite their receiver and reuse its slices
// (Subscriptions, Filters, ReasonCodes, User Properties, Subscription
// Identifiers), and keep a topic, client identifier, user name or topic
// filter string that repeats from the previous packet instead of
// allocating it again. Decoding a stream of PUBLISH packets on one topic
// into one reused Publish value allocates nothing. The flip side: slices
// taken from a packet value are overwritten when the value is reused.
//
// # Tests
//
// The tests are the conformance record: catalog_test.go is a golden catalog
// of annotated raw packets for both versions (decode, encode, reuse, the
// other version); conformance_test.go lists every rule above with the
// reason code and tag it must produce; mochi_test.go and paho_test.go are
// differential tests against mochi-mqtt v2.7.9 (its 179-case TPacketData)
// and paho.golang v0.23.0, with every deliberate difference listed and
// explained; FuzzReader feeds split streams and checks allocation bounds and
// round trips. Run the fuzzer with
//
//	go test -run '^$' -fuzz FuzzReader -fuzztime 2m -fuzzminimizetime 5s ./internal/mqtt/packets
//
// and keep interesting finds in testdata/fuzz/FuzzReader, next to the two
// regression seeds for the mochi crash.
//
// # Leniencies
//
// A variable byte integer with more bytes than needed is accepted (the
// sender violates [MQTT-1.5.5-1], but the value is unambiguous). Control
// characters and Unicode non-characters in strings are accepted (the spec
// says SHOULD NOT). A v5 property with a zero-length string value or a zero
// value that equals its default decodes like an absent property (see
// Properties).
package packets
