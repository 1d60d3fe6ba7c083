package cloudapps

import (
	"encoding/json"
	"flag"
	"testing"

	"github.com/alertexport/alertexport/sources"
	"github.com/alertexport/alertexport/sources/envelope"
	"github.com/alertexport/alertexport/sources/sourcetest"
)

var update = flag.Bool("update", false, "rewrite the golden envelopes in testdata/golden")

var testIdentity = sources.Identity{Tenant: "contoso", TenantID: "a839b112-1253-6432-9bf6-94542403f21c"}

// TestGoldenEnvelopes normalizes every alert in testdata/alerts (the documented list example's
// alert among them) and compares the whole envelope with testdata/golden (-update rewrites).
func TestGoldenEnvelopes(t *testing.T) {
	sourcetest.Golden(t, *update, func(raw []byte) (*envelope.Alert, error) {
		var a alert
		if err := json.Unmarshal(raw, &a); err != nil {
			return nil, err
		}
		return normalize(&a, raw, testIdentity, envelope.Created)
	})
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
		{iptr(3), "resolved", "false_positive"}, {iptr(4), "dismissed", "informational_expected_activity"},
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
	// An unknown resolutionStatusValue still normalizes: status unknown, version from its
	// resolveTime (it is not open).
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
