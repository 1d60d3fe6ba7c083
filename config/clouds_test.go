package config

import "testing"

// TestCloudTable pins every value of the clouds table to where it comes from. The sources are
// the sections of shared/research/defender-apis.md named in each row (which cite Microsoft Learn).
func TestCloudTable(t *testing.T) {
	tests := []struct {
		cloud, field, got, want, source string
	}{}
	add := func(cloud, field, want, source string) {
		c, ok := LookupCloud(cloud)
		if !ok {
			t.Fatalf("cloud %q missing", cloud)
		}
		got := map[string]string{
			"authority": c.AuthorityHost, "endpoint api": c.EndpointAPI, "endpoint scope": c.EndpointScope,
			"cloudapps scope": c.CloudAppsScope, "graph api": c.GraphAPI, "graph scope": c.GraphScope,
		}[field]
		tests = append(tests, struct{ cloud, field, got, want, source string }{cloud, field, got, want, source})
	}
	const (
		a1     = "A1 table, Commercial rows (defender-endpoint/api/exposed-apis-list.md, exposed-apis-create-app-webapp.md)"
		a1gcc  = "A1 table, US Gov GCC row (defender-endpoint/gov.md; scope from third-party scripts, see 'could not confirm' 3)"
		a1high = "A1 table, US Gov GCC High & DoD row (defender-endpoint/gov.md; msticpy cloud_mappings for login and scope)"
		b1     = "B1, Entra app token: scope 05a65629-4c1b-48c1-a78b-804c4abdd4af/.default (CloudAppSecurityDocs/api-authentication-application.md); US Gov audience undocumented"
		c      = "Part C: Global graph.microsoft.com, US Gov L4 graph.microsoft.us, US Gov L5/DoD dod-graph.microsoft.us (includes/global-us.md)"
	)
	add("public", "authority", "https://login.microsoftonline.com", a1)
	add("public", "endpoint api", "https://api.security.microsoft.com", a1)
	add("public", "endpoint scope", "https://api.securitycenter.microsoft.com/.default", a1)
	add("public", "cloudapps scope", "05a65629-4c1b-48c1-a78b-804c4abdd4af/.default", b1)
	add("public", "graph api", "https://graph.microsoft.com", c)
	add("public", "graph scope", "https://graph.microsoft.com/.default", c)
	add("gcc", "authority", "https://login.microsoftonline.com", a1gcc)
	add("gcc", "endpoint api", "https://api-gcc.securitycenter.microsoft.us", a1gcc)
	add("gcc", "endpoint scope", "https://api-gcc.securitycenter.microsoft.us/.default", a1gcc)
	add("gcc", "cloudapps scope", "05a65629-4c1b-48c1-a78b-804c4abdd4af/.default", b1)
	add("gcc", "graph api", "https://graph.microsoft.com", c+" — GCC (moderate) uses the global Graph")
	add("gcc", "graph scope", "https://graph.microsoft.com/.default", c)
	for _, cl := range []string{"gcc-high", "dod"} {
		add(cl, "authority", "https://login.microsoftonline.us", a1high)
		add(cl, "endpoint api", "https://api-gov.securitycenter.microsoft.us", a1high)
		add(cl, "endpoint scope", "https://api-gov.securitycenter.microsoft.us/.default", a1high)
		add(cl, "cloudapps scope", "05a65629-4c1b-48c1-a78b-804c4abdd4af/.default", b1)
	}
	add("gcc-high", "graph api", "https://graph.microsoft.us", c)
	add("gcc-high", "graph scope", "https://graph.microsoft.us/.default", c)
	add("dod", "graph api", "https://dod-graph.microsoft.us", c)
	add("dod", "graph scope", "https://dod-graph.microsoft.us/.default", c)

	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s %s = %q, want %q (source: defender-apis.md %s)", tt.cloud, tt.field, tt.got, tt.want, tt.source)
		}
	}
	if got, want := len(tests), 6*len(clouds); got != want {
		t.Errorf("pinned %d values, the table has %d: pin every one", got, want)
	}
}
