package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/enmasse-go/enmasse/internal/bench"
	"github.com/enmasse-go/enmasse/internal/mqtt/packets"
	"github.com/enmasse-go/enmasse/internal/tlsconfig"
)

// benchJSON runs `enmasse bench ... --json` and decodes its result; a
// non-zero exit fails the test unless wantErr, which returns stderr.
func benchJSON(t *testing.T, wantErr bool, args ...string) (bench.Result, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Run(context.Background(), append([]string{"bench", "--json", "--drain", "2s"}, args...), &out, &errb)
	if wantErr {
		if code == 0 {
			t.Fatalf("bench %v: exit 0, want an error; out %s", args, out.String())
		}
		return bench.Result{}, errb.String()
	}
	if code != 0 {
		t.Fatalf("bench %v: exit %d: %s", args, code, errb.String())
	}
	var res bench.Result
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	return res, ""
}

func wantAll(t *testing.T, res bench.Result, sent, received uint64) {
	t.Helper()
	if res.Sent != sent || res.Received != received || res.Lost != 0 || res.Duplicates != 0 || res.Errors != 0 {
		t.Fatalf("result %+v, want %d sent, %d received, nothing lost", res, sent, received)
	}
}

// TestBenchTLS: enmasse bench over TLS against serve --tls-self-signed:
// amqps:// with --ca, --tls with a plain HOST:PORT, --insecure; without
// the CA the certificate is refused; the same for MQTT 5 and 3.1.1 over
// serve's --mqtts.
func TestBenchTLS(t *testing.T) {
	dataDir := t.TempDir()
	s := startServe(t, "--tls-self-signed", "--amqps", "127.0.0.1:0", "--mqtts", "127.0.0.1:0", "--data-dir", dataDir)
	ca := filepath.Join(dataDir, tlsDirName, tlsconfig.CACertFile)
	amqps := s.addrs["amqps"].String()
	run := []string{"--count", "300", "--quiet"}

	res, _ := benchJSON(t, false, append(run, "--url", "amqps://"+amqps, "--ca", ca, "--address", "tls-q1")...)
	wantAll(t, res, 300, 300)
	res, _ = benchJSON(t, false, append(run, "--url", amqps, "--tls", "--ca", ca, "--address", "tls-q2", "--presettled")...)
	wantAll(t, res, 300, 300)
	res, _ = benchJSON(t, false, append(run, "--url", "amqps://"+amqps, "--insecure", "--address", "tls-q3")...)
	wantAll(t, res, 300, 300)
	if _, errOut := benchJSON(t, true, append(run, "--url", "amqps://"+amqps, "--address", "tls-q4")...); !strings.Contains(errOut, "certificate") {
		t.Fatalf("without --ca: %s", errOut)
	}
	if _, errOut := benchJSON(t, true, append(run, "--url", "amqps://"+amqps, "--ca", filepath.Join(dataDir, "nope.pem"))...); !strings.Contains(errOut, "--ca") {
		t.Fatalf("missing --ca file: %s", errOut)
	}

	mqtts := s.addrs["mqtts"].String()
	for _, v := range []string{"5", "311"} {
		res, _ = benchJSON(t, false, append(run, "--protocol", "mqtt", "--mqtt-version", v, "--qos", "1",
			"--url", "mqtts://"+mqtts, "--ca", ca, "--address", "tls/t"+v)...)
		wantAll(t, res, 300, 300)
		res, _ = benchJSON(t, false, append(run, "--protocol", "mqtt", "--mqtt-version", v, "--qos", "0", "--rate", "20000",
			"--url", mqtts, "--tls", "--insecure", "--address", "tls/i"+v)...)
		wantAll(t, res, 300, 300)
		if _, errOut := benchJSON(t, true, append(run, "--protocol", "mqtt", "--mqtt-version", v,
			"--url", "mqtts://"+mqtts, "--address", "tls/u"+v)...); !strings.Contains(errOut, "certificate") {
			t.Fatalf("MQTT %s without --ca: %s", v, errOut)
		}
	}
}

// TestBenchCredentials: with anonymous access off, enmasse bench logs in
// to serve with --username/--password or the URL's user info, over AMQP
// and MQTT 5 and 3.1.1; a wrong password is refused.
func TestBenchCredentials(t *testing.T) {
	s := startServeWithUsers(t, userYAML)
	amqpAddr := s.addrs["amqp"].String()
	run := []string{"--count", "200", "--quiet"}

	res, _ := benchJSON(t, false, append(run, "--url", amqpAddr, "--username", "alice", "--password", "secret", "--address", "cred-q1")...)
	wantAll(t, res, 200, 200)
	res, _ = benchJSON(t, false, append(run, "--url", "amqp://alice:secret@"+amqpAddr, "--address", "cred-q2")...)
	wantAll(t, res, 200, 200)
	if _, errOut := benchJSON(t, true, append(run, "--url", "amqp://alice:wrong@"+amqpAddr, "--address", "cred-q3")...); !strings.Contains(errOut, "authentication failed") {
		t.Fatalf("wrong password: %s", errOut)
	}
	if _, errOut := benchJSON(t, true, append(run, "--url", amqpAddr, "--address", "cred-q3")...); errOut == "" {
		t.Fatal("anonymous: no error")
	}
	mqttAddr := s.addrs["mqtt"].String()
	for _, v := range []string{"5", "311"} {
		res, _ = benchJSON(t, false, append(run, "--protocol", "mqtt", "--mqtt-version", v, "--qos", "1",
			"--url", "mqtt://alice:secret@"+mqttAddr, "--address", "cred/t"+v)...)
		wantAll(t, res, 200, 200)
		res, _ = benchJSON(t, false, append(run, "--protocol", "mqtt", "--mqtt-version", v, "--qos", "1",
			"--url", mqttAddr, "--username", "alice", "--password", "secret", "--address", "cred/u"+v)...)
		wantAll(t, res, 200, 200)
		if _, errOut := benchJSON(t, true, append(run, "--protocol", "mqtt", "--mqtt-version", v,
			"--url", "mqtt://alice:wrong@"+mqttAddr, "--address", "cred/w"+v)...); !strings.Contains(errOut, "refused") {
			t.Fatalf("MQTT %s wrong password: %s", v, errOut)
		}
	}
}

// TestBenchMQTTConnectCredentials: the MQTT CONNECT carries --username and
// --password or the URL's user info exactly (escapes decoded); a refusal
// is reported.
func TestBenchMQTTConnectCredentials(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	got := make(chan *packets.Connect, 10)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := packets.NewReader(c, 1<<16)
				p, err := r.ReadPacket()
				if err != nil {
					return
				}
				cp := p.(*packets.Connect)
				got <- cp
				packets.WriteTo(c, &packets.Connack{ReasonCode: packets.ReasonBadUserNameOrPassword}, cp.ProtocolVersion)
			}()
		}
	}()
	addr := ln.Addr().String()
	for _, v := range []string{"5", "311"} {
		for _, creds := range [][]string{{"--url", "mqtt://al%40ice:p%3Aw@" + addr}, {"--url", addr, "--username", "al@ice", "--password", "p:w"}} {
			_, errOut := benchJSON(t, true, append([]string{"--protocol", "mqtt", "--mqtt-version", v, "--count", "1", "--quiet"}, creds...)...)
			if !strings.Contains(errOut, "refused") {
				t.Fatalf("%s %v: %s", v, creds, errOut)
			}
			cp := <-got
			if !cp.HasUsername || cp.Username != "al@ice" || !cp.HasPassword || string(cp.Password) != "p:w" {
				t.Fatalf("%s %v: CONNECT %+v", v, creds, cp)
			}
		}
	}
}

// TestBenchIdleConns: --idle-conns opens that many idle AMQP and MQTT
// connections to serve and reads the server's memory (this process).
func TestBenchIdleConns(t *testing.T) {
	s := startServe(t)
	for proto, addr := range map[string]string{"amqp": s.addrs["amqp"].String(), "mqtt": s.addrs["mqtt"].String()} {
		var out, errb bytes.Buffer
		code := Run(context.Background(), []string{"bench", "--protocol", proto, "--url", addr, "--idle-conns", "50",
			"--idle-hold", "10ms", "--server-pid", strconv.Itoa(os.Getpid()), "--json"}, &out, &errb)
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", proto, code, errb.String())
		}
		var res bench.IdleResult
		if err := json.Unmarshal(out.Bytes(), &res); err != nil {
			t.Fatalf("%v: %s", err, out.String())
		}
		if res.Opened != 50 || res.Errors != 0 || res.Protocol != proto || res.RSSBefore <= 0 || res.RSSAfter <= 0 {
			t.Fatalf("%s: %+v", proto, res)
		}
	}
	// A port with nothing behind it: every connection fails, counted.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := ln.Addr().String()
	ln.Close()
	var out, errb bytes.Buffer
	if code := Run(context.Background(), []string{"bench", "--url", dead, "--idle-conns", "3", "--json"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var res bench.IdleResult
	if err := json.Unmarshal(out.Bytes(), &res); err != nil || res.Opened != 0 || res.Errors != 3 || res.FirstErr == "" {
		t.Fatalf("%v %+v", err, res)
	}
}
