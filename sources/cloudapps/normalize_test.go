package cloudapps

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

var testIdentity = identity{tenant: "contoso", tenantID: "a839b112-1253-6432-9bf6-94542403f21c"}

// TestGoldenEnvelopes normalizes every alert in testdata/alerts (the documented list example's
// alert among them) and compares the whole envelope with testdata/golden (-update rewrites).
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
			var c bytes.Buffer
			if err := json.Compact(&c, raw); err != nil {
				t.Fatal(err)
			}
			raw = c.Bytes()
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
				t.Error("raw is not the alert's bytes unchanged")
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

// TestMappings pins severityValue and resolutionStatusValue; a value the docs do not list is
// unknown, never an error.
func TestMappings(t *testing.T) {
	iptr := func(i int) *int { return &i }
	for _, c := range []struct {
		v    *int
		want string
	}{{iptr(0), "low"}, {iptr(1), "medium"}, {iptr(2), "high"}, {iptr(3), "informational"}, {iptr(4), "unknown"}, {nil, "unknown"}} {
		if got := severity(c.v); got != c.want {
			t.Errorf("severity(%v) = %q, want %q", c.v, got, c.want)
		}
	}
	for _, c := range []struct {
		v              *int
		status, classi string
	}{
		{iptr(0), "new", ""}, {iptr(1), "dismissed", ""}, {iptr(2), "resolved", ""},
		{iptr(3), "resolved", "false_positive"}, {iptr(4), "dismissed", "benign_positive"},
		{iptr(5), "resolved", "true_positive"}, {iptr(6), "unknown", ""}, {nil, "unknown", ""},
	} {
		st, cl := resolution(c.v)
		got := ""
		if cl != nil {
			got = *cl
		}
		if st != c.status || got != c.classi {
			t.Errorf("resolution(%v) = %q, %q; want %q, %q", c.v, st, got, c.status, c.classi)
		}
	}
	// An unknown resolutionStatusValue still normalizes: status unknown, version from timestamp.
	var a alert
	raw := []byte(`{"_id":"65a1b2c3d4e5f60718293a4c","timestamp":1732350000123,"resolutionStatusValue":9,"resolveTime":"2024-11-23T09:00:00Z"}`)
	if err := json.Unmarshal(raw, &a); err != nil {
		t.Fatal(err)
	}
	env, err := normalize(&a, raw, testIdentity, envelope.Created)
	if err != nil || env.Status != "unknown" {
		t.Errorf("unknown resolutionStatusValue: %v, %+v", err, env)
	}
}
