package cli

import (
	"bytes"
	"context"
	"net"
	"os/exec"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
)

// TestServeMQTTMosquittoPersistentSession: mosquitto_sub -c -i ID keeps
// its session (3.1.1 and 5.0) and gets the QoS 1 messages published while
// it was away.
func TestServeMQTTMosquittoPersistentSession(t *testing.T) {
	subBin, err := exec.LookPath("mosquitto_sub")
	if err != nil {
		t.Skip("mosquitto_sub not installed (Debian package mosquitto-clients)")
	}
	s := startServe(t)
	addr := s.addrs["mqtt"].String()
	_, port, _ := net.SplitHostPort(addr)
	for _, v := range []string{"mqttv311", "mqttv5"} {
		t.Run(v, func(t *testing.T) {
			id, topic := "mosq-c-"+v, "persist/"+v
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			args := []string{"-V", v, "-h", "127.0.0.1", "-p", port, "-c", "-i", id, "-q", "1", "-t", topic + "/#"}
			if v == "mqttv5" {
				args = append(args, "-x", "600") // session expiry
			}
			// -E: subscribe, wait for SUBACK, leave the session behind.
			if out, err := exec.CommandContext(ctx, subBin, append(args, "-E")...).CombinedOutput(); err != nil {
				t.Fatalf("mosquitto_sub -E: %v %s", err, out)
			}
			pub := mqttConnect(t, addr, "pub-"+v, nil)
			pub.publish(t, &paho.Publish{Topic: topic + "/a", QoS: 1, Payload: []byte("first")})
			pub.publish(t, &paho.Publish{Topic: topic + "/b", QoS: 1, Payload: []byte("second")})
			sub := exec.CommandContext(ctx, subBin, append(args, "-C", "2", "-v")...)
			var out bytes.Buffer
			sub.Stdout, sub.Stderr = &out, &out
			if err := sub.Run(); err != nil {
				t.Fatalf("mosquitto_sub: %v %s", err, out.String())
			}
			if want := topic + "/a first\n" + topic + "/b second\n"; out.String() != want {
				t.Fatalf("mosquitto_sub printed %q, want %q", out.String(), want)
			}
		})
	}
}
