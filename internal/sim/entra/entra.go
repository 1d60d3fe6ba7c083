package entra

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/alertexport/alertexport/internal/sim/simapi"
)

// maxFormBytes bounds a token request body; MSAL's are well under 10 KiB.
const maxFormBytes = 64 << 10

// JWTBearer is the only client_assertion_type Entra accepts.
const JWTBearer = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// metadataDoc is the tenant's OpenID Provider configuration, with the fields
// of Entra's v2.0 document. MSAL needs authorization_endpoint, token_endpoint
// and issuer, and checks that issuer is on the authority's scheme and host.
type metadataDoc struct {
	TokenEndpoint                     string   `json:"token_endpoint"`
	TokenEndpointAuthMethodsSupported []string `json:"token_endpoint_auth_methods_supported"`
	JWKSURI                           string   `json:"jwks_uri"`
	ResponseModesSupported            []string `json:"response_modes_supported"`
	SubjectTypesSupported             []string `json:"subject_types_supported"`
	IDTokenSigningAlgValuesSupported  []string `json:"id_token_signing_alg_values_supported"`
	ResponseTypesSupported            []string `json:"response_types_supported"`
	ScopesSupported                   []string `json:"scopes_supported"`
	Issuer                            string   `json:"issuer"`
	RequestURIParameterSupported      bool     `json:"request_uri_parameter_supported"`
	UserinfoEndpoint                  string   `json:"userinfo_endpoint"`
	AuthorizationEndpoint             string   `json:"authorization_endpoint"`
	DeviceAuthorizationEndpoint       string   `json:"device_authorization_endpoint"`
	HTTPLogoutSupported               bool     `json:"http_logout_supported"`
	FrontchannelLogoutSupported       bool     `json:"frontchannel_logout_supported"`
	EndSessionEndpoint                string   `json:"end_session_endpoint"`
	ClaimsSupported                   []string `json:"claims_supported"`
	KerberosEndpoint                  string   `json:"kerberos_endpoint"`
	TenantRegionScope                 string   `json:"tenant_region_scope"`
	CloudInstanceName                 string   `json:"cloud_instance_name"`
	CloudGraphHostName                string   `json:"cloud_graph_host_name"`
	MSGraphHost                       string   `json:"msgraph_host"`
	RBACURL                           string   `json:"rbac_url"`
}

// handleMetadata serves GET /{tenant}/v2.0/.well-known/openid-configuration.
// As Entra does, the endpoints of a tenant named by a domain carry the
// tenant ID, and the multi-tenant authorities get a document whose issuer
// has the "{tenantid}" placeholder.
func (s *Service) handleMetadata(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("tenant")
	s.mu.Lock()
	if r.Method == http.MethodGet { // the pattern also serves HEAD
		s.metadata++
	}
	t := s.dir.resolve(name)
	var id string
	if t != nil {
		id = t.id
	}
	s.mu.Unlock()

	issuerTenant := id
	switch {
	case t != nil:
	case isPseudoTenant(name):
		id, issuerTenant = strings.ToLower(name), "{tenantid}"
	default:
		s.logger.Info("metadata", "tenant", name, "status", http.StatusBadRequest)
		s.writeError(w, r, errTenantNotFound("invalid_tenant", name))
		return
	}
	base := s.url + "/" + id
	simapi.WriteJSON(w, http.StatusOK, metadataDoc{
		TokenEndpoint:                     base + "/oauth2/v2.0/token",
		TokenEndpointAuthMethodsSupported: []string{"client_secret_post", "private_key_jwt", "client_secret_basic"},
		JWKSURI:                           base + "/discovery/v2.0/keys",
		ResponseModesSupported:            []string{"query", "fragment", "form_post"},
		SubjectTypesSupported:             []string{"pairwise"},
		IDTokenSigningAlgValuesSupported:  []string{"RS256"},
		ResponseTypesSupported:            []string{"code", "id_token", "code id_token", "id_token token"},
		ScopesSupported:                   []string{"openid", "profile", "email", "offline_access"},
		Issuer:                            s.url + "/" + issuerTenant + "/v2.0",
		UserinfoEndpoint:                  "https://graph.microsoft.com/oidc/userinfo",
		AuthorizationEndpoint:             base + "/oauth2/v2.0/authorize",
		DeviceAuthorizationEndpoint:       base + "/oauth2/v2.0/devicecode",
		HTTPLogoutSupported:               true,
		FrontchannelLogoutSupported:       true,
		EndSessionEndpoint:                base + "/oauth2/v2.0/logout",
		ClaimsSupported:                   []string{"sub", "iss", "cloud_instance_name", "cloud_instance_host_name", "cloud_graph_host_name", "msgraph_host", "aud", "exp", "iat", "auth_time", "acr", "nonce", "preferred_username", "name", "tid", "ver", "at_hash", "c_hash", "email"},
		KerberosEndpoint:                  base + "/kerberos",
		TenantRegionScope:                 "NA",
		CloudInstanceName:                 "microsoftonline.com",
		CloudGraphHostName:                "graph.windows.net",
		MSGraphHost:                       "graph.microsoft.com",
		RBACURL:                           "https://pas.windows.net",
	})
	s.logger.Debug("metadata", "tenant", name, "status", http.StatusOK)
}

// handleKeys serves the JWKS the metadata points to: the key access tokens
// are signed with.
func (s *Service) handleKeys(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("tenant")
	s.mu.Lock()
	t := s.dir.resolve(name)
	s.mu.Unlock()
	var issuer string
	switch {
	case t != nil:
		issuer = s.url + "/" + t.id + "/v2.0"
	case isPseudoTenant(name):
		issuer = s.url + "/{tenantid}/v2.0"
	default:
		s.writeError(w, r, errTenantNotFound("invalid_tenant", name))
		return
	}
	simapi.WriteJSON(w, http.StatusOK, struct {
		Keys []jwk `json:"keys"`
	}{Keys: []jwk{s.signer.jwk(issuer)}})
}

// tokenResponse is Entra's success answer. There is no scope field: MSAL
// rejects an answer whose scope differs from what it asked for.
type tokenResponse struct {
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	ExtExpiresIn int64  `json:"ext_expires_in"`
	AccessToken  string `json:"access_token"`
}

// handleToken serves POST /{tenant}/oauth2/v2.0/token for the
// client-credentials grant.
func (s *Service) handleToken(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	// Parsing is not a check: an unreadable body simply has no parameters,
	// and the checks below answer as Entra would for missing ones.
	_ = r.ParseForm()
	rec := TokenRequest{TenantID: r.PathValue("tenant"), ClientID: r.PostForm.Get("client_id")}

	if f, ok := s.nextFault(); ok {
		rec.Status, rec.Code = 0, 0
		if !f.Drop {
			e := faultError(f)
			rec.Status, rec.Code = e.status, e.code
		}
		s.logTokenRequest(rec)
		s.logger.Info("token request", "tenant", rec.TenantID, "client_id", rec.ClientID, "fault", true, "drop", f.Drop, "status", rec.Status, "code", rec.Code)
		s.playFault(w, r, f)
		return
	}

	resp, err := s.token(r, &rec)
	var e *entraError
	if errors.As(err, &e) {
		rec.Status, rec.Code = e.status, e.code
		s.logTokenRequest(rec)
		s.logger.Info("token request", "tenant", rec.TenantID, "client_id", rec.ClientID, "resource", rec.Resource,
			"credential", rec.Credential, "status", e.status, "code", e.code, "correlation_id", correlationID(r), "elapsed", time.Since(start))
		s.writeError(w, r, e)
		return
	}
	rec.Status = http.StatusOK
	s.logTokenRequest(rec)
	s.logger.Info("token request", "tenant", rec.TenantID, "client_id", rec.ClientID, "resource", rec.Resource,
		"credential", rec.Credential, "status", http.StatusOK, "elapsed", time.Since(start))
	simapi.WriteJSON(w, http.StatusOK, resp)
}

// token runs Entra's checks in its order and returns the answer or an
// *entraError. rec is filled in as facts become known.
func (s *Service) token(r *http.Request, rec *TokenRequest) (*tokenResponse, error) {
	name := r.PathValue("tenant")
	form := r.PostForm

	// The tenant is resolved before the request is read.
	s.mu.Lock()
	t := s.dir.resolve(name)
	s.mu.Unlock()
	if t == nil {
		if isPseudoTenant(name) {
			return nil, errNoTenantInfo()
		}
		return nil, errTenantNotFound("invalid_request", name)
	}
	rec.TenantID = t.id

	// Then the protocol parameters.
	switch gt := form.Get("grant_type"); gt {
	case "client_credentials":
	case "":
		return nil, errMissingParameter("grant_type")
	default:
		return nil, errUnsupportedGrantType(gt)
	}
	clientID := form.Get("client_id")
	if clientID == "" {
		return nil, errMissingParameter("client_id")
	}
	resource, err := resourceOfScope(form.Get("scope"))
	if err != nil {
		return nil, err
	}
	rec.Resource = resource

	// Then the client: registered and installed in the tenant, enabled.
	s.mu.Lock()
	g := s.snapshot(t, clientID)
	s.mu.Unlock()
	if !g.hasApp || g.sp == nil {
		return nil, errAppNotFound(clientID, name)
	}
	if g.app.Disabled {
		return nil, errAppDisabled(clientID)
	}

	// Then its credential.
	acr, err := s.authenticate(r, g, name, rec)
	if err != nil {
		return nil, err
	}

	// Then the resource.
	res, ok := lookupResource(resource)
	if !ok {
		return nil, errResourceNotFound(resource, name)
	}
	token, err := s.issueAccessToken(tokenGrant{
		tenantID: g.tenantID,
		clientID: g.app.ClientID,
		objectID: g.sp.objectID,
		resource: resource,
		appIDACR: acr,
		roles:    g.sp.roles[res.appID],
	})
	if err != nil {
		return nil, err
	}
	secs := int64(s.lifetime / time.Second)
	return &tokenResponse{TokenType: "Bearer", ExpiresIn: secs, ExtExpiresIn: secs, AccessToken: token}, nil
}

// resourceOfScope returns the resource of a client-credentials scope. MSAL
// always appends "openid offline_access profile", which Entra ignores here;
// what remains must be one "<resource>/.default".
func resourceOfScope(scope string) (string, error) {
	var rest []string
	for _, sc := range strings.Fields(scope) {
		switch strings.ToLower(sc) {
		case "openid", "offline_access", "profile":
		default:
			rest = append(rest, sc)
		}
	}
	if len(rest) == 0 {
		if strings.TrimSpace(scope) == "" {
			return "", errMissingParameter("scope")
		}
		return "", errScopeNotDefault(strings.TrimSpace(scope))
	}
	var resource string
	for _, sc := range rest {
		if len(sc) <= len("/.default") || !strings.HasSuffix(strings.ToLower(sc), "/.default") {
			return "", errScopeNotDefault(sc)
		}
		res := sc[:len(sc)-len("/.default")]
		switch {
		case resource == "":
			resource = res
		case !strings.EqualFold(resource, res):
			return "", errMultipleResources(strings.Join(rest, " "))
		}
	}
	return resource, nil
}

// authenticate checks the client credential and returns the token's
// appidacr: "1" for a secret, "2" for a certificate or federated assertion.
func (s *Service) authenticate(r *http.Request, g grantSnapshot, tenantName string, rec *TokenRequest) (string, error) {
	form := r.PostForm
	secret := form.Get("client_secret")
	assertion := form.Get("client_assertion")
	switch {
	case secret != "" && assertion != "":
		return "", errTwoCredentials()
	case secret != "":
		rec.Credential = "secret"
		return "1", s.checkSecret(g.app, secret)
	case assertion != "":
		switch at := form.Get("client_assertion_type"); at {
		case JWTBearer:
		case "":
			return "", errMissingParameter("client_assertion_type")
		default:
			return "", errBadAssertionType(at)
		}
		return "2", s.checkAssertion(assertion, g, s.tokenEndpoints(tenantName, g.tenantID), rec)
	}
	return "", errNoCredential()
}

// checkSecret compares the secret with every registered one in constant
// time (hashing first, so lengths do not leak either) and without stopping
// at the first match.
func (s *Service) checkSecret(app App, secret string) error {
	got := sha256.Sum256([]byte(secret))
	valid, expired := false, false
	now := s.now()
	for _, sec := range app.Secrets {
		want := sha256.Sum256([]byte(sec.Value))
		if subtle.ConstantTimeCompare(got[:], want[:]) == 1 {
			if sec.Expires.IsZero() || now.Before(sec.Expires) {
				valid = true
			} else {
				expired = true
			}
		}
	}
	switch {
	case valid:
		return nil
	case expired:
		return errSecretExpired(app.ClientID)
	}
	return errBadSecret(app.ClientID)
}

// tokenEndpoints are the audiences Entra accepts in a certificate assertion
// for this tenant: its token endpoint, named as in the request or by tenant
// ID (which is what the metadata gives MSAL).
func (s *Service) tokenEndpoints(tenantName, tenantID string) []string {
	return []string{
		s.url + "/" + tenantName + "/oauth2/v2.0/token",
		s.url + "/" + tenantID + "/oauth2/v2.0/token",
	}
}
