// Package entra is the simulator's Entra ID: the directory of tenants, app
// registrations and grants, the token endpoint MSAL Go calls, the signing key
// of the access tokens the Defender APIs verify, injected token faults and the
// token request log.
package entra

import (
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Service is the simulator's Entra ID. The simulator's Server embeds it, so
// that AddTenant, RegisterApp, Grant and the token log are the server's.
type Service struct {
	logger   *slog.Logger
	now      func() time.Time
	lifetime time.Duration
	url      string
	signer   *signingKey

	mu       sync.Mutex // guards the fields below
	dir      directory
	issuers  map[string]*FederatedIssuer
	faults   []queuedFault
	tokens   int
	metadata int
	tokenLog []TokenRequest
}

// New creates the Entra ID of a simulator served at url, with a fresh
// token-signing key. Tokens it issues live lifetime; now is its clock.
func New(logger *slog.Logger, now func() time.Time, lifetime time.Duration, url string) (*Service, error) {
	signer, err := newSigningKey()
	if err != nil {
		return nil, err
	}
	return &Service{
		logger:   logger,
		now:      now,
		lifetime: lifetime,
		url:      url,
		signer:   signer,
		dir:      newDirectory(),
		issuers:  make(map[string]*FederatedIssuer),
	}, nil
}

// Routes adds the Entra ID endpoints MSAL Go calls with instance discovery
// disabled (MSAL Go v1.10.1's authority package), plus the JWKS the metadata
// points to. The paths are exact, so a mis-built authority (say
// ".../<tenant>/v2.0") gets a 404 here as it would from Entra.
func (s *Service) Routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /{tenant}/v2.0/.well-known/openid-configuration", s.handleMetadata)
	mux.HandleFunc("GET /{tenant}/discovery/v2.0/keys", s.handleKeys)
	mux.HandleFunc("POST /{tenant}/oauth2/v2.0/token", s.handleToken)
}

// WriteNotFound answers a request for a path nothing serves, in Entra's
// error shape (as login.microsoftonline.com does).
func (s *Service) WriteNotFound(w http.ResponseWriter, r *http.Request) {
	s.writeError(w, r, errNotFound(r.URL.Path))
}

// WriteMethodNotAllowed answers a request whose method the path does not
// serve; allow is the methods it does.
func (s *Service) WriteMethodNotAllowed(w http.ResponseWriter, r *http.Request, allow string) {
	s.writeError(w, r, errMethodNotAllowed(r.Method, allow))
}

// TenantID is the tenant ID as AddTenant was given it, for a tenant ID in
// any case; false when the directory does not know it.
func (s *Service) TenantID(tenantID string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.dir.tenants[strings.ToLower(tenantID)]; ok {
		return t.id, true
	}
	return "", false
}

// Domains returns the lower-case domain names of a tenant (AddTenantDomain),
// given its lower-case ID.
func (s *Service) Domains(key string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for d, id := range s.dir.domains {
		if id == key {
			out = append(out, d)
		}
	}
	return out
}

// ResourceAppID is the appId of the resource app a token audience names,
// by application ID URI; false for an unknown URI.
func ResourceAppID(audience string) (string, bool) {
	r, ok := lookupResource(audience)
	return r.appID, ok
}

// KeyID is the kid of the key access tokens are signed with, as the JWKS
// publishes it.
func (s *Service) KeyID() string { return s.signer.kid }
