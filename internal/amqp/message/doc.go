// Package message encodes and decodes AMQP 1.0 messages (AMQP 1.0 Part 3,
// §3.2): the sequence of described sections header, delivery-annotations,
// message-annotations, properties, application-properties, a body of data,
// amqp-sequence or amqp-value sections, and footer, in that order.
//
// # Two representations
//
// Message is the fully decoded form, for clients and tests: Marshal encodes
// it in the smallest encoding the types package offers and Unmarshal decodes
// every section into Go values.
//
// Raw is the form the router and broker use. It keeps the message as the
// bytes that arrived in the transfer frames, plus the offsets of its
// sections. Parse finds those offsets in one pass over the input that
// validates but does not decode: header and properties fields are checked
// for their types with the Decoder's typed readers (which alias the input),
// every other value is walked with Decoder.Skip, and nothing is allocated.
// A message that Parse accepts is well-formed per §3.2, so the link can
// reject a malformed one with amqp:decode-error at once (every error here
// matches types.ErrDecode) instead of failing later in a consumer.
//
// # What is decoded when
//
//	Parse                       offsets only; no values kept, no allocation
//	Header                      the five header fields; no allocation
//	ToBytes, ReplyToBytes       one properties field, skipping the earlier
//	AbsoluteExpiry              fields with Skip; aliases the input, no allocation
//	To, ReplyTo, MessageID      as above plus the returned string or id
//	Properties                  the whole properties list
//	MessageAnnotations, …       the annotation map (types.ReadAny)
//	ApplicationProperties       the map, into a Go map
//	Decode                      everything, as Unmarshal
//
// Each accessor decodes afresh on every call and nothing is cached, so a Raw
// is immutable after Parse and safe to share between goroutines. A router
// typically calls Parse, ToBytes and Header and never touches the rest.
//
// # Why the bare message stays byte-identical
//
// §3.2 splits a message into the bare message (properties,
// application-properties and body), which is immutable: "the bare message is
// immutable within the AMQP network", and an intermediary that forwards a
// message must not change it; and the annotated message, which adds the
// header, delivery-annotations, message-annotations and footer that
// intermediaries may change. A footer (§3.2.9) exists to carry hashes,
// HMACs and signatures computed over the bare message's encoding, so even a
// semantically equal re-encoding would break them: AMQP allows several
// encodings of one value (str8 or str32, list8 or list32, uint or
// smalluint), and map entry order is not fixed, so decoding and re-encoding
// need not reproduce the bytes. Raw.AppendRewrite therefore builds a new
// header and message-annotations, optionally drops the delivery-annotations
// (they are addressed to the next hop only, §3.2.2), and copies the bare
// message and the footer from the received bytes. Raw.Bare exposes the
// exact bytes so tests and signing code can compare them.
//
// # Strictness
//
// Decoding follows §3.2 strictly: unknown descriptors, out-of-order or
// repeated sections, mixed body kinds, message-ids that are not ulong, uuid,
// binary or string (§3.2.11-14), annotation keys that are not symbols or
// ulongs (§3.2.10), application properties with non-string keys or
// compound values (§3.2.5) and invalid UTF-8 are errors. Three liberal
// choices follow the specification's extensibility or common practice:
// symbolic section descriptors ("amqp:header:list", …) are accepted as well
// as the numeric ones (§1.5); header and properties lists longer than the
// fields §3.2 defines have their extra fields skipped (§1.4); and a message
// without body sections is accepted, as peers send them.
package message
