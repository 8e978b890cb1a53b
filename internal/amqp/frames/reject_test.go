package frames

import (
	"bytes"
	"errors"
	"testing"

	"github.com/enmasse-go/enmasse/internal/amqp/types"
)

// perf builds a described list8 with descriptor code and the given encoded
// fields, computing size and count. Used where the list header is not the
// point of the test.
func perf(code byte, fields ...[]byte) []byte {
	l := cat(fields...)
	if len(l)+1 > 255 {
		panic("perf: fields too long for a list8")
	}
	return cat(bs(0x00, 0x53, code, 0xc0, byte(len(l)+1), byte(len(fields))), l)
}

// nulls returns n null fields.
func nulls(n int) []byte { return bytes.Repeat([]byte{0x40}, n) }

func TestDecodeRejects(t *testing.T) {
	const amqp, sasl = TypeAMQP, TypeSASL
	name := bs(0xa1, 0x01, 'l')  // a link name
	openBody := perf(0x10, name) // a valid open
	tag33 := cat(bs(0xa0, 33), make([]byte, 33))
	tests := map[string]struct {
		typ  byte
		body []byte
	}{
		// Missing mandatory fields (absent or null).
		"open without fields":                 {amqp, bs(0x00, 0x53, 0x10, 0x45)},
		"open with null container-id":         {amqp, perf(0x10, nulls(1))},
		"begin without outgoing-window":       {amqp, perf(0x11, nulls(1), bs(0x43), bs(0x43))},
		"begin with null next-outgoing-id":    {amqp, perf(0x11, nulls(1), nulls(1), bs(0x43), bs(0x43))},
		"begin with null incoming-window":     {amqp, perf(0x11, nulls(1), bs(0x43), nulls(1), bs(0x43))},
		"attach without role":                 {amqp, perf(0x12, name, bs(0x43))},
		"attach with null name":               {amqp, perf(0x12, nulls(1), bs(0x43), bs(0x42))},
		"attach with null handle":             {amqp, perf(0x12, name, nulls(1), bs(0x42))},
		"flow without outgoing-window":        {amqp, perf(0x13, nulls(1), bs(0x43), bs(0x43))},
		"flow with null incoming-window":      {amqp, perf(0x13, nulls(1), nulls(1), bs(0x43), bs(0x43))},
		"flow with null next-outgoing-id":     {amqp, perf(0x13, nulls(1), bs(0x43), nulls(1), bs(0x43))},
		"transfer without fields":             {amqp, bs(0x00, 0x53, 0x14, 0x45)},
		"transfer with null handle":           {amqp, perf(0x14, nulls(1), bs(0x43))},
		"disposition without first":           {amqp, perf(0x15, bs(0x41))},
		"disposition with null role":          {amqp, perf(0x15, nulls(1), bs(0x43))},
		"detach without fields":               {amqp, bs(0x00, 0x53, 0x16, 0x45)},
		"detach with null handle":             {amqp, perf(0x16, nulls(1), bs(0x41))},
		"error without condition":             {amqp, perf(0x18, bs(0x00, 0x53, 0x1d, 0x45))},
		"error with null condition":           {amqp, perf(0x17, perf(0x1d, nulls(1), bs(0xa1, 0x01, 'd')))},
		"received without section-offset":     {amqp, perf(0x15, bs(0x41), bs(0x43), nulls(2), perf(0x23, bs(0x43)))},
		"received without fields":             {amqp, perf(0x15, bs(0x41), bs(0x43), nulls(2), bs(0x00, 0x53, 0x23, 0x45))},
		"sasl-mechanisms without fields":      {sasl, bs(0x00, 0x53, 0x40, 0x45)},
		"sasl-mechanisms with null":           {sasl, perf(0x40, nulls(1))},
		"sasl-mechanisms with an empty array": {sasl, perf(0x40, bs(0xe0, 0x02, 0x00, 0xa3))},
		"sasl-init without fields":            {sasl, bs(0x00, 0x53, 0x41, 0x45)},
		"sasl-init with null mechanism":       {sasl, perf(0x41, nulls(1), bs(0xa0, 0x00))},
		"sasl-challenge without fields":       {sasl, bs(0x00, 0x53, 0x42, 0x45)},
		"sasl-challenge with null":            {sasl, perf(0x42, nulls(1))},
		"sasl-response without fields":        {sasl, bs(0x00, 0x53, 0x43, 0x45)},
		"sasl-response with null":             {sasl, perf(0x43, nulls(1))},
		"sasl-outcome without fields":         {sasl, bs(0x00, 0x53, 0x44, 0x45)},

		// Fields of the wrong type.
		"open container-id is a uint":          {amqp, perf(0x10, bs(0x52, 0x01))},
		"open container-id is a symbol":        {amqp, perf(0x10, bs(0xa3, 0x01, 'c'))},
		"open max-frame-size is a string":      {amqp, perf(0x10, name, nulls(1), bs(0xa1, 0x02, '1', '0'))},
		"open max-frame-size is a ulong":       {amqp, perf(0x10, name, nulls(1), bs(0x80, 0, 0, 0, 0, 0, 0, 0x02, 0))},
		"open max-frame-size is an int":        {amqp, perf(0x10, name, nulls(1), bs(0x54, 0x01))},
		"open channel-max is a uint":           {amqp, perf(0x10, name, nulls(2), bs(0x70, 0, 0, 1, 0))},
		"open capabilities are strings":        {amqp, perf(0x10, name, nulls(6), bs(0xa1, 0x01, 'x'))},
		"open capabilities array of uint":      {amqp, perf(0x10, name, nulls(6), bs(0xe0, 0x03, 0x01, 0x52, 0x01))},
		"open capability not ASCII":            {amqp, perf(0x10, name, nulls(6), bs(0xa3, 0x01, 0xe9))},
		"open hostname not UTF-8":              {amqp, perf(0x10, name, bs(0xa1, 0x02, 0xc3, 0x28))},
		"begin next-outgoing-id is a string":   {amqp, perf(0x11, nulls(1), bs(0xa1, 0x01, '1'), bs(0x43), bs(0x43))},
		"begin remote-channel is a uint":       {amqp, perf(0x11, bs(0x70, 0, 0, 0, 1), bs(0x43), bs(0x43), bs(0x43))},
		"attach handle is a string":            {amqp, perf(0x12, name, bs(0xa1, 0x01, '0'), bs(0x42))},
		"attach role is a ubyte":               {amqp, perf(0x12, name, bs(0x43), bs(0x50, 0x01))},
		"attach snd-settle-mode is a uint":     {amqp, perf(0x12, name, bs(0x43), bs(0x42), bs(0x52, 0x01))},
		"attach max-message-size is a string":  {amqp, perf(0x12, name, bs(0x43), bs(0x42), nulls(7), bs(0xa1, 0x01, '1'))},
		"attach unsettled is not a map":        {amqp, perf(0x12, name, bs(0x43), bs(0x42), nulls(4), bs(0x45))},
		"flow link-credit is a string":         {amqp, perf(0x13, nulls(1), bs(0x43), bs(0x43), bs(0x43), bs(0x43), bs(0x43), bs(0xa1, 0x01, '1'))},
		"flow drain is a uint":                 {amqp, perf(0x13, nulls(1), bs(0x43), bs(0x43), bs(0x43), nulls(4), bs(0x52, 0x01))},
		"transfer handle is a string":          {amqp, perf(0x14, bs(0xa1, 0x01, '0'))},
		"transfer delivery-tag is a string":    {amqp, perf(0x14, bs(0x43), bs(0x43), bs(0xa1, 0x01, 't'))},
		"transfer settled is a ubyte":          {amqp, perf(0x14, bs(0x43), nulls(3), bs(0x50, 0x01))},
		"disposition first is a string":        {amqp, perf(0x15, bs(0x41), bs(0xa1, 0x01, '0'))},
		"disposition role is a uint":           {amqp, perf(0x15, bs(0x43), bs(0x43))},
		"detach closed is a uint":              {amqp, perf(0x16, bs(0x43), bs(0x52, 0x01))},
		"error condition is a string":          {amqp, perf(0x18, perf(0x1d, bs(0xa1, 0x01, 'c')))},
		"sasl-init mechanism is a string":      {sasl, perf(0x41, cat(bs(0xa1, 0x05), str("PLAIN")))},
		"sasl-outcome code is a uint":          {sasl, perf(0x44, bs(0x52, 0x00))},
		"sasl-challenge is a string":           {sasl, perf(0x42, bs(0xa1, 0x01, 'c'))},
		"source address is a uint":             {amqp, perf(0x12, name, bs(0x43), bs(0x41), nulls(2), perf(0x28, bs(0x43)))},
		"source durable is a string":           {amqp, perf(0x12, name, bs(0x43), bs(0x41), nulls(2), perf(0x28, nulls(1), bs(0xa1, 0x01, '1')))},
		"source expiry-policy is a string":     {amqp, perf(0x12, name, bs(0x43), bs(0x41), nulls(2), perf(0x28, nulls(2), bs(0xa1, 0x01, 'x')))},
		"source is not described":              {amqp, perf(0x12, name, bs(0x43), bs(0x41), nulls(2), bs(0x45))},
		"target is a string":                   {amqp, perf(0x12, name, bs(0x43), bs(0x41), nulls(3), bs(0xa1, 0x01, 't'))},
		"modified delivery-failed is a string": {amqp, perf(0x15, bs(0x41), bs(0x43), nulls(2), perf(0x27, bs(0xa1, 0x01, 't')))},

		// Values out of range.
		"delivery-tag of 33 bytes":      {amqp, perf(0x14, bs(0x43), bs(0x43), tag33)},
		"snd-settle-mode 3":             {amqp, perf(0x12, name, bs(0x43), bs(0x42), bs(0x50, 0x03))},
		"attach rcv-settle-mode 2":      {amqp, perf(0x12, name, bs(0x43), bs(0x42), nulls(1), bs(0x50, 0x02))},
		"transfer rcv-settle-mode 2":    {amqp, perf(0x14, bs(0x43), nulls(5), bs(0x50, 0x02))},
		"boolean byte 2":                {amqp, perf(0x16, bs(0x43), bs(0x56, 0x02))},
		"filter is a list, not a map":   {amqp, perf(0x12, name, bs(0x43), bs(0x41), nulls(2), perf(0x28, nulls(7), bs(0x45)))},
		"filter is a string":            {amqp, perf(0x12, name, bs(0x43), bs(0x41), nulls(2), perf(0x28, nulls(7), bs(0xa1, 0x00)))},
		"properties key is a string":    {amqp, perf(0x10, name, nulls(8), bs(0xc1, 0x05, 0x02, 0xa1, 0x01, 'k', 0x41))},
		"properties key is a ulong":     {amqp, perf(0x10, name, nulls(8), bs(0xc1, 0x04, 0x02, 0x53, 0x01, 0x41))},
		"properties is a list":          {amqp, perf(0x10, name, nulls(8), bs(0x45))},
		"dynamic-node-properties key":   {amqp, perf(0x12, name, bs(0x43), bs(0x41), nulls(2), perf(0x28, nulls(5), bs(0xc1, 0x03, 0x02, 0x43, 0x41)))},
		"modified annotations list":     {amqp, perf(0x15, bs(0x41), bs(0x43), nulls(2), perf(0x27, nulls(2), bs(0x45)))},
		"odd number of map elements":    {amqp, perf(0x10, name, nulls(8), bs(0xc1, 0x04, 0x01, 0xa3, 0x01, 'k'))},
		"error with another descriptor": {amqp, perf(0x16, bs(0x43), bs(0x41), bs(0x00, 0x53, 0x24, 0x45))},
		"source with target descriptor": {amqp, perf(0x12, name, bs(0x43), bs(0x41), nulls(2), bs(0x00, 0x53, 0x29, 0x45))},
		"target with source descriptor": {amqp, perf(0x12, name, bs(0x43), bs(0x41), nulls(3), bs(0x00, 0x53, 0x28, 0x45))},
		"unknown delivery state":        {amqp, perf(0x15, bs(0x41), bs(0x43), nulls(2), bs(0x00, 0x53, 0x2a, 0x45))},
		"error as a delivery state":     {amqp, perf(0x15, bs(0x41), bs(0x43), nulls(2), bs(0x00, 0x53, 0x1d, 0x45))},
		"delivery state not a list":     {amqp, perf(0x15, bs(0x41), bs(0x43), nulls(2), bs(0x00, 0x53, 0x24, 0x40))},

		// Not a known frame body.
		"empty body":                    {amqp, bs()},
		"not described":                 {amqp, bs(0x45)},
		"descriptor without value":      {amqp, bs(0x00, 0x53, 0x10)},
		"unknown descriptor 0x19":       {amqp, bs(0x00, 0x53, 0x19, 0x45)},
		"unknown descriptor 0x0f":       {amqp, bs(0x00, 0x53, 0x0f, 0x45)},
		"error descriptor as a body":    {amqp, perf(0x1d, bs(0xa3, 0x01, 'c'))},
		"ulong descriptor 2^32+0x10":    {amqp, bs(0x00, 0x80, 0, 0, 0, 1, 0, 0, 0, 0x10, 0x45)},
		"descriptor is a string":        {amqp, bs(0x00, 0xa1, 0x01, 'x', 0x45)},
		"sasl-init in an AMQP frame":    {amqp, perf(0x41, cat(bs(0xa3, 0x05), str("PLAIN")))},
		"sasl-outcome in an AMQP frame": {amqp, perf(0x44, bs(0x50, 0x00))},
		"open in a SASL frame":          {sasl, openBody},
		"transfer in a SASL frame":      {sasl, perf(0x14, bs(0x43))},
		"performative not a list":       {amqp, bs(0x00, 0x53, 0x18, 0x40)},
		"performative is a map":         {amqp, bs(0x00, 0x53, 0x18, 0xc1, 0x01, 0x00)},

		// Structure.
		"trailing bytes after close":        {amqp, bs(0x00, 0x53, 0x18, 0x45, 0x40)},
		"trailing bytes after open":         {amqp, cat(openBody, bs(0x00))},
		"trailing bytes after sasl-outcome": {sasl, cat(perf(0x44, bs(0x50, 0x00)), bs(0x00, 0x53, 0x75))},
		"list count exceeds size":           {amqp, bs(0x00, 0x53, 0x18, 0xc0, 0x01, 0x05)},
		"list size beyond the body":         {amqp, bs(0x00, 0x53, 0x10, 0xc0, 0x10, 0x01, 0xa1, 0x01, 'c')},
		"list size shorter than fields":     {amqp, bs(0x00, 0x53, 0x10, 0xc0, 0x02, 0x01, 0xa1, 0x01, 'c')},
		"truncated field":                   {amqp, openBody[:len(openBody)-1]},
		"transfer list overruns payload":    {amqp, bs(0x00, 0x53, 0x14, 0xc0, 0x02, 0x01, 0x70, 0x00, 0x00, 0x00, 0x01)},
		// A list must hold as many elements as its count says, also when
		// it ends the body (where the decoder's input runs out).
		"list count exceeds its elements":     {amqp, bs(0x00, 0x53, 0x10, 0xc0, 0x04, 0x03, 0xa1, 0x01, 'c')},
		"transfer count exceeds its elements": {amqp, bs(0x00, 0x53, 0x14, 0xc0, 0x04, 0x03, 0x52, 0x01, 0x40)},
		"source count exceeds its elements":   {amqp, cat(bs(0x00, 0x53, 0x12, 0xc0, 0x13, 0x06), name, bs(0x43, 0x41, 0x40, 0x40), bs(0x00, 0x53, 0x28, 0xc0, 0x04, 0x03, 0xa1, 0x01, 's'))},
		"error count exceeds its elements":    {amqp, bs(0x00, 0x53, 0x18, 0xc0, 0x0a, 0x01, 0x00, 0x53, 0x1d, 0xc0, 0x04, 0x03, 0xa3, 0x01, 'c')},
		"list32 size 4 GiB":                   {amqp, bs(0x00, 0x53, 0x18, 0xd0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0)},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			v, err := Decode(tc.typ, tc.body)
			if !errors.Is(err, types.ErrDecode) {
				t.Fatalf("Decode(%d, % x) = %v, %v; want a decode error", tc.typ, tc.body, v, err)
			}
			if v != nil {
				t.Fatalf("Decode returned %v with the error", v)
			}
			if code, _ := PeekDescriptor(tc.body); code == CodeTransfer && tc.typ == TypeAMQP {
				var tr Transfer
				if err := DecodeTransfer(tc.body, &tr); !errors.Is(err, types.ErrDecode) {
					t.Fatalf("DecodeTransfer = %v; want a decode error", err)
				}
			}
		})
	}
}

// TestDecodeTransferRejectsOtherBodies: DecodeTransfer only takes transfers.
func TestDecodeTransferRejectsOtherBodies(t *testing.T) {
	for _, body := range [][]byte{
		bs(),
		bs(0x00, 0x53, 0x18, 0x45),
		bs(0x00, 0xa3, 0x01, 'x', 0x45),
		perf(0x15, bs(0x41), bs(0x43)),
	} {
		var tr Transfer
		if err := DecodeTransfer(body, &tr); !errors.Is(err, types.ErrDecode) {
			t.Errorf("DecodeTransfer(% x) = %v", body, err)
		}
	}
}

// TestDecodeAliasing: SASL data is copied, so it stays
// valid when the read buffer is reused; transfer tag and payload alias it,
// as documented.
func TestDecodeAliasing(t *testing.T) {
	body := perf(0x42, cat(bs(0xa0, 0x02), str("ab")))
	v, err := Decode(TypeSASL, body)
	if err != nil {
		t.Fatal(err)
	}
	for i := range body {
		body[i] = 0
	}
	if got := v.(*SASLChallenge).Challenge; string(got) != "ab" {
		t.Fatalf("challenge changed with the buffer: %q", got)
	}

	tb := cat(perf(0x14, bs(0x43), bs(0x43), bs(0xa0, 0x01, 't')), str("payload"))
	var tr Transfer
	if err := DecodeTransfer(tb, &tr); err != nil {
		t.Fatal(err)
	}
	if &tr.Payload[0] != &tb[len(tb)-len("payload")] || &tr.DeliveryTag[0] != &tb[10] {
		t.Fatal("transfer tag and payload should alias the frame buffer")
	}
}

// go-amqp writes Error.Info with string keys; they are read as symbols
// rather than failing the whole connection.
func TestDecodeStringFieldsKeyAsSymbol(t *testing.T) {
	raw := perf(0x18, perf(0x1d, bs(0xa3, 0x01, 'c'), nulls(1), bs(0xc1, 0x05, 0x02, 0xa1, 0x01, 'k', 0x41)))
	body, err := Decode(TypeAMQP, raw)
	if err != nil {
		t.Fatal(err)
	}
	info := body.(*Close).Error.Info
	if v, ok := info.Get(types.Symbol("k")); !ok || v != true {
		t.Fatalf("info %v", info)
	}
}
