// Package types encodes and decodes the AMQP 1.0 type system (AMQP 1.0
// Part 1, "Types"): every primitive type, described types and the compound
// types list, map and array, including arrays of described types.
//
// # Encoding
//
// Encoders are append-style functions (AppendUint, AppendString, …) that add
// one encoded value to a byte slice and return it, so a caller can reuse one
// buffer for a whole frame without allocating. Every encoder picks the
// smallest encoding the specification allows (AMQP 1.0 §1.6): uint0 and
// smalluint for uint, list0/list8 for short lists, str8 for short strings and
// so on. Lists and maps are written with BeginList/EndList (BeginMap/EndMap):
// the header is reserved at full width and shrunk to the 8-bit form when the
// body fits, so callers never compute sizes in advance.
//
// # Decoding
//
// A Decoder reads values from a byte slice in place. Typed readers
// (ReadUint, ReadSymbol, …) accept every valid encoding of their type and, for
// integers, the narrower types of the same signedness (a peer that sends a
// handle as a ubyte is understood). Binary and string readers that end in
// "Bytes" alias the input buffer and never allocate. ReadAny decodes any value
// into the Go representation listed below.
//
// Decoding never trusts a size or count from the wire: every size is checked
// against the bytes actually present before anything is allocated, element
// counts are bounded by the bytes that could hold them, compound values nest at
// most MaxDepth levels, a map must have an even number of entries and strings
// must be valid UTF-8 (symbols ASCII). Every failure is an error that matches
// ErrDecode with errors.Is, which the transport maps to amqp:decode-error.
//
// # Go representation
//
//	null        nil
//	boolean     bool
//	ubyte…ulong uint8, uint16, uint32, uint64
//	byte…long   int8, int16, int32, int64
//	float       float32
//	double      float64
//	decimal*    Decimal32, Decimal64, Decimal128 (opaque IEEE 754 bytes)
//	char        Char
//	timestamp   Timestamp (milliseconds since the Unix epoch)
//	uuid        UUID
//	binary      []byte
//	string      string
//	symbol      Symbol
//	list        []any
//	map         Map (ordered key/value pairs; keys may be any type)
//	array       Array
//	described   Described
//
// The package imports only the standard library.
package types
