package sim

import (
	"io"
	"net/http"
	"slices"
	"testing"

	"github.com/alertexport/alertexport/sources/apis"
)

func TestAddReaderGrantsEveryAPI(t *testing.T) {
	t.Parallel()
	s := startServer(t, Options{})
	const tenant, app = "7d1e3c2b-0a9f-4e8d-b7c6-a5f4e3d2c1b0", "2f3e4d5c-6b7a-4c9d-8e0f-1a2b3c4d5e6f"
	s.AddReader(Reader{ClientID: app, Secret: "pw"}, tenant)
	for res, roles := range ReadRoles() {
		t.Run(res, func(t *testing.T) {
			a := postToken(t, s, tenant, secretForm(app, "pw", res+"/.default"))
			if a.status != 200 {
				t.Fatalf("token for %s: %v", res, a)
			}
			raw, _ := a.body["access_token"].(string)
			claims, err := s.VerifyAccessToken(raw)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(slices.Sorted(slices.Values(claims.Roles)), slices.Sorted(slices.Values(roles))) {
				t.Errorf("roles %v, want %v", claims.Roles, roles)
			}
		})
	}
}

func TestTenantTableTOML(t *testing.T) {
	t.Parallel()
	table := TenantTable{Name: "contoso", TenantID: "tid", ClientID: "cid", SecretEnv: "S",
		Sources: []SourceTable{{Source: "endpoint"}, {Source: "graph", Lines: []string{`min_severity = "high"`}}}}
	want := `[[tenant]]
name = "contoso"
tenant_id = "tid"
client_id = "cid"
client_secret_env = "S"
authority_host = "https://127.0.0.1:1"
[tenant.endpoint]
api_url = "https://127.0.0.1:1"
[tenant.graph]
api_url = "https://127.0.0.1:1"
min_severity = "high"
`
	if got := table.TOML("https://127.0.0.1:1"); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

// TestFailByAPIName: a fault queued by API name reaches that API of that
// tenant only, once.
func TestFailByAPIName(t *testing.T) {
	t.Parallel()
	s := startServer(t, Options{RateLimits: map[string]RateLimits{APIEndpoint: NoRateLimits(), APICloudApps: NoRateLimits(),
		APIGraph: NoRateLimits(), APIIncidents: NoRateLimits()}})
	const tenant, app, secret = "7d1e3c2b-0a9f-4e8d-b7c6-a5f4e3d2c1b0", "2f3e4d5c-6b7a-4c9d-8e0f-1a2b3c4d5e6f", "pw"
	s.AddReader(Reader{ClientID: app, Secret: secret}, tenant)
	// ReadRoles follows apis.All, which does not list incidents yet.
	s.Grant(tenant, app, GraphResource, apis.Incidents.Roles[0])
	tests := []struct {
		api, resource, method, path string
	}{
		{APIEndpoint, EndpointResource, http.MethodGet, "/api/alerts"},
		{APICloudApps, CloudAppsResource, http.MethodGet, "/api/v1/alerts/"},
		{APIGraph, GraphResource, http.MethodGet, "/v1.0/security/alerts_v2"},
		{APIIncidents, GraphResource, http.MethodGet, "/v1.0/security/incidents"},
	}
	for _, tt := range tests {
		t.Run(tt.api, func(t *testing.T) {
			tok := tokenFor(t, s, tenant, app, secret, tt.resource)
			status := func() int {
				t.Helper()
				req, err := http.NewRequest(tt.method, s.URL()+tt.path, nil)
				if err != nil {
					t.Fatal(err)
				}
				req.Header.Set("Authorization", "Bearer "+tok)
				resp, err := s.Client().Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				_, _ = io.Copy(io.Discard, resp.Body)
				return resp.StatusCode
			}
			s.Fail(tt.api, tenant, 1, APIFault{Status: http.StatusServiceUnavailable})
			if got := status(); got != http.StatusServiceUnavailable {
				t.Errorf("faulted request: %d, want 503", got)
			}
			if got := status(); got != http.StatusOK {
				t.Errorf("next request: %d, want 200", got)
			}
		})
	}
	t.Run("unknown API", func(t *testing.T) {
		defer func() {
			if recover() == nil {
				t.Error("Fail accepted an unknown API")
			}
		}()
		s.Fail("defender", tenant, 1, APIFault{Status: 500})
	})
}
