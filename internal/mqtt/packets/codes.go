package packets

import (
	"strconv"
)

// ReasonCode is an MQTT 5.0 reason code (MQTT 5.0 §2.4). It implements
// error, so a decode failure can be turned into the code to send back with
// errors.As:
//
//	var rc packets.ReasonCode
//	if errors.As(err, &rc) { /* send CONNACK or DISCONNECT with rc */ }
//
// Codes below 0x80 report success; codes from 0x80 up report failure.
// The same byte value can have a different name in different packets
// (0x00 is Success, Normal disconnection and Granted QoS 0); String gives
// the first name of the spec's table.
//
// MQTT 3.1.1 has no reason codes. Its CONNACK return codes are mapped to and
// from reason codes by V3ConnackCode and ReasonFromV3Connack; its SUBACK
// return codes 0x00, 0x01, 0x02 and 0x80 have the same values as the
// corresponding reason codes.
type ReasonCode byte

// Reason codes, MQTT 5.0 §2.4 Table 2-6.
const (
	ReasonSuccess                             ReasonCode = 0x00
	ReasonNormalDisconnection                 ReasonCode = 0x00
	ReasonGrantedQoS0                         ReasonCode = 0x00
	ReasonGrantedQoS1                         ReasonCode = 0x01
	ReasonGrantedQoS2                         ReasonCode = 0x02
	ReasonDisconnectWithWill                  ReasonCode = 0x04
	ReasonNoMatchingSubscribers               ReasonCode = 0x10
	ReasonNoSubscriptionExisted               ReasonCode = 0x11
	ReasonContinueAuthentication              ReasonCode = 0x18
	ReasonReauthenticate                      ReasonCode = 0x19
	ReasonUnspecifiedError                    ReasonCode = 0x80
	ReasonMalformedPacket                     ReasonCode = 0x81
	ReasonProtocolError                       ReasonCode = 0x82
	ReasonImplementationSpecificError         ReasonCode = 0x83
	ReasonUnsupportedProtocolVersion          ReasonCode = 0x84
	ReasonClientIdentifierNotValid            ReasonCode = 0x85
	ReasonBadUserNameOrPassword               ReasonCode = 0x86
	ReasonNotAuthorized                       ReasonCode = 0x87
	ReasonServerUnavailable                   ReasonCode = 0x88
	ReasonServerBusy                          ReasonCode = 0x89
	ReasonBanned                              ReasonCode = 0x8A
	ReasonServerShuttingDown                  ReasonCode = 0x8B
	ReasonBadAuthenticationMethod             ReasonCode = 0x8C
	ReasonKeepAliveTimeout                    ReasonCode = 0x8D
	ReasonSessionTakenOver                    ReasonCode = 0x8E
	ReasonTopicFilterInvalid                  ReasonCode = 0x8F
	ReasonTopicNameInvalid                    ReasonCode = 0x90
	ReasonPacketIdentifierInUse               ReasonCode = 0x91
	ReasonPacketIdentifierNotFound            ReasonCode = 0x92
	ReasonReceiveMaximumExceeded              ReasonCode = 0x93
	ReasonTopicAliasInvalid                   ReasonCode = 0x94
	ReasonPacketTooLarge                      ReasonCode = 0x95
	ReasonMessageRateTooHigh                  ReasonCode = 0x96
	ReasonQuotaExceeded                       ReasonCode = 0x97
	ReasonAdministrativeAction                ReasonCode = 0x98
	ReasonPayloadFormatInvalid                ReasonCode = 0x99
	ReasonRetainNotSupported                  ReasonCode = 0x9A
	ReasonQoSNotSupported                     ReasonCode = 0x9B
	ReasonUseAnotherServer                    ReasonCode = 0x9C
	ReasonServerMoved                         ReasonCode = 0x9D
	ReasonSharedSubscriptionsNotSupported     ReasonCode = 0x9E
	ReasonConnectionRateExceeded              ReasonCode = 0x9F
	ReasonMaximumConnectTime                  ReasonCode = 0xA0
	ReasonSubscriptionIdentifiersNotSupported ReasonCode = 0xA1
	ReasonWildcardSubscriptionsNotSupported   ReasonCode = 0xA2
)

var reasonNames = map[ReasonCode]string{
	0x00: "Success",
	0x01: "Granted QoS 1",
	0x02: "Granted QoS 2",
	0x04: "Disconnect with Will Message",
	0x10: "No matching subscribers",
	0x11: "No subscription existed",
	0x18: "Continue authentication",
	0x19: "Re-authenticate",
	0x80: "Unspecified error",
	0x81: "Malformed Packet",
	0x82: "Protocol Error",
	0x83: "Implementation specific error",
	0x84: "Unsupported Protocol Version",
	0x85: "Client Identifier not valid",
	0x86: "Bad User Name or Password",
	0x87: "Not authorized",
	0x88: "Server unavailable",
	0x89: "Server busy",
	0x8A: "Banned",
	0x8B: "Server shutting down",
	0x8C: "Bad authentication method",
	0x8D: "Keep Alive timeout",
	0x8E: "Session taken over",
	0x8F: "Topic Filter invalid",
	0x90: "Topic Name invalid",
	0x91: "Packet Identifier in use",
	0x92: "Packet Identifier not found",
	0x93: "Receive Maximum exceeded",
	0x94: "Topic Alias invalid",
	0x95: "Packet too large",
	0x96: "Message rate too high",
	0x97: "Quota exceeded",
	0x98: "Administrative action",
	0x99: "Payload format invalid",
	0x9A: "Retain not supported",
	0x9B: "QoS not supported",
	0x9C: "Use another server",
	0x9D: "Server moved",
	0x9E: "Shared Subscriptions not supported",
	0x9F: "Connection rate exceeded",
	0xA0: "Maximum connect time",
	0xA1: "Subscription Identifiers not supported",
	0xA2: "Wildcard Subscriptions not supported",
}

// String returns the spec's name of the code, or "reason code 0xNN" for a
// value the spec does not define.
func (c ReasonCode) String() string {
	if s, ok := reasonNames[c]; ok {
		return s
	}
	return "reason code 0x" + hex2(byte(c))
}

// Error returns "mqtt: <name> (0xNN)".
func (c ReasonCode) Error() string {
	return "mqtt: " + c.String() + " (0x" + hex2(byte(c)) + ")"
}

// IsError reports whether the code reports a failure (0x80 and above).
func (c ReasonCode) IsError() bool { return c >= 0x80 }

// Defined reports whether the spec defines the code.
func (c ReasonCode) Defined() bool {
	_, ok := reasonNames[c]
	return ok
}

func hex2(b byte) string {
	const digits = "0123456789ABCDEF"
	return string([]byte{digits[b>>4], digits[b&0x0F]})
}

// MQTT 3.1.1 CONNACK return codes (MQTT 3.1.1 §3.2.2.3, Table 3.1).
const (
	V3ConnectionAccepted          byte = 0x00
	V3UnacceptableProtocolVersion byte = 0x01
	V3IdentifierRejected          byte = 0x02
	V3ServerUnavailable           byte = 0x03
	V3BadUserNameOrPassword       byte = 0x04
	V3NotAuthorized               byte = 0x05
)

// V3ConnackCode maps a reason code to the MQTT 3.1.1 CONNACK return code
// that carries the same meaning. ok is false for codes that a 3.1.1
// CONNACK cannot express, such as Malformed Packet or Protocol Error; for
// those the 3.1.1 server closes the connection without a CONNACK
// [MQTT-4.8.0-1].
//
//	Success                                        → 0x00 Connection Accepted
//	Unsupported Protocol Version                   → 0x01 unacceptable protocol version
//	Client Identifier not valid                    → 0x02 identifier rejected
//	Server unavailable, Server busy, Server
//	shutting down, Use another server, Server
//	moved, Connection rate exceeded, Quota
//	exceeded, Unspecified error,
//	Implementation specific error                  → 0x03 Server unavailable
//	Bad User Name or Password                      → 0x04 bad user name or password
//	Not authorized, Banned, Bad authentication
//	method                                         → 0x05 not authorized
func (c ReasonCode) V3ConnackCode() (code byte, ok bool) {
	switch c {
	case ReasonSuccess:
		return V3ConnectionAccepted, true
	case ReasonUnsupportedProtocolVersion:
		return V3UnacceptableProtocolVersion, true
	case ReasonClientIdentifierNotValid:
		return V3IdentifierRejected, true
	case ReasonServerUnavailable, ReasonServerBusy, ReasonServerShuttingDown, ReasonUseAnotherServer,
		ReasonServerMoved, ReasonConnectionRateExceeded, ReasonQuotaExceeded, ReasonUnspecifiedError,
		ReasonImplementationSpecificError:
		return V3ServerUnavailable, true
	case ReasonBadUserNameOrPassword:
		return V3BadUserNameOrPassword, true
	case ReasonNotAuthorized, ReasonBanned, ReasonBadAuthenticationMethod:
		return V3NotAuthorized, true
	}
	return 0, false
}

// ReasonFromV3Connack maps an MQTT 3.1.1 CONNACK return code to the reason
// code with the same meaning. ok is false for the reserved values 6-255.
func ReasonFromV3Connack(code byte) (rc ReasonCode, ok bool) {
	switch code {
	case V3ConnectionAccepted:
		return ReasonSuccess, true
	case V3UnacceptableProtocolVersion:
		return ReasonUnsupportedProtocolVersion, true
	case V3IdentifierRejected:
		return ReasonClientIdentifierNotValid, true
	case V3ServerUnavailable:
		return ReasonServerUnavailable, true
	case V3BadUserNameOrPassword:
		return ReasonBadUserNameOrPassword, true
	case V3NotAuthorized:
		return ReasonNotAuthorized, true
	}
	return 0, false
}

// Reason codes each packet may carry (MQTT 5.0 §3.x.2.1 tables). A received
// code outside its packet's list is a Protocol Error: the packet parses, but
// carries a value the protocol does not allow (MQTT 5.0 §1.2 "Protocol
// Error"), and Append refuses to send one.
var (
	connackReasons = codeSet(0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8A,
		0x8C, 0x90, 0x95, 0x97, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9F)
	pubackReasons     = codeSet(0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99) // PUBACK and PUBREC
	pubrelReasons     = codeSet(0x00, 0x92)                                           // PUBREL and PUBCOMP
	subackReasons     = codeSet(0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8F, 0x91, 0x97, 0x9E, 0xA1, 0xA2)
	subackV3Reasons   = codeSet(0x00, 0x01, 0x02, 0x80) // [MQTT-3.9.3-2]
	unsubackReasons   = codeSet(0x00, 0x11, 0x80, 0x83, 0x87, 0x8F, 0x91)
	disconnectReasons = codeSet(0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8B, 0x8D, 0x8E, 0x8F,
		0x90, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9E, 0x9F, 0xA0, 0xA1, 0xA2)
	authReasons = codeSet(0x00, 0x18, 0x19)
)

// reasonSet is a 256-bit membership set of reason codes.
type reasonSet [4]uint64

func codeSet(codes ...byte) reasonSet {
	var s reasonSet
	for _, c := range codes {
		s[c>>6] |= 1 << (c & 63)
	}
	return s
}

func (s *reasonSet) has(c ReasonCode) bool { return s[c>>6]&(1<<(c&63)) != 0 }

// Error is the error returned by decoding and encoding. Code is the reason
// code a server or client sends when it rejects the packet (MQTT 5.0 §4.13;
// for 3.1.1 peers every decode error means closing the connection
// [MQTT-4.8.0-1], and for CONNECT see ReasonCode.V3ConnackCode).
//
// Error unwraps to its Code, so both errors.Is(err, ReasonMalformedPacket)
// and errors.As(err, &rc) with a ReasonCode work.
type Error struct {
	Code   ReasonCode // the reason code that reports the failure
	Packet PacketType // the packet being decoded or encoded, 0 if not known
	Rule   string     // conformance statement, like "MQTT-3.3.1-4"; empty if none
	Detail string     // what was wrong
}

func (e *Error) Error() string {
	s := "mqtt"
	if e.Packet != 0 {
		s += " " + e.Packet.String()
	}
	s += ": " + e.Detail
	if e.Rule != "" {
		s += " [" + e.Rule + "]"
	}
	return s + ": " + e.Code.String() + " (0x" + hex2(byte(e.Code)) + ")"
}

// Unwrap returns the reason code.
func (e *Error) Unwrap() error { return e.Code }

func errorf(code ReasonCode, rule, detail string) *Error {
	return &Error{Code: code, Rule: rule, Detail: detail}
}

func malformed(rule, detail string) *Error { return errorf(ReasonMalformedPacket, rule, detail) }

func protocolErr(rule, detail string) *Error { return errorf(ReasonProtocolError, rule, detail) }

// inPacket sets the packet type of err if it is an *Error without one.
func inPacket(err error, t PacketType) error {
	if e, ok := err.(*Error); ok && e.Packet == 0 {
		e.Packet = t
	}
	return err
}

func itoa(n int) string { return strconv.Itoa(n) }
