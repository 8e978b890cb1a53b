package bench

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eclipse/paho.golang/paho"
)

// RunMQTT runs the benchmark described by cfg against an MQTT 5 server:
// each producer and consumer on its own connection, publishing to the topic
// cfg.Address at cfg.QoS; consumers subscribe to cfg.Filter (default
// cfg.Address). MQTT subscriptions are always fan-out, so every consumer
// is tracked separately (cfg.Fanout is forced).
//
// The MQTT 5 client is github.com/eclipse/paho.golang, a maintained MQTT
// v5 client; it does not speak 3.1.1, so cfg.MQTTVersion 4 uses client311,
// a small client on the project's own codec (internal/mqtt/packets).
func RunMQTT(ctx context.Context, cfg Config) (Result, error) {
	if err := cfg.defaults(); err != nil {
		return Result{}, err
	}
	if cfg.QoS > 2 {
		return Result{}, fmt.Errorf("--qos must be 0, 1 or 2")
	}
	if cfg.DrainOnly {
		return Result{}, errors.New("--drain-only is for AMQP queues")
	}
	switch cfg.MQTTVersion {
	case 0:
		cfg.MQTTVersion = 5
	case 4, 5:
	default:
		return Result{}, fmt.Errorf("MQTT version must be 5 or 3.1.1 (4)")
	}
	var err error
	if cfg.target, err = resolveTarget(&cfg, "mqtt"); err != nil {
		return Result{}, err
	}
	cfg.Fanout = true
	if cfg.Filter != "" && cfg.Addresses > 1 {
		return Result{}, errors.New("--filter and --addresses exclude each other")
	}
	var trackers []*Tracker
	var recvCount atomic.Uint64
	granted := cfg.QoS // the lowest QoS a server granted a subscription
	var clients []mqttClient
	defer func() {
		for _, c := range clients {
			c.close()
		}
	}()
	if cfg.Backlog && (cfg.Consumers == 0 || cfg.QoS == 0) {
		return Result{}, errors.New("--backlog needs consumers and --qos 1 or 2")
	}
	ids := make([]string, cfg.Consumers)
	handlers := make([]func([]byte), cfg.Consumers)
	for i := range cfg.Consumers {
		tr := NewTracker()
		tr.address = i % cfg.Addresses
		trackers = append(trackers, tr)
		size := cfg.Size
		ids[i] = fmt.Sprintf("bench-c%d-%d", i, time.Now().UnixNano())
		handlers[i] = func(b []byte) {
			now := time.Now()
			if len(b) >= size {
				if p, seq, sentAt, err := readStamp(b[len(b)-size:]); err == nil {
					// Only new messages count towards the end of the
					// run: duplicates must not stand in for lost ones.
					if tr.Observe(p, seq, now.Sub(sentAt)) {
						recvCount.Add(1)
					}
				}
			}
		}
		c, err := mqttDial(ctx, &cfg, ids[i], cfg.Backlog, handlers[i])
		if err != nil {
			return Result{}, fmt.Errorf("consumer: %w", err)
		}
		filter := cfg.Filter
		if filter == "" {
			filter = cfg.address(i)
		}
		q, err := c.subscribe(ctx, filter, cfg.QoS)
		if err != nil {
			c.close()
			return Result{}, fmt.Errorf("subscribe %q: %w", filter, err)
		}
		granted = min(granted, q)
		if cfg.Backlog {
			// Subscribed in a session that outlives the connection:
			// the messages sent next queue up for it.
			c.close()
			continue
		}
		clients = append(clients, c)
	}
	if len(trackers) == 0 { // --consumers 0: send only
		trackers = append(trackers, NewTracker())
	}
	producers := make([]*mqttProducer, cfg.Producers)
	for i := range producers {
		c, err := mqttDial(ctx, &cfg, fmt.Sprintf("bench-p%d-%d", i, time.Now().UnixNano()), false, nil)
		if err != nil {
			return Result{}, fmt.Errorf("producer: %w", err)
		}
		clients = append(clients, c)
		producers[i] = &mqttProducer{cfg: &cfg, id: uint32(i), c: c, topic: cfg.address(i)}
	}

	ps := make([]producer, len(producers))
	for i, p := range producers {
		ps[i] = p
	}
	start, sendEnd, sent, total, errs, stopProgress := runProducers(ctx, &cfg, ps, &recvCount)
	var drainStart time.Time
	sessionsLost := 0
	if cfg.Backlog {
		// Resume the sessions: the server delivers what queued up.
		drainStart = time.Now()
		for i := range cfg.Consumers {
			c, err := mqttDial(ctx, &cfg, ids[i], true, handlers[i])
			if err != nil {
				stopProgress()
				return Result{}, fmt.Errorf("consumer resuming its session: %w", err)
			}
			clients = append(clients, c)
			if !c.sessionPresent() {
				sessionsLost++
			}
		}
	}
	scfg := cfg
	if cfg.Backlog && cfg.TimeLimit > 0 {
		scfg.TimeLimit += drainStart.Sub(start) // the drain gets a time limit of its own
	}
	res := summarize(ctx, &scfg, start, sendEnd, sent, total, errs, trackers, &recvCount, stopProgress, len(producers))
	if cfg.Consumers > 0 {
		res.GrantedQoS = &granted
	}
	if cfg.Backlog {
		res.SessionsLost = sessionsLost
		res.RecvRate = 0
		if d := start.Add(time.Duration(res.Seconds * float64(time.Second))).Sub(drainStart).Seconds(); d > 0 {
			res.RecvRate = float64(res.Received) / d
		}
	}
	return res, nil
}

// mqttClient is one MQTT connection: paho for MQTT 5, client311 for 3.1.1.
type mqttClient interface {
	// subscribe returns the QoS the server granted.
	subscribe(ctx context.Context, filter string, qos byte) (byte, error)
	// sessionPresent is the CONNACK's session present flag.
	sessionPresent() bool
	// publish returns once the publish is sent (QoS 0) or acknowledged.
	publish(ctx context.Context, topic string, qos byte, payload []byte) error
	close()
}

// mqttDial connects with client id id; persistent asks for a session that
// outlives the connection (3.1.1: clean session 0; 5: clean start 0 and a
// session expiry of an hour) and resumes one the server holds.
func mqttDial(ctx context.Context, cfg *Config, id string, persistent bool, onMsg func([]byte)) (mqttClient, error) {
	if cfg.MQTTVersion == 4 {
		return dial311(ctx, cfg, id, persistent, onMsg)
	}
	return dialPaho(ctx, cfg, id, persistent, onMsg)
}

type pahoClient struct {
	c       *paho.Client
	resumed bool // the CONNACK said the server had a session for us
}

func (p *pahoClient) sessionPresent() bool { return p.resumed }

func dialPaho(ctx context.Context, cfg *Config, id string, persistent bool, onMsg func([]byte)) (*pahoClient, error) {
	conn, err := cfg.target.dialTCP(ctx)
	if err != nil {
		return nil, err
	}
	if cfg.target.tls != nil {
		// paho writes a packet as several Write calls (net.Buffers) from
		// more than one goroutine, which stays whole only on a connection
		// that writes vectors at once (TCP, Unix); on a *tls.Conn the
		// packets interleave. It gets a loopback TCP connection whose
		// other end is copied to and from the TLS connection.
		if conn, err = bridgeTCP(conn); err != nil {
			return nil, err
		}
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		conn = newReadBuffered(tc)
	}
	cc := paho.ClientConfig{ClientID: id, Conn: conn, PacketTimeout: cfg.Drain + 10*time.Second,
		OnClientError: func(error) {}}
	if onMsg != nil {
		cc.OnPublishReceived = []func(paho.PublishReceived) (bool, error){func(pr paho.PublishReceived) (bool, error) {
			onMsg(pr.Packet.Payload)
			return true, nil
		}}
	}
	c := paho.NewClient(cc)
	cp := &paho.Connect{ClientID: id, KeepAlive: 60, CleanStart: !persistent}
	if persistent {
		expiry := uint32(3600)
		cp.Properties = &paho.ConnectProperties{SessionExpiryInterval: &expiry}
	}
	if t := cfg.target; t.user != "" {
		cp.Username, cp.UsernameFlag = t.user, true
		cp.Password, cp.PasswordFlag = []byte(t.password), true
	}
	ca, err := c.Connect(ctx, cp)
	if err != nil {
		conn.Close()
		if ca != nil {
			return nil, fmt.Errorf("connect refused: reason %#x %s", ca.ReasonCode, ca.Properties.ReasonString)
		}
		return nil, err
	}
	return &pahoClient{c: c, resumed: ca.SessionPresent}, nil
}

func (p *pahoClient) subscribe(ctx context.Context, filter string, qos byte) (byte, error) {
	sa, err := p.c.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: filter, QoS: qos}}})
	if err != nil {
		return 0, err
	}
	if len(sa.Reasons) != 1 || sa.Reasons[0] >= 0x80 {
		return 0, fmt.Errorf("refused: %v", sa.Reasons)
	}
	return sa.Reasons[0], nil // MQTT 5 §3.9.3: the granted QoS
}

func (p *pahoClient) publish(ctx context.Context, topic string, qos byte, payload []byte) error {
	r, err := p.c.Publish(ctx, &paho.Publish{Topic: topic, QoS: qos, Payload: payload})
	if err == nil && (r == nil || r.ReasonCode >= 0x80) {
		err = fmt.Errorf("publish refused")
	}
	return err
}

func (p *pahoClient) close() {
	p.c.Disconnect(&paho.Disconnect{})
	<-p.c.Done()
}

type mqttProducer struct {
	cfg    *Config
	id     uint32
	c      mqttClient
	topic  string
	sent   atomic.Uint64
	errors atomic.Uint64
}

func (p *mqttProducer) counts() (uint32, uint64, uint64) { return p.id, p.sent.Load(), p.errors.Load() }

func (p *mqttProducer) run(ctx context.Context, n int, deadline time.Time, rate float64) {
	// QoS 1 and 2 publishes wait for their acknowledgement; up to Window of
	// them are in flight at once (the client also honours the server's
	// receive maximum).
	window := make(chan struct{}, p.cfg.Window)
	var wg sync.WaitGroup
	defer wg.Wait()
	start := time.Now()
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
		payload := make([]byte, p.cfg.Size)
		putStamp(payload, p.id, seq, time.Now())
		if p.cfg.QoS == 0 {
			if err := p.c.publish(ctx, p.topic, 0, payload); err != nil {
				p.errors.Add(1)
				p.sent.Add(1)
				return
			}
			p.sent.Add(1)
			continue
		}
		select {
		case window <- struct{}{}:
		case <-ctx.Done():
			return
		}
		p.sent.Add(1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-window }()
			if err := p.c.publish(ctx, p.topic, p.cfg.QoS, payload); err != nil {
				p.errors.Add(1)
			}
		}()
	}
}
