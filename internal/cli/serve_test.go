package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func mustParseServe(t *testing.T, args ...string) serveOptions {
	t.Helper()
	opts, err := parseServeArgs(args, io.Discard)
	if err != nil {
		t.Fatalf("parseServeArgs(%q): %v", args, err)
	}
	return opts
}

// syncBuffer is a bytes.Buffer safe for the logger and the test to share.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// testServe is an in-process `enmasse serve`.
type testServe struct {
	addrs  map[string]net.Addr // real listen address of each component
	logs   *syncBuffer
	cancel context.CancelFunc
	done   chan error // receives runServe's result
}

// serveWait bounds the waits for serve to become ready and to stop. They
// end as soon as serve is ready or stopped; the bound is for a broken
// serve and is generous because on a loaded machine (2 cores shared by
// parallel test runs and benchmarks) opening and closing the journal and
// the control-plane database wait for fsyncs that can take seconds.
const serveWait = 60 * time.Second

// clientWait bounds a client's wait for an answer it must get (CONNACK,
// SUBACK, PUBACK, an expected message): as long a bound as a loaded
// machine needs, still a failure when the answer never comes.
const clientWait = 30 * time.Second

// startServe runs serve in-process on random loopback ports with a fresh
// data dir, after applying extra flags (e.g. "--log-level", "debug"). It
// returns once every component listens; the serve is stopped at cleanup.
// Set ENMASSE_TEST_LOG=1 to see its logs.
func startServe(t *testing.T, args ...string) *testServe {
	t.Helper()
	// --mqtts off unless a test gives it: with TLS it would default to
	// the fixed port 8883.
	base := []string{"--amqp", "127.0.0.1:0", "--http", "127.0.0.1:0", "--mqtt", "127.0.0.1:0", "--mqtts", "", "--data-dir", t.TempDir()}
	opts := mustParseServe(t, append(base, args...)...)
	return startServeOptions(t, opts)
}

func startServeOptions(t *testing.T, opts serveOptions) *testServe {
	t.Helper()
	ready := make(chan map[string]net.Addr, 1)
	opts.ready = func(addrs map[string]net.Addr) { ready <- addrs }
	ctx, cancel := context.WithCancel(context.Background())
	s := &testServe{logs: &syncBuffer{}, cancel: cancel, done: make(chan error, 1)}
	go func() { s.done <- runServe(ctx, opts, s.logs) }()
	t.Cleanup(func() {
		s.cancel()
		select {
		case <-s.done:
		case <-time.After(serveWait):
			t.Errorf("serve did not stop within %v", serveWait)
		}
		if t.Failed() || os.Getenv("ENMASSE_TEST_LOG") != "" {
			t.Logf("serve logs:\n%s", s.logs)
		}
	})
	select {
	case s.addrs = <-ready:
	case err := <-s.done:
		s.done <- err // for cleanup
		t.Fatalf("serve failed to start: %v\nlogs:\n%s", err, s.logs)
	case <-time.After(serveWait):
		t.Fatalf("serve not ready within %v; logs:\n%s", serveWait, s.logs)
	}
	return s
}

// stop cancels the serve and returns its result.
func (s *testServe) stop(t *testing.T) error {
	t.Helper()
	s.cancel()
	select {
	case err := <-s.done:
		s.done <- err // for cleanup
		return err
	case <-time.After(serveWait):
		t.Fatalf("serve did not stop within %v", serveWait)
		return nil
	}
}

func (s *testServe) url(path string) string {
	return "http://" + s.addrs["http"].String() + path
}

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return resp.StatusCode, string(body)
}

func TestServeParseFlags(t *testing.T) {
	tests := map[string]struct {
		args []string
		want serveOptions
	}{
		"defaults": {nil, serveOptions{
			amqpAddr: "127.0.0.1:5672", httpAddr: "127.0.0.1:8080", mqttAddr: "127.0.0.1:1883", dataDir: "./enmasse-data",
			logFormat: "text", logLevel: "info", anonymous: true,
			mqttMaxSessionExpiry: 7 * 24 * 3600, mqttMaxSessions: 10000, mqttIdleRelease: 5 * time.Second,
		}},
		"everything": {
			[]string{"--amqp=[::1]:0", "--http", "", "--data-dir", "/var/lib/enmasse",
				"--log-format", "JSON", "-log-level", "debug", "--allow-anonymous=false",
				"--mqtt-max-session-expiry", "1h", "--mqtt-max-sessions", "-1", "--mqtt-idle-release", "0"},
			serveOptions{
				amqpAddr: "[::1]:0", httpAddr: "", mqttAddr: "127.0.0.1:1883", dataDir: "/var/lib/enmasse",
				logFormat: "json", logLevel: "debug",
				mqttMaxSessionExpiry: 3600, mqttMaxSessions: -1,
				allowAnonymous: optionalBool{set: true, value: false}, anonymous: false,
			},
		},
		"bare bool": {[]string{"--allow-anonymous", "--http", ":8080"}, serveOptions{
			amqpAddr: "127.0.0.1:5672", httpAddr: ":8080", mqttAddr: "127.0.0.1:1883", dataDir: "./enmasse-data",
			logFormat: "text", logLevel: "info",
			mqttMaxSessionExpiry: 7 * 24 * 3600, mqttMaxSessions: 10000, mqttIdleRelease: 5 * time.Second,
			allowAnonymous: optionalBool{set: true, value: true}, anonymous: true,
		}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := mustParseServe(t, tc.args...)
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestServeConfigFileMerge(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "enmasse.yaml")
	writeFile(t, cfg, `# whole setup in git
amqp: 0.0.0.0:5673
http: 127.0.0.1:9090
data-dir: /srv/enmasse
log-level: warn
log-format: json
resources:
  - apiVersion: enmasse.io/v1beta1
    kind: Address
    metadata: {name: default.orders}
    spec: {address: orders, type: queue, plan: standard-small-queue}
`)
	opts, err := parseServeArgs([]string{"--config", cfg, "--http", "127.0.0.1:0", "--log-level=debug"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if opts.amqpAddr != "0.0.0.0:5673" || opts.dataDir != "/srv/enmasse" || opts.logFormat != "json" {
		t.Errorf("file values not applied: %+v", opts)
	}
	if opts.httpAddr != "127.0.0.1:0" || opts.logLevel != "debug" {
		t.Errorf("command line did not override the file: %+v", opts)
	}
	if opts.anonymous {
		t.Errorf("anonymous on with amqp on 0.0.0.0 from the config file")
	}
	if opts.resources == nil || len(opts.resources.Content) != 1 {
		t.Fatalf("resources not kept: %+v", opts.resources)
	}
	var res []map[string]any
	if err := opts.resources.Decode(&res); err != nil {
		t.Fatal(err)
	}
	if res[0]["kind"] != "Address" {
		t.Errorf("resources[0] = %v", res[0])
	}
}

func TestServeConfigFileValues(t *testing.T) {
	tests := map[string]struct {
		yaml    string
		check   func(serveOptions) bool
		wantErr string // substring; "" means success
	}{
		"empty file":     {"", func(o serveOptions) bool { return o.httpAddr == defaultHTTPAddr }, ""},
		"comments only":  {"# nothing\n", func(o serveOptions) bool { return o.amqpAddr == defaultAMQPAddr }, ""},
		"null disables":  {"http:\n", func(o serveOptions) bool { return o.httpAddr == "" }, ""},
		"empty disables": {`amqp: ""`, func(o serveOptions) bool { return o.amqpAddr == "" }, ""},
		"bool key":       {"allow-anonymous: false\n", func(o serveOptions) bool { return !o.anonymous }, ""},
		"unknown key":    {"amqp: 127.0.0.1:1\nmqtt-ws: 127.0.0.1:8883\n", nil, `line 2: unknown key "mqtt-ws" (known keys: admin-password-file, allow-anonymous, amqp, amqps, data-dir, http, http-tls, log-format, log-level, mqtt, mqtt-idle-release, mqtt-max-session-expiry, mqtt-max-sessions, mqtts, oidc-audience, oidc-issuer, oidc-jwks, oidc-provider, oidc-username-claim, resources, tls-cert, tls-client-ca, tls-key, tls-self-signed)`},
		"config key":     {"config: other.yaml\n", nil, `unknown key "config"`},
		"bad value":      {"log-level: loud\n", nil, `line 1: invalid value "loud" for key "log-level": want one of debug, info, warn, error`},
		"bad listener":   {"http: nope\n", nil, `invalid value "nope" for key "http"`},
		"list value":     {"http: [a, b]\n", nil, `key "http": want a single value`},
		"duplicate key":  {"http: a:1\nhttp: b:2\n", nil, `line 2: key "http" given twice`},
		"not a mapping":  {"- amqp\n", nil, "want a mapping of flag names to values"},
		"bad yaml":       {"amqp: [\n", nil, "yaml:"},
		"bad data-dir":   {"data-dir:\n", nil, "--data-dir must not be empty"},
		"idle release":   {"mqtt-idle-release: 30s\n", func(o serveOptions) bool { return o.mqttIdleRelease == 30*time.Second }, ""},
		"negative idle":  {"mqtt-idle-release: -1s\n", nil, "--mqtt-idle-release must not be negative"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			cfg := filepath.Join(t.TempDir(), "c.yaml")
			writeFile(t, cfg, tc.yaml)
			opts, err := parseServeArgs([]string{"--config", cfg}, io.Discard)
			if tc.wantErr != "" {
				var ue *usageError
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errors.As(err, &ue) {
					t.Fatalf("err = %v, want usage error containing %q", err, tc.wantErr)
				}
				if !strings.Contains(err.Error(), cfg) && !strings.HasPrefix(tc.wantErr, "--") { // checks after parsing name the flag
					t.Errorf("error %q does not name the file", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check(opts) {
				t.Fatalf("unexpected options %+v", opts)
			}
		})
	}
}

func TestServeConfigUnknownKeyExitCode(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "c.yaml")
	writeFile(t, cfg, "mqtt-ws: :8883\n")
	code, _, stderr := runCLI(t, "serve", "--config", cfg)
	if code != 2 || !strings.Contains(stderr, `unknown key "mqtt-ws"`) || strings.Count(stderr, "\n") != 1 {
		t.Fatalf("code %d stderr %q", code, stderr)
	}
}

func TestServeHealthz(t *testing.T) {
	s := startServe(t)
	if code, body := httpGet(t, s.url("/healthz")); code != 200 || body != "ok\n" {
		t.Errorf("/healthz = %d %q", code, body)
	}
	if code, body := httpGet(t, s.url("/readyz")); code != 200 || body != "ok\n" {
		t.Errorf("/readyz = %d %q", code, body)
	}
	if code, body := httpGet(t, s.url("/")); code != 200 || !strings.Contains(body, "enmasse ") {
		t.Errorf("/ = %d %q", code, body)
	}
	if code, _ := httpGet(t, s.url("/nope")); code != 404 {
		t.Errorf("/nope = %d, want 404", code)
	}
	logs := s.logs.String()
	want := fmt.Sprintf("msg=listening proto=http addr=%s", s.addrs["http"])
	if !strings.Contains(logs, want) {
		t.Errorf("logs lack %q:\n%s", want, logs)
	}
	if !strings.Contains(logs, "anonymous access is on") {
		t.Errorf("logs lack the anonymous warning:\n%s", logs)
	}
}

func TestServeJSONLogs(t *testing.T) {
	s := startServe(t, "--log-format", "json")
	want := fmt.Sprintf(`"msg":"listening","proto":"http","addr":"%s"`, s.addrs["http"])
	if logs := s.logs.String(); !strings.Contains(logs, want) {
		t.Errorf("logs lack %q:\n%s", want, logs)
	}
}

func TestServeHTTPDisabled(t *testing.T) {
	s := startServe(t, "--http", "")
	if a, ok := s.addrs["http"]; ok {
		t.Fatalf("http listening on %v although disabled", a)
	}
}

func TestServeLockConflict(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	startServe(t, "--data-dir", dir)
	code, _, stderr := runCLI(t, "serve", "--http", "127.0.0.1:0", "--amqp", "", "--mqtt", "", "--data-dir", dir)
	want := fmt.Sprintf("enmasse serve: data dir %s is in use by another enmasse process (pid %d)\n", dir, os.Getpid())
	if code != 1 || stderr != want {
		t.Fatalf("second serve: code %d stderr %q, want 1 and %q", code, stderr, want)
	}
}

func TestServeLockReleasedAfterStop(t *testing.T) {
	dir := t.TempDir()
	s := startServe(t, "--data-dir", dir)
	if err := s.stop(t); err != nil {
		t.Fatal(err)
	}
	l, err := lockDataDir(dir)
	if err != nil {
		t.Fatalf("lock after stop: %v", err)
	}
	l.release()
}

func TestServeGracefulShutdown(t *testing.T) {
	s := startServe(t)
	addr := s.addrs["http"].String()
	if err := s.stop(t); err != nil {
		t.Fatalf("serve returned %v, want nil", err)
	}
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Errorf("http listener %s still accepts after shutdown", addr)
	}
	logs := s.logs.String()
	for _, msg := range []string{"msg=\"shutting down\"", "msg=stopped"} {
		if !strings.Contains(logs, msg) {
			t.Errorf("logs lack %s:\n%s", msg, logs)
		}
	}
}

func TestServeReadyz(t *testing.T) {
	var ready readiness
	mux := http.NewServeMux()
	addBaseRoutes(mux, &ready)
	srv := &httpComponent{addr: "127.0.0.1:0", handler: mux, logger: discardLogger()}
	if err := srv.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Shutdown(context.Background()) })
	url := "http://" + srv.Addr().String()
	for _, tc := range []struct {
		phase int32
		code  int
		body  string
	}{
		{phaseStarting, 503, "not ready: starting\n"},
		{phaseReady, 200, "ok\n"},
		{phaseStopping, 503, "not ready: shutting down\n"},
	} {
		ready.set(tc.phase)
		if code, body := httpGet(t, url+"/readyz"); code != tc.code || body != tc.body {
			t.Errorf("phase %d: /readyz = %d %q, want %d %q", tc.phase, code, body, tc.code, tc.body)
		}
		if code, _ := httpGet(t, url+"/healthz"); code != 200 {
			t.Errorf("phase %d: /healthz = %d", tc.phase, code)
		}
	}
}
