package registry_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/alertexport/alertexport/config"
	"github.com/alertexport/alertexport/sources"
	"github.com/alertexport/alertexport/sources/apis"
	"github.com/alertexport/alertexport/sources/cloudapps"
	"github.com/alertexport/alertexport/sources/endpoint"
	"github.com/alertexport/alertexport/sources/graph"
	"github.com/alertexport/alertexport/sources/httpclient"
	"github.com/alertexport/alertexport/sources/registry"
)

// TestEveryAPIIsComplete: each line of the registry carries what config, auth, the limiter and
// the daemon need, and builds a source that backfill can drive.
func TestEveryAPIIsComplete(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for _, e := range registry.APIs {
		t.Run(e.Name, func(t *testing.T) {
			switch {
			case e.Name == "" || strings.ToLower(e.Name) != e.Name || strings.ContainsAny(e.Name, ". *>"):
				t.Errorf("name %q is not one lower-case subject token", e.Name)
			case seen[e.Name]:
				t.Errorf("name %q is registered twice", e.Name)
			}
			seen[e.Name] = true
			if e.Title == "" || e.Entra == "" || e.EntraTab == "" {
				t.Errorf("title %q, Entra name %q, tab %q: messages need all three", e.Title, e.Entra, e.EntraTab)
			}
			if len(e.Roles) == 0 {
				t.Error("no roles: auth check could not say what to grant")
			}
			if len(e.Limits) == 0 {
				t.Error("no documented limits: rate_limits would default to none")
			}
			for _, l := range e.Limits {
				if l.Requests <= 0 || l.Per <= 0 {
					t.Errorf("limit %v is not a rate", l)
				}
			}
			if e.PageCap <= 0 {
				t.Errorf("page cap %d", e.PageCap)
			}
			s := e.New(config.Tenant{Name: "contoso"}.Settings(config.Source{APIURL: "https://unused", Lookback: time.Minute}),
				&httpclient.API{}, sources.Options{})
			if _, ok := s.(sources.Backfiller); !ok {
				t.Errorf("the source, a %T, cannot backfill", s)
			}
		})
	}
}

// TestEveryAPIIsRegistered: every API config knows (apis.All) has its line, in the same order
// and under the name its source package uses in messages, so the daemon never skips an enabled
// source.
func TestEveryAPIIsRegistered(t *testing.T) {
	t.Parallel()
	var want, got []string
	for _, a := range apis.All() {
		want = append(want, a.Name)
	}
	for _, e := range registry.APIs {
		got = append(got, e.Name)
	}
	if !slices.Equal(got, want) {
		t.Errorf("registry lines %v, want one per API in apis.All, in its order: %v", got, want)
	}
	for name, pkgName := range map[string]string{apis.Endpoint.Name: endpoint.Name, apis.CloudApps.Name: cloudapps.Name, apis.Graph.Name: graph.Name, apis.Incidents.Name: graph.IncidentsName} {
		if pkgName != name {
			t.Errorf("the %s package calls itself %q", name, pkgName)
		}
	}
	if _, ok := registry.Lookup("nope"); ok {
		t.Error("Lookup found an API nobody registered")
	}
}
