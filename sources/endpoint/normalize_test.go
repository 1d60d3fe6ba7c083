package endpoint

import (
	"bytes"
	"encoding/json"
	"flag"
	"reflect"
	"strings"
	"testing"

	"github.com/alertexport/alertexport/sources"
	"github.com/alertexport/alertexport/sources/envelope"
	"github.com/alertexport/alertexport/sources/page"
	"github.com/alertexport/alertexport/sources/sourcetest"
)

var update = flag.Bool("update", false, "rewrite the golden envelopes in testdata/golden")

var testIdentity = sources.Identity{Tenant: "contoso", TenantID: "a839b112-1253-6432-9bf6-94542403f21c", Portal: "https://security.microsoft.com"}

// TestGoldenEnvelopes normalizes every alert in testdata/alerts and compares the whole envelope
// with testdata/golden (go test ./sources/endpoint -run Golden -update rewrites them; review the
// diff).
func TestGoldenEnvelopes(t *testing.T) {
	sourcetest.Golden(t, *update, func(raw []byte) (*envelope.Alert, error) {
		var a alert
		if err := page.Unmarshal(raw, &a); err != nil {
			return nil, err
		}
		return normalize(&a, raw, testIdentity, envelope.Created)
	})
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
		if got := envelope.NormalizeSeverity(c.in); got != c.want {
			t.Errorf("severity(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	for _, c := range []struct{ in, want string }{
		{"New", "new"}, {"InProgress", "in_progress"}, {"Resolved", "resolved"}, {"Unknown", "unknown"},
		{"Dismissed", "unknown"}, {"", "unknown"},
	} {
		if got := envelope.NormalizeStatus(c.in); got != c.want {
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
		if got := envelope.SnakeCaseOrNull(&in); got == nil || *got != c.want {
			t.Errorf("snake(%q) = %v, want %q", c.in, got, c.want)
		}
	}
	if envelope.SnakeCaseOrNull(nil) != nil {
		t.Error("a null classification must stay null")
	}
}

// TestNormalizeRejects: an alert without what makes it a version is a dead letter.
func TestNormalizeRejects(t *testing.T) {
	for _, raw := range []string{`{"lastUpdateTime":"2025-01-01T00:00:00Z"}`, `{"id":"x"}`, `{"id":"","lastUpdateTime":null}`,
		`{"id":"x","lastUpdateTime":"2025-01-01T00:00:00Z","id":null}`} { // the last of a repeated name wins
		var a alert
		if err := page.Unmarshal([]byte(raw), &a); err != nil {
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
		if err := page.Unmarshal([]byte(raw), &a); err == nil {
			t.Errorf("%s: decoded, want an error", raw)
		}
	}
}

// TestRepeatedEvidence: a repeated member keeps only its last value, as with reflection, also
// for the evidence, whose items' fields are set together once the array is read: an item of the
// first "evidence" must not lend its fields to the second's. The items outgrow the room the
// slice starts with.
func TestRepeatedEvidence(t *testing.T) {
	many := strings.Repeat(`{"entityType":"File","fileName":"a.exe","sha1":"aa"},`, evidenceRoom)
	for _, tc := range []struct {
		name, evidence string
		want           []envelope.Entity
	}{
		{"a file, then an IP", `"evidence":[{"entityType":"File","fileName":"evil.exe"}],"evidence":[{"entityType":"Ip","ipAddress":"1.2.3.4"}]`,
			[]envelope.Entity{{Type: "ip", Address: "1.2.3.4"}}},
		{"a file, then a file without a hash", `"evidence":[{"entityType":"File","fileName":"a.exe","sha1":"aa"}],"evidence":[{"entityType":"File","fileName":"b.exe"}]`,
			[]envelope.Entity{{Type: "file", Name: "b.exe"}}},
		{"more items than the room, then one", `"evidence":[` + many + `{"entityType":"Ip","ipAddress":"9.9.9.9"}],"evidence":[{"entityType":"Ip","ipAddress":"1.2.3.4"}]`,
			[]envelope.Entity{{Type: "ip", Address: "1.2.3.4"}}},
		{"one, then more items than the room", `"evidence":[{"entityType":"Ip","ipAddress":"9.9.9.9"}],"evidence":[` + many + `{"entityType":"Url","url":"http://x"}]`,
			[]envelope.Entity{{Type: "file", Name: "a.exe", SHA1: "aa"}, {Type: "url", URL: "http://x"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw := []byte(`{"id":"x","lastUpdateTime":"2025-01-01T00:00:00Z",` + tc.evidence + `}`)
			var a alert
			if err := page.Unmarshal(raw, &a); err != nil {
				t.Fatal(err)
			}
			e, err := normalize(&a, raw, testIdentity, envelope.Created)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(e.Entities, tc.want) {
				t.Errorf("entities %+v, want %+v", e.Entities, tc.want)
			}
		})
	}
}
