package sim

import (
	"fmt"
	"strings"

	"github.com/alertexport/alertexport/sources/apis"
)

// A simulated world for tests, the demo and the bench: tenants with one app
// that may read every API's alerts, and the [[tenant]] tables of
// alertexport's config that point at this simulator. Kept here so that the
// grants and the URLs are written once.

// The resources a reader app is granted on, as it asks for tokens.
const (
	EndpointResource  = "https://api.securitycenter.microsoft.com"
	CloudAppsResource = "05a65629-4c1b-48c1-a78b-804c4abdd4af"
	GraphResource     = "https://graph.microsoft.com"
)

// ReadRoles returns, per resource (in the public cloud, as the simulator's
// Entra issues them), the application role that lets an app read each API:
// the first, least one the API's facts list.
func ReadRoles() map[string][]string {
	out := map[string][]string{}
	for _, a := range apis.All() {
		res := a.Hosts["public"].Resource()
		out[res] = append(out[res], a.Roles[0])
	}
	return out
}

// Reader is an app with a client secret that reads alerts in its tenants.
type Reader struct {
	ClientID string
	Secret   string
	// Roles are the roles granted per resource; nil means ReadRoles.
	Roles map[string][]string
}

// AddReader registers r's app and, in each tenant (created when new),
// grants it r.Roles.
func (s *Server) AddReader(r Reader, tenantIDs ...string) {
	s.RegisterApp(App{ClientID: r.ClientID, Secrets: []Secret{{Value: r.Secret}}})
	roles := r.Roles
	if roles == nil {
		roles = ReadRoles()
	}
	for _, id := range tenantIDs {
		s.AddTenant(id)
		for res, rs := range roles {
			s.Grant(id, r.ClientID, res, rs...)
		}
	}
}

// TenantTable is a [[tenant]] table of alertexport's config.
type TenantTable struct {
	Name, TenantID, ClientID string
	// SecretEnv names the environment variable holding the client secret.
	SecretEnv string
	// Sources are the sources to enable ("endpoint", "cloudapps", "graph"),
	// in order, each with the extra lines of its table (TOML, may be empty).
	Sources []SourceTable
}

// SourceTable is one [tenant.<source>] table.
type SourceTable struct {
	Source string
	Lines  []string
}

// TOML renders t with the simulator at simURL (Server.URL) as authority
// host and API URL.
func (t TenantTable) TOML(simURL string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "[[tenant]]\nname = %q\ntenant_id = %q\nclient_id = %q\nclient_secret_env = %q\nauthority_host = %q\n",
		t.Name, t.TenantID, t.ClientID, t.SecretEnv, simURL)
	for _, src := range t.Sources {
		fmt.Fprintf(&b, "[tenant.%s]\napi_url = %q\n", src.Source, simURL)
		for _, l := range src.Lines {
			b.WriteString(l)
			b.WriteByte('\n')
		}
	}
	return b.String()
}
