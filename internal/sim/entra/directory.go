package entra

import (
	"crypto/sha256"
	"crypto/x509"
	"slices"
	"strings"
	"time"

	"github.com/alertexport/alertexport/internal/sim/simapi"
)

// App is an app registration (the application object): its client ID and
// credentials. Where it may sign in and with which roles is per tenant, see
// Server.Grant.
type App struct {
	ClientID     string
	Secrets      []Secret
	Certificates []*x509.Certificate
	Federated    []FederatedCredential
	Disabled     bool
	// RequireX5C models subject name + issuer authentication (trustedCertificateSubjects in the
	// manifest): the client assertion must carry its certificate chain in the x5c header
	// (MSAL's WithX5C), and the chain's first certificate must be the signing one.
	RequireX5C bool
}

// Secret is a client secret (a password credential).
type Secret struct {
	Value   string
	Expires time.Time // zero = never expires
}

// FederatedCredential trusts tokens of an external OIDC issuer for one
// subject (workload identity federation).
type FederatedCredential struct {
	Issuer, Subject string
	Audience        string // "" = "api://AzureADTokenExchange"
}

// DefaultFederatedAudience is the audience Entra recommends (and the portal
// fills in) for federated identity credentials.
const DefaultFederatedAudience = "api://AzureADTokenExchange"

func (fc FederatedCredential) audience() string {
	if fc.Audience == "" {
		return DefaultFederatedAudience
	}
	return fc.Audience
}

// resourceApp is a first-party API as Entra knows it: one service principal
// (one appId) reachable under one or more application ID URIs. Application
// roles are granted on the service principal, so a grant made under one URI
// applies to tokens requested under any of its URIs.
type resourceApp struct {
	name  string
	appID string
	uris  []string
}

// knownResources are the resources the simulator issues tokens for. A token request names one of
// the URIs (scope "<uri>/.default"), and the token's aud is that URI exactly as requested. Sources:
// learn.microsoft.com/defender-endpoint/api/exposed-apis-list and defender-endpoint/gov (commercial
// and US Gov hosts; Defender XDR), defender-cloud-apps/api-authentication-application (whose
// resource is its appId), and Microsoft Graph's national cloud deployments. The US Gov URIs belong
// to the same service principal in their clouds; one simulator plays every cloud, so they are
// grouped with the commercial one.
var knownResources = []resourceApp{
	{
		name:  "WindowsDefenderATP",
		appID: "fc780465-2017-40d4-a0c5-307022471b92",
		uris: []string{
			"https://api.securitycenter.microsoft.com",
			"https://securitycenter.onmicrosoft.com/windowsatpservice",
			"https://api-gcc.securitycenter.microsoft.us",
			"https://api-gov.securitycenter.microsoft.us",
			"https://api.securitycenter.microsoft.us",
		},
	},
	{
		name:  "Microsoft Threat Protection",
		appID: "8ee8fdad-f234-4243-8f3b-15c294843740",
		uris:  []string{"https://api.security.microsoft.com"},
	},
	{
		name:  "Microsoft Cloud App Security",
		appID: "05a65629-4c1b-48c1-a78b-804c4abdd4af",
		uris:  []string{"05a65629-4c1b-48c1-a78b-804c4abdd4af"},
	},
	{
		name:  "Microsoft Graph",
		appID: "00000003-0000-0000-c000-000000000000",
		uris:  []string{"https://graph.microsoft.com", "https://graph.microsoft.us", "https://dod-graph.microsoft.us"},
	},
}

// lookupResource finds the resource app a requested identifier belongs to.
// Entra compares application ID URIs case-insensitively.
func lookupResource(id string) (resourceApp, bool) {
	for _, r := range knownResources {
		if slices.ContainsFunc(r.uris, func(u string) bool { return strings.EqualFold(u, id) }) {
			return r, true
		}
	}
	return resourceApp{}, false
}

// grantKey is the key under which roles for resource are stored: the
// resource's appId when it is known (by URI or appId), else the lower-cased
// string.
func grantKey(resource string) string {
	if r, ok := lookupResource(resource); ok {
		return r.appID
	}
	for _, r := range knownResources {
		if strings.EqualFold(r.appID, resource) {
			return r.appID
		}
	}
	return strings.ToLower(resource)
}

// pseudoTenants are the multi-tenant authorities. Their OpenID configuration
// exists, but an app-only token cannot be issued for them.
var pseudoTenants = []string{"common", "organizations", "consumers"}

func isPseudoTenant(t string) bool {
	return slices.ContainsFunc(pseudoTenants, func(p string) bool { return strings.EqualFold(p, t) })
}

// directory is the simulator's Entra ID: tenants, app registrations and
// service principals. It is guarded by Service.mu.
type directory struct {
	tenants map[string]*tenant // lower-case tenant ID
	domains map[string]string  // lower-case domain → lower-case tenant ID
	apps    map[string]App     // lower-case client ID → deep copy of the registration
}

type tenant struct {
	id  string                       // as given to AddTenant
	sps map[string]*servicePrincipal // lower-case client ID
}

// servicePrincipal is an app's presence in a tenant and its role grants.
type servicePrincipal struct {
	objectID string
	roles    map[string][]string // grantKey(resource) → roles, in grant order
}

func newDirectory() directory {
	return directory{tenants: map[string]*tenant{}, domains: map[string]string{}, apps: map[string]App{}}
}

// resolve finds a tenant by ID or verified domain, case-insensitively.
func (d *directory) resolve(name string) *tenant {
	key := strings.ToLower(name)
	if t, ok := d.tenants[key]; ok {
		return t
	}
	if id, ok := d.domains[key]; ok {
		return d.tenants[id]
	}
	return nil
}

func (d *directory) addTenant(tenantID string) *tenant {
	key := strings.ToLower(tenantID)
	t, ok := d.tenants[key]
	if !ok {
		t = &tenant{id: tenantID, sps: map[string]*servicePrincipal{}}
		d.tenants[key] = t
	}
	return t
}

// AddTenant creates a tenant. Entra tenant IDs are GUIDs, and the tid of
// issued tokens is the string given here, so pass a GUID for realistic
// tokens; use AddTenantDomain for a domain name such as
// contoso.onmicrosoft.com. Adding an existing tenant does nothing.
func (s *Service) AddTenant(tenantID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dir.addTenant(tenantID)
}

// AddTenantDomain makes domain (e.g. "contoso.onmicrosoft.com") a name of
// the tenant, creating the tenant if needed. As with Entra, an authority
// naming the domain reaches the tenant, and the tokens carry the tenant ID.
func (s *Service) AddTenantDomain(tenantID, domain string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.dir.addTenant(tenantID)
	s.dir.domains[strings.ToLower(domain)] = strings.ToLower(t.id)
}

// RegisterApp adds an app registration, or replaces the one with the same
// ClientID. The service principals created by Grant stay.
func (s *Service) RegisterApp(app App) {
	app.Secrets = slices.Clone(app.Secrets)
	app.Certificates = slices.Clone(app.Certificates)
	app.Federated = slices.Clone(app.Federated)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dir.apps[strings.ToLower(app.ClientID)] = app
}

// Grant creates the app's service principal in the tenant if it is not
// there yet (the app is then "installed": consented to by an admin) and adds
// roles to the application roles granted to it on resource. Grant with no
// roles only creates the service principal: tokens then carry no roles
// claim, which is how a missing admin consent looks to an API. The tenant
// is created if needed. resource may be any application ID URI or the appId
// of a known resource; the grant applies to all of that resource's URIs.
func (s *Service) Grant(tenantID, clientID, resource string, roles ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.dir.addTenant(tenantID)
	key := strings.ToLower(clientID)
	sp, ok := t.sps[key]
	if !ok {
		sp = &servicePrincipal{objectID: ServicePrincipalID(t.id, clientID), roles: map[string][]string{}}
		t.sps[key] = sp
	}
	gk := grantKey(resource)
	for _, role := range roles {
		if !slices.Contains(sp.roles[gk], role) {
			sp.roles[gk] = append(sp.roles[gk], role)
		}
	}
}

// Revoke deletes the app's service principal, and with it every grant, from
// the tenant; the app can no longer get tokens there (AADSTS700016).
func (s *Service) Revoke(tenantID, clientID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t := s.dir.resolve(tenantID); t != nil {
		delete(t.sps, strings.ToLower(clientID))
	}
}

// ServicePrincipalID is the object ID of the app's service principal in the
// tenant: the oid and sub of its tokens. It is derived from the two IDs, so
// it is stable across runs.
func ServicePrincipalID(tenantID, clientID string) string {
	sum := sha256.Sum256([]byte("sp\x00" + strings.ToLower(tenantID) + "\x00" + strings.ToLower(clientID)))
	var b [16]byte
	copy(b[:], sum[:16])
	b[6] = b[6]&0x0f | 0x50 // name-based
	b[8] = b[8]&0x3f | 0x80
	return simapi.FormatGUID(b)
}

// grantSnapshot is what the token endpoint needs from the directory, copied
// under the lock so the checks can run without it.
type grantSnapshot struct {
	tenantID string // canonical, as given to AddTenant
	app      App
	hasApp   bool
	sp       *servicePrincipal // copy; nil when the app is not installed
	issuers  map[string]*FederatedIssuer
}

func (s *Service) snapshot(t *tenant, clientID string) grantSnapshot {
	g := grantSnapshot{tenantID: t.id, issuers: make(map[string]*FederatedIssuer, len(s.issuers))}
	g.app, g.hasApp = s.dir.apps[strings.ToLower(clientID)]
	if sp, ok := t.sps[strings.ToLower(clientID)]; ok {
		cp := &servicePrincipal{objectID: sp.objectID, roles: make(map[string][]string, len(sp.roles))}
		for k, v := range sp.roles {
			cp.roles[k] = slices.Clone(v)
		}
		g.sp = cp
	}
	for k, v := range s.issuers {
		g.issuers[k] = v
	}
	return g
}
