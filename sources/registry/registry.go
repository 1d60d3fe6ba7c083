// Package registry is the one table of the APIs alertexport reads: each line pairs an API's
// facts (sources/apis, whose All lists them for config and `auth check`) with the factory that
// builds its source. The daemon, backfill, `consent-url`, demo and the bench read it. Adding an
// API is its folder in sources/, its facts in sources/apis (and its name in apis.All), one line
// here, its part of the simulator and its docs page (docs/adding-an-api.md).
package registry

import (
	"github.com/alertexport/alertexport/sources"
	"github.com/alertexport/alertexport/sources/apis"
	"github.com/alertexport/alertexport/sources/cloudapps"
	"github.com/alertexport/alertexport/sources/endpoint"
	"github.com/alertexport/alertexport/sources/graph"
	"github.com/alertexport/alertexport/sources/httpclient"
)

// Factory builds the source of one (tenant, API) job: s are the job's settings, api the HTTP
// client with the tenant's token source and the job's limiter.
type Factory func(s apis.Settings, api *httpclient.API, o sources.Options) sources.Source

// Entry is one API: what is known of it and how to build its source.
type Entry struct {
	apis.API
	New Factory
}

// APIs is the registry, in the order of apis.All (a test holds them to it). A slice, not a map,
// so that every listing comes out in one order.
var APIs = []Entry{
	{apis.Endpoint, factory(endpoint.New)},
	{apis.CloudApps, factory(cloudapps.New)},
	{apis.Graph, factory(graph.New)},
	{apis.Incidents, factory(graph.NewIncidents)},
}

// Lookup returns the entry of the API called name.
func Lookup(name string) (Entry, bool) {
	for _, e := range APIs {
		if e.Name == name {
			return e, true
		}
	}
	return Entry{}, false
}

// factory turns a source package's New, which returns its own type, into a Factory.
func factory[S sources.Source](newSource func(apis.Settings, *httpclient.API, sources.Options) S) Factory {
	return func(s apis.Settings, api *httpclient.API, o sources.Options) sources.Source {
		return newSource(s, api, o)
	}
}
