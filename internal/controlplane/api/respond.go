package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/enmasse-go/enmasse/internal/controlplane/model"
	"github.com/enmasse-go/enmasse/internal/controlplane/registry"
)

// apiError is an error with its Kubernetes Status.
type apiError struct{ status *model.Status }

func (e *apiError) Error() string { return e.status.Message }

func newStatus(code int, reason, msg string) *model.Status {
	return &model.Status{
		TypeMeta: model.TypeMeta{APIVersion: "v1", Kind: "Status"},
		Status:   "Failure", Message: msg, Reason: reason, Code: code,
	}
}

func errorf(code int, reason, format string, args ...any) error {
	return &apiError{newStatus(code, reason, fmt.Sprintf(format, args...))}
}

// resourceName is how Kubernetes names a kind in messages:
// addresses.enmasse.io.
func resourceName(k *model.KindInfo) string { return k.Plural + "." + k.Group }

// toStatus maps any error of a request to its Status.
func toStatus(err error, k *model.KindInfo, name string) *model.Status {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae.status
	}
	var fe model.FieldErrors
	var one *model.FieldError
	if errors.As(err, &one) {
		fe = model.FieldErrors{one}
	}
	if errors.As(err, &fe) {
		return invalidStatus(fe, k, name)
	}
	details := func(s *model.Status) *model.Status {
		if k != nil {
			s.Details = &model.StatusDetails{Name: name, Group: k.Group, Kind: k.Plural}
		}
		return s
	}
	kind := "resource"
	if k != nil {
		kind = resourceName(k)
	}
	switch {
	case errors.Is(err, registry.ErrNotFound):
		return details(newStatus(http.StatusNotFound, model.ReasonNotFound, fmt.Sprintf("%s %q not found", kind, name)))
	case errors.Is(err, registry.ErrExists):
		return details(newStatus(http.StatusConflict, model.ReasonAlreadyExists, fmt.Sprintf("%s %q already exists", kind, name)))
	case errors.Is(err, registry.ErrConflict):
		return details(newStatus(http.StatusConflict, model.ReasonConflict, err.Error()))
	case errors.Is(err, registry.ErrClosed):
		return newStatus(http.StatusServiceUnavailable, model.ReasonUnavailable, "the server is shutting down")
	}
	return newStatus(http.StatusInternalServerError, model.ReasonInternalError, err.Error())
}

// invalidStatus is the 422 answer to field errors:
// `Address.enmasse.io "s.x" is invalid: spec.type: Unsupported value: …`.
func invalidStatus(fe model.FieldErrors, k *model.KindInfo, name string) *model.Status {
	what := "object"
	if k != nil {
		what = k.Kind + "." + k.Group
	}
	s := newStatus(http.StatusUnprocessableEntity, model.ReasonInvalid, fmt.Sprintf("%s %q is invalid: %s", what, name, fe.Error()))
	s.Details = &model.StatusDetails{Name: name}
	if k != nil {
		s.Details.Group, s.Details.Kind = k.Group, k.Kind
	}
	for _, e := range fe {
		s.Details.Causes = append(s.Details.Causes, model.StatusCause{Reason: e.Reason(), Message: e.Error(), Field: e.Field})
	}
	return s
}

// badRequest wraps decoding problems (unknown fields, wrong types,
// malformed bodies) as 400 with the fields named.
func badRequest(err error, k *model.KindInfo, name string) error {
	var fe model.FieldErrors
	if errors.As(err, &fe) {
		s := invalidStatus(fe, k, name)
		s.Code, s.Reason = http.StatusBadRequest, model.ReasonBadRequest
		s.Message = "the request body is not a valid " + kindName(k) + ": " + fe.Error()
		return &apiError{s}
	}
	return errorf(http.StatusBadRequest, model.ReasonBadRequest, "the request body is not a valid %s: %v", kindName(k), err)
}

func kindName(k *model.KindInfo) string {
	if k == nil {
		return "object"
	}
	return k.Kind
}

// wantsYAML reports whether the client asked for YAML.
func wantsYAML(r *http.Request) bool {
	for _, a := range strings.Split(r.Header.Get("Accept"), ",") {
		if model.IsYAML(a) {
			return true
		}
		if ct, _, _ := strings.Cut(strings.TrimSpace(a), ";"); ct == "application/json" {
			return false
		}
	}
	return false
}

// write sends v with status code, as YAML when asked, else JSON.
func write(w http.ResponseWriter, r *http.Request, code int, v any) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	if wantsYAML(r) {
		b, err := model.MarshalYAML(v)
		if err == nil {
			h.Set("Content-Type", "application/yaml")
			w.WriteHeader(code)
			_, _ = w.Write(b)
			return
		}
	}
	h.Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, r *http.Request, err error, k *model.KindInfo, name string) {
	s := toStatus(err, k, name)
	write(w, r, s.Code, s)
}
