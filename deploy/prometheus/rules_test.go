// Package prometheus_test checks the kit's alert rules with Prometheus' own promtool: that they
// load (check rules) and that each alert fires, or stays quiet, as alertexport-rules_test.yml
// says (test rules). That every series they read exists is worker's
// TestAlertRulesUseRegisteredMetrics.
package prometheus_test

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
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
