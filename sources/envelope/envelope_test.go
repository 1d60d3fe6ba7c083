package envelope

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func testAlert(raw string) *Alert {
	title := "Suspicious <script> & \"quotes\""
	return &Alert{Schema: Schema, ID: "da1", Source: "endpoint", Tenant: "contoso", Event: Created, Title: &title,
		Severity: SeverityHigh, Status: StatusNew, UpdatedAt: time.Date(2026, 1, 2, 3, 4, 5, 1234500, time.UTC),
		MitreTechniques: []string{}, MitreTactics: []string{}, Entities: []Entity{{Type: "device", Name: "h"}}, Raw: json.RawMessage(raw)}
}

// TestMarshalWritesRawAsSent: raw keeps the API's bytes exactly (whitespace, <, >, &, escapes),
// the rest is compact with every key, and the whole is one valid JSON object.
func TestMarshalWritesRawAsSent(t *testing.T) {
	for _, raw := range []string{
		`{"id":"da1","title":"a <b> & c"}`,
		"{\n  \"id\": \"da1\",\n  \"t\": \"\\u00e9\\n\"\n}",
		`[1,2,3]`,
		``,
	} {
		out, err := Marshal(testAlert(raw))
		if err != nil {
			t.Fatal(err)
		}
		if !json.Valid(out) {
			t.Fatalf("invalid JSON: %s", out)
		}
		want := `"raw":` + raw + `}`
		if raw == "" {
			want = `"raw":null}`
		}
		if !bytes.HasSuffix(out, []byte(want)) {
			t.Errorf("raw not written as sent: %s", out)
		}
		if !strings.Contains(string(out), `"title":"Suspicious <script> & \"quotes\""`) || !strings.Contains(string(out), `"updated_at":"2026-01-02T03:04:05.0012345Z"`) {
			t.Errorf("fields: %s", out)
		}
		var back Alert
		if err := json.Unmarshal(out, &back); err != nil || back.ID != "da1" {
			t.Errorf("round trip: %v", err)
		}
	}
}

// BenchmarkMarshal: an alert with a 3.5 KB raw body, the size of a Defender for Endpoint alert
// with evidence.
func BenchmarkMarshal(b *testing.B) {
	raw := `{"id":"da1","evidence":[` + strings.Repeat(`{"entityType":"Process","processCommandLine":"powershell.exe -enc AAAA","sha1":"5f1e8acedc065031aad553b710838eb366cfee9a"},`, 30) + `{}]}`
	a := testAlert(raw)
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Marshal(a); err != nil {
			b.Fatal(err)
		}
	}
}
