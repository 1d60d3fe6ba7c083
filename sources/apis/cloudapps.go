package apis

import "time"

// cloudAppsScope is the scope of "Microsoft Cloud App Security", whose application ID tokens
// carry as aud, in every cloud.
const cloudAppsScope = "05a65629-4c1b-48c1-a78b-804c4abdd4af/.default"

// CloudApps is the Defender for Cloud Apps alerts API
// (learn.microsoft.com/defender-cloud-apps/api-introduction). Its host is per tenant (the
// portal's "API URL"), so no cloud gives one.
var CloudApps = API{
	Name:     "cloudapps",
	Title:    "Defender for Cloud Apps",
	Entra:    "Microsoft Cloud App Security",
	EntraTab: "APIs my organization uses",
	Roles:    []string{"Investigation.read", "Investigation.manage", "Discovery.read", "Discovery.manage"},
	Hosts: map[string]Host{
		"public":   {Scope: cloudAppsScope},
		"gcc":      {Scope: cloudAppsScope},
		"gcc-high": {Scope: cloudAppsScope},
		"dod":      {Scope: cloudAppsScope},
	},
	// "30 requests per minute per tenant".
	Limits:  []Limit{{30, time.Minute}},
	PageCap: 100,
	// The portal shows https://<tenant>.<region>.portal.cloudappsecurity.com/api (Settings →
	// Cloud Apps → System → About); the paths the source calls already start with /api.
	URL: URLFacts{
		Doc:  `the tenant's API URL from the Microsoft Defender portal (Settings → Cloud Apps → System → About), e.g. "https://contoso.us2.portal.cloudappsecurity.com"`,
		Path: "/api",
		// defender-cloud-apps/network-requirements
		TenantHosts: []string{".portal.cloudappsecurity.com", ".portal.cloudappsecuritygov.com", ".portal.cloudappsecurity.us"},
		HostsDoc:    "<tenant>.<region>.portal.cloudappsecurity.com, or .portal.cloudappsecuritygov.com for GCC, .portal.cloudappsecurity.us for GCC High",
		Advice:      "copy the API URL from the Microsoft Defender portal (Settings → Cloud Apps → System → About)",
	},
}
