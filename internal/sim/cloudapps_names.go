package sim

import "github.com/alertexport/alertexport/internal/sim/cloudapps"

// The Defender for Cloud Apps alerts API (package cloudapps) under the
// simulator's own names.
type (
	// CloudAppsTenant is one tenant's alerts in the Cloud Apps alerts API.
	CloudAppsTenant = cloudapps.Tenant
	// CloudAppsAlert is an alert as the Cloud Apps alerts API serves it.
	CloudAppsAlert = cloudapps.Alert
	// CloudAppsEntity is an entity of a CloudAppsAlert.
	CloudAppsEntity = cloudapps.Entity
	// CloudAppsGenerate are the options of CloudAppsTenant.Generate.
	CloudAppsGenerate = cloudapps.Generate
	// CloudAppsVersion describes one stored version of an alert.
	CloudAppsVersion = cloudapps.Version
)

// CloudApps returns the tenant's alerts in the Defender for Cloud Apps
// alerts API, creating an empty store on first use (cloudapps.API.Tenant).
func (s *Server) CloudApps(tenantID string) *CloudAppsTenant { return s.cloudApps.Tenant(tenantID) }

// SetCloudAppsRetryAfter chooses whether the Cloud Apps API sends
// Retry-After with its 429 answers (see Options.CloudAppsRetryAfter).
func (s *Server) SetCloudAppsRetryAfter(send bool) { s.cloudApps.SetRetryAfter(send) }
