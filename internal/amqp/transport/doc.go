// Package transport implements the AMQP 1.0 connection, session and link
// state machines (AMQP 1.0 Part 2, §2.4–§2.7) with the security layers of
// Part 5, for both roles: accepting connections (Accept) and dialing out
// (Dial).
//
// # Layers
//
// A connection starts with protocol header negotiation (§2.2): optionally TLS
// (§5.2, in-band "AMQP\x02" upgrade; listeners may also wrap the socket in
// TLS from the first byte, as amqps does), then SASL (§5.3, mechanisms from
// package sasl), then the AMQP layer: open (§2.4.1), any number of sessions
// (begin/end, §2.5) on channels, and links (attach/detach, §2.6) on
// handles within each session.
//
// # Threading and locking
//
// Each Conn has one mutex, Conn.mu, that guards all state of the connection
// and of its sessions, links and deliveries. There is no lock order to
// remember: code never holds two connections' locks at once. Two goroutines
// run per connection:
//
//   - the reader reads frames, applies them to the state under mu, and then
//     calls the Handler without holding mu, so a handler may call back into
//     this or any other connection (a router forwarding from one connection to
//     another does exactly that). It reads into a 512-byte buffer while
//     frames trickle in and switches to a pooled 16 KiB one when a read fills
//     that, returning it to the pool once it is drained and reads are small
//     again (framereader.go): an idle connection holds 512 bytes, not 16 KiB;
//   - the writer drains the connection's output buffer to the socket and
//     sends heartbeats. Frames are encoded into the output buffer under mu by
//     whichever goroutine produces them, so frames from many producers are
//     batched into few writes.
//
// Handler callbacks for one connection are therefore serialised, in frame
// order, on its reader goroutine; a slow handler slows only its own
// connection (which is the intended back-pressure).
//
// # Flow control
//
// Session windows (§2.5.6) and link credit (§2.6.7) are enforced in both
// directions. An incoming transfer beyond our incoming window ends the
// session with amqp:session:window-violation; a transfer without link credit
// detaches the link with amqp:link:transfer-limit-exceeded. Outgoing transfers
// beyond the peer's incoming window wait in the session until the peer
// widens the window. Sending beyond the peer's link credit is refused with
// ErrNoCredit: callers (the router, the client Sender) wait for credit, which
// they learn about through Handler.OnFlow.
//
// A sender that receives a drain request (§2.6.7) first gets OnFlow to send
// what it can; whatever credit remains is then consumed by advancing the
// delivery-count, and the flow is echoed back, as the specification asks.
//
// # Deliveries
//
// Incoming messages are assembled from multi-frame transfers (bounded by the
// link's max-message-size), aborted transfers are discarded (§2.6.14), and a
// complete message is handed to Handler.OnMessage as a Delivery. Settlement
// follows the link's settle modes (§2.6.12): with rcv-settle-mode second the
// receiver first sends its outcome unsettled and settles when the sender
// does. Dispositions received for ranges of delivery ids update each
// delivery in the range.
//
// Allocation per message: Link.SendSettled sends a pre-settled message
// without a Delivery while the session can write it at once (the broker's
// at-most-once consumers, the MQTT gateway's QoS 0 publications), and
// reports whether it kept the payload (else it was copied into the
// output and the caller may reuse it); a receiver with ReceiverOptions.PackDeliveries
// gets the deliveries that arrive in one read, and their single-frame
// payloads, cut from shared blocks sized by what the read still holds
// (pack.go), so a burst costs a few allocations instead of two per
// message and a lone message exactly two.
//
// # Errors
//
// Protocol violations are answered with the specification's error
// conditions at the narrowest scope that can carry them (and a connection
// whose credentials expire, sasl.Identity.Expires — a bearer token — is
// closed then with amqp:unauthorized-access): a link error
// detaches the link, a session error ends the session, anything else closes
// the connection (with amqp:decode-error or amqp:connection:framing-error for
// undecodable input). Input is never trusted: sizes are checked against the
// negotiated limits before anything is allocated.
package transport
