package graph

import (
	"encoding/json"

	"github.com/alertexport/alertexport/sources/envelope"
)

// identity is what normalization needs to know about the tenant.
type identity struct{ tenant, tenantID string }

// normalize turns a Graph alert into the envelope. (Placeholder: a fuller mapping of every
// field and evidence type follows.)
func normalize(a *alert, raw []byte, id identity, event string) (*envelope.Alert, error) {
	env := &envelope.Alert{
		Schema: envelope.Schema, ID: a.ID, Source: Name, Tenant: id.tenant, TenantID: id.tenantID, Event: event,
		Title: a.Title, Description: a.Description, Severity: envelope.SeverityUnknown, Status: envelope.StatusUnknown,
		UpdatedAt: a.LastUpdateDateTime.UTC(), CreatedAt: a.CreatedDateTime, Raw: json.RawMessage(raw),
		MitreTechniques: a.MitreTechniques, Entities: []envelope.Entity{},
	}
	if a.Severity != nil {
		switch *a.Severity {
		case "informational", "low", "medium", "high":
			env.Severity = *a.Severity
		}
	}
	return env, nil
}
