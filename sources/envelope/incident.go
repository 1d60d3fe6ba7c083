package envelope

import (
	"encoding/json"
	"time"
)

// IncidentSchema names the incident envelope's version (docs/incidents.md).
const IncidentSchema = "alertexport.incident.v1"

// Incident statuses, normalized from Microsoft Graph's (docs/incidents.md). A ticketing bot
// closes its ticket on resolved and links it to redirect_incident_id on redirected.
const (
	IncidentActive         = "active"
	IncidentInProgress     = "in_progress"
	IncidentResolved       = "resolved"
	IncidentRedirected     = "redirected"
	IncidentAwaitingAction = "awaiting_action"
	IncidentUnknown        = "unknown"
)

// Envelope is a message body a source produces: an Alert or an Incident.
type Envelope interface {
	// Summary is what a NATS message's subject and headers and the metrics read of it.
	Summary() *Alert
	// Marshal writes the body as it is published.
	Marshal() ([]byte, error)
	// RawBytes is the object as the API sent it: a dead letter's body when Marshal fails.
	RawBytes() []byte
}

// Marshal implements Envelope.
func (a *Alert) Marshal() ([]byte, error) { return Marshal(a) }

// RawBytes implements Envelope.
func (a *Alert) RawBytes() []byte { return a.Raw }

// Incident is one version of a Microsoft Graph security incident as subscribers receive it.
// Keys the API does not send are null; Raw is the incident as the API sent it, without the
// expanded alerts (their ids are AlertIDs).
type Incident struct {
	Schema             string     `json:"schema"`
	ID                 string     `json:"id"`
	Source             string     `json:"source"`
	Tenant             string     `json:"tenant"`
	TenantID           string     `json:"tenant_id"`
	Event              string     `json:"event"`
	Title              *string    `json:"title"`
	Description        *string    `json:"description"`
	Severity           string     `json:"severity"`
	Status             string     `json:"status"`
	Classification     *string    `json:"classification"`
	Determination      *string    `json:"determination"`
	AssignedTo         *string    `json:"assigned_to"`
	CreatedAt          *time.Time `json:"created_at"`
	UpdatedAt          time.Time  `json:"updated_at"`
	URL                *string    `json:"url"`
	RedirectIncidentID *string    `json:"redirect_incident_id"`
	// Tags are the custom tags and then the system tags, each once.
	Tags []string `json:"tags"`
	// AlertIDs are the ids (alerts_v2's) of every alert of the incident at this version.
	AlertIDs []string        `json:"alert_ids"`
	Raw      json.RawMessage `json:"raw"`
}

// Summary implements Envelope. Category is the incident's own word, so that a subject template
// with {category} tells incidents apart.
func (i *Incident) Summary() *Alert {
	category := "incident"
	return &Alert{Schema: i.Schema, ID: i.ID, Source: i.Source, Tenant: i.Tenant, TenantID: i.TenantID,
		Event: i.Event, Severity: i.Severity, Status: i.Status, Category: &category, CreatedAt: i.CreatedAt, UpdatedAt: i.UpdatedAt}
}

// Marshal implements Envelope. Incidents are few and small beside alerts, so the standard
// encoder writes them; times come out in RFC 3339 with their full precision, in UTC.
func (i *Incident) Marshal() ([]byte, error) {
	c := *i
	if c.CreatedAt != nil {
		t := c.CreatedAt.UTC()
		c.CreatedAt = &t
	}
	c.UpdatedAt = c.UpdatedAt.UTC()
	if c.Tags == nil {
		c.Tags = []string{}
	}
	if c.AlertIDs == nil {
		c.AlertIDs = []string{}
	}
	return json.Marshal(&c)
}

// RawBytes implements Envelope.
func (i *Incident) RawBytes() []byte { return i.Raw }
