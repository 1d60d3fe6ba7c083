package sim

import (
	"testing"
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
			if len(claims.Roles) != 1 || claims.Roles[0] != roles[0] {
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
