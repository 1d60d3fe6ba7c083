package envelope

import (
	"bytes"
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
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

// TestTokenShortensLongValues: a token is lower-case [a-z0-9_-], never empty, and at most 64
// characters; a longer one keeps its first 47 characters and ends in a hash of the whole, so
// the same value always gives the same token and two long values differing only at their end
// give different ones.
func TestTokenShortensLongValues(t *testing.T) {
	long := strings.Repeat("Command And Control ", 250) // 5,000 characters
	for _, c := range []struct{ in, want string }{
		{"", "_"},
		{"High", "high"},
		{"Command And Control", "command_and_control"},
		{"a.b*c>d é", "a_b_c_d__"},
		{strings.Repeat("x", 64), strings.Repeat("x", 64)},
	} {
		if got := Token(c.in); got != c.want {
			t.Errorf("Token(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	tok := Token(long)
	if len(tok) != MaxToken {
		t.Errorf("a 5,000-character value gives a %d-character token %q", len(tok), tok)
	}
	if want := strings.ReplaceAll(strings.ToLower(long), " ", "_")[:47] + "-"; !strings.HasPrefix(tok, want) {
		t.Errorf("token %q does not start with the value's first 47 characters", tok)
	}
	if !regexp.MustCompile(`^[a-z0-9_-]+$`).MatchString(tok) {
		t.Errorf("token %q has characters outside [a-z0-9_-]", tok)
	}
	if Token(long) != tok {
		t.Error("the same value gave two tokens")
	}
	for _, other := range []string{long + "x", long[:len(long)-1] + "X", strings.Repeat("x", 65)} {
		if Token(other) == tok && !strings.EqualFold(other, long) {
			t.Errorf("two long values give the same token %q", tok)
		}
	}
	if Token(strings.Repeat("x", 65)) == Token(strings.Repeat("x", 66)) {
		t.Error("65 and 66 x give the same token")
	}
	if Token(tok) != tok {
		t.Error("a shortened token is not a token of itself")
	}
}

// TestMsgIDBoundsLongAlertIDs: a real alert id stays as it is in the message id; one longer
// than MaxIDInMsgID is shortened to a stable form of exactly that length, different for ids that
// differ only at their end, and never cut inside a UTF-8 character.
func TestMsgIDBoundsLongAlertIDs(t *testing.T) {
	at := time.UnixMilli(1737920039220)
	if got, want := MsgID("contoso", "endpoint", "da637472900382838869_1364969609", at), "contoso.endpoint.da637472900382838869_1364969609.1737920039220"; got != want {
		t.Errorf("MsgID = %q, want %q", got, want)
	}
	id128 := strings.Repeat("a", MaxIDInMsgID)
	if got := MsgID("c", "graph", id128, at); got != "c.graph."+id128+".1737920039220" {
		t.Errorf("an id of exactly %d bytes was changed: %q", MaxIDInMsgID, got)
	}
	long := strings.Repeat("da637472900382838869_", 5000) // 105,000 bytes
	a := MsgID("contoso", "endpoint", long+"1", at)
	b := MsgID("contoso", "endpoint", long+"2", at)
	if a == b {
		t.Fatal("two long ids differing only at the end give the same message id")
	}
	if a != MsgID("contoso", "endpoint", long+"1", at) {
		t.Error("the same long id gave two message ids")
	}
	for _, id := range []string{a, b} {
		if n := len(id) - len("contoso.endpoint..1737920039220"); n != MaxIDInMsgID {
			t.Errorf("the shortened id takes %d bytes, want %d: %q", n, MaxIDInMsgID, id)
		}
	}
	if !strings.HasPrefix(a, "contoso.endpoint.da637472900382838869_") {
		t.Errorf("the shortened id does not start with the id: %q", a)
	}
	wide := strings.Repeat("é", 200) // 2 bytes each: the cut must not split one
	if s := ShortID(wide); !utf8.ValidString(s) || len(s) > MaxIDInMsgID {
		t.Errorf("ShortID of a UTF-8 id = %q (%d bytes)", s, len(s))
	}
}

// TestRawOf: the raw a Marshal'ed envelope carries comes back byte for byte, even when a string
// before it or the raw itself contains `"raw":`.
func TestRawOf(t *testing.T) {
	for _, raw := range []string{`{"id":"da1"}`, `{"raw":{"raw":1}}`, "[1, 2]", ""} {
		a := testAlert(raw)
		title := `a title with ,"raw": in it`
		a.Title = &title
		body, err := Marshal(a)
		if err != nil {
			t.Fatal(err)
		}
		if got := RawOf(body); string(got) != raw {
			t.Errorf("RawOf = %q, want %q", got, raw)
		}
	}
	if got := RawOf([]byte(`{"id":"x"}`)); got != nil {
		t.Errorf("RawOf of a body without raw = %q", got)
	}
}

// TestLower: Lower is strings.ToLower when that is one of the names known, whatever the case or
// the characters (a Kelvin sign lowers to an ASCII k), and "" for any other value.
func TestLower(t *testing.T) {
	known := []string{"high", "registrykey", "in_progress"}
	for _, s := range []string{"High", "HIGH", "high", "hIgH", "RegistryKey", "Registry\u212Aey", "In_Progress",
		"", "hi", "highs", "Hıgh", "İhigh", "registry key", "in-progress", "\xffhigh"} {
		want := strings.ToLower(s)
		if !slices.Contains(known, want) {
			want = ""
		}
		if got := Lower(s, known...); got != want {
			t.Errorf("Lower(%q) = %q, want %q", s, got, want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { Lower("Process", "file", "process") }); n != 0 {
		t.Errorf("Lower of an ASCII name allocates %v times", n)
	}
}
