package config

import (
	"os"
	"strings"
	"testing"

	"github.com/alertexport/alertexport/sources/apis"
)

// TestCloudTable pins every value of the clouds table to the line of
// Microsoft's documentation (or, where it is silent, the integrators' code) it comes from;
// testdata/clouds-sources.md holds those lines
// verbatim. A value must appear (without "/.default" for Graph scopes, built as resource +
// "/.default") on its source line.
func TestCloudTable(t *testing.T) {
	data, err := os.ReadFile("testdata/clouds-sources.md")
	if err != nil {
		t.Fatal(err)
	}
	sourceLine := func(marker string) string {
		for _, l := range strings.Split(string(data), "\n") {
			if strings.Contains(l, marker) {
				return l
			}
		}
		t.Fatalf("no source line contains %q", marker)
		return ""
	}
	const (
		commercial = "| Commercial (current documented base)"
		gcc        = "| US Gov **GCC** |"
		gov        = "| US Gov **GCC High & DoD** |"
		cloudApps  = "scope=05a65629-4c1b-48c1-a78b-804c4abdd4af/.default"
		graph      = "GET https://graph.microsoft.com/v1.0/security/alerts_v2"
	)
	rows := map[string]string{"public": commercial, "gcc": gcc, "gcc-high": gov, "dod": gov}
	portals := map[string]string{"public": "the commercial portal is", "gcc": "| GCC |", "gcc-high": "| GCC High |", "dod": "| DoD |"}
	pinned := 0
	for _, c := range clouds {
		row := rows[c.Name]
		if row == "" {
			t.Fatalf("cloud %q has no source row", c.Name)
		}
		ep, ca, gr := apis.Endpoint.Hosts[c.Name], apis.CloudApps.Hosts[c.Name], apis.Graph.Hosts[c.Name]
		for _, v := range []struct{ field, value, marker string }{
			{"AuthorityHost", c.AuthorityHost, row},
			{"endpoint URL", ep.URL, row},
			{"endpoint scope", ep.Scope, row},
			{"cloudapps scope", ca.Scope, cloudApps},
			{"graph URL", gr.URL, graph},
			{"graph scope", gr.Resource(), graph},
			{"Portal", c.Portal, portals[c.Name]},
		} {
			pinned++
			if l := sourceLine(v.marker); !strings.Contains(l, "`"+v.value) && !strings.Contains(l, "="+v.value) {
				t.Errorf("%s.%s = %q is not on its source line (%s)", c.Name, v.field, v.value, v.marker)
			}
		}
		if gr.Scope != gr.URL+"/.default" {
			t.Errorf("%s: Graph scope %q is not its resource + /.default", c.Name, gr.Scope)
		}
	}
	if pinned != 7*4 {
		t.Errorf("pinned %d values, want every one of 4 clouds × 7", pinned)
	}
	// Every API answers in every cloud, and no API names a cloud config does not know.
	for _, a := range []apis.API{apis.Endpoint, apis.CloudApps, apis.Graph} {
		if len(a.Hosts) != len(clouds) {
			t.Errorf("%s has hosts for %d clouds, want the %d of the clouds table", a.Name, len(a.Hosts), len(clouds))
		}
		for _, c := range clouds {
			if h, ok := a.Hosts[c.Name]; !ok || !strings.HasSuffix(h.Scope, "/.default") {
				t.Errorf("%s in cloud %s: host %+v, want one with a scope ending in /.default", a.Name, c.Name, h)
			}
		}
	}
	// Where the sources disagree with each other, the table takes a side; these pin the choice.
	for name, want := range map[string]string{"gcc": "https://graph.microsoft.com", "gcc-high": "https://graph.microsoft.us", "dod": "https://dod-graph.microsoft.us"} {
		if got := apis.Graph.Hosts[name].URL; got != want {
			t.Errorf("%s Graph = %q, want %q", name, got, want)
		}
	}
}
