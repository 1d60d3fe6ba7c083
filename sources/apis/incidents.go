package apis

import "time"

// Incidents is Microsoft Graph's security incidents (GET /v1.0/security/incidents,
// learn.microsoft.com/graph/api/security-list-incidents): Defender's grouping of related alerts,
// for ticketing.
var Incidents = API{
	Name:     "incidents",
	Title:    "Microsoft Graph incidents",
	Entra:    "Microsoft Graph",
	EntraTab: "Microsoft APIs",
	Roles:    []string{"SecurityIncident.Read.All", "SecurityIncident.ReadWrite.All"},
	Hosts:    Graph.Hosts,
	// graph/throttling-limits groups "security detections and incidents" without a figure of its
	// own; Graph's 150 requests a minute per app per tenant for security alerts is taken, and a
	// 429 is honoured whatever the figure.
	Limits: []Limit{{150, time.Minute}},
	// Not documented for Graph; the older Defender XDR incidents API caps $top at 100. 50 keeps
	// one answer small even when every incident carries long comments.
	PageCap: 50,
	URL: URLFacts{
		Doc: `an https:// URL such as "https://graph.microsoft.com", or "" for the cloud's`,
	},
}
