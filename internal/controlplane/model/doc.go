// Package model is the control plane's resource model: EnMasse's
// AddressSpace, Address and MessagingUser (enmasse.io/v1beta1,
// user.enmasse.io/v1beta1) and AddressSpacePlan and AddressPlan
// (admin.enmasse.io/v1beta2), with Kubernetes metadata, so that EnMasse
// YAML works unchanged (SPEC §3, research §2).
//
// The package is pure data: types with their JSON form, strict decoding of
// JSON and YAML (unknown fields and wrong types are reported with their
// path, such as spec.tpye), static validation (Validate, ValidateUpdate)
// returning Kubernetes-style field errors, the Kubernetes Status error
// object, and the defaults created on first start (DefaultAddressPlans,
// DefaultAddressSpacePlans, DefaultSpace).
//
// # Names
//
// Addresses and users are named `{addressspace}.{rest}`: the part before
// the first '.' is the address space, which is therefore a DNS label. The
// wire address is spec.address; two addresses of a space may not share
// one. In the data plane an address space is `{name}` in the default
// namespace and `{name}.{namespace}` elsewhere (DataPlaneSpace).
//
// # Plans
//
// Plans live in the object's namespace or, failing that, in the infra
// namespace (`default`). One credit is one router or one broker; an
// AddressPlan asks for fractions of them, an AddressSpacePlan caps the sum
// per resource and in aggregate (research §3.2).
//
// Objects returned by the registry are shared: never modify one in place;
// use Copy (deep) or Shallow (to replace status or metadata maps).
package model
