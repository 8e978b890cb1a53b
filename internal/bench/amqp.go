package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/enmasse-go/enmasse/internal/amqp/frames"
	"github.com/enmasse-go/enmasse/internal/amqp/message"
	"github.com/enmasse-go/enmasse/internal/amqp/sasl"
	"github.com/enmasse-go/enmasse/internal/amqp/transport"
)

// Config describes one benchmark run.
type Config struct {
	// URL of the server: HOST:PORT or SCHEME://[USER[:PASSWORD]@]HOST[:PORT]
	// with SCHEME amqp, amqps, mqtt or mqtts (the s: TLS).
	URL     string
	Address string // address to send to and receive from
	// Addresses spreads the run over this many addresses (default 1):
	// producer and consumer i use address i mod Addresses, named
	// ADDRESS-i (MQTT: the topic ADDRESS/i). Needs at least as many
	// producers and, with consumers, as many consumers.
	Addresses  int
	Producers  int           // default 1
	Consumers  int           // default 1; 0 runs producers only
	Size       int           // body size in bytes, at least 20; default 100
	Count      int           // total messages over all producers (0: use Duration)
	Duration   time.Duration // sending time when Count is 0
	Rate       int           // total messages per second over all producers; 0 = as fast as possible
	Presettled bool          // send pre-settled (at-most-once)
	Durable    bool          // header.durable
	Credit     uint32        // consumer credit window; default 1000
	Window     int           // unsettled messages in flight per producer; default 1000
	User       string        // SASL PLAIN (MQTT: CONNECT) user; empty: ANONYMOUS (none); default: the URL's
	Password   string
	TLS        bool   // TLS from the first byte even when the URL says amqp:// or mqtt://
	CAFile     string // PEM CA certificates that verify the server (default: the system's); implies TLS
	Insecure   bool   // TLS without verifying the server's certificate; implies TLS
	// TimeLimit bounds the whole run: producers stop sending when it has
	// passed, and consumers are not waited for beyond it; what has not
	// arrived by then counts as lost and Result.TimeLimited is set. 0: no
	// limit.
	TimeLimit time.Duration
	Drain     time.Duration // how long consumers may go without a message once sending ended; default 10 s
	Progress  io.Writer     // a progress line every second; nil: none
	// DrainOnly runs consumers only, until Count messages arrived or
	// nothing arrives for Drain: the second half of a fill-then-drain run
	// (fill with Consumers 0).
	DrainOnly bool
	// Fanout: every consumer gets every message (multicast, topics), so
	// each consumer's messages are tracked separately and the expected
	// total is messages × consumers.
	Fanout bool
	// MQTT only (RunMQTT): QoS of publishes and subscriptions, and the
	// filter subscribers subscribe to (empty: Address).
	QoS         byte
	Filter      string
	MQTTVersion byte // 5 (default) or 4 (3.1.1)
	// Backlog (MQTT, QoS 1 or 2): fill-then-drain through persistent
	// sessions. Consumers subscribe in sessions that outlive their
	// connections and disconnect; producers send everything; consumers
	// then resume their sessions and receive the backlog. SendRate is the
	// fill, RecvRate the drain (from the reconnect on).
	Backlog bool

	target *target // resolved from URL and the TLS and credential fields
}

// address is the address of producer or consumer i.
func (c *Config) address(i int) string {
	if c.Addresses <= 1 {
		return c.Address
	}
	sep := "-"
	if c.MQTTVersion != 0 { // MQTT: a topic level
		sep = "/"
	}
	return fmt.Sprintf("%s%s%d", c.Address, sep, i%c.Addresses)
}

// limit is the end of a run that started at start under TimeLimit; zero
// without a limit.
func (c *Config) limit(start time.Time) time.Time {
	if c.TimeLimit <= 0 {
		return time.Time{}
	}
	return start.Add(c.TimeLimit)
}

func (c *Config) defaults() error {
	if c.Producers == 0 {
		c.Producers = 1
	}
	if c.Size == 0 {
		c.Size = 100
	}
	if c.Size < stampSize {
		return fmt.Errorf("--size must be at least %d bytes (the timestamp and sequence stamp)", stampSize)
	}
	if c.Count == 0 && c.Duration == 0 {
		return errors.New("give --count or --duration")
	}
	if c.DrainOnly && (c.Count == 0 || c.Consumers == 0) {
		return errors.New("--drain-only needs --count and at least one consumer")
	}
	if c.Credit == 0 {
		c.Credit = 1000
	}
	if c.Addresses == 0 {
		c.Addresses = 1
	}
	if c.Addresses > 1 && (c.Producers < c.Addresses || c.Consumers > 0 && c.Consumers < c.Addresses) && !c.DrainOnly {
		return fmt.Errorf("--addresses %d needs at least as many producers and consumers", c.Addresses)
	}
	if c.Window == 0 {
		c.Window = 1000
	}
	if c.Drain == 0 {
		c.Drain = 10 * time.Second
	}
	if c.Producers < 0 || c.Consumers < 0 || c.Rate < 0 || c.Count < 0 {
		return errors.New("counts and rates must not be negative")
	}
	return nil
}

// Result is the outcome of a run. Latencies are in milliseconds.
type Result struct {
	Sent       uint64  `json:"sent"`
	Received   uint64  `json:"received"`
	Lost       uint64  `json:"lost"`
	Duplicates uint64  `json:"duplicates"`
	Errors     uint64  `json:"errors"` // sends that failed or were not accepted
	Seconds    float64 `json:"seconds"`
	SendRate   float64 `json:"send_rate"` // messages per second
	RecvRate   float64 `json:"recv_rate"`
	P50        float64 `json:"p50_ms"`
	P90        float64 `json:"p90_ms"`
	P99        float64 `json:"p99_ms"`
	P999       float64 `json:"p999_ms"`
	Max        float64 `json:"max_ms"`
	// TimeLimited: Config.TimeLimit ended the run before every message
	// was sent or received.
	TimeLimited bool `json:"time_limited,omitempty"`
	// GrantedQoS (MQTT) is the lowest QoS a server granted the consumers'
	// subscriptions: below the requested --qos, the server downgraded it.
	GrantedQoS *byte `json:"granted_qos,omitempty"`
	// SessionsLost (MQTT --backlog) counts consumers whose session the
	// server did not keep (CONNACK session present 0 on resuming).
	SessionsLost int `json:"sessions_lost,omitempty"`
}

// dialAMQP opens an AMQP connection to the target: TLS first when it wants
// TLS, SASL PLAIN with its credentials, else ANONYMOUS.
func (t *target) dialAMQP(ctx context.Context, opts transport.Options) (*transport.Conn, error) {
	opts.SASL = sasl.NewAnonymousClient("")
	if t.user != "" {
		opts.SASL = sasl.NewPlainClient("", t.user, t.password)
	}
	opts.TLSConfig = t.tls
	return transport.Dial(ctx, t.addr, opts)
}

func (c *Config) dial(ctx context.Context) (*transport.Conn, *transport.Session, error) {
	conn, err := c.target.dialAMQP(ctx, transport.Options{})
	if err != nil {
		return nil, nil, err
	}
	s, err := conn.NewSession(ctx)
	if err != nil {
		conn.Close(context.Background(), nil)
		return nil, nil, err
	}
	return conn, s, nil
}

// RunAMQP runs the benchmark described by cfg.
func RunAMQP(ctx context.Context, cfg Config) (Result, error) {
	if err := cfg.defaults(); err != nil {
		return Result{}, err
	}
	var err error
	if cfg.target, err = resolveTarget(&cfg, "amqp"); err != nil {
		return Result{}, err
	}
	trackers := []*Tracker{NewTracker()}
	var recvCount atomic.Uint64
	var consumers []*consumerRun
	for i := range cfg.Consumers {
		tr := trackers[0]
		if cfg.Fanout {
			if i > 0 {
				trackers = append(trackers, NewTracker())
			}
			tr = trackers[i]
			tr.address = i % cfg.Addresses
		}
		cr, err := startConsumer(ctx, &cfg, cfg.address(i), tr, &recvCount)
		if err != nil {
			for _, c := range consumers {
				c.stop()
			}
			return Result{}, fmt.Errorf("consumer: %w", err)
		}
		consumers = append(consumers, cr)
	}
	defer func() {
		for _, c := range consumers {
			c.stop()
		}
	}()

	if cfg.DrainOnly {
		cfg.Producers = 0
	}
	producers := make([]*producerRun, cfg.Producers)
	for i := range producers {
		p, err := newProducer(ctx, &cfg, uint32(i), cfg.address(i))
		if err != nil {
			return Result{}, fmt.Errorf("producer: %w", err)
		}
		defer p.close()
		producers[i] = p
	}

	ps := make([]producer, len(producers))
	for i, p := range producers {
		ps[i] = p
	}
	start, sendEnd, sent, total, errs, stopProgress := runProducers(ctx, &cfg, ps, &recvCount)
	if cfg.DrainOnly {
		total = uint64(cfg.Count)
	}
	res := summarize(ctx, &cfg, start, sendEnd, sent, total, errs, trackers, &recvCount, stopProgress, len(producers))
	if cfg.DrainOnly {
		// No sequence numbers to go by: what did not arrive of Count.
		res.Lost = total - min(total, res.Received)
	}
	return res, nil
}

func progress(w io.Writer, start time.Time, sent func() uint64, recv *atomic.Uint64) func() {
	if w == nil {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-done:
				fmt.Fprintln(w)
				return
			case <-t.C:
				fmt.Fprintf(w, "\r%5.0fs  sent %d  received %d   ", time.Since(start).Seconds(), sent(), recv.Load())
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

type producerRun struct {
	cfg    *Config
	id     uint32
	conn   *transport.Conn
	snd    *transport.Sender
	tmpl   []byte // encoded message; the body is its last Size bytes
	sent   atomic.Uint64
	errors atomic.Uint64
}

func newProducer(ctx context.Context, cfg *Config, id uint32, addr string) (*producerRun, error) {
	conn, s, err := cfg.dial(ctx)
	if err != nil {
		return nil, err
	}
	so := transport.SenderOptions{}
	if cfg.Durable {
		// A durable terminus: brokers that declare queues on attach
		// (RabbitMQ's /queue/NAME) then declare a durable one.
		so.Target = &frames.Target{Address: addr, Durable: frames.DurableUnsettled}
	}
	snd, err := s.NewSender(ctx, addr, so)
	if err != nil {
		conn.Close(context.Background(), nil)
		return nil, err
	}
	m := message.Message{Data: [][]byte{make([]byte, cfg.Size)}}
	if cfg.Durable {
		m.Header = &message.Header{Durable: true, Priority: message.DefaultPriority}
	}
	tmpl, err := m.Marshal(nil)
	if err != nil {
		return nil, err
	}
	return &producerRun{cfg: cfg, id: id, conn: conn, snd: snd, tmpl: tmpl}, nil
}

func (p *producerRun) close() { p.conn.Close(context.Background(), nil) }

func (p *producerRun) run(ctx context.Context, n int, deadline time.Time, rate float64) {
	// Outcomes are collected in order by a second goroutine so the
	// producer keeps up to Window messages in flight.
	inflight := make(chan *transport.Delivery, p.cfg.Window)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for dl := range inflight {
			select {
			case <-dl.Done():
			case <-ctx.Done():
				p.errors.Add(1)
				continue
			}
			if st, _ := dl.RemoteState(); st == nil || !isAccepted(st) {
				p.errors.Add(1)
			}
		}
	}()
	defer func() { close(inflight); wg.Wait() }()
	start := time.Now()
	body := len(p.tmpl) - p.cfg.Size
	for seq := uint64(0); ; seq++ {
		if sendDone(n, seq, deadline) || ctx.Err() != nil {
			return
		}
		if rate > 0 {
			due := start.Add(time.Duration(float64(seq) / rate * float64(time.Second)))
			if wait := time.Until(due); wait > 0 {
				time.Sleep(wait)
			}
		}
		payload := append([]byte(nil), p.tmpl...)
		putStamp(payload[body:], p.id, seq, time.Now())
		dl, err := p.snd.SendAsync(ctx, payload, transport.SendOptions{Settled: p.cfg.Presettled})
		if err != nil {
			p.errors.Add(1)
			if ctx.Err() != nil || errors.Is(err, transport.ErrLinkClosed) {
				return
			}
			continue
		}
		p.sent.Add(1)
		if !p.cfg.Presettled {
			inflight <- dl
		}
	}
}

func isAccepted(st frames.DeliveryState) bool {
	_, ok := st.(frames.Accepted)
	return ok
}

type consumerRun struct {
	conn *transport.Conn
	done chan struct{}
}

func startConsumer(ctx context.Context, cfg *Config, addr string, tr *Tracker, count *atomic.Uint64) (*consumerRun, error) {
	conn, s, err := cfg.dial(ctx)
	if err != nil {
		return nil, err
	}
	ro := transport.ReceiverOptions{Credit: cfg.Credit, PreSettled: cfg.Presettled}
	if cfg.Durable {
		ro.Source = &frames.Source{Address: addr, Durable: frames.DurableUnsettled}
	}
	rcv, err := s.NewReceiver(ctx, addr, ro)
	if err != nil {
		conn.Close(context.Background(), nil)
		return nil, err
	}
	cr := &consumerRun{conn: conn, done: make(chan struct{})}
	go func() {
		defer close(cr.done)
		for {
			d, err := rcv.Receive(context.Background())
			if err != nil {
				return
			}
			now := time.Now()
			if cfg.DrainOnly && count.Load() >= uint64(cfg.Count) {
				// Drained what was asked: leave the rest queued.
				if !cfg.Presettled {
					rcv.Release(d)
				}
				continue
			}
			if !cfg.Presettled {
				rcv.Accept(d)
			}
			raw, err := message.Parse(d.Payload())
			if err != nil {
				continue
			}
			body := raw.Body()
			if len(body) < cfg.Size {
				continue
			}
			if p, seq, sentAt, err := readStamp(body[len(body)-cfg.Size:]); err == nil {
				// Only new messages count towards the end of the run:
				// duplicates must not stand in for lost ones.
				if tr.Observe(p, seq, now.Sub(sentAt)) {
					count.Add(1)
				}
			}
		}
	}()
	return cr, nil
}

func (c *consumerRun) stop() {
	c.conn.Close(context.Background(), nil)
	<-c.done
}

// summarize waits for consumers to receive what was sent (or to stall for
// cfg.Drain) and computes the result.
func summarize(ctx context.Context, cfg *Config, start, sendEnd time.Time, sent map[uint32]uint64, total, errs uint64,
	trackers []*Tracker, recvCount *atomic.Uint64, stopProgress func(), nProducers int) Result {
	expected := total - errs
	if cfg.Fanout {
		// Each consumer expects what was sent to its address.
		expected = 0
		for _, tr := range trackers {
			for p, n := range sent {
				if int(p)%cfg.Addresses == tr.address {
					expected += n
				}
			}
		}
		expected -= min(expected, errs)
	}
	// Wait for consumers to catch up or stall, at most until the time limit.
	limit := cfg.limit(start)
	timeLimited := !limit.IsZero() && !sendEnd.Before(limit) && (cfg.Count == 0 || total < uint64(cfg.Count))
	if cfg.Consumers > 0 {
		last, lastChange := recvCount.Load(), time.Now()
		for recvCount.Load() < expected && time.Since(lastChange) < cfg.Drain && ctx.Err() == nil {
			if !limit.IsZero() && !time.Now().Before(limit) {
				timeLimited = true
				break
			}
			time.Sleep(5 * time.Millisecond)
			if n := recvCount.Load(); n != last {
				last, lastChange = n, time.Now()
			}
		}
	}
	end := time.Now()
	stopProgress()

	var received, dups uint64
	for _, tr := range trackers {
		r, d := tr.Counts()
		received, dups = received+r, dups+d
	}
	res := Result{
		Sent:        total,
		Received:    received,
		Duplicates:  dups,
		Errors:      errs,
		Seconds:     end.Sub(start).Seconds(),
		TimeLimited: timeLimited,
	}
	if cfg.Consumers > 0 {
		for _, tr := range trackers {
			mine := sent
			if cfg.Fanout && cfg.Addresses > 1 {
				mine = map[uint32]uint64{}
				for p, n := range sent {
					if int(p)%cfg.Addresses == tr.address {
						mine[p] = n
					}
				}
			}
			res.Lost += tr.Lost(mine)
		}
	}
	if d := sendEnd.Sub(start).Seconds(); d > 0 && nProducers > 0 {
		res.SendRate = float64(total) / d
	}
	if res.Seconds > 0 {
		res.RecvRate = float64(received) / res.Seconds
	}
	all := trackers[0]
	if len(trackers) > 1 {
		all = NewTracker()
		for _, tr := range trackers {
			tr.mu.Lock()
			all.latencies = append(all.latencies, tr.latencies...)
			tr.mu.Unlock()
		}
	}
	ps, max := all.Percentiles(50, 90, 99, 99.9)
	ms := func(d time.Duration) float64 { return float64(d) / 1e6 }
	res.P50, res.P90, res.P99, res.P999, res.Max = ms(ps[0]), ms(ps[1]), ms(ps[2]), ms(ps[3]), ms(max)
	return res
}

// sendDone reports whether a producer has sent its n messages (n > 0) or
// reached its deadline (non-zero).
func sendDone(n int, seq uint64, deadline time.Time) bool {
	return n > 0 && seq >= uint64(n) || !deadline.IsZero() && !time.Now().Before(deadline)
}

// producer is what runProducers drives: an AMQP or MQTT producer.
type producer interface {
	// run sends n messages (0: until deadline) at rate per second (0: as
	// fast as possible), stopping early at a non-zero deadline.
	run(ctx context.Context, n int, deadline time.Time, rate float64)
	counts() (id uint32, sent, errors uint64)
}

func (p *producerRun) counts() (uint32, uint64, uint64) { return p.id, p.sent.Load(), p.errors.Load() }

// runProducers runs the producers with their share of Count and Rate, with
// the progress line, and returns when all have finished: the start and end
// of sending, messages sent per producer id, totals, and the function that
// stops the progress line.
func runProducers(ctx context.Context, cfg *Config, producers []producer, recvCount *atomic.Uint64) (start, sendEnd time.Time, sent map[uint32]uint64, total, errs uint64, stopProgress func()) {
	start = time.Now()
	stopProgress = progress(cfg.Progress, start, func() (n uint64) {
		for _, p := range producers {
			_, s, _ := p.counts()
			n += s
		}
		return n
	}, recvCount)
	var deadline time.Time
	if cfg.Count == 0 {
		deadline = start.Add(cfg.Duration)
	}
	if limit := cfg.limit(start); !limit.IsZero() && (deadline.IsZero() || limit.Before(deadline)) {
		deadline = limit
	}
	var wg sync.WaitGroup
	for i, p := range producers {
		n := 0
		if cfg.Count > 0 {
			n = cfg.Count / cfg.Producers
			if i < cfg.Count%cfg.Producers {
				n++
			}
		}
		rate := 0.0
		if cfg.Rate > 0 {
			rate = float64(cfg.Rate) / float64(cfg.Producers)
		}
		wg.Go(func() { p.run(ctx, n, deadline, rate) })
	}
	wg.Wait()
	sendEnd = time.Now()
	sent = map[uint32]uint64{}
	for _, p := range producers {
		id, s, e := p.counts()
		sent[id] = s
		total += s
		errs += e
	}
	return start, sendEnd, sent, total, errs, stopProgress
}
