package cli

import "testing"

func TestServeAnonymousRule(t *testing.T) {
	unset := optionalBool{}
	on := optionalBool{set: true, value: true}
	off := optionalBool{set: true, value: false}
	tests := map[string]struct {
		flag      optionalBool
		listeners []string
		want      bool
	}{
		"defaults are loopback":      {unset, []string{"127.0.0.1:5672", "127.0.0.1:8080"}, true},
		"localhost":                  {unset, []string{"localhost:5672", "LOCALHOST:0"}, true},
		"ipv6 loopback":              {unset, []string{"[::1]:5672"}, true},
		"other 127/8":                {unset, []string{"127.1.2.3:5672"}, true},
		"disabled listeners ignored": {unset, []string{"", "127.0.0.1:8080"}, true},
		"all disabled":               {unset, []string{"", ""}, true},
		"all interfaces":             {unset, []string{":5672", "127.0.0.1:8080"}, false},
		"unspecified ipv4":           {unset, []string{"0.0.0.0:5672"}, false},
		"unspecified ipv6":           {unset, []string{"[::]:5672"}, false},
		"private address":            {unset, []string{"127.0.0.1:5672", "10.0.0.5:8080"}, false},
		"host name":                  {unset, []string{"broker.example:5672"}, false},
		"explicit on, non-loopback":  {on, []string{"0.0.0.0:5672"}, true},
		"explicit off, loopback":     {off, []string{"127.0.0.1:5672"}, false},
		"explicit on, loopback":      {on, []string{"127.0.0.1:5672"}, true},
		"explicit off, non-loopback": {off, []string{":5672"}, false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := anonymousAllowed(tc.flag, tc.listeners); got != tc.want {
				t.Fatalf("anonymousAllowed(%+v, %q) = %v, want %v", tc.flag, tc.listeners, got, tc.want)
			}
		})
	}
}

func TestServeAnonymousFromFlags(t *testing.T) {
	tests := map[string]struct {
		args []string
		want bool
	}{
		"defaults":             {nil, true},
		"public http":          {[]string{"--http", ":8080"}, false},
		"public http, allowed": {[]string{"--http", ":8080", "--allow-anonymous"}, true},
		"loopback, refused":    {[]string{"--allow-anonymous=false"}, false},
		"public amqp disabled": {[]string{"--amqp", ""}, true},
		"public amqp":          {[]string{"--amqp", "0.0.0.0:5672"}, false},
		"public mqtt":          {[]string{"--mqtt", "0.0.0.0:1883"}, false},
		"public mqtt disabled": {[]string{"--mqtt", ""}, true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			opts := mustParseServe(t, tc.args...)
			if opts.anonymous != tc.want {
				t.Fatalf("anonymous = %v, want %v", opts.anonymous, tc.want)
			}
		})
	}
}
