package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/nats-io/nats-server/v2/server"
	"go.yaml.in/yaml/v3"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	k8sjson "sigs.k8s.io/json"
	k8syaml "sigs.k8s.io/yaml"

	"github.com/alertexport/alertexport/config"
)

// The deploy kit (deploy/) is checked here so that it cannot rot: every YAML file is decoded
// strictly (an unknown or misspelt key is an error), every config it carries passes the real
// `validate`, and what one file says about another (paths, ports, names, labels) agrees.

const deployDir = "../../deploy"

// TestDeployYAMLIsStrict decodes every YAML file under deploy/ with the strict decoder of its
// kind. A new YAML file needs a decoder here before it can land.
func TestDeployYAMLIsStrict(t *testing.T) {
	t.Parallel()
	n := 0
	err := filepath.WalkDir(deployDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || (path.Ext(p) != ".yaml" && path.Ext(p) != ".yml") {
			return err
		}
		n++
		rel, _ := filepath.Rel(deployDir, p)
		rel = filepath.ToSlash(rel)
		t.Run(rel, func(t *testing.T) {
			switch {
			case rel == "compose.yaml":
				readCompose(t)
			case strings.HasPrefix(rel, "kubernetes/"):
				readManifests(t, p)
			case rel == "prometheus/prometheus.yml":
				readPrometheus(t)
			case rel == "prometheus/alertexport-rules.yml":
				var rules promRules
				decodeStrict(t, p, &rules)
				if len(rules.Groups) == 0 {
					t.Error("no rule groups")
				}
			case rel == "prometheus/alertexport-rules_test.yml":
				var tests promRuleTests
				decodeStrict(t, p, &tests)
				if len(tests.Tests) == 0 {
					t.Error("no rule tests")
				}
				for _, f := range tests.RuleFiles {
					if _, err := os.Stat(filepath.Join(filepath.Dir(p), f)); err != nil {
						t.Errorf("rule_files: %v", err)
					}
				}
			default:
				t.Errorf("no strict decoder for deploy/%s: add one to deploy_test.go", rel)
			}
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 4 {
		t.Errorf("found %d YAML files under deploy/, want compose.yaml, prometheus.yml and the Kubernetes manifests", n)
	}
}

// decodeStrict decodes the single YAML document in file into v, refusing unknown keys and
// duplicate keys.
func decodeStrict(t *testing.T, file string, v any) {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	var extra any
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		t.Fatalf("%s: more than one YAML document (%v)", file, err)
	}
}

// The parts of the Compose specification the kit uses; anything else in compose.yaml fails.
type composeFile struct {
	Name     string                    `yaml:"name"`
	Services map[string]composeService `yaml:"services"`
	Volumes  map[string]*struct{}      `yaml:"volumes"`
}

type composeService struct {
	Image           string                      `yaml:"image"`
	Build           *composeBuild               `yaml:"build"`
	Command         []string                    `yaml:"command"`
	Environment     map[string]string           `yaml:"environment"`
	Volumes         []string                    `yaml:"volumes"`
	Ports           []string                    `yaml:"ports"`
	Healthcheck     *composeHealthcheck         `yaml:"healthcheck"`
	DependsOn       map[string]composeCondition `yaml:"depends_on"`
	ReadOnly        bool                        `yaml:"read_only"`
	StopGracePeriod string                      `yaml:"stop_grace_period"`
	Restart         string                      `yaml:"restart"`
}

type composeBuild struct {
	Context    string `yaml:"context"`
	Dockerfile string `yaml:"dockerfile"`
}

type composeHealthcheck struct {
	Test        []string `yaml:"test"`
	Interval    string   `yaml:"interval"`
	Timeout     string   `yaml:"timeout"`
	Retries     int      `yaml:"retries"`
	StartPeriod string   `yaml:"start_period"`
}

type composeCondition struct {
	Condition string `yaml:"condition"`
}

// mounts maps each container path of a service's short-syntax volumes to its source.
func (s composeService) mounts(t *testing.T) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, v := range s.Volumes {
		f := strings.Split(v, ":")
		if len(f) < 2 || len(f) > 3 || (len(f) == 3 && f[2] != "ro" && f[2] != "rw") {
			t.Errorf("volume %q: want source:target[:ro]", v)
			continue
		}
		m[f[1]] = f[0]
	}
	return m
}

func readCompose(t *testing.T) composeFile {
	t.Helper()
	var c composeFile
	decodeStrict(t, filepath.Join(deployDir, "compose.yaml"), &c)
	if len(c.Services) == 0 {
		t.Fatal("compose.yaml: no services")
	}
	return c
}

// The parts of Prometheus' configuration the kit uses.
type promConfig struct {
	Global struct {
		ScrapeInterval     string `yaml:"scrape_interval"`
		EvaluationInterval string `yaml:"evaluation_interval"`
	} `yaml:"global"`
	RuleFiles     []string `yaml:"rule_files"`
	ScrapeConfigs []struct {
		JobName       string `yaml:"job_name"`
		MetricsPath   string `yaml:"metrics_path"`
		StaticConfigs []struct {
			Targets []string          `yaml:"targets"`
			Labels  map[string]string `yaml:"labels"`
		} `yaml:"static_configs"`
	} `yaml:"scrape_configs"`
}

func readPrometheus(t *testing.T) promConfig {
	t.Helper()
	var p promConfig
	decodeStrict(t, filepath.Join(deployDir, "prometheus", "prometheus.yml"), &p)
	return p
}

// promRules is Prometheus' rule file format, for the rules the kit's Prometheus loads.
type promRules struct {
	Groups []struct {
		Name        string            `yaml:"name"`
		Interval    string            `yaml:"interval"`
		QueryOffset string            `yaml:"query_offset"`
		Limit       int               `yaml:"limit"`
		Labels      map[string]string `yaml:"labels"`
		Rules       []struct {
			Alert         string            `yaml:"alert"`
			Record        string            `yaml:"record"`
			Expr          string            `yaml:"expr"`
			For           string            `yaml:"for"`
			KeepFiringFor string            `yaml:"keep_firing_for"`
			Labels        map[string]string `yaml:"labels"`
			Annotations   map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

// The parts of promtool's unit-test format (promtool test rules) the kit uses.
type promRuleTests struct {
	RuleFiles          []string `yaml:"rule_files"`
	EvaluationInterval string   `yaml:"evaluation_interval"`
	Tests              []struct {
		Name        string `yaml:"name"`
		Interval    string `yaml:"interval"`
		InputSeries []struct {
			Series string `yaml:"series"`
			Values string `yaml:"values"`
		} `yaml:"input_series"`
		AlertRuleTest []struct {
			EvalTime  string `yaml:"eval_time"`
			Alertname string `yaml:"alertname"`
			ExpAlerts []struct {
				ExpLabels      map[string]string `yaml:"exp_labels"`
				ExpAnnotations map[string]string `yaml:"exp_annotations"`
			} `yaml:"exp_alerts"`
		} `yaml:"alert_rule_test"`
	} `yaml:"tests"`
}

// validateDeployConfig runs the real `validate` on a config the kit carries, with env as the
// process environment, and checks that its printed effective config validates again to the
// same text. It returns the loaded config and that text.
func validateDeployConfig(t *testing.T, data []byte, env map[string]string) (*config.Config, string) {
	t.Helper()
	dir := t.TempDir()
	file := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(file, data, 0o600); err != nil {
		t.Fatal(err)
	}
	r := runCLI(t, env, "validate", "--config", file)
	if r.code != 0 {
		t.Fatalf("validate: exit %d:\n%s", r.code, r.stderr)
	}
	if strings.Contains(r.stderr, "is not set") {
		t.Errorf("validate names an environment variable the kit does not provide:\n%s", r.stderr)
	}
	again := filepath.Join(dir, "effective.toml")
	if err := os.WriteFile(again, []byte(r.stdout), 0o600); err != nil {
		t.Fatal(err)
	}
	r2 := runCLI(t, env, "validate", "--config", again)
	if r2.code != 0 {
		t.Fatalf("validate of the printed config: exit %d:\n%s\nprinted:\n%s", r2.code, r2.stderr, r.stdout)
	}
	_, body, _ := strings.Cut(r.stdout, "\n")
	_, body2, _ := strings.Cut(r2.stdout, "\n")
	if body != body2 {
		t.Errorf("the printed config does not print back the same:\n%s\nthen:\n%s", body, body2)
	}
	cfg, _, err := config.Load(file, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	return cfg, r.stdout
}

// httpPort is the port of worker.http_addr.
func httpPort(t *testing.T, cfg *config.Config) int {
	t.Helper()
	_, p, err := net.SplitHostPort(cfg.Worker.HTTPAddr)
	if err != nil {
		t.Fatalf("worker.http_addr %q: %v", cfg.Worker.HTTPAddr, err)
	}
	if !strings.HasPrefix(cfg.Worker.HTTPAddr, "0.0.0.0:") {
		t.Errorf("worker.http_addr %q: a container needs 0.0.0.0 for probes and scrapes to reach it", cfg.Worker.HTTPAddr)
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// underMount reports whether file lies under the container path mount.
func underMount(file, mount string) bool {
	return file == mount || strings.HasPrefix(file, strings.TrimSuffix(mount, "/")+"/")
}

// natsServerVersion is the nats-server version go.mod requires: the one the tests run, which
// the compose kit's image follows.
func natsServerVersion(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\s*github\.com/nats-io/nats-server/v2 v(\S+)`).FindSubmatch(data)
	if m == nil {
		t.Fatal("go.mod does not require github.com/nats-io/nats-server/v2")
	}
	return string(m[1])
}

// TestDeployCompose checks compose.yaml against the files it mounts: the alertexport config
// passes `validate` with the environment compose gives it and names the NATS nodes compose
// runs, each NATS node's config is a JetStream cluster member routing to all three, and
// Prometheus scrapes every replica.
func TestDeployCompose(t *testing.T) {
	t.Parallel()
	c := readCompose(t)

	var replicas, natsNodes []string
	for name := range c.Services {
		switch {
		case strings.HasPrefix(name, "alertexport-"):
			replicas = append(replicas, name)
		case strings.HasPrefix(name, "nats-"):
			natsNodes = append(natsNodes, name)
		}
	}
	slices.Sort(replicas)
	slices.Sort(natsNodes)
	if len(replicas) < 2 || len(natsNodes) != 3 {
		t.Fatalf("services: %d alertexport replicas and %d NATS nodes, want at least 2 and 3", len(replicas), len(natsNodes))
	}
	for name, s := range c.Services {
		if s.Image == "" || !strings.Contains(s.Image, ":") || strings.HasSuffix(s.Image, ":latest") {
			t.Errorf("service %s: image %q, want one pinned by a version tag", name, s.Image)
		}
		for dep := range s.DependsOn {
			if _, ok := c.Services[dep]; !ok {
				t.Errorf("service %s depends on %s, which is not a service", name, dep)
			}
		}
		for target, src := range s.mounts(t) {
			if strings.HasPrefix(src, ".") {
				continue // a file of the kit: checked where it is used
			}
			if _, ok := c.Volumes[src]; !ok {
				t.Errorf("service %s mounts volume %q at %s, which volumes: does not declare", name, src, target)
			}
		}
	}

	// The alertexport replicas: one config, mounted where the image reads it, each with a
	// volume of its own holding data_dir.
	var cfgSource string
	env := map[string]string{}
	dataVolumes := map[string]string{}
	dataMounts := map[string]string{}
	for _, name := range replicas {
		s := c.Services[name]
		if s.Build == nil || s.Build.Context != ".." || s.Build.Dockerfile != "Dockerfile" {
			t.Errorf("service %s: build %+v, want the repository's Dockerfile (context ..)", name, s.Build)
		}
		if !s.ReadOnly {
			t.Errorf("service %s: read_only is not set", name)
		}
		m := s.mounts(t)
		src, ok := m["/etc/alertexport/config.toml"]
		if !ok {
			t.Errorf("service %s does not mount a config at /etc/alertexport/config.toml, where the image reads it", name)
		}
		if cfgSource != "" && src != cfgSource {
			t.Errorf("service %s mounts config %s, another replica %s: replicas share one config", name, src, cfgSource)
		}
		cfgSource = src
		for target, vol := range m {
			if _, named := c.Volumes[vol]; named {
				if other, dup := dataVolumes[vol]; dup {
					t.Errorf("services %s and %s share volume %s: each replica needs a data_dir of its own", other, name, vol)
				}
				dataVolumes[vol] = name
				dataMounts[name] = target
			}
		}
		for k := range s.Environment {
			env[k] = "dummy-" + strings.ToLower(k)
		}
	}
	if cfgSource == "" {
		t.Fatal("no config mounted")
	}
	data, err := os.ReadFile(filepath.Join(deployDir, filepath.FromSlash(cfgSource)))
	if err != nil {
		t.Fatalf("the config the replicas mount: %v", err)
	}
	cfg, printed := validateDeployConfig(t, data, env)
	if !regexp.MustCompile(`(?m)^replicas = 3\b`).MatchString(printed) {
		t.Errorf("the printed config has no `replicas = 3` line:\n%s", printed)
	}
	for _, tn := range cfg.Tenants {
		if tn.Credential.Kind != config.SecretEnv {
			continue
		}
		if _, ok := env[tn.Credential.Value]; !ok {
			t.Errorf("tenant %s reads %s, which compose does not pass to the replicas", tn.Name, tn.Credential.Value)
		}
	}
	for _, name := range replicas {
		if !underMount(cfg.Worker.DataDir, dataMounts[name]) {
			t.Errorf("data_dir %s is not on service %s's volume (mounted at %q): its identity and checkpoints would not survive, and the root file system is read-only", cfg.Worker.DataDir, name, dataMounts[name])
		}
	}
	port := httpPort(t, cfg)

	// NATS: the config's URL lists every node, and each node is a JetStream member of one
	// cluster routing to all three.
	var wantURLs []string
	for _, node := range natsNodes {
		wantURLs = append(wantURLs, "nats://"+node+":4222")
	}
	if got := strings.Split(cfg.NATS.URL, ","); !slices.Equal(got, wantURLs) {
		t.Errorf("nats.url lists %v, want the compose nodes %v", got, wantURLs)
	}
	wantImage := "nats:" + natsServerVersion(t) + "-alpine"
	clusters := map[string]bool{}
	for _, node := range natsNodes {
		s := c.Services[node]
		if s.Image != wantImage {
			t.Errorf("service %s: image %s, want %s (the nats-server version of go.mod, which the tests run)", node, s.Image, wantImage)
		}
		m := s.mounts(t)
		if !slices.Equal(s.Command, []string{"--config", "/etc/nats/nats.conf"}) {
			t.Errorf("service %s: command %q, want --config /etc/nats/nats.conf", node, s.Command)
		}
		src, ok := m["/etc/nats/nats.conf"]
		if !ok {
			t.Errorf("service %s mounts no /etc/nats/nats.conf", node)
			continue
		}
		opts, err := server.ProcessConfigFile(filepath.Join(deployDir, filepath.FromSlash(src)))
		if err != nil {
			t.Errorf("service %s: %s: %v", node, src, err)
			continue
		}
		if opts.ServerName != node {
			t.Errorf("%s: server_name %q, want the service name %q", src, opts.ServerName, node)
		}
		if opts.Port != 4222 {
			t.Errorf("%s: client port %d, want 4222 (nats.url)", src, opts.Port)
		}
		if !opts.JetStream {
			t.Errorf("%s: JetStream is off", src)
		}
		stored := false
		for target, vol := range m {
			_, named := c.Volumes[vol]
			stored = stored || (named && underMount(opts.StoreDir, target))
		}
		if !stored {
			t.Errorf("%s: store_dir %q is not on a volume of service %s", src, opts.StoreDir, node)
		}
		clusters[opts.Cluster.Name] = true
		var routes []string
		for _, r := range opts.Routes {
			routes = append(routes, r.Host)
		}
		slices.Sort(routes)
		var wantRoutes []string
		for _, n := range natsNodes {
			wantRoutes = append(wantRoutes, fmt.Sprintf("%s:%d", n, opts.Cluster.Port))
		}
		if !slices.Equal(routes, wantRoutes) {
			t.Errorf("%s: routes %v, want %v", src, routes, wantRoutes)
		}
		if s.Healthcheck == nil || !strings.Contains(strings.Join(s.Healthcheck.Test, " "), fmt.Sprintf(":%d/healthz", opts.HTTPPort)) {
			t.Errorf("service %s: the healthcheck does not ask the monitoring port %d for /healthz", node, opts.HTTPPort)
		}
		for _, r := range replicas {
			if c.Services[r].DependsOn[node].Condition != "service_healthy" {
				t.Errorf("service %s does not wait for %s to be healthy", r, node)
			}
		}
	}
	if len(clusters) != 1 || clusters[""] {
		t.Errorf("cluster names %v, want one, the same on every node", clusters)
	}

	// Prometheus: its config and the rules beside it are mounted together, and it scrapes
	// every replica at http_addr's port.
	prom, ok := c.Services["prometheus"]
	if !ok {
		t.Fatal("no prometheus service")
	}
	p := readPrometheus(t)
	pm := prom.mounts(t)
	if pm["/etc/prometheus/prometheus.yml"] != "./prometheus/prometheus.yml" {
		t.Errorf("prometheus mounts %q at /etc/prometheus/prometheus.yml, want ./prometheus/prometheus.yml", pm["/etc/prometheus/prometheus.yml"])
	}
	if !slices.Contains(p.RuleFiles, "alertexport-rules.yml") {
		t.Errorf("prometheus.yml rule_files %v lacks alertexport-rules.yml", p.RuleFiles)
	}
	for _, rf := range p.RuleFiles {
		if src := pm["/etc/prometheus/"+rf]; src != "./prometheus/"+rf {
			t.Errorf("rule file %s: mounted from %q, want ./prometheus/%s beside prometheus.yml", rf, src, rf)
		}
	}
	var targets []string
	for _, sc := range p.ScrapeConfigs {
		if sc.JobName != "alertexport" {
			continue
		}
		for _, s := range sc.StaticConfigs {
			targets = append(targets, s.Targets...)
		}
	}
	slices.Sort(targets)
	var wantTargets []string
	for _, r := range replicas {
		wantTargets = append(wantTargets, fmt.Sprintf("%s:%d", r, port))
	}
	if !slices.Equal(targets, wantTargets) {
		t.Errorf("job alertexport scrapes %v, want every replica at http_addr's port: %v", targets, wantTargets)
	}
}

// manifest is the Kubernetes objects of one file, by kind.
type manifest struct {
	namespaces      []*corev1.Namespace
	serviceAccounts []*corev1.ServiceAccount
	configMaps      []*corev1.ConfigMap
	secrets         []*corev1.Secret
	deployments     []*appsv1.Deployment
	services        []*corev1.Service
	pdbs            []*policyv1.PodDisruptionBudget
}

// readManifests decodes every document of a Kubernetes manifest strictly into its API type.
func readManifests(t *testing.T, file string) manifest {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var m manifest
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for i := 1; ; i++ {
		var doc yaml.Node
		if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("%s: document %d: %v", file, i, err)
		}
		raw, err := yaml.Marshal(&doc)
		if err != nil {
			t.Fatal(err)
		}
		var head struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
		}
		if err := k8syaml.Unmarshal(raw, &head); err != nil {
			t.Fatalf("%s: document %d: %v", file, i, err)
		}
		var obj any
		switch head.APIVersion + " " + head.Kind {
		case "v1 Namespace":
			obj = appendNew(&m.namespaces)
		case "v1 ServiceAccount":
			obj = appendNew(&m.serviceAccounts)
		case "v1 ConfigMap":
			obj = appendNew(&m.configMaps)
		case "v1 Secret":
			obj = appendNew(&m.secrets)
		case "apps/v1 Deployment":
			obj = appendNew(&m.deployments)
		case "v1 Service":
			obj = appendNew(&m.services)
		case "policy/v1 PodDisruptionBudget":
			obj = appendNew(&m.pdbs)
		default:
			t.Errorf("%s: document %d: %s %s has no decoder in deploy_test.go", file, i, head.APIVersion, head.Kind)
			continue
		}
		// As kubectl and the API server read it: YAML to JSON without looking at the target
		// type (so `true` stays a boolean, which a string field refuses), then JSON decoded
		// case-sensitively with unknown and duplicate fields refused.
		j, err := k8syaml.YAMLToJSONStrict(raw)
		if err != nil {
			t.Errorf("%s: document %d (%s): %v", file, i, head.Kind, err)
			continue
		}
		strict, err := k8sjson.UnmarshalStrict(j, obj, k8sjson.DisallowUnknownFields, k8sjson.DisallowDuplicateFields)
		if err = errors.Join(append(strict, err)...); err != nil {
			t.Fatalf("%s: document %d (%s): %v", file, i, head.Kind, err)
		}
	}
	return m
}

func appendNew[T any](s *[]*T) *T {
	v := new(T)
	*s = append(*s, v)
	return v
}

// TestDeployKubernetes checks each manifest: the config in its ConfigMap passes `validate`
// with the environment the Deployment gives it, the probes ask http_addr's port, the pod runs
// locked down, and the Service, the PodDisruptionBudget and the Secret match the Deployment.
func TestDeployKubernetes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file       string
		credential config.CredentialKind
	}{
		{"kubernetes/alertexport.yaml", config.SecretEnv},
		{"kubernetes/workload-identity/alertexport.yaml", config.FederatedTokenFile},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			m := readManifests(t, filepath.Join(deployDir, filepath.FromSlash(tt.file)))
			if len(m.deployments) != 1 || len(m.configMaps) != 1 || len(m.pdbs) != 1 || len(m.serviceAccounts) != 1 {
				t.Fatalf("%d Deployments, %d ConfigMaps, %d PodDisruptionBudgets, %d ServiceAccounts; want one each", len(m.deployments), len(m.configMaps), len(m.pdbs), len(m.serviceAccounts))
			}
			d, cm, pdb, sa := m.deployments[0], m.configMaps[0], m.pdbs[0], m.serviceAccounts[0]
			ns := d.Namespace
			for _, o := range []struct{ kind, name, ns string }{
				{"ConfigMap", cm.Name, cm.Namespace}, {"PodDisruptionBudget", pdb.Name, pdb.Namespace}, {"ServiceAccount", sa.Name, sa.Namespace},
			} {
				if o.ns != ns {
					t.Errorf("%s %s is in namespace %q, the Deployment in %q", o.kind, o.name, o.ns, ns)
				}
			}
			if len(m.namespaces) == 1 && m.namespaces[0].Name != ns {
				t.Errorf("the Namespace is %q, the Deployment's %q", m.namespaces[0].Name, ns)
			}

			// The Deployment: two replicas or more, a selector that selects its pods.
			if d.Spec.Replicas == nil || *d.Spec.Replicas < 2 {
				t.Errorf("Deployment replicas %v, want at least 2", d.Spec.Replicas)
			}
			pod := d.Spec.Template
			if d.Spec.Selector == nil || !selects(d.Spec.Selector.MatchLabels, pod.Labels) {
				t.Fatalf("the Deployment's selector %v does not select its pods %v", d.Spec.Selector, pod.Labels)
			}
			if pdb.Spec.MinAvailable == nil || *pdb.Spec.MinAvailable != intstr.FromInt32(1) {
				t.Errorf("PodDisruptionBudget minAvailable %v, want 1", pdb.Spec.MinAvailable)
			}
			if pdb.Spec.Selector == nil || !selects(pdb.Spec.Selector.MatchLabels, pod.Labels) || len(pdb.Spec.Selector.MatchLabels) == 0 {
				t.Errorf("the PodDisruptionBudget's selector %v does not select the Deployment's pods %v", pdb.Spec.Selector, pod.Labels)
			}
			for _, s := range m.services {
				if len(s.Spec.Selector) == 0 || !selects(s.Spec.Selector, pod.Labels) {
					t.Errorf("Service %s selects %v, not the Deployment's pods %v", s.Name, s.Spec.Selector, pod.Labels)
				}
			}
			if pod.Spec.ServiceAccountName != sa.Name {
				t.Errorf("the pods run as ServiceAccount %q, the manifest defines %q", pod.Spec.ServiceAccountName, sa.Name)
			}

			// Locked down: non-root, no privilege escalation, no capabilities, read-only root.
			psc := pod.Spec.SecurityContext
			if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
				t.Errorf("pod securityContext %+v, want runAsNonRoot and seccompProfile RuntimeDefault", psc)
			}
			if len(pod.Spec.Containers) != 1 {
				t.Fatalf("%d containers, want 1", len(pod.Spec.Containers))
			}
			ctr := pod.Spec.Containers[0]
			sc := ctr.SecurityContext
			if sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
				sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
				t.Errorf("container securityContext %+v, want allowPrivilegeEscalation false, readOnlyRootFilesystem, capabilities drop ALL", sc)
			}
			if ctr.Resources.Requests.Memory().IsZero() || ctr.Resources.Limits.Memory().IsZero() || ctr.Resources.Requests.Cpu().IsZero() {
				t.Errorf("resources %+v: want cpu and memory requests and a memory limit", ctr.Resources)
			}

			// The config: from the ConfigMap mounted where the image reads it.
			mounts := map[string]corev1.VolumeMount{}
			for _, vm := range ctr.VolumeMounts {
				mounts[vm.Name] = vm
			}
			var cfgMount string
			writable := map[string]bool{} // mount paths of emptyDir volumes
			for _, v := range pod.Spec.Volumes {
				vm, ok := mounts[v.Name]
				switch {
				case !ok:
					t.Errorf("volume %s is not mounted", v.Name)
				case v.ConfigMap != nil && v.ConfigMap.Name == cm.Name:
					cfgMount = vm.MountPath
				case v.EmptyDir != nil && !vm.ReadOnly:
					writable[vm.MountPath] = true
				}
			}
			if cfgMount != "/etc/alertexport" {
				t.Fatalf("ConfigMap %s is mounted at %q, want /etc/alertexport (the image reads /etc/alertexport/config.toml)", cm.Name, cfgMount)
			}
			toml, ok := cm.Data["config.toml"]
			if !ok {
				t.Fatalf("ConfigMap %s has no config.toml", cm.Name)
			}

			// The environment the Deployment gives: values, and Secret keys that must exist.
			env := map[string]string{}
			fromSecret := map[string]bool{}
			for _, e := range ctr.Env {
				switch {
				case e.ValueFrom == nil:
					env[e.Name] = e.Value
				case e.ValueFrom.SecretKeyRef != nil:
					ref := e.ValueFrom.SecretKeyRef
					if !hasSecretKey(m.secrets, ref.Name, ref.Key) {
						t.Errorf("env %s reads key %s of Secret %s, which the manifest does not define", e.Name, ref.Key, ref.Name)
					}
					env[e.Name] = "dummy-" + strings.ToLower(e.Name)
					fromSecret[e.Name] = true
				default:
					t.Errorf("env %s: only values and secretKeyRef are expected", e.Name)
				}
			}
			cfg, printed := validateDeployConfig(t, []byte(toml), env)
			if !regexp.MustCompile(`(?m)^replicas = 3\b`).MatchString(printed) {
				t.Errorf("the printed config has no `replicas = 3` line:\n%s", printed)
			}
			if cfg.NATS.URL == "" {
				t.Error("nats.url is empty: the embedded server is one node in one pod, not shared by the replicas")
			}
			writableData := false
			for p := range writable {
				writableData = writableData || underMount(cfg.Worker.DataDir, p)
			}
			if !writableData {
				t.Errorf("data_dir %s is on no writable volume (mounted: %v) and the root file system is read-only", cfg.Worker.DataDir, writable)
			}
			for _, tn := range cfg.Tenants {
				if tn.Credential.Kind != tt.credential {
					t.Errorf("tenant %s uses %s, want %s in this manifest", tn.Name, tn.Credential.Kind, tt.credential)
				}
				switch tn.Credential.Kind {
				case config.SecretEnv:
					if !fromSecret[tn.Credential.Value] {
						t.Errorf("tenant %s reads %s, which the Deployment does not take from a Secret", tn.Name, tn.Credential.Value)
					}
				case config.FederatedTokenFile:
					// The path the Azure workload identity webhook mounts its token at.
					if tn.Credential.Value != "/var/run/secrets/azure/tokens/azure-identity-token" {
						t.Errorf("tenant %s: federated_token_file %s, want the webhook's /var/run/secrets/azure/tokens/azure-identity-token", tn.Name, tn.Credential.Value)
					}
					if got := sa.Annotations["azure.workload.identity/client-id"]; got != tn.ClientID {
						t.Errorf("ServiceAccount annotation azure.workload.identity/client-id %q, want the tenant's client_id %q", got, tn.ClientID)
					}
					if pod.Labels["azure.workload.identity/use"] != "true" {
						t.Error(`the pods lack the label azure.workload.identity/use: "true", so no token is mounted`)
					}
				}
			}

			// The probes ask http_addr's port.
			port := httpPort(t, cfg)
			for _, p := range []struct {
				name  string
				probe *corev1.Probe
				path  string
			}{{"livenessProbe", ctr.LivenessProbe, "/healthz"}, {"readinessProbe", ctr.ReadinessProbe, "/readyz"}} {
				if p.probe == nil || p.probe.HTTPGet == nil {
					t.Errorf("%s: want an httpGet of %s", p.name, p.path)
					continue
				}
				if p.probe.HTTPGet.Path != p.path {
					t.Errorf("%s asks %s, want %s", p.name, p.probe.HTTPGet.Path, p.path)
				}
				if got := containerPort(ctr, p.probe.HTTPGet.Port); got != port {
					t.Errorf("%s asks port %s (%d), http_addr listens on %d", p.name, p.probe.HTTPGet.Port.String(), got, port)
				}
			}
			for _, s := range m.services {
				for _, sp := range s.Spec.Ports {
					if got := containerPort(ctr, sp.TargetPort); got != port {
						t.Errorf("Service %s port %s targets %d, http_addr listens on %d", s.Name, sp.Name, got, port)
					}
				}
			}
		})
	}
}

// selects reports whether every label of the selector is on the pod.
func selects(selector, labels map[string]string) bool {
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// containerPort resolves a probe's or a Service's port, by number or by the container port's name.
func containerPort(c corev1.Container, p intstr.IntOrString) int {
	if p.Type == intstr.Int {
		return p.IntValue()
	}
	for _, cp := range c.Ports {
		if cp.Name == p.StrVal {
			return int(cp.ContainerPort)
		}
	}
	return -1
}

func hasSecretKey(secrets []*corev1.Secret, name, key string) bool {
	for _, s := range secrets {
		if s.Name != name {
			continue
		}
		if _, ok := s.StringData[key]; ok {
			return true
		}
		if _, ok := s.Data[key]; ok {
			return true
		}
	}
	return false
}
