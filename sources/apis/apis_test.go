package apis

import (
	"testing"
	"time"
)

func TestConsent(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		api  API
		want string
	}{
		{Endpoint, "Defender for Endpoint (WindowsDefenderATP)"},
		{CloudApps, "Defender for Cloud Apps (Microsoft Cloud App Security)"},
		{Graph, "Microsoft Graph"}, // its title already starts with its Entra name
	} {
		if got := tt.api.Consent(); got != tt.want {
			t.Errorf("%s: Consent() = %q, want %q", tt.api.Name, got, tt.want)
		}
	}
}

func TestLimit(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		l         Limit
		s         string
		perSecond float64
	}{
		{Limit{Requests: 100, Per: time.Minute}, "100/1m", 100.0 / 60},
		{Limit{Requests: 1500, Per: time.Hour}, "1500/1h", 1500.0 / 3600},
		{Limit{Requests: 7, Per: 90 * time.Second}, "7/1m30s", 7.0 / 90},
	} {
		if got := tt.l.String(); got != tt.s {
			t.Errorf("String() = %q, want %q", got, tt.s)
		}
		if got := tt.l.PerSecond(); got != tt.perSecond {
			t.Errorf("%s: PerSecond() = %v, want %v", tt.s, got, tt.perSecond)
		}
	}
}

func TestNames(t *testing.T) {
	t.Parallel()
	for format, want := range map[string]string{
		"%s":          "endpoint, cloudapps, graph or incidents",
		"[tenant.%s]": "[tenant.endpoint], [tenant.cloudapps], [tenant.graph] or [tenant.incidents]",
	} {
		if got := Names(format); got != want {
			t.Errorf("Names(%q) = %q, want %q", format, got, want)
		}
	}
}
