package transport

// Interoperability with Apache Qpid Proton (Debian's python3-qpid-proton,
// proton-c 0.37 underneath), in both roles:
//
//   - accepting side: testdata/proton/client.py is a proton.utils
//     (BlockingConnection) client that the test drives one JSON command at a
//     time over stdin/stdout, against serveTest + testNode;
//   - dialing side: testdata/proton/broker.py is a small proton.reactor
//     broker that our Dial, Sender and Receiver talk to; it reports what it
//     observes as JSON lines.
//
// The tests need /usr/bin/python3 with the proton module (not the pyenv
// python3 that may come first on PATH); without it they skip. `make
// test-deps`, run by .ci/run, installs it.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/enmasse-go/enmasse/internal/amqp/frames"
	"github.com/enmasse-go/enmasse/internal/amqp/message"
	"github.com/enmasse-go/enmasse/internal/amqp/sasl"
	"github.com/enmasse-go/enmasse/internal/amqp/types"
)

const protonPython = "/usr/bin/python3"

var (
	protonOnce sync.Once
	protonErr  error
)

func requireProton(t testing.TB) {
	t.Helper()
	protonOnce.Do(func() {
		out, err := exec.Command(protonPython, "-c", "import proton").CombinedOutput()
		if err != nil {
			protonErr = fmt.Errorf("%v: %s", err, bytes.TrimSpace(out))
		}
	})
	if protonErr != nil {
		t.Skipf("python3-qpid-proton is missing: %s -c 'import proton' failed (%v); install it with apt-get install python3-qpid-proton (make test-deps)", protonPython, protonErr)
	}
}

// patternBytes is the generated body both sides compute: byte i is i*7/3.
func patternBytes(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i * 7 / 3)
	}
	return b
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// syncBuffer collects a child's stderr.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startPython runs a script of testdata/proton and returns its stdin and a
// channel of the JSON objects it prints, one a line. The process is ended
// when the test ends; its stderr is logged if the test failed.
func startPython(t testing.TB, script string, args ...string) (io.WriteCloser, <-chan map[string]any) {
	t.Helper()
	requireProton(t)
	cmd := exec.Command(protonPython, append([]string{"testdata/proton/" + script}, args...)...)
	cmd.Env = append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1", "PYTHONUNBUFFERED=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := &syncBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan map[string]any, 1024)
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 4<<20)
		for sc.Scan() {
			var m map[string]any
			if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
				m = map[string]any{"ok": false, "type": "bad output", "error": sc.Text()}
			}
			lines <- m
		}
	}()
	t.Cleanup(func() {
		stdin.Close()
		exited := make(chan error, 1)
		go func() { <-readDone; exited <- cmd.Wait() }()
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("%s stderr:\n%s", script, stderr.String())
		}
	})
	return stdin, lines
}

// protonClient drives testdata/proton/client.py.
type protonClient struct {
	t     testing.TB
	stdin io.WriteCloser
	out   <-chan map[string]any
}

func startProtonClient(t testing.TB) *protonClient {
	t.Helper()
	in, out := startPython(t, "client.py")
	return &protonClient{t: t, stdin: in, out: out}
}

// start sends a command; the answer comes on the returned channel. Only one
// command may be outstanding.
func (p *protonClient) start(cmd map[string]any) <-chan map[string]any {
	p.t.Helper()
	b, err := json.Marshal(cmd)
	if err != nil {
		p.t.Fatal(err)
	}
	if _, err := p.stdin.Write(append(b, '\n')); err != nil {
		p.t.Fatalf("proton client: %v", err)
	}
	res := make(chan map[string]any, 1)
	go func() {
		select {
		case m, ok := <-p.out:
			if !ok {
				m = map[string]any{"ok": false, "type": "exited", "error": "proton client exited"}
			}
			res <- m
		case <-time.After(30 * time.Second):
			res <- map[string]any{"ok": false, "type": "timeout", "error": "no answer from the proton client within 30 s"}
		}
	}()
	return res
}

// on returns p reporting failures to t (a subtest).
func (p *protonClient) on(t testing.TB) *protonClient {
	q := *p
	q.t = t
	return &q
}

func (p *protonClient) call(cmd map[string]any) map[string]any {
	p.t.Helper()
	return <-p.start(cmd)
}

// must runs cmd and fails the test unless it succeeded.
func (p *protonClient) must(cmd map[string]any) map[string]any {
	p.t.Helper()
	r := p.call(cmd)
	if r["ok"] != true {
		p.t.Fatalf("proton %v: %v", cmd["op"], r)
	}
	return r
}

func (p *protonClient) connect(addr string, extra map[string]any) {
	p.t.Helper()
	cmd := map[string]any{"op": "connect", "url": "amqp://" + addr, "allowed_mechs": "ANONYMOUS"}
	for k, v := range extra {
		cmd[k] = v
	}
	p.must(cmd)
}

func jstr(m map[string]any, k string) string {
	s, _ := m[k].(string)
	return s
}

func jint(m map[string]any, k string) int {
	f, _ := m[k].(float64)
	return int(f)
}

// protonRoundTrip sends one message from proton to proton through the node.
func protonRoundTrip(t testing.TB, p *protonClient, q string) {
	t.Helper()
	p.must(map[string]any{"op": "receiver", "id": "rt-" + q, "address": q, "credit": 1})
	p.must(map[string]any{"op": "sender", "id": "st-" + q, "address": q})
	p.must(map[string]any{"op": "send", "sender": "st-" + q, "body": "round trip " + q, "wait": false})
	r := p.must(map[string]any{"op": "receive", "receiver": "rt-" + q, "timeout": 5})
	if jstr(r, "body") != "round trip "+q {
		t.Fatalf("received %v", r)
	}
	p.must(map[string]any{"op": "settle", "receiver": "rt-" + q, "outcome": "accept"})
	r = p.must(map[string]any{"op": "settle_sent", "sender": "st-" + q})
	if oc := outcomes(r); len(oc) != 1 || jstr(oc[0], "state") != "accepted" {
		t.Fatalf("producer saw %v", r)
	}
}

func outcomes(r map[string]any) []map[string]any {
	var out []map[string]any
	list, _ := r["outcomes"].([]any)
	for _, o := range list {
		m, _ := o.(map[string]any)
		out = append(out, m)
	}
	return out
}

// dataMessage encodes body as a message with one data section.
func dataMessage(t testing.TB, body []byte, props *message.Properties) []byte {
	t.Helper()
	m := &message.Message{Data: [][]byte{body}, Properties: props}
	b, err := m.Marshal(nil)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// dataBody decodes a message and returns its data sections joined.
func dataBody(t testing.TB, payload []byte) []byte {
	t.Helper()
	m, err := message.Unmarshal(payload)
	if err != nil {
		t.Fatalf("decoding a message from proton: %v", err)
	}
	if len(m.Data) == 0 {
		t.Fatalf("message without data section: %+v", m)
	}
	return bytes.Join(m.Data, nil)
}

// ---- accepting side: proton client against serveTest + testNode ----

func TestProtonConnectAnonymous(t *testing.T) {
	requireProton(t)
	addr, conns := serveCapture(t, anonymousServer())
	p := startProtonClient(t)
	p.connect(addr, map[string]any{"container_id": "proton-anon"})
	c := nextConn(t, conns)
	if id := c.Identity(); !id.Anonymous || id.Mechanism != sasl.Anonymous {
		t.Fatalf("identity %+v, want anonymous via ANONYMOUS", id)
	}
	if got := c.RemoteOpen().ContainerID; got != "proton-anon" {
		t.Fatalf("container-id %q", got)
	}
	protonRoundTrip(t, p, "anon-q")
	p.must(map[string]any{"op": "close"})
	select {
	case <-c.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("server side still open after proton closed")
	}
	if err := c.Err(); err != nil && !errors.Is(err, ErrConnClosed) {
		t.Fatalf("server side ended with %v after a clean close", err)
	}
}

func TestProtonConnectPlain(t *testing.T) {
	requireProton(t)
	opts := Options{Handler: newTestNode(), Authenticator: sasl.NewAuthenticator(sasl.Config{Users: plainUsers(t), AllowPlainWithoutTLS: true})}
	addr, conns := serveCapture(t, opts)

	t.Run("good", func(t *testing.T) {
		p := startProtonClient(t)
		p.connect(addr, map[string]any{"allowed_mechs": "PLAIN", "user": "alice", "password": "s3cret", "allow_insecure_mechs": true})
		c := nextConn(t, conns)
		if id := c.Identity(); id.User != "alice" || id.Mechanism != sasl.Plain {
			t.Fatalf("identity %+v, want alice via PLAIN", id)
		}
		protonRoundTrip(t, p, "plain-q")
	})
	for _, tc := range []struct{ name, user, pass, mechs string }{
		{"wrong password", "alice", "wrong", "PLAIN"},
		{"unknown user", "mallory", "s3cret", "PLAIN"},
		{"anonymous not offered", "", "", "ANONYMOUS"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := startProtonClient(t)
			cmd := map[string]any{"op": "connect", "url": "amqp://" + addr, "allowed_mechs": tc.mechs, "allow_insecure_mechs": true, "timeout": 5}
			if tc.user != "" {
				cmd["user"], cmd["password"] = tc.user, tc.pass
			}
			r := p.call(cmd)
			if r["ok"] == true {
				t.Fatalf("proton connected with bad credentials: %v", r)
			}
			// proton reports a failed SASL outcome as amqp:unauthorized-access.
			if jstr(r, "type") != "ConnectionException" || !strings.Contains(jstr(r, "error"), "amqp:unauthorized-access") {
				t.Fatalf("proton failed, but not with a SASL error: %v", r)
			}
			select {
			case c := <-conns:
				t.Fatalf("connection %v opened despite failed SASL", c.RemoteAddr())
			case <-time.After(50 * time.Millisecond):
			}
		})
	}
}

func TestProtonSendReceive(t *testing.T) {
	requireProton(t)
	const n = 30
	node := newTestNode()
	node.received = make(chan *Delivery, 6*n)
	addr := serveTest(t, anonymousServer(node))
	p := startProtonClient(t)
	p.connect(addr, nil)
	for _, snd := range []string{"unsettled", "settled", "mixed"} {
		for _, rcv := range []string{"first", "second"} {
			t.Run(snd+"/"+rcv, func(t *testing.T) {
				p := p.on(t)
				q := "sr-" + snd + "-" + rcv
				id := q
				p.must(map[string]any{"op": "receiver", "id": id, "address": q, "credit": 10, "rcv_settle": rcv})
				p.must(map[string]any{"op": "sender", "id": id, "address": q, "snd_settle": snd, "rcv_settle": rcv})
				presettled := func(i int) bool { return snd == "settled" || (snd == "mixed" && i%2 == 1) }
				for i := range n {
					p.must(map[string]any{"op": "send", "sender": id, "body": fmt.Sprintf("%s-%d", q, i), "wait": false, "settled": presettled(i)})
				}
				for i := range n {
					r := p.must(map[string]any{"op": "receive", "receiver": id, "timeout": 5})
					if want := fmt.Sprintf("%s-%d", q, i); jstr(r, "body") != want {
						t.Fatalf("message %d: %v, want %q", i, r, want)
					}
					if got := r["settled"] == true; got != presettled(i) {
						t.Fatalf("message %d arrived settled=%v, sent pre-settled=%v", i, got, presettled(i))
					}
					if !presettled(i) {
						p.must(map[string]any{"op": "settle", "receiver": id, "outcome": "accept"})
					}
				}
				r := p.must(map[string]any{"op": "settle_sent", "sender": id})
				oc := outcomes(r)
				unsettled := 0
				for i := range n {
					if !presettled(i) {
						unsettled++
					}
				}
				if len(oc) != unsettled {
					t.Fatalf("%d outcomes for %d unsettled sends", len(oc), unsettled)
				}
				for i, o := range oc {
					if jstr(o, "state") != "accepted" {
						t.Fatalf("outcome %d: %v", i, o)
					}
				}
				wantSnd := map[string]frames.SenderSettleMode{"unsettled": frames.SndUnsettled, "settled": frames.SndSettled, "mixed": frames.SndMixed}[snd]
				wantRcv := map[string]frames.ReceiverSettleMode{"first": frames.RcvFirst, "second": frames.RcvSecond}[rcv]
				for i := 0; i < n; {
					var in *Delivery
					select {
					case in = <-node.received:
					case <-time.After(5 * time.Second):
						t.Fatalf("node saw only %d messages", i)
					}
					l := in.Link()
					if l.Address() != q {
						continue // left over from another subtest
					}
					if l.SenderSettleMode() != wantSnd || l.ReceiverSettleMode() != wantRcv {
						t.Fatalf("engine link modes snd=%v rcv=%v, want %v/%v", l.SenderSettleMode(), l.ReceiverSettleMode(), wantSnd, wantRcv)
					}
					// Remote-settled: pre-settled, or (mode second) settled by
					// proton after the outcome; in mode first proton's
					// settlement stays local.
					if presettled(i) || rcv == "second" {
						waitFor(t, fmt.Sprintf("message %d remote-settled", i), func() bool { _, rs := in.RemoteState(); return rs })
					} else if _, rs := in.RemoteState(); rs {
						t.Fatalf("message %d: engine has it remote-settled (sent unsettled, mode first)", i)
					}
					waitFor(t, fmt.Sprintf("message %d settled by the engine", i), in.Settled)
					i++
				}
			})
		}
	}
}

func TestProtonCredit(t *testing.T) {
	requireProton(t)
	node := newTestNode()
	addr := serveTest(t, anonymousServer(node))
	p := startProtonClient(t)
	p.connect(addr, nil)

	t.Run("one per credit", func(t *testing.T) {
		p := p.on(t)
		p.must(map[string]any{"op": "sender", "id": "c", "address": "credit"})
		for i := range 3 {
			p.must(map[string]any{"op": "send", "sender": "c", "body": fmt.Sprintf("m%d", i), "wait": false})
		}
		waitFor(t, "3 messages queued", func() bool { return node.queued("credit") == 3 })
		// No credit given: BlockingReceiver.receive flows 1 credit when
		// the link has none, so each receive asks for exactly one.
		p.must(map[string]any{"op": "receiver", "id": "c", "address": "credit"})
		p.must(map[string]any{"op": "idle", "seconds": 0.2})
		if st := p.must(map[string]any{"op": "status", "receiver": "c"}); jint(st, "buffered") != 0 || node.queued("credit") != 3 {
			t.Fatalf("without credit: proton has %v, node has %d queued", st, node.queued("credit"))
		}
		for i := range 3 {
			r := p.must(map[string]any{"op": "receive", "receiver": "c", "timeout": 5})
			if jstr(r, "body") != fmt.Sprintf("m%d", i) {
				t.Fatalf("receive %d: %v", i, r)
			}
			p.must(map[string]any{"op": "idle", "seconds": 0.2})
			st := p.must(map[string]any{"op": "status", "receiver": "c"})
			if jint(st, "buffered") != 0 || jint(st, "credit") != 0 {
				t.Fatalf("after receive %d proton has %v: more than the one credit was used", i, st)
			}
			if got := node.queued("credit"); got != 2-i {
				t.Fatalf("after receive %d the node has %d queued, want %d", i, got, 2-i)
			}
			if cr := node.consumerCredit("credit"); cr != 0 {
				t.Fatalf("engine thinks the consumer has %d credit", cr)
			}
			p.must(map[string]any{"op": "settle", "receiver": "c", "outcome": "accept"})
		}
		if oc := outcomes(p.must(map[string]any{"op": "settle_sent", "sender": "c"})); len(oc) != 3 {
			t.Fatalf("outcomes %v", oc)
		}
	})

	t.Run("drain", func(t *testing.T) {
		p := p.on(t)
		p.must(map[string]any{"op": "sender", "id": "d", "address": "drainq"})
		for i := range 2 {
			p.must(map[string]any{"op": "send", "sender": "d", "body": fmt.Sprintf("d%d", i), "wait": false})
		}
		waitFor(t, "2 messages queued", func() bool { return node.queued("drainq") == 2 })
		p.must(map[string]any{"op": "receiver", "id": "d", "address": "drainq"})
		// Drain with 5 credits: the engine sends the 2 queued messages,
		// then returns 3 credits by advancing its delivery-count.
		r := p.must(map[string]any{"op": "drain", "receiver": "d", "credit": 5})
		if jint(r, "drained") != 3 || jint(r, "credit") != 0 || jint(r, "buffered") != 2 {
			t.Fatalf("drain: %v, want 3 drained, 0 credit, 2 buffered", r)
		}
		if cr := node.consumerCredit("drainq"); cr != 0 {
			t.Fatalf("engine kept %d credit after the drain", cr)
		}
		for i := range 2 {
			if r := p.must(map[string]any{"op": "receive", "receiver": "d", "timeout": 5}); jstr(r, "body") != fmt.Sprintf("d%d", i) {
				t.Fatalf("receive %d: %v", i, r)
			}
			p.must(map[string]any{"op": "settle", "receiver": "d", "outcome": "accept"})
		}
		p.must(map[string]any{"op": "settle_sent", "sender": "d"})
	})

	t.Run("BlockingReceiver credit 1", func(t *testing.T) {
		p := p.on(t)
		// credit=1 makes proton's flow controller restore the credit to
		// one after each delivery (not counting what it buffered): the
		// engine must never see more than one credit.
		p.must(map[string]any{"op": "receiver", "id": "c1", "address": "credit1", "credit": 1})
		p.must(map[string]any{"op": "sender", "id": "c1", "address": "credit1"})
		for i := range 5 {
			p.must(map[string]any{"op": "send", "sender": "c1", "body": fmt.Sprintf("n%d", i), "wait": false})
		}
		for i := range 5 {
			r := p.must(map[string]any{"op": "receive", "receiver": "c1", "timeout": 5})
			if jstr(r, "body") != fmt.Sprintf("n%d", i) {
				t.Fatalf("receive %d: %v", i, r)
			}
			if cr := node.consumerCredit("credit1"); cr > 1 {
				t.Fatalf("engine sees %d credit, proton grants at most 1", cr)
			}
			p.must(map[string]any{"op": "settle", "receiver": "c1", "outcome": "accept"})
		}
		p.must(map[string]any{"op": "settle_sent", "sender": "c1"})
	})
}

func TestProtonLargeMessage(t *testing.T) {
	requireProton(t)
	node := newTestNode()
	node.received = make(chan *Delivery, 1)
	addr := serveTest(t, anonymousServer(node))
	p := startProtonClient(t)
	p.connect(addr, nil)
	const size = 2<<20 + 17
	want := patternBytes(size)

	p.must(map[string]any{"op": "receiver", "id": "big", "address": "big", "credit": 1})
	p.must(map[string]any{"op": "sender", "id": "big", "address": "big"})
	p.must(map[string]any{"op": "send", "sender": "big", "size": size, "wait": false})
	in := <-node.received
	if got := dataBody(t, in.Payload()); !bytes.Equal(got, want) {
		t.Fatalf("engine received %d bytes that differ from proton's %d", len(got), size)
	}
	r := p.must(map[string]any{"op": "receive", "receiver": "big", "timeout": 15})
	if jint(r, "size") != size || jstr(r, "sha256") != sha256Hex(want) {
		t.Fatalf("proton received %v", r)
	}
	p.must(map[string]any{"op": "settle", "receiver": "big", "outcome": "accept"})
	if oc := outcomes(p.must(map[string]any{"op": "settle_sent", "sender": "big"})); len(oc) != 1 || jstr(oc[0], "state") != "accepted" {
		t.Fatalf("outcome %v", oc)
	}
}

// protonOutcomeCase is one outcome given by a consumer, and how it must
// look to the producer.
type protonOutcomeCase struct {
	name   string
	settle map[string]any // client.py settle command fields
	check  func(t *testing.T, st frames.DeliveryState)
}

var protonOutcomeCases = []protonOutcomeCase{
	{"accept", map[string]any{"outcome": "accept"}, func(t *testing.T, st frames.DeliveryState) {
		if _, ok := st.(frames.Accepted); !ok {
			t.Fatalf("state %v, want accepted", st)
		}
	}},
	{"reject", map[string]any{"outcome": "reject", "condition": "com.example:bad-order", "description": "order 42 is malformed"}, func(t *testing.T, st frames.DeliveryState) {
		rj, ok := st.(frames.Rejected)
		if !ok || rj.Error == nil || rj.Error.Condition != "com.example:bad-order" || rj.Error.Description != "order 42 is malformed" {
			t.Fatalf("state %v, want rejected with com.example:bad-order", st)
		}
	}},
	{"reject plain", map[string]any{"outcome": "reject"}, func(t *testing.T, st frames.DeliveryState) {
		if rj, ok := st.(frames.Rejected); !ok || rj.Error != nil {
			t.Fatalf("state %v, want rejected without error", st)
		}
	}},
	{"release", map[string]any{"outcome": "release"}, func(t *testing.T, st frames.DeliveryState) {
		if _, ok := st.(frames.Released); !ok {
			t.Fatalf("state %v, want released", st)
		}
	}},
	{"modify", map[string]any{"outcome": "modify", "failed": true, "undeliverable": true, "annotations": map[string]any{"x-opt-reason": "try elsewhere"}}, func(t *testing.T, st frames.DeliveryState) {
		md, ok := st.(frames.Modified)
		if !ok || !md.DeliveryFailed || !md.UndeliverableHere {
			t.Fatalf("state %v, want modified, failed, undeliverable", st)
		}
		if v, _ := md.MessageAnnotations.Get(types.Symbol("x-opt-reason")); v != "try elsewhere" {
			t.Fatalf("annotations %v", md.MessageAnnotations)
		}
	}},
	{"modify plain", map[string]any{"outcome": "modify"}, func(t *testing.T, st frames.DeliveryState) {
		md, ok := st.(frames.Modified)
		if !ok || md.DeliveryFailed || md.UndeliverableHere || len(md.MessageAnnotations) != 0 {
			t.Fatalf("state %v, want a plain modified", st)
		}
	}},
}

// TestProtonOutcomesFromProtonConsumer: a proton receiver gives each
// outcome; the producer is our own client (it returns the state the engine
// relayed) or proton (it reports the remote state proton decoded).
func TestProtonOutcomesFromProtonConsumer(t *testing.T) {
	requireProton(t)
	addr := serveTest(t, anonymousServer())
	p := startProtonClient(t)
	p.connect(addr, nil)
	_, s := dialTest(t, addr, Options{SASL: sasl.NewAnonymousClient("")})
	ctx := ctxT(t)
	for _, rcv := range []string{"first", "second"} {
		for _, tc := range protonOutcomeCases {
			t.Run(tc.name+"/"+rcv, func(t *testing.T) {
				p := p.on(t)
				q := "oc-" + strings.ReplaceAll(tc.name, " ", "-") + "-" + rcv
				p.must(map[string]any{"op": "receiver", "id": q, "address": q, "credit": 1, "rcv_settle": rcv})
				settle := map[string]any{"op": "settle", "receiver": q}
				for k, v := range tc.settle {
					settle[k] = v
				}

				// Our producer.
				rm := frames.RcvFirst
				if rcv == "second" {
					rm = frames.RcvSecond
				}
				snd, err := s.NewSender(ctx, q, SenderOptions{RcvSettleMode: rm})
				if err != nil {
					t.Fatal(err)
				}
				type result struct {
					st  frames.DeliveryState
					err error
				}
				res := make(chan result, 1)
				go func() {
					st, err := snd.Send(ctx, dataMessage(t, []byte("from go"), nil), SendOptions{})
					res <- result{st, err}
				}()
				if r := p.must(map[string]any{"op": "receive", "receiver": q, "timeout": 5}); jstr(r, "body") != "from go" {
					t.Fatalf("proton received %v", r)
				}
				p.must(settle)
				r := <-res
				if r.err != nil {
					t.Fatalf("send: %v", r.err)
				}
				tc.check(t, r.st)

				// A proton producer.
				p.must(map[string]any{"op": "sender", "id": q, "address": q, "rcv_settle": rcv})
				p.must(map[string]any{"op": "send", "sender": q, "body": "from proton", "wait": false})
				if r := p.must(map[string]any{"op": "receive", "receiver": q, "timeout": 5}); jstr(r, "body") != "from proton" {
					t.Fatalf("proton received %v", r)
				}
				p.must(settle)
				oc := outcomes(p.must(map[string]any{"op": "settle_sent", "sender": q}))
				if len(oc) != 1 {
					t.Fatalf("outcomes %v", oc)
				}
				checkProtonOutcome(t, oc[0], tc.settle)
			})
		}
	}
}

// checkProtonOutcome compares what proton reports for a delivery with the
// settle command that produced it.
func checkProtonOutcome(t *testing.T, got map[string]any, settle map[string]any) {
	t.Helper()
	want := map[string]string{"accept": "accepted", "reject": "rejected", "release": "released", "modify": "modified"}[settle["outcome"].(string)]
	if jstr(got, "state") != want {
		t.Fatalf("proton producer saw %v, want %s", got, want)
	}
	if jstr(got, "condition") != jstr(settle, "condition") || jstr(got, "description") != jstr(settle, "description") {
		t.Fatalf("proton producer saw error %q/%q, want %q/%q", jstr(got, "condition"), jstr(got, "description"), jstr(settle, "condition"), jstr(settle, "description"))
	}
	if want == "modified" {
		if got["failed"] != (settle["failed"] == true) || got["undeliverable"] != (settle["undeliverable"] == true) {
			t.Fatalf("proton producer saw %v for %v", got, settle)
		}
		wa, _ := json.Marshal(settle["annotations"])
		ga, _ := json.Marshal(got["annotations"])
		if settle["annotations"] == nil {
			wa = []byte("{}")
		}
		if !bytes.Equal(wa, ga) {
			t.Fatalf("annotations %s, want %s", ga, wa)
		}
	}
}

// TestProtonSendException: a proton BlockingSender sends through the node
// to our own Receiver, which gives each outcome; BlockingSender.send raises
// SendException for rejected and released (its default error_states) and
// returns the delivery otherwise.
func TestProtonSendException(t *testing.T) {
	requireProton(t)
	addr := serveTest(t, anonymousServer())
	p := startProtonClient(t)
	p.connect(addr, nil)
	_, s := dialTest(t, addr, Options{SASL: sasl.NewAnonymousClient("")})
	ctx := ctxT(t)
	rcv, err := s.NewReceiver(ctx, "sx", ReceiverOptions{Credit: 10})
	if err != nil {
		t.Fatal(err)
	}
	p.must(map[string]any{"op": "sender", "id": "sx", "address": "sx"})
	for _, tc := range []struct {
		name          string
		state         frames.DeliveryState
		noErrorStates bool
		check         func(t *testing.T, r map[string]any)
	}{
		{"accept", frames.Accepted{}, false, func(t *testing.T, r map[string]any) {
			if r["ok"] != true || jstr(r, "state") != "accepted" {
				t.Fatalf("send: %v", r)
			}
		}},
		{"reject", frames.Rejected{Error: frames.Errorf("com.example:no", "not today")}, false, func(t *testing.T, r map[string]any) {
			if r["ok"] == true || jstr(r, "type") != "SendException" || jstr(r, "state") != "rejected" {
				t.Fatalf("send: %v, want SendException(rejected)", r)
			}
		}},
		{"reject details", frames.Rejected{Error: frames.Errorf("com.example:no", "not today")}, true, func(t *testing.T, r map[string]any) {
			if r["ok"] != true || jstr(r, "state") != "rejected" || jstr(r, "condition") != "com.example:no" || jstr(r, "description") != "not today" {
				t.Fatalf("send: %v", r)
			}
		}},
		{"release", frames.Released{}, false, func(t *testing.T, r map[string]any) {
			if r["ok"] == true || jstr(r, "type") != "SendException" || jstr(r, "state") != "released" {
				t.Fatalf("send: %v, want SendException(released)", r)
			}
		}},
		{"modify", frames.Modified{DeliveryFailed: true, UndeliverableHere: true, MessageAnnotations: types.Map{{Key: types.Symbol("x-opt-why"), Value: "busy"}}}, false, func(t *testing.T, r map[string]any) {
			if r["ok"] != true || jstr(r, "state") != "modified" || r["failed"] != true || r["undeliverable"] != true {
				t.Fatalf("send: %v", r)
			}
			if a, _ := r["annotations"].(map[string]any); a["x-opt-why"] != "busy" {
				t.Fatalf("annotations %v", r["annotations"])
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := p.on(t)
			res := p.start(map[string]any{"op": "send", "sender": "sx", "body": "blocking " + tc.name, "no_error_states": tc.noErrorStates})
			rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			d, err := rcv.Receive(rctx)
			if err != nil {
				t.Fatal(err)
			}
			if got := dataBody(t, d.Payload()); string(got) != "blocking "+tc.name {
				t.Fatalf("received %q", got)
			}
			if err := d.Settle(tc.state); err != nil {
				t.Fatal(err)
			}
			tc.check(t, <-res)
		})
	}
}

func TestProtonHeartbeat(t *testing.T) {
	requireProton(t)
	opts := anonymousServer()
	opts.IdleTimeout = 500 * time.Millisecond
	addr, conns := serveCapture(t, opts)
	p := startProtonClient(t)
	// proton announces heartbeat as its idle timeout and sends a frame at
	// least every half of ours.
	p.connect(addr, map[string]any{"heartbeat": 0.5})
	sc := nextConn(t, conns)
	if got := sc.RemoteOpen().IdleTimeout; got == 0 || got > 500 {
		t.Fatalf("proton announced idle-time-out %d ms, want 1..500", got)
	}
	p.must(map[string]any{"op": "idle", "seconds": 2.0})
	select {
	case <-sc.Done():
		t.Fatalf("server closed the connection: %v", sc.Err())
	default:
	}
	protonRoundTrip(t, p, "hb-q")
	if err := sc.Err(); err != nil {
		t.Fatalf("server side: %v", err)
	}
}

func TestProtonDynamicReceiver(t *testing.T) {
	requireProton(t)
	addr := serveTest(t, anonymousServer())
	p := startProtonClient(t)
	p.connect(addr, nil)
	r := p.must(map[string]any{"op": "receiver", "id": "dyn", "dynamic": true, "credit": 1})
	dyn := jstr(r, "address")
	if !strings.HasPrefix(dyn, "dynamic-") {
		t.Fatalf("dynamic receiver got address %q", dyn)
	}
	p.must(map[string]any{"op": "sender", "id": "dyn", "address": dyn})
	p.must(map[string]any{"op": "send", "sender": "dyn", "body": "to the dynamic node", "wait": false})
	if r := p.must(map[string]any{"op": "receive", "receiver": "dyn", "timeout": 5}); jstr(r, "body") != "to the dynamic node" {
		t.Fatalf("received %v", r)
	}
	p.must(map[string]any{"op": "settle", "receiver": "dyn", "outcome": "accept"})
	p.must(map[string]any{"op": "settle_sent", "sender": "dyn"})
}

func TestProtonAnonymousRelay(t *testing.T) {
	requireProton(t)
	addr := serveTest(t, anonymousServer())
	p := startProtonClient(t)
	p.connect(addr, nil)
	p.must(map[string]any{"op": "receiver", "id": "r1", "address": "relay-1", "credit": 5})
	p.must(map[string]any{"op": "receiver", "id": "r2", "address": "relay-2", "credit": 5})
	p.must(map[string]any{"op": "sender", "id": "relay", "address": nil})
	for _, to := range []string{"relay-2", "relay-1"} {
		p.must(map[string]any{"op": "send", "sender": "relay", "body": "for " + to, "to": to, "wait": false})
	}
	for _, rc := range []struct{ id, to string }{{"r1", "relay-1"}, {"r2", "relay-2"}} {
		r := p.must(map[string]any{"op": "receive", "receiver": rc.id, "timeout": 5})
		if jstr(r, "body") != "for "+rc.to || jstr(r, "to") != rc.to {
			t.Fatalf("receiver of %s got %v", rc.to, r)
		}
		p.must(map[string]any{"op": "settle", "receiver": rc.id, "outcome": "accept"})
	}
	p.must(map[string]any{"op": "settle_sent", "sender": "relay"})
	// No "to": the node rejects, BlockingSender raises SendException.
	if r := p.call(map[string]any{"op": "send", "sender": "relay", "body": "nowhere"}); jstr(r, "type") != "SendException" || jstr(r, "state") != "rejected" {
		t.Fatalf("send without to: %v", r)
	}
	r := p.must(map[string]any{"op": "send", "sender": "relay", "body": "nowhere", "no_error_states": true})
	if jstr(r, "condition") != string(frames.ErrPreconditionFailed) {
		t.Fatalf("send without to: %v", r)
	}
}

// ---- dialing side: our client against testdata/proton/broker.py ----

type protonBroker struct {
	addr   string
	events <-chan map[string]any
}

// startProtonBroker runs broker.py on a free port, with extra arguments
// (--idle SECONDS, --max-frame BYTES), and waits until it accepts TCP
// connections.
func startProtonBroker(t testing.TB, extra ...string) *protonBroker {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	args := append([]string{strconv.Itoa(port)}, extra...)
	_, events := startPython(t, "broker.py", args...)
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	deadline := time.Now().Add(15 * time.Second)
	for {
		nc, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			nc.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("proton broker not listening on %s: %v", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return &protonBroker{addr: addr, events: events}
}

// next returns the next event of kind (skipping others, such as
// "listening").
func (b *protonBroker) next(t testing.TB, kind string) map[string]any {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case e, ok := <-b.events:
			if !ok {
				t.Fatalf("proton broker exited while waiting for %q", kind)
			}
			if jstr(e, "event") == kind {
				return e
			}
		case <-timeout:
			t.Fatalf("no %q event from the proton broker", kind)
		}
	}
}

func TestProtonBrokerSendReceive(t *testing.T) {
	b := startProtonBroker(t)
	for _, tc := range []struct {
		name string
		opts Options
	}{
		{"SASL ANONYMOUS", Options{SASL: sasl.NewAnonymousClient("trace")}},
		{"no SASL", Options{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, s := dialTest(t, b.addr, tc.opts)
			ctx := ctxT(t)
			q := "q-" + strings.ReplaceAll(tc.name, " ", "-")
			snd, err := s.NewSender(ctx, q, SenderOptions{})
			if err != nil {
				t.Fatal(err)
			}
			const n = 20
			for i := range n {
				st, err := snd.Send(ctx, dataMessage(t, []byte(fmt.Sprintf("%s-%d", q, i)), nil), SendOptions{})
				if err != nil {
					t.Fatalf("send %d: %v", i, err)
				}
				if _, ok := st.(frames.Accepted); !ok {
					t.Fatalf("send %d: %v", i, st)
				}
				if e := b.next(t, "received"); jstr(e, "address") != q || jstr(e, "body") != fmt.Sprintf("%s-%d", q, i) {
					t.Fatalf("broker received %v", e)
				}
			}
			rcv, err := s.NewReceiver(ctx, q, ReceiverOptions{Credit: 5})
			if err != nil {
				t.Fatal(err)
			}
			for i := range n {
				d, err := rcv.Receive(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if got := string(dataBody(t, d.Payload())); got != fmt.Sprintf("%s-%d", q, i) {
					t.Fatalf("message %d: %q", i, got)
				}
				rcv.Accept(d)
				if e := b.next(t, "outcome"); jstr(e, "state") != "accepted" || jstr(e, "body") != fmt.Sprintf("%s-%d", q, i) {
					t.Fatalf("broker saw %v", e)
				}
			}
			if err := snd.Close(ctx); err != nil {
				t.Fatal(err)
			}
			if err := rcv.Close(ctx); err != nil {
				t.Fatal(err)
			}
			if err := c.Close(ctx, nil); err != nil {
				t.Fatalf("close: %v", err)
			}
		})
	}
}

func TestProtonBrokerOutcomes(t *testing.T) {
	b := startProtonBroker(t)
	_, s := dialTest(t, b.addr, Options{SASL: sasl.NewAnonymousClient("")})
	ctx := ctxT(t)

	t.Run("broker gives outcomes", func(t *testing.T) {
		for _, tc := range []struct {
			addr  string
			check func(st frames.DeliveryState) bool
		}{
			{"accept/x", func(st frames.DeliveryState) bool { _, ok := st.(frames.Accepted); return ok }},
			{"reject/x", func(st frames.DeliveryState) bool {
				rj, ok := st.(frames.Rejected)
				return ok && rj.Error != nil && rj.Error.Condition == "com.example:refused" && rj.Error.Description == "refused by the broker: reject/x"
			}},
			{"release/x", func(st frames.DeliveryState) bool { _, ok := st.(frames.Released); return ok }},
			{"modify/x", func(st frames.DeliveryState) bool {
				md, ok := st.(frames.Modified)
				if !ok || !md.DeliveryFailed || !md.UndeliverableHere {
					return false
				}
				v, _ := md.MessageAnnotations.Get(types.Symbol("x-opt-broker"))
				return v == "modified here"
			}},
		} {
			for _, rm := range []frames.ReceiverSettleMode{frames.RcvFirst, frames.RcvSecond} {
				snd, err := s.NewSender(ctx, tc.addr, SenderOptions{RcvSettleMode: rm})
				if err != nil {
					t.Fatal(err)
				}
				st, err := snd.Send(ctx, dataMessage(t, []byte("x"), nil), SendOptions{})
				if err != nil {
					t.Fatalf("%s: %v", tc.addr, err)
				}
				if !tc.check(st) {
					t.Fatalf("%s (rcv-settle-mode %d): broker's outcome arrived as %v", tc.addr, rm, st)
				}
				b.next(t, "received")
				snd.Close(ctx)
			}
		}
	})

	t.Run("we give outcomes", func(t *testing.T) {
		for _, rm := range []frames.ReceiverSettleMode{frames.RcvFirst, frames.RcvSecond} {
			q := fmt.Sprintf("give-%d", rm)
			snd, err := s.NewSender(ctx, q, SenderOptions{})
			if err != nil {
				t.Fatal(err)
			}
			cases := []struct {
				state frames.DeliveryState
				want  map[string]any
			}{
				{frames.Accepted{}, map[string]any{"state": "accepted"}},
				{frames.Rejected{Error: frames.Errorf("com.example:bad", "bad %d", 1)}, map[string]any{"state": "rejected", "condition": "com.example:bad", "description": "bad 1"}},
				{frames.Released{}, map[string]any{"state": "released"}},
				{frames.Modified{DeliveryFailed: true, UndeliverableHere: true, MessageAnnotations: types.Map{{Key: types.Symbol("x-opt-n"), Value: int64(3)}}},
					map[string]any{"state": "modified", "failed": true, "undeliverable": true, "annotations": map[string]any{"x-opt-n": float64(3)}}},
				{frames.Modified{}, map[string]any{"state": "modified", "failed": false, "undeliverable": false, "annotations": map[string]any{}}},
			}
			for i := range cases {
				if _, err := snd.Send(ctx, dataMessage(t, []byte(fmt.Sprintf("m%d", i)), nil), SendOptions{}); err != nil {
					t.Fatal(err)
				}
				b.next(t, "received")
			}
			rcv, err := s.NewReceiver(ctx, q, ReceiverOptions{Credit: 10, SettleMode: rm})
			if err != nil {
				t.Fatal(err)
			}
			for i, tc := range cases {
				d, err := rcv.Receive(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if got := string(dataBody(t, d.Payload())); got != fmt.Sprintf("m%d", i) {
					t.Fatalf("got %q", got)
				}
				if err := d.Settle(tc.state); err != nil {
					t.Fatal(err)
				}
				e := b.next(t, "outcome")
				for k, v := range tc.want {
					ev, _ := json.Marshal(e[k])
					wv, _ := json.Marshal(v)
					if !bytes.Equal(ev, wv) {
						t.Fatalf("rcv-settle-mode %d, %v: broker saw %s=%s, want %s (event %v)", rm, tc.state, k, ev, wv, e)
					}
				}
				// Mode second: the broker settles after our outcome, then so
				// do we.
				waitFor(t, "the delivery settled on both ends", func() bool {
					_, rs := d.RemoteState()
					return d.Settled() && (rm == frames.RcvFirst || rs)
				})
			}
			rcv.Close(ctx)
			snd.Close(ctx)
		}
	})
}

func TestProtonBrokerDrain(t *testing.T) {
	b := startProtonBroker(t)
	_, s := dialTest(t, b.addr, Options{})
	ctx := ctxT(t)
	snd, err := s.NewSender(ctx, "dq", SenderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if _, err := snd.Send(ctx, dataMessage(t, []byte{'a' + byte(i)}, nil), SendOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	rcv, err := s.NewReceiver(ctx, "dq", ReceiverOptions{}) // manual credit
	if err != nil {
		t.Fatal(err)
	}
	if err := rcv.IssueCredit(5); err != nil {
		t.Fatal(err)
	}
	dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	// The broker sends both messages, then returns the other 3 credits.
	if err := rcv.Drain(dctx); err != nil {
		t.Fatalf("drain: %v", err)
	}
	if cr, _ := rcv.Link().Credit(); cr != 0 {
		t.Fatalf("%d credit left after the drain", cr)
	}
	for i := range 2 {
		d, err := rcv.Receive(dctx)
		if err != nil {
			t.Fatal(err)
		}
		if got := string(dataBody(t, d.Payload())); got != string(rune('a'+i)) {
			t.Fatalf("got %q", got)
		}
		rcv.Accept(d)
	}
	if _, err := snd.Send(ctx, dataMessage(t, []byte("c"), nil), SendOptions{}); err != nil {
		t.Fatal(err)
	}
	short, cancel2 := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel2()
	if d, err := rcv.Receive(short); err == nil {
		t.Fatalf("received %q without credit", d.Payload())
	}
	if err := rcv.IssueCredit(1); err != nil {
		t.Fatal(err)
	}
	d, err := rcv.Receive(dctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(dataBody(t, d.Payload())); got != "c" {
		t.Fatalf("got %q", got)
	}
	rcv.Accept(d)
}

func TestProtonBrokerLargeMessage(t *testing.T) {
	b := startProtonBroker(t)
	_, s := dialTest(t, b.addr, Options{})
	protonBrokerRoundTrip(t, b, s, "big", patternBytes(5<<20+3))
}

// TestProtonBrokerSmallFrames: max-frame-size 512 both ways (AMQP 1.0
// §2.7.1's minimum), so both sides split messages into many transfers.
func TestProtonBrokerSmallFrames(t *testing.T) {
	b := startProtonBroker(t, "--max-frame", "512")
	c, s := dialTest(t, b.addr, Options{MaxFrameSize: 512})
	if got := c.MaxFrameSize(); got != 512 {
		t.Fatalf("proton announced max-frame-size %d", got)
	}
	for _, size := range []int{0, 1, 400, 450, 480, 490, 500, 511, 512, 1000, 100 << 10} {
		protonBrokerRoundTrip(t, b, s, fmt.Sprintf("small-%d", size), patternBytes(size))
	}
}

// protonBrokerRoundTrip sends want to q through the proton broker and
// receives it back.
func protonBrokerRoundTrip(t *testing.T, b *protonBroker, s *Session, q string, want []byte) {
	t.Helper()
	ctx := ctxT(t)
	snd, err := s.NewSender(ctx, q, SenderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer snd.Close(ctx)
	if _, err := snd.Send(ctx, dataMessage(t, want, nil), SendOptions{}); err != nil {
		t.Fatal(err)
	}
	if e := b.next(t, "received"); jint(e, "size") != len(want) || jstr(e, "sha256") != sha256Hex(want) {
		t.Fatalf("broker received %v", e)
	}
	rcv, err := s.NewReceiver(ctx, q, ReceiverOptions{Credit: 1})
	if err != nil {
		t.Fatal(err)
	}
	d, err := rcv.Receive(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer rcv.Close(ctx)
	if got := dataBody(t, d.Payload()); !bytes.Equal(got, want) {
		t.Fatalf("%d bytes sent to %s came back as %d bytes that differ", len(want), q, len(got))
	}
	rcv.Accept(d)
	if e := b.next(t, "outcome"); jstr(e, "state") != "accepted" {
		t.Fatalf("broker saw %v", e)
	}
}

func TestProtonBrokerDynamicAndRelay(t *testing.T) {
	b := startProtonBroker(t)
	_, s := dialTest(t, b.addr, Options{})
	ctx := ctxT(t)
	rcv, err := s.NewReceiver(ctx, "", ReceiverOptions{Credit: 5, Source: &frames.Source{Dynamic: true}})
	if err != nil {
		t.Fatal(err)
	}
	src := rcv.Link().RemoteAttach().Source
	if src == nil || !strings.HasPrefix(src.Address, "dynamic-") {
		t.Fatalf("broker's source for a dynamic receiver: %v", src)
	}
	// Anonymous relay: no target address, routed by "to".
	relay, err := s.NewSender(ctx, "", SenderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	st, err := relay.Send(ctx, dataMessage(t, []byte("relayed"), &message.Properties{To: src.Address}), SendOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := st.(frames.Accepted); !ok {
		t.Fatalf("relay send: %v", st)
	}
	d, err := rcv.Receive(ctx)
	if err != nil {
		t.Fatal(err)
	}
	m, err := message.Unmarshal(d.Payload())
	if err != nil {
		t.Fatal(err)
	}
	if string(bytes.Join(m.Data, nil)) != "relayed" || m.Properties == nil || m.Properties.To != src.Address {
		t.Fatalf("received %+v", m)
	}
	rcv.Accept(d)
}

func TestProtonBrokerIdleTimeout(t *testing.T) {
	b := startProtonBroker(t, "--idle", "0.5")
	// Both sides ask for a frame every 500 ms: our writer must heartbeat
	// to proton, and proton to us.
	c, s := dialTest(t, b.addr, Options{IdleTimeout: 500 * time.Millisecond})
	if got := c.RemoteOpen().IdleTimeout; got == 0 || got > 500 {
		t.Fatalf("broker announced idle-time-out %d ms", got)
	}
	select {
	case <-c.Done():
		t.Fatalf("connection ended: %v", c.Err())
	case <-time.After(2 * time.Second):
	}
	ctx := ctxT(t)
	snd, err := s.NewSender(ctx, "idle", SenderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := snd.Send(ctx, dataMessage(t, []byte("still here"), nil), SendOptions{}); err != nil {
		t.Fatal(err)
	}
	if e := b.next(t, "received"); jstr(e, "body") != "still here" {
		t.Fatalf("broker received %v", e)
	}
	if err := c.Err(); err != nil {
		t.Fatal(err)
	}
}

// TestProtonAbortedTransfer: proton streams half of a large message and
// aborts it; the engine must discard it (the node never sees it), keep the
// link usable, and deliver the next message intact.
func TestProtonAbortedTransfer(t *testing.T) {
	requireProton(t)
	node := newTestNode()
	node.received = make(chan *Delivery, 4)
	addr := serveTest(t, anonymousServer(node))
	p := startProtonClient(t)
	p.connect(addr, nil)
	p.must(map[string]any{"op": "receiver", "id": "ab", "address": "abort", "credit": 5})
	p.must(map[string]any{"op": "sender", "id": "ab", "address": "abort"})
	r := p.must(map[string]any{"op": "send_aborted", "sender": "ab", "size": 300 << 10})
	if jint(r, "streamed") < 100<<10 {
		t.Fatalf("proton streamed only %v", r)
	}
	p.must(map[string]any{"op": "send", "sender": "ab", "body": "after the abort", "wait": false})
	in := <-node.received
	if got := dataBody(t, in.Payload()); string(got) != "after the abort" {
		t.Fatalf("node received %d bytes %.40q, want the message after the aborted one", len(got), got)
	}
	r = p.must(map[string]any{"op": "receive", "receiver": "ab", "timeout": 5})
	if jstr(r, "body") != "after the abort" {
		t.Fatalf("received %v", r)
	}
	p.must(map[string]any{"op": "settle", "receiver": "ab", "outcome": "accept"})
	if oc := outcomes(p.must(map[string]any{"op": "settle_sent", "sender": "ab"})); len(oc) != 1 || jstr(oc[0], "state") != "accepted" {
		t.Fatalf("outcomes %v", oc)
	}
	select {
	case d := <-node.received:
		t.Fatalf("node received a second message of %d bytes", len(d.Payload()))
	case <-time.After(100 * time.Millisecond):
	}
}
