// Package mqtt is the MQTT gateway: it serves MQTT 3.1.1 and 5.0 clients
// (codec in package packets) and makes each of them an AMQP 1.0 client of
// the router, so MQTT and AMQP clients share the very same addresses
// (SPEC §5, issue 8).
//
// # Design
//
// Every MQTT connection gets its own AMQP connection from the Backend
// (in `enmasse serve`: a net.Pipe whose server side the AMQP listener's
// transport options accept, so authentication — SASL PLAIN with the MQTT
// username and password, else EXTERNAL for a verified TLS client
// certificate, else ANONYMOUS — and address-space placement
// (`user@space`) are exactly the AMQP ones; the server side's
// authenticator sees the MQTT client's address and TLS state, passed in
// Credentials). On it the gateway opens one session with:
//
//   - one anonymous-relay sender (null target) for every PUBLISH and the
//     will: each message carries its topic name in properties.to;
//   - one receiver per SUBSCRIBE topic filter, attached to the filter
//     itself: `+` and `#` pass through to the broker's topic
//     subscriptions. UNSUBSCRIBE detaches it. Unless Retain Handling is 2,
//     its source has the capability `retained`, so the broker delivers
//     the retained messages the filter matches before any live one. A
//     SUBSCRIBE repeating an existing filter keeps its link and replaces
//     its options; with Retain Handling 0 (always in 3.1.1) a one-shot
//     receiver with the capability `retained-only` sends the retained
//     messages again and ends at the broker's end marker [MQTT-3.8.4-3].
//
// MQTT topic `a/b/c` is AMQP address `a/b/c`; its first level `a` must be
// a topic (or multicast) address. In an address space that auto-creates
// addresses, Backend.EnsureTopic creates `a` as a topic on first use (the
// router's EnsureTopic; SPEC §4: MQTT auto-creates topics where AMQP
// auto-creates queues). Package mqtt imports only packets and the AMQP
// transport, message, types and frames packages (and gorilla/websocket,
// and golang.org/x/sys/unix for epoll);
// the router is behind the Backend interface.
//
// # Transports
//
// Server.Serve takes any listener: plain TCP, or a tls.Listener (mqtts),
// whose handshake ServeConn finishes within Options.ConnectTimeout before
// anything else. Server.WebSocketHandler serves MQTT over WebSocket (MQTT
// 5.0 §6, RFC 6455) with github.com/gorilla/websocket: the subprotocol
// "mqtt" is required [MQTT-6.0.0-3] (else HTTP 400, before the upgrade)
// and answered [MQTT-6.0.0-4]; wsConn turns the binary messages into the
// byte stream ServeConn reads, so a packet may span messages and a message
// may hold several packets [MQTT-6.0.0-2]; a text message closes the
// connection with 1003 [MQTT-6.0.0-1]. Every packet written is one binary
// message. gorilla keeps a timed-out read fatal but writes working, so a
// keep-alive expiry can still send its DISCONNECT. DialWebSocket is the
// client side (tests, tools); its conn is a sync.Locker, which
// paho.golang holds across the Writes of one packet so that two of its
// goroutines' packets never interleave.
//
// # Threading
//
// Per connection: the goroutine of Server.ServeConn reads and handles
// packets in order (CONNECT, PUBLISH, SUBSCRIBE, ...), through a
// connReader that holds 256 bytes while the client is idle and a pooled
// 4 KiB buffer while it streams; an ack goroutine
// (started by the first QoS 1/2 PUBLISH, so idle and subscribe-only
// connections do without it and its queue) waits for the AMQP outcome of
// each QoS 1/2 publication in arrival order and writes PUBACK or PUBREC;
// one goroutine per subscription receives AMQP deliveries and writes
// PUBLISH. Writes go through conn.send under conn.wmu: packets are encoded
// into conn.wbuf and written with one Write. A subscription goroutine
// leaves its PUBLISH packets in wbuf while its receiver holds more
// deliveries and writes them all before it would block (Receive, or a
// full in-flight window), so a burst costs one system call instead of one
// per message; every other packet is written at once, together with
// whatever waits before it. Per message the gateway allocates little:
// the read loop decodes PUBLISH packets into one reused value
// (packets.Reader.ReadPacketInto); a QoS 0 publication is encoded into a
// pooled buffer and sent pre-settled without a Delivery
// (transport.Sender.SendSettled, the buffer back to the pool unless the
// transport kept it); a subscription decodes each delivery into a reused
// message.Decoded, builds its QoS 0 PUBLISH in a scratch value, and a
// QoS 0 subscription's receiver packs its deliveries
// (ReceiverOptions.PackDeliveries). conn.mu guards the
// packet-identifier tables (QoS 2 received, in-flight sent) and the
// subscription map. A semaphore of the client's receive maximum (capped
// by Options.MaxInflight) bounds the QoS 1/2 messages in flight to the
// client [MQTT-3.3.4-9], and each subscription link's credit is that window
// (capped at 256), so a slow client pushes back on the broker.
//
// # Idle release
//
// With Options.IdleRelease and a Backend that is a Loginer (serve's is;
// the separate gateway process's is not), CONNECT opens no AMQP
// connection: Login checks the credentials and admits the client
// (Router.Admit) in process, and the first PUBLISH, SUBSCRIBE, will or
// persistent session resumes one. With a Backend that is only a
// Suspender (the separate gateway process's: its Resume dials the router
// again with the client's credentials), CONNECT opens one as usual. Then a client that sends nothing
// for IdleRelease (at most connectGrace, 100 ms, right after CONNECT)
// while nothing needs its AMQP connection — no subscription, no
// persistent session, no QoS 1/2 publication waiting for its outcome, no
// delivery waiting for its acknowledgement — loses that connection and
// keeps a Suspension: its identity and its place under the router's
// connection limits (Router.Hold). The reader goroutine decides, between
// packets with nothing buffered, by waiting for the next byte with a read
// deadline (connReader.wait consumes nothing, so the deadline never falls
// inside a packet; the keep-alive deadline still counts from the last
// packet); the ack loop and its queue end with it. PUBLISH, SUBSCRIBE
// and the will resume it (Suspension.Resume: a new connection with the
// same identity, no credentials checked again); a failed resume closes
// the connection (v5 DISCONNECT 0x97 for a connection limit, 0x87, else
// 0x80). WebSocket connections are never released: gorilla/websocket
// makes a timed-out read fatal. See idle.go. A suspended client over
// TCP or TLS that stays silent parks: no goroutine until its socket, its
// keep-alive timer, a takeover or shutdown wakes it (park.go). Over plain
// TCP it freezes instead: its conn and net.Conn are dropped, a duplicate
// of its descriptor waits in the same epoll set, and a 128-byte frozen
// record (plus a frozenExtra for a will, topic aliases or QoS 2 state)
// is all that is left of it; the same wake-ups build a conn from the
// record again (freeze.go). Lock order: conn.park_.mu, then Server.mu
// (which guards the frozen tables), then the poller's mu.
//
// # Flows
//
//	QoS 0 PUBLISH      → pre-settled AMQP transfer
//	QoS 1 PUBLISH      → unsettled transfer; PUBACK once `accepted` [MQTT-4.3.2-2]
//	QoS 2 PUBLISH      → unsettled transfer; PUBREC once `accepted` [MQTT-4.3.3-8];
//	                     PUBREL → PUBCOMP; a resent PUBLISH with the same packet
//	                     identifier before PUBREL is not forwarded again [MQTT-4.3.3-10]
//	refused (rejected)  → v5: PUBACK/PUBREC with a reason code (0x87 for
//	                     amqp:unauthorized-access, 0x97 resource-limit-exceeded,
//	                     0x90 Topic Name invalid for amqp:not-found and
//	                     amqp:invalid-field, else 0x80; only PUBACK/PUBREC codes
//	                     [MQTT-3.4.2-1] [MQTT-3.5.2-1]) and a reason string;
//	                     v3.1.1: the connection is closed (3.1.1 cannot report it)
//	refused SUBSCRIBE   → SUBACK 0x87, 0x97 as above, 0x8F Topic Filter invalid
//	                     for amqp:not-found and amqp:invalid-field, else 0x80
//	AMQP delivery       → PUBLISH with QoS min(granted, message QoS) [MQTT-3.8.4-8]:
//	                     message QoS is 0 for a pre-settled delivery, else the
//	                     x-opt-mqtt-qos annotation of a gateway-published message,
//	                     else 1. QoS 0: the delivery is accepted when written;
//	                     QoS 1: accepted on PUBACK; QoS 2: PUBREC → PUBREL,
//	                     accepted on PUBCOMP. A v5 error code rejects it. So
//	                     delivery is at-least-once end to end; unacknowledged
//	                     deliveries return to the subscription when the
//	                     connection ends.
//
// # Persistent sessions
//
// A session is persistent when a 3.1.1 client connects with clean session
// 0 (it never expires) or a v5 client with clean start 0 and a session
// expiry interval above 0 (capped by Options.MaxSessionExpiry, 7 days by
// default, which CONNACK then announces). Sessions are keyed by address
// space (SessionStore.Space of the user the backend authenticated, see
// UserBackend; else of the MQTT username) and client identifier, so
// the same client identifier in two spaces is two sessions that never
// take each other over.
//
//   - Subscriptions: each filter of a persistent session is a durable
//     broker subscription `{topic}::mqtt:{client id}:{filter}` in the
//     client's address space (`%`, `:` and `|` percent-encoded in client
//     id and filter; `{topic}` is the topic address that resolves the
//     filter). The gateway attaches it as a receiver on the filter with a
//     durable source (terminus durability 2, expiry never, capability
//     `global`) named `mqtt:{client id}:{filter}`; the broker creates the
//     subscription with the filter on first attach, journals it with the
//     filter, and keeps messages in it while nobody is attached — like
//     any queue: durable (QoS ≥ 1) messages journaled, all of them
//     counted against the broker's memory limit and paged beyond it.
//     QoS 0 messages for an offline session are kept in memory only and
//     lost on a restart. UNSUBSCRIBE and the end of the session delete
//     the subscription with its messages (SessionStore.DropSubscription;
//     UNSUBSCRIBE's closing detach already does, as for a JMS
//     unsubscribe). The broker reserves names starting with `mqtt:` to
//     connections whose transport.Options.Gateway is "mqtt", which the
//     Backend's connections must be, so no other client can attach to a
//     session's subscription or delete it.
//   - Records (SessionStore; format in session.go): the session (space,
//     client id, version, expiry, time of disconnection, subscriptions
//     with QoS and options); each QoS 2 packet identifier received and
//     accepted, written before PUBREC and deleted before PUBCOMP, so a
//     resent PUBLISH is not forwarded again across a reconnect or restart
//     [MQTT-4.3.3-10]; each QoS 1/2 message sent to the client and not
//     yet acknowledged. Such a message is written to the store while the
//     PUBLISH goes out (records queued while a write is in progress go
//     together in the next one, SessionStore.PutMany: one fsync per
//     batch), and its broker delivery accepted once the record is
//     durable: from then on the session owns it, and on reconnect it is
//     resent with DUP and its packet identifier, or PUBREL is resent
//     once PUBREC had come (written before PUBREL) [MQTT-4.4.0-1]. A
//     failed write leaves the delivery unaccepted, with the broker.
//   - CONNECT: clean start discards an existing session, its
//     subscriptions and messages [MQTT-3.1.2-4]; otherwise an existing
//     session is resumed with session present 1 [MQTT-3.2.2-2]: its
//     subscriptions are attached again before the first packet of the
//     client is read, and its unacknowledged messages resent ahead of
//     new ones, within the client's receive maximum. A new
//     session says session present 0 [MQTT-3.2.2-3].
//   - Takeover keeps the session: the new connection waits for the old
//     one to end (up to Options.ConnectTimeout) and resumes it
//     [MQTT-3.1.4-3].
//   - Expiry: measured from the disconnection (a session that was
//     connected when the server stopped counts from the restart); a v5
//     DISCONNECT may change it, 0 ends the session at once, and a value
//     after 0 at CONNECT is a protocol error [MQTT-3.14.2-2]. A v5
//     session with expiry 0 that resumed a stored one ends when its
//     connection does. Expired sessions lose their subscriptions,
//     messages and records; LoadSessions deletes those that expired while
//     the server was down.
//   - Limits: Options.MaxSessionsPerSpace persistent sessions per address
//     space (default 10,000); a CONNECT that would create one more gets
//     v5 0x97 Quota exceeded / 3.1.1 0x03 Server unavailable.
//
// The sessions table (sessions.mu) guards the session map and each
// session's owner, disconnection time and timer; a session's
// subscriptions and packet-identifier state belong to the connection that
// owns it (to the table while offline). sessions.mu and conn.mu are never
// held together.
//
// # Mapping (SPEC §5)
//
//	MQTT                         AMQP
//	payload                      one data section (from AMQP: all data sections
//	                             concatenated, or a string/binary amqp-value)
//	topic name                   properties.to (from AMQP: to, else subject, else
//	                             the subscription's filter without wildcards)
//	QoS ≥ 1                      header.durable = true; x-opt-mqtt-qos annotation
//	RETAIN flag                  message annotation x-opt-retain = true (the
//	                             broker keeps the message as the retained one
//	                             of its topic name; empty payload clears). On
//	                             a multicast address, which keeps nothing, the
//	                             router refuses it (amqp:not-implemented):
//	                             PUBACK/PUBREC 0x83 with a Reason String, not
//	                             0x9A, which is no PUBACK/PUBREC code
//	                             [MQTT-3.4.2-1] and CONNACK's Retain Available
//	                             is 1 for topics; QoS 0: dropped; 3.1.1: the
//	                             connection closes [MQTT-3.3.5-2 (3.1.1)]
//	RETAIN on delivery           1 for retained messages delivered on
//	                             subscribe (annotation x-opt-retained)
//	                             [MQTT-3.3.1-8]; else 0 [MQTT-3.3.1-12], or
//	                             x-opt-retain with Retain As Published
//	                             [MQTT-3.3.1-13]
//	content type (v5)            properties.content-type
//	response topic (v5)          properties.reply-to
//	correlation data (v5)        properties.correlation-id (binary; string and
//	                             other ids from AMQP are sent as bytes)
//	message expiry interval (v5) header.ttl (seconds ↔ milliseconds, rounded up)
//	user properties (v5)         application-properties (a repeated name keeps
//	                             its last value; values from AMQP formatted as text)
//	payload format indicator 1   annotation x-opt-mqtt-payload-format = 1, payload
//	(v5, UTF-8)                  still a data section; from AMQP also a string
//	                             amqp-value. Never set on a payload that is not
//	                             UTF-8 [MQTT-3.3.2-4]; a PUBLISH marked UTF-8 that
//	                             is not gets PUBACK/PUBREC 0x99 (QoS 0: dropped),
//	                             a will, CONNACK 0x99
//
// A will is mapped like a PUBLISH with its will properties.
//
// # CONNECT and connection rules
//
//   - The first packet must be CONNECT [MQTT-3.1.0-1], within
//     Options.ConnectTimeout; a second CONNECT is a protocol error
//     [MQTT-3.1.0-2]. A CONNECT that does not decode is answered with a
//     CONNACK carrying its reason code (3.1.1: the return code, when one
//     exists [MQTT-3.1.2-2]), or the connection is closed [MQTT-4.8.0-1].
//   - Client identifier: a v5 client without one gets an assigned one in
//     CONNACK [MQTT-3.1.3-6]; a 3.1.1 client without one and clean
//     session 0 gets return code 0x02 [MQTT-3.1.3-8].
//   - A refused AMQP connection (authentication) answers 0x86 Bad user
//     name or password when a username was given, else 0x87 Not authorized
//     (3.1.1: 0x04 / 0x05); one refused by a connection limit of the
//     address space (amqp:resource-limit-exceeded) 0x97 Quota exceeded
//     (3.1.1: 0x03 Server unavailable).
//   - Session takeover: a new connection with the same client identifier
//     (in the same address space) closes the old one, v5 with DISCONNECT
//     0x8E [MQTT-3.1.4-3]; the old one's will is published.
//   - Expiring credentials (a token; Login's Suspension has an Expires
//     method, a UserBackend an ExpiresOf): the connection ends at their
//     expiry, v5 with DISCONNECT 0x87 and a reason string; the loop's read
//     deadline is the earlier of that and the keep-alive's, so a parked
//     connection wakes for it, and the router closing the AMQP connection
//     for the same reason only makes the loop's read end at once. A
//     suspended client's claim no longer resumes then, so its will is not
//     published. The separate `enmasse mqtt-gateway` process cannot tell
//     the expiry, but the router's close of a client's AMQP connection
//     with amqp:unauthorized-access gives the client DISCONNECT 0x87 all
//     the same (watchAMQP; 0x97 for amqp:resource-limit-exceeded, else
//     0x80); a client whose connection is released learns it at its next
//     PUBLISH or SUBSCRIBE, when the new login fails.
//   - Keep-alive: a connection silent for 1.5 × keep-alive is closed
//     [MQTT-3.1.2-24] (v5 with DISCONNECT 0x8D), and its will published.
//     Options.MaxKeepAlive caps a v5 client's keep-alive (0, none, counts
//     as above the cap) with Server Keep Alive in CONNACK [MQTT-3.2.2-21];
//     `enmasse serve` sets no cap.
//   - Will: published on every end of the connection except a DISCONNECT
//     with reason 0x00 [MQTT-3.14.4-3] (v5 0x04 keeps it). v5 Will Delay
//     Interval (will.go): the will waits min(delay, session expiry)
//     [MQTT-3.1.3-9] in Server.wills (a timer per client identifier,
//     under Server.mu); a new connection with the same identifier drops
//     it, or publishes it at once when it starts clean (the old session
//     ends); so does a connection that took the identifier over before
//     the old one ended. A delayed will is published over an AMQP
//     connection of its own, authenticated with the client's credentials
//     (kept in memory for it); Shutdown drops pending wills.
//   - Bad input: every decode error (Malformed 0x81, Protocol Error 0x82,
//     Topic Name invalid 0x90 for wildcards in a PUBLISH topic, Packet too
//     large 0x95 beyond Options.MaxPacketSize, ...) closes only that
//     connection, v5 with DISCONNECT carrying the codec's reason code
//     [MQTT-4.13.1-1]. A PUBLISH from a client with a subscription
//     identifier is a protocol error [MQTT-3.3.4-6].
//   - Request Problem Information 0: no reason string or user property
//     on anything but PUBLISH, CONNACK and DISCONNECT [MQTT-3.1.2-29].
//     Request Response Information 1: CONNACK carries Response
//     Information Options.ResponseTopicRoot/<client identifier> ("response"
//     by default; none when the identifier holds `/`, `+` or `#`).
//   - Server-to-client topic aliases (v5.go): a client that announces a
//     Topic Alias Maximum gets aliases 1..min(its maximum, 64) for the
//     first distinct topic names written to it, then the alias alone;
//     aliases are assigned under conn.wmu in wire order and never
//     reassigned [MQTT-3.3.2-11]. (mosquitto_sub 2.0 cannot take them even
//     when told to announce a maximum with -D.)
//   - CONNACK (v5) announces Maximum Packet Size, Topic Alias Maximum 16
//     (client-to-server aliases are resolved [MQTT-3.3.2-9]), Retain
//     Available 1, Shared Subscription Available 1, Subscription
//     Identifiers Available 1, and the Session Expiry Interval when the
//     server grants less than asked (0 without a SessionStore). Messages
//     larger than the client's
//     Maximum Packet Size are dropped (and accepted) [MQTT-3.1.2-25].
//   - Subscription identifiers (v5): each subscription keeps the
//     identifier of its latest SUBSCRIBE (none if that had none). As
//     every subscription is its own link, a message matching several
//     subscriptions of a client is sent once per subscription, each
//     PUBLISH with that subscription's identifier [MQTT-3.3.4-3]
//     [MQTT-3.3.4-5].
//   - Shared subscriptions `$share/{ShareName}/{filter}` (MQTT 5.0 §4.8.2;
//     also accepted from 3.1.1 clients): the receiver is attached to the
//     filter with link name `$share/{ShareName}/{filter}` and the source
//     capabilities `shared` and `global`, so every member in the address
//     space joins one broker shared subscription per (ShareName, filter)
//     and each message goes to one member; a member's unacknowledged
//     messages go to the others when it leaves. No retained messages are
//     sent to them. A bad ShareName [MQTT-4.8.2-1] [MQTT-4.8.2-2] is a
//     malformed SUBSCRIBE in v5 (DISCONNECT 0x8F) and a failure (0x80) in
//     SUBACK for 3.1.1.
//   - No Local (v5): once a connection has a No Local subscription, its
//     publications carry the message annotation x-opt-mqtt-origin = its
//     client identifier; a No Local subscription accepts and drops
//     messages whose origin is its own client identifier
//     [MQTT-3.8.3-3]. Retained publications are always tagged (a No Local
//     subscription made later must not get the client's own retained
//     message); other publications from before the first No Local
//     subscription are not.
//
// # Not implemented yet
//
//   - Persistent sessions are at least once across a crash in two
//     windows: a message stored for the session but not yet accepted on
//     the broker comes twice (once resent with DUP, once as a new
//     message); a QoS 2 publication the broker accepted before its packet
//     identifier was stored is forwarded again when the client resends
//     it. The session's address space is the authenticated user's
//     (`user@space`; UserBackend, else the MQTT username), not a TLS
//     server name. The separate `enmasse
//     mqtt-gateway` process has no SessionStore: its sessions end with
//     their connections (CONNACK says Session Expiry 0).
//   - v5: enhanced authentication (AUTH is a protocol error).
//   - A subscription resubscribed from QoS 0 to QoS 1 or 2 keeps its
//     pre-settled link, so that no message is lost or doubled in the
//     change: MQTT publications then go out at the new QoS with the full
//     PUBACK/PUBREC flow, but an AMQP sender's message at QoS 0 (nothing
//     says how it was sent), and the broker holds none for redelivery
//     (as for any non-persistent subscription, the connection's end loses
//     them; a persistent session records them once sent).
//   - A message from an AMQP sender without properties.to (or subject)
//     reaching a wildcard subscription is given the filter's levels
//     before the first wildcard as topic name.
//   - Per-address publish/subscribe rights beyond what the router
//     enforces on attach. (The `$lwt` service for AMQP clients is the
//     router's, see package router.)
//   - The separate `enmasse mqtt-gateway` process (a Backend dialing the
//     router over TCP, whose connections desire the router's
//     enmasse:mqtt-topics capability instead of calling EnsureTopic)
//     cannot forward TLS client certificates, and has no persistent
//     sessions (they need the server's session store).
package mqtt
