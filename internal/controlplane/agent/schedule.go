package agent

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/enmasse-go/enmasse/internal/controlplane/model"
)

// epsilon absorbs float rounding in credit sums (1000 × 0.001 is not 1.0).
const epsilon = 1e-9

// input is one Address of a space as the scheduler sees it.
type input struct {
	addr    *model.Address
	created uint64
	// applied is true when the address is in the data plane as this
	// resource; appliedPlan is the plan it was placed with.
	applied     bool
	appliedPlan string
}

// decision is what the scheduler wants for one Address.
type decision struct {
	place    bool // it belongs in the data plane
	plan     *model.AddressPlan
	messages []string // why it is not placed, or notes
	// keepApplied is set when a plan change did not fit and the address
	// stays on its applied plan.
	keepApplied bool
}

// plans resolves plans by name, from the object's namespace or the infra
// namespace.
type plans interface {
	addressPlan(name string) *model.AddressPlan
}

// usage is the credit arithmetic of EnMasse's AddressProvisioner (research
// §3.2): router credits add up; broker credits are packed first-fit into
// pooled brokers of capacity 1.0 per partition; topics with a broker credit
// of 1 or more get ceil(credit) brokers of their own.
type usage struct {
	router  float64
	brokers []float64 // used credit of each pooled broker
	sharded int
}

func ceil(x float64) float64 { return math.Ceil(x - epsilon) }

// partitions is how many brokers an address of plan p is spread over.
func partitions(p *model.AddressPlan) int {
	n := p.Spec.Partitions
	if c := int(ceil(p.Spec.Resources["broker"])); c > n {
		n = c
	}
	if n < 1 {
		n = 1
	}
	return n
}

// tryAdd places an address of plan p if the result fits the space plan,
// and reports whether it did. With force it places it anyway.
func (u *usage) tryAdd(p *model.AddressPlan, sp *model.AddressSpacePlan, force bool) bool {
	router := u.router + p.Spec.Resources["router"]
	broker, hasBroker := p.Spec.Resources["broker"]
	sharded := u.sharded
	var bins []int // pooled brokers taken, by index; -1 for a new one
	newBins := 0
	switch {
	case !hasBroker && !brokered(p.Spec.AddressType):
	case p.Spec.AddressType == model.TypeTopic && broker >= 1-epsilon:
		sharded += int(ceil(broker))
	default:
		n := partitions(p)
		each := broker / float64(n)
		for range n {
			found := -1
			for i, b := range u.brokers {
				if b+each <= 1+epsilon && !slices.Contains(bins, i) {
					found = i
					break
				}
			}
			if found < 0 {
				newBins++
			}
			bins = append(bins, found)
		}
	}
	if !force && !fits(sp, ceil(router), float64(len(u.brokers)+newBins+sharded)) {
		return false
	}
	u.router, u.sharded = router, sharded
	if len(bins) > 0 {
		each := broker / float64(len(bins))
		for _, i := range bins {
			if i < 0 {
				u.brokers = append(u.brokers, each)
			} else {
				u.brokers[i] += each
			}
		}
	}
	return true
}

// fits reports whether routers and brokers are within the space plan's
// limits. A missing limit is no limit.
func fits(sp *model.AddressSpacePlan, router, broker float64) bool {
	lim := sp.Spec.ResourceLimits
	if l, ok := lim["router"]; ok && router > l+epsilon {
		return false
	}
	if l, ok := lim["broker"]; ok && broker > l+epsilon {
		return false
	}
	if l, ok := lim["aggregate"]; ok && router+broker > l+epsilon {
		return false
	}
	return true
}

func brokered(t string) bool {
	switch t {
	case model.TypeQueue, model.TypeTopic, model.TypeSubscription, model.TypeDeadletter:
		return true
	}
	return false
}

// spaceTypes lists the address types each address space type supports.
var spaceTypes = map[string][]string{
	model.SpaceStandard: model.AddressTypes,
	model.SpaceBrokered: {model.TypeQueue, model.TypeTopic, model.TypeDeadletter},
}

// DefaultPlanFor returns the plan an address of type t gets in a space of
// plan sp when it names none: the first plan of that type sp lists.
func defaultPlanFor(sp *model.AddressSpacePlan, ps plans, t string) *model.AddressPlan {
	for _, n := range sp.Spec.AddressPlans {
		if p := ps.addressPlan(n); p != nil && p.Spec.AddressType == t {
			return p
		}
	}
	return nil
}

// resolvePlan checks an address's plan against the space and its plan.
func resolvePlan(space *model.AddressSpace, sp *model.AddressSpacePlan, ps plans, a *model.Address) (*model.AddressPlan, string) {
	t := a.Spec.Type
	if !slices.Contains(spaceTypes[space.Spec.Type], t) {
		return nil, fmt.Sprintf("Address type %s is not supported in %s address spaces (supported: %s)",
			t, space.Spec.Type, strings.Join(spaceTypes[space.Spec.Type], ", "))
	}
	name := a.Spec.Plan
	if name == "" {
		if p := defaultPlanFor(sp, ps, t); p != nil {
			return p, ""
		}
		return nil, fmt.Sprintf("Address space plan '%s' has no address plan for type %s", sp.Metadata.Name, t)
	}
	p := ps.addressPlan(name)
	switch {
	case p == nil:
		return nil, fmt.Sprintf("Unknown address plan '%s'", name)
	case p.Spec.AddressType != t:
		return nil, fmt.Sprintf("Address plan '%s' is for addresses of type %s, not %s", name, p.Spec.AddressType, t)
	case !slices.Contains(sp.Spec.AddressPlans, name):
		return nil, fmt.Sprintf("Address plan '%s' is not allowed by address space plan '%s'", name, sp.Metadata.Name)
	}
	return p, ""
}

// schedule decides, for every Address of one space, whether it goes into
// the data plane and with which plan, in EnMasse's order: plan checks,
// duplicate spec.address (the first created wins; an applied one keeps
// its place), references to topics and dead-letter addresses, then quota
// — addresses already applied keep their credits first, the rest are
// admitted in creation order while they fit. It is a pure function of its
// inputs.
func schedule(space *model.AddressSpace, sp *model.AddressSpacePlan, ps plans, in []input) map[string]*decision {
	out := make(map[string]*decision, len(in))
	order := slices.Clone(in)
	slices.SortFunc(order, func(a, b input) int {
		switch {
		case a.created < b.created:
			return -1
		case a.created > b.created:
			return 1
		}
		return strings.Compare(a.addr.Metadata.Name, b.addr.Metadata.Name)
	})

	// Plans, and which resource owns each spec.address.
	owner := map[string]*model.Address{}
	ownerApplied := map[string]bool{}
	for _, it := range order {
		d := &decision{}
		out[it.addr.Metadata.Name] = d
		p, msg := resolvePlan(space, sp, ps, it.addr)
		if msg != "" {
			d.messages = append(d.messages, msg)
			continue
		}
		d.plan = p
		addr := it.addr.Spec.Address
		if cur := owner[addr]; cur == nil || (it.applied && !ownerApplied[addr]) {
			owner[addr], ownerApplied[addr] = it.addr, it.applied
		}
	}
	for _, it := range order {
		d := out[it.addr.Metadata.Name]
		if d.plan == nil {
			continue
		}
		if o := owner[it.addr.Spec.Address]; o != it.addr {
			d.plan = nil
			d.messages = append(d.messages, fmt.Sprintf("Address '%s' already exists with resource name '%s'", it.addr.Spec.Address, o.Metadata.Name))
		}
	}

	var u usage
	placedType := map[string]string{} // spec.address → type, of placed addresses
	admit := func(it input, d *decision) {
		if msg := references(it.addr, owner, placedType); msg != "" {
			d.plan = nil
			d.messages = append(d.messages, msg)
			return
		}
		switch {
		case u.tryAdd(d.plan, sp, false):
		case !it.applied:
			d.plan = nil
			d.messages = append(d.messages, "Quota exceeded")
			return
		default:
			// An applied address never loses its place: it keeps the plan it
			// was placed with when a new plan does not fit.
			if old := ps.addressPlan(it.appliedPlan); old != nil && it.appliedPlan != d.plan.Metadata.Name {
				d.messages = append(d.messages, fmt.Sprintf("Quota exceeded: plan '%s' does not fit address space plan '%s'; keeping plan '%s'",
					d.plan.Metadata.Name, sp.Metadata.Name, old.Metadata.Name))
				d.plan, d.keepApplied = old, true
			} else {
				d.messages = append(d.messages, fmt.Sprintf("Quota exceeded: address space plan '%s' is smaller than what its addresses already use", sp.Metadata.Name))
			}
			u.tryAdd(d.plan, sp, true)
		}
		d.place = true
		placedType[it.addr.Spec.Address] = it.addr.Spec.Type
	}
	// Rounds: applied addresses keeping their plan (never evicted by
	// quota), then applied addresses changing plan (which fall back to their
	// applied plan if the new one does not fit), then new addresses in
	// creation order; in each round subscriptions after their topics.
	round := func(it input, d *decision) int {
		switch {
		case !it.applied:
			return 2
		case it.appliedPlan != d.plan.Metadata.Name:
			return 1
		}
		return 0
	}
	// A subscription whose topic waits for a later round waits for it
	// (after a restart an applied subscription's topic may be new to the
	// data plane): deciding it before would unplace it, and the data
	// plane would drop it with its stored messages.
	var later []input
	topicLater := func(it input) bool {
		t := owner[it.addr.Spec.Topic]
		if it.addr.Spec.Type != model.TypeSubscription || t == nil || placedType[it.addr.Spec.Topic] != "" {
			return false
		}
		td := out[t.Metadata.Name]
		return td != nil && td.plan != nil && !td.place
	}
	for r := range 3 {
		for _, subs := range []bool{false, true} {
			for _, it := range order {
				d := out[it.addr.Metadata.Name]
				if d.plan == nil || d.place || round(it, d) != r || (it.addr.Spec.Type == model.TypeSubscription) != subs {
					continue
				}
				if r < 2 && topicLater(it) {
					later = append(later, it)
					continue
				}
				admit(it, d)
			}
		}
	}
	for _, it := range later {
		if d := out[it.addr.Metadata.Name]; d.plan != nil && !d.place {
			admit(it, d)
		}
	}
	return out
}

// references checks that a subscription's topic and an address's
// dead-letter and expiry addresses exist with the right type, and that a
// subscription's topic is placed.
func references(a *model.Address, owner map[string]*model.Address, placedType map[string]string) string {
	s := &a.Spec
	if s.Type == model.TypeSubscription {
		t := owner[s.Topic]
		if t == nil || t.Spec.Type != model.TypeTopic {
			return fmt.Sprintf("Subscription address '%s' (resource name '%s') references a topic address '%s' that does not exist.",
				s.Address, a.Metadata.Name, s.Topic)
		}
		if placedType[s.Topic] == "" {
			return fmt.Sprintf("Subscription address '%s' waits for its topic '%s' (resource name '%s'), which is not ready",
				s.Address, s.Topic, t.Metadata.Name)
		}
	}
	for _, ref := range []struct{ field, addr string }{{"deadletter", s.Deadletter}, {"expiry", s.Expiry}} {
		if ref.addr == "" {
			continue
		}
		if d := owner[ref.addr]; d == nil || d.Spec.Type != model.TypeDeadletter {
			return fmt.Sprintf("Address '%s' references %s address '%s', which does not exist or is not of type deadletter",
				s.Address, ref.field, ref.addr)
		}
	}
	return ""
}
