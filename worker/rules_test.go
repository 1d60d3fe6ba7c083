package worker

import (
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.yaml.in/yaml/v3"
)

// alertRules is the kit's rule file, which promtool checks and tests in its own directory.
const alertRules = "../deploy/prometheus/alertexport-rules.yml"

// ruleMetric is a series name an alert rule may read: ours, or the process collector's.
var ruleMetric = regexp.MustCompile(`\b(?:alertexport|process)_[a-z0-9_]+\b`)

// descName is a Desc's metric name in its String form (Desc has no accessor for it).
var descName = regexp.MustCompile(`fqName: "([^"]+)"`)

// TestAlertRulesUseRegisteredMetrics: every series an alert rule reads is one the process
// serves, under that exact name, so that a renamed metric cannot leave a rule silently
// watching nothing (an absent series never fires).
func TestAlertRulesUseRegisteredMetrics(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile(alertRules)
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Groups []struct {
			Rules []struct {
				Alert string `yaml:"alert"`
				Expr  string `yaml:"expr"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(data, &file); err != nil {
		t.Fatalf("%s: %v", alertRules, err)
	}

	served := servedNames(t)
	n := 0
	for _, g := range file.Groups {
		for _, r := range g.Rules {
			names := ruleMetric.FindAllString(r.Expr, -1)
			if len(names) == 0 && !strings.Contains(r.Expr, "up{") {
				t.Errorf("%s reads no alertexport series: %q", r.Alert, r.Expr)
			}
			for _, name := range names {
				n++
				if !served[histogramFamily(name, served)] {
					t.Errorf("%s reads %s, which /metrics does not serve", r.Alert, name)
				}
			}
		}
	}
	if n == 0 {
		t.Fatalf("no series found in %s", alertRules)
	}
}

// histogramFamily maps a histogram's _bucket, _sum and _count series to its family name.
func histogramFamily(name string, served map[string]bool) string {
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(name, suffix); ok && served[base] {
			return base
		}
	}
	return name
}

// servedNames is every metric family a worker's registry serves: those gathered after a job
// is set up, and the name of every collector registered, whether or not it has a series yet.
func servedNames(t *testing.T) map[string]bool {
	t.Helper()
	m := NewMetrics()
	m.initJob("contoso", "endpoint", time.Minute, false)
	served := map[string]bool{}
	families, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		served[f.GetName()] = true
	}
	ch := make(chan *prometheus.Desc, 64)
	go func() { m.Registry.Describe(ch); close(ch) }()
	for d := range ch {
		if s := descName.FindStringSubmatch(d.String()); s != nil {
			served[s[1]] = true
		}
	}
	for _, want := range []string{"alertexport_polls_total", "alertexport_api_request_duration_seconds", "process_start_time_seconds"} {
		if !served[want] {
			t.Fatalf("%s missing from the served names %v: the way they are listed is broken", want, slices.Sorted(maps.Keys(served)))
		}
	}
	return served
}
