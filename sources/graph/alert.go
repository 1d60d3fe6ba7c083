package graph

import (
	"encoding/json"
	"time"
)

// alert is a Microsoft Graph security alert as List alerts_v2 sends it
// (api-reference/v1.0/resources/security-alert.md; research/defender-apis.md part C).
type alert struct {
	ID                    string     `json:"id"`
	ProviderAlertID       *string    `json:"providerAlertId"`
	IncidentID            *string    `json:"incidentId"`
	Status                *string    `json:"status"`
	Severity              *string    `json:"severity"`
	Classification        *string    `json:"classification"`
	Determination         *string    `json:"determination"`
	ServiceSource         *string    `json:"serviceSource"`
	DetectionSource       *string    `json:"detectionSource"`
	DetectorID            *string    `json:"detectorId"`
	TenantID              *string    `json:"tenantId"`
	Title                 *string    `json:"title"`
	Description           *string    `json:"description"`
	Category              *string    `json:"category"`
	AssignedTo            *string    `json:"assignedTo"`
	AlertWebURL           *string    `json:"alertWebUrl"`
	IncidentWebURL        *string    `json:"incidentWebUrl"`
	ActorDisplayName      *string    `json:"actorDisplayName"`
	ThreatDisplayName     *string    `json:"threatDisplayName"`
	ThreatFamilyName      *string    `json:"threatFamilyName"`
	MitreTechniques       []string   `json:"mitreTechniques"`
	CreatedDateTime       *time.Time `json:"createdDateTime"`
	LastUpdateDateTime    *time.Time `json:"lastUpdateDateTime"`
	ResolvedDateTime      *time.Time `json:"resolvedDateTime"`
	FirstActivityDateTime *time.Time `json:"firstActivityDateTime"`
	LastActivityDateTime  *time.Time `json:"lastActivityDateTime"`
	// Evidence is decoded item by item in normalize, by its @odata.type.
	Evidence []json.RawMessage `json:"evidence"`
}
