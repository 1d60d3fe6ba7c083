package sim

import "github.com/alertexport/alertexport/internal/sim/endpoint"

// The MDE alerts API (package endpoint) under the simulator's own names.
type (
	// EndpointTenant is one tenant's alerts in the MDE alerts API.
	EndpointTenant = endpoint.Tenant
	// EndpointAlert is an alert as the MDE alerts API serves it.
	EndpointAlert = endpoint.Alert
	// EndpointComment is a comment of an EndpointAlert.
	EndpointComment = endpoint.Comment
	// EndpointEvidence is an evidence of an EndpointAlert.
	EndpointEvidence = endpoint.Evidence
	// EndpointUser is the user of an EndpointEvidence.
	EndpointUser = endpoint.User
	// EndpointGenerate are the options of EndpointTenant.Generate.
	EndpointGenerate = endpoint.Generate
	// EndpointVersion describes one stored version of an alert.
	EndpointVersion = endpoint.Version
)

// Endpoint returns the tenant's alerts in the MDE alerts API, creating an
// empty store on first use (endpoint.API.Tenant).
func (s *Server) Endpoint(tenantID string) *EndpointTenant { return s.endpoint.Tenant(tenantID) }
