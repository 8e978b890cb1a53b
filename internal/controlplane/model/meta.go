package model

import (
	"strings"
)

// TypeMeta is the apiVersion and kind every resource carries.
type TypeMeta struct {
	APIVersion string `json:"apiVersion,omitempty"`
	Kind       string `json:"kind,omitempty"`
}

// ObjectMeta is the metadata of a resource, as in Kubernetes. The server
// sets UID, ResourceVersion, Generation and CreationTimestamp; clients set
// the rest.
type ObjectMeta struct {
	Name      string `json:"name,omitempty"`
	Namespace string `json:"namespace,omitempty"`
	UID       string `json:"uid,omitempty"`
	// ResourceVersion is the registry revision of the last change to the
	// object (spec, metadata or status), a decimal number. A write that
	// carries one succeeds only if it is still current.
	ResourceVersion string `json:"resourceVersion,omitempty"`
	// Generation counts changes to the spec, starting at 1.
	Generation int64 `json:"generation,omitempty"`
	// CreationTimestamp is RFC 3339 in UTC with second precision.
	CreationTimestamp string            `json:"creationTimestamp,omitempty"`
	Labels            map[string]string `json:"labels,omitempty"`
	Annotations       map[string]string `json:"annotations,omitempty"`
}

// ListMeta is the metadata of a list.
type ListMeta struct {
	ResourceVersion string `json:"resourceVersion,omitempty"`
	Continue        string `json:"continue,omitempty"`
}

// Object is any resource of the model. Objects handed out by the registry
// are shared and must not be modified; use Copy first.
type Object interface {
	GetTypeMeta() *TypeMeta
	GetMeta() *ObjectMeta
	// Info describes the object's kind.
	Info() *KindInfo
	// SpecOf returns the spec, for comparing generations.
	SpecOf() any
	// shallow returns a copy of the top-level struct; spec and status
	// share their slices and maps with the original.
	shallow() Object
}

// Phase is the lifecycle phase of a resource's status (EnMasse Phase.java).
type Phase string

// Phases of addresses and address spaces.
const (
	PhasePending     Phase = "Pending"
	PhaseConfiguring Phase = "Configuring"
	PhaseActive      Phase = "Active"
	PhaseFailed      Phase = "Failed"
	PhaseTerminating Phase = "Terminating"
)

// KindInfo describes one kind of resource: its names, API group and the
// versions the API serves.
type KindInfo struct {
	Kind     string
	ListKind string
	Group    string
	// Versions are the served versions; the first is the preferred one.
	Versions   []string
	Plural     string
	Singular   string
	ShortNames []string
	New        func() Object
}

// APIVersion is group/version of the preferred version.
func (k *KindInfo) APIVersion() string { return k.Group + "/" + k.Versions[0] }

// Serves reports whether the kind is served at version v.
func (k *KindInfo) Serves(v string) bool {
	for _, s := range k.Versions {
		if s == v {
			return true
		}
	}
	return false
}

// Path is the REST path of the collection in namespace ns (all namespaces
// when ns is empty), in the preferred version.
func (k *KindInfo) Path(ns string) string {
	if ns == "" {
		return "/apis/" + k.APIVersion() + "/" + k.Plural
	}
	return "/apis/" + k.APIVersion() + "/namespaces/" + ns + "/" + k.Plural
}

// API groups of the model (research §2.1).
const (
	GroupEnMasse = "enmasse.io"
	GroupUser    = "user.enmasse.io"
	GroupAdmin   = "admin.enmasse.io"
)

// The kinds, in dependency order: plans before the address spaces that use
// them, address spaces before their addresses and users. Apply and delete
// resources in this order (delete in reverse).
var (
	AddressPlanKind = &KindInfo{
		Kind: "AddressPlan", ListKind: "AddressPlanList", Group: GroupAdmin,
		Versions: []string{"v1beta2", "v1beta1", "v1alpha1"}, Plural: "addressplans", Singular: "addressplan",
		New: func() Object { return &AddressPlan{} },
	}
	AddressSpacePlanKind = &KindInfo{
		Kind: "AddressSpacePlan", ListKind: "AddressSpacePlanList", Group: GroupAdmin,
		Versions: []string{"v1beta2", "v1beta1", "v1alpha1"}, Plural: "addressspaceplans", Singular: "addressspaceplan",
		New: func() Object { return &AddressSpacePlan{} },
	}
	AddressSpaceKind = &KindInfo{
		Kind: "AddressSpace", ListKind: "AddressSpaceList", Group: GroupEnMasse,
		Versions: []string{"v1beta1"}, Plural: "addressspaces", Singular: "addressspace", ShortNames: []string{"as"},
		New: func() Object { return &AddressSpace{} },
	}
	AddressKind = &KindInfo{
		Kind: "Address", ListKind: "AddressList", Group: GroupEnMasse,
		Versions: []string{"v1beta1"}, Plural: "addresses", Singular: "address", ShortNames: []string{"addr"},
		New: func() Object { return &Address{} },
	}
	MessagingUserKind = &KindInfo{
		Kind: "MessagingUser", ListKind: "MessagingUserList", Group: GroupUser,
		Versions: []string{"v1beta1"}, Plural: "messagingusers", Singular: "messaginguser", ShortNames: []string{"user", "msgusr"},
		New: func() Object { return &MessagingUser{} },
	}
)

// Kinds lists every kind in dependency order.
var Kinds = []*KindInfo{AddressPlanKind, AddressSpacePlanKind, AddressSpaceKind, AddressKind, MessagingUserKind}

// LookupKind finds a kind by any of the names kubectl accepts: the kind,
// its plural, singular or a short name, case-insensitively, optionally
// followed by ".group" (addresses.enmasse.io).
func LookupKind(name string) (*KindInfo, bool) {
	n := strings.ToLower(name)
	for _, k := range Kinds {
		for _, cand := range k.names() {
			if n == cand || n == cand+"."+k.Group {
				return k, true
			}
		}
	}
	return nil, false
}

func (k *KindInfo) names() []string {
	return append([]string{strings.ToLower(k.Kind), k.Plural, k.Singular}, k.ShortNames...)
}

// KindNames lists the names LookupKind accepts, for help and errors.
func KindNames() []string {
	var out []string
	for _, k := range Kinds {
		out = append(out, k.Singular)
		out = append(out, k.ShortNames...)
	}
	return out
}

// LookupResource finds a kind by API group and plural.
func LookupResource(group, plural string) (*KindInfo, bool) {
	for _, k := range Kinds {
		if k.Group == group && k.Plural == plural {
			return k, true
		}
	}
	return nil, false
}

// LookupTypeMeta finds a kind by apiVersion and kind, as written in a
// document. The version must be one the kind serves.
func LookupTypeMeta(apiVersion, kind string) (*KindInfo, bool) {
	group, version, ok := strings.Cut(apiVersion, "/")
	if !ok {
		return nil, false
	}
	for _, k := range Kinds {
		if k.Kind == kind && k.Group == group && k.Serves(version) {
			return k, true
		}
	}
	return nil, false
}

// Copy returns a deep copy of o.
func Copy(o Object) Object {
	c := o.Info().New()
	b, err := marshalJSON(o)
	if err == nil {
		err = unmarshalJSON(b, c)
	}
	if err != nil {
		panic("model: copy: " + err.Error()) // every model type round-trips
	}
	return c
}

// Shallow returns a copy of o's top-level struct, for replacing its
// status or metadata without touching the spec it shares with o.
func Shallow(o Object) Object {
	c := o.shallow()
	m := c.GetMeta()
	m.Labels = cloneMap(m.Labels)
	m.Annotations = cloneMap(m.Annotations)
	return c
}

func cloneMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	c := make(map[string]string, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}
