package cli

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	amqp "github.com/Azure/go-amqp"

	"github.com/enmasse-go/enmasse/internal/amqp/sasl"
	"github.com/enmasse-go/enmasse/internal/amqp/transport"
)

// testCA issues server and client certificates for the serve TLS tests.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	file string // the CA certificate, PEM
	pool *x509.CertPool
}

var testSerial atomic.Int64

func newTestCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(testSerial.Add(1)), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	ca := &testCA{cert: cert, key: key, file: filepath.Join(t.TempDir(), "ca.crt"), pool: x509.NewCertPool()}
	ca.pool.AddCert(cert)
	writeFile(t, ca.file, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	return ca
}

// issue returns a certificate for cn (server: for 127.0.0.1) as PEM
// certificate and key, and its serial number.
func (ca *testCA) issue(t *testing.T, cn string, client bool) (certPEM, keyPEM string, serial int64) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	serial = testSerial.Add(1)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	if client {
		tmpl.ExtKeyUsage, tmpl.IPAddresses = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, nil
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kd, _ := x509.MarshalPKCS8PrivateKey(key)
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kd})), serial
}

func (ca *testCA) clientCert(t *testing.T, cn string) tls.Certificate {
	t.Helper()
	c, k, _ := ca.issue(t, cn, true)
	pair, err := tls.X509KeyPair([]byte(c), []byte(k))
	if err != nil {
		t.Fatal(err)
	}
	return pair
}

var caLine = regexp.MustCompile(`(?m)^Development CA certificate \(trust it in TLS clients\): (.+)$`)

// caPool reads the CA path serve printed for --tls-self-signed and returns
// the path and a pool trusting it.
func (s *testServe) caPool(t *testing.T) (string, *x509.CertPool) {
	t.Helper()
	m := caLine.FindStringSubmatch(s.logs.String())
	if m == nil {
		t.Fatalf("serve did not print the CA path:\n%s", s.logs)
	}
	data, err := os.ReadFile(m[1])
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		t.Fatalf("%s holds no certificate", m[1])
	}
	return m[1], pool
}

// sendReceive sends body to queue over c and receives it back.
func sendReceive(t *testing.T, c *amqp.Conn, queue, body string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := c.NewSession(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background()) // detaches the links: the queue keeps no consumer of ours
	snd, err := s.NewSender(ctx, queue, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := snd.Send(ctx, amqp.NewMessage([]byte(body)), nil); err != nil {
		t.Fatalf("send: %v", err)
	}
	rcv, err := s.NewReceiver(ctx, queue, nil)
	if err != nil {
		t.Fatal(err)
	}
	m, err := rcv.Receive(ctx, nil)
	if err != nil {
		t.Fatalf("receive: %v", err)
	}
	if err := rcv.AcceptMessage(ctx, m); err != nil {
		t.Fatal(err)
	}
	if got := string(m.GetData()); got != body {
		t.Fatalf("received %q, want %q", got, body)
	}
}

func dialAMQPS(t *testing.T, addr net.Addr, opts *amqp.ConnOptions) (*amqp.Conn, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := amqp.Dial(ctx, "amqps://"+addr.String(), opts)
	if err == nil {
		t.Cleanup(func() { c.Close() })
	}
	return c, err
}

func TestServeTLSFlags(t *testing.T) {
	tests := map[string]struct {
		args      []string
		amqps     string
		anonymous bool
		wantErr   string
		mqtts     string // checked when not empty
	}{
		"no tls":                {nil, "", true, "", ""},
		"self-signed":           {[]string{"--tls-self-signed"}, ":5671", false, "", ":8883"},
		"self-signed, loopback": {[]string{"--tls-self-signed", "--amqps", "127.0.0.1:5671"}, "127.0.0.1:5671", true, "", "127.0.0.1:8883"},
		"self-signed, allowed":  {[]string{"--tls-self-signed", "--allow-anonymous"}, ":5671", true, "", ":8883"},
		"amqps disabled":        {[]string{"--tls-cert", "c.pem", "--tls-key", "k.pem", "--amqps", ""}, "", true, "", "127.0.0.1:8883"},
		"mqtts given":           {[]string{"--tls-self-signed", "--amqps", "", "--mqtts", ":18883"}, "", false, "", ":18883"},
		"mqtts disabled":        {[]string{"--tls-self-signed", "--amqps", "", "--mqtts", ""}, "", true, "", ""},
		"mqtts without tls":     {[]string{"--mqtts", "127.0.0.1:8883"}, "", false, "--mqtts needs a TLS certificate", ""},
		"mqtts empty, no tls":   {[]string{"--mqtts", ""}, "", true, "", ""},
		"other listener public": {[]string{"--tls-self-signed", "--amqps", "", "--mqtt", ":1883"}, "", false, "", ":8883"},
		"cert and key":          {[]string{"--tls-cert", "c.pem", "--tls-key", "k.pem"}, ":5671", false, "", ":8883"},
		"amqps without tls":     {[]string{"--amqps", "127.0.0.1:5671"}, "", false, "--amqps needs a TLS certificate: give --tls-cert and --tls-key, or --tls-self-signed", ""},
		"amqps empty, no tls":   {[]string{"--amqps", ""}, "", true, "", ""},
		"cert without key":      {[]string{"--tls-cert", "c.pem"}, "", false, "--tls-cert and --tls-key must be given together", ""},
		"key without cert":      {[]string{"--tls-key", "k.pem"}, "", false, "--tls-cert and --tls-key must be given together", ""},
		"both kinds":            {[]string{"--tls-self-signed", "--tls-cert", "c", "--tls-key", "k"}, "", false, "exclude each other", ""},
		"client ca without tls": {[]string{"--tls-client-ca", "ca.pem"}, "", false, "--tls-client-ca needs a TLS certificate", ""},
		"http-tls without tls":  {[]string{"--http-tls"}, "", false, "--http-tls needs a TLS certificate", ""},
		"bad amqps":             {[]string{"--tls-self-signed", "--amqps", "nope"}, "", false, `invalid value "nope" for --amqps`, ""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			opts, err := parseServeArgs(tc.args, io.Discard)
			if tc.wantErr != "" {
				var ue *usageError
				if err == nil || !errors.As(err, &ue) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want usage error containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if opts.amqpsAddr != tc.amqps || opts.anonymous != tc.anonymous {
				t.Fatalf("amqps %q anonymous %v, want %q %v", opts.amqpsAddr, opts.anonymous, tc.amqps, tc.anonymous)
			}
			if tc.mqtts != "" && opts.mqttsAddr != tc.mqtts {
				t.Fatalf("mqtts %q, want %q", opts.mqttsAddr, tc.mqtts)
			}
		})
	}
}

func TestServeTLSConfigFileKeys(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "c.yaml")
	writeFile(t, cfg, "tls-self-signed: true\ntls-client-ca: /etc/enmasse/clients.pem\nhttp-tls: true\namqps: 127.0.0.1:5671\n")
	opts, err := parseServeArgs([]string{"--config", cfg}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !opts.tlsSelfSigned || !opts.httpTLS || opts.tlsClientCA != "/etc/enmasse/clients.pem" || opts.amqpsAddr != "127.0.0.1:5671" {
		t.Fatalf("config keys not applied: %+v", opts)
	}
	// With TLS from the file, --amqps defaults to :5671.
	writeFile(t, cfg, "tls-cert: /etc/enmasse/tls.crt\ntls-key: /etc/enmasse/tls.key\n")
	if opts, err = parseServeArgs([]string{"--config", cfg}, io.Discard); err != nil {
		t.Fatal(err)
	}
	if opts.amqpsAddr != ":5671" || opts.anonymous {
		t.Fatalf("amqps %q anonymous %v", opts.amqpsAddr, opts.anonymous)
	}
}

func TestServeHelpMentionsTLS(t *testing.T) {
	code, stdout, _ := runCLI(t, "serve", "--help")
	for _, want := range []string{"--amqps HOST:PORT", "--tls-cert FILE", "--tls-key FILE", "--tls-client-ca FILE",
		"--tls-self-signed", "--http-tls", "turns anonymous access off unless --allow-anonymous", "DATA-DIR/tls",
		"--mqtts HOST:PORT", "/mqtt"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("help lacks %q", want)
		}
	}
	if code != 0 {
		t.Errorf("code %d", code)
	}
}

// TestServeAMQPSSelfSigned: --tls-self-signed prints the CA; a go-amqp
// client trusting it sends and receives over amqps, and the plain listener
// offers the in-band TLS upgrade.
func TestServeAMQPSSelfSigned(t *testing.T) {
	dataDir := t.TempDir()
	s := startServe(t, "--tls-self-signed", "--amqps", "127.0.0.1:0", "--data-dir", dataDir)
	caPath, pool := s.caPool(t)
	if want := filepath.Join(dataDir, "tls", "ca.crt"); caPath != want {
		t.Errorf("CA at %s, want %s", caPath, want)
	}
	logs := s.logs.String()
	for _, want := range []string{
		fmt.Sprintf("msg=listening proto=amqps addr=%s", s.addrs["amqps"]),
		"ca=" + caPath + " ca_created=true",
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %q:\n%s", want, logs)
		}
	}
	if !s.logsContainAnonymousOn() {
		t.Errorf("anonymous off although every listener is on loopback:\n%s", logs)
	}

	c, err := dialAMQPS(t, s.addrs["amqps"], &amqp.ConnOptions{TLSConfig: &tls.Config{RootCAs: pool}})
	if err != nil {
		t.Fatalf("amqps dial: %v", err)
	}
	sendReceive(t, c, "tls-orders", "over amqps")

	// A client that does not trust the development CA is refused.
	if _, err := dialAMQPS(t, s.addrs["amqps"], &amqp.ConnOptions{TLSConfig: &tls.Config{}}); err == nil ||
		!strings.Contains(err.Error(), "certificate signed by unknown authority") {
		t.Errorf("dial without the CA: %v, want an unknown authority error", err)
	}

	// The plain listener: in-band upgrade with "AMQP\x02" (AMQP 1.0 §5.2.1).
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tc, err := transport.Dial(ctx, s.addrs["amqp"].String(), transport.Options{
		TLSConfig: &tls.Config{RootCAs: pool, ServerName: "localhost"}, TLSInBand: true,
		SASL: sasl.NewAnonymousClient(""),
	})
	if err != nil {
		t.Fatalf("in-band TLS upgrade: %v", err)
	}
	defer tc.Close(context.Background(), nil)
	if st := tc.TLSState(); st == nil || st.Version < tls.VersionTLS12 {
		t.Fatalf("in-band upgrade: TLS state %+v", st)
	}
	// And plain AMQP still works there.
	if _, err := transport.Dial(ctx, s.addrs["amqp"].String(), transport.Options{SASL: sasl.NewAnonymousClient("")}); err != nil {
		t.Fatalf("plain amqp: %v", err)
	}
	if err := s.stop(t); err != nil {
		t.Fatal(err)
	}

	// The next start reuses the CA, so clients keep trusting it.
	caBefore, _ := os.ReadFile(caPath)
	s2 := startServe(t, "--tls-self-signed", "--amqps", "127.0.0.1:0", "--data-dir", dataDir)
	if !strings.Contains(s2.logs.String(), "ca_created=false cert="+filepath.Join(dataDir, "tls", "server.crt")+" cert_created=false") {
		t.Errorf("second start did not reuse the PKI:\n%s", s2.logs)
	}
	if caAfter, _ := os.ReadFile(caPath); string(caAfter) != string(caBefore) {
		t.Error("CA changed on restart")
	}
	c2, err := dialAMQPS(t, s2.addrs["amqps"], &amqp.ConnOptions{TLSConfig: &tls.Config{RootCAs: pool}})
	if err != nil {
		t.Fatalf("amqps dial after restart with the old CA: %v", err)
	}
	sendReceive(t, c2, "tls-orders", "after restart")
}

func (s *testServe) logsContainAnonymousOn() bool {
	return strings.Contains(s.logs.String(), "anonymous access is on")
}

// TestServeAMQPSClientCertificate: with --tls-client-ca, a client
// certificate from that CA authenticates with SASL EXTERNAL (anonymous
// access off); an untrusted one fails the handshake and the server keeps
// serving.
func TestServeAMQPSClientCertificate(t *testing.T) {
	clients := newTestCA(t, "client CA")
	s := startServe(t, "--tls-self-signed", "--amqps", "127.0.0.1:0", "--tls-client-ca", clients.file,
		"--allow-anonymous=false", "--log-level", "debug", "--config", adminConfig(t))
	_, pool := s.caPool(t)
	alice := clients.clientCert(t, "alice")
	// The certificate's identity is a MessagingUser whose rules apply.
	file := filepath.Join(t.TempDir(), "alice.yaml")
	writeFile(t, file, `apiVersion: user.enmasse.io/v1beta1
kind: MessagingUser
metadata: {name: default.alice}
spec:
  username: alice
  authentication: {type: password, password: eA==}
  authorization:
  - addresses: ["alice-*"]
    operations: ["send", "recv"]
`)
	if code, out, errOut := runCLI(t, "apply", "-f", file, "--server", "http://"+s.addrs["http"].String(),
		"--user", "admin", "--password", "admin"); code != 0 {
		t.Fatalf("apply: %d %s%s", code, out, errOut)
	}

	c, err := dialAMQPS(t, s.addrs["amqps"], &amqp.ConnOptions{
		TLSConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{alice}},
		SASLType:  amqp.SASLTypeExternal(""),
	})
	if err != nil {
		t.Fatalf("EXTERNAL with a client certificate: %v", err)
	}
	sendReceive(t, c, "alice-queue", "from alice")
	logs := s.logs.String()
	if !regexp.MustCompile(`msg="connection opened" .*user=alice mechanism=EXTERNAL .*client_cert="CN=alice"`).MatchString(logs) {
		t.Errorf("no debug line with alice's EXTERNAL identity:\n%s", logs)
	}

	// Without a certificate there is nothing to authenticate with.
	if _, err := dialAMQPS(t, s.addrs["amqps"], &amqp.ConnOptions{
		TLSConfig: &tls.Config{RootCAs: pool}, SASLType: amqp.SASLTypeAnonymous(),
	}); err == nil {
		t.Error("anonymous client accepted over amqps with --allow-anonymous=false")
	}
	// A certificate from another CA fails the TLS handshake.
	mallory := newTestCA(t, "rogue CA").clientCert(t, "mallory")
	_, err = dialAMQPS(t, s.addrs["amqps"], &amqp.ConnOptions{
		TLSConfig: &tls.Config{RootCAs: pool, GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return &mallory, nil
		}},
		SASLType: amqp.SASLTypeExternal(""),
	})
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("untrusted client certificate: %v, want a TLS certificate error", err)
	}
	// Alice's connection and new ones are unaffected.
	sendReceive(t, c, "alice-queue", "still there")
	c2, err := dialAMQPS(t, s.addrs["amqps"], &amqp.ConnOptions{
		TLSConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{alice}},
		SASLType:  amqp.SASLTypeExternal(""),
	})
	if err != nil {
		t.Fatalf("EXTERNAL after the refused client: %v", err)
	}
	c2.Close()
}

// TestServeTLSCertRotation: --tls-cert/--tls-key files replaced while serve
// runs are served to new connections; open connections keep going.
func TestServeTLSCertRotation(t *testing.T) {
	ca := newTestCA(t, "server CA")
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	cert, key, first := ca.issue(t, "server", false)
	writeFile(t, certFile, cert)
	writeFile(t, keyFile, key)
	opts := mustParseServe(t, "--amqp", "127.0.0.1:0", "--http", "127.0.0.1:0", "--mqtt", "", "--data-dir", t.TempDir(),
		"--tls-cert", certFile, "--tls-key", keyFile, "--amqps", "127.0.0.1:0")
	opts.tlsReloadInterval = 50 * time.Millisecond
	s := startServeOptions(t, opts)

	servedSerial := func() (int64, *amqp.Conn) {
		var serial int64
		c, err := dialAMQPS(t, s.addrs["amqps"], &amqp.ConnOptions{TLSConfig: &tls.Config{RootCAs: ca.pool,
			VerifyConnection: func(st tls.ConnectionState) error {
				serial = st.PeerCertificates[0].SerialNumber.Int64()
				return nil
			}}})
		if err != nil {
			t.Fatal(err)
		}
		return serial, c
	}
	sn, old := servedSerial()
	if sn != first {
		t.Fatalf("served serial %d, want %d", sn, first)
	}
	cert, key, second := ca.issue(t, "server", false)
	writeFile(t, keyFile+".new", key)
	writeFile(t, certFile+".new", cert)
	if err := os.Rename(keyFile+".new", keyFile); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(certFile+".new", certFile); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		sn, c := servedSerial()
		c.Close()
		if sn == second {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still serving serial %d 5 s after rotation, want %d", sn, second)
		}
		time.Sleep(20 * time.Millisecond) // the reload interval is 50 ms
	}
	sendReceive(t, old, "rotation", "old connection still works")
	if !strings.Contains(s.logs.String(), `msg="TLS certificate reloaded"`) {
		t.Errorf("no reload log line:\n%s", s.logs)
	}
}

func TestServeHTTPS(t *testing.T) {
	s := startServe(t, "--tls-self-signed", "--amqps", "", "--http-tls")
	if _, ok := s.addrs["http"]; ok {
		t.Fatal("plain http listener with --http-tls")
	}
	addr := s.addrs["https"]
	if addr == nil {
		t.Fatalf("no https listener: %v", s.addrs)
	}
	_, pool := s.caPool(t)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}}
	resp, err := client.Get("https://" + addr.String() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "ok\n" || resp.ProtoMajor != 2 {
		t.Errorf("GET /healthz over TLS: %s %d %q", resp.Proto, resp.StatusCode, body)
	}
	if !strings.Contains(s.logs.String(), fmt.Sprintf("msg=listening proto=https addr=%s", addr)) {
		t.Errorf("no https listening line:\n%s", s.logs)
	}
	if _, ok := s.addrs["amqps"]; ok {
		t.Error("amqps listening although disabled")
	}
}

func TestServeTLSPlainHTTPByDefault(t *testing.T) {
	s := startServe(t, "--tls-self-signed", "--amqps", "127.0.0.1:0")
	if code, _ := httpGet(t, s.url("/healthz")); code != 200 {
		t.Fatalf("plain /healthz = %d", code)
	}
}

func TestServeTLSErrors(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.crt")
	code, _, stderr := runCLI(t, "serve", "--amqp", "127.0.0.1:0", "--http", "", "--mqtt", "", "--data-dir", filepath.Join(dir, "data"),
		"--tls-cert", missing, "--tls-key", missing)
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	last := lines[len(lines)-1]
	if code != 1 || !strings.HasPrefix(last, "enmasse serve: tls: certificate: open "+missing) {
		t.Fatalf("missing certificate: code %d stderr %q", code, stderr)
	}
}

func TestServeTLSJSONLogsStayJSON(t *testing.T) {
	s := startServe(t, "--tls-self-signed", "--amqps", "127.0.0.1:0", "--log-format", "json")
	for _, line := range strings.Split(strings.TrimSpace(s.logs.String()), "\n") {
		if !strings.HasPrefix(line, "{") {
			t.Errorf("non-JSON line on the log stream: %q", line)
		}
	}
	if !strings.Contains(s.logs.String(), `"ca":"`) {
		t.Errorf("no CA path in the JSON logs:\n%s", s.logs)
	}
}
