package api

import (
	"net/http"

	"github.com/enmasse-go/enmasse/internal/controlplane/model"
)

// Kubernetes discovery documents, so that clients can find the kinds.

type groupVersion struct {
	GroupVersion string `json:"groupVersion"`
	Version      string `json:"version"`
}

type apiGroup struct {
	Name             string         `json:"name"`
	Versions         []groupVersion `json:"versions"`
	PreferredVersion groupVersion   `json:"preferredVersion"`
}

type apiResource struct {
	Name         string   `json:"name"`
	SingularName string   `json:"singularName"`
	Namespaced   bool     `json:"namespaced"`
	Kind         string   `json:"kind"`
	Verbs        []string `json:"verbs"`
	ShortNames   []string `json:"shortNames,omitempty"`
	Categories   []string `json:"categories,omitempty"`
}

func groups() []apiGroup {
	var out []apiGroup
	seen := map[string]int{}
	for _, k := range model.Kinds {
		i, ok := seen[k.Group]
		if !ok {
			i = len(out)
			seen[k.Group] = i
			pref := groupVersion{k.Group + "/" + k.Versions[0], k.Versions[0]}
			out = append(out, apiGroup{Name: k.Group, PreferredVersion: pref})
		}
		for _, v := range k.Versions {
			gv := groupVersion{k.Group + "/" + v, v}
			dup := false
			for _, x := range out[i].Versions {
				dup = dup || x == gv
			}
			if !dup {
				out[i].Versions = append(out[i].Versions, gv)
			}
		}
	}
	return out
}

func (s *Server) discoverGroups(w http.ResponseWriter, r *http.Request) {
	write(w, r, http.StatusOK, map[string]any{"kind": "APIGroupList", "apiVersion": "v1", "groups": groups()})
}

func (s *Server) discoverGroup(w http.ResponseWriter, r *http.Request, group string) {
	for _, g := range groups() {
		if g.Name == group {
			write(w, r, http.StatusOK, map[string]any{"kind": "APIGroup", "apiVersion": "v1", "name": g.Name,
				"versions": g.Versions, "preferredVersion": g.PreferredVersion})
			return
		}
	}
	writeError(w, r, errorf(http.StatusNotFound, model.ReasonNotFound, "the server does not serve API group %q", group), nil, "")
}

func (s *Server) discoverVersion(w http.ResponseWriter, r *http.Request, group, version string) {
	var res []apiResource
	for _, k := range model.Kinds {
		if k.Group == group && k.Serves(version) {
			res = append(res, apiResource{
				Name: k.Plural, SingularName: k.Singular, Namespaced: true, Kind: k.Kind,
				Verbs:      []string{"create", "delete", "get", "list", "patch", "update", "watch"},
				ShortNames: k.ShortNames, Categories: []string{"enmasse"},
			})
		}
	}
	if res == nil {
		writeError(w, r, errorf(http.StatusNotFound, model.ReasonNotFound, "the server does not serve %s/%s", group, version), nil, "")
		return
	}
	write(w, r, http.StatusOK, map[string]any{"kind": "APIResourceList", "apiVersion": "v1",
		"groupVersion": group + "/" + version, "resources": res})
}
