package model

import (
	"encoding/base64"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

var (
	dnsLabel     = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	dnsSubdomain = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
	// addressPattern is EnMasse's spec.address pattern.
	addressPattern = regexp.MustCompile(`^[^\s]+$`)
	// usernamePattern is EnMasse's MessagingUser spec.username pattern.
	usernamePattern = regexp.MustCompile(`^[a-z0-9]+([a-z0-9_@.:\-]*[a-z0-9]+|[a-z0-9]*)$`)
	labelName       = regexp.MustCompile(`^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$`)
	labelValue      = regexp.MustCompile(`^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$`)
)

// MaxAddressLength bounds spec.address (AMQP addresses are strings; this
// keeps one resource small).
const MaxAddressLength = 1024

// ValidateNamespace checks a namespace name (a DNS label).
func ValidateNamespace(ns string) *FieldError {
	if ns == "" {
		return required("metadata.namespace", "")
	}
	if len(ns) > 63 || !dnsLabel.MatchString(ns) {
		return invalid("metadata.namespace", ns, "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character")
	}
	return nil
}

// SplitName splits an Address or MessagingUser name `{addressspace}.{rest}`.
func SplitName(name string) (space, rest string, ok bool) {
	space, rest, ok = strings.Cut(name, ".")
	return space, rest, ok && space != "" && rest != ""
}

// SpaceOf returns the address space an Address or MessagingUser belongs
// to, from its name; "" if the name has no `{addressspace}.` prefix.
func SpaceOf(o Object) string {
	switch o.(type) {
	case *Address, *MessagingUser:
		s, _, ok := SplitName(o.GetMeta().Name)
		if ok {
			return s
		}
	}
	return ""
}

// Validate checks an object on its own: names, required fields, enums,
// value ranges and which fields go with which type. Checks that need other
// objects (plans, address spaces) are the caller's.
func Validate(o Object) FieldErrors {
	errs := validateMeta(o)
	switch t := o.(type) {
	case *AddressSpace:
		errs = append(errs, validateAddressSpace(t)...)
	case *Address:
		errs = append(errs, validateAddress(t)...)
	case *MessagingUser:
		errs = append(errs, validateUser(t)...)
	case *AddressSpacePlan:
		errs = append(errs, validateSpacePlan(t)...)
	case *AddressPlan:
		errs = append(errs, validateAddressPlan(t)...)
	}
	return errs
}

func validateMeta(o Object) FieldErrors {
	var errs FieldErrors
	m := o.GetMeta()
	name := m.Name
	switch {
	case name == "":
		errs = append(errs, required("metadata.name", "name is required"))
	case len(name) > 253 || !dnsSubdomain.MatchString(name):
		errs = append(errs, invalid("metadata.name", name, "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character"))
	}
	for k, v := range m.Labels {
		errs = append(errs, validateLabel("metadata.labels", k, v, true)...)
	}
	for k := range m.Annotations {
		errs = append(errs, validateLabel("metadata.annotations", k, "", false)...)
	}
	return errs
}

func validateLabel(field, k, v string, checkValue bool) FieldErrors {
	var errs FieldErrors
	prefix, name, hasPrefix := strings.Cut(k, "/")
	if !hasPrefix {
		name, prefix = prefix, ""
	}
	if (hasPrefix && (len(prefix) > 253 || !dnsSubdomain.MatchString(prefix))) || len(name) > 63 || !labelName.MatchString(name) {
		errs = append(errs, invalid(field, k, "a key must be an optional DNS subdomain prefix and '/', then at most 63 characters: alphanumerics, '-', '_' or '.', starting and ending with an alphanumeric"))
	}
	if checkValue && (len(v) > 63 || !labelValue.MatchString(v)) {
		errs = append(errs, invalid(field+"."+k, v, "a label value must be empty or at most 63 characters: alphanumerics, '-', '_' or '.', starting and ending with an alphanumeric"))
	}
	return errs
}

func validateAddressSpace(a *AddressSpace) FieldErrors {
	var errs FieldErrors
	if n := a.Metadata.Name; n != "" && (len(n) > 63 || !dnsLabel.MatchString(n)) {
		errs = append(errs, invalid("metadata.name", n, "an address space name must be a lowercase RFC 1123 label (no '.'), since addresses are named {addressspace}.{name}"))
	}
	switch a.Spec.Type {
	case "":
		errs = append(errs, required("spec.type", "standard or brokered"))
	case SpaceStandard, SpaceBrokered:
	default:
		errs = append(errs, unsupported("spec.type", a.Spec.Type, []string{SpaceStandard, SpaceBrokered}))
	}
	if p := a.Spec.Plan; p != "" && !dnsSubdomain.MatchString(p) {
		errs = append(errs, invalid("spec.plan", p, "not a plan name"))
	}
	seen := map[string]bool{}
	for i, e := range a.Spec.Endpoints {
		f := fmt.Sprintf("spec.endpoints[%d].name", i)
		switch {
		case e.Name == "":
			errs = append(errs, required(f, ""))
		case seen[e.Name]:
			errs = append(errs, &FieldError{Field: f, Type: ErrDuplicate, Value: e.Name})
		}
		seen[e.Name] = true
	}
	return errs
}

// typesFor lists which address types accept an optional field.
var typesFor = map[string][]string{
	"spec.topic":             {TypeSubscription},
	"spec.subscription":      {TypeSubscription},
	"spec.deadletter":        {TypeQueue, TypeSubscription},
	"spec.expiry":            {TypeQueue, TypeSubscription},
	"spec.messageTtl":        {TypeQueue, TypeTopic, TypeSubscription},
	"spec.messageRedelivery": {TypeQueue, TypeSubscription, TypeDeadletter},
	"spec.forwarders":        {TypeQueue, TypeSubscription},
}

func validateAddress(a *Address) FieldErrors {
	var errs FieldErrors
	if n := a.Metadata.Name; n != "" {
		space, _, ok := SplitName(n)
		if !ok {
			errs = append(errs, invalid("metadata.name", n, "must be {addressspace}.{name}, for example myspace.orders"))
		} else if len(space) > 63 || !dnsLabel.MatchString(space) {
			errs = append(errs, invalid("metadata.name", n, fmt.Sprintf("%q before the first '.' is not an address space name", space)))
		}
	}
	s := &a.Spec
	switch {
	case s.Address == "":
		errs = append(errs, required("spec.address", "the address clients attach to"))
	case len(s.Address) > MaxAddressLength:
		errs = append(errs, invalid("spec.address", s.Address, fmt.Sprintf("longer than %d characters", MaxAddressLength)))
	case !addressPattern.MatchString(s.Address):
		errs = append(errs, invalid("spec.address", s.Address, "must not contain whitespace"))
	case strings.Contains(s.Address, "::"):
		errs = append(errs, invalid("spec.address", s.Address, "'::' separates a topic from a subscription and cannot be part of an address"))
	}
	switch {
	case s.Type == "":
		errs = append(errs, required("spec.type", strings.Join(AddressTypes, ", ")))
	case !slices.Contains(AddressTypes, s.Type):
		errs = append(errs, unsupported("spec.type", s.Type, AddressTypes))
		return errs
	}
	if s.Plan != "" && !dnsSubdomain.MatchString(s.Plan) {
		errs = append(errs, invalid("spec.plan", s.Plan, "not a plan name"))
	}
	present := map[string]bool{
		"spec.topic": s.Topic != "", "spec.subscription": s.Subscription != nil,
		"spec.deadletter": s.Deadletter != "", "spec.expiry": s.Expiry != "",
		"spec.messageTtl": s.MessageTTL != nil, "spec.messageRedelivery": s.Redelivery != nil,
		"spec.forwarders": len(s.Forwarders) > 0,
	}
	for _, f := range slices.Sorted(mapKeys(present)) {
		if present[f] && s.Type != "" && !slices.Contains(typesFor[f], s.Type) {
			errs = append(errs, Forbidden(f, fmt.Sprintf("not allowed for type %s (only for %s)", s.Type, strings.Join(typesFor[f], ", "))))
		}
	}
	if s.Type == TypeSubscription {
		switch {
		case s.Topic == "":
			errs = append(errs, required("spec.topic", "a subscription needs the address of its topic"))
		case s.Topic == s.Address:
			errs = append(errs, invalid("spec.topic", s.Topic, "a subscription cannot be its own topic"))
		}
		if s.Subscription != nil && s.Subscription.MaxConsumers != nil && *s.Subscription.MaxConsumers < 1 {
			errs = append(errs, invalid("spec.subscription.maxConsumers", *s.Subscription.MaxConsumers, "must be at least 1"))
		}
	}
	if s.Deadletter != "" && s.Deadletter == s.Address {
		errs = append(errs, invalid("spec.deadletter", s.Deadletter, "an address cannot be its own dead-letter address"))
	}
	errs = append(errs, validateTTL("spec.messageTtl", s.MessageTTL)...)
	errs = append(errs, validateRedelivery("spec.messageRedelivery", s.Redelivery)...)
	errs = append(errs, validateForwarders(s)...)
	return errs
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func validateTTL(field string, t *MessageTTL) FieldErrors {
	if t == nil {
		return nil
	}
	var errs FieldErrors
	if t.Minimum != nil && *t.Minimum < 0 {
		errs = append(errs, invalid(field+".minimum", *t.Minimum, "must not be negative"))
	}
	if t.Maximum != nil && *t.Maximum < 0 {
		errs = append(errs, invalid(field+".maximum", *t.Maximum, "must not be negative"))
	}
	if t.Minimum != nil && t.Maximum != nil && *t.Maximum > 0 && *t.Minimum > *t.Maximum {
		errs = append(errs, invalid(field+".minimum", *t.Minimum, fmt.Sprintf("greater than the maximum %d", *t.Maximum)))
	}
	return errs
}

func validateRedelivery(field string, r *MessageRedelivery) FieldErrors {
	if r == nil {
		return nil
	}
	var errs FieldErrors
	if r.MaximumDeliveryAttempts != nil && *r.MaximumDeliveryAttempts < -1 {
		errs = append(errs, invalid(field+".maximumDeliveryAttempts", *r.MaximumDeliveryAttempts, "must be -1 (no limit) or more"))
	}
	if r.RedeliveryDelay != nil && *r.RedeliveryDelay < 0 {
		errs = append(errs, invalid(field+".redeliveryDelay", *r.RedeliveryDelay, "must not be negative"))
	}
	if r.RedeliveryDelayMultiplier != nil && *r.RedeliveryDelayMultiplier < 1 {
		errs = append(errs, invalid(field+".redeliveryDelayMultiplier", *r.RedeliveryDelayMultiplier, "must be at least 1"))
	}
	if r.MaximumDeliveryDelay != nil && *r.MaximumDeliveryDelay < 0 {
		errs = append(errs, invalid(field+".maximumDeliveryDelay", *r.MaximumDeliveryDelay, "must not be negative"))
	}
	return errs
}

func validateForwarders(s *AddressSpec) FieldErrors {
	var errs FieldErrors
	seen := map[string]bool{}
	for i, f := range s.Forwarders {
		p := fmt.Sprintf("spec.forwarders[%d]", i)
		switch {
		case f.Name == "":
			errs = append(errs, required(p+".name", ""))
		case seen[f.Name]:
			errs = append(errs, &FieldError{Field: p + ".name", Type: ErrDuplicate, Value: f.Name})
		}
		seen[f.Name] = true
		if c, _, ok := strings.Cut(f.RemoteAddress, "/"); !ok || c == "" {
			errs = append(errs, invalid(p+".remoteAddress", f.RemoteAddress, "must be {connector}/{address}"))
		}
		switch {
		case f.Direction != "in" && f.Direction != "out":
			errs = append(errs, unsupported(p+".direction", f.Direction, []string{"in", "out"}))
		case s.Type == TypeSubscription && f.Direction == "in":
			errs = append(errs, invalid(p+".direction", f.Direction, "a subscription can only forward out"))
		}
	}
	return errs
}

func validateUser(u *MessagingUser) FieldErrors {
	var errs FieldErrors
	s := &u.Spec
	switch {
	case s.Username == "":
		errs = append(errs, required("spec.username", ""))
	case !usernamePattern.MatchString(s.Username):
		errs = append(errs, invalid("spec.username", s.Username, "must match "+usernamePattern.String()))
	}
	if n := u.Metadata.Name; n != "" {
		space, rest, ok := SplitName(n)
		switch {
		case !ok:
			errs = append(errs, invalid("metadata.name", n, "must be {addressspace}.{username}, for example myspace.app1"))
		case len(space) > 63 || !dnsLabel.MatchString(space):
			errs = append(errs, invalid("metadata.name", n, fmt.Sprintf("%q before the first '.' is not an address space name", space)))
		case s.Username != "" && rest != s.Username:
			errs = append(errs, invalid("metadata.name", n, fmt.Sprintf("must be %s.%s to match spec.username", space, s.Username)))
		}
	}
	if s.Authentication == nil {
		errs = append(errs, required("spec.authentication", "type password, serviceaccount or federated"))
	} else {
		a := s.Authentication
		switch a.Type {
		case "":
			errs = append(errs, required("spec.authentication.type", "password, serviceaccount or federated"))
		case AuthPassword, AuthServiceAccount, AuthFederated:
		default:
			errs = append(errs, unsupported("spec.authentication.type", a.Type, []string{AuthPassword, AuthServiceAccount, AuthFederated}))
		}
		if a.Password != "" {
			if a.Type != AuthPassword {
				errs = append(errs, Forbidden("spec.authentication.password", "only for type password"))
			} else if _, err := DecodePassword(a.Password); err != nil {
				errs = append(errs, invalid("spec.authentication.password", "(hidden)", err.Error()))
			}
		}
		if a.Type == AuthFederated && a.Provider == "" {
			errs = append(errs, required("spec.authentication.provider", "a federated user needs its identity provider"))
		}
	}
	for i, az := range s.Authorization {
		p := fmt.Sprintf("spec.authorization[%d]", i)
		if len(az.Operations) == 0 {
			errs = append(errs, required(p+".operations", strings.Join(UserOperations, ", ")))
		}
		needsAddr := false
		for j, op := range az.Operations {
			if !slices.Contains(UserOperations, op) {
				errs = append(errs, unsupported(fmt.Sprintf("%s.operations[%d]", p, j), op, UserOperations))
			}
			needsAddr = needsAddr || op == "send" || op == "recv"
		}
		if needsAddr && len(az.Addresses) == 0 {
			errs = append(errs, required(p+".addresses", "send and recv need address patterns (\"*\" for all)"))
		}
		for j, pat := range az.Addresses {
			if pat == "" || strings.ContainsAny(pat, " \t\n") {
				errs = append(errs, invalid(fmt.Sprintf("%s.addresses[%d]", p, j), pat, "an address pattern must be non-empty without whitespace"))
			}
		}
	}
	return errs
}

// DecodePassword decodes a MessagingUser's base64 password.
func DecodePassword(b64 string) (string, error) {
	b, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return "", fmt.Errorf("must be base64 encoded (base64 of the password): %v", err)
	}
	if len(b) == 0 {
		return "", fmt.Errorf("must not be empty")
	}
	return string(b), nil
}

var resourceNames = []string{"router", "broker", "aggregate"}

func validateSpacePlan(p *AddressSpacePlan) FieldErrors {
	var errs FieldErrors
	switch p.Spec.AddressSpaceType {
	case "":
		errs = append(errs, required("spec.addressSpaceType", "standard or brokered"))
	case SpaceStandard, SpaceBrokered:
	default:
		errs = append(errs, unsupported("spec.addressSpaceType", p.Spec.AddressSpaceType, []string{SpaceStandard, SpaceBrokered}))
	}
	for _, k := range slices.Sorted(mapKeys(p.Spec.ResourceLimits)) {
		v := p.Spec.ResourceLimits[k]
		if !slices.Contains(resourceNames, k) {
			errs = append(errs, unsupported("spec.resourceLimits."+k, k, resourceNames))
		} else if v < 0 {
			errs = append(errs, invalid("spec.resourceLimits."+k, v, "must not be negative"))
		}
	}
	if rp := p.Spec.RouterPolicy; rp != nil {
		for _, f := range []struct {
			name string
			v    int64
		}{
			{"maxConnections", int64(rp.MaxConnections)}, {"maxConnectionsPerUser", int64(rp.MaxConnectionsPerUser)},
			{"maxConnectionsPerHost", int64(rp.MaxConnectionsPerHost)}, {"maxSessionsPerConnection", int64(rp.MaxSessionsPerConnection)},
			{"maxSendersPerConnection", int64(rp.MaxSendersPerConnection)}, {"maxReceiversPerConnection", int64(rp.MaxReceiversPerConnection)},
			{"maxMessageSize", rp.MaxMessageSize},
		} {
			if f.v < 0 {
				errs = append(errs, invalid("spec.routerPolicy."+f.name, f.v, "must not be negative (0 or absent is unlimited)"))
			}
		}
	}
	for i, n := range p.Spec.AddressPlans {
		if !dnsSubdomain.MatchString(n) {
			errs = append(errs, invalid(fmt.Sprintf("spec.addressPlans[%d]", i), n, "not a plan name"))
		}
	}
	return errs
}

func validateAddressPlan(p *AddressPlan) FieldErrors {
	var errs FieldErrors
	switch {
	case p.Spec.AddressType == "":
		errs = append(errs, required("spec.addressType", strings.Join(AddressTypes, ", ")))
	case !slices.Contains(AddressTypes, p.Spec.AddressType):
		errs = append(errs, unsupported("spec.addressType", p.Spec.AddressType, AddressTypes))
	}
	for _, k := range slices.Sorted(mapKeys(p.Spec.Resources)) {
		v := p.Spec.Resources[k]
		if k != "router" && k != "broker" {
			errs = append(errs, unsupported("spec.resources."+k, k, []string{"router", "broker"}))
		} else if v < 0 {
			errs = append(errs, invalid("spec.resources."+k, v, "must not be negative"))
		}
	}
	if p.Spec.Partitions < 0 {
		errs = append(errs, invalid("spec.partitions", p.Spec.Partitions, "must not be negative"))
	}
	errs = append(errs, validateTTL("spec.messageTtl", p.Spec.MessageTTL)...)
	errs = append(errs, validateRedelivery("spec.messageRedelivery", p.Spec.Redelivery)...)
	return errs
}

// ValidateUpdate checks the fields that cannot change once an object
// exists. old and new are the same kind.
func ValidateUpdate(old, new Object) FieldErrors {
	var errs FieldErrors
	imm := func(field string, a, b any) {
		if a != b {
			errs = append(errs, invalid(field, b, fmt.Sprintf("field is immutable (was %v)", a)))
		}
	}
	switch o := old.(type) {
	case *AddressSpace:
		n := new.(*AddressSpace)
		imm("spec.type", o.Spec.Type, n.Spec.Type)
	case *Address:
		n := new.(*Address)
		imm("spec.type", o.Spec.Type, n.Spec.Type)
		imm("spec.address", o.Spec.Address, n.Spec.Address)
		imm("spec.topic", o.Spec.Topic, n.Spec.Topic)
		imm("spec.subscription.maxConsumers", MaxConsumers(&o.Spec), MaxConsumers(&n.Spec))
	case *AddressSpacePlan:
		imm("spec.addressSpaceType", o.Spec.AddressSpaceType, new.(*AddressSpacePlan).Spec.AddressSpaceType)
	case *AddressPlan:
		imm("spec.addressType", o.Spec.AddressType, new.(*AddressPlan).Spec.AddressType)
	}
	return errs
}

// MaxConsumers is a subscription's effective maxConsumers (default 1); 0
// for other types.
func MaxConsumers(s *AddressSpec) int {
	if s.Type != TypeSubscription {
		return 0
	}
	if s.Subscription != nil && s.Subscription.MaxConsumers != nil {
		return *s.Subscription.MaxConsumers
	}
	return 1
}
