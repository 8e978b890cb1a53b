package frames

import (
	"bytes"
	"testing"

	"github.com/enmasse-go/enmasse/internal/amqp/types"
)

// benchTransfer is a typical first-and-only transfer of a small message.
func benchTransfer() *Transfer {
	return &Transfer{
		Handle: 1, DeliveryID: 1000, HasDeliveryID: true,
		DeliveryTag:   []byte{0, 0, 0, 0, 0, 0, 0x03, 0xe8},
		MessageFormat: 0, HasMessageFormat: true,
		Payload: cat(bs(0x00, 0x53, 0x75, 0xa0, 95), bytes.Repeat([]byte{'x'}, 95)), // 100-byte data section
	}
}

var benchFlow = &Flow{
	NextIncomingID: 1000, HasNextIncomingID: true, IncomingWindow: 5000, NextOutgoingID: 7, OutgoingWindow: 5000,
	Handle: 1, HasHandle: true, DeliveryCount: 1000, HasDeliveryCount: true, LinkCredit: 500, HasLinkCredit: true,
}

var benchDisposition = &Disposition{Role: RoleReceiver, First: 1000, Last: 1099, HasLast: true, Settled: true, State: Accepted{}}

// BenchmarkFrameParse is the receive hot path: find a transfer frame in the
// read buffer and decode it into a reused Transfer.
func BenchmarkFrameParse(b *testing.B) {
	frame := AppendFrame(nil, TypeAMQP, 0, benchTransfer())
	var tr Transfer
	b.ReportAllocs()
	b.SetBytes(int64(len(frame)))
	for b.Loop() {
		f, n, _, err := ParseFrame(frame, maxFrame64K)
		if err != nil || n != len(frame) {
			b.Fatal(n, err)
		}
		if err := DecodeTransfer(f.Body, &tr); err != nil {
			b.Fatal(err)
		}
	}
	if len(tr.Payload) != 100 {
		b.Fatal(tr.String())
	}
}

// BenchmarkTransferEncode is the send hot path: a transfer and its payload
// written into a reused buffer.
func BenchmarkTransferEncode(b *testing.B) {
	tr := benchTransfer()
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	b.SetBytes(int64(len(AppendFrame(nil, TypeAMQP, 0, tr))))
	for b.Loop() {
		tr.DeliveryID++
		var start int
		buf, start = BeginFrame(buf[:0])
		buf = tr.AppendPerformative(buf)
		buf = append(buf, tr.Payload...)
		buf = EndFrame(buf, start, TypeAMQP, 0)
	}
}

// BenchmarkFlowEncodeDecode encodes a link flow into a reused buffer and
// decodes it: through Decode (which returns a new *Flow), and into a reused
// Flow (the codec alone).
func BenchmarkFlowEncodeDecode(b *testing.B) {
	buf := make([]byte, 0, 128)
	size := int64(len(AppendFrame(nil, TypeAMQP, 0, benchFlow)))
	b.Run("Decode", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(size)
		for b.Loop() {
			buf = AppendFrame(buf[:0], TypeAMQP, 0, benchFlow)
			f, _, _, _ := ParseFrame(buf, maxFrame64K)
			v, err := Decode(f.Type, f.Body)
			if err != nil || v.(*Flow).LinkCredit != 500 {
				b.Fatal(v, err)
			}
		}
	})
	b.Run("reused", func(b *testing.B) {
		var fl Flow
		var d types.Decoder
		b.ReportAllocs()
		b.SetBytes(size)
		for b.Loop() {
			buf = AppendFrame(buf[:0], TypeAMQP, 0, benchFlow)
			f, _, _, _ := ParseFrame(buf, maxFrame64K)
			d.Reset(f.Body)
			if _, _, err := d.ReadDescriptor(); err != nil {
				b.Fatal(err)
			}
			if err := fl.unmarshal(&d); err != nil || fl.LinkCredit != 500 {
				b.Fatal(fl.String(), err)
			}
		}
	})
}

// BenchmarkDispositionDecode decodes a settled, accepted range.
func BenchmarkDispositionDecode(b *testing.B) {
	body := benchDisposition.AppendTo(nil)
	b.Run("Decode", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			v, err := Decode(TypeAMQP, body)
			if err != nil || v.(*Disposition).Last != 1099 {
				b.Fatal(v, err)
			}
		}
	})
	b.Run("reused", func(b *testing.B) {
		var disp Disposition
		var d types.Decoder
		b.ReportAllocs()
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			d.Reset(body)
			if _, _, err := d.ReadDescriptor(); err != nil {
				b.Fatal(err)
			}
			if err := disp.unmarshal(&d); err != nil || disp.Last != 1099 {
				b.Fatal(disp.String(), err)
			}
		}
	})
}
