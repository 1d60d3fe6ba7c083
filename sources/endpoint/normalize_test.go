package endpoint

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/alertexport/alertexport/sources/envelope"
)

var update = flag.Bool("update", false, "rewrite the golden envelopes in testdata/golden")

var testIdentity = identity{tenant: "contoso", tenantID: "a839b112-1253-6432-9bf6-94542403f21c", portal: "https://security.microsoft.com"}

// TestGoldenEnvelopes normalizes every alert in testdata/alerts and compares the whole envelope
// with testdata/golden (go test ./sources/endpoint -run Golden -update rewrites them; review the
// diff).
func TestGoldenEnvelopes(t *testing.T) {
	files, err := filepath.Glob("testdata/alerts/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no test alerts: %v", err)
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".json")
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			raw = compact(t, raw)
			var a alert
			if err := json.Unmarshal(raw, &a); err != nil {
				t.Fatalf("decode: %v", err)
			}
			env, err := normalize(&a, raw, testIdentity, envelope.Created)
			if err != nil {
				t.Fatalf("normalize: %v", err)
			}
			body, err := envelope.Marshal(env)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Contains(body, raw) {
				t.Errorf("raw is not the alert's bytes unchanged")
			}
			var pretty bytes.Buffer
			if err := json.Indent(&pretty, body, "", "  "); err != nil {
				t.Fatal(err)
			}
			pretty.WriteByte('\n')
			golden := filepath.Join("testdata", "golden", name+".json")
			if *update {
				if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, pretty.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(pretty.Bytes(), want) {
				t.Errorf("envelope differs from %s:\n%s", golden, pretty.String())
			}
		})
	}
}

func compact(t *testing.T, b []byte) []byte {
	t.Helper()
	var c bytes.Buffer
	if err := json.Compact(&c, b); err != nil {
		t.Fatal(err)
	}
	return c.Bytes()
}

// TestMappings pins every documented enum value (and a few undocumented ones) to its envelope
// value; values nobody documented become unknown, never an error.
func TestMappings(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"Informational", "informational"}, {"Low", "low"}, {"Medium", "medium"}, {"High", "high"},
		{"UnSpecified", "unknown"}, {"Critical", "unknown"}, {"", "unknown"}, {"HIGH", "high"},
	} {
		if got := severity(c.in); got != c.want {
			t.Errorf("severity(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	for _, c := range []struct{ in, want string }{
		{"New", "new"}, {"InProgress", "in_progress"}, {"Resolved", "resolved"}, {"Unknown", "unknown"},
		{"Dismissed", "unknown"}, {"", "unknown"},
	} {
		if got := status(c.in); got != c.want {
			t.Errorf("status(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	for _, c := range []struct{ in, want string }{
		{"TruePositive", "true_positive"}, {"FalsePositive", "false_positive"},
		{"InformationalExpectedActivity", "informational_expected_activity"},
		{"Informational, expected activity", "informational_expected_activity"},
		{"MultiStagedAttack", "multi_staged_attack"}, {"MaliciousUserActivity", "malicious_user_activity"},
		{"CompromisedUser", "compromised_user"}, {"Malware", "malware"}, {"Phishing", "phishing"},
		{"UnwantedSoftware", "unwanted_software"}, {"Other", "other"}, {"SecurityTesting", "security_testing"},
		{"LineOfBusinessApplication", "line_of_business_application"},
		{"ConfirmedUserActivity", "confirmed_user_activity"}, {"Clean", "clean"},
		{"InsufficientData", "insufficient_data"}, {"Apt", "apt"}, {"SecurityPersonnel", "security_personnel"},
		{"NotMalicious", "not_malicious"}, {"MTPAlert", "mtp_alert"},
	} {
		in := c.in
		if got := snake(&in); got == nil || *got != c.want {
			t.Errorf("snake(%q) = %v, want %q", c.in, got, c.want)
		}
	}
	if snake(nil) != nil {
		t.Error("a null classification must stay null")
	}
}

// TestNormalizeRejects: an alert without what makes it a version is a dead letter.
func TestNormalizeRejects(t *testing.T) {
	for _, raw := range []string{`{"lastUpdateTime":"2025-01-01T00:00:00Z"}`, `{"id":"x"}`, `{"id":"","lastUpdateTime":null}`} {
		var a alert
		if err := json.Unmarshal([]byte(raw), &a); err != nil {
			t.Fatal(err)
		}
		if _, err := normalize(&a, []byte(raw), testIdentity, envelope.Created); err == nil {
			t.Errorf("%s: normalized, want an error", raw)
		}
	}
	for _, raw := range []string{
		`{"id":"x","lastUpdateTime":"yesterday"}`,
		`{"id":"x","lastUpdateTime":"2025-01-01T00:00:00Z","mitreTechniques":{"a":1}}`,
		`{"id":"x","lastUpdateTime":"2025-01-01T00:00:00Z","relatedUser":17}`,
		`{"id":"x","lastUpdateTime":"2025-01-01T00:00:00Z","incidentId":true}`,
		`{"id":7,"lastUpdateTime":"2025-01-01T00:00:00Z"}`,
	} {
		var a alert
		if err := json.Unmarshal([]byte(raw), &a); err == nil {
			t.Errorf("%s: decoded, want an error", raw)
		}
	}
}
