package cli

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	amqp "github.com/Azure/go-amqp"

	"github.com/enmasse-go/enmasse/internal/controlplane/model"
)

const policyConfig = `resources:
- apiVersion: admin.enmasse.io/v1beta2
  kind: AddressSpacePlan
  metadata: {name: limited}
  spec:
    addressSpaceType: standard
    resourceLimits: {router: 1, broker: 1, aggregate: 2}
    addressPlans: [standard-small-queue]
    routerPolicy: {maxConnections: 2, maxSendersPerConnection: 1, maxMessageSize: 4096}
- apiVersion: enmasse.io/v1beta1
  kind: AddressSpace
  metadata: {name: tight}
  spec: {type: standard, plan: limited}
- apiVersion: enmasse.io/v1beta1
  kind: Address
  metadata: {name: tight.q}
  spec: {address: q, type: queue, plan: standard-small-queue}
`

// TestServePlanRouterPolicy: an address space plan's routerPolicy reaches
// the router through the agent and shows in the address space's status;
// over-limit connections and senders get amqp:resource-limit-exceeded,
// while everything within the limits, and other spaces, keep working.
func TestServePlanRouterPolicy(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "policy.yaml")
	writeFile(t, cfg, policyConfig)
	srv := startServe(t, "--config", cfg)
	url := "amqp://" + srv.addrs["amqp"].String()

	// Status shows the policy in force.
	deadline := time.Now().Add(5 * time.Second)
	for {
		code, body := httpGet(t, srv.url("/apis/enmasse.io/v1beta1/namespaces/default/addressspaces/tight"))
		var as model.AddressSpace
		if code == http.StatusOK && json.Unmarshal([]byte(body), &as) == nil && as.Status.IsReady && as.Status.RouterPolicy != nil {
			if *as.Status.RouterPolicy != (model.RouterPolicy{MaxConnections: 2, MaxSendersPerConnection: 1, MaxMessageSize: 4096}) {
				t.Fatalf("status.routerPolicy = %+v", *as.Status.RouterPolicy)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("address space tight never showed its policy: %d %s", code, body)
		}
		time.Sleep(50 * time.Millisecond)
	}

	dial := func() (*amqp.Conn, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, err := amqp.Dial(ctx, url, &amqp.ConnOptions{HostName: "tight", SASLType: amqp.SASLTypeAnonymous()})
		if err == nil {
			t.Cleanup(func() { c.Close() })
		}
		return c, err
	}
	wantLimit := func(what string, err error) {
		t.Helper()
		var ce *amqp.ConnError
		var le *amqp.LinkError
		var re *amqp.Error
		switch {
		case errors.As(err, &ce) && ce.RemoteErr != nil:
			re = ce.RemoteErr
		case errors.As(err, &le) && le.RemoteErr != nil:
			re = le.RemoteErr
		default:
			errors.As(err, &re) // a refused attach
		}
		if re == nil || re.Condition != amqp.ErrCondResourceLimitExceeded {
			t.Fatalf("%s: %v, want amqp:resource-limit-exceeded", what, err)
		}
	}
	c1, err := dial()
	if err != nil {
		t.Fatal(err)
	}
	c2, err := dial()
	if err != nil {
		t.Fatal(err)
	}
	// The server answers the open and closes at once with the error, so
	// go-amqp reports it on the first use of the connection.
	if c3, err := dial(); err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err = c3.NewSession(ctx, nil)
		cancel()
		wantLimit("third connection", err)
	} else {
		wantLimit("third connection", err)
	}

	// One sender per connection: the second is refused, the first works.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := c1.NewSession(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	snd, err := s.NewSender(ctx, "q", nil)
	if err != nil {
		t.Fatal(err)
	}
	if m := snd.MaxMessageSize(); m != 4096 {
		t.Errorf("attach max-message-size %d, want the policy's 4096", m)
	}
	_, err = s.NewSender(ctx, "q", nil)
	wantLimit("second sender", err)
	if err := snd.Send(ctx, amqp.NewMessage([]byte("within limits")), nil); err != nil {
		t.Fatalf("send on the first sender: %v", err)
	}
	sendReceive(t, c2, "q", "within limits") // receives the one c1 sent

	// The default space has no policy.
	for range 3 {
		c, err := amqp.Dial(ctx, url, &amqp.ConnOptions{SASLType: amqp.SASLTypeAnonymous()})
		if err != nil {
			t.Fatalf("default space: %v", err)
		}
		defer c.Close()
	}

	// A closed connection frees its slot (the server may count it a moment
	// after the client saw the close).
	c1.Close()
	for deadline := time.Now().Add(5 * time.Second); ; {
		c, err := dial()
		if err == nil {
			if _, err = c.NewSession(ctx, nil); err == nil {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("after closing one: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestPlanRouterPolicyValidation(t *testing.T) {
	p := &model.AddressSpacePlan{Spec: model.AddressSpacePlanSpec{AddressSpaceType: "standard",
		RouterPolicy: &model.RouterPolicy{MaxConnections: -1, MaxMessageSize: -5}}}
	errs := model.Validate(p)
	got := map[string]bool{}
	for _, e := range errs {
		got[e.Field] = true
	}
	if !got["spec.routerPolicy.maxConnections"] || !got["spec.routerPolicy.maxMessageSize"] {
		t.Fatalf("negative policy values: %v", errs)
	}
}
