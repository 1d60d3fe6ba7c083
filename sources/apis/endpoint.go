package apis

import "time"

// Endpoint is the Defender for Endpoint List alerts API
// (learn.microsoft.com/defender-endpoint/api/get-alerts; hosts per cloud from
// defender-endpoint/api/exposed-apis-list and gov).
var Endpoint = API{
	Name:     "endpoint",
	Title:    "Defender for Endpoint",
	Entra:    "WindowsDefenderATP",
	EntraTab: "APIs my organization uses",
	Roles:    []string{"Alert.Read.All", "Alert.ReadWrite.All"},
	Hosts: map[string]Host{
		"public":   {URL: "https://api.security.microsoft.com", Scope: "https://api.securitycenter.microsoft.com/.default"},
		"gcc":      {URL: "https://api-gcc.securitycenter.microsoft.us", Scope: "https://api-gcc.securitycenter.microsoft.us/.default"},
		"gcc-high": {URL: "https://api-gov.securitycenter.microsoft.us", Scope: "https://api-gov.securitycenter.microsoft.us/.default"},
		"dod":      {URL: "https://api-gov.securitycenter.microsoft.us", Scope: "https://api-gov.securitycenter.microsoft.us/.default"},
	},
	// get-alerts, Limitations: 100 calls a minute and 1,500 an hour.
	Limits: []Limit{{100, time.Minute}, {1500, time.Hour}},
	// The documented $top maximum.
	PageCap: 10000,
	URL: URLFacts{
		Doc: `an https:// URL such as "https://api.security.microsoft.com" or a regional host such as "https://eu.api.security.microsoft.com", or "" for the cloud's`,
	},
}
