// Package client is a Go client of the control plane's REST API (SPEC §3),
// used by the CLI verbs (apply, get, describe, delete) and tests. Errors
// from the server are *model.Status; a server that cannot be reached gives
// an *UnreachableError.
package client

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/enmasse-go/enmasse/internal/controlplane/model"
)

// Client talks to one server. The zero value is not usable; use New.
type Client struct {
	base string
	http *http.Client
}

// New returns a client of the server at base (http://host:port).
func New(base string, hc *http.Client) *Client {
	if hc == nil {
		hc = http.DefaultClient
	}
	if !strings.Contains(base, "://") {
		base = "http://" + base
	}
	return &Client{base: strings.TrimRight(base, "/"), http: hc}
}

// UnreachableError means no HTTP answer came from the server.
type UnreachableError struct {
	Server string
	Err    error
}

func (e *UnreachableError) Error() string {
	return fmt.Sprintf("cannot reach the enmasse server at %s: %v (is `enmasse serve` running? set --server or ENMASSE_SERVER)", e.Server, rootCause(e.Err))
}

func (e *UnreachableError) Unwrap() error { return e.Err }

func rootCause(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return err
}

// IsNotFound reports whether err is the server's 404.
func IsNotFound(err error) bool {
	var s *model.Status
	return errors.As(err, &s) && s.Code == http.StatusNotFound
}

func (c *Client) path(k *model.KindInfo, ns, name string) string {
	p := k.Path(ns)
	if name != "" {
		p += "/" + url.PathEscape(name)
	}
	return p
}

// do sends a request and decodes a successful JSON answer into out.
func (c *Client) do(ctx context.Context, method, path, contentType string, body []byte, out any) error {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return &UnreachableError{Server: c.base, Err: err}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("%s %s: reading the answer: %w", method, path, err)
	}
	if resp.StatusCode >= 300 {
		var st model.Status
		if json.Unmarshal(data, &st) == nil && st.Kind == "Status" {
			return &st
		}
		return &model.Status{Status: "Failure", Code: resp.StatusCode,
			Message: fmt.Sprintf("%s %s: %s: %s", method, path, resp.Status, strings.TrimSpace(string(data)))}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s %s: the answer is not what an enmasse server sends: %w", method, path, err)
	}
	return nil
}

// Get fetches one object.
func (c *Client) Get(ctx context.Context, k *model.KindInfo, ns, name string) (model.Object, error) {
	obj := k.New()
	if err := c.do(ctx, http.MethodGet, c.path(k, ns, name), "", nil, obj); err != nil {
		return nil, err
	}
	return obj, nil
}

// ListOptions select objects.
type ListOptions struct {
	LabelSelector string
	FieldSelector string
}

func (o ListOptions) query() string {
	q := url.Values{}
	if o.LabelSelector != "" {
		q.Set("labelSelector", o.LabelSelector)
	}
	if o.FieldSelector != "" {
		q.Set("fieldSelector", o.FieldSelector)
	}
	if len(q) == 0 {
		return ""
	}
	return "?" + q.Encode()
}

// List fetches the objects of a kind in a namespace ("" for all).
func (c *Client) List(ctx context.Context, k *model.KindInfo, ns string, opts ListOptions) ([]model.Object, error) {
	var l struct {
		Items []json.RawMessage `json:"items"`
	}
	if err := c.do(ctx, http.MethodGet, c.path(k, ns, "")+opts.query(), "", nil, &l); err != nil {
		return nil, err
	}
	out := make([]model.Object, 0, len(l.Items))
	for _, raw := range l.Items {
		o := k.New()
		if err := json.Unmarshal(raw, o); err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, nil
}

// Create creates obj in its namespace.
func (c *Client) Create(ctx context.Context, obj model.Object) (model.Object, error) {
	body, err := json.Marshal(obj)
	if err != nil {
		return nil, err
	}
	k := obj.Info()
	out := k.New()
	if err := c.do(ctx, http.MethodPost, c.path(k, obj.GetMeta().Namespace, ""), "application/json", body, out); err != nil {
		return nil, err
	}
	return out, nil
}

// Replace replaces obj (PUT); its resourceVersion, if set, must be current.
func (c *Client) Replace(ctx context.Context, obj model.Object) (model.Object, error) {
	body, err := json.Marshal(obj)
	if err != nil {
		return nil, err
	}
	k, m := obj.Info(), obj.GetMeta()
	out := k.New()
	if err := c.do(ctx, http.MethodPut, c.path(k, m.Namespace, m.Name), "application/json", body, out); err != nil {
		return nil, err
	}
	return out, nil
}

// Patch applies a JSON merge patch.
func (c *Client) Patch(ctx context.Context, k *model.KindInfo, ns, name string, patch []byte) (model.Object, error) {
	out := k.New()
	if err := c.do(ctx, http.MethodPatch, c.path(k, ns, name), "application/merge-patch+json", patch, out); err != nil {
		return nil, err
	}
	return out, nil
}

// Delete deletes one object and returns it as it was.
func (c *Client) Delete(ctx context.Context, k *model.KindInfo, ns, name string) (model.Object, error) {
	out := k.New()
	if err := c.do(ctx, http.MethodDelete, c.path(k, ns, name), "", nil, out); err != nil {
		return nil, err
	}
	return out, nil
}

// Apply creates obj or, if it exists, replaces it with obj (status and
// server metadata are the server's; a user without a password keeps the
// stored one). It reports whether it created the object.
func (c *Client) Apply(ctx context.Context, obj model.Object) (model.Object, bool, error) {
	m := obj.GetMeta()
	if _, err := c.Get(ctx, obj.Info(), m.Namespace, m.Name); err != nil {
		if !IsNotFound(err) {
			return nil, false, err
		}
		out, err := c.Create(ctx, obj)
		return out, true, err
	}
	m.ResourceVersion = "" // the file is the truth: replace whatever is there
	out, err := c.Replace(ctx, obj)
	return out, false, err
}

// Event is one watch event.
type Event struct {
	Type   string
	Object model.Object
	Status *model.Status // for Type "ERROR"
}

// Watch streams the changes of a kind in a namespace from resourceVersion
// rv ("" sends the existing objects first). The channel closes when the
// stream ends or ctx is done.
func (c *Client) Watch(ctx context.Context, k *model.KindInfo, ns, rv string, opts ListOptions) (<-chan Event, error) {
	q := opts.query()
	if q == "" {
		q = "?"
	} else {
		q += "&"
	}
	q += "watch=true"
	if rv != "" {
		q += "&resourceVersion=" + url.QueryEscape(rv)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+c.path(k, ns, "")+q, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, &UnreachableError{Server: c.base, Err: err}
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		var st model.Status
		data, _ := io.ReadAll(resp.Body)
		if json.Unmarshal(data, &st) == nil && st.Kind == "Status" {
			return nil, &st
		}
		return nil, fmt.Errorf("watch: %s", resp.Status)
	}
	ch := make(chan Event)
	go func() {
		defer close(ch)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 64<<10), 16<<20)
		for sc.Scan() {
			var raw struct {
				Type   string          `json:"type"`
				Object json.RawMessage `json:"object"`
			}
			if json.Unmarshal(sc.Bytes(), &raw) != nil {
				return
			}
			ev := Event{Type: raw.Type}
			if raw.Type == "ERROR" {
				ev.Status = &model.Status{}
				_ = json.Unmarshal(raw.Object, ev.Status)
			} else {
				ev.Object = k.New()
				if json.Unmarshal(raw.Object, ev.Object) != nil {
					return
				}
			}
			select {
			case ch <- ev:
			case <-ctx.Done():
				return
			}
		}
	}()
	return ch, nil
}
