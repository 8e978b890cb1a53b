package sasl

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"slices"
	"testing"
)

func TestExternal(t *testing.T) {
	device := selfSigned(t, "device-1")
	other := selfSigned(t, "intruder")
	remote := &net.TCPAddr{IP: net.IPv4(192, 0, 2, 9), Port: 40001}
	byDNS := func(c *x509.Certificate) (string, bool) {
		if len(c.DNSNames) == 0 {
			return "", false
		}
		return "dns:" + c.DNSNames[0], true
	}
	refuse := func(*x509.Certificate) (string, bool) { return "", false }
	tests := map[string]struct {
		clientAuth tls.ClientAuthType
		trusted    *tls.Certificate
		presented  *tls.Certificate
		mapUser    func(*x509.Certificate) (string, bool)
		authzid    []byte
		wantUser   string // "" means EXTERNAL must not be offered
		wantErr    error
	}{
		"CN, no authzid":           {tls.RequireAndVerifyClientCert, &device, &device, nil, nil, "device-1", nil},
		"CN, empty authzid":        {tls.RequireAndVerifyClientCert, &device, &device, nil, []byte{}, "device-1", nil},
		"CN, matching authzid":     {tls.RequireAndVerifyClientCert, &device, &device, nil, []byte("device-1"), "device-1", nil},
		"CN, other authzid":        {tls.RequireAndVerifyClientCert, &device, &device, nil, []byte("admin"), "device-1", ErrAuthzDenied},
		"authzid with NUL":         {tls.RequireAndVerifyClientCert, &device, &device, nil, []byte("device-1\x00"), "device-1", ErrMalformed},
		"authzid not UTF-8":        {tls.RequireAndVerifyClientCert, &device, &device, nil, []byte{0xff}, "device-1", ErrMalformed},
		"custom mapping":           {tls.VerifyClientCertIfGiven, &device, &device, byDNS, nil, "dns:device-1", nil},
		"custom mapping refuses":   {tls.RequireAndVerifyClientCert, &device, &device, refuse, nil, "", nil},
		"no certificate presented": {tls.VerifyClientCertIfGiven, &device, nil, nil, nil, "", nil},
		"certificate not verified": {tls.RequestClientCert, nil, &other, nil, nil, "", nil},
		"untrusted, not required":  {tls.RequireAnyClientCert, &device, &other, nil, nil, "", nil},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			st := tlsState(t, tt.clientAuth, tt.trusted, tt.presented)
			a := NewAuthenticator(Config{ExternalUser: tt.mapUser})
			info := ConnInfo{TLS: st, RemoteAddr: remote}
			offered := slices.Contains(a.Mechanisms(info), External)
			if offered != (tt.wantUser != "") {
				t.Fatalf("EXTERNAL offered = %v, want %v", offered, tt.wantUser != "")
			}
			m, err := a.Start(External, info)
			if !offered {
				if !errors.Is(err, ErrUnsupportedMechanism) {
					t.Fatalf("Start = %v, want ErrUnsupportedMechanism", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			data, done, err := m.Step(tt.authzid)
			if !done || data != nil {
				t.Errorf("Step = %q, done=%v; want nil, done", data, done)
			}
			if !errors.Is(err, tt.wantErr) || (err == nil) != (tt.wantErr == nil) {
				t.Fatalf("Step err = %v, want %v", err, tt.wantErr)
			}
			if want := (Identity{User: tt.wantUser, Mechanism: External}); err == nil && m.Identity() != want {
				t.Errorf("Identity = %+v, want %+v", m.Identity(), want)
			}
		})
	}
}

func TestExternalClient(t *testing.T) {
	device := selfSigned(t, "device-1")
	info := ConnInfo{TLS: tlsState(t, tls.RequireAndVerifyClientCert, &device, &device)}
	a := NewAuthenticator(Config{})
	for _, authzid := range []string{"", "device-1"} {
		id, err := exchange(t, a, info, NewExternalClient(authzid))
		if err != nil || id != (Identity{User: "device-1", Mechanism: External}) {
			t.Errorf("authzid %q: exchange = %+v, %v", authzid, id, err)
		}
	}
	if _, err := exchange(t, a, info, NewExternalClient("root")); !errors.Is(err, ErrAuthzDenied) {
		t.Errorf("authzid root: %v, want ErrAuthzDenied", err)
	}
	if _, err := NewExternalClient("a\x00").InitialResponse(); !errors.Is(err, ErrInvalidCredentials) {
		t.Errorf("NUL authzid: %v, want ErrInvalidCredentials", err)
	}
}
