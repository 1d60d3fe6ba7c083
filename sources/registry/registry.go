// Package registry is the one table of the APIs alertexport reads: each line pairs an API's
// facts (sources/apis) with the factory that builds its source. The daemon, backfill,
// `consent-url`, demo and the bench read it; config and `auth check` read the facts. Adding an API is its folder in sources/, its
// facts in sources/apis, one line here and (for now) its table in config's schema.
package registry

import (
	"fmt"
	"strings"

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

// APIs is the registry, in the order config lists a tenant's sources (and `consent-url` its
// permissions). A slice, not a map, so that every listing comes out in one order.
var APIs = []Entry{
	{apis.Endpoint, factory(endpoint.New)},
	{apis.CloudApps, factory(cloudapps.New)},
	{apis.Graph, factory(graph.New)},
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

// Names lists the registered APIs' names in registry order, each through format (e.g.
// "[tenant.%s]"), as "a, b or c" for messages and help texts.
func Names(format string) string {
	var b strings.Builder
	for i, e := range APIs {
		switch {
		case i == 0:
		case i == len(APIs)-1:
			b.WriteString(" or ")
		default:
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, format, e.Name)
	}
	return b.String()
}

// factory turns a source package's New, which returns its own type, into a Factory.
func factory[S sources.Source](newSource func(apis.Settings, *httpclient.API, sources.Options) S) Factory {
	return func(s apis.Settings, api *httpclient.API, o sources.Options) sources.Source {
		return newSource(s, api, o)
	}
}
