// Package api serves the control plane's REST API (SPEC §3), the
// Kubernetes-style API of EnMasse's resources:
//
//	/apis/enmasse.io/v1beta1/namespaces/{ns}/addressspaces[/{name}]
//	/apis/enmasse.io/v1beta1/namespaces/{ns}/addresses[/{name}]
//	/apis/user.enmasse.io/v1beta1/namespaces/{ns}/messagingusers[/{name}]
//	/apis/admin.enmasse.io/v1beta2/namespaces/{ns}/addressspaceplans[/{name}]
//	/apis/admin.enmasse.io/v1beta2/namespaces/{ns}/addressplans[/{name}]
//
// plus the same collections without /namespaces/{ns} (list in every
// namespace) and discovery documents at /apis and /apis/{group}/{version}.
//
// Verbs: GET (one, or a list with labelSelector, fieldSelector on
// metadata.name/namespace, limit and continue), POST (create), PUT
// (replace; a metadata.resourceVersion must be current, none replaces
// unconditionally), PATCH (JSON merge patch, as JSON or YAML), DELETE
// (with optional preconditions). `?watch=true` streams Kubernetes watch
// events, one JSON object per line: {"type":"ADDED|MODIFIED|DELETED",
// "object":…}, from `resourceVersion` or, without one, starting with the
// existing objects; an ERROR event with a 410 Status ends a watch that is
// too old or fell behind. Bodies are JSON or YAML by Content-Type; answers
// are YAML when Accept asks for it.
//
// Errors are Kubernetes Status objects: 400 for bodies that do not decode
// (unknown fields and wrong types named by path), 404, 409 AlreadyExists
// and Conflict (stale resourceVersion, plan in use), 422 Invalid with one
// cause per field.
//
// Authentication (auth.go): with Options.Authenticate set, every request
// needs credentials (401 with WWW-Authenticate: Basic otherwise, plus
// Bearer with Options.Bearer, RFC 6750 §3) and the
// Caller decides each Access; a refused one is 403 Forbidden, and lists
// and watches leave out the objects the caller may not read. Every change
// is an audit log line (audit=true) with verb, kind, namespace, name and
// user.
//
// Admission (admission.go) is shared by the API, the config file and the
// first-start defaults: static validation, defaults (a missing plan is the
// space plan's first plan of the type), existence of the address space
// and plans, immutable fields, password hashing (write-only), and the
// cascade from an address space to its addresses and users. What can
// change later — duplicates, a subscription's topic, quota — is the
// agent's to report in status.
package api
