package sasl

import (
	"errors"
	"net"
	"slices"
	"testing"
)

func TestBearerMechanismsOffered(t *testing.T) {
	remote := ConnInfo{RemoteAddr: &net.TCPAddr{IP: net.IPv4(192, 0, 2, 7), Port: 5672}}
	a := NewAuthenticator(Config{Tokens: fakeTokens{}, Users: testUsers()})
	if got := a.Mechanisms(loopback); !slices.Equal(got, []string{ScramSHA512, ScramSHA256, OAuthBearer, XOAuth2, Plain}) {
		t.Errorf("loopback: %v", got)
	}
	// Like PLAIN, never on a remote plaintext connection (RFC 7628 §5).
	if got := a.Mechanisms(remote); !slices.Equal(got, []string{ScramSHA512, ScramSHA256}) {
		t.Errorf("remote plaintext: %v", got)
	}
	if got := NewAuthenticator(Config{Users: testUsers()}).Mechanisms(loopback); slices.Contains(got, OAuthBearer) || slices.Contains(got, XOAuth2) {
		t.Errorf("without Tokens: %v", got)
	}
}

func TestBearerExchange(t *testing.T) {
	for _, tc := range []struct {
		name     string
		client   ClientMech
		wantUser string
		wantErr  error
		detail   string // the error response the client kept
	}{
		{"OAUTHBEARER", NewOAuthBearerClient("", "good-token"), "alice", nil, ""},
		{"OAUTHBEARER authzid", NewOAuthBearerClient("alice@space", "good-token"), "alice@space", nil, ""},
		{"XOAUTH2", NewXOAuth2Client("alice", "good-token"), "alice", nil, ""},
		{"XOAUTH2 empty user", NewXOAuth2Client("", "good-token"), "alice", nil, ""},
		{"OAUTHBEARER bad token", NewOAuthBearerClient("", "forged"), "", ErrAuthFailed, `{"status":"invalid_token","openid-configuration":"https://issuer.test/.well-known/openid-configuration"}`},
		{"XOAUTH2 bad token", NewXOAuth2Client("alice", "forged"), "", ErrAuthFailed, `{"status":"401","schemes":"bearer"}`},
		{"OAUTHBEARER other authzid", NewOAuthBearerClient("bob", "good-token"), "", ErrAuthzDenied, `{"status":"invalid_token","openid-configuration":"https://issuer.test/.well-known/openid-configuration"}`},
		{"issuer down", NewOAuthBearerClient("", "down"), "", &Error{}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := NewAuthenticator(Config{Tokens: fakeTokens{}, TokenDiscoveryURL: "https://issuer.test/.well-known/openid-configuration"})
			id, err := exchange(t, a, loopback, tc.client)
			switch {
			case tc.name == "issuer down":
				var se *Error
				if !errors.As(err, &se) || se.Code != CodeSysTemp {
					t.Fatalf("err %v, want sys-temp", err)
				}
			case tc.wantErr != nil:
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err %v, want %v", err, tc.wantErr)
				}
			case err != nil:
				t.Fatal(err)
			}
			if id.User != tc.wantUser || tc.wantUser != "" && id.Mechanism != tc.client.Name() {
				t.Errorf("identity %+v, want user %q", id, tc.wantUser)
			}
			if tc.wantUser != "" && !id.Expires.Equal(fakeExpiry) {
				t.Errorf("identity expires %v, want the token's %v", id.Expires, fakeExpiry)
			}
			if got := tc.client.(*bearerClient).FailureDetail(); got != tc.detail {
				t.Errorf("client kept error response %q, want %q", got, tc.detail)
			}
		})
	}
}

// TestBearerNoInitialResponse: a client that sends the message only after
// an empty challenge (RFC 4422 §5) gets through.
func TestBearerNoInitialResponse(t *testing.T) {
	m, err := testAuth().Start(OAuthBearer, loopback)
	if err != nil {
		t.Fatal(err)
	}
	if ch, done, err := m.Step(nil); err != nil || done || len(ch) != 0 {
		t.Fatalf("Step(nil) = %q, %v, %v; want an empty challenge", ch, done, err)
	}
	if _, done, err := m.Step([]byte("n,,\x01auth=Bearer good-token\x01\x01")); !done || err != nil {
		t.Fatalf("Step(message) = %v, %v", done, err)
	}
	if m.Identity().User != "alice" {
		t.Errorf("identity %+v", m.Identity())
	}
}

func TestParseOAuthBearer(t *testing.T) {
	good := map[string][2]string{
		"n,,\x01auth=Bearer tok\x01\x01":                                           {"", "tok"},
		"y,,\x01auth=bearer tok\x01\x01":                                           {"", "tok"},
		"n,a=user@space,\x01host=h\x01port=5672\x01auth=Bearer a.b-c_~+/=\x01\x01": {"user@space", "a.b-c_~+/="},
		"n,a=a=2Cb=3Dc,\x01auth=BEARER  tok\x01\x01":                               {"a,b=c", "tok"},
	}
	for msg, want := range good {
		az, tok, err := parseOAuthBearer([]byte(msg))
		if err != nil || az != want[0] || tok != want[1] {
			t.Errorf("%q: %q %q %v, want %q", msg, az, tok, err, want)
		}
	}
	bad := map[string]error{
		"":     ErrMalformed,
		"\x01": ErrMalformed, // the error acknowledgement is not a first message
		"p=tls-unique,,\x01auth=Bearer t\x01\x01":       ErrChannelBinding,
		"x,,\x01auth=Bearer t\x01\x01":                  ErrMalformed,
		"n,b=x,\x01auth=Bearer t\x01\x01":               ErrMalformed,
		"n,a=x=41,\x01auth=Bearer t\x01\x01":            ErrMalformed,
		"n,a=,\x01auth=Bearer t\x01\x01":                ErrMalformed,
		"n,,auth=Bearer t\x01\x01":                      ErrMalformed,
		"n,,\x01auth=Bearer t\x01":                      ErrMalformed,
		"n,,\x01\x01":                                   ErrMalformed,
		"n,,\x01auth=Basic dTpw\x01\x01":                ErrMalformed,
		"n,,\x01auth=Bearer \x01\x01":                   ErrMalformed,
		"n,,\x01auth=Bearer t t\x01\x01":                ErrMalformed,
		"n,,\x01auth=Bearer t\x01auth=Bearer u\x01\x01": ErrMalformed,
		"n,,\x01=x\x01auth=Bearer t\x01\x01":            ErrMalformed,
		"n,,\x01k=\x00\x01auth=Bearer t\x01\x01":        ErrMalformed,
		"n,,\x01auth=Bearer t\x01\x01\x01":              ErrMalformed,
		"n,,\x01auth=Bearer \xff\x01\x01":               ErrMalformed,
	}
	for msg, want := range bad {
		if _, _, err := parseOAuthBearer([]byte(msg)); !errors.Is(err, want) {
			t.Errorf("%q: %v, want %v", msg, err, want)
		}
	}
}

func TestParseXOAuth2(t *testing.T) {
	user, tok, err := parseXOAuth2([]byte("user=someone@example.com\x01auth=Bearer ya29.x\x01\x01"))
	if err != nil || user != "someone@example.com" || tok != "ya29.x" {
		t.Fatalf("%q %q %v", user, tok, err)
	}
	for _, msg := range []string{"", "user=a\x01\x01", "user=a\x01auth=Bearer t\x01", "auth=Bearer t", "user=a\x01auth=Bearer t\x01\x01x"} {
		if _, _, err := parseXOAuth2([]byte(msg)); !errors.Is(err, ErrMalformed) {
			t.Errorf("%q: %v, want ErrMalformed", msg, err)
		}
	}
}

func TestBearerClientInvalid(t *testing.T) {
	for _, c := range []ClientMech{
		NewOAuthBearerClient("", ""),
		NewOAuthBearerClient("", "has space"),
		NewOAuthBearerClient("a\x00b", "t"),
		NewXOAuth2Client("a\x01b", "t"),
		NewXOAuth2Client("a", "t\x01"),
	} {
		if _, err := c.InitialResponse(); !errors.Is(err, ErrInvalidCredentials) {
			t.Errorf("%s: %v, want ErrInvalidCredentials", c.Name(), err)
		}
	}
	// A second error response is a server error.
	c := NewOAuthBearerClient("", "t")
	c.InitialResponse()
	if r, err := c.Step([]byte(`{"status":"invalid_token"}`)); err != nil || string(r) != "\x01" {
		t.Fatalf("ack %q %v", r, err)
	}
	if _, err := c.Step([]byte(`{}`)); !errors.Is(err, ErrUnexpectedServerData) {
		t.Fatalf("second error response: %v", err)
	}
}
