// Package agent is the control plane's reconciler: it drives the
// resources in the registry into the data plane (the router, and through
// it the broker) and writes back status that tells the truth.
//
// # Loop
//
// The agent is level-triggered. A change to an address space, address or
// user marks its address space dirty; a change to a plan marks every
// space; every Resync (10 s) marks every space, which repairs any drift —
// a restarted router or broker converges again without help. A pass
// reconciles each dirty space from scratch and is idempotent:
//
//  1. Configure the space in the data plane (SetSpace) with its plan's
//     router policy (spec.routerPolicy, EnMasse's router.policy field
//     names; shown in the space's status.routerPolicy), or remove it when
//     the AddressSpace is gone.
//  2. Read back the data plane's addresses. Addresses it has that no
//     resource claims and the agent did not put there (a client's attach
//     in an auto-creating space, queues the broker replayed from its
//     journal) are adopted as Address resources `{space}.{address}`; a
//     resource claims its data-plane name (`{topic}::{address}` for a
//     subscription), and an adopted `{topic}::{name}` subscription gets
//     spec.topic. Durable subscriptions the broker created for a
//     receiver's attach (JMS durable subscribers, MQTT sessions) never
//     reach the data plane's address list: they are the broker's, as in
//     EnMasse, where JMS subscriptions are not Address resources.
//  3. Schedule (schedule.go, a pure function): resolve each address's
//     plan against the space plan, give each spec.address to the first
//     resource created with it (the others stay Pending naming it), check
//     that subscriptions have their topic and dead-letter references
//     exist (a subscription whose topic is admitted in a later round
//     waits for it: after a restart the replayed subscription is applied
//     while its topic is not yet, and unplacing it would drop its stored
//     messages), and admit addresses within the space plan's limits with
//     EnMasse's credit arithmetic — addresses already applied keep their
//     credits, the rest are admitted in creation order while they fit,
//     and those that do not stay Pending with "Quota exceeded".
//  4. Make the data plane hold the admitted addresses (SetAddress), then
//     read it back again. DeleteAddress (which detaches the address's
//     links with amqp:resource-deleted and drops a broker queue with its
//     stored messages) is called only for an address no resource claims
//     any more (its resource was deleted, or its spec.address changed) or
//     whose resource changed its type. A broker-backed address (queue,
//     topic, subscription, deadletter) whose resource still claims it but
//     cannot be placed now — quota, a plan change, a topic or dead-letter
//     address not placed — stays in the data plane with its stored
//     messages and is Pending with the reason; anycast and multicast
//     addresses, which store nothing, are removed until they fit again.
//  5. Write status: Active and isReady only for an address that is really
//     in the data plane with its type; Configuring when it should be but
//     is not yet; Failed with the data plane's error (retried with
//     backoff from 1 s to 1 min); Pending with the reason otherwise.
//     Status is written only when it changed.
//
// Passes run on one goroutine (Run) and are serialized with Sync, which
// serve calls once at start so that the router is configured before the
// AMQP listener opens. The agent talks to the data plane only through the
// DataPlane interface, defined here, so it does not import the router.
package agent
