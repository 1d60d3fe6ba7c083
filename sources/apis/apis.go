// Package apis holds what alertexport knows of each Microsoft alert API it reads, as data: its
// name, where it answers in each national cloud, the application roles it accepts, Microsoft's
// documented call rates and its largest page. It imports nothing of ours, so that config, auth,
// the HTTP client and the bench read the same facts; sources/registry pairs each one with the
// factory that builds its source.
package apis

import (
	"fmt"
	"strings"
	"time"
)

// Limit is one call rate of an API, per tenant: at most Requests calls in any span of Per. The
// config writes it "Requests/Per", e.g. "100/1m".
type Limit struct {
	Requests int
	Per      time.Duration
}

// String writes the limit as the config does: 100/1m, 1500/1h.
func (l Limit) String() string {
	per := l.Per.String()
	if strings.HasSuffix(per, "m0s") {
		per = per[:len(per)-2]
	}
	if strings.HasSuffix(per, "h0m") {
		per = per[:len(per)-2]
	}
	return fmt.Sprintf("%d/%s", l.Requests, per)
}

// PerSecond is the limit's sustained rate.
func (l Limit) PerSecond() float64 { return float64(l.Requests) / l.Per.Seconds() }

// Host is where an API answers in one national cloud.
type Host struct {
	URL   string // base URL, no trailing slash; "" where each tenant has its own host
	Scope string // token scope: the API's resource + "/.default"
}

// Resource is the token audience for the scope: the resource, without "/.default".
func (h Host) Resource() string { return strings.TrimSuffix(h.Scope, "/.default") }

// API is one Microsoft alert API.
type API struct {
	// Name is the source's name: the config table [tenant.<Name>], subjects, state keys, metrics.
	Name string
	// Title names the API in messages.
	Title string
	// Entra is the API's name in the Entra admin center's "Add a permission", on tab EntraTab.
	Entra, EntraTab string
	// Roles are the application roles the API accepts, any one is enough; the first is the
	// least one to grant (docs/entra-app.md, from the APIs' permission tables).
	Roles []string
	// Hosts maps a cloud's name (config's cloud = …) to the API's host and scope there.
	Hosts map[string]Host
	// Limits are Microsoft's documented call rates per tenant: the default of rate_limits.
	Limits []Limit
	// PageCap is the largest page the API serves.
	PageCap int
	// URL is what config's api_url takes for this API.
	URL URLFacts
	// ServiceSources are the values [tenant.<Name>] service_sources accepts (Graph's
	// serviceSource); nil where the API has no such filter and the key is unknown.
	ServiceSources []string
}

// URLFacts say what an API's api_url looks like, for config's checks and messages.
type URLFacts struct {
	// Doc says what a valid api_url is; config's messages end with it.
	Doc string
	// Path is a path the portal shows at the end of the URL that the source's requests
	// already carry (Cloud Apps' "/api"); config removes it.
	Path string
	// TenantHosts are the suffixes of the hosts of an API that gives each tenant its own (its
	// Hosts have no URL, and api_url is required); HostsDoc names them for a person and Advice
	// says where to copy the URL from.
	TenantHosts      []string
	HostsDoc, Advice string
}

// All is every API alertexport reads, in the order config lists a tenant's sources and
// `consent-url` its permissions; sources/registry gives each its factory.
func All() []API { return []API{Endpoint, CloudApps, Graph, Incidents} }

// Lookup returns the API called name.
func Lookup(name string) (API, bool) {
	for _, a := range All() {
		if a.Name == name {
			return a, true
		}
	}
	return API{}, false
}

// Names lists every API's name through format (e.g. "[tenant.%s]") as "a, b or c", for
// messages and help texts.
func Names(format string) string {
	all := All()
	var b strings.Builder
	for i, a := range all {
		switch {
		case i == 0:
		case i == len(all)-1:
			b.WriteString(" or ")
		default:
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, format, a.Name)
	}
	return b.String()
}

// Consent is how `consent-url` lists the API: its title and, where it differs, its Entra name.
func (a API) Consent() string {
	if strings.HasPrefix(a.Title, a.Entra) {
		return a.Entra
	}
	return a.Title + " (" + a.Entra + ")"
}

// Settings are one (tenant, API) job's settings as the config resolved them: all a source
// reads of the config.
type Settings struct {
	Tenant         string // the tenant's name in the config: subjects, state keys, messages
	TenantID       string
	ClientID       string
	Portal         string // the cloud's Defender portal, for links to alerts
	APIURL         string // no trailing slash
	MinSeverity    string // "" | informational | low | medium | high
	ServiceSources []string
	Lookback       time.Duration
	StartFrom      time.Duration
}
