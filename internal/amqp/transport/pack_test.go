package transport

import (
	"bytes"
	"fmt"
	"testing"
	"unsafe"

	"github.com/enmasse-go/enmasse/internal/amqp/frames"
)

// TestSendSettledPackedDeliveries: messages sent with SendSettled (by the
// node to the receiver, and half of them by the client's Sender) arrive
// pre-settled, whole and in order on a receiver that packs its
// deliveries, through a session window of four transfers and 512-byte
// frames (so SendSettled queues behind the window and splits messages
// across frames), with empty, small and multi-frame messages mixed; every
// payload stays intact after all of them have arrived.
func TestSendSettledPackedDeliveries(t *testing.T) {
	node := newTestNode()
	node.sendSettled = true
	addr := serveTest(t, Options{Handler: node})
	_, s := dialTest(t, addr, Options{IncomingWindow: 4, MaxFrameSize: 512})
	ctx := ctxT(t)
	settled := frames.SndSettled
	snd, err := s.NewSender(ctx, "q", SenderOptions{SettleMode: &settled})
	if err != nil {
		t.Fatal(err)
	}
	const n = 300
	payload := func(i int) []byte {
		size := i % 120
		if i%50 == 7 {
			size = 1500 // three frames
		}
		b := bytes.Repeat([]byte{byte(i)}, size)
		return append(b, fmt.Sprint(i)...)
	}
	for i := range n {
		var err error
		if i%2 == 0 {
			_, err = snd.Send(ctx, payload(i), SendOptions{})
		} else {
			_, err = snd.SendSettled(ctx, payload(i)) // the node grants 100 credits at a time
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	rcv, err := s.NewReceiver(ctx, "q", ReceiverOptions{Credit: n, PreSettled: true, PackDeliveries: true})
	if err != nil {
		t.Fatal(err)
	}
	var got []*Delivery
	for range n {
		d, err := rcv.Receive(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, remoteSettled := d.RemoteState(); !remoteSettled {
			t.Fatalf("delivery %d not pre-settled", len(got))
		}
		got = append(got, d)
	}
	for i, d := range got {
		if !bytes.Equal(d.Payload(), payload(i)) {
			t.Fatalf("message %d: got %q, want %q", i, d.Payload(), payload(i))
		}
	}
}

// TestPackerBlocks: deliveries and payloads come from one block while the
// read holds more, each payload capped at its length, and a released
// packer starts over.
func TestPackerBlocks(t *testing.T) {
	var p packer
	p.ahead = 3 * (10 + frameOverhead)
	d1, d2 := p.delivery(10), p.delivery(10)
	if len(p.blk) != 2 || d1 == d2 {
		t.Fatalf("block of %d left after two deliveries, want 2 (4 in all)", len(p.blk))
	}
	b1 := p.bytes([]byte("0123456789"))
	b2 := p.bytes([]byte("abc"))
	if string(b1) != "0123456789" || string(b2) != "abc" || cap(b1) != 10 || uintptr(unsafe.Pointer(&b2[0])) != uintptr(unsafe.Pointer(&b1[0]))+10 {
		t.Fatalf("payloads %q %q (cap %d) not cut from one block", b1, b2, cap(b1))
	}
	if e := p.bytes(nil); e == nil || len(e) != 0 {
		t.Fatalf("empty payload %v, want empty and not nil", e)
	}
	p.release()
	p.ahead = 0
	if p.delivery(10); len(p.blk) != 0 {
		t.Fatalf("a read's last transfer got a block of %d", len(p.blk)+1)
	}
	if b := p.bytes([]byte("xy")); cap(b) != 2 || len(p.arena) != 0 {
		t.Fatalf("a read's last payload got a block of %d", cap(b)+len(p.arena))
	}
}

// TestSendSettledKept: a sender that reuses its buffer whenever
// SendSettled says it did not keep it — through a session window of two
// transfers, so that sends queue behind it — still delivers every message
// as it was sent.
func TestSendSettledKept(t *testing.T) {
	node := newTestNode()
	addr := serveTest(t, Options{Handler: node, IncomingWindow: 2})
	_, s := dialTest(t, addr, Options{})
	ctx := ctxT(t)
	snd, err := s.NewSender(ctx, "q", SenderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rcv, err := s.NewReceiver(ctx, "q", ReceiverOptions{Credit: 50})
	if err != nil {
		t.Fatal(err)
	}
	const n = 500
	buf := make([]byte, 0, 64)
	keptOnce := false
	for i := range n {
		buf = fmt.Appendf(buf[:0], "message %d", i)
		kept, err := snd.SendSettled(ctx, buf)
		if err != nil {
			t.Fatal(err)
		}
		if kept {
			keptOnce = true
			buf = make([]byte, 0, 64) // the transport still reads the old one
		}
	}
	if !keptOnce {
		t.Fatal("no send queued behind the session window: the case under test did not happen")
	}
	for i := range n {
		d, err := rcv.Receive(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf("message %d", i); string(d.Payload()) != want {
			t.Fatalf("got %q, want %q", d.Payload(), want)
		}
		rcv.Accept(d)
	}
}
