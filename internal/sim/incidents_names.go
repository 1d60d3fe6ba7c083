package sim

import "github.com/alertexport/alertexport/internal/sim/graph"

// Microsoft Graph's security incidents (package graph, incident_*.go) under
// the simulator's own names.
type (
	// IncidentsTenant is one tenant's incidents in Graph's security
	// incidents; they group alerts of the tenant's GraphTenant.
	IncidentsTenant = graph.IncidentTenant
	// Incident is an incident as the API serves it (without its alerts).
	Incident = graph.Incident
	// IncidentComment is a comment of an Incident.
	IncidentComment = graph.IncidentComment
	// IncidentStyle is an Incident's wire form: Microsoft's examples disagree.
	IncidentStyle = graph.IncidentStyle
	// IncidentsGenerate are the options of IncidentsTenant.Generate.
	IncidentsGenerate = graph.IncidentGenerate
	// IncidentVersion describes one version of an incident the API shows.
	IncidentVersion = graph.IncidentVersion
)

// The wire forms of an incident (graph.IncidentStyle).
const (
	IncidentStyleMetadata   = graph.IncidentStyleMetadata
	IncidentStylePascalCase = graph.IncidentStylePascalCase
	IncidentStyleTags       = graph.IncidentStyleTags
)

// Incidents returns the tenant's incidents in Graph's security incidents,
// creating an empty store on first use (graph.IncidentsAPI.Tenant). Their
// alerts are the tenant's Graph alerts (Server.Graph).
func (s *Server) Incidents(tenantID string) *IncidentsTenant { return s.incidents.Tenant(tenantID) }

// DefaultIncidentExpandLimit is how many alerts an incident may group
// before a filtered List incidents with $expand=alerts whose page holds it
// answers 500 (IncidentsTenant.SetExpandLimit).
const DefaultIncidentExpandLimit = graph.DefaultIncidentExpandLimit
