// Package prometheus_test checks the kit's alert rules with Prometheus' own promtool: that they
// load (check rules) and that each alert fires, or stays quiet, as alertexport-rules_test.yml
// says (test rules). That every series they read exists is worker's
// TestAlertRulesUseRegisteredMetrics.
package prometheus_test

import (
	"context"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// promtool is the path of promtool. Missing, it fails the test in CI (where .ci/run installs
// it) and skips it elsewhere.
func promtool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("promtool")
	if err == nil {
		return p
	}
	const hint = "promtool is not installed: apt-get install prometheus (Debian ships promtool in it), or put a Prometheus release's promtool on PATH"
	if os.Getenv("CI") == "true" {
		t.Fatal(hint)
	}
	t.Skip(hint)
	return ""
}

func TestAlertRules(t *testing.T) {
	t.Parallel()
	bin := promtool(t)
	for _, args := range [][]string{
		{"check", "rules", "alertexport-rules.yml"},
		{"test", "rules", "alertexport-rules_test.yml"},
	} {
		t.Run(strings.Join(args[:2], " "), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
			if err != nil {
				t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
			}
		})
	}
}

// TestEveryAlertHasARunbook: each alert has a severity on-call routes by, a summary and a
// description, and a runbook_url whose section exists in docs/operations.md.
func TestEveryAlertHasARunbook(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("alertexport-rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Groups []struct {
			Rules []struct {
				Alert       string            `yaml:"alert"`
				Labels      map[string]string `yaml:"labels"`
				Annotations map[string]string `yaml:"annotations"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(data, &file); err != nil {
		t.Fatal(err)
	}
	docs, err := os.ReadFile("../../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	const base = "https://github.com/alertexport/alertexport/blob/main/docs/operations.md#"
	n := 0
	for _, g := range file.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				continue
			}
			n++
			if sev := r.Labels["severity"]; !slices.Contains([]string{"critical", "warning"}, sev) {
				t.Errorf("%s: severity %q, want critical or warning", r.Alert, sev)
			}
			for _, a := range []string{"summary", "description"} {
				if r.Annotations[a] == "" {
					t.Errorf("%s has no %s", r.Alert, a)
				}
			}
			if want := base + strings.ToLower(r.Alert); r.Annotations["runbook_url"] != want {
				t.Errorf("%s: runbook_url %q, want %q", r.Alert, r.Annotations["runbook_url"], want)
			}
			if !strings.Contains(string(docs), "\n### "+r.Alert+"\n") {
				t.Errorf("docs/operations.md has no section ### %s for its runbook_url", r.Alert)
			}
		}
	}
	if n == 0 {
		t.Fatal("no alerts found")
	}
}
