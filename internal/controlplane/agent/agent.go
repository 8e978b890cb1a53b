package agent

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/enmasse-go/enmasse/internal/controlplane/model"
	"github.com/enmasse-go/enmasse/internal/controlplane/registry"
)

// SpaceConfig is an address space as the data plane sees it.
type SpaceConfig struct {
	// Name is the data-plane name (model.DataPlaneSpace).
	Name      string
	Namespace string
	// AutoCreate creates addresses that clients attach to; the data plane
	// reports each through Agent.AutoCreated.
	AutoCreate bool
	// Policy is the router policy of the space's plan (zero: unlimited).
	Policy model.RouterPolicy
}

// DataPlane is what the agent drives: in `enmasse serve` the in-process
// router (and, behind it, the broker). All methods must be idempotent and
// safe for concurrent use. Address types are the model's type names.
type DataPlane interface {
	SetSpace(cfg SpaceConfig)
	// DeleteSpace removes a space; its links are detached.
	DeleteSpace(name string)
	SetAddress(space, address, addrType string) error
	// DeleteAddress removes an address; its links are detached.
	DeleteAddress(space, address string) error
	// Addresses returns the addresses of a space with their types; ok is
	// false when the space does not exist.
	Addresses(space string) (addrs map[string]string, ok bool)
}

// Options configure an Agent.
type Options struct {
	Registry  *registry.Registry
	DataPlane DataPlane
	// Resync is the period of the full reconciliation that repairs any
	// drift of the data plane. Default 10 s.
	Resync time.Duration
	// Endpoints, if set, gives the endpoint statuses shown on every address
	// space (where clients connect).
	Endpoints func() []model.EndpointStatus
	// Federated says federated MessagingUsers can log in (serve has an
	// OIDC issuer for their bearer tokens); without it they are Failed.
	Federated bool
	Logger    *slog.Logger
}

type spaceRef struct{ ns, name string }

// Agent reconciles the registry's resources into the data plane and
// writes back honest status. See doc.go.
type Agent struct {
	opts Options
	reg  *registry.Registry
	dp   DataPlane
	log  *slog.Logger

	mu    sync.Mutex // guards dirty, all, names
	dirty map[spaceRef]bool
	all   bool
	names map[string]spaceRef // data-plane space → address space
	kick  chan struct{}

	passMu sync.Mutex // serializes passes; guards the fields below
	known  map[string]spaceRef
	// managed holds, per data-plane space, the addresses the agent put
	// there. An address the data plane has that is neither managed nor
	// claimed by a resource was made by someone else (a client's attach in
	// an auto-creating space, a broker replaying its journal) and is
	// adopted as a resource rather than deleted.
	managed map[string]map[string]bool
	retryAt map[spaceRef]time.Time
	backoff map[spaceRef]time.Duration
	cancel  func()
}

// New returns an agent subscribed to the registry's changes. Call Sync
// once to converge, then Run.
func New(opts Options) *Agent {
	if opts.Resync <= 0 {
		opts.Resync = 10 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	a := &Agent{
		opts: opts, reg: opts.Registry, dp: opts.DataPlane, log: opts.Logger,
		dirty: map[spaceRef]bool{}, all: true, names: map[string]spaceRef{},
		kick:  make(chan struct{}, 1),
		known: map[string]spaceRef{}, managed: map[string]map[string]bool{},
		retryAt: map[spaceRef]time.Time{}, backoff: map[spaceRef]time.Duration{},
	}
	a.cancel = a.reg.Subscribe(a.onEvents)
	return a
}

// Close unsubscribes from the registry.
func (a *Agent) Close() { a.cancel() }

// onEvents marks the spaces that changed resources belong to. It runs on
// the registry's writer goroutine and must not block.
func (a *Agent) onEvents(evs []registry.Event) {
	a.mu.Lock()
	for _, ev := range evs {
		m := ev.Object.GetMeta()
		switch ev.Object.(type) {
		case *model.AddressSpace:
			a.dirty[spaceRef{m.Namespace, m.Name}] = true
		case *model.Address, *model.MessagingUser:
			if s := model.SpaceOf(ev.Object); s != "" {
				a.dirty[spaceRef{m.Namespace, s}] = true
			}
		default: // plans affect every space
			a.all = true
		}
	}
	a.mu.Unlock()
	a.wake()
}

func (a *Agent) wake() {
	select {
	case a.kick <- struct{}{}:
	default:
	}
}

// AutoCreated is the data plane's report that a client's attach created
// an address; the agent records it as an Address resource on its next
// pass. It does not block.
func (a *Agent) AutoCreated(space, address, addrType string) {
	a.mu.Lock()
	if ref, ok := a.names[space]; ok {
		a.dirty[ref] = true
	} else {
		a.all = true
	}
	a.mu.Unlock()
	a.wake()
}

// Resync asks for a full pass soon, for changes the agent cannot see
// (its Endpoints).
func (a *Agent) Resync() {
	a.mu.Lock()
	a.all = true
	a.mu.Unlock()
	a.wake()
}

// Run reconciles on every change, on retries and every Resync, until ctx
// ends.
func (a *Agent) Run(ctx context.Context) {
	resync := time.NewTicker(a.opts.Resync)
	defer resync.Stop()
	retry := time.NewTimer(time.Hour)
	defer retry.Stop()
	for {
		t0 := time.Now()
		next := a.Sync()
		// Let changes pile up for a moment after a pass, in proportion to
		// its cost: under a burst of creates each pass then handles many,
		// and the agent takes at most about a third of a core.
		gap := min(max(2*time.Since(t0), 5*time.Millisecond), time.Second)
		select {
		case <-ctx.Done():
			return
		case <-time.After(gap):
		}
		retry.Reset(max(next-gap, time.Millisecond))
		select {
		case <-ctx.Done():
			return
		case <-a.kick:
		case <-retry.C:
		case <-resync.C:
			a.mu.Lock()
			a.all = true
			a.mu.Unlock()
		}
	}
}

// Sync runs one reconciliation pass over the spaces that changed (all of
// them the first time) and returns how long until a failed space should be
// retried.
func (a *Agent) Sync() time.Duration {
	a.passMu.Lock()
	defer a.passMu.Unlock()
	a.mu.Lock()
	dirty, all := a.dirty, a.all
	a.dirty, a.all = map[spaceRef]bool{}, false
	a.mu.Unlock()
	if all {
		for _, ref := range a.allSpaces() {
			dirty[ref] = true
		}
	}
	now := time.Now()
	for ref, at := range a.retryAt {
		if !now.Before(at) {
			dirty[ref] = true
		}
	}
	refs := make([]spaceRef, 0, len(dirty))
	for ref := range dirty {
		refs = append(refs, ref)
	}
	slices.SortFunc(refs, func(x, y spaceRef) int {
		if c := strings.Compare(x.ns, y.ns); c != 0 {
			return c
		}
		return strings.Compare(x.name, y.name)
	})
	for _, ref := range refs {
		a.reconcile(ref)
	}
	next := time.Hour
	for _, at := range a.retryAt {
		if d := time.Until(at); d < next {
			next = max(d, time.Millisecond)
		}
	}
	return next
}

// allSpaces lists every address space, every space the data plane has
// from us, and every space named by an address or user.
func (a *Agent) allSpaces() []spaceRef {
	seen := map[spaceRef]bool{}
	spaces, _ := a.reg.List(model.AddressSpaceKind, "")
	for _, s := range spaces {
		seen[spaceRef{s.GetMeta().Namespace, s.GetMeta().Name}] = true
	}
	for _, ref := range a.known {
		seen[ref] = true
	}
	for _, k := range []*model.KindInfo{model.AddressKind, model.MessagingUserKind} {
		objs, _ := a.reg.List(k, "")
		for _, o := range objs {
			if s := model.SpaceOf(o); s != "" {
				seen[spaceRef{o.GetMeta().Namespace, s}] = true
			}
		}
	}
	out := make([]spaceRef, 0, len(seen))
	for ref := range seen {
		out = append(out, ref)
	}
	return out
}

// itemsOf returns the Addresses or MessagingUsers of a space.
func (a *Agent) itemsOf(k *model.KindInfo, ref spaceRef) []registry.Item {
	all := a.reg.Items(k, ref.ns)
	prefix := ref.name + "."
	// Items are sorted by name, so the space's are one run.
	i, _ := slices.BinarySearchFunc(all, prefix, func(it registry.Item, p string) int {
		return strings.Compare(it.Object.GetMeta().Name, p)
	})
	j := i
	for j < len(all) && strings.HasPrefix(all[j].Object.GetMeta().Name, prefix) {
		j++
	}
	return all[i:j]
}

// planSet resolves plans for one namespace, caching lookups for a pass.
type planSet struct {
	reg   *registry.Registry
	ns    string
	addr  map[string]*model.AddressPlan
	space map[string]*model.AddressSpacePlan
}

func (a *Agent) plans(ns string) *planSet {
	return &planSet{reg: a.reg, ns: ns, addr: map[string]*model.AddressPlan{}, space: map[string]*model.AddressSpacePlan{}}
}

func lookupPlan(reg *registry.Registry, k *model.KindInfo, ns, name string) model.Object {
	if o, ok := reg.Get(k, ns, name); ok {
		return o
	}
	if o, ok := reg.Get(k, model.InfraNamespace, name); ok {
		return o
	}
	return nil
}

func (p *planSet) addressPlan(name string) *model.AddressPlan {
	if name == "" {
		return nil
	}
	if ap, ok := p.addr[name]; ok {
		return ap
	}
	var ap *model.AddressPlan
	if o := lookupPlan(p.reg, model.AddressPlanKind, p.ns, name); o != nil {
		ap = o.(*model.AddressPlan)
	}
	p.addr[name] = ap
	return ap
}

func (p *planSet) spacePlan(name string) *model.AddressSpacePlan {
	if sp, ok := p.space[name]; ok {
		return sp
	}
	var sp *model.AddressSpacePlan
	if o := lookupPlan(p.reg, model.AddressSpacePlanKind, p.ns, name); o != nil {
		sp = o.(*model.AddressSpacePlan)
	}
	p.space[name] = sp
	return sp
}

// reconcile drives one address space, its addresses and users.
func (a *Agent) reconcile(ref spaceRef) {
	dpName := model.DataPlaneSpace(ref.ns, ref.name)
	addrs := a.itemsOf(model.AddressKind, ref)
	users := a.itemsOf(model.MessagingUserKind, ref)
	obj, ok := a.reg.Get(model.AddressSpaceKind, ref.ns, ref.name)
	if !ok {
		if _, known := a.known[dpName]; known {
			a.dp.DeleteSpace(dpName)
			delete(a.known, dpName)
			a.log.Info("address space removed from the data plane", "space", dpName)
		}
		a.forget(ref, dpName)
		msg := fmt.Sprintf("Address space '%s' does not exist in namespace '%s'", ref.name, ref.ns)
		a.writeAddressStatuses(ref, addrs, pendingAll(addrs, msg))
		a.writeUserStatuses(ref, users, false, msg)
		return
	}
	space := obj.(*model.AddressSpace)
	ps := a.plans(ref.ns)
	sp := ps.spacePlan(space.Spec.Plan)
	var planMsg string
	switch {
	case sp == nil:
		planMsg = fmt.Sprintf("Unknown address space plan '%s'", space.Spec.Plan)
	case sp.Spec.AddressSpaceType != space.Spec.Type:
		planMsg = fmt.Sprintf("Address space plan '%s' is for %s address spaces, not %s", space.Spec.Plan, sp.Spec.AddressSpaceType, space.Spec.Type)
	}
	if planMsg != "" {
		a.writeSpaceStatus(space, model.AddressSpaceStatus{Phase: model.PhasePending, Messages: []string{planMsg}})
		a.writeAddressStatuses(ref, addrs, pendingAll(addrs, fmt.Sprintf("Address space '%s' is not ready: %s", ref.name, planMsg)))
		a.writeUserStatuses(ref, users, false, planMsg)
		return
	}

	cfg := SpaceConfig{Name: dpName, Namespace: ref.ns, AutoCreate: model.AutoCreates(space)}
	if sp.Spec.RouterPolicy != nil {
		cfg.Policy = *sp.Spec.RouterPolicy
	}
	a.dp.SetSpace(cfg)
	a.known[dpName] = ref
	a.mu.Lock()
	a.names[dpName] = ref
	a.mu.Unlock()

	actual, exists := a.dp.Addresses(dpName)
	if a.adopt(ref, dpName, sp, ps, addrs, actual) {
		addrs = a.itemsOf(model.AddressKind, ref)
	}
	decisions := schedule(space, sp, ps, inputs(addrs, actual))
	errs, changed := a.apply(dpName, addrs, decisions, actual)
	if changed {
		actual, exists = a.dp.Addresses(dpName)
	}
	a.writeAddressStatuses(ref, addrs, addressStatuses(addrs, decisions, actual, errs))
	a.writeUserStatuses(ref, users, true, "")

	st := model.AddressSpaceStatus{IsReady: exists, Phase: model.PhaseActive}
	if !exists {
		st.Phase = model.PhaseConfiguring
		st.Messages = []string{"Address space is not yet configured in the router"}
	}
	if a.opts.Endpoints != nil {
		st.EndpointStatuses = a.opts.Endpoints()
	}
	if cfg.Policy != (model.RouterPolicy{}) {
		p := cfg.Policy
		st.RouterPolicy = &p
	}
	a.writeSpaceStatus(space, st)

	if len(errs) > 0 {
		b := a.backoff[ref]
		b = min(max(2*b, time.Second), time.Minute)
		a.backoff[ref] = b
		a.retryAt[ref] = time.Now().Add(b)
	} else {
		delete(a.backoff, ref)
		delete(a.retryAt, ref)
	}
}

// forget drops a deleted space's bookkeeping.
func (a *Agent) forget(ref spaceRef, dpName string) {
	delete(a.backoff, ref)
	delete(a.retryAt, ref)
	delete(a.managed, dpName)
	a.mu.Lock()
	delete(a.names, dpName)
	a.mu.Unlock()
}

func inputs(addrs []registry.Item, actual map[string]string) []input {
	in := make([]input, len(addrs))
	for i, it := range addrs {
		ad := it.Object.(*model.Address)
		in[i] = input{addr: ad, created: it.Created}
		if ad.Status.PlanStatus != nil && actual[dataPlaneAddress(ad)] == ad.Spec.Type {
			in[i].applied, in[i].appliedPlan = true, ad.Status.PlanStatus.Name
		}
	}
	return in
}

// apply makes the data plane hold exactly the placed addresses. It
// returns the errors by address and whether it changed anything.
func (a *Agent) apply(dpName string, addrs []registry.Item, decisions map[string]*decision, actual map[string]string) (map[string]error, bool) {
	desired := map[string]string{}
	// claimed holds, per data-plane address, the types resources give it.
	claimed := make(map[string][]string, len(addrs))
	for _, it := range addrs {
		ad := it.Object.(*model.Address)
		claimed[dataPlaneAddress(ad)] = append(claimed[dataPlaneAddress(ad)], ad.Spec.Type)
		if d := decisions[ad.Metadata.Name]; d != nil && d.place {
			desired[dataPlaneAddress(ad)] = ad.Spec.Type
		}
	}
	managed := a.managed[dpName]
	if managed == nil {
		managed = map[string]bool{}
		a.managed[dpName] = managed
	}
	errs := map[string]error{}
	changed := false
	// Subscriptions after everything else: a subscription's topic must be
	// in the data plane first, whatever the map's order.
	order := slices.Collect(maps.Keys(desired))
	slices.SortFunc(order, func(x, y string) int {
		xs, ys := desired[x] == model.TypeSubscription, desired[y] == model.TypeSubscription
		switch {
		case xs && !ys:
			return 1
		case ys && !xs:
			return -1
		}
		return strings.Compare(x, y)
	})
	for _, addr := range order {
		typ := desired[addr]
		have, ok := actual[addr]
		if have == typ {
			managed[addr] = true
			continue
		}
		changed = true
		if ok {
			_ = a.dp.DeleteAddress(dpName, addr)
		}
		if err := a.dp.SetAddress(dpName, addr, typ); err != nil {
			errs[addr] = err
			a.log.Debug("address not configured", "space", dpName, "address", addr, "err", err)
			continue
		}
		managed[addr] = true
	}
	if ps, ok := a.dp.(PolicySetter); ok {
		for _, it := range addrs {
			ad := it.Object.(*model.Address)
			d := decisions[ad.Metadata.Name]
			if d == nil || !d.place || errs[dataPlaneAddress(ad)] != nil {
				continue
			}
			if p, ok := deliveryPolicy(ad, d.plan); ok {
				if err := ps.SetPolicy(dpName, dataPlaneAddress(ad), p); err != nil {
					a.log.Debug("delivery policy not applied", "space", dpName, "address", ad.Spec.Address, "err", err)
				}
			}
		}
	}
	for addr, typ := range actual {
		if _, ok := desired[addr]; ok || (!managed[addr] && claimed[addr] == nil) {
			continue // wanted, or not ours and to be adopted
		}
		if stored(typ) && slices.Contains(claimed[addr], typ) {
			// A resource still claims it with this type but cannot be
			// placed now (quota, plan, a topic not yet placed): it keeps
			// its queue and stored messages. Only deleting the resource,
			// or changing its address or type, removes them.
			managed[addr] = true
			continue
		}
		changed = true
		delete(managed, addr)
		if err := a.dp.DeleteAddress(dpName, addr); err != nil {
			a.log.Warn("removing address", "space", dpName, "address", addr, "err", err)
		}
	}
	return errs, changed
}

// stored reports whether addresses of a type hold messages in the broker.
func stored(typ string) bool {
	return typ != model.TypeAnycast && typ != model.TypeMulticast
}

// pendingAll gives every address the same Pending message.
func pendingAll(addrs []registry.Item, msg string) map[string]model.AddressStatus {
	out := make(map[string]model.AddressStatus, len(addrs))
	for _, it := range addrs {
		ad := it.Object.(*model.Address)
		out[ad.Metadata.Name] = withSubscription(ad, model.AddressStatus{Phase: model.PhasePending, Messages: []string{msg}})
	}
	return out
}

func withSubscription(ad *model.Address, st model.AddressStatus) model.AddressStatus {
	if ad.Spec.Type == model.TypeSubscription {
		n := model.MaxConsumers(&ad.Spec)
		st.Subscription = &model.SubscriptionSpec{MaxConsumers: &n}
	}
	return st
}

// addressStatuses computes each address's status from the decision and
// what the data plane really has: Active only when the address is there
// with its type.
func addressStatuses(addrs []registry.Item, decisions map[string]*decision, actual map[string]string, errs map[string]error) map[string]model.AddressStatus {
	out := make(map[string]model.AddressStatus, len(addrs))
	for _, it := range addrs {
		ad := it.Object.(*model.Address)
		d := decisions[ad.Metadata.Name]
		var st model.AddressStatus
		switch {
		case d == nil || !d.place:
			st.Phase = model.PhasePending
			if d != nil {
				st.Messages = d.messages
			}
			if stored(ad.Spec.Type) && actual[dataPlaneAddress(ad)] == ad.Spec.Type {
				st.Messages = append(slices.Clip(st.Messages), fmt.Sprintf("Address '%s' keeps its stored messages until it can be placed or its resource is deleted", ad.Spec.Address))
			}
		default:
			st.PlanStatus = &model.PlanStatus{Name: d.plan.Metadata.Name, Partitions: partitions(d.plan), Resources: d.plan.Spec.Resources}
			st.Messages = d.messages
			switch {
			case actual[dataPlaneAddress(ad)] == ad.Spec.Type:
				st.IsReady, st.Phase = true, model.PhaseActive
			case errs[dataPlaneAddress(ad)] != nil:
				st.Phase = model.PhaseFailed
				st.Messages = append(slices.Clip(st.Messages), errs[dataPlaneAddress(ad)].Error())
			default:
				st.Phase = model.PhaseConfiguring
				st.Messages = append(slices.Clip(st.Messages), fmt.Sprintf("Address '%s' is not yet in the router", ad.Spec.Address))
			}
		}
		out[ad.Metadata.Name] = withSubscription(ad, st)
	}
	return out
}

func (a *Agent) writeAddressStatuses(ref spaceRef, addrs []registry.Item, statuses map[string]model.AddressStatus) {
	fns := map[string]registry.StatusFunc{}
	for _, it := range addrs {
		ad := it.Object.(*model.Address)
		st := statuses[ad.Metadata.Name]
		if reflect.DeepEqual(ad.Status, st) {
			continue
		}
		fns[ad.Metadata.Name] = func(o model.Object) model.Object {
			c := model.Shallow(o).(*model.Address)
			c.Status = st
			return c
		}
	}
	if len(fns) > 0 {
		if err := a.reg.UpdateStatus(model.AddressKind, ref.ns, fns); err != nil {
			a.log.Warn("writing address status", "err", err)
		}
	}
}

func (a *Agent) writeSpaceStatus(space *model.AddressSpace, st model.AddressSpaceStatus) {
	if reflect.DeepEqual(space.Status, st) {
		return
	}
	err := a.reg.UpdateStatus(model.AddressSpaceKind, space.Metadata.Namespace, map[string]registry.StatusFunc{
		space.Metadata.Name: func(o model.Object) model.Object {
			c := model.Shallow(o).(*model.AddressSpace)
			c.Status = st
			return c
		},
	})
	if err != nil {
		a.log.Warn("writing address space status", "err", err)
	}
}

// writeUserStatuses marks users Active when their space is ready and they
// can authenticate.
func (a *Agent) writeUserStatuses(ref spaceRef, users []registry.Item, spaceReady bool, why string) {
	fns := map[string]registry.StatusFunc{}
	for _, it := range users {
		u := it.Object.(*model.MessagingUser)
		st := model.MessagingUserStatus{Phase: model.PhaseActive, Generation: u.Metadata.Generation}
		switch auth := u.Spec.Authentication; {
		case !spaceReady:
			st.Phase, st.Message = model.PhasePending, why
		case auth == nil:
			st.Phase, st.Message = model.PhaseFailed, "spec.authentication is missing"
		case auth.Type == model.AuthFederated && a.opts.Federated:
			// Logs in with a bearer token of the OIDC issuer.
		case auth.Type == model.AuthFederated:
			st.Phase, st.Message = model.PhaseFailed, "Federated users log in with bearer tokens: start the server with --oidc-issuer"
		case auth.Type != model.AuthPassword:
			st.Phase, st.Message = model.PhaseFailed, fmt.Sprintf("Authentication type %s is not supported by this server yet; use password or federated", auth.Type)
		default:
			if _, ok := a.reg.Secret(model.MessagingUserKind, ref.ns, u.Metadata.Name); !ok {
				st.Phase, st.Message = model.PhaseFailed, "No password set: give spec.authentication.password"
			}
		}
		if u.Status == st {
			continue
		}
		fns[u.Metadata.Name] = func(o model.Object) model.Object {
			c := model.Shallow(o).(*model.MessagingUser)
			c.Status = st
			return c
		}
	}
	if len(fns) > 0 {
		if err := a.reg.UpdateStatus(model.MessagingUserKind, ref.ns, fns); err != nil {
			a.log.Warn("writing user status", "err", err)
		}
	}
}

// adopt creates Address resources for addresses the data plane has that
// the agent did not put there and no resource claims (created on attach,
// or replayed by the broker), and reports whether it created any.
func (a *Agent) adopt(ref spaceRef, dpName string, sp *model.AddressSpacePlan, ps *planSet, addrs []registry.Item, actual map[string]string) bool {
	have := make(map[string]bool, len(addrs))
	names := make(map[string]bool, len(addrs))
	for _, it := range addrs {
		// A subscription is `{topic}::{address}` in the data plane.
		have[dataPlaneAddress(it.Object.(*model.Address))] = true
		names[it.Object.GetMeta().Name] = true
	}
	managed := a.managed[dpName]
	var create []*model.Address
	for addr, typ := range actual {
		if have[addr] || managed[addr] {
			continue
		}
		name := model.AddressResourceName(ref.name, addr)
		if names[name] {
			name = model.AddressResourceName(ref.name, addr+" ") // forces the checksummed form
		}
		names[name] = true
		plan := ""
		if p := defaultPlanFor(sp, ps, typ); p != nil {
			plan = p.Metadata.Name
		}
		spec := model.AddressSpec{Address: addr, Type: typ, Plan: plan}
		if tn, sub, ok := strings.Cut(addr, "::"); ok && typ == model.TypeSubscription {
			// dataPlaneAddress gives back `{topic}::{address}`.
			spec.Topic, spec.Address = tn, sub
		}
		create = append(create, &model.Address{
			Metadata: model.ObjectMeta{Name: name, Namespace: ref.ns,
				Annotations: map[string]string{model.AnnotationCreatedBy: "auto-create"}},
			Spec:   spec,
			Status: model.AddressStatus{Phase: model.PhasePending},
		})
	}
	if len(create) == 0 {
		return false
	}
	err := a.reg.Update(context.Background(), func(tx *registry.Tx) error {
		for _, ad := range create {
			if _, exists := tx.Get(model.AddressKind, ad.Metadata.Namespace, ad.Metadata.Name); exists {
				continue
			}
			if err := tx.Create(ad, nil); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		a.log.Warn("recording auto-created addresses", "space", dpName, "err", err)
		return false
	}
	for _, ad := range create {
		a.log.Info("address created on attach recorded", "space", dpName, "address", ad.Spec.Address, "resource", ad.Metadata.Name)
	}
	return true
}

// dataPlaneAddress is the name an address has in the router and broker: a
// subscription is `{topic}::{subscription}` there, the address consumers
// attach to (SPEC §4).
func dataPlaneAddress(ad *model.Address) string {
	if ad.Spec.Type == model.TypeSubscription && ad.Spec.Topic != "" {
		return ad.Spec.Topic + "::" + ad.Spec.Address
	}
	return ad.Spec.Address
}

// Policy is the delivery policy of a broker-backed address: EnMasse's
// messageTtl and messageRedelivery (the address's settings override its
// plan's), its deadletter and expiry addresses, and a subscription's
// maxConsumers. Durations are in
// milliseconds as in the resources.
type Policy struct {
	Deadletter, Expiry        string
	MinTTL, MaxTTL            int64
	MaxDeliveryAttempts       int
	RedeliveryDelay           int64
	RedeliveryDelayMultiplier float64
	MaxRedeliveryDelay        int64
	// MaxConsumers is a subscription's spec.subscription.maxConsumers
	// (1 exclusive, more shared; SPEC §4); 0 for other types.
	MaxConsumers int
}

// PolicySetter is implemented by data planes whose broker takes delivery
// policies; the agent applies them on every pass (idempotent).
type PolicySetter interface {
	SetPolicy(space, address string, p Policy) error
}

// deliveryPolicy computes an address's policy; ok is false for types
// without one.
func deliveryPolicy(ad *model.Address, plan *model.AddressPlan) (Policy, bool) {
	switch ad.Spec.Type {
	case model.TypeQueue, model.TypeSubscription, model.TypeDeadletter:
	default:
		return Policy{}, false
	}
	p := Policy{Deadletter: ad.Spec.Deadletter, Expiry: ad.Spec.Expiry, MaxConsumers: model.MaxConsumers(&ad.Spec)}
	ttls := []*model.MessageTTL{ad.Spec.MessageTTL}
	reds := []*model.MessageRedelivery{ad.Spec.Redelivery}
	if plan != nil {
		ttls = append(ttls, plan.Spec.MessageTTL)
		reds = append(reds, plan.Spec.Redelivery)
	}
	for _, t := range ttls { // the first that sets a field wins
		if t == nil {
			continue
		}
		if t.Minimum != nil && p.MinTTL == 0 {
			p.MinTTL = *t.Minimum
		}
		if t.Maximum != nil && p.MaxTTL == 0 {
			p.MaxTTL = *t.Maximum
		}
	}
	for _, r := range reds {
		if r == nil {
			continue
		}
		if r.MaximumDeliveryAttempts != nil && p.MaxDeliveryAttempts == 0 {
			p.MaxDeliveryAttempts = *r.MaximumDeliveryAttempts
		}
		if r.RedeliveryDelay != nil && p.RedeliveryDelay == 0 {
			p.RedeliveryDelay = *r.RedeliveryDelay
		}
		if r.RedeliveryDelayMultiplier != nil && p.RedeliveryDelayMultiplier == 0 {
			p.RedeliveryDelayMultiplier = *r.RedeliveryDelayMultiplier
		}
		if r.MaximumDeliveryDelay != nil && p.MaxRedeliveryDelay == 0 {
			p.MaxRedeliveryDelay = *r.MaximumDeliveryDelay
		}
	}
	return p, true
}
