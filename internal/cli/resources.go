package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/enmasse-go/enmasse/internal/controlplane/client"
	"github.com/enmasse-go/enmasse/internal/controlplane/model"
)

// The kubectl-like client of the REST API (SPEC §1): apply, get, describe
// and delete.

const defaultServer = "http://127.0.0.1:8080"

// apiFlags are the flags every resource verb has.
type apiFlags struct {
	server    string
	namespace string
	timeout   time.Duration
	// user and password are HTTP basic credentials of a MessagingUser.
	user, password string
	// token is an OIDC bearer token (RFC 6750), instead of user/password.
	token string
}

func (f *apiFlags) register(fs *flag.FlagSet) {
	def := os.Getenv("ENMASSE_SERVER")
	if def == "" {
		def = defaultServer
	}
	fs.StringVar(&f.server, "server", def, "`URL` of the enmasse HTTP endpoint (env ENMASSE_SERVER)")
	fs.StringVar(&f.namespace, "namespace", model.DefaultNamespace, "`NAMESPACE` of the resources")
	fs.StringVar(&f.namespace, "n", model.DefaultNamespace, "short for --namespace")
	fs.DurationVar(&f.timeout, "timeout", 30*time.Second, "give up on the server after this long")
	fs.StringVar(&f.user, "user", os.Getenv("ENMASSE_USER"),
		"MessagingUser `NAME` (user or user@addressspace) when anonymous access is off (env ENMASSE_USER)")
	fs.StringVar(&f.password, "password", os.Getenv("ENMASSE_PASSWORD"), "the user's `PASSWORD` (env ENMASSE_PASSWORD)")
	fs.StringVar(&f.token, "token", os.Getenv("ENMASSE_TOKEN"), "OIDC bearer `TOKEN` instead of --user/--password (env ENMASSE_TOKEN)")
}

func (f *apiFlags) client() *client.Client {
	hc := &http.Client{Timeout: f.timeout}
	if f.token != "" {
		hc.Transport = bearerAuth{token: f.token, base: http.DefaultTransport}
	} else if f.user != "" {
		hc.Transport = basicAuth{user: f.user, password: f.password, base: http.DefaultTransport}
	}
	return client.New(f.server, hc)
}

// basicAuth adds HTTP basic credentials to every request.
type basicAuth struct {
	user, password string
	base           http.RoundTripper
}

func (b basicAuth) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.SetBasicAuth(b.user, b.password)
	return b.base.RoundTrip(r)
}

// bearerAuth adds `Authorization: Bearer` to every request.
type bearerAuth struct {
	token string
	base  http.RoundTripper
}

func (b bearerAuth) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return b.base.RoundTrip(r)
}

// parseInterspersed parses flags that may come before, between or after
// positional arguments (`get addresses -o wide`), and returns the
// positional ones.
func parseInterspersed(fs *flag.FlagSet, args []string, synopsis, description string, stdout io.Writer) ([]string, error) {
	var pos []string
	for {
		if err := parseFlags(fs, args, synopsis, description, stdout, true); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if rest[0] == "--" {
			return append(pos, rest[1:]...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

func lookupKind(name string) (*model.KindInfo, error) {
	k, ok := model.LookupKind(name)
	if !ok {
		return nil, usageErrorf("unknown kind %q (kinds: addressspace/as, address/addr, messaginguser/user, addressspaceplan, addressplan)", name)
	}
	return k, nil
}

// qualified is kubectl's KIND.GROUP/NAME.
func qualified(o model.Object) string {
	k := o.Info()
	return k.Singular + "." + k.Group + "/" + o.GetMeta().Name
}

const applyDescription = `Creates or updates the resources in FILE (multi-document YAML or JSON; "-"
reads stdin), in dependency order: plans, address spaces, then addresses and
users. An existing resource is replaced by the one in the file; a user given
without a password keeps the stored one. Resources without a namespace go to
--namespace.`

func applyCommand() command {
	return command{
		name:    "apply",
		summary: "create or update resources from a YAML file",
		run: func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
			fs := newFlagSet("apply")
			var af apiFlags
			af.register(fs)
			file := fs.String("f", "", "`FILE` with the resources, or - for stdin")
			fs.StringVar(file, "filename", "", "same as -f")
			pos, err := parseInterspersed(fs, args, "enmasse apply -f FILE|- [flags]", applyDescription, stdout)
			if err != nil {
				return err
			}
			if len(pos) > 0 {
				return usageErrorf("unexpected argument %q", pos[0])
			}
			docs, err := readDocuments(*file, af.namespace, stdinOf(ctx))
			if err != nil {
				return err
			}
			return applyDocuments(ctx, af.client(), docs, stdout, stderr)
		},
	}
}

// stdinKey lets tests give apply -f - a reader.
type stdinKey struct{}

func stdinOf(ctx context.Context) io.Reader {
	if r, ok := ctx.Value(stdinKey{}).(io.Reader); ok {
		return r
	}
	return os.Stdin
}

// sortByDependency orders docs as model.Kinds does (plans, address
// spaces, then addresses and users), keeping file order within a kind.
func sortByDependency(docs []model.Document) {
	slices.SortStableFunc(docs, func(a, b model.Document) int {
		return slices.Index(model.Kinds, a.Object.Info()) - slices.Index(model.Kinds, b.Object.Info())
	})
}

// readDocuments reads and decodes a resource file, defaulting namespaces.
func readDocuments(file, namespace string, stdin io.Reader) ([]model.Document, error) {
	if file == "" {
		return nil, usageErrorf("-f FILE is required (- reads stdin)")
	}
	var r io.Reader = stdin
	name := "stdin"
	if file != "-" {
		f, err := os.Open(file)
		if err != nil {
			return nil, usageErrorf("%v", err)
		}
		defer f.Close()
		r, name = f, file
	}
	docs, err := model.DecodeStream(r)
	if err != nil {
		return nil, usageErrorf("%s: %v", name, err)
	}
	if len(docs) == 0 {
		return nil, usageErrorf("%s: no resources", name)
	}
	for _, d := range docs {
		if m := d.Object.GetMeta(); m.Namespace == "" {
			m.Namespace = namespace
		}
	}
	sortByDependency(docs)
	return docs, nil
}

// applyDocuments applies each kind's documents in turn, up to 8 at once
// within a kind (the server commits concurrent writes together), and
// prints one line per resource in file order.
func applyDocuments(ctx context.Context, c *client.Client, docs []model.Document, stdout, stderr io.Writer) error {
	results := make([]string, len(docs))
	errs := make([]error, len(docs))
	for start := 0; start < len(docs); {
		end := start
		for end < len(docs) && docs[end].Object.Info() == docs[start].Object.Info() {
			end++
		}
		var wg sync.WaitGroup
		sem := make(chan struct{}, 8)
		for i := start; i < end; i++ {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				_, created, err := c.Apply(ctx, docs[i].Object)
				verb := "configured"
				if created {
					verb = "created"
				}
				results[i], errs[i] = qualified(docs[i].Object)+" "+verb, err
			}()
		}
		wg.Wait()
		var unreachable *client.UnreachableError
		for i := start; i < end; i++ {
			if errors.As(errs[i], &unreachable) {
				return unreachable
			}
		}
		start = end
	}
	if len(docs) == 1 && errs[0] != nil {
		return fmt.Errorf("%s: %w", qualified(docs[0].Object), errs[0])
	}
	failed := 0
	for i := range docs {
		if errs[i] != nil {
			failed++
			fmt.Fprintf(stderr, "error: %s (line %d): %v\n", qualified(docs[i].Object), docs[i].Line, oneLine(errs[i]))
			continue
		}
		fmt.Fprintln(stdout, results[i])
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d resources not applied", failed, len(docs))
	}
	return nil
}

const getDescription = `Lists resources of KIND (or shows the one named NAME) as a table with Ready,
Phase and Age, or as YAML or JSON. Kinds: addressspace (as), address (addr),
messaginguser (user), addressspaceplan, addressplan; plurals work too.`

func getCommand() command {
	return command{
		name:    "get",
		summary: "list resources (table, -o yaml|json|wide|name)",
		run: func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
			fs := newFlagSet("get")
			var af apiFlags
			af.register(fs)
			output := fs.String("o", "", "output `FORMAT`: yaml, json, wide or name (default: a table)")
			fs.StringVar(output, "output", "", "same as -o")
			selector := fs.String("l", "", "label `SELECTOR` (app=shop,tier!=gold)")
			fs.StringVar(selector, "selector", "", "same as -l")
			all := fs.Bool("A", false, "list in all namespaces")
			fs.BoolVar(all, "all-namespaces", false, "same as -A")
			pos, err := parseInterspersed(fs, args, "enmasse get KIND [NAME...] [flags]", getDescription, stdout)
			if err != nil {
				return err
			}
			if len(pos) == 0 {
				return usageErrorf("KIND is required (addressspace, address, messaginguser, addressspaceplan, addressplan)")
			}
			switch *output {
			case "", "yaml", "json", "wide", "name":
			default:
				return usageErrorf("-o %q: want yaml, json, wide or name", *output)
			}
			k, err := lookupKind(pos[0])
			if err != nil {
				return err
			}
			c := af.client()
			ns := af.namespace
			if *all {
				ns = ""
			}
			var objs []model.Object
			if len(pos) > 1 {
				for _, name := range pos[1:] {
					o, err := c.Get(ctx, k, af.namespace, name)
					if err != nil {
						return err
					}
					objs = append(objs, o)
				}
			} else if objs, err = c.List(ctx, k, ns, client.ListOptions{LabelSelector: *selector}); err != nil {
				return err
			}
			single := len(pos) == 2
			return printObjects(stdout, stderr, k, objs, *output, single, ns == "", af.namespace, time.Now())
		},
	}
}

// printObjects renders objects for get.
func printObjects(stdout, stderr io.Writer, k *model.KindInfo, objs []model.Object, format string, single, allNS bool, ns string, now time.Time) error {
	switch format {
	case "yaml", "json":
		var v any = objs
		if single {
			v = objs[0]
		} else {
			v = map[string]any{"apiVersion": "v1", "kind": "List", "items": objs}
		}
		if format == "json" {
			b, err := json.MarshalIndent(v, "", "    ")
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(stdout, "%s\n", b)
			return err
		}
		b, err := model.MarshalYAML(v)
		if err != nil {
			return err
		}
		_, err = stdout.Write(b)
		return err
	case "name":
		for _, o := range objs {
			fmt.Fprintln(stdout, qualified(o))
		}
		return nil
	}
	if len(objs) == 0 {
		if allNS {
			fmt.Fprintln(stderr, "No resources found")
		} else {
			fmt.Fprintf(stderr, "No resources found in %s namespace.\n", ns)
		}
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 8, 3, ' ', 0)
	header, _ := columns(k, nil, format == "wide", now)
	if allNS {
		header = append([]string{"NAMESPACE"}, header...)
	}
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, o := range objs {
		_, row := columns(k, o, format == "wide", now)
		if allNS {
			row = append([]string{o.GetMeta().Namespace}, row...)
		}
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	return tw.Flush()
}

// columns returns the table header and, for o, its row (EnMasse's printer
// columns, research §2.1).
func columns(k *model.KindInfo, o model.Object, wide bool, now time.Time) (header, row []string) {
	age := ""
	if o != nil {
		age = humanAge(o.GetMeta().CreationTimestamp, now)
	}
	ready := func(b bool) string {
		if b {
			return "true"
		}
		return "false"
	}
	msgs := func(m []string) string { return strings.Join(m, "; ") }
	switch k {
	case model.AddressSpaceKind:
		header = []string{"NAME", "TYPE", "PLAN", "READY", "PHASE", "AGE"}
		if wide {
			header = append(header, "STATUS")
		}
		if a, ok := o.(*model.AddressSpace); ok {
			row = []string{a.Metadata.Name, a.Spec.Type, a.Spec.Plan, ready(a.Status.IsReady), string(a.Status.Phase), age}
			if wide {
				row = append(row, msgs(a.Status.Messages))
			}
		}
	case model.AddressKind:
		header = []string{"NAME", "ADDRESS", "TYPE", "PLAN", "READY", "PHASE", "AGE"}
		if wide {
			header = append(header, "STATUS")
		}
		if a, ok := o.(*model.Address); ok {
			row = []string{a.Metadata.Name, a.Spec.Address, a.Spec.Type, a.Spec.Plan, ready(a.Status.IsReady), string(a.Status.Phase), age}
			if wide {
				row = append(row, msgs(a.Status.Messages))
			}
		}
	case model.MessagingUserKind:
		header = []string{"NAME", "USERNAME", "TYPE", "PHASE", "AGE"}
		if wide {
			header = append(header, "MESSAGE")
		}
		if u, ok := o.(*model.MessagingUser); ok {
			typ := ""
			if u.Spec.Authentication != nil {
				typ = u.Spec.Authentication.Type
			}
			row = []string{u.Metadata.Name, u.Spec.Username, typ, string(u.Status.Phase), age}
			if wide {
				row = append(row, u.Status.Message)
			}
		}
	case model.AddressSpacePlanKind:
		header = []string{"NAME", "TYPE", "PHASE", "AGE"}
		if wide {
			header = append(header, "LIMITS", "ADDRESS PLANS")
		}
		if p, ok := o.(*model.AddressSpacePlan); ok {
			row = []string{p.Metadata.Name, p.Spec.AddressSpaceType, string(p.Status.Phase), age}
			if wide {
				row = append(row, credits(p.Spec.ResourceLimits), strings.Join(p.Spec.AddressPlans, ","))
			}
		}
	case model.AddressPlanKind:
		header = []string{"NAME", "TYPE", "PHASE", "AGE"}
		if wide {
			header = append(header, "RESOURCES", "PARTITIONS")
		}
		if p, ok := o.(*model.AddressPlan); ok {
			row = []string{p.Metadata.Name, p.Spec.AddressType, string(p.Status.Phase), age}
			if wide {
				row = append(row, credits(p.Spec.Resources), fmt.Sprint(p.Spec.Partitions))
			}
		}
	}
	return header, row
}

func credits(m map[string]float64) string {
	var parts []string
	for _, k := range []string{"router", "broker", "aggregate"} {
		if v, ok := m[k]; ok {
			parts = append(parts, fmt.Sprintf("%s=%g", k, v))
		}
	}
	return strings.Join(parts, ",")
}

// humanAge formats the time since an RFC 3339 timestamp as kubectl does
// (45s, 5m12s, 3h, 2d).
func humanAge(ts string, now time.Time) string {
	t, err := time.Parse(time.RFC3339, ts)
	if err != nil {
		return "<unknown>"
	}
	d := now.Sub(t)
	if d < 0 {
		d = 0
	}
	s := int(d.Seconds())
	m, h := s/60, s/3600
	switch {
	case s < 120:
		return fmt.Sprintf("%ds", s)
	case m < 10:
		if s%60 == 0 {
			return fmt.Sprintf("%dm", m)
		}
		return fmt.Sprintf("%dm%ds", m, s%60)
	case h < 3:
		return fmt.Sprintf("%dm", m)
	case h < 8:
		if m%60 == 0 {
			return fmt.Sprintf("%dh", h)
		}
		return fmt.Sprintf("%dh%dm", h, m%60)
	case h < 48:
		return fmt.Sprintf("%dh", h)
	case h < 24*8:
		if h%24 == 0 {
			return fmt.Sprintf("%dd", h/24)
		}
		return fmt.Sprintf("%dd%dh", h/24, h%24)
	case h < 24*365*2:
		return fmt.Sprintf("%dd", h/24)
	}
	return fmt.Sprintf("%dy", h/24/365)
}

func describeCommand() command {
	return command{
		name:    "describe",
		summary: "show one resource: metadata, spec, status and messages",
		run: func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
			fs := newFlagSet("describe")
			var af apiFlags
			af.register(fs)
			pos, err := parseInterspersed(fs, args, "enmasse describe KIND NAME [flags]",
				"Shows a resource's metadata, spec and status, with its status messages.", stdout)
			if err != nil {
				return err
			}
			if len(pos) != 2 {
				return usageErrorf("want KIND NAME")
			}
			k, err := lookupKind(pos[0])
			if err != nil {
				return err
			}
			o, err := af.client().Get(ctx, k, af.namespace, pos[1])
			if err != nil {
				return err
			}
			return describe(stdout, o, time.Now())
		},
	}
}

// describe prints a resource kubectl-describe style: metadata lines, then
// spec and status as indented YAML.
func describe(w io.Writer, o model.Object, now time.Time) error {
	m := o.GetMeta()
	tm := o.GetTypeMeta()
	kv := func(k string, v any) { fmt.Fprintf(w, "%-20s%v\n", k+":", v) }
	kv("Name", m.Name)
	kv("Namespace", m.Namespace)
	kv("Labels", mapLines(m.Labels))
	kv("Annotations", mapLines(m.Annotations))
	kv("API Version", tm.APIVersion)
	kv("Kind", tm.Kind)
	kv("Created", fmt.Sprintf("%s (%s ago)", m.CreationTimestamp, humanAge(m.CreationTimestamp, now)))
	kv("Generation", m.Generation)
	kv("Resource Version", m.ResourceVersion)
	kv("UID", m.UID)
	var doc map[string]any
	b, err := json.Marshal(o)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return err
	}
	for _, section := range []string{"spec", "status"} {
		var v any = o.SpecOf() // struct order, not sorted keys
		if section == "status" {
			v = doc[section]
		}
		y, err := model.MarshalYAML(v)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "%s:\n", strings.ToUpper(section[:1])+section[1:])
		for _, line := range strings.Split(strings.TrimRight(string(y), "\n"), "\n") {
			fmt.Fprintf(w, "  %s\n", line)
		}
	}
	msgs := statusMessages(o)
	fmt.Fprintln(w, "Messages:")
	if len(msgs) == 0 {
		fmt.Fprintln(w, "  <none>")
	}
	for _, msg := range msgs {
		fmt.Fprintf(w, "  - %s\n", msg)
	}
	return nil
}

func statusMessages(o model.Object) []string {
	switch t := o.(type) {
	case *model.AddressSpace:
		return t.Status.Messages
	case *model.Address:
		return t.Status.Messages
	case *model.MessagingUser:
		if t.Status.Message != "" {
			return []string{t.Status.Message}
		}
	case *model.AddressSpacePlan:
		if t.Status.Message != "" {
			return []string{t.Status.Message}
		}
	case *model.AddressPlan:
		if t.Status.Message != "" {
			return []string{t.Status.Message}
		}
	}
	return nil
}

func mapLines(m map[string]string) string {
	if len(m) == 0 {
		return "<none>"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + m[k]
	}
	return strings.Join(parts, "\n"+strings.Repeat(" ", 20))
}

func deleteCommand() command {
	return command{
		name:    "delete",
		summary: "delete resources by KIND NAME... or -f FILE",
		run: func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
			fs := newFlagSet("delete")
			var af apiFlags
			af.register(fs)
			file := fs.String("f", "", "delete the resources in `FILE` (- for stdin)")
			fs.StringVar(file, "filename", "", "same as -f")
			pos, err := parseInterspersed(fs, args, "enmasse delete KIND NAME... | -f FILE [flags]",
				"Deletes resources. Deleting an address space deletes its addresses and users;\n"+
					"clients attached to a deleted address are detached with amqp:resource-deleted.", stdout)
			if err != nil {
				return err
			}
			var targets []model.Object
			switch {
			case *file != "" && len(pos) > 0:
				return usageErrorf("give KIND NAME or -f FILE, not both")
			case *file != "":
				docs, err := readDocuments(*file, af.namespace, stdinOf(ctx))
				if err != nil {
					return err
				}
				for i := len(docs) - 1; i >= 0; i-- { // dependents first
					targets = append(targets, docs[i].Object)
				}
			case len(pos) >= 2:
				k, err := lookupKind(pos[0])
				if err != nil {
					return err
				}
				for _, name := range pos[1:] {
					o := k.New()
					o.GetMeta().Name, o.GetMeta().Namespace = name, af.namespace
					targets = append(targets, o)
				}
			default:
				return usageErrorf("want KIND NAME... or -f FILE")
			}
			c := af.client()
			failed := 0
			for _, o := range targets {
				m := o.GetMeta()
				_, err := c.Delete(ctx, o.Info(), m.Namespace, m.Name)
				var unreachable *client.UnreachableError
				switch {
				case errors.As(err, &unreachable):
					return err
				case err != nil && len(targets) == 1:
					return err
				case err != nil:
					failed++
					fmt.Fprintf(stderr, "error: %v\n", oneLine(err))
				default:
					fmt.Fprintf(stdout, "%s.%s %q deleted\n", o.Info().Singular, o.Info().Group, m.Name)
				}
			}
			if failed > 0 {
				return fmt.Errorf("%d of %d resources not deleted", failed, len(targets))
			}
			return nil
		},
	}
}
