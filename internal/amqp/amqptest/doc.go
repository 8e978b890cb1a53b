// Package amqptest is test support for the AMQP 1.0 engine: a scripted fake
// peer that plays the other end of a connection byte by byte, so a test can
// drive the engine's state machines into any state, including states a
// well-behaved peer never reaches.
//
// It is imported only from _test.go files. It depends on the frames and
// types packages but never on transport, so transport's own (package
// internal) tests can use it.
//
// # The peer
//
// NewPeer wraps one end of a net.Pipe (or a TCP connection). Everything the
// test writes goes out as written: protocol headers (WriteHeader), any
// frames.Body on any channel (Send, SendSASL, SendFrame) or raw bytes
// (Write). With the ChunkSize option every write is cut into pieces of that
// many bytes, each a separate Write, so the engine sees frames split at
// arbitrary points.
//
// A goroutine reads everything the engine sends, from the moment the peer
// is created, and queues it as events: protocol headers (recognised by
// their "AMQP" prefix at a frame boundary; no legal frame is that large),
// frames, and finally the read error. Reading in the background matters on
// net.Pipe, which has no buffer: the engine's handshake writes synchronously
// and would otherwise block against a test that is still writing.
//
// The test consumes the queue in order with ReadHeader, Next (one frame,
// decoded; an empty frame is a heartbeat with a nil body), Expect and
// ExpectCh (the next non-heartbeat frame must be of a given type) and
// WaitClosed (everything up to end of stream). Each wait is bounded by the
// Timeout option (default 5 s); inside a testing/synctest bubble that is fake
// time.
//
// # Scripts
//
// Handshake runs the client side of the AMQP header and open exchange,
// SASLPlain a SASL PLAIN exchange, and BeginSession and AttachLink the usual
// begin and attach round trips, each failing the test on an unexpected
// answer. Everything else is spelled out in the test with Send and Expect,
// so the script reads like the frame trace it produces.
//
// A Peer is used by one test goroutine; its methods are not safe for
// concurrent use, except that the background reader runs alongside.
package amqptest
