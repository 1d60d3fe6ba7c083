package apis

import "time"

// Graph is Microsoft Graph's security alerts_v2 (learn.microsoft.com/graph/api/security-list-alerts_v2;
// hosts per cloud from Graph's national cloud deployments). GCC's Graph is the commercial one.
var Graph = API{
	Name:     "graph",
	Title:    "Microsoft Graph alerts_v2",
	Entra:    "Microsoft Graph",
	EntraTab: "Microsoft APIs",
	Roles:    []string{"SecurityAlert.Read.All", "SecurityAlert.ReadWrite.All"},
	Hosts: map[string]Host{
		"public":   {URL: "https://graph.microsoft.com", Scope: "https://graph.microsoft.com/.default"},
		"gcc":      {URL: "https://graph.microsoft.com", Scope: "https://graph.microsoft.com/.default"},
		"gcc-high": {URL: "https://graph.microsoft.us", Scope: "https://graph.microsoft.us/.default"},
		"dod":      {URL: "https://dod-graph.microsoft.us", Scope: "https://dod-graph.microsoft.us/.default"},
	},
	// graph/throttling-limits: 150 requests a minute per app per tenant for "any operation on
	// alert".
	Limits: []Limit{{150, time.Minute}},
	// The $top maximum (security-error-codes: "a limit of 1000"; larger values are served 1000,
	// so a client follows nextLink and never stops at a short page).
	PageCap: 1000,
	URL: URLFacts{
		Doc: `an https:// URL such as "https://graph.microsoft.com", or "" for the cloud's`,
	},
	// The alert's serviceSource values (graph/api/resources/security-alert), without
	// unknown/unknownFutureValue, which no one filters on.
	ServiceSources: []string{
		"microsoftDefenderForEndpoint", "microsoftDefenderForIdentity", "microsoftDefenderForCloudApps",
		"microsoftDefenderForOffice365", "microsoft365Defender", "azureAdIdentityProtection",
		"microsoftAppGovernance", "dataLossPrevention", "microsoftDefenderForCloud",
	},
}
