package odata

import (
	"strings"
	"testing"
	"time"
)

// row is a tiny entity: enough properties to reach every kind.
type row struct {
	created  *time.Time
	count    *int64
	owner    *string
	severity string
}

var testSchema = func() *Schema[row] {
	props := []*Prop[row]{
		{Name: "created", Kind: KindDateTime, Edm: "Edm.DateTimeOffset", Time: func(r *row) *time.Time { return r.created }},
		{Name: "count", Kind: KindLong, Edm: "Edm.Int64", Long: func(r *row) *int64 { return r.count }},
		{Name: "owner", Kind: KindString, Edm: "Edm.String", Str: func(r *row) *string { return r.owner }},
		{Name: "severity", Kind: KindEnum, Edm: "Severity", Members: []string{"low", "medium", "high"}, Sentinel: -1,
			Str: func(r *row) *string { return &r.severity }},
	}
	m := make(map[string]*Prop[row], len(props))
	for _, p := range props {
		m[p.Name] = p
	}
	return &Schema[row]{Entity: "Row", Props: m, OrderedEnums: true}
}()

func TestParse(t *testing.T) {
	created := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	count := int64(7)
	owner := "ana"
	r := row{created: &created, count: &count, owner: &owner, severity: "medium"}
	tests := []struct {
		filter string
		want   bool
	}{
		{"created gt 2026-03-01T00:00:00Z", true},
		{"created lt 2026-03-01T00:00:00Z", false},
		{"count eq 7 and owner eq 'ana'", true},
		{"count ne 7 or owner eq 'ana'", true},
		{"not (owner eq 'ana')", false},
		{"severity ge 'medium'", true},
		{"severity gt 'medium'", false},
		{"owner eq null", false},
	}
	for _, tt := range tests {
		t.Run(tt.filter, func(t *testing.T) {
			match, err := Parse(tt.filter, testSchema, Options{})
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if got := match(&r); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestParseRefusals(t *testing.T) {
	tests := []struct {
		filter, want string
	}{
		{"owner eq", "Expression expected at position 8 in 'owner eq'."},
		{"owner eq 'ana')", "Syntax error at position 14 in 'owner eq 'ana')'."},
		{"color eq 'red'", "Could not find a property named 'color' on type 'Row'."},
		{"count eq 'seven'", "A binary operator with incompatible types was detected. Found operand types 'Edm.Int64' and 'Edm.String' for operator kind 'Equal'."},
		{"owner", "The $filter expression must evaluate to a single boolean value."},
		{"Severity'high' eq severity", "typed literals are not supported"},
	}
	for _, tt := range tests {
		t.Run(tt.filter, func(t *testing.T) {
			_, err := Parse(tt.filter, testSchema, Options{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}
