package cloudapps

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/alertexport/alertexport/internal/sim/simapi"
)

// The Defender for Cloud Apps alert object, as CloudAppSecurityDocs
// api-alerts.md lists its properties and api-alerts-list.md shows it
// (learn.microsoft.com/defender-cloud-apps/api-alerts). The property table and the examples
// disagree on which keys an alert carries: the documented list example has
// no isMarkdown, evidence, intent or isPreview, and has comment,
// handledByUser, resolveTime and URL, which the table does not list; public
// test data (XSOAR) adds policy and writes "null" as a string. So every key
// the documents show is modelled, and the optional ones are absent from the
// wire when their Go value is nil.

// Alert is one alert of the Defender for Cloud Apps alerts API.
// The json tags name the wire keys; MarshalJSON and UnmarshalJSON convert
// to and from the wire form. Nil slices and pointers are absent from the
// wire, except Entities and Stories, which are always there ([] when nil).
type Alert struct {
	ID            string            `json:"_id"` // 24 hex digits (a MongoDB ObjectId) in every example
	Audits        []string          `json:"audits"`
	ContextID     string            `json:"contextId"` // the tenant ID
	Description   string            `json:"description"`
	Entities      []Entity          `json:"entities"`
	Evidence      []json.RawMessage `json:"evidence"` // shape undocumented ("short descriptions")
	IDValue       int64             `json:"idValue"`
	Intent        []int             `json:"intent"` // MITRE tactics, 0 UNKNOWN … 13 IMPACT
	IsMarkdown    *bool             `json:"isMarkdown"`
	IsPreview     *bool             `json:"isPreview"`
	IsSystemAlert bool              `json:"isSystemAlert"`
	Policy        *Entity           `json:"policy"`
	// ResolutionStatusValue: 0 OPEN, 1 DISMISSED, 2 RESOLVED, 3
	// FALSE_POSITIVE, 4 BENIGN, 5 TRUE_POSITIVE.
	ResolutionStatusValue int `json:"resolutionStatusValue"`
	// SeverityValue: 0 LOW, 1 MEDIUM, 2 HIGH, 3 INFORMATIONAL.
	SeverityValue int `json:"severityValue"`
	// StatusValue: 0 UNREAD, 1 READ, 2 ARCHIVED.
	StatusValue int `json:"statusValue"`
	// Stories: 0 THREAT_DETECTION, 1 PRIVILEGED_ACCOUNT_MONITORING, 2
	// COMPLIANCE, 3 DLP, 4 DISCOVERY, 5 SHARING_CONTROL, 7 ACCESS_CONTROL,
	// 8 CONFIGURATION_MONITORING.
	Stories     []int `json:"stories"`
	ThreatScore *int  `json:"threatScore"`
	// Timestamp is when the alert was raised; epoch milliseconds on the
	// wire, so it is kept at millisecond precision.
	Timestamp     time.Time `json:"timestamp"`
	Title         string    `json:"title"`
	Comment       *string   `json:"comment"`
	HandledByUser *string   `json:"handledByUser"`
	// ResolveTime is when the alert was closed: an ISO 8601 string with
	// milliseconds on the wire ("2021-05-13T14:02:34.904Z").
	ResolveTime *time.Time `json:"resolveTime"`
	URL         string     `json:"URL"` // https://<tenant>.portal.cloudappsecurity.com/#/alerts/<_id>
}

// Entity is one item of an alert's entities (or its policy). Which
// keys an entity has depends on its type (api-alerts.md and its examples): account adds
// entityType, inst, pa (the UPN), em (e-mail) and saas (app id); device
// entityRole (Source, Related); policyRule policyType; service has a
// numeric id. Empty strings and nil pointers are absent from the wire.
type Entity struct {
	Em         string `json:"em"`
	EntityRole string `json:"entityRole"`
	EntityType *int   `json:"entityType"`
	// ID is the entity's id. It is a JSON number when NumericID is set (a
	// service's app id such as 20940), and ID then holds its digits.
	ID         string `json:"id"`
	NumericID  bool   `json:"-"`
	Inst       *int   `json:"inst"`
	Label      string `json:"label"`
	Pa         string `json:"pa"`
	PolicyType string `json:"policyType"`
	Saas       *int   `json:"saas"`
	// Type is account, user, service, device, ip, file, policyRule or
	// groupTag.
	Type string `json:"type"`
}

// Entity types the documents show (api-alerts.md), plus ip, which the
// alerts filters name (entity.ip).
var cloudAppsEntityTypes = []string{"account", "user", "service", "device", "ip", "file", "policyRule", "groupTag"}

// cloudAppsTimeLayout is how resolveTime is written in every example:
// UTC with exactly three fractional digits. Choice: a whole second keeps
// ".000", as JavaScript's toISOString and MongoDB's ISODate print it.
const cloudAppsTimeLayout = "2006-01-02T15:04:05.000Z"

// cloudAppsTime is a time in the resolveTime format.
type cloudAppsTime time.Time

func (t cloudAppsTime) MarshalText() ([]byte, error) {
	return time.Time(t).UTC().AppendFormat(nil, cloudAppsTimeLayout), nil
}

func (t *cloudAppsTime) UnmarshalText(b []byte) error {
	p, err := time.Parse(time.RFC3339Nano, string(b))
	if err != nil {
		return err
	}
	*t = cloudAppsTime(p.UTC())
	return nil
}

// cloudAppsWireAlert is Alert as written. The keys are in the order of
// the documented example (alphabetical, then comment, handledByUser,
// resolveTime and URL), with the keys the example lacks in their
// alphabetical places.
type cloudAppsWireAlert struct {
	ID                    string                `json:"_id"`
	Audits                *[]string             `json:"audits,omitempty"`
	ContextID             string                `json:"contextId"`
	Description           string                `json:"description"`
	Entities              []cloudAppsWireEntity `json:"entities"`
	Evidence              *[]json.RawMessage    `json:"evidence,omitempty"`
	IDValue               int64                 `json:"idValue"`
	Intent                *[]int                `json:"intent,omitempty"`
	IsMarkdown            *bool                 `json:"isMarkdown,omitempty"`
	IsPreview             *bool                 `json:"isPreview,omitempty"`
	IsSystemAlert         bool                  `json:"isSystemAlert"`
	Policy                *cloudAppsWireEntity  `json:"policy,omitempty"`
	ResolutionStatusValue int                   `json:"resolutionStatusValue"`
	SeverityValue         int                   `json:"severityValue"`
	StatusValue           int                   `json:"statusValue"`
	Stories               []int                 `json:"stories"`
	ThreatScore           *int                  `json:"threatScore,omitempty"`
	Timestamp             int64                 `json:"timestamp"`
	Title                 string                `json:"title"`
	Comment               *string               `json:"comment,omitempty"`
	HandledByUser         *string               `json:"handledByUser,omitempty"`
	ResolveTime           *cloudAppsTime        `json:"resolveTime,omitempty"`
	URL                   string                `json:"URL"`
}

type cloudAppsWireEntity struct {
	Em         string          `json:"em,omitempty"`
	EntityRole string          `json:"entityRole,omitempty"`
	EntityType *int            `json:"entityType,omitempty"`
	ID         json.RawMessage `json:"id"`
	Inst       *int            `json:"inst,omitempty"`
	Label      string          `json:"label"`
	Pa         string          `json:"pa,omitempty"`
	PolicyType string          `json:"policyType,omitempty"`
	Saas       *int            `json:"saas,omitempty"`
	Type       string          `json:"type"`
}

func (e *Entity) wire() (cloudAppsWireEntity, error) {
	w := cloudAppsWireEntity{Em: e.Em, EntityRole: e.EntityRole, EntityType: e.EntityType, Inst: e.Inst, Label: e.Label,
		Pa: e.Pa, PolicyType: e.PolicyType, Saas: e.Saas, Type: e.Type}
	if e.NumericID {
		var n json.Number
		if err := json.Unmarshal([]byte(e.ID), &n); err != nil || strings.TrimSpace(e.ID) != e.ID {
			return w, fmt.Errorf("simulator: %s entity: numeric id %q is not a JSON number", e.Type, e.ID)
		}
		w.ID = json.RawMessage(e.ID)
		return w, nil
	}
	id, err := json.Marshal(e.ID)
	w.ID = id
	return w, err
}

func (w *cloudAppsWireEntity) entity() (Entity, error) {
	e := Entity{Em: w.Em, EntityRole: w.EntityRole, EntityType: w.EntityType, Inst: w.Inst, Label: w.Label,
		Pa: w.Pa, PolicyType: w.PolicyType, Saas: w.Saas, Type: w.Type}
	id := strings.TrimSpace(string(w.ID))
	switch {
	case id == "" || id == "null":
	case id[0] == '"':
		if err := json.Unmarshal([]byte(id), &e.ID); err != nil {
			return e, err
		}
	default:
		var n json.Number
		if err := json.Unmarshal([]byte(id), &n); err != nil {
			return e, fmt.Errorf("%s entity id %s is neither a string nor a number", w.Type, id)
		}
		e.ID, e.NumericID = n.String(), true
	}
	return e, nil
}

// MarshalJSON writes the entity as the API does.
func (e Entity) MarshalJSON() ([]byte, error) {
	w, err := e.wire()
	if err != nil {
		return nil, err
	}
	return simapi.EncodeWire(&w)
}

// UnmarshalJSON reads an entity in the API's form.
func (e *Entity) UnmarshalJSON(b []byte) error {
	var w cloudAppsWireEntity
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	x, err := w.entity()
	*e = x
	return err
}

func (a *Alert) wire() (cloudAppsWireAlert, error) {
	w := cloudAppsWireAlert{
		ID: a.ID, ContextID: a.ContextID, Description: a.Description, IDValue: a.IDValue,
		IsMarkdown: a.IsMarkdown, IsPreview: a.IsPreview, IsSystemAlert: a.IsSystemAlert,
		ResolutionStatusValue: a.ResolutionStatusValue, SeverityValue: a.SeverityValue, StatusValue: a.StatusValue,
		Stories: a.Stories, ThreatScore: a.ThreatScore, Timestamp: a.Timestamp.UnixMilli(), Title: a.Title,
		Comment: a.Comment, HandledByUser: a.HandledByUser, URL: a.URL,
		Entities: make([]cloudAppsWireEntity, 0, len(a.Entities)),
	}
	if w.Stories == nil {
		w.Stories = []int{}
	}
	if a.Audits != nil {
		w.Audits = &a.Audits
	}
	if a.Evidence != nil {
		w.Evidence = &a.Evidence
	}
	if a.Intent != nil {
		w.Intent = &a.Intent
	}
	if a.ResolveTime != nil {
		t := cloudAppsTime(*a.ResolveTime)
		w.ResolveTime = &t
	}
	var errs []error
	for i := range a.Entities {
		e, err := a.Entities[i].wire()
		errs = append(errs, err)
		w.Entities = append(w.Entities, e)
	}
	if a.Policy != nil {
		p, err := a.Policy.wire()
		errs = append(errs, err)
		w.Policy = &p
	}
	return w, errors.Join(errs...)
}

func (w *cloudAppsWireAlert) alert() (Alert, error) {
	a := Alert{
		ID: w.ID, ContextID: w.ContextID, Description: w.Description, IDValue: w.IDValue,
		IsMarkdown: w.IsMarkdown, IsPreview: w.IsPreview, IsSystemAlert: w.IsSystemAlert,
		ResolutionStatusValue: w.ResolutionStatusValue, SeverityValue: w.SeverityValue, StatusValue: w.StatusValue,
		Stories: w.Stories, ThreatScore: w.ThreatScore, Timestamp: time.UnixMilli(w.Timestamp).UTC(), Title: w.Title,
		Comment: w.Comment, HandledByUser: w.HandledByUser, URL: w.URL,
		Entities: make([]Entity, 0, len(w.Entities)),
	}
	if a.Stories == nil {
		a.Stories = []int{}
	}
	if w.Audits != nil {
		a.Audits = *w.Audits
	}
	if w.Evidence != nil {
		a.Evidence = *w.Evidence
	}
	if w.Intent != nil {
		a.Intent = *w.Intent
	}
	if w.ResolveTime != nil {
		t := time.Time(*w.ResolveTime)
		a.ResolveTime = &t
	}
	var errs []error
	for i := range w.Entities {
		e, err := w.Entities[i].entity()
		errs = append(errs, err)
		a.Entities = append(a.Entities, e)
	}
	if w.Policy != nil {
		p, err := w.Policy.entity()
		errs = append(errs, err)
		a.Policy = &p
	}
	return a, errors.Join(errs...)
}

// MarshalJSON writes the alert as the API does: the keys of the documented
// example in its order, optional keys only when set, times in the API's two
// formats, non-ASCII characters escaped and <, >, & left alone. Choice:
// Microsoft does not say how its responses are escaped; this is what
// Python's json.dumps writes by default (ensure_ascii), the more demanding
// form for a client that handles the bytes itself.
func (a Alert) MarshalJSON() ([]byte, error) {
	w, err := a.wire()
	if err != nil {
		return nil, err
	}
	return simapi.EncodeWire(&w)
}

// UnmarshalJSON reads an alert in the API's form.
func (a *Alert) UnmarshalJSON(b []byte) error {
	var w cloudAppsWireAlert
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	x, err := w.alert()
	*a = x
	return err
}

// VersionTime is the alert's version in the product's sense (docs/messages.md):
// resolveTime once the alert is closed, timestamp while it is open. A
// closed alert without a resolveTime (not seen in the documents) falls back
// to its timestamp.
func (a *Alert) VersionTime() time.Time {
	if a.ResolutionStatusValue != 0 && a.ResolveTime != nil {
		return *a.ResolveTime
	}
	return a.Timestamp
}

// DocumentedEntityTypes are the entity types the API documents: an oracle
// for tests of generated alerts. A fresh copy.
func DocumentedEntityTypes() []string { return slices.Clone(cloudAppsEntityTypes) }
