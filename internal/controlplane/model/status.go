package model

import (
	"fmt"
	"strings"
)

// Status is the Kubernetes Status object the API answers errors with
// (k8s.io/apimachinery metav1.Status).
type Status struct {
	TypeMeta `json:",inline"`
	Metadata ListMeta `json:"metadata"`
	// Status is "Success" or "Failure".
	Status  string         `json:"status"`
	Message string         `json:"message,omitempty"`
	Reason  string         `json:"reason,omitempty"`
	Details *StatusDetails `json:"details,omitempty"`
	Code    int            `json:"code,omitempty"`
}

// StatusDetails names the object an error is about and its causes.
type StatusDetails struct {
	Name   string        `json:"name,omitempty"`
	Group  string        `json:"group,omitempty"`
	Kind   string        `json:"kind,omitempty"`
	UID    string        `json:"uid,omitempty"`
	Causes []StatusCause `json:"causes,omitempty"`
}

// StatusCause is one problem with one field.
type StatusCause struct {
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
	Field   string `json:"field,omitempty"`
}

// Kubernetes status reasons used by the API.
const (
	ReasonBadRequest       = "BadRequest"
	ReasonInvalid          = "Invalid"
	ReasonNotFound         = "NotFound"
	ReasonAlreadyExists    = "AlreadyExists"
	ReasonConflict         = "Conflict"
	ReasonGone             = "Gone"
	ReasonMethodNotAllowed = "MethodNotAllowed"
	ReasonUnsupportedMedia = "UnsupportedMediaType"
	ReasonNotAcceptable    = "NotAcceptable"
	ReasonInternalError    = "InternalError"
	ReasonUnavailable      = "ServiceUnavailable"
)

// Error makes a Status usable as an error (client side).
func (s *Status) Error() string {
	if s.Message != "" {
		return s.Message
	}
	return fmt.Sprintf("%s (%d)", s.Reason, s.Code)
}

// FieldError is one validation problem, as Kubernetes field.Error: the
// path of the field, what is wrong, the bad value and a detail.
type FieldError struct {
	Field  string
	Type   string // one of the ErrorType constants
	Value  any    // the bad value; nil to leave it out
	Detail string
}

// Field error types (Kubernetes field.ErrorType wording).
const (
	ErrRequired    = "Required value"
	ErrInvalid     = "Invalid value"
	ErrUnsupported = "Unsupported value"
	ErrForbidden   = "Forbidden"
	ErrNotFound    = "Not found"
	ErrDuplicate   = "Duplicate value"
	ErrUnknown     = "Unknown field"
)

func (e *FieldError) Error() string {
	var b strings.Builder
	b.WriteString(e.Field)
	b.WriteString(": ")
	b.WriteString(e.Type)
	if e.Value != nil && e.Type != ErrRequired && e.Type != ErrForbidden {
		b.WriteString(": ")
		if s, ok := e.Value.(string); ok {
			fmt.Fprintf(&b, "%q", s)
		} else {
			fmt.Fprintf(&b, "%v", e.Value)
		}
	}
	if e.Detail != "" {
		b.WriteString(": ")
		b.WriteString(e.Detail)
	}
	return b.String()
}

// Reason is the StatusCause reason of the error (FieldValueInvalid, …).
func (e *FieldError) Reason() string {
	switch e.Type {
	case ErrRequired:
		return "FieldValueRequired"
	case ErrUnsupported:
		return "FieldValueNotSupported"
	case ErrForbidden:
		return "FieldValueForbidden"
	case ErrNotFound:
		return "FieldValueNotFound"
	case ErrDuplicate:
		return "FieldValueDuplicate"
	case ErrUnknown:
		return "FieldValueUnknown"
	}
	return "FieldValueInvalid"
}

// FieldErrors is a list of validation problems; nil means valid.
type FieldErrors []*FieldError

func (l FieldErrors) Error() string {
	msgs := make([]string, len(l))
	for i, e := range l {
		msgs[i] = e.Error()
	}
	if len(msgs) == 1 {
		return msgs[0]
	}
	return "[" + strings.Join(msgs, ", ") + "]"
}

// Err returns l as an error, or nil when it is empty.
func (l FieldErrors) Err() error {
	if len(l) == 0 {
		return nil
	}
	return l
}

func required(field, detail string) *FieldError {
	return &FieldError{Field: field, Type: ErrRequired, Detail: detail}
}

func invalid(field string, value any, detail string) *FieldError {
	return &FieldError{Field: field, Type: ErrInvalid, Value: value, Detail: detail}
}

func unsupported(field string, value any, supported []string) *FieldError {
	q := make([]string, len(supported))
	for i, s := range supported {
		q[i] = fmt.Sprintf("%q", s)
	}
	return &FieldError{Field: field, Type: ErrUnsupported, Value: value, Detail: "supported values: " + strings.Join(q, ", ")}
}

// Invalid returns an invalid-value field error.
func Invalid(field string, value any, detail string) *FieldError {
	return invalid(field, value, detail)
}

// NotFound returns a not-found field error.
func NotFound(field string, value any, detail string) *FieldError {
	return &FieldError{Field: field, Type: ErrNotFound, Value: value, Detail: detail}
}

// Forbidden returns a forbidden field error.
func Forbidden(field, detail string) *FieldError {
	return &FieldError{Field: field, Type: ErrForbidden, Detail: detail}
}
