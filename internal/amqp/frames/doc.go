// Package frames defines the AMQP 1.0 frame layer: the 8-byte frame header
// (AMQP 1.0 §2.3), the protocol headers that open each layer (§2.2, §5.2.1,
// §5.3.1), the nine transport performatives (§2.7), the SASL frames (§5.3.3),
// the terminus and delivery-state types they carry (§3.4, §3.5) and the error
// conditions (§2.8.15, §2.8.16-18).
//
// Each performative is a Go struct whose fields follow the specification's
// field list in order; the doc comment of each type quotes the normative part
// of its definition. Marshal appends the described list encoding with
// trailing null fields omitted (AMQP 1.0 §1.4: "the list MAY be truncated")
// and Unmarshal accepts any encoding a peer may send, including extra
// trailing fields from a future version, which are skipped.
//
// The frame body of a transfer carries the message payload after the
// performative; Transfer.Payload aliases the frame buffer and is valid only
// until the next frame is read.
//
// Reader decodes frames incrementally from a byte stream, enforcing the
// negotiated maximum frame size before it allocates anything: a frame header
// declaring more than the limit is a framing error, whatever bytes follow.
//
// This package imports only the standard library and amqp/types.
package frames
