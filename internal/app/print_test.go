package app

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/nats-io/nats.go"

	"github.com/alertexport/alertexport/sources/envelope"
)

// osc52 writes "evil" to the operator's clipboard on terminals that honour OSC 52.
const osc52 = "\x1b]52;c;ZXZpbA==\x07"

// drivesTerminal reports the first byte or character of out (bar the final newline) that a
// terminal would act on.
func drivesTerminal(out string) (string, bool) {
	out = strings.TrimSuffix(out, "\n")
	for i, r := range out {
		switch {
		case r == utf8.RuneError && !strings.HasPrefix(out[i:], "\uFFFD"):
			return out[i : i+1], true
		case unicode.IsControl(r), r == '\u2028', r == '\u2029', unicode.Is(unicode.Bidi_Control, r):
			return string(r), true
		}
	}
	return "", false
}

func TestTerminalSafe(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ name, in, want string }{
		{"plain text stays", `Suspicious PowerShell on C:\Users\bob — 🚨`, `Suspicious PowerShell on C:\Users\bob — 🚨`},
		{"OSC 52 clipboard write", "title" + osc52, `title\x1b]52;c;ZXZpbA==\x07`},
		{"CSI as a C1 character", "a\u009b2Jb", `a\u009b2Jb`},
		{"CSI as a byte that is not UTF-8", "a\x9b2Jb", `a\x9b2Jb`},
		{"DEL, tab, newline and carriage return", "a\x7fb\tc\nd\re", `a\x7fb\x09c\x0ad\x0de`},
		{"right-to-left override", "invoice\u202Egpj.exe", `invoice\u202egpj.exe`},
		{"line separator", "one\u2028two", `one\u2028two`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := TerminalSafe(tt.in); got != tt.want {
				t.Errorf("TerminalSafe(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// TestTailAndDemoEscapeControlCharacters: a title holding an OSC 52 sequence (and other fields
// holding ESC, CSI and DEL) reaches the terminal as visible text in the line `tail` and `demo`
// print, in a dead letter's line, and in --json, which stays valid JSON of the same value.
func TestTailAndDemoEscapeControlCharacters(t *testing.T) {
	t.Parallel()
	title := "Mimikatz" + osc52 + " on host\u009b2J"
	a := envelope.Alert{Schema: "alertexport.alert.v1", ID: "da\x1b[31m1", Source: "endpoint", Tenant: "contoso\x7f",
		Event: "created", Title: &title, Severity: "high\x1b[8m", Status: "new", UpdatedAt: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC),
		// The raw alert as the API sent it: JSON allows DEL, C1 characters and bidirectional
		// controls raw in strings.
		Raw: json.RawMessage("{\"title\":\"x\u009b2J\x7f evil\u202egpj.exe\",\n  \"n\": 1}")}
	body, err := envelope.Marshal(&a)
	if err != nil {
		t.Fatal(err)
	}
	alert := &nats.Msg{Subject: "alerts.endpoint.contoso.high", Data: body}
	redirect := "42\x1b[2J"
	incBody, err := (&envelope.Incident{Schema: envelope.IncidentSchema, ID: "41", Source: "incidents", Tenant: "contoso", Event: "updated",
		Title: &title, Severity: "high", Status: "redirected", RedirectIncidentID: &redirect, AlertIDs: []string{"da1", "da2"},
		UpdatedAt: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC), Raw: json.RawMessage(`{"id":"41"}`)}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	incident := &nats.Msg{Subject: "alerts.incidents.contoso.high", Data: incBody}
	dead := &nats.Msg{Subject: "alerts.deadletter.endpoint.contoso", Data: []byte("{\"broken" + osc52),
		Header: nats.Header{envelope.HeaderError: {"cannot normalize: title" + osc52}, envelope.HeaderTenant: {"contoso\x1b[2J"}, envelope.HeaderSource: {"endpoint"}}}

	for _, tc := range []struct {
		name   string
		msg    *nats.Msg
		asJSON bool
		want   string
	}{
		{"alert line", alert, false, `Mimikatz\x1b]52;c;ZXZpbA==\x07 on host\u009b2J`},
		{"incident line", incident, false, `contoso/incidents  updated  Mimikatz\x1b]52;c;ZXZpbA==\x07 on host\u009b2J  (41)  [redirected, 2 alerts, merged into 42\x1b[2J]`},
		{"dead letter line", dead, false, `DEAD-LETTER  contoso\x1b[2J/endpoint  cannot normalize: title\x1b]52;c;ZXZpbA==\x07`},
		{"alert --json", alert, true, `"title":"Mimikatz\u001b]52;c;ZXZpbA==\u0007 on host\u009b2J"`},
		{"dead letter --json", dead, true, `{"broken\x1b]52;c;ZXZpbA==\x07`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			PrintAlert(&out, tc.msg, tc.asJSON)
			got := out.String()
			if c, bad := drivesTerminal(got); bad {
				t.Errorf("output holds %q raw:\n%q", c, got)
			}
			if !strings.Contains(got, tc.want) {
				t.Errorf("output lacks %s:\n%s", tc.want, got)
			}
			if strings.Count(got, "\n") != 1 {
				t.Errorf("not one line: %q", got)
			}
			if tc.asJSON && tc.msg == alert {
				var before, after any
				if err := json.Unmarshal(tc.msg.Data, &before); err != nil {
					t.Fatal(err)
				}
				if err := json.Unmarshal(out.Bytes(), &after); err != nil {
					t.Fatalf("--json printed invalid JSON: %v\n%s", err, got)
				}
				if !reflect.DeepEqual(before, after) {
					t.Errorf("--json changed the value:\n%s\n%s", tc.msg.Data, got)
				}
			}
		})
	}
	// The demo prints with the same function.
	var s summary
	s.bySev, s.bySource = map[string]int{}, map[string]int{}
	var out bytes.Buffer
	s.add(&out, alert)
	if c, bad := drivesTerminal(out.String()); bad {
		t.Errorf("demo output holds %q raw:\n%q", c, out.String())
	}
}
