package cli

import (
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// applyConfigFile reads the YAML config file at path and sets every flag it
// names, except those in given (set on the command line, which wins). Keys
// are the flag names; "resources" is returned raw for the control plane.
// Every error names the file, line and key.
func applyConfigFile(path string, fs *flag.FlagSet, given map[string]bool) (resources *yaml.Node, err error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	if doc.Kind == 0 || len(doc.Content) == 0 { // empty file
		return nil, nil
	}
	top := doc.Content[0]
	if top.Kind == yaml.ScalarNode && top.Tag == "!!null" {
		return nil, nil
	}
	if top.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("config %s: line %d: want a mapping of flag names to values", path, top.Line)
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(top.Content); i += 2 {
		k, v := top.Content[i], top.Content[i+1]
		key := k.Value
		if seen[key] {
			return nil, fmt.Errorf("config %s: line %d: key %q given twice", path, k.Line, key)
		}
		seen[key] = true
		if key == "resources" {
			resources = v
			continue
		}
		if err := applyConfigKey(fs, given, key, v); err != nil {
			return nil, fmt.Errorf("config %s: line %d: %w", path, k.Line, err)
		}
	}
	return resources, nil
}

func applyConfigKey(fs *flag.FlagSet, given map[string]bool, key string, v *yaml.Node) error {
	f := fs.Lookup(key)
	if f == nil || key == "config" {
		return fmt.Errorf("unknown key %q (known keys: %s)", key, strings.Join(configKeys(fs), ", "))
	}
	var value string
	switch {
	case v.Kind == yaml.ScalarNode && v.Tag == "!!null":
		value = "" // "http:" with no value disables, like --http ""
	case v.Kind == yaml.ScalarNode:
		value = v.Value
	default:
		return fmt.Errorf("key %q: want a single value, not a list or mapping", key)
	}
	if given[key] {
		return nil
	}
	if err := fs.Set(key, value); err != nil {
		return fmt.Errorf("invalid value %q for key %q: %v", value, key, err)
	}
	return nil
}

// configKeys lists the keys a config file may use.
func configKeys(fs *flag.FlagSet) []string {
	keys := []string{"resources"}
	fs.VisitAll(func(f *flag.Flag) {
		if f.Name != "config" {
			keys = append(keys, f.Name)
		}
	})
	slices.Sort(keys)
	return keys
}
