package model

import "encoding/json"

// AddressSpace is a tenant's isolated set of addresses (EnMasse
// enmasse.io/v1beta1 AddressSpace, research §2.2).
type AddressSpace struct {
	TypeMeta `json:",inline"`
	Metadata ObjectMeta         `json:"metadata"`
	Spec     AddressSpaceSpec   `json:"spec"`
	Status   AddressSpaceStatus `json:"status"`
}

// Address space types.
const (
	SpaceStandard = "standard"
	SpaceBrokered = "brokered"
)

// AddressSpaceSpec is the desired state of an address space. Endpoints,
// connectors, the network policy and the authentication service are kept
// as given (EnMasse YAML keeps working) but have no effect yet.
type AddressSpaceSpec struct {
	Type                  string                 `json:"type"`
	Plan                  string                 `json:"plan"`
	AuthenticationService *AuthenticationService `json:"authenticationService,omitempty"`
	Endpoints             []EndpointSpec         `json:"endpoints,omitempty"`
	NetworkPolicy         json.RawMessage        `json:"networkPolicy,omitempty"`
	Connectors            []json.RawMessage      `json:"connectors,omitempty"`
}

// AuthenticationService names the authentication service of a space.
type AuthenticationService struct {
	Name      string          `json:"name,omitempty"`
	Type      string          `json:"type,omitempty"`
	Overrides json.RawMessage `json:"overrides,omitempty"`
}

// EndpointSpec is an endpoint of an address space.
type EndpointSpec struct {
	Name    string          `json:"name"`
	Service string          `json:"service,omitempty"`
	Cert    json.RawMessage `json:"cert,omitempty"`
	Expose  json.RawMessage `json:"expose,omitempty"`
	Exports json.RawMessage `json:"exports,omitempty"`
}

// AddressSpaceStatus is the observed state of an address space.
type AddressSpaceStatus struct {
	IsReady          bool             `json:"isReady"`
	Phase            Phase            `json:"phase,omitempty"`
	Messages         []string         `json:"messages,omitempty"`
	EndpointStatuses []EndpointStatus `json:"endpointStatuses,omitempty"`
	// RouterPolicy is the router policy in force for the space, from its
	// plan (an enmasse extension; absent when unlimited).
	RouterPolicy *RouterPolicy `json:"routerPolicy,omitempty"`
}

// RouterPolicy are the router limits of an address space, with the field
// names of EnMasse's StandardInfraConfig spec.router.policy (research
// §2.6). Zero or absent is unlimited. Over-limit connections and links are
// refused with amqp:resource-limit-exceeded, bigger messages with
// amqp:link:message-size-exceeded.
type RouterPolicy struct {
	MaxConnections            int   `json:"maxConnections,omitempty"`
	MaxConnectionsPerUser     int   `json:"maxConnectionsPerUser,omitempty"`
	MaxConnectionsPerHost     int   `json:"maxConnectionsPerHost,omitempty"`
	MaxSessionsPerConnection  int   `json:"maxSessionsPerConnection,omitempty"`
	MaxSendersPerConnection   int   `json:"maxSendersPerConnection,omitempty"`
	MaxReceiversPerConnection int   `json:"maxReceiversPerConnection,omitempty"`
	MaxMessageSize            int64 `json:"maxMessageSize,omitempty"`
}

// EndpointStatus tells clients where an address space is reachable.
type EndpointStatus struct {
	Name         string `json:"name"`
	ServiceHost  string `json:"serviceHost,omitempty"`
	ServicePorts []Port `json:"servicePorts,omitempty"`
}

// Port is a named port.
type Port struct {
	Name string `json:"name"`
	Port int    `json:"port"`
}

// Address is one address of an address space (EnMasse enmasse.io/v1beta1
// Address, research §2.3). Its metadata.name is `{addressspace}.{anything}`.
type Address struct {
	TypeMeta `json:",inline"`
	Metadata ObjectMeta    `json:"metadata"`
	Spec     AddressSpec   `json:"spec"`
	Status   AddressStatus `json:"status"`
}

// Address types (SPEC §4).
const (
	TypeAnycast      = "anycast"
	TypeMulticast    = "multicast"
	TypeQueue        = "queue"
	TypeTopic        = "topic"
	TypeSubscription = "subscription"
	TypeDeadletter   = "deadletter"
)

// AddressTypes lists the address types in documentation order.
var AddressTypes = []string{TypeAnycast, TypeMulticast, TypeQueue, TypeTopic, TypeSubscription, TypeDeadletter}

// AddressSpec is the desired state of an address.
type AddressSpec struct {
	// Address is the name clients attach to.
	Address string `json:"address"`
	Type    string `json:"type"`
	Plan    string `json:"plan"`
	// Topic is the topic address of a subscription.
	Topic        string             `json:"topic,omitempty"`
	Subscription *SubscriptionSpec  `json:"subscription,omitempty"`
	Deadletter   string             `json:"deadletter,omitempty"`
	Expiry       string             `json:"expiry,omitempty"`
	MessageTTL   *MessageTTL        `json:"messageTtl,omitempty"`
	Redelivery   *MessageRedelivery `json:"messageRedelivery,omitempty"`
	Forwarders   []Forwarder        `json:"forwarders,omitempty"`
}

// SubscriptionSpec configures a subscription address.
type SubscriptionSpec struct {
	// MaxConsumers is 1 for an exclusive subscription (the default), more
	// for a shared one. Immutable.
	MaxConsumers *int `json:"maxConsumers,omitempty"`
}

// MessageTTL clamps message time-to-live, in milliseconds.
type MessageTTL struct {
	Minimum *int64 `json:"minimum,omitempty"`
	Maximum *int64 `json:"maximum,omitempty"`
}

// MessageRedelivery is the redelivery policy of a queue or subscription.
type MessageRedelivery struct {
	MaximumDeliveryAttempts   *int     `json:"maximumDeliveryAttempts,omitempty"`
	RedeliveryDelay           *int64   `json:"redeliveryDelay,omitempty"`
	RedeliveryDelayMultiplier *float64 `json:"redeliveryDelayMultiplier,omitempty"`
	MaximumDeliveryDelay      *int64   `json:"maximumDeliveryDelay,omitempty"`
}

// Forwarder moves messages to or from a remote address through a
// connector.
type Forwarder struct {
	Name          string `json:"name"`
	RemoteAddress string `json:"remoteAddress"`
	Direction     string `json:"direction"`
	Priority      *int   `json:"priority,omitempty"`
}

// AddressStatus is the observed state of an address. IsReady is true and
// Phase Active only while the address exists in the data plane.
type AddressStatus struct {
	IsReady      bool              `json:"isReady"`
	Phase        Phase             `json:"phase,omitempty"`
	Messages     []string          `json:"messages,omitempty"`
	PlanStatus   *PlanStatus       `json:"planStatus,omitempty"`
	Subscription *SubscriptionSpec `json:"subscription,omitempty"`
}

// PlanStatus is the plan applied to an address and the credits it takes.
type PlanStatus struct {
	Name       string             `json:"name"`
	Partitions int                `json:"partitions,omitempty"`
	Resources  map[string]float64 `json:"resources,omitempty"`
}

// MessagingUser is a user of an address space (EnMasse
// user.enmasse.io/v1beta1, research §2.4). Its metadata.name is
// `{addressspace}.{username}`. The password is write-only.
type MessagingUser struct {
	TypeMeta `json:",inline"`
	Metadata ObjectMeta          `json:"metadata"`
	Spec     MessagingUserSpec   `json:"spec"`
	Status   MessagingUserStatus `json:"status"`
}

// MessagingUserSpec is a user's identity and rights.
type MessagingUserSpec struct {
	Username       string              `json:"username"`
	Authentication *UserAuthentication `json:"authentication,omitempty"`
	Authorization  []UserAuthorization `json:"authorization,omitempty"`
}

// Authentication types of a MessagingUser.
const (
	AuthPassword       = "password"
	AuthServiceAccount = "serviceaccount"
	AuthFederated      = "federated"
)

// UserAuthentication says how a user proves who they are.
type UserAuthentication struct {
	Type string `json:"type"`
	// Password is base64 encoded. It is accepted on create and update,
	// stored only as salted SCRAM credentials, and never returned.
	Password          string `json:"password,omitempty"`
	Provider          string `json:"provider,omitempty"`
	FederatedUserid   string `json:"federatedUserid,omitempty"`
	FederatedUsername string `json:"federatedUsername,omitempty"`
}

// UserAuthorization grants operations on addresses.
type UserAuthorization struct {
	Addresses  []string `json:"addresses,omitempty"`
	Operations []string `json:"operations"`
}

// Operations a user may be granted.
var UserOperations = []string{"send", "recv", "view", "manage"}

// MessagingUserStatus is the observed state of a user.
type MessagingUserStatus struct {
	Phase      Phase  `json:"phase,omitempty"`
	Message    string `json:"message,omitempty"`
	Generation int64  `json:"generation,omitempty"`
}

// AddressSpacePlan caps the resources of the address spaces that use it
// and lists the address plans they may use (research §2.5, §3.2).
type AddressSpacePlan struct {
	TypeMeta `json:",inline"`
	Metadata ObjectMeta           `json:"metadata"`
	Spec     AddressSpacePlanSpec `json:"spec"`
	Status   PlanStatusInfo       `json:"status"`
}

// AddressSpacePlanSpec is an address space plan.
type AddressSpacePlanSpec struct {
	AddressSpaceType string `json:"addressSpaceType"`
	InfraConfigRef   string `json:"infraConfigRef,omitempty"`
	// ResourceLimits caps "router", "broker" and "aggregate" credits; one
	// credit is one router or broker.
	ResourceLimits map[string]float64 `json:"resourceLimits"`
	// RouterPolicy limits each address space of the plan (an enmasse
	// extension: EnMasse took these from the plan's StandardInfraConfig,
	// spec.router.policy, which this server does not have).
	RouterPolicy     *RouterPolicy `json:"routerPolicy,omitempty"`
	AddressPlans     []string      `json:"addressPlans"`
	DisplayName      string        `json:"displayName,omitempty"`
	DisplayOrder     int           `json:"displayOrder,omitempty"`
	ShortDescription string        `json:"shortDescription,omitempty"`
	LongDescription  string        `json:"longDescription,omitempty"`
}

// PlanStatusInfo is the status of a plan.
type PlanStatusInfo struct {
	Phase   Phase  `json:"phase,omitempty"`
	Message string `json:"message,omitempty"`
}

// AddressPlan says what an address of a type costs and how it behaves.
type AddressPlan struct {
	TypeMeta `json:",inline"`
	Metadata ObjectMeta      `json:"metadata"`
	Spec     AddressPlanSpec `json:"spec"`
	Status   PlanStatusInfo  `json:"status"`
}

// AddressPlanSpec is an address plan.
type AddressPlanSpec struct {
	AddressType string `json:"addressType"`
	// Resources are the "router" and "broker" credits one address takes.
	Resources        map[string]float64 `json:"resources"`
	Partitions       int                `json:"partitions,omitempty"`
	MessageTTL       *MessageTTL        `json:"messageTtl,omitempty"`
	Redelivery       *MessageRedelivery `json:"messageRedelivery,omitempty"`
	DisplayName      string             `json:"displayName,omitempty"`
	DisplayOrder     int                `json:"displayOrder,omitempty"`
	ShortDescription string             `json:"shortDescription,omitempty"`
	LongDescription  string             `json:"longDescription,omitempty"`
}

func (o *AddressSpace) GetTypeMeta() *TypeMeta { return &o.TypeMeta }
func (o *AddressSpace) GetMeta() *ObjectMeta   { return &o.Metadata }
func (o *AddressSpace) Info() *KindInfo        { return AddressSpaceKind }
func (o *AddressSpace) SpecOf() any            { return &o.Spec }
func (o *AddressSpace) shallow() Object        { c := *o; return &c }

func (o *Address) GetTypeMeta() *TypeMeta { return &o.TypeMeta }
func (o *Address) GetMeta() *ObjectMeta   { return &o.Metadata }
func (o *Address) Info() *KindInfo        { return AddressKind }
func (o *Address) SpecOf() any            { return &o.Spec }
func (o *Address) shallow() Object        { c := *o; return &c }

func (o *MessagingUser) GetTypeMeta() *TypeMeta { return &o.TypeMeta }
func (o *MessagingUser) GetMeta() *ObjectMeta   { return &o.Metadata }
func (o *MessagingUser) Info() *KindInfo        { return MessagingUserKind }
func (o *MessagingUser) SpecOf() any            { return &o.Spec }
func (o *MessagingUser) shallow() Object        { c := *o; return &c }

func (o *AddressSpacePlan) GetTypeMeta() *TypeMeta { return &o.TypeMeta }
func (o *AddressSpacePlan) GetMeta() *ObjectMeta   { return &o.Metadata }
func (o *AddressSpacePlan) Info() *KindInfo        { return AddressSpacePlanKind }
func (o *AddressSpacePlan) SpecOf() any            { return &o.Spec }
func (o *AddressSpacePlan) shallow() Object        { c := *o; return &c }

func (o *AddressPlan) GetTypeMeta() *TypeMeta { return &o.TypeMeta }
func (o *AddressPlan) GetMeta() *ObjectMeta   { return &o.Metadata }
func (o *AddressPlan) Info() *KindInfo        { return AddressPlanKind }
func (o *AddressPlan) SpecOf() any            { return &o.Spec }
func (o *AddressPlan) shallow() Object        { c := *o; return &c }
