package bench

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/enmasse-go/enmasse/internal/amqp/transport"
)

// IdleResult is the outcome of RunIdle. RSS figures are in KiB and zero
// without a server pid.
type IdleResult struct {
	Protocol  string  `json:"protocol"`
	Wanted    int     `json:"idle_conns"`
	Opened    int     `json:"opened"`
	Errors    int     `json:"errors"`
	FirstErr  string  `json:"first_error,omitempty"`
	Seconds   float64 `json:"seconds"` // time to open them all
	RSSBefore int     `json:"rss_before_kb,omitempty"`
	RSSAfter  int     `json:"rss_after_kb,omitempty"`
	// RSSPerConn is (RSSAfter-RSSBefore)/Opened in KiB.
	RSSPerConn float64 `json:"rss_per_conn_kb,omitempty"`
}

// idleParallel is how many connections RunIdle opens at once.
const idleParallel = 32

// RunIdle opens n connections to the server and leaves them idle: AMQP
// (protocol "amqp": SASL, open, no session, no idle timeout) or MQTT
// ("mqtt": a 3.1.1 CONNECT with keep-alive 0, which every MQTT server
// accepts). With serverPID > 0 it reads that process's resident memory
// (Linux /proc/PID/status VmRSS) before opening and again after hold with
// all of them open, then closes them. Connections that fail are counted,
// not fatal; cfg.TimeLimit (when set) bounds the opening.
func RunIdle(ctx context.Context, cfg Config, protocol string, n, serverPID int, hold time.Duration) (IdleResult, error) {
	res := IdleResult{Protocol: protocol, Wanted: n}
	t, err := resolveTarget(&cfg, protocol)
	if err != nil {
		return res, err
	}
	cfg.target = t
	var open func(ctx context.Context) (func(), error)
	switch protocol {
	case "amqp":
		open = func(ctx context.Context) (func(), error) {
			c, err := t.dialAMQP(ctx, transport.Options{IdleTimeout: -1})
			if err != nil {
				return nil, err
			}
			return func() { c.Close(context.Background(), nil) }, nil
		}
	case "mqtt":
		cfg.MQTTVersion = 4
		var seq atomic.Int64
		prefix := fmt.Sprintf("bench-idle-%d-", time.Now().UnixNano())
		open = func(ctx context.Context) (func(), error) {
			c, err := dial311(ctx, &cfg, prefix+strconv.FormatInt(seq.Add(1), 10), false, func([]byte) {})
			if err != nil {
				return nil, err
			}
			return c.close, nil
		}
	default:
		return res, fmt.Errorf("protocol %q: amqp or mqtt", protocol)
	}
	if serverPID > 0 {
		if res.RSSBefore, err = ReadRSS(serverPID); err != nil {
			return res, err
		}
	}
	if cfg.TimeLimit > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cfg.TimeLimit)
		defer cancel()
	}
	var (
		mu      sync.Mutex
		closers []func()
		next    atomic.Int64
		wg      sync.WaitGroup
	)
	defer func() {
		// Closing 10,000 connections one by one takes a while; in parallel.
		var cw sync.WaitGroup
		ch := make(chan func())
		for range idleParallel {
			cw.Go(func() {
				for c := range ch {
					c()
				}
			})
		}
		for _, c := range closers {
			ch <- c
		}
		close(ch)
		cw.Wait()
	}()
	start := time.Now()
	for range idleParallel {
		wg.Go(func() {
			for next.Add(1) <= int64(n) && ctx.Err() == nil {
				dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
				c, err := open(dctx)
				cancel()
				mu.Lock()
				if err != nil {
					res.Errors++
					if res.FirstErr == "" {
						res.FirstErr = err.Error()
					}
				} else {
					closers = append(closers, c)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	res.Seconds = time.Since(start).Seconds()
	res.Opened = len(closers)
	if serverPID > 0 {
		select {
		case <-time.After(hold):
		case <-ctx.Done():
		}
		if res.RSSAfter, err = ReadRSS(serverPID); err != nil {
			return res, err
		}
		if res.Opened > 0 {
			res.RSSPerConn = float64(res.RSSAfter-res.RSSBefore) / float64(res.Opened)
		}
	}
	return res, nil
}

// ReadRSS returns the resident set size of a local process in KiB, from
// /proc/PID/status (Linux).
func ReadRSS(pid int) (int, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("server memory: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			if fs := strings.Fields(v); len(fs) > 0 {
				return strconv.Atoi(fs[0])
			}
		}
	}
	return 0, fmt.Errorf("server memory: no VmRSS in /proc/%d/status", pid)
}
