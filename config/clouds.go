package config

import (
	"net/url"
	"slices"
	"strings"
)

// Cloud holds the Microsoft endpoints of one national cloud; each API's host and scope there
// are in sources/apis (API.Hosts, by the cloud's Name). The values come from Microsoft's pages
// (defender-endpoint/api/exposed-apis-list and gov, defender-cloud-apps
// api-authentication-application, Graph's national cloud deployments); clouds_test.go pins each
// one to its source.
type Cloud struct {
	Name string
	// AuthorityHost is the Entra ID login host; MSAL's authority is AuthorityHost + "/" + tenant
	// ID.
	AuthorityHost string
	// Portal is the Microsoft Defender portal, for links to alerts in envelopes.
	Portal string
}

// clouds is the one table mapping `cloud = …` to its login host and portal.
var clouds = []Cloud{
	{
		Name:          "public",
		AuthorityHost: "https://login.microsoftonline.com",
		Portal:        "https://security.microsoft.com",
	},
	{
		// GCC (moderate) signs in on the commercial authority (its APIs' hosts are in sources/apis).
		Name:          "gcc",
		AuthorityHost: "https://login.microsoftonline.com",
		Portal:        "https://security.microsoft.com",
	},
	{
		Name:          "gcc-high",
		AuthorityHost: "https://login.microsoftonline.us",
		Portal:        "https://security.microsoft.us",
	},
	{
		Name:          "dod",
		AuthorityHost: "https://login.microsoftonline.us",
		Portal:        "https://security.apps.mil",
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
