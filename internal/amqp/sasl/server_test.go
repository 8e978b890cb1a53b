package sasl

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"slices"
	"strings"
	"testing"
)

// fakeAddr is a net.Addr that is not a *net.TCPAddr.
type fakeAddr string

func (a fakeAddr) Network() string { return "fake" }
func (a fakeAddr) String() string  { return string(a) }

func TestMechanisms(t *testing.T) {
	users := testUsers()
	verified := &tls.ConnectionState{
		HandshakeComplete: true,
		VerifiedChains:    [][]*x509.Certificate{{selfSigned(t, "device-1").Leaf}},
	}
	noCN := &tls.ConnectionState{
		HandshakeComplete: true,
		VerifiedChains:    [][]*x509.Certificate{{selfSigned(t, "").Leaf}},
	}
	remote := ConnInfo{RemoteAddr: &net.TCPAddr{IP: net.IPv4(192, 0, 2, 7), Port: 5672}}
	withTLS := func(info ConnInfo, st *tls.ConnectionState) ConnInfo { info.TLS = st; return info }
	tests := map[string]struct {
		cfg  Config
		info ConnInfo
		want []string
	}{
		"zero config offers nothing":     {Config{}, loopback, nil},
		"anonymous only":                 {Config{AllowAnonymous: true}, remote, []string{Anonymous}},
		"users, remote plain TCP":        {Config{Users: users}, remote, []string{ScramSHA512, ScramSHA256}},
		"users, remote, plain allowed":   {Config{Users: users, AllowPlainWithoutTLS: true}, remote, []string{ScramSHA512, ScramSHA256, Plain}},
		"users, IPv4 loopback":           {Config{Users: users}, loopback, []string{ScramSHA512, ScramSHA256, Plain}},
		"users, IPv6 loopback":           {Config{Users: users}, ConnInfo{RemoteAddr: &net.TCPAddr{IP: net.IPv6loopback}}, []string{ScramSHA512, ScramSHA256, Plain}},
		"users, loopback non-TCP addr":   {Config{Users: users}, ConnInfo{RemoteAddr: fakeAddr("127.0.0.1:5672")}, []string{ScramSHA512, ScramSHA256, Plain}},
		"users, pipe addr is not local":  {Config{Users: users}, ConnInfo{RemoteAddr: fakeAddr("pipe")}, []string{ScramSHA512, ScramSHA256}},
		"users, no addr":                 {Config{Users: users}, ConnInfo{}, []string{ScramSHA512, ScramSHA256}},
		"users, remote TLS":              {Config{Users: users}, withTLS(remote, &tls.ConnectionState{HandshakeComplete: true}), []string{ScramSHA512, ScramSHA256, Plain}},
		"users, TLS handshake pending":   {Config{Users: users}, withTLS(remote, &tls.ConnectionState{}), []string{ScramSHA512, ScramSHA256}},
		"verified cert offers EXTERNAL":  {Config{}, withTLS(remote, verified), []string{External}},
		"everything, EXTERNAL first":     {Config{Users: users, AllowAnonymous: true}, withTLS(remote, verified), []string{External, ScramSHA512, ScramSHA256, Plain, Anonymous}},
		"cert without CN, default map":   {Config{}, withTLS(remote, noCN), nil},
		"cert refused by ExternalUser":   {Config{ExternalUser: func(*x509.Certificate) (string, bool) { return "", false }}, withTLS(remote, verified), nil},
		"ExternalUser maps to empty":     {Config{ExternalUser: func(*x509.Certificate) (string, bool) { return "", true }}, withTLS(remote, verified), nil},
		"unverified peer cert":           {Config{}, withTLS(remote, &tls.ConnectionState{HandshakeComplete: true, PeerCertificates: verified.VerifiedChains[0]}), nil},
		"verified chain, handshake flag": {Config{}, withTLS(remote, &tls.ConnectionState{VerifiedChains: verified.VerifiedChains}), nil},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			got := NewAuthenticator(tt.cfg).Mechanisms(tt.info)
			if !slices.Equal(got, tt.want) {
				t.Errorf("Mechanisms = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestStartUnsupported(t *testing.T) {
	a := NewAuthenticator(Config{AllowAnonymous: true})
	remote := ConnInfo{RemoteAddr: &net.TCPAddr{IP: net.IPv4(192, 0, 2, 7)}}
	for _, mech := range []string{Plain, ScramSHA256, External, "CRAM-MD5", "", "anonymous"} {
		t.Run(mech, func(t *testing.T) {
			m, err := a.Start(mech, remote)
			if m != nil || !errors.Is(err, ErrUnsupportedMechanism) {
				t.Fatalf("Start(%q) = %v, %v; want ErrUnsupportedMechanism", mech, m, err)
			}
			var se *Error
			if !errors.As(err, &se) || se.Code != CodeAuth {
				t.Errorf("error %v is not an *Error with CodeAuth", err)
			}
		})
	}
}

// serverInfo is a connection on which testAuth offers every mechanism.
func serverInfo(t testing.TB) ConnInfo {
	info := loopback
	info.TLS = &tls.ConnectionState{
		HandshakeComplete: true,
		VerifiedChains:    [][]*x509.Certificate{{selfSigned(t, "device-1").Leaf}},
	}
	return info
}

var allMechs = []string{Anonymous, Plain, External, ScramSHA256, ScramSHA512, OAuthBearer, XOAuth2}

// TestServerRobustness checks what every server mechanism must tolerate.
func TestServerRobustness(t *testing.T) {
	info := serverInfo(t)
	huge := make([]byte, MaxMessageSize+1)
	tests := map[string]struct {
		steps   [][]byte
		wantErr error // of the last step
	}{
		"nil then nil":           {[][]byte{nil, nil, nil}, nil},
		"empty":                  {[][]byte{{}}, nil},
		"garbage":                {[][]byte{[]byte("\xff\xfe,,=,\x00\x00\x00garbage")}, nil},
		"too large first":        {[][]byte{huge}, ErrMessageTooLarge},
		"too large, then again":  {[][]byte{huge, []byte("x")}, ErrExchangeDone},
		"exactly the size limit": {[][]byte{make([]byte, MaxMessageSize)}, nil},
	}
	for _, mech := range allMechs {
		for name, tt := range tests {
			t.Run(mech+"/"+name, func(t *testing.T) {
				m, err := testAuth().Start(mech, info)
				if err != nil {
					t.Fatal(err)
				}
				var lastErr, endErr error // endErr: of the step that finished
				finished := false
				for i, msg := range tt.steps {
					_, done, err := m.Step(msg)
					if finished && !errors.Is(err, ErrExchangeDone) {
						t.Fatalf("step %d after the end: err = %v, want ErrExchangeDone", i, err)
					}
					if err != nil {
						var se *Error
						if !errors.As(err, &se) || se.Code == CodeOK {
							t.Fatalf("step %d: %v is not an *Error with a failure code", i, err)
						}
						if !done {
							t.Fatalf("step %d failed with done=false", i)
						}
					}
					if done && !finished {
						endErr = err
					}
					finished = finished || done
					lastErr = err
				}
				if tt.wantErr != nil && !errors.Is(lastErr, tt.wantErr) {
					t.Errorf("last error = %v, want %v", lastErr, tt.wantErr)
				}
				if (endErr != nil || !finished) && m.Identity() != (Identity{}) {
					t.Errorf("Identity after failure = %+v, want zero", m.Identity())
				}
			})
		}
	}
}

func TestStepAfterSuccess(t *testing.T) {
	m, err := testAuth().Start(Anonymous, loopback)
	if err != nil {
		t.Fatal(err)
	}
	if m.Identity() != (Identity{}) {
		t.Errorf("Identity before Step = %+v, want zero", m.Identity())
	}
	if _, done, err := m.Step([]byte("trace")); !done || err != nil {
		t.Fatalf("Step = %v, %v", done, err)
	}
	_, done, err := m.Step(nil)
	if !done || !errors.Is(err, ErrExchangeDone) {
		t.Fatalf("second Step = %v, %v; want done, ErrExchangeDone", done, err)
	}
	var se *Error
	if !errors.As(err, &se) || se.Code != CodeSys {
		t.Errorf("ErrExchangeDone code = %v, want sys", se)
	}
	if got := m.Identity(); got != (Identity{Mechanism: Anonymous, Anonymous: true}) {
		t.Errorf("Identity = %+v, still expected after a refused extra Step", got)
	}
}

func TestCodeString(t *testing.T) {
	want := map[Code]string{CodeOK: "ok", CodeAuth: "auth", CodeSys: "sys", CodeSysPerm: "sys-perm", CodeSysTemp: "sys-temp", 9: "sasl-code(9)"}
	for c, s := range want {
		if c.String() != s {
			t.Errorf("Code(%d).String() = %q, want %q", c, c.String(), s)
		}
	}
}

func TestErrorRefines(t *testing.T) {
	err := refine(ErrMalformed, "PLAIN %s", "detail")
	if !errors.Is(err, ErrMalformed) || errors.Is(err, ErrAuthFailed) {
		t.Errorf("refined error does not match exactly its sentinel")
	}
	if err.Code != CodeAuth || !strings.Contains(err.Error(), "PLAIN detail") || !strings.HasPrefix(err.Error(), "sasl auth: ") {
		t.Errorf("refined error = %q (code %v)", err, err.Code)
	}
}
