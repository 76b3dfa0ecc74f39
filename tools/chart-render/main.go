// chart-render renders a Helm chart's templates the way `helm template` does, for machines without
// a helm binary: Go's text/template with sprig and Helm's own functions (include, tpl, required,
// toYaml, fromYaml, toJson, fromJson, lookup as empty), the .Release, .Chart, .Capabilities,
// .Template, .Files and .Values objects, values files merged over values.yaml as Helm coalesces
// them, and Helm's output: one "---" document per template with a "# Source:" line, empty
// documents dropped, "<no value>" blanked. It fails, like helm, on a template's `fail` or
// `required`, printing the message on stderr and exiting 1.
//
// What it does not do (left to a machine with helm; see the chart README): validate values
// against values.schema.json (the chart test does that with ajv), subcharts, hooks ordering,
// --set, `lookup` against a cluster, and Helm's post-render sorting of resources by kind.
//
// Build in GOPATH mode with Debian's packages (scripts/ensure-system-deps.sh installs them):
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go build -o chart-render ./tools/chart-render
//
// Usage: chart-render [-f values.yaml]... [--name tapline] [--namespace payments]
//
//	[--kube-version v1.30.0] [--api-versions monitoring.coreos.com/v1,...] [--notes] CHART_DIR
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"text/template"

	"github.com/Masterminds/sprig"
	yaml "gopkg.in/yaml.v2"
)

type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// Files is .Files: the chart's non-template files by path relative to the chart root.
type Files map[string][]byte

// Get returns a file's content, or "" when there is no such file (as Helm does).
func (f Files) Get(name string) string { return string(f[name]) }

// GetBytes returns a file's content as bytes.
func (f Files) GetBytes(name string) []byte { return f[name] }

// Glob returns the files whose path matches the pattern (path.Match syntax, "**" not supported).
func (f Files) Glob(pattern string) Files {
	out := Files{}
	for name, data := range f {
		if ok, _ := path.Match(pattern, name); ok {
			out[name] = data
		}
	}
	return out
}

// APIVersions is .Capabilities.APIVersions.
type APIVersions []string

// Has reports whether the cluster serves this group/version (or group/version/Kind).
func (a APIVersions) Has(version string) bool {
	for _, v := range a {
		if v == version {
			return true
		}
	}
	return false
}

// KubeVersion is .Capabilities.KubeVersion.
type KubeVersion struct {
	Version    string
	Major      string
	Minor      string
	GitVersion string
}

func (k KubeVersion) String() string { return k.Version }

// Capabilities is .Capabilities.
type Capabilities struct {
	KubeVersion KubeVersion
	APIVersions APIVersions
}

// The API versions every cluster of the supported range (kubeVersion >= 1.25) serves.
var builtinAPIVersions = []string{
	"v1", "apps/v1", "batch/v1", "policy/v1", "networking.k8s.io/v1", "autoscaling/v2",
	"rbac.authorization.k8s.io/v1", "storage.k8s.io/v1", "apiextensions.k8s.io/v1",
}

func main() {
	var valueFiles, extraAPIs stringList
	name := flag.String("name", "tapline", "release name")
	namespace := flag.String("namespace", "default", "release namespace")
	kubeVersion := flag.String("kube-version", "v1.30.0", "Kubernetes version reported in .Capabilities")
	notes := flag.Bool("notes", false, "print the rendered NOTES.txt instead of the manifests")
	flag.Var(&valueFiles, "f", "values file merged over values.yaml (repeatable, later wins)")
	flag.Var(&extraAPIs, "api-versions", "extra API versions in .Capabilities.APIVersions (repeatable or comma separated)")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: chart-render [flags] CHART_DIR")
		os.Exit(2)
	}
	out, err := render(flag.Arg(0), *name, *namespace, *kubeVersion, valueFiles, extraAPIs, *notes)
	if err != nil {
		fmt.Fprintln(os.Stderr, "Error:", err)
		os.Exit(1)
	}
	os.Stdout.WriteString(out)
}

func render(chartDir, releaseName, namespace, kubeVersion string, valueFiles, extraAPIs []string, notes bool) (string, error) {
	chartMeta, err := readYAMLFile(filepath.Join(chartDir, "Chart.yaml"))
	if err != nil {
		return "", err
	}
	values, err := readYAMLFile(filepath.Join(chartDir, "values.yaml"))
	if err != nil {
		return "", err
	}
	for _, file := range valueFiles {
		override, err := readYAMLFile(file)
		if err != nil {
			return "", err
		}
		values = coalesce(override, values)
	}
	chartName := fmt.Sprint(chartMeta["name"])
	files, templates, err := readChart(chartDir, chartName)
	if err != nil {
		return "", err
	}
	apis := append(APIVersions{}, builtinAPIVersions...)
	for _, list := range extraAPIs {
		for _, api := range strings.Split(list, ",") {
			if api = strings.TrimSpace(api); api != "" {
				apis = append(apis, api)
			}
		}
	}
	major, minor := splitKubeVersion(kubeVersion)
	top := map[string]interface{}{
		"Values": values,
		"Release": map[string]interface{}{
			"Name": releaseName, "Namespace": namespace, "Service": "Helm",
			"IsInstall": true, "IsUpgrade": false, "Revision": 1,
		},
		"Chart":        chartObject(chartMeta),
		"Capabilities": Capabilities{KubeVersion{kubeVersion, major, minor, kubeVersion}, apis},
		"Files":        files,
	}

	root := template.New("gotpl").Option("missingkey=zero")
	root.Funcs(funcMap(root))
	names := make([]string, 0, len(templates))
	for name := range templates {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if _, err := root.New(name).Parse(templates[name]); err != nil {
			return "", fmt.Errorf("parse error in %s: %w", name, err)
		}
	}

	var out strings.Builder
	for _, name := range names {
		base := path.Base(name)
		isNotes := base == "NOTES.txt"
		if strings.HasPrefix(base, "_") || isNotes != notes {
			continue
		}
		data := withTemplate(top, name, chartName)
		var buf bytes.Buffer
		if err := root.ExecuteTemplate(&buf, name, data); err != nil {
			return "", cleanError(err)
		}
		text := strings.ReplaceAll(buf.String(), "<no value>", "")
		if notes {
			out.WriteString(text)
			continue
		}
		for _, doc := range splitDocuments(text) {
			out.WriteString("---\n# Source: " + name + "\n" + doc + "\n")
		}
	}
	return out.String(), nil
}

// withTemplate gives a template its own .Template (Name, BasePath), as Helm does.
func withTemplate(top map[string]interface{}, name, chartName string) map[string]interface{} {
	data := make(map[string]interface{}, len(top)+1)
	for k, v := range top {
		data[k] = v
	}
	data["Template"] = map[string]interface{}{"Name": name, "BasePath": chartName + "/templates"}
	return data
}

// splitDocuments splits a rendered file on "---" lines and drops documents that hold only
// whitespace and comments, as Helm does before sending manifests to the cluster.
func splitDocuments(text string) []string {
	var docs []string
	for _, doc := range strings.Split("\n"+text, "\n---") {
		doc = strings.TrimLeft(strings.TrimRight(doc, " \n\t"), "\n")
		if hasContent(doc) {
			docs = append(docs, doc)
		}
	}
	return docs
}

func hasContent(doc string) bool {
	for _, line := range strings.Split(doc, "\n") {
		trimmed := strings.TrimSpace(line)
		if trimmed != "" && !strings.HasPrefix(trimmed, "#") {
			return true
		}
	}
	return false
}

func cleanError(err error) error {
	// text/template wraps `fail` and `required` messages in its call site; keep helm's shape.
	msg := err.Error()
	if i := strings.Index(msg, "error calling fail: "); i >= 0 {
		return fmt.Errorf("execution error: %s", msg[i+len("error calling fail: "):])
	}
	if i := strings.Index(msg, "error calling required: "); i >= 0 {
		return fmt.Errorf("execution error: %s", msg[i+len("error calling required: "):])
	}
	return err
}

func splitKubeVersion(v string) (string, string) {
	parts := strings.SplitN(strings.TrimPrefix(v, "v"), ".", 3)
	if len(parts) < 2 {
		return parts[0], "0"
	}
	return parts[0], parts[1]
}

// chartObject is .Chart: Chart.yaml's fields under Helm's capitalised names.
func chartObject(meta map[string]interface{}) map[string]interface{} {
	out := map[string]interface{}{}
	for key, value := range meta {
		out[strings.ToUpper(key[:1])+key[1:]] = value
	}
	for _, key := range []string{"Name", "Version", "AppVersion", "Description", "Type", "KubeVersion"} {
		if _, ok := out[key]; !ok {
			out[key] = ""
		}
	}
	return out
}

// readChart returns the chart's files (.Files: everything but templates/, Chart.yaml and
// values files) and its templates by Helm's name <chart>/templates/<path>.
func readChart(chartDir, chartName string) (Files, map[string]string, error) {
	files := Files{}
	templates := map[string]string{}
	err := filepath.Walk(chartDir, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		rel, err := filepath.Rel(chartDir, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		switch {
		case strings.HasPrefix(rel, "templates/"):
			templates[chartName+"/"+rel] = string(data)
		case rel == "Chart.yaml" || rel == "values.yaml" || rel == "values.schema.json":
		default:
			files[rel] = data
		}
		return nil
	})
	return files, templates, err
}

func funcMap(root *template.Template) template.FuncMap {
	funcs := sprig.TxtFuncMap()
	// Helm removes these: a chart must not read the renderer's environment.
	delete(funcs, "env")
	delete(funcs, "expandenv")
	includeDepth := 0
	funcs["include"] = func(name string, data interface{}) (string, error) {
		includeDepth++
		defer func() { includeDepth-- }()
		if includeDepth > 1000 {
			return "", fmt.Errorf("rendering template has a nested reference name: %s", name)
		}
		var buf bytes.Buffer
		if err := root.ExecuteTemplate(&buf, name, data); err != nil {
			return "", err
		}
		return buf.String(), nil
	}
	funcs["tpl"] = func(text string, data interface{}) (string, error) {
		clone, err := root.Clone()
		if err != nil {
			return "", err
		}
		t, err := clone.New("tpl").Parse(text)
		if err != nil {
			return "", err
		}
		var buf bytes.Buffer
		if err := t.Execute(&buf, data); err != nil {
			return "", err
		}
		return strings.ReplaceAll(buf.String(), "<no value>", ""), nil
	}
	funcs["required"] = func(message string, value interface{}) (interface{}, error) {
		if value == nil {
			return nil, fmt.Errorf("%s", message)
		}
		if s, ok := value.(string); ok && s == "" {
			return nil, fmt.Errorf("%s", message)
		}
		return value, nil
	}
	funcs["toYaml"] = toYAML
	funcs["fromYaml"] = func(text string) map[string]interface{} {
		out, err := parseYAML([]byte(text))
		if err != nil {
			return map[string]interface{}{"Error": err.Error()}
		}
		return out
	}
	funcs["toJson"] = func(v interface{}) string {
		data, err := json.Marshal(v)
		if err != nil {
			return ""
		}
		return string(data)
	}
	funcs["fromJson"] = func(text string) map[string]interface{} {
		out := map[string]interface{}{}
		if err := json.Unmarshal([]byte(text), &out); err != nil {
			out["Error"] = err.Error()
		}
		return out
	}
	// No cluster to ask: lookup finds nothing, as `helm template` without --validate does.
	funcs["lookup"] = func(apiVersion, kind, namespace, name string) (map[string]interface{}, error) {
		return map[string]interface{}{}, nil
	}
	return funcs
}

// toYAML renders like Helm's toYaml (sigs.k8s.io/yaml): through JSON, so keys come out sorted
// and values keep JSON's types, then as YAML with two-space indentation.
func toYAML(v interface{}) string {
	data, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	var ordered yaml.MapSlice
	var generic interface{}
	if err := yaml.Unmarshal(data, &ordered); err == nil && len(data) > 0 && data[0] == '{' {
		generic = ordered
	} else if err := yaml.Unmarshal(data, &generic); err != nil {
		return ""
	}
	out, err := yaml.Marshal(generic)
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(string(out), "\n")
}

func readYAMLFile(file string) (map[string]interface{}, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	out, err := parseYAML(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return out, nil
}

// parseYAML reads YAML the way Helm does (sigs.k8s.io/yaml): through JSON, so every number is
// a float64, which is why templates convert with int64 before printing numbers.
func parseYAML(data []byte) (map[string]interface{}, error) {
	var raw interface{}
	if err := yaml.Unmarshal(data, &raw); err != nil {
		return nil, err
	}
	converted, err := toJSONCompatible(raw)
	if err != nil {
		return nil, err
	}
	encoded, err := json.Marshal(converted)
	if err != nil {
		return nil, err
	}
	out := map[string]interface{}{}
	if string(encoded) == "null" {
		return out, nil
	}
	if err := json.Unmarshal(encoded, &out); err != nil {
		return nil, err
	}
	return out, nil
}

func toJSONCompatible(v interface{}) (interface{}, error) {
	switch t := v.(type) {
	case map[interface{}]interface{}:
		out := make(map[string]interface{}, len(t))
		for key, value := range t {
			converted, err := toJSONCompatible(value)
			if err != nil {
				return nil, err
			}
			out[fmt.Sprint(key)] = converted
		}
		return out, nil
	case []interface{}:
		out := make([]interface{}, len(t))
		for i, value := range t {
			converted, err := toJSONCompatible(value)
			if err != nil {
				return nil, err
			}
			out[i] = converted
		}
		return out, nil
	default:
		return v, nil
	}
}

// coalesce merges override over base as Helm merges values files: maps recursively, anything
// else replaced, and a null in the override deletes the key.
func coalesce(override, base map[string]interface{}) map[string]interface{} {
	out := make(map[string]interface{}, len(base))
	for key, value := range base {
		out[key] = value
	}
	for key, value := range override {
		if value == nil {
			delete(out, key)
			continue
		}
		overrideMap, overrideIsMap := value.(map[string]interface{})
		baseMap, baseIsMap := out[key].(map[string]interface{})
		if overrideIsMap && baseIsMap {
			out[key] = coalesce(overrideMap, baseMap)
		} else {
			out[key] = value
		}
	}
	return out
}
