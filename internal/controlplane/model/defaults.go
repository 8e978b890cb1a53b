package model

import (
	"fmt"
	"hash/crc32"
	"strings"
)

// Names of the defaults created on first start (SPEC §2).
const (
	DefaultNamespace    = "default"
	DefaultAddressSpace = "default"
	DefaultSpacePlan    = "standard-unlimited"
	// InfraNamespace holds the plans every namespace may use, like
	// EnMasse's infrastructure namespace. A plan in an object's own
	// namespace wins over one of the same name here.
	InfraNamespace = DefaultNamespace
)

func addressPlan(name, typ string, router, broker float64, partitions int, order int, desc string) *AddressPlan {
	res := map[string]float64{"router": router}
	if broker > 0 || strings.HasPrefix(name, "brokered") {
		res["broker"] = broker
	}
	return &AddressPlan{
		TypeMeta: TypeMeta{APIVersion: AddressPlanKind.APIVersion(), Kind: AddressPlanKind.Kind},
		Metadata: ObjectMeta{Name: name, Namespace: InfraNamespace, Labels: map[string]string{"app": "enmasse"}},
		Spec: AddressPlanSpec{
			AddressType: typ, Resources: res, Partitions: partitions,
			DisplayName: strings.ReplaceAll(name, "-", " "), DisplayOrder: order, ShortDescription: desc,
		},
	}
}

// DefaultAddressPlans are the address plans EnMasse shipped
// (templates/example-plans, research §2.5), with its credits.
func DefaultAddressPlans() []*AddressPlan {
	ps := []*AddressPlan{
		addressPlan("standard-small-anycast", TypeAnycast, 0.001, 0, 0, 0, "Direct messaging, small"),
		addressPlan("standard-medium-anycast", TypeAnycast, 0.01, 0, 0, 1, "Direct messaging, medium"),
		addressPlan("standard-large-anycast", TypeAnycast, 0.1, 0, 0, 2, "Direct messaging, large"),
		addressPlan("standard-small-multicast", TypeMulticast, 0.001, 0, 0, 0, "Direct fan-out, small"),
		addressPlan("standard-medium-multicast", TypeMulticast, 0.01, 0, 0, 1, "Direct fan-out, medium"),
		addressPlan("standard-large-multicast", TypeMulticast, 0.1, 0, 0, 2, "Direct fan-out, large"),
		addressPlan("standard-small-queue", TypeQueue, 0.001, 0.01, 1, 0, "Store-and-forward queue on a shared broker"),
		addressPlan("standard-small-partitioned-queue", TypeQueue, 0.001, 0.01, 3, 1, "Queue partitioned over brokers"),
		addressPlan("standard-medium-queue", TypeQueue, 0.01, 0.1, 1, 2, "Queue, medium"),
		addressPlan("standard-large-queue", TypeQueue, 0.1, 0.5, 1, 3, "Queue, large"),
		addressPlan("standard-xlarge-queue", TypeQueue, 0.2, 2.0, 2, 4, "Queue backed by two brokers"),
		addressPlan("standard-small-topic", TypeTopic, 0.001, 0.01, 1, 0, "Publish/subscribe topic on a shared broker"),
		addressPlan("standard-medium-topic", TypeTopic, 0.01, 0.1, 1, 1, "Topic, medium"),
		addressPlan("standard-small-subscription", TypeSubscription, 0.001, 0.01, 1, 0, "Durable subscription on a topic"),
		addressPlan("standard-medium-subscription", TypeSubscription, 0.01, 0.1, 1, 1, "Durable subscription, medium"),
		addressPlan("standard-deadletter", TypeDeadletter, 0.001, 0.01, 1, 0, "Dead-letter and expiry address"),
		addressPlan("brokered-queue", TypeQueue, 0, 0, 0, 0, "Queue on the address space's broker"),
		addressPlan("brokered-topic", TypeTopic, 0, 0, 0, 0, "Topic on the address space's broker"),
		addressPlan("brokered-deadletter", TypeDeadletter, 0, 0, 0, 0, "Dead-letter address on the address space's broker"),
	}
	for _, p := range ps {
		if !strings.HasPrefix(p.Metadata.Name, "brokered") {
			continue
		}
		delete(p.Spec.Resources, "router")
	}
	return ps
}

func spacePlan(name, typ string, router, broker, aggregate float64, order int, desc string, plans []string) *AddressSpacePlan {
	limits := map[string]float64{"broker": broker, "aggregate": aggregate}
	if typ == SpaceStandard {
		limits["router"] = router
	}
	return &AddressSpacePlan{
		TypeMeta: TypeMeta{APIVersion: AddressSpacePlanKind.APIVersion(), Kind: AddressSpacePlanKind.Kind},
		Metadata: ObjectMeta{Name: name, Namespace: InfraNamespace, Labels: map[string]string{"app": "enmasse"}},
		Spec: AddressSpacePlanSpec{
			AddressSpaceType: typ, InfraConfigRef: "default", ResourceLimits: limits, AddressPlans: plans,
			DisplayName: strings.ReplaceAll(name, "-", " "), DisplayOrder: order, ShortDescription: desc,
		},
	}
}

// DefaultAddressSpacePlans are the address space plans EnMasse shipped.
// The first plan of each address type in AddressPlans is the one an
// address without spec.plan gets.
func DefaultAddressSpacePlans() []*AddressSpacePlan {
	small := []string{
		"standard-small-queue", "standard-small-anycast", "standard-small-multicast",
		"standard-small-topic", "standard-small-subscription", "standard-deadletter",
	}
	medium := append(append([]string{}, small...),
		"standard-small-partitioned-queue", "standard-medium-queue", "standard-medium-anycast",
		"standard-medium-multicast", "standard-medium-topic", "standard-medium-subscription")
	var all []string
	for _, p := range DefaultAddressPlans() {
		if strings.HasPrefix(p.Metadata.Name, "standard-") {
			all = append(all, p.Metadata.Name)
		}
	}
	return []*AddressSpacePlan{
		spacePlan("standard-small", SpaceStandard, 1, 1, 2, 0, "One router and one broker", small),
		spacePlan("standard-medium", SpaceStandard, 3, 3, 6, 1, "Up to three routers and three brokers", medium),
		spacePlan(DefaultSpacePlan, SpaceStandard, 10000, 10000, 10000, 2, "No practical limits", all),
		spacePlan("brokered-single-broker", SpaceBrokered, 0, 1.9, 1.9, 0, "One broker",
			[]string{"brokered-queue", "brokered-topic", "brokered-deadletter"}),
	}
}

// DefaultSpace is the `default` address space of the `default` namespace,
// which auto-creates addresses (SPEC §2, §4).
func DefaultSpace() *AddressSpace {
	return &AddressSpace{
		TypeMeta: TypeMeta{APIVersion: AddressSpaceKind.APIVersion(), Kind: AddressSpaceKind.Kind},
		Metadata: ObjectMeta{Name: DefaultAddressSpace, Namespace: DefaultNamespace},
		Spec:     AddressSpaceSpec{Type: SpaceStandard, Plan: DefaultSpacePlan},
	}
}

// AnnotationAutoCreate, set to "true" or "false" on an AddressSpace,
// decides whether addresses are created when a client attaches to an
// unknown one. Without it only the default space of the default namespace
// auto-creates.
const AnnotationAutoCreate = "enmasse.io/auto-create-addresses"

// AnnotationCreatedBy marks resources the server created itself.
const AnnotationCreatedBy = "enmasse.io/created-by"

// AutoCreates reports whether an address space creates addresses on
// attach.
func AutoCreates(s *AddressSpace) bool {
	switch s.Metadata.Annotations[AnnotationAutoCreate] {
	case "true":
		return true
	case "false":
		return false
	}
	return s.Metadata.Namespace == DefaultNamespace && s.Metadata.Name == DefaultAddressSpace
}

// DataPlaneSpace is the name of an address space in the data plane (the
// router): the space name in the default namespace, `{name}.{namespace}`
// elsewhere, so that spaces of the same name in two namespaces stay apart
// and clients can name either form as AMQP hostname.
func DataPlaneSpace(namespace, name string) string {
	if namespace == DefaultNamespace {
		return name
	}
	return name + "." + namespace
}

// AddressResourceName is the metadata.name given to an address created on
// attach: `{space}.{address}` when the address is a valid name part, else
// a sanitized form with a checksum so that distinct addresses stay
// distinct (Orders/EU → default.orders-eu-1c291ca3).
func AddressResourceName(space, address string) string {
	name := space + "." + address
	if len(name) <= 253 && dnsSubdomain.MatchString(name) {
		return name
	}
	var b strings.Builder
	for _, r := range strings.ToLower(address) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	s := strings.Trim(b.String(), "-")
	if max := 253 - len(space) - 1 - 9; len(s) > max {
		s = strings.Trim(s[:max], "-")
	}
	sum := fmt.Sprintf("%08x", crc32.ChecksumIEEE([]byte(address)))
	if s == "" {
		return space + "." + sum
	}
	return space + "." + s + "-" + sum
}
