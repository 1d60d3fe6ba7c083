package sim

import "github.com/alertexport/alertexport/internal/sim/graph"

// Microsoft Graph's alerts_v2 (package graph) under the simulator's own
// names.
type (
	// GraphTenant is one tenant's alerts in Graph's alerts_v2.
	GraphTenant = graph.Tenant
	// GraphAlert is an alert as alerts_v2 serves it.
	GraphAlert = graph.Alert
	// GraphComment is a comment of a GraphAlert.
	GraphComment = graph.Comment
	// GraphEvidence is an evidence of a GraphAlert.
	GraphEvidence = graph.Evidence
	// GraphGenerate are the options of GraphTenant.Generate.
	GraphGenerate = graph.Generate
	// GraphVersion describes one version of an alert Graph shows.
	GraphVersion = graph.Version
)

// Graph returns the tenant's alerts in Graph's alerts_v2, creating an empty
// store on first use (graph.API.Tenant).
func (s *Server) Graph(tenantID string) *GraphTenant { return s.graph.Tenant(tenantID) }

// GraphEvidenceTypes are the @odata.type values of the evidence the
// simulator serves (graph.EvidenceTypes).
func GraphEvidenceTypes() []string { return graph.EvidenceTypes() }
