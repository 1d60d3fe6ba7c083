package sim

import (
	"crypto/x509"
	"time"

	"github.com/alertexport/alertexport/internal/sim/entra"
)

// Entra ID's vocabulary under the simulator's own name, so tests and the
// demo set up a simulator with one import.
type (
	// App is an app registration (entra.App).
	App = entra.App
	// Secret is a client secret of an App.
	Secret = entra.Secret
	// FederatedCredential trusts tokens of a FederatedIssuer for an App.
	FederatedCredential = entra.FederatedCredential
	// FederatedIssuer signs the assertions of workload identity federation.
	FederatedIssuer = entra.FederatedIssuer
	// Fault is an injected failure of a token request.
	Fault = entra.Fault
	// TokenRequest records one POST to the token endpoint.
	TokenRequest = entra.TokenRequest
	// AccessClaims are the claims of an access token the simulator issued.
	AccessClaims = entra.AccessClaims
)

// NewCertificateCredential creates a self-signed certificate and its key,
// for an App's certificate credential (entra.NewCertificateCredential).
func NewCertificateCredential(commonName string, validity time.Duration) (pemData []byte, cert *x509.Certificate, err error) {
	return entra.NewCertificateCredential(commonName, validity)
}

// ServicePrincipalID is the object ID of clientID's service principal in
// tenantID, the oid and sub of its tokens (entra.ServicePrincipalID).
func ServicePrincipalID(tenantID, clientID string) string {
	return entra.ServicePrincipalID(tenantID, clientID)
}
