package endpoint

import (
	"net/url"

	"github.com/alertexport/alertexport/sources"
	"github.com/alertexport/alertexport/sources/envelope"
)

// errNoVersion: without an id and a lastUpdateTime an alert cannot be versioned, deduplicated
// or given a message ID.
var errNoVersion = sources.NoVersion("id or no lastUpdateTime")

// normalize builds the envelope of one alert version. raw is the alert's bytes, kept as they
// came; event is created or updated (the caller knows what was exported before).
func normalize(a *alert, raw []byte, id sources.Identity, event string) (*envelope.Alert, error) {
	if a.ID == "" || a.LastUpdateTime == nil {
		return nil, errNoVersion
	}
	e := &envelope.Alert{
		Schema:          envelope.Schema,
		ID:              a.ID,
		ProviderAlertID: new(a.ID), // Graph's providerAlertId (and id) of this alert
		Source:          "endpoint",
		ServiceSource:   new(envelope.ServiceDefenderForEndpoint),
		Tenant:          id.Tenant,
		TenantID:        id.TenantID,
		Event:           event,
		Title:           a.Title,
		Description:     a.Description,
		Severity:        envelope.NormalizeSeverity(deref(a.Severity)), // UnSpecified is unknown
		Status:          envelope.NormalizeStatus(deref(a.Status)),     // Unknown, New, InProgress, Resolved
		Category:        a.Category,
		CreatedAt:       envelope.UTC(a.AlertCreationTime),
		UpdatedAt:       a.LastUpdateTime.UTC(),
		FirstActivityAt: envelope.UTC(a.FirstEventTime),
		LastActivityAt:  envelope.UTC(a.LastEventTime),
		ResolvedAt:      envelope.UTC(a.ResolvedTime),
		Classification:  envelope.SnakeCaseOrNull(a.Classification),
		Determination:   envelope.SnakeCaseOrNull(a.Determination),
		DetectionSource: a.DetectionSource,
		IncidentID:      a.IncidentID.s,
		AssignedTo:      a.AssignedTo,
		MitreTechniques: envelope.Techniques(a.MitreTechniques),
		MitreTactics:    []string{}, // Defender for Endpoint names its tactic as the category
		Entities:        entities(a),
		Raw:             raw,
	}
	if id.Portal != "" {
		u := id.Portal + "/alerts/" + url.PathEscape(a.ID)
		if id.TenantID != "" {
			u += "?tid=" + url.QueryEscape(id.TenantID)
		}
		e.URL = &u
	}
	return e, nil
}

// entities lists what the alert involves: the device, the related and logged-on users, then
// the evidence, each thing once (a user named in relatedUser and in the evidence is one
// entity with what both say).
func entities(a *alert) []envelope.Entity {
	var es envelope.EntitySet
	es.Grow(2 + len(a.LoggedOnUsers) + len(a.Evidence))
	if a.MachineID != nil || a.ComputerDNSName != nil {
		es.Add(envelope.Entity{Type: "device", Name: deref(a.ComputerDNSName), ID: deref(a.MachineID)})
	}
	if u := a.RelatedUser; u != nil && u.Name != "" {
		es.Add(envelope.Entity{Type: "user", Name: u.Name, Domain: u.Domain})
	}
	for _, u := range a.LoggedOnUsers {
		if u.Name != "" {
			es.Add(envelope.Entity{Type: "user", Name: u.Name, Domain: u.Domain})
		}
	}
	for i := range a.Evidence {
		if e, ok := fromEvidence(&a.Evidence[i]); ok {
			es.Add(e)
		}
	}
	return es.List()
}

// fromEvidence maps an evidence item by its entityType. A type this code does not know still
// becomes an entity (its type in snake_case, with whatever identifying fields it has).
func fromEvidence(ev *evidence) (envelope.Entity, bool) {
	typ := deref(ev.EntityType)
	switch envelope.Lower(typ, "user", "account", "file", "process", "ip", "url", "registry", "registrykey", "registryvalue", "mailbox") {
	case "user", "account":
		return envelope.Entity{Type: "user", Name: deref(ev.AccountName), Domain: deref(ev.DomainName),
			UPN: deref(ev.UserPrincipalName), SID: deref(ev.UserSID), AADID: deref(ev.AADUserID)}, true
	case "file":
		return envelope.Entity{Type: "file", Name: deref(ev.FileName), Path: deref(ev.FilePath),
			SHA1: deref(ev.SHA1), SHA256: deref(ev.SHA256)}, true
	case "process":
		return envelope.Entity{Type: "process", Name: deref(ev.FileName), Path: deref(ev.FilePath),
			SHA1: deref(ev.SHA1), SHA256: deref(ev.SHA256), PID: ev.ProcessID.n,
			CommandLine: deref(ev.ProcessCommandLine), ParentPID: ev.ParentProcessID.n,
			ParentName: deref(ev.ParentProcessFileName)}, true
	case "ip":
		return envelope.Entity{Type: "ip", Address: deref(ev.IPAddress)}, ev.IPAddress != nil
	case "url":
		return envelope.Entity{Type: "url", URL: deref(ev.URL)}, ev.URL != nil
	case "registry", "registrykey", "registryvalue":
		return envelope.Entity{Type: "registry", Key: deref(ev.RegistryKey), Hive: deref(ev.RegistryHive),
			ValueType: deref(ev.RegistryValueType), Value: deref(ev.RegistryValue)}, true
	case "mailbox":
		return envelope.Entity{Type: "mailbox", Name: deref(ev.AccountName), UPN: deref(ev.UserPrincipalName),
			AADID: deref(ev.AADUserID)}, true
	}
	if typ == "" {
		return envelope.Entity{}, false
	}
	return envelope.Entity{Type: envelope.SnakeCase(typ), Name: firstOf(ev.AccountName, ev.FileName),
		Domain: deref(ev.DomainName), UPN: deref(ev.UserPrincipalName), SID: deref(ev.UserSID),
		AADID: deref(ev.AADUserID), Address: deref(ev.IPAddress), URL: deref(ev.URL)}, true
}

func firstOf(ps ...*string) string {
	for _, p := range ps {
		if p != nil && *p != "" {
			return *p
		}
	}
	return ""
}
