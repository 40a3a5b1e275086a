// Command manifest-check decodes rendered Kubernetes manifests (`helm template` output) strictly
// against the Kubernetes API's own Go types, the way an API server would before storing them: an
// unknown or duplicated field, a wrong type, a bad quantity or a kind nobody registered is an
// error. No cluster exists where this runs, so this is what stands in for `kubectl apply
// --dry-run=server`. It also checks the wiring that decoding cannot see but a cluster would
// punish at run time: selectors that select, probe and Service ports that exist, ConfigMaps and
// Secrets that are rendered (or named as provided by the operator with -external).
//
// Usage: manifest-check [-external name,...] [-json] [file ...]   (no file, or "-": standard input)
// Prints one "ok <apiVersion> <kind> <name>" line per object, then a summary; with -json, instead
// one JSON document {"objects": [...]} of the objects as decoded (what tests assert on). Problems go
// to standard error; the exit code is 1 when there is any.
package main

import (
	"bufio"
	"bytes"
	encodingjson "encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer/json"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

// newScheme registers exactly the API groups the chart may render; any other kind fails decoding,
// so a template that starts emitting a new kind has to be added here on purpose.
func newScheme() (*runtime.Scheme, error) {
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		corev1.AddToScheme,
		appsv1.AddToScheme,
		policyv1.AddToScheme,
		monitoringv1.AddToScheme,
	} {
		if err := add(scheme); err != nil {
			return nil, err
		}
	}
	return scheme, nil
}

type object struct {
	doc  int
	obj  runtime.Object
	kind string
	name string
}

func (o object) String() string { return fmt.Sprintf("document %d (%s %s)", o.doc, o.kind, o.name) }

type checker struct {
	quiet    bool
	objects  []object
	problems []string
	external map[string]bool
}

func (c *checker) fail(o object, format string, args ...any) {
	c.problems = append(c.problems, fmt.Sprintf("%s: %s", o, fmt.Sprintf(format, args...)))
}

// decodeAll splits a multi-document YAML stream and decodes every non-empty document strictly.
func (c *checker) decodeAll(input io.Reader, source string, scheme *runtime.Scheme) error {
	// Strict: unknown fields and duplicate keys are errors (sigs.k8s.io/json's strict mode and
	// YAMLToJSONStrict), not silently dropped as a lenient client would.
	serializer := json.NewSerializerWithOptions(json.DefaultMetaFactory, scheme, scheme,
		json.SerializerOptions{Yaml: true, Strict: true})
	reader := utilyaml.NewYAMLReader(bufio.NewReader(input))
	for {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: reading YAML: %w", source, err)
		}
		if isEmptyDocument(doc) {
			continue
		}
		index := len(c.objects) + 1
		obj, gvk, err := serializer.Decode(doc, nil, nil)
		if err != nil {
			c.problems = append(c.problems, fmt.Sprintf("%s document %d%s: %v", source, index, templateOf(doc), err))
			// Keep the numbering stable for the documents after it.
			c.objects = append(c.objects, object{doc: index, kind: "?", name: "?"})
			continue
		}
		accessor, ok := obj.(metav1.Object)
		if !ok {
			c.problems = append(c.problems, fmt.Sprintf("%s document %d: %s has no object metadata", source, index, gvk))
			continue
		}
		c.objects = append(c.objects, object{doc: index, obj: obj, kind: gvk.Kind, name: accessor.GetName()})
		if !c.quiet {
			fmt.Printf("ok %s %s %s\n", gvk.GroupVersion(), gvk.Kind, accessor.GetName())
		}
	}
}

// templateOf names the chart template a document came from (helm template's "# Source:" line).
func templateOf(doc []byte) string {
	for _, line := range bytes.Split(doc, []byte("\n")) {
		if source, ok := bytes.CutPrefix(bytes.TrimSpace(line), []byte("# Source: ")); ok {
			return fmt.Sprintf(" (%s)", source)
		}
	}
	return ""
}

func isEmptyDocument(doc []byte) bool {
	for _, line := range bytes.Split(doc, []byte("\n")) {
		trimmed := bytes.TrimSpace(line)
		if len(trimmed) > 0 && trimmed[0] != '#' && !bytes.Equal(trimmed, []byte("---")) {
			return false
		}
	}
	return true
}

// deployments returns the decoded Deployments, for the cross-object checks.
func (c *checker) deployments() []*appsv1.Deployment {
	var out []*appsv1.Deployment
	for _, o := range c.objects {
		if d, ok := o.obj.(*appsv1.Deployment); ok {
			out = append(out, d)
		}
	}
	return out
}

func (c *checker) has(kind, name string) bool {
	if c.external[name] {
		return true
	}
	for _, o := range c.objects {
		if o.kind == kind && o.name == name {
			return true
		}
	}
	return false
}

func (c *checker) checkNames() {
	seen := map[string]bool{}
	for _, o := range c.objects {
		if o.obj == nil {
			continue
		}
		key := o.kind + "/" + o.name
		if seen[key] {
			c.fail(o, "rendered twice")
		}
		seen[key] = true
		errs := validation.IsDNS1123Subdomain(o.name)
		if o.kind == "Service" {
			errs = validation.IsDNS1035Label(o.name)
		}
		for _, e := range errs {
			c.fail(o, "name %q: %s", o.name, e)
		}
		for key, value := range o.obj.(metav1.Object).GetLabels() {
			for _, e := range validation.IsQualifiedName(key) {
				c.fail(o, "label key %q: %s", key, e)
			}
			for _, e := range validation.IsValidLabelValue(value) {
				c.fail(o, "label %s=%q: %s", key, value, e)
			}
		}
	}
}

func (c *checker) checkDeployment(o object, d *appsv1.Deployment) {
	if d.Spec.Selector == nil {
		c.fail(o, "spec.selector is required")
		return
	}
	selector, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		c.fail(o, "spec.selector: %v", err)
	} else if selector.Empty() || !selector.Matches(labels.Set(d.Spec.Template.Labels)) {
		c.fail(o, "spec.selector does not select the pod template's labels %v", d.Spec.Template.Labels)
	}
	pod := d.Spec.Template.Spec
	if len(pod.Containers) == 0 {
		c.fail(o, "no containers")
	}
	nonRoot := pod.SecurityContext != nil && pod.SecurityContext.RunAsNonRoot != nil && *pod.SecurityContext.RunAsNonRoot
	volumes := map[string]bool{}
	for _, v := range pod.Volumes {
		volumes[v.Name] = true
		if v.ConfigMap != nil && !c.has("ConfigMap", v.ConfigMap.Name) && !optional(v.ConfigMap.Optional) {
			c.fail(o, "volume %s mounts ConfigMap %q, which is neither rendered nor named with -external", v.Name, v.ConfigMap.Name)
		}
		if v.Secret != nil && !c.has("Secret", v.Secret.SecretName) && !optional(v.Secret.Optional) {
			c.fail(o, "volume %s mounts Secret %q, which is neither rendered nor named with -external", v.Name, v.Secret.SecretName)
		}
	}
	for _, container := range pod.Containers {
		where := "container " + container.Name
		if container.SecurityContext != nil && container.SecurityContext.RunAsNonRoot != nil {
			nonRoot = nonRoot || *container.SecurityContext.RunAsNonRoot
		}
		requests := container.Resources.Requests
		if _, ok := requests[corev1.ResourceCPU]; !ok {
			c.fail(o, "%s: resources.requests.cpu is missing", where)
		}
		if _, ok := requests[corev1.ResourceMemory]; !ok {
			c.fail(o, "%s: resources.requests.memory is missing", where)
		}
		for name, limit := range container.Resources.Limits {
			if request, ok := requests[name]; ok && limit.Cmp(request) < 0 {
				c.fail(o, "%s: limit %s %s is below its request %s", where, name, limit.String(), request.String())
			}
		}
		ports := map[string]int32{}
		for _, p := range container.Ports {
			ports[p.Name] = p.ContainerPort
		}
		for probeName, probe := range map[string]*corev1.Probe{
			"livenessProbe": container.LivenessProbe, "readinessProbe": container.ReadinessProbe, "startupProbe": container.StartupProbe,
		} {
			if probe == nil {
				continue
			}
			if probe.HTTPGet != nil && !portExists(probe.HTTPGet.Port, ports) {
				c.fail(o, "%s: %s port %s is not a port of the container", where, probeName, probe.HTTPGet.Port.String())
			}
			if probe.TCPSocket != nil && !portExists(probe.TCPSocket.Port, ports) {
				c.fail(o, "%s: %s port %s is not a port of the container", where, probeName, probe.TCPSocket.Port.String())
			}
		}
		for _, mount := range container.VolumeMounts {
			if !volumes[mount.Name] {
				c.fail(o, "%s: volumeMount %s names no volume of the pod", where, mount.Name)
			}
		}
		for _, from := range container.EnvFrom {
			if from.ConfigMapRef != nil && !c.has("ConfigMap", from.ConfigMapRef.Name) && !optional(from.ConfigMapRef.Optional) {
				c.fail(o, "%s: envFrom ConfigMap %q is neither rendered nor named with -external", where, from.ConfigMapRef.Name)
			}
			if from.SecretRef != nil && !c.has("Secret", from.SecretRef.Name) && !optional(from.SecretRef.Optional) {
				c.fail(o, "%s: envFrom Secret %q is neither rendered nor named with -external", where, from.SecretRef.Name)
			}
		}
		for _, env := range container.Env {
			if env.ValueFrom == nil {
				continue
			}
			if ref := env.ValueFrom.SecretKeyRef; ref != nil && !c.has("Secret", ref.Name) && !optional(ref.Optional) {
				c.fail(o, "%s: env %s reads Secret %q, which is neither rendered nor named with -external", where, env.Name, ref.Name)
			}
			if ref := env.ValueFrom.ConfigMapKeyRef; ref != nil && !c.has("ConfigMap", ref.Name) && !optional(ref.Optional) {
				c.fail(o, "%s: env %s reads ConfigMap %q, which is neither rendered nor named with -external", where, env.Name, ref.Name)
			}
		}
	}
	if !nonRoot {
		c.fail(o, "runAsNonRoot is not set: the image runs as a non-root user and the pod should insist on it")
	}
}

func optional(flag *bool) bool { return flag != nil && *flag }

func portExists(port intstr.IntOrString, named map[string]int32) bool {
	if port.Type == intstr.String {
		_, ok := named[port.StrVal]
		return ok
	}
	for _, number := range named {
		if number == port.IntVal {
			return true
		}
	}
	return false
}

// podsSelectedBy returns the Deployments whose pod template labels the selector matches.
func (c *checker) podsSelectedBy(selector labels.Selector) []*appsv1.Deployment {
	var out []*appsv1.Deployment
	for _, d := range c.deployments() {
		if selector.Matches(labels.Set(d.Spec.Template.Labels)) {
			out = append(out, d)
		}
	}
	return out
}

func (c *checker) checkPDB(o object, pdb *policyv1.PodDisruptionBudget) {
	if (pdb.Spec.MinAvailable == nil) == (pdb.Spec.MaxUnavailable == nil) {
		c.fail(o, "set exactly one of minAvailable and maxUnavailable")
	}
	if pdb.Spec.Selector == nil {
		c.fail(o, "spec.selector is required")
		return
	}
	selector, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
	if err != nil {
		c.fail(o, "spec.selector: %v", err)
		return
	}
	if matched := c.podsSelectedBy(selector); selector.Empty() || len(matched) != 1 {
		c.fail(o, "selects the pods of %d Deployments; a budget covers exactly one component", len(matched))
	}
}

func (c *checker) checkService(o object, s *corev1.Service) {
	selector := labels.SelectorFromSet(s.Spec.Selector)
	matched := c.podsSelectedBy(selector)
	if len(s.Spec.Selector) == 0 || len(matched) != 1 {
		c.fail(o, "selects the pods of %d Deployments; expected exactly one", len(matched))
		return
	}
	ports := map[string]int32{}
	for _, container := range matched[0].Spec.Template.Spec.Containers {
		for _, p := range container.Ports {
			ports[p.Name] = p.ContainerPort
		}
	}
	for _, p := range s.Spec.Ports {
		if !portExists(p.TargetPort, ports) {
			c.fail(o, "port %s targets %s, which no container of Deployment %s exposes", p.Name, p.TargetPort.String(), matched[0].Name)
		}
	}
}

func (c *checker) checkServiceMonitor(o object, m *monitoringv1.ServiceMonitor) {
	selector, err := metav1.LabelSelectorAsSelector(&m.Spec.Selector)
	if err != nil {
		c.fail(o, "spec.selector: %v", err)
		return
	}
	var services []*corev1.Service
	for _, other := range c.objects {
		if s, ok := other.obj.(*corev1.Service); ok && selector.Matches(labels.Set(s.Labels)) {
			services = append(services, s)
		}
	}
	if selector.Empty() || len(services) == 0 {
		c.fail(o, "selects no rendered Service")
		return
	}
	for _, endpoint := range m.Spec.Endpoints {
		for _, s := range services {
			found := false
			for _, p := range s.Spec.Ports {
				found = found || p.Name == endpoint.Port
			}
			if !found {
				c.fail(o, "endpoint port %q is not a port of Service %s", endpoint.Port, s.Name)
			}
		}
	}
}

func (c *checker) checkAll() {
	c.checkNames()
	for _, o := range c.objects {
		switch typed := o.obj.(type) {
		case *appsv1.Deployment:
			c.checkDeployment(o, typed)
		case *policyv1.PodDisruptionBudget:
			c.checkPDB(o, typed)
		case *corev1.Service:
			c.checkService(o, typed)
		case *monitoringv1.ServiceMonitor:
			c.checkServiceMonitor(o, typed)
		}
	}
}

func main() {
	external := flag.String("external", "", "comma-separated names of ConfigMaps and Secrets the operator provides outside the chart")
	asJSON := flag.Bool("json", false, "print the decoded objects as one JSON document instead of one line each")
	flag.Parse()
	scheme, err := newScheme()
	if err != nil {
		fmt.Fprintln(os.Stderr, "manifest-check:", err)
		os.Exit(2)
	}
	c := &checker{external: map[string]bool{}, quiet: *asJSON}
	for _, name := range strings.Split(*external, ",") {
		if name = strings.TrimSpace(name); name != "" {
			c.external[name] = true
		}
	}
	sources := flag.Args()
	if len(sources) == 0 {
		sources = []string{"-"}
	}
	for _, source := range sources {
		var input io.Reader = os.Stdin
		if source != "-" {
			file, err := os.Open(source)
			if err != nil {
				fmt.Fprintln(os.Stderr, "manifest-check:", err)
				os.Exit(2)
			}
			defer file.Close()
			input = file
		}
		name := source
		if source == "-" {
			name = "standard input"
		}
		if err := c.decodeAll(input, name, scheme); err != nil {
			fmt.Fprintln(os.Stderr, "manifest-check:", err)
			os.Exit(2)
		}
	}
	if len(c.objects) == 0 {
		c.problems = append(c.problems, "no Kubernetes object in the input")
	}
	// The wiring checks compare objects with each other: with one that did not decode, they would
	// only repeat its error as missing references.
	if len(c.problems) == 0 {
		c.checkAll()
	}
	kinds := map[string]int{}
	for _, o := range c.objects {
		kinds[o.kind]++
	}
	names := make([]string, 0, len(kinds))
	for kind, count := range kinds {
		names = append(names, fmt.Sprintf("%d %s", count, kind))
	}
	sort.Strings(names)
	if len(c.problems) > 0 {
		for _, problem := range c.problems {
			fmt.Fprintln(os.Stderr, "error:", problem)
		}
		fmt.Fprintf(os.Stderr, "manifest-check: %d problem(s) in %d object(s)\n", len(c.problems), len(c.objects))
		os.Exit(1)
	}
	summary := fmt.Sprintf("manifest-check: %d objects decoded strictly, wiring consistent (%s)", len(c.objects), strings.Join(names, ", "))
	if !*asJSON {
		fmt.Println(summary)
		return
	}
	fmt.Fprintln(os.Stderr, summary)
	decoded := make([]runtime.Object, 0, len(c.objects))
	for _, o := range c.objects {
		decoded = append(decoded, o.obj)
	}
	out, err := encodingjson.Marshal(map[string]any{"objects": decoded})
	if err != nil {
		fmt.Fprintln(os.Stderr, "manifest-check:", err)
		os.Exit(2)
	}
	fmt.Println(string(out))
}
