package api

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/enmasse-go/enmasse/internal/controlplane/credentials"
	"github.com/enmasse-go/enmasse/internal/controlplane/model"
	"github.com/enmasse-go/enmasse/internal/controlplane/registry"
)

const (
	addrPath  = "/apis/enmasse.io/v1beta1/namespaces/default/addresses"
	spacePath = "/apis/enmasse.io/v1beta1/namespaces/default/addressspaces"
	userPath  = "/apis/user.enmasse.io/v1beta1/namespaces/default/messagingusers"
	aplanPath = "/apis/admin.enmasse.io/v1beta2/namespaces/default/addressplans"
)

type testAPI struct {
	t   *testing.T
	srv *httptest.Server
	reg *registry.Registry
}

// newTestAPI serves the API over an in-memory registry with the first-start
// defaults and a space "myspace".
func newTestAPI(t *testing.T) *testAPI {
	t.Helper()
	reg, err := registry.Open(registry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s := New(Options{Registry: reg})
	if err := s.Bootstrap(context.Background()); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	s.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(func() { srv.Close(); reg.Close() })
	a := &testAPI{t: t, srv: srv, reg: reg}
	a.mustDo("POST", spacePath, "application/yaml", `
apiVersion: enmasse.io/v1beta1
kind: AddressSpace
metadata: {name: myspace}
spec: {type: standard, plan: standard-unlimited}
`, 201)
	return a
}

func (a *testAPI) do(method, path, contentType, body string, header ...string) (int, string) {
	a.t.Helper()
	req, err := http.NewRequest(method, a.srv.URL+path, strings.NewReader(body))
	if err != nil {
		a.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (a *testAPI) mustDo(method, path, contentType, body string, want int) string {
	a.t.Helper()
	code, out := a.do(method, path, contentType, body)
	if code != want {
		a.t.Fatalf("%s %s: %d, want %d: %s", method, path, code, want, out)
	}
	return out
}

func decodeStatus(t *testing.T, body string) model.Status {
	t.Helper()
	var s model.Status
	if err := json.Unmarshal([]byte(body), &s); err != nil || s.Kind != "Status" {
		t.Fatalf("not a Status: %s", body)
	}
	return s
}

func TestCreateGetJSONAndYAML(t *testing.T) {
	a := newTestAPI(t)
	out := a.mustDo("POST", addrPath, "application/json",
		`{"apiVersion":"enmasse.io/v1beta1","kind":"Address","metadata":{"name":"myspace.orders","labels":{"app":"shop"}},"spec":{"address":"orders","type":"queue","plan":"standard-small-queue"}}`, 201)
	var got model.Address
	json.Unmarshal([]byte(out), &got)
	m := got.Metadata
	if m.UID == "" || m.ResourceVersion == "" || m.Generation != 1 || m.CreationTimestamp == "" || m.Namespace != "default" {
		t.Errorf("server metadata not set: %+v", m)
	}
	if got.Status.Phase != model.PhasePending || got.Status.IsReady {
		t.Errorf("initial status %+v", got.Status)
	}
	// YAML in, YAML out; the plan is defaulted from the space plan.
	a.mustDo("POST", addrPath, "application/yaml", `
apiVersion: enmasse.io/v1beta1
kind: Address
metadata:
  name: myspace.direct
spec:
  address: direct
  type: anycast
`, 201)
	code, y := a.do("GET", addrPath+"/myspace.direct", "", "", "Accept", "application/yaml")
	if code != 200 || !strings.Contains(y, "plan: standard-small-anycast\n") || !strings.Contains(y, "kind: Address\n") {
		t.Fatalf("GET as YAML: %d\n%s", code, y)
	}
	code, body := a.do("GET", addrPath+"/myspace.nope", "", "")
	if st := decodeStatus(t, body); code != 404 || st.Reason != model.ReasonNotFound || !strings.Contains(st.Message, `addresses.enmasse.io "myspace.nope" not found`) {
		t.Errorf("missing: %d %s", code, body)
	}
	code, body = a.do("POST", addrPath, "application/json",
		`{"metadata":{"name":"myspace.orders"},"spec":{"address":"orders2","type":"queue"}}`)
	if st := decodeStatus(t, body); code != 409 || st.Reason != model.ReasonAlreadyExists {
		t.Errorf("duplicate name: %d %s", code, body)
	}
}

func TestValidationErrors(t *testing.T) {
	a := newTestAPI(t)
	a.mustDo("POST", addrPath, "application/yaml", "metadata: {name: myspace.t}\nspec: {address: t, type: topic}\n", 201)
	tests := map[string]struct {
		path, body string
		code       int
		field, msg string // the cause's field and a substring of the message
	}{
		"name without space": {addrPath, `{"metadata":{"name":"orders"},"spec":{"address":"orders","type":"queue"}}`,
			422, "metadata.name", "must be {addressspace}.{name}"},
		"unknown space": {addrPath, `{"metadata":{"name":"nospace.orders"},"spec":{"address":"orders","type":"queue"}}`,
			422, "metadata.name", `address space "nospace" does not exist`},
		"bad name": {addrPath, `{"metadata":{"name":"myspace.Orders"},"spec":{"address":"orders","type":"queue"}}`,
			422, "metadata.name", "RFC 1123"},
		"address with space": {addrPath, `{"metadata":{"name":"myspace.o"},"spec":{"address":"a b","type":"queue"}}`,
			422, "spec.address", "whitespace"},
		"no address": {addrPath, `{"metadata":{"name":"myspace.o"},"spec":{"type":"queue"}}`,
			422, "spec.address", "Required value"},
		"unknown type": {addrPath, `{"metadata":{"name":"myspace.o"},"spec":{"address":"o","type":"fifo"}}`,
			422, "spec.type", `Unsupported value: "fifo": supported values: "anycast"`},
		"unknown plan": {addrPath, `{"metadata":{"name":"myspace.o"},"spec":{"address":"o","type":"queue","plan":"gold"}}`,
			422, "spec.plan", `Not found: "gold"`},
		"plan of wrong type": {addrPath, `{"metadata":{"name":"myspace.o"},"spec":{"address":"o","type":"queue","plan":"standard-small-topic"}}`,
			422, "spec.plan", "for addresses of type topic, not queue"},
		"plan not in space plan": {addrPath, `{"metadata":{"name":"myspace.o"},"spec":{"address":"o","type":"queue","plan":"brokered-queue"}}`,
			422, "spec.plan", `not allowed by address space plan "standard-unlimited"`},
		"subscription without topic": {addrPath, `{"metadata":{"name":"myspace.s"},"spec":{"address":"s","type":"subscription"}}`,
			422, "spec.topic", "Required value"},
		"field for other type": {addrPath, `{"metadata":{"name":"myspace.o"},"spec":{"address":"o","type":"anycast","deadletter":"dlq"}}`,
			422, "spec.deadletter", "not allowed for type anycast"},
		"maxConsumers 0": {addrPath, `{"metadata":{"name":"myspace.s"},"spec":{"address":"s","type":"subscription","topic":"t","subscription":{"maxConsumers":0}}}`,
			422, "spec.subscription.maxConsumers", "at least 1"},
		"unknown field": {addrPath, `{"metadata":{"name":"myspace.o"},"spec":{"address":"o","tpye":"queue"}}`,
			400, "spec.tpye", "Unknown field"},
		"wrong value type": {addrPath, `{"metadata":{"name":"myspace.o"},"spec":{"address":"o","type":"queue","messageTtl":{"minimum":"soon"}}}`,
			400, "spec.messageTtl.minimum", "expected an integer"},
		"kind mismatch": {addrPath, `{"kind":"AddressSpace","metadata":{"name":"x"}}`,
			400, "", `kind "AddressSpace" does not match`},
		"namespace mismatch": {addrPath, `{"metadata":{"name":"myspace.o","namespace":"other"},"spec":{"address":"o","type":"queue"}}`,
			400, "", "does not match the namespace"},
		"space type": {spacePath, `{"metadata":{"name":"s2"},"spec":{"type":"premium"}}`,
			422, "spec.type", "Unsupported value"},
		"space plan of other type": {spacePath, `{"metadata":{"name":"s2"},"spec":{"type":"brokered","plan":"standard-small"}}`,
			422, "spec.plan", "for standard address spaces, not brokered"},
		"space name with dot": {spacePath, `{"metadata":{"name":"a.b"},"spec":{"type":"standard"}}`,
			422, "metadata.name", "no '.'"},
		"brokered type": {addrPath, `{"metadata":{"name":"b.o"},"spec":{"address":"o","type":"anycast"}}`,
			422, "spec.type", "not supported in brokered"},
		"user name mismatch": {userPath, `{"metadata":{"name":"myspace.bob"},"spec":{"username":"alice","authentication":{"type":"password","password":"cGFzcw=="}}}`,
			422, "metadata.name", "myspace.alice"},
		"user without password": {userPath, `{"metadata":{"name":"myspace.bob"},"spec":{"username":"bob","authentication":{"type":"password"}}}`,
			422, "spec.authentication.password", "Required value"},
		"password not base64": {userPath, `{"metadata":{"name":"myspace.bob"},"spec":{"username":"bob","authentication":{"type":"password","password":"!!"}}}`,
			422, "spec.authentication.password", "base64"},
		"bad operation": {userPath, `{"metadata":{"name":"myspace.bob"},"spec":{"username":"bob","authentication":{"type":"password","password":"cGFzcw=="},"authorization":[{"addresses":["*"],"operations":["write"]}]}}`,
			422, "spec.authorization[0].operations[0]", "Unsupported value"},
		"bad label": {addrPath, `{"metadata":{"name":"myspace.o","labels":{"a b":"c"}},"spec":{"address":"o","type":"queue"}}`,
			422, "metadata.labels", "key"},
	}
	a.mustDo("POST", spacePath, "application/json", `{"metadata":{"name":"b"},"spec":{"type":"brokered"}}`, 201)
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			code, body := a.do("POST", tc.path, "application/json", tc.body)
			st := decodeStatus(t, body)
			if code != tc.code || st.Code != tc.code || !strings.Contains(st.Message, tc.msg) {
				t.Fatalf("%d %s\nwant %d with %q", code, st.Message, tc.code, tc.msg)
			}
			if tc.field == "" {
				return
			}
			if st.Details == nil || len(st.Details.Causes) == 0 || st.Details.Causes[0].Field != tc.field {
				t.Fatalf("causes %+v, want field %s", st.Details, tc.field)
			}
			if !strings.Contains(st.Message, tc.field) {
				t.Errorf("message %q does not name %s", st.Message, tc.field)
			}
		})
	}
}

func TestReplaceConflictAndImmutable(t *testing.T) {
	a := newTestAPI(t)
	out := a.mustDo("POST", addrPath, "application/json",
		`{"metadata":{"name":"myspace.q"},"spec":{"address":"q","type":"queue"}}`, 201)
	var cur model.Address
	json.Unmarshal([]byte(out), &cur)

	cur.Spec.Plan = "standard-medium-queue"
	b, _ := json.Marshal(cur)
	out = a.mustDo("PUT", addrPath+"/myspace.q", "application/json", string(b), 200)
	var upd model.Address
	json.Unmarshal([]byte(out), &upd)
	if upd.Metadata.Generation != 2 || upd.Metadata.ResourceVersion == cur.Metadata.ResourceVersion || upd.Metadata.UID != cur.Metadata.UID {
		t.Errorf("after replace: %+v", upd.Metadata)
	}
	// the same body again carries a stale resourceVersion
	code, body := a.do("PUT", addrPath+"/myspace.q", "application/json", string(b))
	if st := decodeStatus(t, body); code != 409 || st.Reason != model.ReasonConflict || !strings.Contains(st.Message, "has been modified") {
		t.Fatalf("stale PUT: %d %s", code, body)
	}
	// PATCH with a stale resourceVersion too
	code, _ = a.do("PATCH", addrPath+"/myspace.q", "application/merge-patch+json",
		`{"metadata":{"resourceVersion":"`+cur.Metadata.ResourceVersion+`"},"spec":{"plan":"standard-small-queue"}}`)
	if code != 409 {
		t.Errorf("stale PATCH: %d", code)
	}
	code, body = a.do("PATCH", addrPath+"/myspace.q", "application/merge-patch+json", `{"spec":{"type":"topic"}}`)
	if st := decodeStatus(t, body); code != 422 || !strings.Contains(st.Message, "spec.type: Invalid value: \"topic\": field is immutable") {
		t.Fatalf("type change: %d %s", code, body)
	}
	// merge patch in YAML adds a label and keeps the rest
	out = a.mustDo("PATCH", addrPath+"/myspace.q", "application/yaml", "metadata:\n  labels: {tier: gold}\n", 200)
	json.Unmarshal([]byte(out), &upd)
	if upd.Metadata.Labels["tier"] != "gold" || upd.Spec.Plan != "standard-medium-queue" || upd.Metadata.Generation != 2 {
		t.Errorf("after patch: %+v %+v", upd.Metadata, upd.Spec)
	}
	// PUT without a resourceVersion replaces unconditionally; status is the server's
	a.mustDo("PUT", addrPath+"/myspace.q", "application/yaml",
		"metadata: {name: myspace.q}\nspec: {address: q, type: queue, plan: standard-small-queue}\nstatus: {isReady: true, phase: Active}\n", 200)
	o, _ := a.reg.Get(model.AddressKind, "default", "myspace.q")
	if o.(*model.Address).Status.IsReady {
		t.Error("client-written status was stored")
	}
	// subscriptions: maxConsumers is immutable
	a.mustDo("POST", addrPath, "application/yaml", "metadata: {name: myspace.t}\nspec: {address: t, type: topic}\n", 201)
	a.mustDo("POST", addrPath, "application/yaml", "metadata: {name: myspace.s}\nspec: {address: s, type: subscription, topic: t, subscription: {maxConsumers: 2}}\n", 201)
	code, body = a.do("PATCH", addrPath+"/myspace.s", "application/merge-patch+json", `{"spec":{"subscription":{"maxConsumers":3}}}`)
	if code != 422 || !strings.Contains(body, "spec.subscription.maxConsumers") {
		t.Errorf("maxConsumers change: %d %s", code, body)
	}
}

func names(t *testing.T, body string) []string {
	t.Helper()
	var l struct {
		Kind     string
		Metadata model.ListMeta
		Items    []model.Address
	}
	if err := json.Unmarshal([]byte(body), &l); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, it := range l.Items {
		out = append(out, it.Metadata.Name)
	}
	return out
}

func TestListSelectorsAndPaging(t *testing.T) {
	a := newTestAPI(t)
	for _, x := range []struct{ name, labels string }{
		{"myspace.a", `{"app":"shop","tier":"gold"}`}, {"myspace.b", `{"app":"shop"}`}, {"myspace.c", `{"app":"crm"}`}, {"myspace.d", `{}`},
	} {
		a.mustDo("POST", addrPath, "application/json", `{"metadata":{"name":"`+x.name+`","labels":`+x.labels+`},"spec":{"address":"`+x.name[8:]+`","type":"anycast"}}`, 201)
	}
	for sel, want := range map[string]string{
		"":                         "myspace.a myspace.b myspace.c myspace.d",
		"app=shop":                 "myspace.a myspace.b",
		"app==shop,tier":           "myspace.a",
		"app!=shop":                "myspace.c myspace.d",
		"!tier":                    "myspace.b myspace.c myspace.d",
		"app in (crm, shop),!tier": "myspace.b myspace.c",
		"app notin (shop)":         "myspace.c myspace.d",
	} {
		body := a.mustDo("GET", addrPath+"?labelSelector="+strings.ReplaceAll(sel, " ", "%20"), "", "", 200)
		if got := strings.Join(names(t, body), " "); got != want {
			t.Errorf("labelSelector %q: %s, want %s", sel, got, want)
		}
	}
	body := a.mustDo("GET", addrPath+"?fieldSelector=metadata.name=myspace.c", "", "", 200)
	if got := names(t, body); len(got) != 1 || got[0] != "myspace.c" {
		t.Errorf("fieldSelector: %v", got)
	}
	code, body := a.do("GET", addrPath+"?labelSelector=a%20in%20(", "", "")
	if code != 400 {
		t.Errorf("bad selector: %d %s", code, body)
	}
	// paging
	var all []string
	path := addrPath + "?limit=3"
	for {
		body := a.mustDo("GET", path, "", "", 200)
		all = append(all, names(t, body)...)
		var l struct{ Metadata model.ListMeta }
		json.Unmarshal([]byte(body), &l)
		if l.Metadata.Continue == "" {
			break
		}
		path = addrPath + "?limit=3&continue=" + l.Metadata.Continue
	}
	if len(all) != 4 {
		t.Errorf("paged list: %v", all)
	}
	// all namespaces
	body = a.mustDo("GET", "/apis/enmasse.io/v1beta1/addressspaces", "", "", 200)
	if !strings.Contains(body, `"name":"myspace"`) || !strings.Contains(body, `"kind":"AddressSpaceList"`) {
		t.Errorf("all-namespace list: %s", body)
	}
}

func TestWatchStream(t *testing.T) {
	a := newTestAPI(t)
	a.mustDo("POST", addrPath, "application/json", `{"metadata":{"name":"myspace.a"},"spec":{"address":"a","type":"anycast"}}`, 201)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", a.srv.URL+addrPath+"?watch=true", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	next := func() (string, model.Address) {
		t.Helper()
		if !sc.Scan() {
			t.Fatalf("stream ended: %v", sc.Err())
		}
		var ev struct {
			Type   string
			Object model.Address
		}
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("%v: %s", err, sc.Text())
		}
		return ev.Type, ev.Object
	}
	if typ, o := next(); typ != "ADDED" || o.Metadata.Name != "myspace.a" {
		t.Fatalf("first event %s %s", typ, o.Metadata.Name)
	}
	a.mustDo("POST", addrPath, "application/json", `{"metadata":{"name":"myspace.b"},"spec":{"address":"b","type":"anycast"}}`, 201)
	a.mustDo("PATCH", addrPath+"/myspace.b", "application/merge-patch+json", `{"metadata":{"labels":{"x":"y"}}}`, 200)
	a.mustDo("DELETE", addrPath+"/myspace.b", "", "", 200)
	for _, want := range []string{"ADDED", "MODIFIED", "DELETED"} {
		if typ, o := next(); typ != want || o.Metadata.Name != "myspace.b" {
			t.Fatalf("event %s %s, want %s myspace.b", typ, o.Metadata.Name, want)
		}
	}
	// a watch from a revision in the future of a fresh registry's history
	code, body := a.do("GET", addrPath+"?watch=true&resourceVersion=1&timeoutSeconds=1", "", "")
	if code != 200 || !strings.Contains(body, `"type":"ADDED"`) {
		t.Errorf("resumed watch: %d %s", code, body)
	}
}

func TestDeleteCascadeAndPlanInUse(t *testing.T) {
	a := newTestAPI(t)
	a.mustDo("POST", addrPath, "application/json", `{"metadata":{"name":"myspace.a"},"spec":{"address":"a","type":"anycast"}}`, 201)
	a.mustDo("POST", userPath, "application/json", `{"metadata":{"name":"myspace.bob"},"spec":{"username":"bob","authentication":{"type":"password","password":"cGFzcw=="}}}`, 201)
	code, body := a.do("DELETE", aplanPath+"/standard-small-anycast", "", "")
	if st := decodeStatus(t, body); code != 409 || !strings.Contains(st.Message, "in use by address default/myspace.a") {
		t.Errorf("plan in use: %d %s", code, body)
	}
	a.mustDo("DELETE", spacePath+"/myspace", "", "", 200)
	for _, p := range []string{addrPath + "/myspace.a", userPath + "/myspace.bob"} {
		if code, _ := a.do("GET", p, "", ""); code != 404 {
			t.Errorf("%s survived its address space: %d", p, code)
		}
	}
	a.mustDo("DELETE", aplanPath+"/standard-small-anycast", "", "", 200)
	// preconditions
	a.mustDo("POST", addrPath, "application/json", `{"metadata":{"name":"default.x"},"spec":{"address":"x","type":"queue"}}`, 201)
	code, _ = a.do("DELETE", addrPath+"/default.x", "application/json", `{"preconditions":{"resourceVersion":"1"}}`)
	if code != 409 {
		t.Errorf("DELETE with stale precondition: %d", code)
	}
}

func TestUserPasswordWriteOnly(t *testing.T) {
	a := newTestAPI(t)
	out := a.mustDo("POST", userPath, "application/yaml", `
apiVersion: user.enmasse.io/v1beta1
kind: MessagingUser
metadata: {name: myspace.app1}
spec:
  username: app1
  authentication: {type: password, password: cGFzc3dvcmQ=}
  authorization:
  - addresses: ["orders", "queue*"]
    operations: ["send", "recv"]
`, 201)
	if strings.Contains(out, "cGFzc3dvcmQ") || strings.Contains(out, "password\":\"") {
		t.Fatalf("password returned on create: %s", out)
	}
	got := a.mustDo("GET", userPath+"/myspace.app1", "", "", 200)
	if strings.Contains(got, "cGFzc3dvcmQ") {
		t.Fatalf("password returned: %s", got)
	}
	users := credentials.Store{Registry: a.reg}.Users("default", "myspace")
	check := func(pw string, want bool) {
		t.Helper()
		c, ok := users.Lookup("app1")
		if !ok || c.VerifyPassword(pw) != want {
			t.Fatalf("password %q: found %v", pw, ok)
		}
	}
	check("password", true)
	check("wrong", false)
	// get → edit → replace without the password keeps it (EnMasse #2119)
	var u model.MessagingUser
	json.Unmarshal([]byte(got), &u)
	u.Spec.Authorization[0].Operations = []string{"recv"}
	b, _ := json.Marshal(u)
	a.mustDo("PUT", userPath+"/myspace.app1", "application/json", string(b), 200)
	check("password", true)
	a.mustDo("PATCH", userPath+"/myspace.app1", "application/merge-patch+json", `{"spec":{"authentication":{"password":"bmV3"}}}`, 200)
	check("new", true)
	check("password", false)
	if _, ok := users.Lookup("nobody"); ok {
		t.Error("unknown user found")
	}
}

func TestDiscoveryAndMethods(t *testing.T) {
	a := newTestAPI(t)
	body := a.mustDo("GET", "/apis/enmasse.io/v1beta1", "", "", 200)
	if !strings.Contains(body, `"shortNames":["addr"]`) || !strings.Contains(body, `"kind":"AddressSpace"`) {
		t.Errorf("discovery: %s", body)
	}
	a.mustDo("GET", "/apis", "", "", 200)
	code, body := a.do("POST", addrPath+"/myspace.x", "application/json", "{}")
	if st := decodeStatus(t, body); code != 405 || st.Reason != model.ReasonMethodNotAllowed {
		t.Errorf("POST on an object: %d %s", code, body)
	}
	code, _ = a.do("GET", "/apis/enmasse.io/v1/namespaces/default/addresses", "", "")
	if code != 404 {
		t.Errorf("unserved version: %d", code)
	}
	code, _ = a.do("POST", addrPath, "text/csv", "a,b")
	if code != 415 {
		t.Errorf("CSV body: %d", code)
	}
	// plans are also served at older versions
	body = a.mustDo("GET", "/apis/admin.enmasse.io/v1beta1/namespaces/default/addressplans/standard-small-queue", "", "", 200)
	if !strings.Contains(body, `"apiVersion":"admin.enmasse.io/v1beta1"`) {
		t.Errorf("v1beta1 plan: %s", body)
	}
}
