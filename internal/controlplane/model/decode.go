package model

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

func marshalJSON(v any) ([]byte, error) { return json.Marshal(v) }

func unmarshalJSON(b []byte, v any) error { return json.Unmarshal(b, v) }

// IsYAML reports whether a Content-Type (or Accept) value names YAML.
func IsYAML(contentType string) bool {
	ct, _, _ := strings.Cut(contentType, ";")
	switch strings.TrimSpace(strings.ToLower(ct)) {
	case "application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml", "application/apply-patch+yaml":
		return true
	}
	return false
}

// ToJSON turns a YAML (or JSON) document into JSON. Mapping keys must be
// strings.
func ToJSON(data []byte) ([]byte, error) {
	var v any
	if err := yaml.Unmarshal(data, &v); err != nil {
		return nil, err
	}
	v, err := jsonValue(v, "")
	if err != nil {
		return nil, err
	}
	return json.Marshal(v)
}

// jsonValue converts what yaml.v3 decodes into values encoding/json can
// marshal: string-keyed maps, and timestamps back to RFC 3339 strings.
func jsonValue(v any, path string) (any, error) {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			c, err := jsonValue(e, join(path, k))
			if err != nil {
				return nil, err
			}
			t[k] = c
		}
		return t, nil
	case map[any]any:
		m := make(map[string]any, len(t))
		for k, e := range t {
			ks, ok := k.(string)
			if !ok {
				return nil, fmt.Errorf("%s: mapping key %v is not a string", orRoot(path), k)
			}
			c, err := jsonValue(e, join(path, ks))
			if err != nil {
				return nil, err
			}
			m[ks] = c
		}
		return m, nil
	case []any:
		for i, e := range t {
			c, err := jsonValue(e, fmt.Sprintf("%s[%d]", path, i))
			if err != nil {
				return nil, err
			}
			t[i] = c
		}
		return t, nil
	case time.Time:
		return t.UTC().Format(time.RFC3339), nil
	}
	return v, nil
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func orRoot(path string) string {
	if path == "" {
		return "<root>"
	}
	return path
}

// Decode parses one resource of any kind from JSON or YAML. It needs
// apiVersion and kind, and refuses fields the kind does not have.
func Decode(data []byte) (Object, error) {
	js, err := ToJSON(data)
	if err != nil {
		return nil, err
	}
	var tm TypeMeta
	if err := json.Unmarshal(js, &tm); err != nil {
		return nil, decodeError(err)
	}
	k, err := KindOf(tm)
	if err != nil {
		return nil, err
	}
	obj := k.New()
	if err := DecodeJSON(js, obj); err != nil {
		return nil, err
	}
	return obj, nil
}

// KindOf finds the kind named by a document's apiVersion and kind, with an
// error naming the problem.
func KindOf(tm TypeMeta) (*KindInfo, error) {
	switch {
	case tm.Kind == "":
		return nil, required("kind", "")
	case tm.APIVersion == "":
		return nil, required("apiVersion", "")
	}
	if k, ok := LookupTypeMeta(tm.APIVersion, tm.Kind); ok {
		return k, nil
	}
	for _, k := range Kinds {
		if k.Kind == tm.Kind {
			want := make([]string, len(k.Versions))
			for i, v := range k.Versions {
				want[i] = k.Group + "/" + v
			}
			return nil, unsupported("apiVersion", tm.APIVersion, want)
		}
	}
	kinds := make([]string, len(Kinds))
	for i, k := range Kinds {
		kinds[i] = k.Kind
	}
	return nil, unsupported("kind", tm.Kind, kinds)
}

// DecodeJSON decodes JSON into obj strictly: fields obj does not have are
// reported with their path (spec.tpye), as are values of the wrong type.
func DecodeJSON(data []byte, obj any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var raw any
	if err := dec.Decode(&raw); err != nil {
		return decodeError(err)
	}
	if _, ok := raw.(map[string]any); !ok {
		return errors.New("the body must be a JSON or YAML object")
	}
	if unknown := unknownFields(raw, reflect.TypeOf(obj), ""); len(unknown) > 0 {
		var errs FieldErrors
		for _, f := range unknown {
			errs = append(errs, &FieldError{Field: f, Type: ErrUnknown})
		}
		return errs
	}
	if err := json.Unmarshal(data, obj); err != nil {
		return decodeError(err)
	}
	return nil
}

// decodeError turns encoding/json errors into messages naming the field.
func decodeError(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		field := te.Field
		if field == "" {
			field = "<root>"
		}
		return FieldErrors{invalid(field, te.Value, "expected "+jsonKind(te.Type))}
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("malformed JSON at byte %d: %v", se.Offset, err)
	}
	return err
}

func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int64, reflect.Int32, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float64, reflect.Float32:
		return "a number"
	case reflect.Slice:
		return "a list"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return t.String()
}

var rawMessageType = reflect.TypeOf(json.RawMessage(nil))

// unknownFields lists the paths in v that type t has no field for.
func unknownFields(v any, t reflect.Type, path string) []string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == rawMessageType || t.Kind() == reflect.Interface {
		return nil
	}
	switch t.Kind() {
	case reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			return nil // a type error, reported by Unmarshal
		}
		fields := jsonFields(t)
		var out []string
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			ft, ok := fields[k]
			if !ok {
				out = append(out, join(path, k))
				continue
			}
			out = append(out, unknownFields(m[k], ft, join(path, k))...)
		}
		return out
	case reflect.Slice:
		l, ok := v.([]any)
		if !ok {
			return nil
		}
		var out []string
		for i, e := range l {
			out = append(out, unknownFields(e, t.Elem(), fmt.Sprintf("%s[%d]", path, i))...)
		}
		return out
	case reflect.Map:
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		var out []string
		for k, e := range m {
			out = append(out, unknownFields(e, t.Elem(), join(path, k))...)
		}
		return out
	}
	return nil
}

// jsonFields maps the JSON names of t's fields (embedded structs
// flattened) to their types.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		name, _, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}
		if f.Anonymous && name == "" {
			for k, v := range jsonFields(f.Type) {
				out[k] = v
			}
			continue
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = f.Type
	}
	return out
}

// Document is one resource read from a stream, with where it started.
type Document struct {
	Object Object
	Line   int // first line of the document, 1-based
}

// DecodeStream reads every document of a multi-document YAML (or JSON)
// stream. A document of kind List contributes its items. Empty documents
// are skipped. Errors name the document's line.
func DecodeStream(r io.Reader) ([]Document, error) {
	dec := yaml.NewDecoder(r)
	var out []Document
	for {
		var node yaml.Node
		err := dec.Decode(&node)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if len(node.Content) == 0 || (node.Content[0].Kind == yaml.ScalarNode && node.Content[0].Tag == "!!null") {
			continue
		}
		docs, err := decodeNode(node.Content[0])
		if err != nil {
			return nil, fmt.Errorf("document at line %d: %w", node.Content[0].Line, err)
		}
		out = append(out, docs...)
	}
}

// DecodeNodes decodes a YAML sequence of resources (the resources: list of
// a config file).
func DecodeNodes(seq *yaml.Node) ([]Document, error) {
	if seq.Kind != yaml.SequenceNode {
		return nil, fmt.Errorf("line %d: want a list of resources", seq.Line)
	}
	var out []Document
	for _, n := range seq.Content {
		docs, err := decodeNode(n)
		if err != nil {
			return nil, fmt.Errorf("resource at line %d: %w", n.Line, err)
		}
		out = append(out, docs...)
	}
	return out, nil
}

func decodeNode(n *yaml.Node) ([]Document, error) {
	var v any
	if err := n.Decode(&v); err != nil {
		return nil, err
	}
	v, err := jsonValue(v, "")
	if err != nil {
		return nil, err
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("want a resource (a mapping with apiVersion and kind)")
	}
	if kind, _ := m["kind"].(string); strings.HasSuffix(kind, "List") {
		if items, ok := m["items"].([]any); ok {
			var out []Document
			for i, it := range items {
				js, err := json.Marshal(it)
				if err != nil {
					return nil, err
				}
				obj, err := Decode(js)
				if err != nil {
					return nil, fmt.Errorf("items[%d]: %w", i, err)
				}
				out = append(out, Document{Object: obj, Line: n.Line})
			}
			return out, nil
		}
	}
	js, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	obj, err := Decode(js)
	if err != nil {
		return nil, err
	}
	return []Document{{Object: obj, Line: n.Line}}, nil
}

// MarshalYAML renders v (a resource, list or Status) as YAML with the
// field names and omissions of its JSON form.
func MarshalYAML(v any) ([]byte, error) {
	js, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var n yaml.Node
	// JSON is YAML: decoding into a node keeps the key order of the JSON.
	if err := yaml.Unmarshal(js, &n); err != nil {
		return nil, err
	}
	setBlockStyle(&n)
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&n); err != nil {
		return nil, err
	}
	return buf.Bytes(), enc.Close()
}

// setBlockStyle clears the flow style that parsing JSON leaves on every
// node, so that the output is ordinary block YAML.
func setBlockStyle(n *yaml.Node) {
	n.Style &^= yaml.FlowStyle
	if n.Kind == yaml.ScalarNode && n.Style&yaml.DoubleQuotedStyle != 0 {
		n.Style &^= yaml.DoubleQuotedStyle
	}
	for _, c := range n.Content {
		setBlockStyle(c)
	}
}
