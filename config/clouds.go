package config

import (
	"net/url"
	"slices"
	"strings"
)

// Cloud holds the Microsoft endpoints of one national cloud. The values come from
// Microsoft's pages (defender-endpoint/api/exposed-apis-list and gov, defender-cloud-apps
// api-authentication-application, Graph's national cloud deployments); clouds_test.go pins each
// one to its source.
type Cloud struct {
	Name string
	// AuthorityHost is the Entra ID login host; MSAL's authority is AuthorityHost + "/" + tenant
	// ID.
	AuthorityHost string
	// EndpointAPI is the Defender for Endpoint API base URL; EndpointScope the token scope for it.
	EndpointAPI   string
	EndpointScope string
	// CloudAppsScope is the token scope of the Defender for Cloud Apps API. Its host is per tenant
	// (the portal's "API URL"), so it has no default.
	CloudAppsScope string
	// GraphAPI is the Microsoft Graph base URL; GraphScope the token scope for it.
	GraphAPI   string
	GraphScope string
	// Portal is the Microsoft Defender portal, for links to alerts in envelopes.
	Portal string
}

// cloudAppsResource is the application ID of "Microsoft Cloud App Security"; tokens for it carry it
// as aud.
const cloudAppsResource = "05a65629-4c1b-48c1-a78b-804c4abdd4af"

// clouds is the one table mapping `cloud = …` to hosts and scopes.
var clouds = []Cloud{
	{
		Name:           "public",
		AuthorityHost:  "https://login.microsoftonline.com",
		EndpointAPI:    "https://api.security.microsoft.com",
		EndpointScope:  "https://api.securitycenter.microsoft.com/.default",
		CloudAppsScope: cloudAppsResource + "/.default",
		GraphAPI:       "https://graph.microsoft.com",
		GraphScope:     "https://graph.microsoft.com/.default",
		Portal:         "https://security.microsoft.com",
	},
	{
		// GCC (moderate) signs in on the commercial authority but has its own Defender for Endpoint
		// host; its Graph is the commercial one.
		Name:           "gcc",
		AuthorityHost:  "https://login.microsoftonline.com",
		EndpointAPI:    "https://api-gcc.securitycenter.microsoft.us",
		EndpointScope:  "https://api-gcc.securitycenter.microsoft.us/.default",
		CloudAppsScope: cloudAppsResource + "/.default",
		GraphAPI:       "https://graph.microsoft.com",
		GraphScope:     "https://graph.microsoft.com/.default",
		Portal:         "https://security.microsoft.com",
	},
	{
		Name:           "gcc-high",
		AuthorityHost:  "https://login.microsoftonline.us",
		EndpointAPI:    "https://api-gov.securitycenter.microsoft.us",
		EndpointScope:  "https://api-gov.securitycenter.microsoft.us/.default",
		CloudAppsScope: cloudAppsResource + "/.default",
		GraphAPI:       "https://graph.microsoft.us",
		GraphScope:     "https://graph.microsoft.us/.default",
		Portal:         "https://security.microsoft.us",
	},
	{
		Name:           "dod",
		AuthorityHost:  "https://login.microsoftonline.us",
		EndpointAPI:    "https://api-gov.securitycenter.microsoft.us",
		EndpointScope:  "https://api-gov.securitycenter.microsoft.us/.default",
		CloudAppsScope: cloudAppsResource + "/.default",
		GraphAPI:       "https://dod-graph.microsoft.us",
		GraphScope:     "https://dod-graph.microsoft.us/.default",
		Portal:         "https://security.apps.mil",
	},
}

// LookupCloud returns the cloud called name.
func LookupCloud(name string) (Cloud, bool) {
	for _, c := range clouds {
		if c.Name == name {
			return c, true
		}
	}
	return Cloud{}, false
}

// CloudNames lists the valid values of `cloud`, in table order.
func CloudNames() []string {
	names := make([]string, len(clouds))
	for i, c := range clouds {
		names[i] = c.Name
	}
	return names
}

// microsoftLoginHosts are the Entra ID hosts MSAL trusts without instance discovery
// (MSAL Go v1.10.1's authority package), for the clouds this product supports.
var microsoftLoginHosts = []string{
	"login.microsoftonline.com", "login.microsoft.com", "login.windows.net", "sts.windows.net",
	"login.microsoftonline.us", "login-us.microsoftonline.com", "login.usgovcloudapi.net",
}

// IsMicrosoftLoginHost reports whether authority (an https URL) is one of Microsoft's Entra ID
// login hosts, where MSAL's instance discovery works and should stay on.
func IsMicrosoftLoginHost(authority string) bool {
	return slices.Contains(microsoftLoginHosts, hostOf(authority))
}

func hostOf(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return ""
	}
	return strings.ToLower(u.Hostname())
}
