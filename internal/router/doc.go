// Package router is where every AMQP connection lands. It keeps one address
// table per address space and gives the direct address types their meaning
// (SPEC §4, Qpid Dispatch semantics):
//
//   - anycast: each message goes to exactly one consumer, the one with the
//     fewest unsettled deliveries among those with credit ("balanced"). A
//     producer is given credit only while consumers can take messages, and
//     never more than they granted (capped per producer at LinkCapacity), so
//     the router buffers at most what it promised. Unsettled deliveries are
//     settled end to end: the consumer's outcome is the producer's outcome.
//     A consumer that detaches with unsettled deliveries makes the router
//     answer their producers with modified{delivery-failed}; messages still
//     buffered when the last consumer leaves are released.
//   - multicast: every current consumer gets a copy, pre-settled
//     (at-most-once); producers' unsettled messages are accepted on
//     receipt. A consumer without credit gets a bounded buffer
//     (MulticastBuffer messages), beyond which messages are dropped and
//     counted on the link, so one slow consumer stalls nobody. A multicast
//     address keeps no messages: one asking to be retained (annotation
//     x-opt-retain = true, the MQTT RETAIN flag) is rejected with
//     amqp:not-implemented when unsettled and dropped when pre-settled,
//     rather than delivered as if kept (retain.go; only topics keep
//     retained messages).
//   - queue, topic, subscription, deadletter: whole links are handed to the
//     Endpoint that hosts them (the broker). In `enmasse serve` the broker is
//     in the same process and receives the client's own link objects and
//     message bytes: no socket, no re-encoding. Across processes an
//     Endpoint implementation relays the same calls over AMQP links; both
//     satisfy the one narrow Endpoint interface, so the routing code is the
//     same in both cases.
//
// Dynamic receivers get a temporary anycast address unique to their
// connection and removed with it. A receiver whose durable source has no
// address reattaches to the durable subscription its link name names
// (SubscriptionFinder; Qpid JMS does so to unsubscribe, then closes the
// link, and the broker deletes the subscription). A sender link with a null target is the
// anonymous relay: each message is routed by its properties.to, decoded
// lazily from the received bytes; an unknown `to` is rejected with
// amqp:not-found. Messages are always forwarded as the bytes received. A
// brokered `to` goes to the Endpoint's ProduceParsed when it has one
// (ParsedProducer: the broker), so the message is parsed once. Relay and
// $lwt producers get LinkCapacity credit back once half is used, not one
// flow frame per message.
//
// # Last will ($lwt)
//
// A sender link to LWTAddress (`$lwt`, in every space) is the last-will
// service (research/enmasse.md §6): each message on it must name an
// address in properties.to that the user may send to, and replaces the
// link's will (subject `will-clear` clears it); it is accepted at once.
// The will lives in the link's linkState, touched only on the link's
// connection goroutine (OnMessage, OnDetach). OnDetach publishes it when
// the link ended with an error — a detach or end with an error, or the
// connection lost, timed out or closed with an error (every link of a
// connection gets OnDetach with the connection's error before OnClose) —
// and drops it after a clean detach, end or close (transport's
// ErrConnClosed). Publication re-checks the send right and runs on its
// own goroutine: an in-process connection (net.Pipe) to the router
// itself, placed in the space by its open hostname, sends the bytes
// through the anonymous relay and waits for the outcome. Receivers on
// `$lwt` and relay messages to it are refused (amqp:not-allowed).
//
// # MQTT topics
//
// EnsureTopic (the in-process MQTT gateway) and, for a connection whose
// open desires CapabilityMQTTTopics (`enmasse mqtt-gateway` over TCP),
// every attach and relayed message make the first level of an unknown
// name a topic in an auto-creating space, where other clients get a
// queue named after the whole address.
//
// # Address spaces
//
// A connection is placed in an address space, in order, by the TLS server
// name (SNI), then the open hostname, naming `{space}` or
// `{space}.{namespace}`, by a username of the form `user@{space}`, else by
// the listener's default space; a name that matches no space (the server's
// own host name, say) falls through to the next rule. Each space has its own table and limits (EnMasse router policy:
// maxConnections, maxConnectionsPerUser, maxConnectionsPerHost,
// maxSessionsPerConnection, maxSendersPerConnection,
// maxReceiversPerConnection, maxMessageSize); nothing is ever looked up
// across spaces, so two spaces may both have an address `orders`.
//
// # Concurrency and lock order
//
// There is no global lock on the message path. Transport callbacks arrive
// on each connection's reader goroutine, so connections are served in
// parallel on all cores. State is guarded as follows, and locks are only
// ever taken in this order:
//
//	Router.mu (spaces map) → space.mu (address table) → address.mu → transport Conn.mu
//
// Router.mu and space.mu are taken briefly to look an address up and never
// held while messages move. address.mu guards an address's producers,
// consumers and buffer; forwarding a message holds it while the consumer's
// connection encodes the transfer (Conn.mu, inside transport). The
// transport never calls back into the router with its own lock held, so
// calling into another connection from a callback is safe. connState.mu
// guards the per-connection counters and is a leaf lock.
package router
