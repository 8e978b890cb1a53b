package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/enmasse-go/enmasse/internal/controlplane/credentials"
	"github.com/enmasse-go/enmasse/internal/controlplane/model"
	"github.com/enmasse-go/enmasse/internal/controlplane/registry"
)

// The admission rules every write goes through, whether it comes from the
// REST API, the config file or the defaults: static validation (model),
// defaulting, checks against other resources (the address space exists,
// the plan exists, has the right type and is allowed by the space's plan),
// immutable fields, password hashing, and the cascade of an address
// space's deletion. Rules whose outcome can change later (duplicate
// spec.address, a subscription's topic, quota) are not refused here: the
// agent reports them in status.

// Create stores a new object after admission. The object is consumed.
func (s *Server) Create(ctx context.Context, obj model.Object) (model.Object, error) {
	secret, err := prepare(obj, nil)
	if err != nil {
		return nil, err
	}
	err = s.reg.Update(ctx, func(tx *registry.Tx) error {
		if err := admit(tx, obj, nil); err != nil {
			return err
		}
		return tx.Create(obj, secret)
	})
	if err != nil {
		return nil, err
	}
	return obj, nil
}

// Replace stores a new version of an existing object after admission. An
// empty metadata.resourceVersion replaces unconditionally. Status is
// server-owned and kept.
func (s *Server) Replace(ctx context.Context, obj model.Object) (model.Object, error) {
	m := obj.GetMeta()
	old, ok := s.reg.Get(obj.Info(), m.Namespace, m.Name)
	if !ok {
		return nil, fmt.Errorf("%w", registry.ErrNotFound)
	}
	secret, err := prepare(obj, old)
	if err != nil {
		return nil, err
	}
	err = s.reg.Update(ctx, func(tx *registry.Tx) error {
		cur, ok := tx.Get(obj.Info(), m.Namespace, m.Name)
		if !ok {
			return registry.ErrNotFound
		}
		if err := admit(tx, obj, cur); err != nil {
			return err
		}
		keepStatus(obj, cur)
		return tx.Replace(obj, secret)
	})
	if err != nil {
		return nil, err
	}
	return obj, nil
}

// Patch applies a JSON merge patch (RFC 7386) to an object. A
// metadata.resourceVersion in the patch is a precondition.
func (s *Server) Patch(ctx context.Context, k *model.KindInfo, ns, name string, patch map[string]any) (model.Object, error) {
	cur, ok := s.reg.Get(k, ns, name)
	if !ok {
		return nil, registry.ErrNotFound
	}
	curJSON, err := json.Marshal(cur)
	if err != nil {
		return nil, err
	}
	var doc map[string]any
	if err := json.Unmarshal(curJSON, &doc); err != nil {
		return nil, err
	}
	delete(patch, "status") // server-owned
	merged := mergePatch(doc, patch).(map[string]any)
	js, err := json.Marshal(merged)
	if err != nil {
		return nil, err
	}
	obj := k.New()
	if err := model.DecodeJSON(js, obj); err != nil {
		return nil, badRequest(err, k, name)
	}
	m := obj.GetMeta()
	if m.Name != name || m.Namespace != ns {
		return nil, errorf(http.StatusBadRequest, model.ReasonBadRequest, "a patch cannot change metadata.name or metadata.namespace")
	}
	return s.Replace(ctx, obj)
}

// mergePatch applies an RFC 7386 merge patch.
func mergePatch(doc, patch any) any {
	pm, ok := patch.(map[string]any)
	if !ok {
		return patch
	}
	dm, ok := doc.(map[string]any)
	if !ok {
		dm = map[string]any{}
	}
	for k, v := range pm {
		if v == nil {
			delete(dm, k)
			continue
		}
		dm[k] = mergePatch(dm[k], v)
	}
	return dm
}

// Delete removes an object. Deleting an address space also deletes its
// addresses and users; a plan in use cannot be deleted.
func (s *Server) Delete(ctx context.Context, k *model.KindInfo, ns, name, rv, uid string) (model.Object, error) {
	var deleted model.Object
	err := s.reg.Update(ctx, func(tx *registry.Tx) error {
		cur, ok := tx.Get(k, ns, name)
		if !ok {
			return registry.ErrNotFound
		}
		if uid != "" && cur.GetMeta().UID != uid {
			return errorf(http.StatusConflict, model.ReasonConflict,
				"Precondition failed: UID in precondition: %s, UID in object meta: %s", uid, cur.GetMeta().UID)
		}
		if err := checkUnused(tx, cur); err != nil {
			return err
		}
		d, err := tx.Delete(k, ns, name, rv)
		if err != nil {
			return err
		}
		deleted = d
		if k == model.AddressSpaceKind {
			for _, dk := range []*model.KindInfo{model.AddressKind, model.MessagingUserKind} {
				for _, it := range tx.Items(dk, ns) {
					if model.SpaceOf(it.Object) == name {
						if _, err := tx.Delete(dk, ns, it.Object.GetMeta().Name, ""); err != nil {
							return err
						}
					}
				}
			}
		}
		return nil
	})
	return deleted, err
}

// checkUnused refuses to delete a plan that objects still use.
func checkUnused(tx *registry.Tx, o model.Object) error {
	var users []string
	m := o.GetMeta()
	// A plan in the infra namespace serves every namespace that has no
	// plan of its own of that name.
	visible := func(ns string) bool {
		if ns == m.Namespace {
			return true
		}
		if m.Namespace != model.InfraNamespace {
			return false
		}
		_, shadowed := tx.Get(o.Info(), ns, m.Name)
		return !shadowed
	}
	switch o.(type) {
	case *model.AddressPlan:
		for _, it := range tx.Items(model.AddressKind, "") {
			a := it.Object.(*model.Address)
			if a.Spec.Plan == m.Name && visible(a.Metadata.Namespace) {
				users = append(users, "address "+a.Metadata.Namespace+"/"+a.Metadata.Name)
			}
		}
	case *model.AddressSpacePlan:
		for _, it := range tx.Items(model.AddressSpaceKind, "") {
			a := it.Object.(*model.AddressSpace)
			if a.Spec.Plan == m.Name && visible(a.Metadata.Namespace) {
				users = append(users, "address space "+a.Metadata.Namespace+"/"+a.Metadata.Name)
			}
		}
	default:
		return nil
	}
	if len(users) == 0 {
		return nil
	}
	slices.Sort(users)
	more := ""
	if len(users) > 3 {
		more = fmt.Sprintf(" and %d more", len(users)-3)
		users = users[:3]
	}
	return errorf(http.StatusConflict, model.ReasonConflict, "%s %q is in use by %s%s; change or delete them first",
		o.Info().Kind, m.Name, strings.Join(users, ", "), more)
}

// prepare runs the checks that need no registry access, outside the
// registry lock: static validation, and hashing a user's password (slow
// on purpose). It returns the secret to store; nil keeps the current one.
func prepare(obj model.Object, old model.Object) ([]byte, error) {
	if fe := model.Validate(obj); len(fe) > 0 {
		return nil, fe
	}
	if old != nil {
		if fe := model.ValidateUpdate(old, obj); len(fe) > 0 {
			return nil, fe
		}
	}
	u, ok := obj.(*model.MessagingUser)
	if !ok {
		return nil, nil
	}
	auth := u.Spec.Authentication
	if auth.Type != model.AuthPassword {
		return []byte{}, nil // drop any password
	}
	if auth.Password == "" {
		if old != nil {
			if oa := old.(*model.MessagingUser).Spec.Authentication; oa != nil && oa.Type == model.AuthPassword {
				return nil, nil // keep the password
			}
		}
		return nil, model.FieldErrors{{Field: "spec.authentication.password", Type: model.ErrRequired, Detail: "a password user needs a base64 password"}}
	}
	pw, _ := model.DecodePassword(auth.Password)
	secret, err := credentials.Hash(pw)
	if err != nil {
		return nil, model.FieldErrors{model.Invalid("spec.authentication.password", "(hidden)", err.Error())}
	}
	auth.Password = "" // write-only
	return secret, nil
}

// keepStatus copies the current status into obj: status is the server's.
func keepStatus(obj, cur model.Object) {
	switch o := obj.(type) {
	case *model.AddressSpace:
		o.Status = cur.(*model.AddressSpace).Status
	case *model.Address:
		o.Status = cur.(*model.Address).Status
	case *model.MessagingUser:
		o.Status = cur.(*model.MessagingUser).Status
	case *model.AddressSpacePlan:
		o.Status = cur.(*model.AddressSpacePlan).Status
	case *model.AddressPlan:
		o.Status = cur.(*model.AddressPlan).Status
	}
}

// admit runs the checks against other resources and sets defaults and
// the initial status. old is nil on create.
func admit(tx *registry.Tx, obj, old model.Object) error {
	switch o := obj.(type) {
	case *model.AddressSpace:
		return admitSpace(tx, o)
	case *model.Address:
		return admitAddress(tx, o, old)
	case *model.MessagingUser:
		if _, err := spaceFor(tx, o.Metadata.Namespace, model.SpaceOf(o)); err != nil {
			return err
		}
		if old == nil {
			o.Status = model.MessagingUserStatus{Phase: model.PhasePending}
		}
	case *model.AddressSpacePlan:
		var missing []string
		for _, n := range o.Spec.AddressPlans {
			if findAddressPlan(tx, o.Metadata.Namespace, n) == nil {
				missing = append(missing, n)
			}
		}
		o.Status = model.PlanStatusInfo{Phase: model.PhaseActive}
		if len(missing) > 0 {
			o.Status = model.PlanStatusInfo{Phase: model.PhasePending, Message: "Unknown address plans: " + strings.Join(missing, ", ")}
		}
	case *model.AddressPlan:
		o.Status = model.PlanStatusInfo{Phase: model.PhaseActive}
	}
	return nil
}

func findAddressPlan(tx *registry.Tx, ns, name string) *model.AddressPlan {
	for _, n := range []string{ns, model.InfraNamespace} {
		if o, ok := tx.Get(model.AddressPlanKind, n, name); ok {
			return o.(*model.AddressPlan)
		}
	}
	return nil
}

func findSpacePlan(tx *registry.Tx, ns, name string) *model.AddressSpacePlan {
	for _, n := range []string{ns, model.InfraNamespace} {
		if o, ok := tx.Get(model.AddressSpacePlanKind, n, name); ok {
			return o.(*model.AddressSpacePlan)
		}
	}
	return nil
}

// planNames lists the plans of a kind visible from ns that match keep.
func planNames(tx *registry.Tx, k *model.KindInfo, ns string, keep func(model.Object) bool) []string {
	seen := map[string]bool{}
	for _, n := range []string{ns, model.InfraNamespace} {
		for _, it := range tx.Items(k, n) {
			if keep(it.Object) {
				seen[it.Object.GetMeta().Name] = true
			}
		}
	}
	out := make([]string, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// defaultSpacePlans are the plans an address space without spec.plan gets.
var defaultSpacePlans = map[string]string{
	model.SpaceStandard: model.DefaultSpacePlan,
	model.SpaceBrokered: "brokered-single-broker",
}

func admitSpace(tx *registry.Tx, o *model.AddressSpace) error {
	if o.Spec.Plan == "" {
		o.Spec.Plan = defaultSpacePlans[o.Spec.Type]
	}
	p := findSpacePlan(tx, o.Metadata.Namespace, o.Spec.Plan)
	switch {
	case p == nil:
		known := planNames(tx, model.AddressSpacePlanKind, o.Metadata.Namespace, func(x model.Object) bool {
			return x.(*model.AddressSpacePlan).Spec.AddressSpaceType == o.Spec.Type
		})
		return model.FieldErrors{model.NotFound("spec.plan", o.Spec.Plan,
			fmt.Sprintf("no AddressSpacePlan of that name (plans for %s: %s)", o.Spec.Type, strings.Join(known, ", ")))}
	case p.Spec.AddressSpaceType != o.Spec.Type:
		return model.FieldErrors{model.Invalid("spec.plan", o.Spec.Plan,
			fmt.Sprintf("the plan is for %s address spaces, not %s", p.Spec.AddressSpaceType, o.Spec.Type))}
	}
	if o.Metadata.ResourceVersion == "" && o.Status.Phase == "" {
		o.Status = model.AddressSpaceStatus{Phase: model.PhasePending}
	}
	return nil
}

func spaceFor(tx *registry.Tx, ns, space string) (*model.AddressSpace, error) {
	o, ok := tx.Get(model.AddressSpaceKind, ns, space)
	if !ok {
		return nil, model.FieldErrors{model.NotFound("metadata.name", space,
			fmt.Sprintf("address space %q does not exist in namespace %q; the name must start with an existing address space followed by '.'", space, ns))}
	}
	return o.(*model.AddressSpace), nil
}

func admitAddress(tx *registry.Tx, o *model.Address, old model.Object) error {
	space, err := spaceFor(tx, o.Metadata.Namespace, model.SpaceOf(o))
	if err != nil {
		return err
	}
	types := map[string][]string{
		model.SpaceStandard: model.AddressTypes,
		model.SpaceBrokered: {model.TypeQueue, model.TypeTopic, model.TypeDeadletter},
	}[space.Spec.Type]
	if !slices.Contains(types, o.Spec.Type) {
		return model.FieldErrors{model.Invalid("spec.type", o.Spec.Type,
			fmt.Sprintf("not supported in %s address space %q (supported: %s)", space.Spec.Type, space.Metadata.Name, strings.Join(types, ", ")))}
	}
	sp := findSpacePlan(tx, o.Metadata.Namespace, space.Spec.Plan)
	if sp == nil {
		return model.FieldErrors{model.NotFound("metadata.name", space.Metadata.Name,
			fmt.Sprintf("address space %q has no valid plan (%q not found)", space.Metadata.Name, space.Spec.Plan))}
	}
	allowed := func() []string {
		var out []string
		for _, n := range sp.Spec.AddressPlans {
			if p := findAddressPlan(tx, o.Metadata.Namespace, n); p != nil && p.Spec.AddressType == o.Spec.Type {
				out = append(out, n)
			}
		}
		return out
	}
	if o.Spec.Plan == "" {
		if old != nil {
			o.Spec.Plan = old.(*model.Address).Spec.Plan
		} else if a := allowed(); len(a) > 0 {
			o.Spec.Plan = a[0]
		} else {
			return model.FieldErrors{{Field: "spec.plan", Type: model.ErrRequired,
				Detail: fmt.Sprintf("address space plan %q has no plan for type %s", sp.Metadata.Name, o.Spec.Type)}}
		}
	}
	if old == nil || old.(*model.Address).Spec.Plan != o.Spec.Plan {
		p := findAddressPlan(tx, o.Metadata.Namespace, o.Spec.Plan)
		switch {
		case p == nil:
			return model.FieldErrors{model.NotFound("spec.plan", o.Spec.Plan,
				fmt.Sprintf("unknown address plan (plans for %s in address space plan %q: %s)", o.Spec.Type, sp.Metadata.Name, strings.Join(allowed(), ", ")))}
		case p.Spec.AddressType != o.Spec.Type:
			return model.FieldErrors{model.Invalid("spec.plan", o.Spec.Plan,
				fmt.Sprintf("the plan is for addresses of type %s, not %s (plans for %s: %s)", p.Spec.AddressType, o.Spec.Type, o.Spec.Type, strings.Join(allowed(), ", ")))}
		case !slices.Contains(sp.Spec.AddressPlans, o.Spec.Plan):
			return model.FieldErrors{model.Invalid("spec.plan", o.Spec.Plan,
				fmt.Sprintf("not allowed by address space plan %q (plans for %s: %s)", sp.Metadata.Name, o.Spec.Type, strings.Join(allowed(), ", ")))}
		}
	}
	if old == nil {
		o.Status = model.AddressStatus{Phase: model.PhasePending}
	}
	return nil
}

// Apply creates obj, or replaces the object of the same name
// unconditionally. It reports whether it created it.
func (s *Server) Apply(ctx context.Context, obj model.Object) (created bool, err error) {
	m := obj.GetMeta()
	if m.Namespace == "" {
		m.Namespace = model.DefaultNamespace
	}
	m.ResourceVersion = ""
	if _, ok := s.reg.Get(obj.Info(), m.Namespace, m.Name); ok {
		_, err := s.Replace(ctx, obj)
		return false, err
	}
	_, err = s.Create(ctx, obj)
	if errors.Is(err, registry.ErrExists) { // created meanwhile
		_, err = s.Replace(ctx, obj)
		return false, err
	}
	return err == nil, err
}

// Bootstrap creates the first-start defaults (SPEC §2) when the registry
// is new: EnMasse's standard plans and the `default` address space of the
// `default` namespace.
func (s *Server) Bootstrap(ctx context.Context) error {
	if !s.reg.Fresh() {
		return nil
	}
	var objs []model.Object
	for _, p := range model.DefaultAddressPlans() {
		objs = append(objs, p)
	}
	for _, p := range model.DefaultAddressSpacePlans() {
		objs = append(objs, p)
	}
	objs = append(objs, model.DefaultSpace())
	for _, o := range objs {
		if _, err := s.Apply(ctx, o); err != nil {
			return fmt.Errorf("creating default %s %q: %w", o.Info().Kind, o.GetMeta().Name, err)
		}
	}
	return nil
}

// ErrorMessage renders an admission error as one line, as the API's Status
// message would read.
func ErrorMessage(err error, obj model.Object) string {
	return toStatus(err, obj.Info(), obj.GetMeta().Name).Message
}
