package envelopetest

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/alertexport/alertexport/sources/envelope"
)

// valid is a whole envelope with every kind of field set, as envelope.Marshal writes it.
func valid(t *testing.T) []byte {
	t.Helper()
	s := func(v string) *string { return &v }
	created := time.Date(2026, 11, 22, 10, 0, 0, 123_456_700, time.UTC)
	pid := int64(3276)
	body, err := envelope.Marshal(&envelope.Alert{
		Schema: envelope.Schema, ID: "da637472900382838869_1364969609", ProviderAlertID: s("da637472900382838869_1364969609"),
		Source: "endpoint", ServiceSource: s(envelope.ServiceDefenderForEndpoint), Tenant: "contoso",
		TenantID: "a839b112-1253-6432-9bf6-94542403f21c", Event: envelope.Created, Title: s("t"),
		Severity: envelope.SeverityHigh, Status: envelope.StatusNew, CreatedAt: &created,
		UpdatedAt: created.Add(time.Second), Classification: s("true_positive"),
		MitreTechniques: []string{"T1064"}, MitreTactics: []string{}, URL: s("https://security.microsoft.com/alerts/x?tid=y"),
		Entities: []envelope.Entity{{Type: "device", Name: "pc1", ID: "111e"}, {Type: "process", PID: &pid, CommandLine: "a b"}},
		Raw:      json.RawMessage(`{"id":"da637472900382838869_1364969609"}`),
	})
	if err != nil {
		t.Fatal(err)
	}
	return body
}

// validIncident is a whole incident envelope, as Incident.Marshal writes it.
func validIncident(t *testing.T) []byte {
	t.Helper()
	s := func(v string) *string { return &v }
	created := time.Date(2026, 11, 22, 10, 0, 0, 123_456_700, time.UTC)
	body, err := (&envelope.Incident{
		Schema: envelope.IncidentSchema, ID: "2972395", Source: "incidents", Tenant: "contoso",
		TenantID: "a839b112-1253-6432-9bf6-94542403f21c", Event: envelope.Updated, Title: s("Multi-stage incident"),
		Severity: envelope.SeverityHigh, Status: envelope.IncidentRedirected, AssignedTo: s("KaiC@contoso.com"),
		CreatedAt: &created, UpdatedAt: created.Add(time.Hour), URL: s("https://security.microsoft.com/incidents/2972395?tid=x"),
		RedirectIncidentID: s("2972400"), Tags: []string{"Demo"}, AlertIDs: []string{"da637551227677560813_-961444813"},
		Raw: json.RawMessage(`{"id":"2972395"}`),
	}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return body
}

func TestValidEnvelope(t *testing.T) {
	for name, body := range map[string][]byte{"alert": valid(t), "incident": validIncident(t)} {
		if err := Validate(body); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestDocumentedExample holds the examples on docs/messages.md and docs/incidents.md to the
// schema.
func TestDocumentedExample(t *testing.T) {
	path, err := findSchema()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"messages.md", "incidents.md"} {
		page, err := os.ReadFile(filepath.Join(filepath.Dir(path), name))
		if err != nil {
			t.Fatal(err)
		}
		_, after, ok := bytes.Cut(page, []byte("```json\n"))
		example, _, ok2 := bytes.Cut(after, []byte("```"))
		if !ok || !ok2 {
			t.Fatalf("docs/%s has no ```json example", name)
		}
		if err := Validate(example); err != nil {
			t.Errorf("docs/%s: %v", name, err)
		}
	}
}

// TestWrongBodies: each deliberately broken body fails, and the error names what is wrong.
func TestWrongBodies(t *testing.T) {
	edit := func(f func(m map[string]any)) []byte { return editBody(t, valid(t), f) }
	editIncident := func(f func(m map[string]any)) []byte { return editBody(t, validIncident(t), f) }
	for _, tc := range []struct {
		name string
		body []byte
		want string // in the error
	}{
		{"not JSON", []byte(`{"schema":`), "not JSON"},
		{"a dead letter's raw bytes", []byte(`{"id":"da1","title":"x"}`), "missing properties"},
		{"wrong schema", edit(func(m map[string]any) { m["schema"] = "alertexport.alert.v2" }), "/schema"},
		{"key missing", edit(func(m map[string]any) { delete(m, "title") }), "title"},
		{"unknown key", edit(func(m map[string]any) { m["extra"] = 1 }), "extra"},
		{"severity not normalized", edit(func(m map[string]any) { m["severity"] = "High" }), "/severity"},
		{"status not normalized", edit(func(m map[string]any) { m["status"] = "InProgress" }), "/status"},
		{"event", edit(func(m map[string]any) { m["event"] = "deleted" }), "/event"},
		{"source", edit(func(m map[string]any) { m["source"] = "identity" }), "/source"},
		{"updated_at null", edit(func(m map[string]any) { m["updated_at"] = nil }), "/updated_at"},
		{"time not UTC", edit(func(m map[string]any) { m["created_at"] = "2026-11-22T10:00:00+01:00" }), "/created_at"},
		{"time not a time", edit(func(m map[string]any) { m["created_at"] = "2026-13-22T10:00:00Z" }), "/created_at"},
		{"tenant_id not a GUID", edit(func(m map[string]any) { m["tenant_id"] = "contoso.onmicrosoft.com" }), "/tenant_id"},
		{"entities null", edit(func(m map[string]any) { m["entities"] = nil }), "/entities"},
		{"mitre_techniques null", edit(func(m map[string]any) { m["mitre_techniques"] = nil }), "/mitre_techniques"},
		{"entity without type", edit(func(m map[string]any) { m["entities"] = []any{map[string]any{"name": "pc1"}} }), "/entities/0"},
		{"entity with an empty key", edit(func(m map[string]any) { m["entities"] = []any{map[string]any{"type": "ip", "address": ""}} }), "/entities/0/address"},
		{"pid a string", edit(func(m map[string]any) { m["entities"] = []any{map[string]any{"type": "process", "pid": "3276"}} }), "/entities/0/pid"},
		{"raw not an object", edit(func(m map[string]any) { m["raw"] = "{}" }), "/raw"},
		{"incident_id a number", edit(func(m map[string]any) { m["incident_id"] = 1126093 }), "/incident_id"},
		{"incident with an alert's status", editIncident(func(m map[string]any) { m["status"] = "new" }), "/status"},
		{"incident status not normalized", editIncident(func(m map[string]any) { m["status"] = "InProgress" }), "/status"},
		{"incident alert_ids null", editIncident(func(m map[string]any) { m["alert_ids"] = nil }), "/alert_ids"},
		{"incident without alert_ids", editIncident(func(m map[string]any) { delete(m, "alert_ids") }), "alert_ids"},
		{"incident with an empty alert id", editIncident(func(m map[string]any) { m["alert_ids"] = []any{""} }), "/alert_ids/0"},
		{"incident tags null", editIncident(func(m map[string]any) { m["tags"] = nil }), "/tags"},
		{"incident from another source", editIncident(func(m map[string]any) { m["source"] = "graph" }), "/source"},
		{"incident with an alert's key", editIncident(func(m map[string]any) { m["entities"] = []any{} }), "entities"},
		{"incident redirect empty", editIncident(func(m map[string]any) { m["redirect_incident_id"] = "" }), "/redirect_incident_id"},
		{"alert under the incident schema", edit(func(m map[string]any) { m["schema"] = "alertexport.incident.v1" }), "missing properties"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Validate(tc.body)
			if err == nil {
				t.Fatal("valid, want an error")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not mention %q", err, tc.want)
			}
		})
	}
}

// editBody is body with f applied to its decoded object.
func editBody(t *testing.T, body []byte, f func(m map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	f(m)
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
