package transport

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"testing"
	"testing/synctest"
	"time"

	"github.com/enmasse-go/enmasse/internal/amqp/amqptest"
	"github.com/enmasse-go/enmasse/internal/amqp/frames"
	"github.com/enmasse-go/enmasse/internal/amqp/types"
)

// fuzzSeeds are valid frame sequences that follow the open: sessions,
// links both ways, transfers (single, multi-frame, aborted, pre-settled),
// dispositions, flows (credit, drain, echo), detach, end and close.
func fuzzSeeds() [][]byte {
	fr := func(b []byte, ch uint16, bodies ...frames.Body) []byte {
		for _, body := range bodies {
			b = frames.AppendFrame(b, frames.TypeAMQP, ch, body)
		}
		return b
	}
	begin := &frames.Begin{IncomingWindow: 100, OutgoingWindow: 100, HandleMax: 7}
	snd := sender("s", 0, "q")
	rcv := receiver("r", 1, "q")
	credit := &frames.Flow{NextIncomingID: 0, HasNextIncomingID: true, IncomingWindow: 100, OutgoingWindow: 100,
		Handle: 1, HasHandle: true, DeliveryCount: 0, HasDeliveryCount: true, LinkCredit: 10, HasLinkCredit: true}
	drain := *credit
	drain.Drain, drain.LinkCredit = true, 5
	echo := &frames.Flow{IncomingWindow: 100, OutgoingWindow: 100, Echo: true}
	msg := []byte{0x00, 0x53, 0x73, 0xc0, 0x04, 0x01, 0xa1, 0x01, 'q', 0x00, 0x53, 0x77, 0xa1, 0x02, 'h', 'i'}
	t0 := xfer(0, 0, msg, false)
	t1 := xfer(0, 1, msg[:5], true)
	t1b := &frames.Transfer{Handle: 0, Payload: msg[5:]}
	t2 := xfer(0, 2, msg, true)
	t2a := &frames.Transfer{Handle: 0, Aborted: true}
	t3 := xfer(0, 3, msg, false)
	t3.Settled, t3.HasSettled = true, true
	disp := &frames.Disposition{Role: frames.RoleReceiver, First: 0, Last: 3, HasLast: true, Settled: true, State: frames.Accepted{}}
	second := sender("s2", 2, "q")
	second.RcvSettleMode = frames.RcvSecond
	rejected := &frames.Disposition{Role: frames.RoleReceiver, First: 1, Settled: true,
		State: frames.Rejected{Error: frames.Errorf(frames.ErrPreconditionFailed, "no")}}
	modified := &frames.Disposition{Role: frames.RoleReceiver, First: 2, State: frames.Modified{DeliveryFailed: true}}
	props := sender("p", 3, "q")
	props.Properties = types.Map{{Key: types.Symbol("k"), Value: []any{int32(1), "two", types.Map{{Key: "x", Value: 3.5}}}}}
	props.Source.Filter = types.Map{{Key: types.Symbol("f"), Value: "x"}}
	dyn := receiver("d", 4, "")
	dyn.Source.Dynamic = true

	return [][]byte{
		nil,
		fr(nil, 0, begin),
		fr(nil, 0, begin, snd, t0),
		fr(nil, 0, begin, rcv, credit),
		fr(nil, 0, begin, snd, rcv, credit, t0, t1, t1b, t2, t2a, t3, disp),
		fr(nil, 0, begin, snd, rcv, credit, t0, t1, t1b, rejected, modified),
		fr(nil, 0, begin, snd, t0, t3, rcv, &drain),
		fr(nil, 0, begin, echo, rcv, credit, &frames.Detach{Handle: 1, Closed: true}, &frames.End{}),
		fr(nil, 0, begin, second, rcv, credit, xfer(2, 0, msg, false), &frames.Disposition{Role: frames.RoleReceiver, First: 0, Settled: true, State: frames.Accepted{}},
			&frames.Disposition{Role: frames.RoleSender, First: 0, Settled: true}),
		fr(nil, 0, begin, props, dyn, &frames.Detach{Handle: 3, Error: frames.Errorf(frames.ErrDetachForced, "bye")}),
		fr(fr(nil, 0, begin, snd), 1, begin, rcv, credit, &frames.End{Error: frames.Errorf(frames.ErrInternal, "x")}),
		fr(nil, 0, begin, snd, t0, &frames.Close{}),
		fr(nil, 0, begin, snd, t0, t0, t0, &frames.Close{Error: frames.Errorf(frames.ErrConnectionForced, "bye")}),
		frames.AppendFrame(fr(nil, 0, begin), frames.TypeAMQP, 0, nil), // a heartbeat
		frames.AppendFrame(nil, frames.TypeSASL, 0, &frames.SASLInit{Mechanism: "PLAIN"}),
		fr(nil, 0, &frames.Open{ContainerID: "again"}),
	}
}

// fuzzOpen is the open the fuzzing peer sends: small frames, so the engine
// has to split its transfers.
var fuzzOpen = &frames.Open{ContainerID: "fuzz", MaxFrameSize: 512, ChannelMax: 7}

// FuzzConnection feeds arbitrary bytes, after a valid header and open and
// split in two writes at a fuzzer-chosen point, to Accept over net.Pipe with
// a handler that accepts everything. The engine must not panic, must keep
// reading its input, must only send frames that decode, and must end when
// the peer hangs up, without leaving goroutines behind. Each input runs in
// a synctest bubble: 200 ms of fake time for the engine to react, and a
// deadlock (every goroutine blocked for good) fails the input. A real-time
// watchdog catches a goroutine spinning or stuck on a lock.
func FuzzConnection(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add(s, uint16(len(s)/2))
	}
	f.Fuzz(func(t *testing.T, data []byte, cut uint16) {
		watchdog := time.AfterFunc(20*time.Second, func() {
			buf := make([]byte, 1<<20)
			panic(fmt.Sprintf("FuzzConnection: input %x stuck for 20 s\n%s", data, buf[:runtime.Stack(buf, true)]))
		})
		defer watchdog.Stop()
		synctest.Test(t, func(t *testing.T) { fuzzConnection(t, data, int(cut)%(len(data)+1)) })
	})
}

func fuzzConnection(t *testing.T, data []byte, cut int) {
	srv, cli := net.Pipe()
	res := make(chan acceptResult, 1)
	go func() {
		c, err := Accept(context.Background(), srv, Options{Handler: newTestNode(), MaxFrameSize: 4096})
		res <- acceptResult{c, err}
	}()
	p := amqptest.NewPeer(t, cli, amqptest.Timeout(time.Second), amqptest.MaxFrameSize(fuzzOpen.MaxFrameSize))
	amqptest.Handshake(t, p, fuzzOpen)
	r := <-res
	if r.err != nil {
		t.Fatal(r.err)
	}
	for _, part := range [][]byte{data[:cut], data[cut:]} {
		if err := p.Write(part); errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatal("the engine stopped reading its input")
		}
	}
	time.Sleep(200 * time.Millisecond)
	p.Close()
	select {
	case <-r.c.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("connection did not end after the peer hung up")
	}
	for {
		e, err := p.NextEvent()
		if err != nil {
			t.Fatal(err)
		}
		if e.Err != nil {
			if !amqptest.IsClosed(e.Err) {
				t.Fatalf("engine output: %v", e.Err) // an oversized or malformed frame
			}
			break
		}
		if e.IsHeader {
			t.Fatalf("protocol header %q after the open", e.Header[:])
		}
		if len(e.Frame.Body) == 0 {
			continue
		}
		if _, err := frames.Decode(e.Frame.Type, e.Frame.Body); err != nil {
			t.Fatalf("engine sent an undecodable frame: %v (%x)", err, e.Frame.Body)
		}
	}
}
