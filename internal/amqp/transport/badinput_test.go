package transport

import (
	"bytes"
	"encoding/binary"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/enmasse-go/enmasse/internal/amqp/amqptest"
	"github.com/enmasse-go/enmasse/internal/amqp/frames"
	"github.com/enmasse-go/enmasse/internal/amqp/types"
)

// rawFrame wraps body in an AMQP frame header without looking at it.
func rawFrame(ch uint16, body []byte) []byte {
	b, start := frames.BeginFrame(nil)
	b = append(b, body...)
	return frames.EndFrame(b, start, frames.TypeAMQP, ch)
}

// rawAttach hand-encodes an attach (sender, handle 0) with the given name
// bytes and, when prop is not nil, a properties map {k: prop}, so the name
// and the value can be anything, valid or not.
func rawAttach(name, prop []byte) []byte {
	var f []byte
	f = append(f, types.CodeStr8, byte(len(name)))
	f = append(f, name...)
	f = append(f, 0x52, 0x00, 0x42) // handle smalluint 0, role false (sender)
	count := uint32(3)
	if prop != nil {
		f = append(f, bytes.Repeat([]byte{0x40}, 10)...) // fields 3..12 null
		f = append(f, types.CodeMap32)
		f = binary.BigEndian.AppendUint32(f, uint32(4+3+len(prop)))
		f = binary.BigEndian.AppendUint32(f, 2)
		f = append(f, types.CodeSym8, 1, 'k')
		f = append(f, prop...)
		count = 14
	}
	b := []byte{0x00, 0x53, 0x12, types.CodeList32}
	b = binary.BigEndian.AppendUint32(b, uint32(4+len(f)))
	b = binary.BigEndian.AppendUint32(b, count)
	return append(b, f...)
}

// nestedLists is a list32 holding a list32 ... depth levels deep, around an
// empty list.
func nestedLists(depth int) []byte {
	b := make([]byte, 0, 9*depth+1)
	for k := depth; k >= 1; k-- {
		b = append(b, types.CodeList32)
		b = binary.BigEndian.AppendUint32(b, uint32(4+9*(k-1)+1))
		b = binary.BigEndian.AppendUint32(b, 1)
	}
	return append(b, types.CodeList0)
}

func TestAMQPTransportRawAttachIsValid(t *testing.T) {
	// The bad inputs below differ from these only where they are bad.
	for _, body := range [][]byte{
		rawAttach([]byte("ok"), nil),
		rawAttach([]byte("ok"), []byte{types.CodeStr8, 1, 'v'}),
		rawAttach([]byte("ok"), nestedLists(50)),
		rawAttach([]byte("ok"), []byte{types.CodeMap8, 0x03, 0x02, 0x40, 0x40}),
	} {
		b, err := frames.Decode(frames.TypeAMQP, body)
		if err != nil {
			t.Fatalf("%x: %v", body, err)
		}
		if a := b.(*frames.Attach); a.Name != "ok" {
			t.Fatalf("decoded %v", a)
		}
	}
}

// TestAMQPTransportBadInput sends hostile input on one TCP connection to a
// real Accept loop. Each must end only that connection, promptly, with the
// right close where one can still be sent, without large allocations, while
// a well-behaved connection to the same server goes on working.
func TestAMQPTransportBadInput(t *testing.T) {
	node := newTestNode()
	addr := serveTest(t, Options{Handler: node, MaxFrameSize: 1 << 20})
	_, s := dialTest(t, addr, Options{})
	ctx := ctxT(t)
	snd, err := s.NewSender(ctx, "good", SenderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rcv, err := s.NewReceiver(ctx, "good", ReceiverOptions{Credit: 10})
	if err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name      string
		handshake bool   // open and begin first
		input     []byte // then this
		halfClose bool   // then shut down our sending side
		header    byte   // without handshake: the header the engine answers with
		cond      types.Symbol
		answer    bool          // answer the engine's close with ours
		within    time.Duration // the connection is gone this long after the input
	}{
		{name: "not a protocol header", input: []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
			header: frames.ProtoAMQP, within: time.Second},
		{name: "frame declaring 4 GiB", handshake: true, input: []byte{0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0},
			cond: frames.ErrFramingError,
			// The engine cannot read a close after a framing error; it
			// drains and hangs up one second after sending its own.
			within: 2 * time.Second},
		{name: "data offset beyond the frame", handshake: true, input: []byte{0, 0, 0, 8, 5, 0, 0, 0},
			cond: frames.ErrFramingError, within: 2 * time.Second},
		{name: "truncated frame, then EOF", handshake: true,
			input:     append([]byte{0, 0, 0, 100, 2, 0, 0, 0}, bytes.Repeat([]byte{0x40}, 20)...),
			halfClose: true, within: time.Second},
		{name: "invalid type code in a performative", handshake: true,
			input: rawFrame(0, rawAttach([]byte("bad-code"), []byte{0xff})),
			cond:  frames.ErrDecodeError, answer: true, within: time.Second},
		{name: "list nested 10000 deep in attach properties", handshake: true,
			input: rawFrame(0, rawAttach([]byte("deep"), nestedLists(10000))),
			cond:  frames.ErrDecodeError, answer: true, within: time.Second},
		{name: "map with an odd count", handshake: true,
			input: rawFrame(0, rawAttach([]byte("odd-map"), []byte{types.CodeMap8, 0x04, 0x03, 0x40, 0x40, 0x40})),
			cond:  frames.ErrDecodeError, answer: true, within: time.Second},
		{name: "invalid UTF-8 in the attach name", handshake: true,
			input: rawFrame(0, rawAttach([]byte{'n', 0xff, 0xfe, 0xc0}, nil)),
			cond:  frames.ErrDecodeError, answer: true, within: time.Second},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var before runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)

			nc, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			p := amqptest.NewPeer(t, nc)
			if tc.handshake {
				amqptest.Handshake(t, p, nil)
				amqptest.BeginSession(t, p, 0, nil)
			}
			start := time.Now()
			if err := p.Write(tc.input); err != nil {
				t.Fatal(err)
			}
			if tc.halfClose {
				nc.(*net.TCPConn).CloseWrite()
			}
			if !tc.handshake {
				amqptest.ExpectHeader(t, p, tc.header)
			}
			if tc.cond != "" {
				cl := amqptest.Expect[*frames.Close](t, p)
				if d := time.Since(start); d > time.Second {
					t.Errorf("close came %v after the input", d)
				}
				if cl.Error == nil || cl.Error.Condition != tc.cond {
					t.Fatalf("close %v, want %s", cl, tc.cond)
				}
				t.Logf("close after %v: %v", time.Since(start), cl.Error)
				if tc.answer {
					p.Send(0, &frames.Close{})
				}
			}
			got, err := amqptest.WaitClosed(t, p)
			if !amqptest.IsClosed(err) {
				t.Fatalf("not closed: %v", err)
			}
			if len(got) != 0 {
				t.Fatalf("frames before the hang-up: %v", got)
			}
			if d := time.Since(start); d > tc.within {
				t.Errorf("connection gone %v after the input, want within %v", d, tc.within)
			}

			// The good connection still works.
			payload := []byte{0x00, 0x53, 0x77, 0xa1, 0x01, byte('a' + i)}
			errc := make(chan error, 1)
			go func() { _, err := snd.Send(ctx, payload, SendOptions{}); errc <- err }()
			d, err := rcv.Receive(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(d.Payload(), payload) {
				t.Fatalf("good connection got %x, want %x", d.Payload(), payload)
			}
			rcv.Accept(d)
			if err := <-errc; err != nil {
				t.Fatalf("good connection: %v", err)
			}

			var after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&after)
			grew := int64(after.HeapAlloc) - int64(before.HeapAlloc)
			allocated := after.TotalAlloc - before.TotalAlloc
			t.Logf("heap grew %d KiB, %d KiB allocated", grew>>10, allocated>>10)
			if grew > 32<<20 || allocated > 64<<20 {
				t.Fatalf("heap grew %d MiB, %d MiB allocated", grew>>20, allocated>>20)
			}
		})
	}
}
