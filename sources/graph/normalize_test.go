package graph

import (
	"encoding/json"
	"flag"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/alertexport/alertexport/internal/sim"
	"github.com/alertexport/alertexport/sources"
	"github.com/alertexport/alertexport/sources/envelope"
	"github.com/alertexport/alertexport/sources/sourcetest"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden envelopes in testdata/golden")

var normIdentity = sources.Identity{Tenant: "contoso", TenantID: sourcetest.TenantID}

// TestGoldenEnvelopes normalizes every alert in testdata/alerts — the documented example, an
// Endpoint, a Cloud Apps, a Defender for Office 365 and a Defender for Identity alert as the
// simulator's Graph renders them, and one with unknown enum members, unknown and malformed
// evidence — and compares the whole envelope with testdata/golden
// (go test ./sources/graph -run Golden -update rewrites them; review the diff).
func TestGoldenEnvelopes(t *testing.T) {
	sourcetest.Golden(t, *updateGolden, func(raw []byte) (*envelope.Alert, error) {
		a, err := decodeAlert(raw)
		if err != nil {
			return nil, err
		}
		return normalize(a, raw, normIdentity, envelope.Created)
	})
}

func decodeAlert(raw []byte) (*alert, error) {
	var a alert
	if err := json.Unmarshal(raw, &a); err != nil {
		return nil, err
	}
	return &a, nil
}

// TestMappings pins every member of Graph's severity, status, classification and determination
// enums (security-alert.md, and the metadata's determinations), and a member added later.
func TestMappings(t *testing.T) {
	for _, c := range []struct {
		name      string
		normalize func(string) string
		cases     [][2]string
	}{
		{"severity", envelope.NormalizeSeverity, [][2]string{
			{"informational", "informational"}, {"low", "low"}, {"medium", "medium"}, {"high", "high"},
			{"unknown", "unknown"}, {"unknownFutureValue", "unknown"}, {"critical", "unknown"}, {"", "unknown"},
		}},
		{"status", envelope.NormalizeStatus, [][2]string{
			{"new", "new"}, {"inProgress", "in_progress"}, {"resolved", "resolved"}, {"unknown", "unknown"},
			{"unknownFutureValue", "unknown"}, {"dismissed", "unknown"}, {"", "unknown"},
		}},
	} {
		for _, m := range c.cases {
			if got := c.normalize(m[0]); got != m[1] {
				t.Errorf("%s %q = %q, want %q", c.name, m[0], got, m[1])
			}
		}
	}
	// Classification, determination, detection and service source: snake_case; "unknown"
	// (not set yet) is null; unknownFutureValue (set, but hidden) is "unknown".
	for _, c := range [][2]string{
		{"falsePositive", "false_positive"}, {"truePositive", "true_positive"},
		{"informationalExpectedActivity", "informational_expected_activity"},
		{"apt", "apt"}, {"malware", "malware"}, {"securityPersonnel", "security_personnel"},
		{"securityTesting", "security_testing"}, {"unwantedSoftware", "unwanted_software"}, {"other", "other"},
		{"multiStagedAttack", "multi_staged_attack"}, {"compromisedAccount", "compromised_account"},
		{"phishing", "phishing"}, {"maliciousUserActivity", "malicious_user_activity"},
		{"notMalicious", "not_malicious"}, {"notEnoughDataToValidate", "not_enough_data_to_validate"},
		{"confirmedActivity", "confirmed_activity"}, {"lineOfBusinessApplication", "line_of_business_application"},
		{"antivirus", "antivirus"}, {"customTi", "custom_ti"}, {"cloudAppSecurity", "cloud_app_security"},
		{"microsoft365Defender", "microsoft365_defender"}, {"microsoftDefenderForAIServices", "microsoft_defender_for_ai_services"},
		{"azureAdIdentityProtection", "azure_ad_identity_protection"}, {"nrtAlerts", "nrt_alerts"},
		{"microsoftDefenderForEndpoint", envelope.ServiceDefenderForEndpoint},
		{"microsoftDefenderForCloudApps", envelope.ServiceDefenderForCloudApps},
		{"unknownFutureValue", "unknown"},
	} {
		in := c[0]
		if got := enum(&in); got == nil || *got != c[1] {
			t.Errorf("enum(%q) = %v, want %q", c[0], got, c[1])
		}
	}
	for _, in := range []*string{nil, new(""), new("unknown")} {
		if got := enum(in); got != nil {
			t.Errorf("enum(%v) = %q, want null", in, *got)
		}
	}
}

// TestNormalizeRejects: an alert without what makes it a version is an error; a top-level
// property of the wrong type fails decoding (graph.go dead-letters both), while a malformed
// evidence item costs only itself.
func TestNormalizeRejects(t *testing.T) {
	for _, raw := range []string{`{"lastUpdateDateTime":"2026-01-01T00:00:00Z"}`, `{"id":"x"}`, `{"id":"","lastUpdateDateTime":null}`} {
		a, err := decodeAlert([]byte(raw))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := normalize(a, []byte(raw), normIdentity, envelope.Created); err == nil {
			t.Errorf("%s: normalized, want an error", raw)
		}
	}
	for _, raw := range []string{
		`{"id":"x","lastUpdateDateTime":"yesterday"}`,
		`{"id":"x","lastUpdateDateTime":"2026-01-01T00:00:00Z","severity":3}`,
		`{"id":"x","lastUpdateDateTime":"2026-01-01T00:00:00Z","mitreTechniques":"T1059"}`,
		`{"id":"x","lastUpdateDateTime":"2026-01-01T00:00:00Z","incidentId":28282}`,
		`{"id":"x","lastUpdateDateTime":"2026-01-01T00:00:00Z","evidence":{"@odata.type":"#microsoft.graph.security.ipEvidence"}}`,
		`{"id":7,"lastUpdateDateTime":"2026-01-01T00:00:00Z"}`,
	} {
		if _, err := decodeAlert([]byte(raw)); err == nil {
			t.Errorf("%s: decoded, want an error", raw)
		}
	}
	for _, ev := range []string{
		`42`, `"x"`, `null`, `[]`, `{}`, `{"@odata.type":7}`, `{"@odata.type":""}`,
		`{"@odata.type":"#microsoft.graph.security.processEvidence","processId":"n/a"}`,
		`{"@odata.type":"#microsoft.graph.security.userEvidence","userAccount":"CONTOSO\\jdoe"}`,
		`{"@odata.type":"#microsoft.graph.security.fileEvidence","fileDetails":{"sha1":1}}`,
		`{"@odata.type":"#microsoft.graph.security.deviceEvidence","loggedOnUsers":{"accountName":"x"}}`,
		`{"@odata.type":"#microsoft.graph.security.cloudApplicationEvidence","appId":"Office 365"}`,
		`{"@odata.type":"#microsoft.graph.security.ipEvidence","ipAddress":null}`,
		`{"@odata.type":"#microsoft.graph.security.urlEvidence"}`,
	} {
		raw := `{"id":"x","lastUpdateDateTime":"2026-01-01T00:00:00Z","evidence":[` + ev + `]}`
		a, err := decodeAlert([]byte(raw))
		if err != nil {
			t.Errorf("%s: %v", ev, err)
			continue
		}
		env, err := normalize(a, []byte(raw), normIdentity, envelope.Created)
		if err != nil {
			t.Errorf("%s: %v", ev, err)
			continue
		}
		if len(env.Entities) != 0 {
			t.Errorf("%s: entities %+v, want none", ev, env.Entities)
		}
	}
}

// evidenceEntity is the entity type each evidence type the simulator serves becomes.
var evidenceEntity = map[string]string{
	"deviceEvidence":            "device",
	"userEvidence":              "user",
	"ipEvidence":                "ip",
	"urlEvidence":               "url",
	"fileEvidence":              "file",
	"processEvidence":           "process",
	"registryKeyEvidence":       "registry",
	"registryValueEvidence":     "registry",
	"mailboxEvidence":           "mailbox",
	"analyzedMessageEvidence":   "mail_message",
	"mailClusterEvidence":       "mail_cluster",
	"cloudApplicationEvidence":  "app",
	"oauthApplicationEvidence":  "app",
	"securityGroupEvidence":     "group",
	"azureResourceEvidence":     "azure_resource",
	"aiAgentEvidence":           "ai_agent",
	"cloudLogonSessionEvidence": "cloud_logon_session",
}

// simulatedGraph is a simulator whose Graph shows Endpoint, Cloud Apps and Graph-only alerts of
// every kind.
func simulatedGraph(t *testing.T) (*sim.GraphTenant, []string, []string) {
	t.Helper()
	now := time.Date(2026, 5, 4, 9, 30, 0, 0, time.UTC)
	srv, err := sim.Start(sim.Options{Now: func() time.Time { return now }, Seed: 11})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	srv.AddTenant(sourcetest.TenantID)
	from := now.Add(-48 * time.Hour)
	mde := srv.Endpoint(sourcetest.TenantID).Generate(150, sim.EndpointGenerate{From: from, To: now})
	cas := srv.CloudApps(sourcetest.TenantID).Generate(150, sim.CloudAppsGenerate{From: from, To: now})
	g := srv.Graph(sourcetest.TenantID)
	g.Generate(400, sim.GraphGenerate{From: from, To: now})
	return g, mde, cas
}

// latest lists every alert Graph shows, each as the API renders it.
func latest(t *testing.T, g *sim.GraphTenant) [][]byte {
	t.Helper()
	var out [][]byte
	seen := map[string]bool{}
	for _, v := range g.Versions() {
		if seen[v.ID] {
			continue
		}
		seen[v.ID] = true
		a, ok := g.Latest(v.ID)
		if !ok {
			continue
		}
		raw, err := json.Marshal(a)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, raw)
	}
	return out
}

// TestEveryEvidenceType: every evidence type the simulator serves, in every form it serves it,
// becomes an entity of its type that names or identifies something — alone in an alert, so
// that no other item's entity stands in for it.
func TestEveryEvidenceType(t *testing.T) {
	for _, typ := range sim.GraphEvidenceTypes() {
		if _, ok := evidenceEntity[strings.TrimPrefix(typ, "#microsoft.graph.security.")]; !ok {
			t.Errorf("%s: no entity type expected in this test; add it", typ)
		}
	}
	g, _, _ := simulatedGraph(t)
	seen := map[string]int{}
	for _, raw := range latest(t, g) {
		a, err := decodeAlert(raw)
		if err != nil {
			t.Fatalf("%v: %s", err, raw)
		}
		for _, ev := range a.Evidence {
			var h evidenceHead
			if err := json.Unmarshal(ev, &h); err != nil {
				t.Fatal(err)
			}
			name := strings.TrimPrefix(h.Type, "#microsoft.graph.security.")
			seen[name]++
			one := alert{ID: a.ID, LastUpdateDateTime: a.LastUpdateDateTime, Evidence: []json.RawMessage{ev}}
			env, err := normalize(&one, raw, normIdentity, envelope.Created)
			if err != nil {
				t.Fatal(err)
			}
			want := evidenceEntity[name]
			i := slices.IndexFunc(env.Entities, func(e envelope.Entity) bool { return e.Type == want })
			if i < 0 {
				t.Errorf("%s became %+v, want a %s entity: %s", name, env.Entities, want, ev)
				continue
			}
			if e := env.Entities[i]; e.Name == "" && e.ID == "" && e.Address == "" && e.URL == "" && e.Key == "" && e.SHA1 == "" && e.PID == nil && saysSomething(t, ev) {
				t.Errorf("%s became %+v, which says nothing: %s", name, e, ev)
			}
		}
	}
	for _, typ := range sim.GraphEvidenceTypes() {
		if name := strings.TrimPrefix(typ, "#microsoft.graph.security."); seen[name] == 0 {
			t.Errorf("the simulator served no %s; generate more alerts", name)
		}
	}
}

// TestJoinWithOlderSources: the simulator's Graph gives an Endpoint alert's id, and a Cloud Apps
// alert's _id, as providerAlertId, so provider_alert_id and service_source name the alert as
// the endpoint and cloudapps sources do; a Cloud Apps alert's Graph id is another one.
func TestJoinWithOlderSources(t *testing.T) {
	g, mde, cas := simulatedGraph(t)
	joined := map[string]map[string]bool{envelope.ServiceDefenderForEndpoint: {}, envelope.ServiceDefenderForCloudApps: {}}
	for _, raw := range latest(t, g) {
		a, err := decodeAlert(raw)
		if err != nil {
			t.Fatal(err)
		}
		env, err := normalize(a, raw, normIdentity, envelope.Updated)
		if err != nil {
			t.Fatal(err)
		}
		if env.ServiceSource == nil || env.ProviderAlertID == nil {
			t.Fatalf("%s: service_source %v, provider_alert_id %v", env.ID, env.ServiceSource, env.ProviderAlertID)
		}
		switch *env.ServiceSource {
		case envelope.ServiceDefenderForEndpoint:
			if env.ID != *env.ProviderAlertID {
				t.Errorf("Endpoint alert %s: provider_alert_id %s", env.ID, *env.ProviderAlertID)
			}
		case envelope.ServiceDefenderForCloudApps:
			if env.ID == *env.ProviderAlertID {
				t.Errorf("Cloud Apps alert %s: its Graph id is its _id", env.ID)
			}
		default:
			continue
		}
		joined[*env.ServiceSource][*env.ProviderAlertID] = true
	}
	for _, id := range mde {
		// Graph leaves out Endpoint alerts without an incident; those it shows must join.
		if _, shown := g.Latest(id); shown != joined[envelope.ServiceDefenderForEndpoint][id] {
			t.Errorf("Endpoint alert %s: shown by Graph %v, joined %v", id, shown, joined[envelope.ServiceDefenderForEndpoint][id])
		}
	}
	for _, id := range cas {
		if !joined[envelope.ServiceDefenderForCloudApps][id] {
			t.Errorf("Cloud Apps alert %s: no Graph alert with that providerAlertId", id)
		}
	}
	if len(joined[envelope.ServiceDefenderForEndpoint]) == 0 || len(joined[envelope.ServiceDefenderForCloudApps]) != len(cas) {
		t.Errorf("joined %d Endpoint and %d of %d Cloud Apps alerts", len(joined[envelope.ServiceDefenderForEndpoint]),
			len(joined[envelope.ServiceDefenderForCloudApps]), len(cas))
	}
}

// saysSomething reports whether an evidence item has a text property beyond those of every
// item (an Endpoint alert's mailbox evidence can have none: its MDE evidence was all null).
func saysSomething(t *testing.T, ev json.RawMessage) bool {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(ev, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"@odata.type", "createdDateTime", "verdict", "remediationStatus", "remediationStatusDetails", "roles", "detailedRoles", "tags"} {
		delete(m, k)
	}
	var text func(v any) bool
	text = func(v any) bool {
		switch v := v.(type) {
		case string:
			return v != ""
		case []any:
			return slices.ContainsFunc(v, text)
		case map[string]any:
			for _, x := range v {
				if text(x) {
					return true
				}
			}
		}
		return false
	}
	return text(m)
}
