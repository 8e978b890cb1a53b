package agent

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	amqp "github.com/Azure/go-amqp"

	"github.com/enmasse-go/enmasse/internal/amqp/sasl"
	"github.com/enmasse-go/enmasse/internal/amqp/transport"
	"github.com/enmasse-go/enmasse/internal/broker"
	"github.com/enmasse-go/enmasse/internal/controlplane/api"
	"github.com/enmasse-go/enmasse/internal/controlplane/client"
	"github.com/enmasse-go/enmasse/internal/controlplane/model"
	"github.com/enmasse-go/enmasse/internal/controlplane/registry"
	"github.com/enmasse-go/enmasse/internal/router"
)

// routerPlane adapts a real router (as serve does in cli).
type routerPlane struct{ r *router.Router }

func (p routerPlane) SetSpace(c SpaceConfig) {
	p.r.SetSpace(router.SpaceConfig{Name: c.Name, Namespace: c.Namespace, AutoCreate: c.AutoCreate})
}
func (p routerPlane) DeleteSpace(n string) { p.r.DeleteSpace(n) }
func (p routerPlane) SetAddress(s, a, t string) error {
	return p.r.SetAddress(s, a, router.Type(t))
}
func (p routerPlane) DeleteAddress(s, a string) error { return p.r.DeleteAddress(s, a) }
func (p routerPlane) Addresses(s string) (map[string]string, bool) {
	infos := p.r.Addresses(s)
	if infos == nil {
		return nil, false
	}
	out := map[string]string{}
	for _, i := range infos {
		out[i.Name] = string(i.Type)
	}
	return out, true
}

type env struct {
	t     *testing.T
	reg   *registry.Registry
	api   *api.Server
	agent *Agent
	r     *router.Router
	b     *broker.Broker // nil without a broker
}

func newEnv(t *testing.T, withBroker bool) *env {
	t.Helper()
	reg, err := registry.Open(registry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s := api.New(api.Options{Registry: reg})
	if err := s.Bootstrap(context.Background()); err != nil {
		t.Fatal(err)
	}
	opts := router.Options{}
	var b *broker.Broker
	if withBroker {
		b = broker.New(broker.Options{})
		opts.Broker = b
	}
	r := router.New(opts)
	a := New(Options{Registry: reg, DataPlane: routerPlane{r}})
	t.Cleanup(func() { a.Close(); reg.Close() })
	return &env{t: t, reg: reg, api: s, agent: a, r: r, b: b}
}

func (e *env) apply(yaml string) {
	e.t.Helper()
	docs, err := model.DecodeStream(strings.NewReader(yaml))
	if err != nil {
		e.t.Fatal(err)
	}
	for _, d := range docs {
		if _, err := e.api.Apply(context.Background(), d.Object); err != nil {
			e.t.Fatalf("%s: %s", d.Object.GetMeta().Name, api.ErrorMessage(err, d.Object))
		}
	}
}

func (e *env) addr(name string) *model.Address {
	e.t.Helper()
	o, ok := e.reg.Get(model.AddressKind, "default", name)
	if !ok {
		e.t.Fatalf("no address %s", name)
	}
	return o.(*model.Address)
}

func (e *env) expect(name string, phase model.Phase, msg string) {
	e.t.Helper()
	a := e.addr(name)
	got := strings.Join(a.Status.Messages, "; ")
	if a.Status.Phase != phase || a.Status.IsReady != (phase == model.PhaseActive) || !strings.Contains(got, msg) {
		e.t.Fatalf("%s: %s ready=%v %q, want %s %q", name, a.Status.Phase, a.Status.IsReady, got, phase, msg)
	}
}

func (e *env) routerHas(space, address string) bool {
	for _, a := range e.r.Addresses(space) {
		if a.Name == address {
			return true
		}
	}
	return false
}

const space = `
apiVersion: enmasse.io/v1beta1
kind: AddressSpace
metadata: {name: s}
spec: {type: standard, plan: standard-unlimited}
`

func TestReconcileStatusIsHonest(t *testing.T) {
	e := newEnv(t, false) // no broker: brokered types cannot become Active
	e.apply(space + `---
apiVersion: enmasse.io/v1beta1
kind: Address
metadata: {name: s.any}
spec: {address: any, type: anycast}
---
apiVersion: enmasse.io/v1beta1
kind: Address
metadata: {name: s.multi}
spec: {address: multi, type: multicast}
---
apiVersion: enmasse.io/v1beta1
kind: Address
metadata: {name: s.q}
spec: {address: q, type: queue}
---
apiVersion: enmasse.io/v1beta1
kind: Address
metadata: {name: s.dup}
spec: {address: any, type: multicast}
---
apiVersion: enmasse.io/v1beta1
kind: Address
metadata: {name: s.sub}
spec: {address: sub, type: subscription, topic: prices}
`)
	e.agent.Sync()
	e.expect("s.any", model.PhaseActive, "")
	e.expect("s.multi", model.PhaseActive, "")
	e.expect("s.q", model.PhaseFailed, "needs a broker")
	e.expect("s.dup", model.PhasePending, "Address 'any' already exists with resource name 's.any'")
	e.expect("s.sub", model.PhasePending, "references a topic address 'prices' that does not exist")
	if !e.routerHas("s", "any") || e.routerHas("s", "sub") {
		t.Fatalf("router addresses: %+v", e.r.Addresses("s"))
	}
	sp, _ := e.reg.Get(model.AddressSpaceKind, "default", "s")
	if st := sp.(*model.AddressSpace).Status; !st.IsReady || st.Phase != model.PhaseActive {
		t.Errorf("space status %+v", st)
	}
	// idempotent: a second pass writes nothing
	rv := e.reg.ResourceVersion()
	e.agent.Sync()
	e.agent.Resync()
	e.agent.Sync()
	if got := e.reg.ResourceVersion(); got != rv {
		t.Errorf("idle passes changed the registry: %d → %d", rv, got)
	}

	// deleting the first owner hands the address to the duplicate
	if _, err := e.api.Delete(context.Background(), model.AddressKind, "default", "s.any", "", ""); err != nil {
		t.Fatal(err)
	}
	e.agent.Sync()
	e.expect("s.dup", model.PhaseActive, "")
	if infos := e.r.Addresses("s"); len(infos) != 2 {
		t.Fatalf("router addresses: %+v", infos)
	}

	// drift: the router loses an address (a restart); the resync repairs it
	e.r.DeleteAddress("s", "multi")
	e.agent.Resync()
	e.agent.Sync()
	if !e.routerHas("s", "multi") {
		t.Fatal("resync did not restore the address")
	}
	e.r.DeleteSpace("s")
	e.agent.Resync()
	e.agent.Sync()
	if !e.routerHas("s", "multi") || !e.routerHas("s", "any") {
		t.Fatal("resync did not restore the space")
	}

	// deleting the space removes it and its addresses
	if _, err := e.api.Delete(context.Background(), model.AddressSpaceKind, "default", "s", "", ""); err != nil {
		t.Fatal(err)
	}
	e.agent.Sync()
	if e.r.Addresses("s") != nil {
		t.Fatal("space still in the router")
	}
}

func TestQueuesWithBrokerAndAutoCreate(t *testing.T) {
	e := newEnv(t, true)
	e.apply(`
apiVersion: enmasse.io/v1beta1
kind: Address
metadata: {name: default.orders}
spec: {address: orders, type: queue, plan: standard-small-queue}
---
apiVersion: enmasse.io/v1beta1
kind: Address
metadata: {name: default.dlq}
spec: {address: dlq, type: deadletter}
---
apiVersion: enmasse.io/v1beta1
kind: Address
metadata: {name: default.q2}
spec: {address: q2, type: queue, deadletter: missing}
`)
	e.agent.Sync()
	e.expect("default.orders", model.PhaseActive, "")
	e.expect("default.dlq", model.PhaseActive, "")
	e.expect("default.q2", model.PhasePending, "deadletter address 'missing'")
	if a := e.addr("default.orders"); a.Status.PlanStatus == nil || a.Status.PlanStatus.Resources["broker"] != 0.01 {
		t.Errorf("planStatus %+v", a.Status.PlanStatus)
	}
	// an address the router created itself (a client's attach) is adopted
	if err := e.r.SetAddress("default", "jobs", router.Queue); err != nil {
		t.Fatal(err)
	}
	e.agent.AutoCreated("default", "jobs", "queue")
	e.agent.Sync()
	e.agent.Sync()
	e.expect("default.jobs", model.PhaseActive, "")
	if a := e.addr("default.jobs"); a.Metadata.Annotations[model.AnnotationCreatedBy] != "auto-create" || a.Spec.Plan != "standard-small-queue" {
		t.Errorf("adopted %+v", a)
	}
	// deleting its resource removes it from router and broker
	if _, err := e.api.Delete(context.Background(), model.AddressKind, "default", "default.jobs", "", ""); err != nil {
		t.Fatal(err)
	}
	e.agent.Sync()
	if e.routerHas("default", "jobs") {
		t.Fatal("deleted address still in the router")
	}
}

func TestQuota(t *testing.T) {
	e := newEnv(t, true)
	// standard-small: router 1, broker 1, aggregate 2. One small queue
	// takes broker 0.01: 100 fit on one broker, the 101st needs a second
	// broker (aggregate 3 > 2).
	e.apply(strings.Replace(space, "standard-unlimited", "standard-small", 1))
	var b strings.Builder
	for i := range 101 {
		fmt.Fprintf(&b, "---\napiVersion: enmasse.io/v1beta1\nkind: Address\nmetadata: {name: s.q%03d}\nspec: {address: q%03d, type: queue}\n", i, i)
	}
	e.apply(b.String())
	e.agent.Sync()
	e.expect("s.q099", model.PhaseActive, "")
	e.expect("s.q100", model.PhasePending, "Quota exceeded")
	if e.routerHas("s", "q100") {
		t.Fatal("over-quota address in the router")
	}
	// freeing one admits the waiting one
	if _, err := e.api.Delete(context.Background(), model.AddressKind, "default", "s.q000", "", ""); err != nil {
		t.Fatal(err)
	}
	e.agent.Sync()
	e.expect("s.q100", model.PhaseActive, "")
	// a plan change that does not fit keeps the applied plan
	e.apply(`
apiVersion: admin.enmasse.io/v1beta2
kind: AddressSpacePlan
metadata: {name: standard-small}
spec:
  addressSpaceType: standard
  resourceLimits: {router: 1, broker: 1, aggregate: 2}
  addressPlans: [standard-small-queue, standard-medium-queue]
---
apiVersion: enmasse.io/v1beta1
kind: Address
metadata: {name: s.q001}
spec: {address: q001, type: queue, plan: standard-medium-queue}
`)
	e.agent.Sync()
	a := e.addr("s.q001")
	if !a.Status.IsReady || a.Status.PlanStatus.Name != "standard-small-queue" || !strings.Contains(strings.Join(a.Status.Messages, ""), "keeping plan 'standard-small-queue'") {
		t.Fatalf("plan change over quota: %+v", a.Status)
	}
}

// TestScale creates addresses through the REST API, from 16 concurrent
// clients, and measures until all are Active. ENMASSE_SCALE sets the
// count (10000 for the figure in the README; the default keeps the suite
// fast under -race).
func TestScale(t *testing.T) {
	n := 1000
	if s := envInt("ENMASSE_SCALE"); s > 0 {
		n = s
	} else if testing.Short() {
		n = 200
	}
	reg, err := registry.Open(registry.Options{Path: t.TempDir() + "/cp.db"})
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	s := api.New(api.Options{Registry: reg})
	s.Bootstrap(context.Background())
	r := router.New(router.Options{Broker: broker.New(broker.Options{})})
	a := New(Options{Registry: reg, DataPlane: routerPlane{r}})
	defer a.Close()
	a.Sync()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if os.Getenv("ENMASSE_NOAGENT") == "" {
		go a.Run(ctx)
	}
	mux := http.NewServeMux()
	s.Register(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	c := client.New(srv.URL, &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 32}})

	start := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(n) {
					return
				}
				typ := []string{"queue", "anycast", "multicast"}[i%3]
				_, err := c.Create(ctx, &model.Address{
					Metadata: model.ObjectMeta{Name: fmt.Sprintf("default.a%05d", i), Namespace: "default"},
					Spec:     model.AddressSpec{Address: fmt.Sprintf("a%05d", i), Type: typ},
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	created := time.Since(start)
	if os.Getenv("ENMASSE_NOAGENT") != "" {
		t.Skipf("%d creates in %v without the agent", n, created)
	}
	for {
		active := 0
		objs, _ := reg.List(model.AddressKind, "default")
		for _, o := range objs {
			if o.(*model.Address).Status.IsReady {
				active++
			}
		}
		if active == n {
			break
		}
		if time.Since(start) > 120*time.Second {
			t.Fatalf("%d of %d Active after %v", active, n, time.Since(start))
		}
		time.Sleep(10 * time.Millisecond)
	}
	all := time.Since(start)
	if len(r.Addresses("default")) != n {
		t.Fatalf("router has %d addresses", len(r.Addresses("default")))
	}
	// list and get stay fast
	t0 := time.Now()
	objs, err := c.List(ctx, model.AddressKind, "default", client.ListOptions{})
	list := time.Since(t0)
	if err != nil || len(objs) != n {
		t.Fatalf("list: %d %v", len(objs), err)
	}
	t0 = time.Now()
	for i := range 100 {
		if _, err := c.Get(ctx, model.AddressKind, "default", fmt.Sprintf("default.a%05d", i*(n/100))); err != nil {
			t.Fatal(err)
		}
	}
	get := time.Since(t0) / 100
	t.Logf("%d addresses: created through the API in %v, all Active after %v; list %v, get %v", n, created.Round(time.Millisecond), all.Round(time.Millisecond), list.Round(time.Millisecond), get.Round(time.Microsecond))
	if n >= 10000 && all > 30*time.Second {
		t.Errorf("%d addresses took %v to become Active, want < 30s", n, all)
	}
}

// deleteRecorder records the addresses the agent deletes.
type deleteRecorder struct {
	routerPlane
	mu      sync.Mutex
	deleted []string
}

func (p *deleteRecorder) DeleteAddress(s, a string) error {
	p.mu.Lock()
	p.deleted = append(p.deleted, a)
	p.mu.Unlock()
	return p.routerPlane.DeleteAddress(s, a)
}

// TestRestartKeepsReplayedSubscription: after a restart the data plane
// has the broker's replayed subscription `prices::archive` but not yet
// its topic. The agent neither adopts it a second time (its resource's
// spec.address is `archive`) nor drops it (with its stored messages)
// because its topic is placed in a later round of the same pass.
func TestRestartKeepsReplayedSubscription(t *testing.T) {
	e := newEnv(t, true)
	e.apply(`
apiVersion: enmasse.io/v1beta1
kind: Address
metadata: {name: default.prices}
spec: {address: prices, type: topic, plan: standard-small-topic}
---
apiVersion: enmasse.io/v1beta1
kind: Address
metadata: {name: default.prices-archive}
spec: {address: archive, topic: prices, type: subscription, plan: standard-small-subscription}
`)
	e.agent.Sync()
	e.agent.Sync()
	e.expect("default.prices-archive", model.PhaseActive, "")

	// The restart: a new router and agent over the same registry and
	// broker, the router holding only the replayed subscription.
	r := router.New(router.Options{Broker: e.b})
	r.SetSpace(router.SpaceConfig{Name: "default", Namespace: "default", AutoCreate: true})
	if err := r.SetAddress("default", "prices::archive", router.Subscription); err != nil {
		t.Fatal(err)
	}
	dp := &deleteRecorder{routerPlane: routerPlane{r}}
	a := New(Options{Registry: e.reg, DataPlane: dp})
	t.Cleanup(a.Close)
	a.Sync()
	e.agent, e.r = a, r
	if len(dp.deleted) != 0 {
		t.Fatalf("the first pass after the restart deleted %v", dp.deleted)
	}
	e.expect("default.prices-archive", model.PhaseActive, "")
	if list, _ := e.reg.List(model.AddressKind, "default"); len(list) != 2 {
		var names []string
		for _, o := range list {
			names = append(names, o.GetMeta().Name)
		}
		t.Fatalf("addresses after the restart: %v, want the 2 applied", names)
	}
}

// serveAMQP listens for AMQP clients of e's router on a random loopback
// port and returns its address.
func (e *env) serveAMQP() string {
	e.t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		e.t.Fatal(err)
	}
	srv := transport.NewServer(ln, transport.Options{
		Handler: e.r, OnOpen: e.r.OnOpen,
		Authenticator: sasl.NewAuthenticator(sasl.Config{AllowAnonymous: true}), AllowNoSASL: true,
	})
	go srv.Serve(context.Background())
	e.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	return ln.Addr().String()
}

// TestUnplaceableKeepsStoredMessages: a queue that cannot be placed for
// a while (here its plan is unknown, as in a plan change) goes Pending
// but keeps its broker queue and stored messages; they are deleted only
// with its resource.
func TestUnplaceableKeepsStoredMessages(t *testing.T) {
	e := newEnv(t, true)
	e.apply(strings.Replace(space, "standard-unlimited", "standard-small", 1) + `---
apiVersion: enmasse.io/v1beta1
kind: Address
metadata: {name: s.orders}
spec: {address: orders, type: queue, plan: standard-small-queue}
`)
	// The space plan allows the queue's plan or not.
	spacePlan := `
apiVersion: admin.enmasse.io/v1beta2
kind: AddressSpacePlan
metadata: {name: standard-small}
spec:
  addressSpaceType: standard
  resourceLimits: {router: 1, broker: 1, aggregate: 2}
  addressPlans: [%s]
`
	e.agent.Sync()
	e.expect("s.orders", model.PhaseActive, "")

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := amqp.Dial(ctx, "amqp://"+e.serveAMQP(), &amqp.ConnOptions{HostName: "s", SASLType: amqp.SASLTypeAnonymous()})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	s, err := conn.NewSession(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	snd, err := s.NewSender(ctx, "orders", nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := snd.Send(ctx, amqp.NewMessage([]byte(fmt.Sprint("order-", i))), nil); err != nil {
			t.Fatal(err)
		}
	}
	depth := func() int {
		st, ok := e.b.Stats("s", "orders")
		if !ok {
			return -1
		}
		return st.Depth
	}
	if d := depth(); d != 3 {
		t.Fatalf("depth %d, want 3", d)
	}

	e.apply(fmt.Sprintf(spacePlan, "standard-medium-queue"))
	e.agent.Sync()
	e.agent.Sync()
	if d := depth(); d != 3 || !e.routerHas("s", "orders") {
		t.Fatalf("unplaceable queue: depth %d, in router %v; want its 3 messages kept", d, e.routerHas("s", "orders"))
	}
	e.expect("s.orders", model.PhasePending, "Address plan 'standard-small-queue' is not allowed by address space plan 'standard-small'")
	e.expect("s.orders", model.PhasePending, "keeps its stored messages")

	e.apply(fmt.Sprintf(spacePlan, "standard-small-queue"))
	e.agent.Sync()
	e.expect("s.orders", model.PhaseActive, "")
	rcv, err := s.NewReceiver(ctx, "orders", &amqp.ReceiverOptions{Credit: 10})
	if err != nil {
		t.Fatal(err)
	}
	m, err := rcv.Receive(ctx, nil)
	if err != nil || string(m.GetData()) != "order-0" {
		t.Fatalf("receive after placing again: %v %v", m, err)
	}
	rcv.AcceptMessage(ctx, m)

	if _, err := e.api.Delete(context.Background(), model.AddressKind, "default", "s.orders", "", ""); err != nil {
		t.Fatal(err)
	}
	e.agent.Sync()
	if d := depth(); d != -1 || e.routerHas("s", "orders") {
		t.Fatalf("deleted queue: depth %d, in router %v; want gone", d, e.routerHas("s", "orders"))
	}
}
